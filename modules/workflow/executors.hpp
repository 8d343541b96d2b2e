#pragma once
// The task types the workflow module itself provides through the TaskTypes extension point:
// script, http, set, condition, switch, emit. (delay, map and respond are engine built-ins.)
#include "modules/workflow/api.hpp"
#include "modules/workflow/http_client.hpp"
#include "modules/workflow/sandbox/lua_sandbox.hpp"
#include <map>
#include <memory>

namespace arclight {
class EventBus;
}

namespace arclight::workflow {

class TaskTypeRegistry final : public TaskTypes {
public:
    void add(std::shared_ptr<TaskType> type) override;
    const TaskType* find(std::string_view name) const override;
    std::vector<std::string> names() const override;
    const std::map<std::string, std::shared_ptr<TaskType>, std::less<>>& all() const { return types_; }
private:
    std::map<std::string, std::shared_ptr<TaskType>, std::less<>> types_;
};

struct ScriptDefaults {
    sandbox::ScriptLimits limits;
};

/// Registers the module's own task types.
void add_builtin_types(TaskTypeRegistry& registry, sandbox::ScriptRunner& scripts, ScriptDefaults script_defaults,
                       HttpClient& http, EventBus& bus);

}  // namespace arclight::workflow
