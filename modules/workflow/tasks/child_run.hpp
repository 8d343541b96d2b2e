#pragma once
// What subworkflow and decompose share: starting the child run and waiting for its end.
#include "modules/workflow/tasks/control_task.hpp"

#include <boost/json/value.hpp>

#include <memory>
#include <string>

namespace arclight::workflow {

struct ChildRun {
    std::string workflow_id;
    bool wait = true;
    boost::json::value input;
    /// decompose: the subtasks as a one-off workflow, stored as its version 1 before the start.
    std::shared_ptr<const WorkflowVersion> plan;
    std::string plan_text;
};

/// Starts task k's child run (idempotency key "sub:<run>:<task>:<attempt>", so a restart never
/// starts it twice). With `wait` the task waits like an approval until the child's end decides
/// it; without, it succeeds with the child's id once started.
void start_child_run(Engine::Impl& e, const RunPtr& r, int k, ChildRun child);

/// Waiting on a child run (subworkflow, decompose): shared hooks.
class ChildRunTask : public ControlTask {
public:
    void resume_waiting(Engine::Impl& e, const RunPtr& r, int k) const override;
    bool waits_outside() const override { return true; }
};

}  // namespace arclight::workflow
