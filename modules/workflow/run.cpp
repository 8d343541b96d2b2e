#include "modules/workflow/run.hpp"

#include "modules/workflow/events.hpp"
#include "modules/workflow/rows.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace arclight::workflow {
namespace json = boost::json;

const char* name(RS s) {
    switch (s) {
        case RS::queued: return "queued";
        case RS::running: return "running";
        case RS::waiting: return "waiting";
        case RS::succeeded: return "succeeded";
        case RS::failed: return "failed";
        case RS::cancelled: return "cancelled";
    }
    return "queued";
}

const char* name(TS s) {
    switch (s) {
        case TS::pending: return "pending";
        case TS::running: return "running";
        case TS::waiting: return "waiting";
        case TS::retrying: return "retrying";
        case TS::succeeded: return "succeeded";
        case TS::failed: return "failed";
        case TS::skipped: return "skipped";
        case TS::cancelled: return "cancelled";
    }
    return "pending";
}

RS run_status(std::string_view s) {
    for (RS r : {RS::queued, RS::running, RS::waiting, RS::succeeded, RS::failed, RS::cancelled})
        if (s == name(r)) return r;
    return RS::queued;
}

TS task_status(std::string_view s) {
    for (TS t : {TS::pending, TS::running, TS::waiting, TS::retrying, TS::succeeded, TS::failed, TS::skipped, TS::cancelled})
        if (s == name(t)) return t;
    return TS::pending;
}

void recompute_wake(Run& r) {
    std::int64_t w = 0;
    for (const auto& t : r.tasks)
        if (t.status == TS::waiting && t.due_at > 0) w = w == 0 ? t.due_at : std::min(w, t.due_at);
    r.wake_at = w;
}

void read_parent_link(Run& r, const json::object& t) {
    if (auto* p = t.if_contains("parent_run_id"); p && p->is_string()) r.parent_run_id = std::string(p->as_string());
    if (auto* p = t.if_contains("parent_task_id"); p && p->is_string()) r.parent_task_id = std::string(p->as_string());
    if (auto* w = t.if_contains("wait"); w && w->is_bool()) r.parent_waits = w->as_bool();
}

namespace {
json::value text_or_null(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(json::string(s)); }
}  // namespace

json::object snapshot(const Run& r) {
    using events::time_or_null;
    json::array tasks;
    const auto& def = r.def();
    for (std::size_t k = 0; k < def.tasks.size(); ++k) {
        const auto& t = r.tasks[k];
        json::array deps;
        for (const auto& d : def.tasks[k].depends_on) deps.push_back(json::string(d));
        tasks.push_back(json::object{{"id", def.tasks[k].id},
                                     {"type", def.tasks[k].type},
                                     {"status", name(t.status)},
                                     {"attempts", t.attempts},
                                     {"input", shown_input(r, static_cast<int>(k))},
                                     {"output", t.output},
                                     {"error", text_or_null(t.error)},
                                     {"started_at", time_or_null(t.started_at)},
                                     {"finished_at", time_or_null(t.finished_at)},
                                     {"depends_on", std::move(deps)},
                                     {"agent", text_or_null(t.agent)},
                                     {"cost", t.cost}});
    }
    json::object view{{"id", r.id},
                        {"workflow_id", r.wf->id},
                        {"workflow_name", def.name},
                        {"version", r.wf->version},
                        {"status", name(r.status)},
                        {"trigger", r.trigger_type},
                        {"created_by", r.created_by},
                        {"input", r.ctx.as_object().at("input")},
                        {"output", r.output},
                        {"error", text_or_null(r.error)},
                        {"created_at", time_or_null(r.created_at)},
                        {"started_at", time_or_null(r.started_at)},
                        {"finished_at", time_or_null(r.finished_at)},
                        {"execution_data", to_string(def.execution_data)},
                        {"durable", r.durable},
                        {"tasks", std::move(tasks)}};
    boost::system::error_code ec;
    if (!r.response_json.empty()) view["response"] = json::parse(r.response_json, ec);
    if (ec || !view.contains("response")) view["response"] = nullptr;
    fill_response(view);
    return view;
}

void fill_response(json::object& run) {
    json::value rec = nullptr;
    if (auto* v = run.if_contains("response")) rec = std::move(*v);
    const json::array* tasks = nullptr;
    if (auto* t = run.if_contains("tasks"); t && t->is_array()) tasks = &t->as_array();
    // The task that answered: named by the record, or (before the run's end is recorded) the
    // respond task whose output says it delivered.
    const json::object* sent = nullptr;
    std::string task_id;
    auto* ro = rec.if_object();
    if (ro && ro->contains("source") && ro->at("source") != "task") {
        run["response"] = std::move(rec);
        return;
    }
    if (ro && ro->contains("task_id") && ro->at("task_id").is_string()) task_id = std::string(ro->at("task_id").as_string());
    if (tasks) {
        for (const auto& tv : *tasks) {
            const auto* t = tv.if_object();
            if (!t || !t->contains("output") || !t->at("output").is_object()) continue;
            const auto& out = t->at("output").as_object();
            auto id = t->contains("id") && t->at("id").is_string() ? std::string(t->at("id").as_string()) : std::string();
            bool match = task_id.empty() ? (t->contains("type") && t->at("type") == "respond" && out.contains("delivered") &&
                                           out.at("delivered") == true)
                                         : id == task_id;
            if (!match) continue;
            sent = &out;
            task_id = id;
            break;
        }
    }
    if (!sent) {
        // Recorded as a task's answer whose output is not kept (or no answer yet).
        run["response"] = ro ? json::value(json::object{{"source", "task"}, {"task_id", task_id}}) : json::value(nullptr);
        return;
    }
    json::object resp{{"source", "task"}, {"task_id", task_id}};
    for (const char* k : {"status", "content_type", "headers", "body"})
        if (auto* v = sent->if_contains(k)) resp[k] = *v;
    run["response"] = std::move(resp);
}

}  // namespace arclight::workflow
