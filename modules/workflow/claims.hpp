#pragma once
// Claims, leases and recovery: the loop that claims runs nobody holds (queued, lease lapsed,
// timer due), renews this instance's leases, rebuilds claimed runs from their rows and hands
// them to the state machine; and the hand-over of leases at start and stop.
#include "modules/workflow/engine.hpp"
#include "modules/workflow/run.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace soci {
class session;
}

namespace arclight::workflow {

class Claims {
public:
    Claims(Engine::Impl& engine, Engine::VersionLoader loader);

    /// Before the loop starts: SQLite (one process per file) takes over what earlier processes held.
    void take_over_stale_runs();
    /// The claim loop; runs until the engine stops (`self` keeps the engine alive).
    boost::asio::awaitable<void> loop(std::shared_ptr<Engine::Impl> self);
    /// Wakes the loop for a claim round now.
    void kick();
    /// Waits (up to `deadline`) for the loop to end.
    void wait_stopped(std::chrono::steady_clock::time_point deadline) const;
    /// Hands this instance's runs to the others (or to the next start) right away.
    void release_all();

private:
    boost::asio::awaitable<void> claim_round(std::shared_ptr<Engine::Impl> self);
    /// A claimed run that could not be resumed and was failed instead.
    struct Unresumable {
        std::string run_id, workflow_id, error;
    };
    /// Loads a claimed run and its task states (blocking); null when it is gone, or when its
    /// version cannot be loaded (then it is failed and added to `failed`).
    RunPtr load(soci::session& s, const std::string& id, std::vector<Unresumable>& failed);
    /// Continues a loaded run on this instance.
    void resume(const RunPtr& r);
    std::shared_ptr<const WorkflowVersion> version(soci::session& s, const std::string& id, int v);

    Engine::Impl& e_;
    Engine::VersionLoader loader_;
    std::shared_ptr<boost::asio::steady_timer> timer_;
    std::atomic<bool> requested_{false};
    std::atomic<int> loops_running_{0};
    std::mutex versions_m_;
    std::map<std::pair<std::string, int>, std::shared_ptr<const WorkflowVersion>> versions_;
};

}  // namespace arclight::workflow
