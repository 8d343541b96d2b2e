// decompose: runs a list of subtasks (a template validated at save time, or a plan computed at
// run time, e.g. by a model) as a one-off child workflow, and waits for it like a subworkflow.
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/tasks/child_run.hpp"

#include <boost/json.hpp>

namespace arclight::workflow {
namespace json = boost::json;

namespace {

class DecomposeTask final : public ChildRunTask {
public:
    std::string_view type() const override { return "decompose"; }
    const json::value& config_schema() const override {
        static const json::value s = json::parse(R"j({"type":"object",
      "properties":{"goal":{"description":"What to achieve (templated); the subtasks see it as {{ input.goal }}"},
                    "tasks":{"type":"array","minItems":1,"description":"A template: task definitions (same format as a workflow's tasks), validated when the workflow is saved"},
                    "plan":{"type":"string","description":"Instead of tasks: an expression giving the task list at run time (e.g. a model task's output), validated against the same schema when it runs"}},
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
    }

    void start(Engine::Impl& e, const RunPtr& r, int k) const override {
        const auto& td = r->def().tasks[k];
        const auto& cfg = r->tasks[k].input.as_object();
        json::value tasks;
        if (auto* t = td.config.as_object().if_contains("tasks"); t && !t->is_null()) tasks = *t;
        else if (auto* p = cfg.if_contains("plan"); p && !p->is_null()) tasks = *p;
        json::object doc{{"name", r->def().name + " / " + td.id}, {"execution_data", "full"}, {"tasks", tasks}};
        std::vector<FieldError> errors;
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
