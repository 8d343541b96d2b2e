#pragma once
// Every bus topic the workflow module publishes, and the fields of each payload. Public: other
// modules subscribe to these (e.g. "workflow.run.*", "workflow.task.failed"). Events are
// published after the state they report is committed (durable runs).
//
//   workflow.run.<status>   status: queued | running | waiting | succeeded | failed | cancelled
//     run_id, workflow_id, status, error (only when set)
//   workflow.task.<status>  status: pending | running | waiting | retrying | succeeded | failed |
//                           skipped | cancelled
//     run_id, workflow_id, task_id, type, status, attempts, started_at, finished_at (RFC 3339 or
//     null), error (only when set); tasks run by an agent also carry agent, cost and latency_ms
//     (when started and finished: the per-task record the rl module learns from).
#include "core/time/time.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace arclight::workflow::events {

inline constexpr std::string_view kRunQueued = "workflow.run.queued";
inline constexpr std::string_view kRunRunning = "workflow.run.running";
inline constexpr std::string_view kRunWaiting = "workflow.run.waiting";
inline constexpr std::string_view kRunSucceeded = "workflow.run.succeeded";
inline constexpr std::string_view kRunFailed = "workflow.run.failed";
inline constexpr std::string_view kRunCancelled = "workflow.run.cancelled";

inline constexpr std::string_view kTaskPending = "workflow.task.pending";
inline constexpr std::string_view kTaskRunning = "workflow.task.running";
inline constexpr std::string_view kTaskWaiting = "workflow.task.waiting";
inline constexpr std::string_view kTaskRetrying = "workflow.task.retrying";
inline constexpr std::string_view kTaskSucceeded = "workflow.task.succeeded";
inline constexpr std::string_view kTaskFailed = "workflow.task.failed";
inline constexpr std::string_view kTaskSkipped = "workflow.task.skipped";
inline constexpr std::string_view kTaskCancelled = "workflow.task.cancelled";

/// Patterns matching every run / task event.
inline constexpr std::string_view kAllRuns = "workflow.run.*";
inline constexpr std::string_view kAllTasks = "workflow.task.*";

/// Topics under "workflow." are the engine's own: triggers and waits may not use them.
inline bool is_own_topic(std::string_view topic) { return topic.starts_with("workflow."); }

/// Topics an `emit` task may not publish: the engine's own and the core's (system.*, auth.*), so
/// a workflow cannot forge a run's end, a login or an instance event that others act on.
inline bool is_reserved_topic(std::string_view topic) {
    auto first = topic.substr(0, topic.find('.'));
    return first == "workflow" || first == "system" || first == "auth";
}

/// A chain of event-triggered runs (issue: a workflow that triggers itself runs forever):
/// `emit` puts `event_hops` into the event's data, one more than its run's; an event trigger
/// copies the event's into the run's trigger object, and a child run (subworkflow, decompose)
/// gets its parent's. Runs started otherwise are at 0.
inline std::int64_t hops_in(const boost::json::object& o) {
    auto* h = o.if_contains("event_hops");
    if (!h || !h->is_int64() || h->as_int64() < 0) return 0;
    return h->as_int64();
}
/// The event hops of the run whose context (TaskCall::context) this is.
inline std::int64_t event_hops(const boost::json::value& context) {
    auto* c = context.if_object();
    auto* t = c ? c->if_contains("trigger") : nullptr;
    return t && t->is_object() ? hops_in(t->as_object()) : 0;
}

/// A run event's payload.
struct RunEvent {
    std::string_view run_id{}, workflow_id{}, status{};
    std::string_view error{};  ///< omitted when empty
};

inline boost::json::object run_data(const RunEvent& e) {
    boost::json::object d{{"run_id", e.run_id}, {"workflow_id", e.workflow_id}, {"status", e.status}};
    if (!e.error.empty()) d["error"] = e.error;
    return d;
}

/// A task event's payload.
struct TaskEvent {
    std::string_view run_id{}, workflow_id{}, task_id{}, type{}, status{};
    int attempts = 0;
    std::int64_t started_at = 0, finished_at = 0;  ///< epoch ms, 0 = not yet
    std::string_view error{};                      ///< omitted when empty
    std::string_view agent{};                      ///< omitted (with cost, latency_ms) when empty
    double cost = 0;
};

inline boost::json::value time_or_null(std::int64_t ms) {
    if (ms <= 0) return nullptr;
    return boost::json::string(format_rfc3339(ms));
}

inline boost::json::object task_data(const TaskEvent& e) {
    boost::json::object d{{"run_id", e.run_id},
                          {"workflow_id", e.workflow_id},
                          {"task_id", e.task_id},
                          {"type", e.type},
                          {"status", e.status},
                          {"attempts", e.attempts},
                          {"started_at", time_or_null(e.started_at)},
                          {"finished_at", time_or_null(e.finished_at)}};
    if (!e.error.empty()) d["error"] = e.error;
    if (!e.agent.empty()) {
        d["agent"] = e.agent;
        d["cost"] = e.cost;
        if (e.finished_at > 0 && e.started_at > 0) d["latency_ms"] = e.finished_at - e.started_at;
    }
    return d;
}

}  // namespace arclight::workflow::events
