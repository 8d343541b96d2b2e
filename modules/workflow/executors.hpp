#pragma once
// The task types the workflow module itself provides through the TaskTypes extension point:
// script, http, set, condition, switch, emit. (delay, map and respond are engine built-ins.)
#include "modules/workflow/api.hpp"
#include "core/net/http_client.hpp"
#include "core/lua/sandbox.hpp"
#include <map>
#include <memory>

namespace arclight {
class Db;
class EventBus;
}

namespace arclight::workflow {

class ProjectIndex;

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
    lua::ScriptLimits limits;
    /// On an I/O thread a script first runs inline for at most this much CPU / twice this much
    /// wall time; one that needs more runs again from the start on the compute pool, and its code
    /// goes there directly from then on (until a run there takes less). 0: always on the pool.
    int inline_ms = 1;
    /// Worker processes (workflow.script_isolation = "process"): never inline on an I/O thread.
    bool always_offload = false;
};

/// Registers the module's own task types. `emit` records its events in `db` (EventStore) before
/// publishing them on `bus`.
/// `max_event_chain`: runs started by events one after another (workflow.max_event_chain); the
/// `emit` of the last one fails instead of publishing (its event would start one more).
void add_builtin_types(TaskTypeRegistry& registry, lua::ScriptExecutor& scripts, ScriptDefaults script_defaults,
                       net::HttpClient& http, EventBus& bus, Db& db, int max_event_chain = 8,
                       const ProjectIndex* projects = nullptr);

}  // namespace arclight::workflow
