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
    return json::object{{"id", r.id},
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
}

}  // namespace arclight::workflow
