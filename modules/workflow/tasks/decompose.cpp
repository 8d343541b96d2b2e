// decompose: runs a list of subtasks (a template validated at save time, or a plan computed at
// run time, e.g. by a model) as a one-off child workflow, and waits for it like a subworkflow.
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/tasks/child_run.hpp"
#include "modules/workflow/tasks/control_task.hpp"

#include <boost/json.hpp>

namespace arclight::workflow {
namespace json = boost::json;

namespace {

// A plan comes from data (a model's answer, a request body), so it may use only the task types
// its definition allows (`allowed_types`); by default every type but these, which run code, reach
// the network or start any workflow.
bool denied_by_default(std::string_view type) { return type == "script" || type == "http" || type == "subworkflow"; }

struct Allowed {
    const json::array* list = nullptr;  // the definition's allowed_types; null: the default
    bool allows(std::string_view type) const {
        if (!list) return !denied_by_default(type);
        for (const auto& v : *list)
            if (v.is_string() && v.as_string() == type) return true;
        return false;
    }
};

// Every task of a plan, and every task inside them (a map's task, a nested decompose's tasks),
// is of an allowed type; a nested decompose allows nothing its plan may not use itself.
void check_plan(const json::value& tasks, const Allowed& allowed, const std::string& pointer, std::vector<FieldError>& errors);

void check_task(const json::value& task, const Allowed& allowed, const std::string& pointer, std::vector<FieldError>& errors) {
    const auto* t = task.if_object();
    if (!t) return;  // the definition's own validation says what is wrong
    const auto* type = t->if_contains("type");
    if (!type || !type->is_string()) return;
    std::string_view name = type->as_string();
    if (!allowed.allows(name))
        errors.push_back({pointer + "/type", "a decompose plan may not use task type \"" + std::string(name) +
                                                 "\" (allowed_types of the decompose task; script, http and "
                                                 "subworkflow need to be listed there)"});
    const auto* cfg = t->if_contains("config");
    if (!cfg || !cfg->is_object()) return;
    if (auto* inner = cfg->as_object().if_contains("task")) check_task(*inner, allowed, pointer + "/config/task", errors);
    if (name == "decompose") {
        if (auto* inner = cfg->as_object().if_contains("tasks")) check_plan(*inner, allowed, pointer + "/config/tasks", errors);
        if (auto* list = cfg->as_object().if_contains("allowed_types"); list && list->is_array()) {
            std::size_t i = 0;
            for (const auto& v : list->as_array()) {
                if (v.is_string() && !allowed.allows(v.as_string()))
                    errors.push_back({pointer + "/config/allowed_types/" + std::to_string(i),
                                      "a plan may not allow what it may not use itself"});
                ++i;
            }
        } else if (allowed.list) {
            // Its default could allow more than this plan's list.
            errors.push_back({pointer + "/config", "a decompose inside a plan must list its allowed_types"});
        }
    }
}

void check_plan(const json::value& tasks, const Allowed& allowed, const std::string& pointer, std::vector<FieldError>& errors) {
    const auto* list = tasks.if_array();
    if (!list) return;
    for (std::size_t i = 0; i < list->size(); ++i) check_task((*list)[i], allowed, pointer + "/" + std::to_string(i), errors);
}

class DecomposeTask final : public ChildRunTask {
public:
    std::string_view type() const override { return "decompose"; }
    const json::value& config_schema() const override {
        static const json::value s = json::parse(R"j({"type":"object",
      "properties":{"goal":{"description":"What to achieve (templated); the subtasks see it as {{ input.goal }}"},
                    "tasks":{"type":"array","minItems":1,"description":"A template: task definitions (same format as a workflow's tasks), validated when the workflow is saved"},
                    "plan":{"type":"string","description":"Instead of tasks: an expression giving the task list at run time (e.g. a model task's output), validated against the same schema when it runs"},
                    "allowed_types":{"type":"array","items":{"type":"string"},"description":"Task types a plan may use (default: every type but script, http and subworkflow, since plans come from data)"}},
      "additionalProperties":false})j");
        return s;
    }
    std::vector<std::string> raw_keys() const override { return {"tasks"}; }  // the subtasks' expressions run in the child run

