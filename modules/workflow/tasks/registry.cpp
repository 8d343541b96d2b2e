// The control task types by name (resolved once per definition, when it is compiled).
#include "modules/workflow/tasks/control_task.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include <algorithm>

namespace arclight::workflow {

boost::asio::awaitable<void> ControlTask::sweep(Engine::Impl&) const { co_return; }

const std::vector<const ControlTask*>& control_tasks() {
    static const std::vector<const ControlTask*> all = [] {
        std::vector<const ControlTask*> v{&approval_task(), &decompose_task(),   &delay_task(),
                                          &map_task(),      &respond_task(),     &subworkflow_task(),
                                          &wait_for_event_task()};
        std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->type() < b->type(); });
        return v;
    }();
    return all;
}

const ControlTask* find_control_task(std::string_view type) {
    for (const auto* t : control_tasks())
        if (t->type() == type) return t;
    return nullptr;
}

std::vector<std::string> control_task_names() {
    std::vector<std::string> names;
    for (const auto* t : control_tasks()) names.emplace_back(t->type());
    return names;
}

}  // namespace arclight::workflow
