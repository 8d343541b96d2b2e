#pragma once
// What other modules use of the workflow module: the task-type extension point. The models,
// agents, memory and hub modules register their task types (`model`, `agent`, `memory`,
// connectors) here during construction: ctx.services.find<workflow::TaskTypes>()->add(...).
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
};

/// An attempt's result.
struct TaskOutcome {
    bool ok = true;
    boost::json::value output;
    std::string error;                 ///< for the user, when !ok
    bool retryable = true;             ///< false: fail now even when retries remain
    std::string agent;                 ///< who ran it (agent tasks), recorded with the task
    double cost = 0;                   ///< what the attempt cost (agent/model tasks; price-table units, USD)
    static TaskOutcome success(boost::json::value v) { return {true, std::move(v), {}, true, {}, 0}; }
    static TaskOutcome failure(std::string e, bool retryable = true) {
        return {false, nullptr, std::move(e), retryable, {}, 0};
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
    /// Synchronous types run inline on the engine's thread (fast, CPU-bound, bounded);
    /// the others are awaited as coroutines on the I/O executor.
    virtual bool synchronous() const { return false; }
    virtual TaskOutcome run_sync(const TaskCall&) { return TaskOutcome::failure("not synchronous", false); }
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

}  // namespace arclight::workflow
