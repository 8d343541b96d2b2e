#include "modules/workflow/publish.hpp"

#include "core/bus/bus.hpp"
#include "modules/workflow/events.hpp"

#include <string>
#include <string_view>

namespace arclight::workflow {
namespace {
constexpr std::string_view kTaskTopics[] = {events::kTaskPending,   events::kTaskRunning,   events::kTaskWaiting,
                                            events::kTaskRetrying,  events::kTaskSucceeded, events::kTaskFailed,
                                            events::kTaskSkipped,   events::kTaskCancelled};
constexpr std::string_view kRunTopics[] = {events::kRunQueued,    events::kRunRunning, events::kRunWaiting,
                                           events::kRunSucceeded, events::kRunFailed,  events::kRunCancelled};
}  // namespace

void publish_task_event(EventBus& bus, const Run& r, int k, std::string project) {
    const auto& t = r.tasks[k];
    auto topic = kTaskTopics[static_cast<int>(t.status)];
    if (!bus.has_subscribers(topic)) return;
    const auto& td = r.def().tasks[k];
    bus.publish(std::string(topic), events::task_data({.run_id = r.id,
                                                       .workflow_id = r.wf->id,
                                                       .task_id = td.id,
                                                       .type = td.type,
                                                       .status = name(t.status),
                                                       .attempts = t.attempts,
                                                       .started_at = t.started_at,
                                                       .finished_at = t.finished_at,
                                                       .error = t.error,
                                                       .agent = t.agent,
                                                       .cost = t.cost}),
                {}, std::move(project));
}

void publish_run_event(EventBus& bus, const Run& r, std::string project) {
    auto topic = kRunTopics[static_cast<int>(r.status)];
    if (!bus.has_subscribers(topic)) return;
    bus.publish(std::string(topic),
                events::run_data({.run_id = r.id, .workflow_id = r.wf->id, .status = name(r.status), .error = r.error}), {},
                std::move(project));
}

}  // namespace arclight::workflow
