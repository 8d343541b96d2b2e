#include "modules/workflow/rows.hpp"

#include "core/json/text.hpp"

#include "core/time/time.hpp"
#include "core/util/ids.hpp"

#include <boost/json.hpp>

namespace arclight::workflow {
namespace json = boost::json;

RunPtr make_run(std::shared_ptr<const WorkflowVersion> wf) {
    auto r = std::make_shared<Run>();
    r->wf = std::move(wf);
    r->tasks.resize(r->def().tasks.size());
    return r;
}

void init_context(Run& r, const json::value& input, const json::object& trigger) {
    r.ctx = json::object{{"input", input},
                         {"trigger", trigger},
                         {"tasks", json::object()},
                         {"run", json::object{{"id", r.id}, {"workflow_id", r.wf->id}, {"version", r.wf->version}}}};
    r.context_size = json_size(r.ctx);
}

RunRow run_row(const Run& r, const std::string& instance, std::int64_t lease_ms, const Clock& clock) {
    RunRow row;
    row.id = r.id;
    row.workflow_id = r.wf->id;
    row.version = r.wf->version;
    row.status = name(r.status);
    row.trigger_type = r.trigger_type;
    row.trigger_data = r.trigger_json;
    row.input = r.input_json;
    row.output = json::serialize(r.output);
    row.error = r.error;
    row.idempotency_key = r.idempotency_key;
    row.parent_run_id = r.parent_run_id;
    row.parent_task_id = r.parent_task_id;
    row.created_by = r.created_by;
    row.response = r.response_json;
    bool unowned = terminal(r.status) || r.released;
    row.owner = unowned ? std::string() : instance;
    row.lease_until = unowned ? 0 : clock.now_ms() + lease_ms;
    row.wake_at = r.wake_at;
    row.deadline_at = r.deadline_at;
    row.created_at = r.created_at;
    row.started_at = r.started_at;
    row.finished_at = r.finished_at;
    row.updated_at = clock.now_ms();
    row.lease_gen = r.lease_gen;
    return row;
}

std::string recorded_input(const Run& r, int k) {
    const auto* impl = r.def().tasks[k].impl;
    if (!impl || !impl->redacts_input()) return json::serialize(r.tasks[k].input);
    json::value shown = r.tasks[k].input;
    impl->redact_input(shown);
    return json::serialize(shown);
}

json::value shown_input(const Run& r, int k) {
    const auto* impl = r.def().tasks[k].impl;
    json::value shown = r.tasks[k].input;
    if (impl && impl->redacts_input()) impl->redact_input(shown);
    return shown;
}

TaskRow task_row(const Run& r, int k, const std::string& instance) {
    const auto& t = r.tasks[k];
    TaskRow row;
    row.run_id = r.id;
    row.task_id = r.def().tasks[k].id;
    row.type = r.def().tasks[k].type;
    row.status = name(t.status);
    row.attempts = t.attempts;
    row.input = recorded_input(r, k);
    row.output = json::serialize(t.output);
    row.error = t.error;
    row.started_at = t.started_at;
    row.finished_at = t.finished_at;
    row.due_at = t.due_at;
    row.agent = t.agent;
    row.cost = t.cost;
    row.instance = instance;
    row.lease_gen = r.lease_gen;
    return row;
}

RunPtr run_from_rows(std::shared_ptr<const WorkflowVersion> wf, const RunRow& row, const std::vector<TaskRow>& tasks) {
    auto r = make_run(std::move(wf));
    r->id = row.id;
    r->durable = true;
    r->status = run_status(row.status);
    r->trigger_type = row.trigger_type;
    r->trigger_json = row.trigger_data;
    r->input_json = row.input;
    r->idempotency_key = row.idempotency_key;
    r->wake_at = row.wake_at;
    r->deadline_at = row.deadline_at;
    r->created_at = row.created_at;
    r->started_at = row.started_at;
    boost::system::error_code ec;
    auto trig = json::parse(r->trigger_json, ec);
    auto input = json::parse(r->input_json, ec);
    init_context(*r, input, trig.is_object() ? trig.as_object() : json::object());
    if (trig.is_object() && r->trigger_type == "subworkflow") read_parent_link(*r, trig.as_object());
    for (const auto& tr : tasks) {
        int k = r->def().find(tr.task_id);
        if (k < 0) continue;
        auto& ts = r->tasks[k];
        ts.has_row = true;
        ts.status = task_status(tr.status);
        ts.attempts = tr.attempts;
        ts.input = json::parse(tr.input, ec);
        if (ec) ts.input = nullptr;
        ts.output = json::parse(tr.output, ec);
        if (ec) ts.output = nullptr;
        ts.error = tr.error;
        ts.started_at = tr.started_at;
        ts.finished_at = tr.finished_at;
        ts.due_at = tr.due_at;
        ts.agent = tr.agent;
        ts.cost = tr.cost;
    }
    return r;
}

json::object task_context_entry(const TaskState& t) {
    json::object entry{{"status", name(t.status)}, {"output", t.output}};
    if (!t.error.empty()) entry["error"] = t.error;
    return entry;
}

}  // namespace arclight::workflow
