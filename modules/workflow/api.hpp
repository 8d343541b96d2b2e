#pragma once
// What other modules use of the workflow module:
// - TaskTypes, the task-type extension point. The models, agents, memory and hub modules register
//   their task types (`model`, `agent`, `memory`, connectors) here during construction:
//   ctx.services.find<workflow::TaskTypes>()->add(...).
// - WorkflowService: start, read, list and cancel runs, and the durable outcome feed of finished
//   tasks and runs (what the rl and monitoring modules learn from): ctx.services.require<workflow::WorkflowService>().
// - AgentRunner / AgentSelector, offered by the agents and rl modules (the `agent` task).
#include "core/errors/error.hpp"
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arclight::workflow {

/// What an executor is given for one attempt of one task.
struct TaskCall {
    std::string_view run_id;
    std::string_view task_id;
    int attempt = 1;                   ///< 1 for the first attempt; pass it on for idempotency
    const boost::json::value& config;  ///< the task's config with every {{ }} evaluated
    const boost::json::value& context; ///< {"input","trigger","tasks":{id:{"output","status","error"}},"run"}
    std::int64_t deadline_ms = 0;      ///< epoch ms when the attempt times out (0 = none)
    boost::asio::any_io_executor io;
    /// The engine has a compute pool and this call runs on an I/O thread: a cpu_bound() type may
    /// answer TaskOutcome::offload() to have the attempt run again on the pool.
    bool offload_allowed = false;
};

/// An attempt's result.
struct TaskOutcome {
    bool ok = true;
    boost::json::value output;
    std::string error;                 ///< for the user, when !ok
    bool retryable = true;             ///< false: fail now even when retries remain
    std::string agent;                 ///< who ran it (agent tasks), recorded with the task
    double cost = 0;                   ///< what the attempt cost (agent/model tasks; price-table units, USD)
    static TaskOutcome success(boost::json::value v) { return {true, std::move(v), {}, true, {}, 0, false}; }
    static TaskOutcome failure(std::string e, bool retryable = true) {
        return {false, nullptr, std::move(e), retryable, {}, 0, false};
    }
    /// Not run here: the attempt needs the compute pool (only when TaskCall::offload_allowed).
    bool offload = false;
    static TaskOutcome to_compute_pool() {
        TaskOutcome o;
        o.offload = true;
        return o;
    }
};

/// A task type: its config schema and its executor.
class TaskType {
public:
    virtual ~TaskType() = default;
    virtual std::string name() const = 0;
    virtual std::string description() const = 0;
    /// JSON Schema of the config (validated at save time; shown in the API).
    virtual boost::json::value config_schema() const = 0;
    /// Top-level config keys kept verbatim instead of templated (e.g. a script's "code").
    virtual std::vector<std::string> raw_keys() const { return {}; }
    /// Checks beyond the schema (e.g. Lua syntax). Append errors with pointers under `base`.
    virtual void validate(const boost::json::value& /*config*/, const std::string& /*base*/,
                          std::vector<FieldError>& /*out*/) const {}
    /// Pure types (no effect outside the run) are re-run after a crash without a durable
    /// "started" record; types with side effects get one (1 extra write) so the next attempt
    /// number is known.
    virtual bool side_effects() const { return true; }
    /// Hides credentials in a copy of an attempt's input (its evaluated config) before it is
    /// recorded or shown (the `http` type: Authorization, Cookie and API-key headers, URL user
    /// info and secret query parameters). The attempt itself gets the input as it is.
    virtual bool redacts_input() const { return false; }
    virtual void redact_input(boost::json::value& /*input*/) const {}
    /// Synchronous types run inline on the engine's thread (fast, CPU-bound, bounded);
    /// the others are awaited as coroutines on the I/O executor.
    virtual bool synchronous() const { return false; }
    /// Synchronous types whose work is CPU-bound and may take long (scripts): the engine runs
    /// them on the compute pool (core/exec/compute_pool.hpp), never stalling an I/O thread. On an
    /// I/O thread such a type may still answer quickly inline, or answer TaskOutcome::offload().
    virtual bool cpu_bound() const { return false; }
    virtual TaskOutcome run_sync(const TaskCall&) { return TaskOutcome::failure("not synchronous", false); }
    /// Several ready attempts of this type in one run, on the compute pool: results in order.
    /// The default runs them in turn; a type whose executor has a round trip batches them.
    virtual std::vector<TaskOutcome> run_sync_batch(const std::vector<const TaskCall*>& calls) {
        std::vector<TaskOutcome> out;
        out.reserve(calls.size());
        for (const auto* c : calls) out.push_back(run_sync(*c));
        return out;
    }
    virtual boost::asio::awaitable<TaskOutcome> run(const TaskCall& call) { co_return run_sync(call); }
};

/// The registry of task types; offered as a service by the workflow module.
class TaskTypes {
public:
    virtual ~TaskTypes() = default;
    /// Adds a type (during module construction only). Throws std::logic_error on a duplicate name.
    virtual void add(std::shared_ptr<TaskType> type) = 0;
    virtual const TaskType* find(std::string_view name) const = 0;
    /// Names of the registered types.
    virtual std::vector<std::string> names() const = 0;
};

// ---- Agent assignment (the `agent` task type) ----------------------------------------------
// The workflow module owns the `agent` task: which agent of a pool runs a task (policies fixed,
// round_robin, least_loaded, learned) and the per-task record of agent, outcome, latency and cost.
// Running an agent is the agents module's job and choosing by what was learned the rl module's:
// they offer these two services. The `agent` task type exists only when an AgentRunner is offered.

/// One agent run asked for by an `agent` task.
struct AgentRequest {
    std::string_view agent;            ///< the chosen agent (id or name, as the agents module knows it)
    const boost::json::value& input;   ///< the task's "input" with every {{ }} evaluated
    std::string_view run_id;
    std::string_view task_id;
    int attempt = 1;
    std::int64_t deadline_ms = 0;      ///< epoch ms when the attempt times out (0 = none)
    boost::asio::any_io_executor io;
};

struct AgentResult {
    bool ok = true;
    boost::json::value output;
    std::string error;
    bool retryable = true;
    double cost = 0;                   ///< USD, from the models module's price table
};

/// Offered by the agents module: its agents and pools, and running one agent.
class AgentRunner {
public:
    virtual ~AgentRunner() = default;
    virtual bool has_agent(std::string_view agent) const = 0;
    /// The agents of a pool, in a stable order; empty when the pool is unknown.
    virtual std::vector<std::string> pool_members(std::string_view pool) const = 0;
    virtual boost::asio::awaitable<AgentResult> run(const AgentRequest& request) = 0;
};

/// Offered by the rl module: picks one of `candidates` for a task of a pool (the `learned`
/// policy). nullopt (or an agent not among the candidates) means "no opinion": round robin.
class AgentSelector {
public:
    virtual ~AgentSelector() = default;
    virtual std::optional<std::string> choose(std::string_view pool, const std::vector<std::string>& candidates,
                                              const boost::json::value& task_input) = 0;
};

// ---- Runs (WorkflowService) ---------------------------------------------------------------

/// A run to start: the current version of workflow `workflow_id` with `input`.
struct RunStart {
    std::string workflow_id;
    boost::json::value input = boost::json::object();
    std::optional<std::string> idempotency_key;  ///< 1-200 characters; a repeated key returns the first run
    /// Who starts it, recorded as the run's `created_by` (docs/workflows.md, "Who started a run"):
    /// "user:<id>" / "api_key:<id>" for a person or key, "module:<name>" for a module acting itself.
    std::string created_by;
};

struct StartedRun {
    std::string id;
    std::string status;
    bool existing = false;  ///< an earlier run with the same idempotency key
};

struct RunQuery {
    std::string workflow_id;        ///< empty = every workflow
    std::string status;             ///< queued|running|waiting|succeeded|failed|cancelled; empty = any
    std::int64_t since_ms = 0;      ///< created_at >= since (0 = open)
    std::int64_t until_ms = 0;      ///< created_at < until (0 = open)
    int limit = 50;                 ///< 1-500
    std::string cursor;             ///< next_cursor of the previous page; empty = newest first
    /// Only runs of these projects (nullopt: every project); from ProjectScope::listable.
    std::optional<std::vector<std::string>> projects;
};

struct RunPage {
    /// Newest first; each as in GET /api/v1/runs: {"id","workflow_id","workflow_name","version",
    /// "status","trigger","created_by","project_id","created_at","started_at","finished_at","error"}.
    boost::json::array items;
    std::optional<std::string> next_cursor;  ///< set when there may be more
};

/// One finished task or run of the outcome feed.
struct Outcome {
    enum class Kind { run, task };
    Kind kind = Kind::task;
    std::string run_id;
    std::string task_id;             ///< empty for a run
    std::string workflow_id;
    int version = 0;
    std::string type;                ///< the task type; empty for a run
    std::string status;              ///< task: succeeded|failed|skipped|cancelled; run: succeeded|failed|cancelled
    int attempts = 0;                ///< attempts of a task (0 for a run)
    std::optional<std::int64_t> latency_ms;  ///< finished_at - started_at, when both are known
    double cost = 0;                 ///< a task's cost; a run's: the sum over its tasks
    std::string agent;               ///< who ran the task's last attempt (agent tasks)
    std::string error;
    std::string created_by;          ///< the run's created_by
    std::int64_t finished_at = 0;    ///< epoch ms
};

struct OutcomePage {
    std::vector<Outcome> items;      ///< in the order their final state was committed
    std::string next_cursor;         ///< pass it to the next call (the same cursor when nothing new came)
};

/// The workflow module's runs for other modules. Errors are arclight::Error: not_found (no such
/// workflow or run), validation_failed (input against the input schema), bad_request (a malformed
/// query or cursor), conflict (cancel of a finished run).
class WorkflowService {
public:
    virtual ~WorkflowService() = default;
    /// Starts a run of the workflow's current version (durable runs are committed first).
    virtual boost::asio::awaitable<StartedRun> start_run(RunStart request) = 0;
    /// The run as GET /api/v1/runs/{id} shows it (with every task).
    virtual boost::asio::awaitable<boost::json::object> get_run(std::string run_id) = 0;
    virtual boost::asio::awaitable<RunPage> list_runs(RunQuery query) = 0;
    /// Cancels a run that has not finished, with the child runs it waits for.
    virtual boost::asio::awaitable<void> cancel_run(std::string run_id) = 0;
    /// Finished tasks and runs after `cursor` (empty: from the start), at most `limit` (1-1000).
    /// Durable: read from the database, every committed outcome exactly once, in commit order, on
    /// every instance. Runs kept only in memory (execution_data none/errors that were never
    /// written) are not in it.
    virtual boost::asio::awaitable<OutcomePage> outcomes(std::string cursor, int limit) = 0;
};

}  // namespace arclight::workflow
