#pragma once
// The engine's core: the run state machine and its driver. Private to the workflow module.
//
// Rooms (docs/architecture.md, "Workflow engine"):
//   engine.cpp        the public Engine API (start, cancel, decide, retry, live view)
//   machine.cpp       Engine::Impl: driver, scheduling, task execution, run lifecycle
//   run.hpp/.cpp      in-memory run state;   rows.hpp/.cpp  run/task state <-> writer rows
//   tasks/*.cpp       control task types (ControlTask), one file each
//   claims.hpp/.cpp   claim loop, leases, recovery (rebuild a run from its rows)
//   peers.hpp/.cpp    wake-ups between instances (LISTEN/NOTIFY on PostgreSQL)
//   run_store.*       every SQL statement of the above; writer.* the group commit
//   events.hpp        the topics and payloads published (public)
#include "modules/workflow/engine.hpp"
#include "modules/workflow/run.hpp"
#include "modules/workflow/tasks/event_waits.hpp"
#include "modules/workflow/writer.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace arclight::workflow {

class Claims;
class PeerLink;

struct Engine::Impl : std::enable_shared_from_this<Engine::Impl> {
    Db& db;
    EventBus& bus;
    boost::asio::any_io_executor io, blocking;
    EngineOptions opt;
    // State writers: one on SQLite (one writer is what SQLite wants), several on PostgreSQL,
    // where each statement is a network round trip. A run always uses the same writer, so its
    // changes commit in order.
    std::vector<std::unique_ptr<Writer>> writers;
    mutable std::mutex runs_m;
    std::unordered_map<std::string, RunPtr> runs;
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> runs_started{0}, runs_finished{0}, tasks_run{0}, runs_claimed{0};
    std::mutex rng_m;
    std::mt19937_64 rng{std::random_device{}()};
    Engine::CurrentLoader current_loader;
    std::function<boost::asio::awaitable<StartResult>(StartRequest)> start_child;
    std::function<void(const std::string&)> workflow_changed;
    EventWaits waits;
    std::unique_ptr<Claims> claims;
    std::unique_ptr<PeerLink> peers;

    Impl(Db& d, EventBus& b, boost::asio::any_io_executor i, boost::asio::any_io_executor bl, EngineOptions o,
         VersionLoader loader);
    ~Impl();

    Writer& writer_for(const std::string& run_id) {
        if (writers.size() == 1) return *writers[0];
        return *writers[std::hash<std::string>{}(run_id) % writers.size()];
    }
    double random01();

    // ---- driver ----
    /// Leaves `fn` for the run's driver; drives now on this thread when nobody else is.
    void notify(const RunPtr& r, std::function<void(Run&)> fn);
    /// Same, but never drives on the calling thread (writer thread, timers of other runs).
    void notify_async(const RunPtr& r, std::function<void(Run&)> fn);
    void drive(const RunPtr& r);
    /// Runs `fn` on the run's driver and resumes the caller with its result.
    template <class T>
    boost::asio::awaitable<T> on_driver(RunPtr r, std::function<T(Run&)> fn);

    // ---- persistence (through the writer) ----
    /// Writes the task's current state when the run is durable, then calls `then` on the driver.
    void record_task(const RunPtr& r, int k, std::function<void(Run&, bool applied)> then);
    void record_run(const RunPtr& r, std::function<void(Run&, bool applied, const std::string& error)> then);
    /// Makes a non-durable run durable (execution_data errors/none before a wait or a failure).
    void promote(const RunPtr& r);

    // ---- events ----
    void publish_task(const Run& r, int k);
    void publish_run(const Run& r);

    // ---- scheduling and execution ----
    void schedule(const RunPtr& r);
    void maybe_release(const RunPtr& r);
    void check_done(const RunPtr& r);
    void launch(const RunPtr& r, int k);
    std::int64_t attempt_deadline(const Run& r, int k) const;
    void run_sync_now(const RunPtr& r, int k, TaskType* impl);
    void start_async(const RunPtr& r, int k, TaskType* impl);
    /// Task k's timer: at epoch ms `at`, `fn` runs on the run's driver (unless cancelled first).
    void arm_task_timer(const RunPtr& r, int k, std::int64_t at, std::function<void(Run&)> fn);
    /// The attempt's timeout: the task fails at `deadline` unless its result came first.
    void arm_timeout(const RunPtr& r, int k, std::uint64_t token, std::int64_t deadline);
    /// A retry back-off or a waiting task's due time: at `due` the task is launched again / the
    /// control task's on_due runs.
    void arm_wake(const RunPtr& r, int k, std::int64_t due, std::uint64_t token);
    void complete(const RunPtr& r, int k, TaskOutcome out);
    void fail_task(const RunPtr& r, int k, std::string error, bool retryable);
    void finish_task(const RunPtr& r, int k, TS status, boost::json::value output, std::string error);
    /// Completes a waiting decision task (approval, wait_for_event, subworkflow / decompose):
    /// 1 applied, 0 not waiting / unknown, 2 the run is active on another instance.
    boost::asio::awaitable<int> decide(std::string run_id, std::string task_id, std::string type, bool ok,
                                       boost::json::value output, std::string error);

    // ---- run lifecycle ----
    void fail_run(const RunPtr& r, std::string error);
    /// Cancels everything still pending or in flight (their late results are ignored).
    void stop_tasks(const RunPtr& r);
    void finish_run(const RunPtr& r, RS status, std::string error);
    void maybe_remove(const RunPtr& r);
    void arm_run_deadline(const RunPtr& r);
    void register_run(const RunPtr& r);
    RunPtr find_run(const std::string& id) const;
    std::size_t active_count() const;
    void cancel_local(const std::string& id);
    /// A message from another instance (peers.hpp).
    void on_peer_message(const std::string& payload);
    /// Tells the other instances (PostgreSQL only).
    void notify_peers(std::string payload);
    void kick();
};

template <class T>
boost::asio::awaitable<T> Engine::Impl::on_driver(RunPtr r, std::function<T(Run&)> fn) {
    namespace asio = boost::asio;
    auto self = shared_from_this();
    auto init = [self, r, fn = std::move(fn)](auto handler) mutable {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        self->notify_async(r, [h, fn = std::move(fn)](Run& run) {
            auto result = std::make_shared<T>(fn(run));
            auto ex = asio::get_associated_executor(*h);
            asio::post(ex, [h, result]() mutable { (*h)(std::move(*result)); });
        });
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>, void(T)>(std::move(init), asio::use_awaitable);
}

}  // namespace arclight::workflow
