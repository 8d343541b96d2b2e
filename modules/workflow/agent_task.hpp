#pragma once
// The `agent` task type: runs one agent through the agents module's AgentRunner, choosing it
// by a policy — fixed (a named agent), or among a pool's members: round_robin, least_loaded
// (fewest runs in flight from this type object) or learned (the rl module's AgentSelector,
// falling back to round robin). Records the chosen agent and the cost on the outcome.
#include "modules/workflow/api.hpp"
#include <memory>

namespace arclight::workflow {

/// The `agent` task type. `runner` must outlive it; `selector` may be nullptr (no rl module:
/// `learned` behaves as round_robin) and, when given, must outlive it too.
std::shared_ptr<TaskType> make_agent_task_type(AgentRunner& runner, AgentSelector* selector);

}  // namespace arclight::workflow