    void check(const json::value& config, const std::string& pointer, const TaskTypes& types,
               std::vector<FieldError>& errors) const override {
        const auto* cfg = config.is_object() ? &config.as_object() : nullptr;
        bool has_tasks = cfg && cfg->contains("tasks"), has_plan = cfg && cfg->contains("plan");
        if (has_tasks == has_plan)
            errors.push_back({pointer, "needs exactly one of \"tasks\" (a template) or \"plan\" (an expression)"});
        if (has_tasks && cfg->at("tasks").is_array()) {
            json::object doc{{"name", "decompose"}, {"tasks", cfg->at("tasks")}};
            std::vector<FieldError> inner;
            parse_definition(doc, types, inner);
            for (auto& e : inner)
                if (e.pointer.rfind("/tasks", 0) == 0) errors.push_back({pointer + e.pointer, e.message});
        }
        if (auto* list = cfg ? cfg->if_contains("allowed_types") : nullptr; list && list->is_array()) {
            std::size_t i = 0;
            for (const auto& v : list->as_array()) {
                if (v.is_string() && !types.find(v.as_string()) && !find_control_task(v.as_string()))
                    errors.push_back({pointer + "/allowed_types/" + std::to_string(i), "no such task type"});
                ++i;
            }
        }
    }

    void start(Engine::Impl& e, const RunPtr& r, int k) const override {
        const auto& td = r->def().tasks[k];
        const auto& cfg = r->tasks[k].input.as_object();
        json::value tasks;
        bool from_plan = false;
        if (auto* t = td.config.as_object().if_contains("tasks"); t && !t->is_null()) tasks = *t;
        else if (auto* p = cfg.if_contains("plan"); p && !p->is_null()) {
            tasks = *p;
            from_plan = true;
        }
        json::object doc{{"name", r->def().name + " / " + td.id}, {"execution_data", "full"}, {"tasks", tasks}};
        std::vector<FieldError> errors;
        if (from_plan) {
            Allowed allowed;
            if (auto* list = td.config.as_object().if_contains("allowed_types"); list && list->is_array())
                allowed.list = &list->as_array();
            check_plan(tasks, allowed, "/tasks", errors);
            if (!errors.empty()) {
                std::string why;
                for (std::size_t i = 0; i < errors.size() && i < 5; ++i)
                    why += (i ? "; " : "") + errors[i].pointer + " " + errors[i].message;
                e.fail_task(r, k, "decompose: the plan uses task types it may not: " + why, false);
                return;
            }
        }
        auto def = e.opt.types ? parse_definition(doc, *e.opt.types, errors) : nullptr;
        if (!def) {
            std::string why;
            for (std::size_t i = 0; i < errors.size() && i < 5; ++i)
                why += (i ? "; " : "") + errors[i].pointer + " " + errors[i].message;
            e.fail_task(r, k, "decompose: the plan is not a valid task list: " + why, false);
            return;
        }
        ChildRun c;
        c.workflow_id = "decompose:" + r->id + ":" + td.id + ":" + std::to_string(r->tasks[k].attempts);
        auto v = std::make_shared<WorkflowVersion>();
        v->id = c.workflow_id;
        v->version = 1;
        v->def = def;
        c.plan = v;
        c.plan_text = json::serialize(doc);
        c.input = json::object{{"goal", cfg.contains("goal") ? cfg.at("goal") : json::value(nullptr)}};
        start_child_run(e, r, k, std::move(c));
    }
};

}  // namespace

const ControlTask& decompose_task() {
    static const DecomposeTask t;
    return t;
}

}  // namespace arclight::workflow
