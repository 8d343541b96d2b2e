#pragma once
// The engine's core: the run state machine and its driver. Private to the workflow module.
//
// Rooms (docs/architecture.md, "Workflow engine"):
//   engine.cpp        the public Engine API (start, cancel, decide, retry, live view)
//   machine.cpp       Engine::Impl: scheduling, task execution, run lifecycle
//   driver.hpp/.cpp   the per-run driver (one thread at a time runs a run) and its timers
//   recorder.*        persistence through the group-commit writers;  run_table.hpp  runs in memory
//   publish.*         task and run events on the bus
//   run.hpp/.cpp      in-memory run state;   rows.hpp/.cpp  run/task state <-> writer rows
//   tasks/*.cpp       control task types (ControlTask), one file each
//   claims.hpp/.cpp   claim loop, leases, recovery (rebuild a run from its rows)
//   peers.hpp/.cpp    wake-ups between instances (LISTEN/NOTIFY on PostgreSQL)
//   run_store.*       every SQL statement of the above; writer.* the group commit
//   events.hpp        the topics and payloads published (public)
#include "core/time/time.hpp"
#include "modules/workflow/driver.hpp"
#include "modules/workflow/engine.hpp"
#include "modules/workflow/project_index.hpp"
#include "modules/workflow/publish.hpp"
#include "modules/workflow/recorder.hpp"
#include "modules/workflow/run.hpp"
#include "modules/workflow/run_table.hpp"
#include "modules/workflow/tasks/event_waits.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

namespace arclight::workflow {

class Claims;
class PeerLink;

struct Engine::Impl : std::enable_shared_from_this<Engine::Impl>, DriverHooks {
    Db& db;
    EventBus& bus;
    boost::asio::any_io_executor io, blocking;
    EngineOptions opt;
    const Clock& clock;
    Driver driver;
    Recorder recorder;
    RunTable runs;
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> runs_started{0}, runs_finished{0}, tasks_run{0}, runs_claimed{0}, runs_lost{0};
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

    double random01();
    std::int64_t now() const { return clock.now_ms(); }

    // ---- the driver (driver.hpp) ----
    void notify(const RunPtr& r, Driver::Step fn) { driver.notify(r, std::move(fn)); }
    void notify_async(const RunPtr& r, Driver::Step fn) { driver.notify_async(r, std::move(fn)); }
    template <class T>
    boost::asio::awaitable<T> on_driver(RunPtr r, std::function<T(Run&)> fn) {
        return driver.on_driver<T>(std::move(r), std::move(fn));
    }
    void after_steps(const RunPtr& r) override { schedule(r); }
    void step_failed(const RunPtr& r, std::string error) override { fail_run(r, std::move(error)); }
    /// Fencing: a write of `r` was refused for a stale lease generation (this instance stalled
    /// past its lease and another claimed the run). The run leaves memory without another write
    /// or event; its in-flight results and timers are ignored.
    void run_lost(const RunPtr& r) override;

    // ---- persistence (recorder.hpp) and events (publish.hpp) ----
    void record_task(const RunPtr& r, int k, std::function<void(Run&, bool applied)> then) {
        recorder.task(r, k, std::move(then));
    }
    void record_run(const RunPtr& r, std::function<void(Run&, bool applied, const std::string& error)> then) {
        recorder.run(r, std::move(then));
    }
    void promote(const RunPtr& r) { recorder.promote(r); }
    std::string project_of(const Run& r) const { return opt.projects ? opt.projects->of(r.wf->id) : std::string(); }
    void publish_task(const Run& r, int k) { publish_task_event(bus, r, k, project_of(r)); }
    void publish_run(const Run& r) { publish_run_event(bus, r, project_of(r)); }

    // ---- scheduling and execution ----
    void schedule(const RunPtr& r);
    void maybe_release(const RunPtr& r);
    void check_done(const RunPtr& r);
    void launch(const RunPtr& r, int k);
    std::int64_t attempt_deadline(const Run& r, int k) const;
    void run_sync_now(const RunPtr& r, int k, TaskType* impl);
    /// On the compute pool: runs the run's waiting cpu_bound attempts (r->to_pool), batched by type.
    void run_pool_batch(const RunPtr& r);
    void start_async(const RunPtr& r, int k, TaskType* impl);
    /// The attempt's timeout: the task fails at `deadline` unless its result came first.
    void arm_timeout(const RunPtr& r, int k, std::uint64_t token, std::int64_t deadline);
    /// A retry back-off or a waiting task's due time: at `due` the task is launched again / the
    /// control task's on_due runs.
    void arm_wake(const RunPtr& r, int k, std::int64_t due, std::uint64_t token);
    void complete(const RunPtr& r, int k, TaskOutcome out);
    void fail_task(const RunPtr& r, int k, std::string error, bool retryable);
    void finish_task(const RunPtr& r, int k, TS status, boost::json::value output, std::string error);
    /// Completes a waiting decision task (approval, wait_for_event, subworkflow / decompose):
    /// 1 applied, 0 not waiting / unknown, 2 the run is active on another instance — or, when
    /// `take_back` is false, this instance is still writing it out of memory (a caller that can
    /// decide again later, e.g. from the recorded events, waits for that instead of taking it
    /// back while the release may already make it claimable).
    boost::asio::awaitable<int> decide(std::string run_id, std::string task_id, std::string type, bool ok,
                                       boost::json::value output, std::string error, bool take_back = true);

    // ---- run lifecycle ----
    void fail_run(const RunPtr& r, std::string error);
    /// Cancels everything still pending or in flight (their late results are ignored).
    void stop_tasks(const RunPtr& r);
    void finish_run(const RunPtr& r, RS status, std::string error);
    void maybe_remove(const RunPtr& r);
    void arm_run_deadline(const RunPtr& r);
    /// A started run whose first write (if durable) is committed: published, then driven here, or
    /// left queued for whichever instance has room.
    void adopt_started(const RunPtr& r, bool queue_only);
    std::size_t active_count() const;
    void cancel_local(const std::string& id);
    /// A message from another instance (peers.hpp).
    void on_peer_message(const std::string& payload);
    /// Tells the other instances (PostgreSQL only).
    void notify_peers(std::string payload);
    void kick();
};

}  // namespace arclight::workflow
