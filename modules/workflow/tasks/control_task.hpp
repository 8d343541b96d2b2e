#pragma once
// Control task types: the task types the engine itself runs because they act on the run (wait,
// sleep, start child runs, answer a webhook, fan out). Each lives in its own file in tasks/ and
// implements this interface; a definition's tasks are resolved to their ControlTask once, when
// the definition is compiled (TaskDef::control), so the engine never dispatches on type names.
#include "modules/workflow/api.hpp"
#include "modules/workflow/engine.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace arclight::workflow {

struct Run;
using RunPtr = std::shared_ptr<Run>;

class ControlTask {
public:
    virtual ~ControlTask() = default;
    virtual std::string_view type() const = 0;

    // ---- compile time ----
    /// The config's JSON schema.
    virtual const boost::json::value& config_schema() const = 0;
    /// Config keys kept raw by the template compiler (evaluated later, elsewhere).
    virtual std::vector<std::string> raw_keys() const { return {}; }
    /// Checks beyond the schema (run before it, errors under `pointer`, the config's pointer).
    virtual void check(const boost::json::value& /*config*/, const std::string& /*pointer*/, const TaskTypes& /*types*/,
                       std::vector<FieldError>& /*errors*/) const {}

    // ---- run time (always on the run's driver) ----
    /// Starts an attempt: the task is `running`, its input evaluated, the attempt counted.
    virtual void start(Engine::Impl& e, const RunPtr& r, int k) const = 0;
    /// A reloaded run (recovery, claim) has this task `waiting`: re-arm what it waits for.
    virtual void resume_waiting(Engine::Impl& /*e*/, const RunPtr& /*r*/, int /*k*/) const {}
    /// The waiting task's due time (its due_at) passed.
    virtual void on_due(Engine::Impl& /*e*/, const RunPtr& /*r*/, int /*k*/) const {}
    /// Waiting for something outside the run (a decision, an event, a child run): a run with
    /// nothing else to do may leave memory and be woken through the database.
    virtual bool waits_outside() const { return false; }
    /// The result has no effect outside the run (committed in the next batch, not awaited).
    virtual bool pure() const { return false; }
    /// Its output is not part of the run's output (respond).
    virtual bool excluded_from_output() const { return false; }
    /// Housekeeping from the claim loop every few seconds (e.g. waits created elsewhere).
    virtual boost::asio::awaitable<void> sweep(Engine::Impl& e) const;
};

/// The control task type named `type`, or null (resolved once per definition).
const ControlTask* find_control_task(std::string_view type);
/// Every control task type's name, sorted.
std::vector<std::string> control_task_names();
/// Every control task type (sorted by name).
const std::vector<const ControlTask*>& control_tasks();

// One per file in tasks/.
const ControlTask& approval_task();
const ControlTask& decompose_task();
const ControlTask& delay_task();
const ControlTask& map_task();
const ControlTask& respond_task();
const ControlTask& subworkflow_task();
const ControlTask& wait_for_event_task();

/// When a child run ends, its parent's waiting subworkflow / decompose task is decided
/// (tasks/subworkflow.cpp).
void notify_parent(Engine::Impl& e, const Run& child);

}  // namespace arclight::workflow
