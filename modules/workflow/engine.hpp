#pragma once
// The durable DAG engine. A run lives in memory on the instance that owns it (its lease in
// workflow_runs); every state change of a durable run goes through the group-commit Writer and
// is published on the bus only after it is committed. A run whose owner vanished is claimed
// again by any instance and resumed from its recorded task states. See docs/workflows.md and
// docs/architecture.md. The engine's rooms (state machine, control tasks, claims, rows, store)
// are private headers of the module; engine_impl.hpp lists them.
#include "modules/workflow/definition.hpp"
#include "modules/workflow/reply.hpp"
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace soci {
class session;
}

namespace arclight {
class Clock;
class ComputePool;
class Db;
class NotifyRelay;
class EventBus;
}  // namespace arclight

namespace arclight::workflow {

class Writer;
struct Run;

/// One saved version of a workflow, compiled.
struct WorkflowVersion {
    std::string id;
    int version = 0;
    std::shared_ptr<const Definition> def;
};

struct StartRequest {
    std::shared_ptr<const WorkflowVersion> wf;
    boost::json::value input;          ///< the run input
    std::string trigger_type = "manual";
    boost::json::object trigger;       ///< what the trigger saw (body, query, headers, params / event)
    std::optional<std::string> idempotency_key;
    std::shared_ptr<Responder> responder;  ///< set for synchronous webhooks
    std::string created_by;            ///< who started it (docs/workflows.md); child runs: "run:<parent id>"
};

struct StartResult {
    std::string id;
    std::string status;
    bool existing = false;              ///< an earlier run with the same idempotency key
};

class ProjectIndex;

struct EngineOptions {
    std::string instance_id;
    std::int64_t lease_ms = 30000;
    std::int64_t poll_ms = 1000;
    std::size_t max_batch = 512;
    std::size_t pg_writers = 4;            ///< state writers (connections) on PostgreSQL; SQLite uses one
    std::size_t claim_batch = 32;
    std::size_t max_active_runs = 10000;   ///< per instance; more stay queued for other instances
    std::size_t max_queued_changes = 100000;  ///< per writer: beyond it new runs answer 503 (Retry-After)
    std::int64_t start_timeout_ms = 10000;    ///< how long a start waits for its run's first commit (503 after)
    std::int64_t event_retention_ms = 7LL * 86400000;  ///< how long emitted events stay recorded for waits
    std::size_t max_context_bytes = 16u << 20;  ///< a run's context (input, trigger, task outputs), about its JSON size
    std::size_t max_map_items = 10000;          ///< items one map task may fan out over
    bool sqlite_single_instance = true;    ///< SQLite: runs owned by earlier processes are reclaimed at start
    const TaskTypes* types = nullptr;      ///< to validate decompose plans
    NotifyRelay* relay = nullptr;          ///< how instances wake each other (the module passes the
                                           ///< instance's); null: nobody to tell (tests, one instance)
    ComputePool* compute = nullptr;        ///< where cpu_bound task types run (scripts); null: inline
    const ProjectIndex* projects = nullptr;  ///< each workflow's project, for the events it publishes
    const Clock* clock = nullptr;          ///< the engine's time: leases, due times, deadlines (tests:
                                           ///< a ManualClock); the system clock when null
};

struct EngineStats {
    std::uint64_t runs_started = 0, runs_finished = 0, tasks_run = 0, runs_claimed = 0;
    std::uint64_t runs_lost = 0;  ///< dropped because another instance claimed them (fencing)
    std::uint64_t batches = 0, rows = 0, ignored = 0, fenced = 0, commit_us = 0, split = 0;
    std::size_t active_runs = 0;
    std::size_t queued_changes = 0;    ///< state changes waiting for the database
    std::int64_t db_failing_ms = 0;    ///< how long the database has been failing commits (0: it works)
    std::string write_failure;     ///< why a state writer cannot commit while it retries ("" = fine)
    bool storage_failure = false;  ///< that failure is SQLite's disk full / read-only / I/O error
};

class Engine {
public:
    /// `load_version` fetches a (workflow id, version) pair from the store on the session it is
    /// given (blocking; called on the blocking pool inside the caller's lease: it must not take a
    /// second one). Returns nullptr when absent or when it no longer compiles.
    using VersionLoader =
        std::function<std::shared_ptr<const WorkflowVersion>(soci::session&, const std::string&, int)>;
    /// The current version of a workflow (blocking, on the given session), for subworkflow tasks;
    /// nullptr when absent.
    using CurrentLoader = std::function<std::shared_ptr<const WorkflowVersion>(soci::session&, const std::string&)>;

    Engine(Db& db, EventBus& bus, boost::asio::any_io_executor io, boost::asio::any_io_executor blocking,
           EngineOptions options, VersionLoader loader);
    ~Engine();

    /// Where subworkflow tasks find the workflow they start (set before start()).
    void set_current_loader(CurrentLoader loader);

    /// Called (on the listener thread) with <id> when another instance says workflow <id> changed
    /// (PostgreSQL; set before start()).
    void set_workflow_changed_handler(std::function<void(const std::string&)> handler);
    /// Tells the other instances that workflow `id` changed (PostgreSQL; no-op on SQLite).
    void announce_workflow_change(const std::string& id);

    /// Recovers unfinished runs and starts the lease and claim loops.
    void start();
    /// Stops loops, lets queued state changes commit, releases this instance's leases.
    void stop(std::chrono::steady_clock::time_point deadline);

    /// Starts a run. For a durable run the run is committed before this returns. Throws
    /// arclight::Error (conflict) when the idempotency key is in use by a different request.
    boost::asio::awaitable<StartResult> start_run(StartRequest request);

    /// Cancels a run (local or owned elsewhere) and the child runs it waits for. Returns false
    /// when it is already finished / unknown.
    boost::asio::awaitable<bool> cancel(std::string run_id);

    /// Completes a waiting `approval` / `wait_for_event` task (type must match) with `output`
    /// (ok) or `error`. 1 = applied, 0 = that task is not waiting, 2 = the run is active on
    /// another instance (try again shortly).
    boost::asio::awaitable<int> decide(std::string run_id, std::string task_id, std::string type, bool ok,
                                       boost::json::value output, std::string error);

    /// Puts a failed or cancelled durable run back in the queue, re-running its failed tasks.
    boost::asio::awaitable<bool> retry(std::string run_id);

    /// The in-memory view of a run this instance is executing (used for runs not in the database:
    /// execution_data none/errors), or null.
    boost::asio::awaitable<std::optional<boost::json::object>> live_run(std::string run_id) const;

    boost::asio::any_io_executor executor() const;

    /// Wakes the claim loop (called on NOTIFY and after retry).
    void kick();

    EngineStats stats() const;

    // Internal, used by the engine's own callbacks.
    struct Impl;
private:
    boost::asio::awaitable<void> cancel_children(std::string run_id);
    std::shared_ptr<Impl> impl_;
};

}  // namespace arclight::workflow
