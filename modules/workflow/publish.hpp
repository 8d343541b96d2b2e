#pragma once
// Publishing a task's or a run's current state on the bus (topics and payloads: events.hpp).
// Private to the workflow module.
#include "modules/workflow/run.hpp"

namespace arclight {
class EventBus;
}

namespace arclight::workflow {

/// workflow.task.<status> for task k (nothing when nobody subscribed).
void publish_task_event(EventBus& bus, const Run& r, int k, std::string project);
/// workflow.run.<status> (nothing when nobody subscribed).
void publish_run_event(EventBus& bus, const Run& r, std::string project);

}  // namespace arclight::workflow
