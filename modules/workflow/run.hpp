#pragma once
// A run as the engine holds it in memory: its state machine's states, the per-task state and the
// driver's inbox. Private to the workflow module (engine rooms share it).
#include "modules/workflow/engine.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace arclight::workflow {

enum class RS { queued, running, waiting, succeeded, failed, cancelled };
enum class TS { pending, running, waiting, retrying, succeeded, failed, skipped, cancelled };

const char* name(RS s);
const char* name(TS s);
RS run_status(std::string_view s);
TS task_status(std::string_view s);
inline bool terminal(RS s) { return s == RS::succeeded || s == RS::failed || s == RS::cancelled; }
inline bool terminal(TS s) { return s == TS::succeeded || s == TS::failed || s == TS::skipped || s == TS::cancelled; }

struct TaskState {
    TS status = TS::pending;
    int attempts = 0;
    boost::json::value input;
    boost::json::value output;
    std::string error;
    std::string agent;
    double cost = 0;
    std::int64_t started_at = 0, finished_at = 0, due_at = 0;
    std::uint64_t token = 0;
    int committing = 0;  // writes of this task in flight (a task can have two: waiting, then done)
    bool has_row = false;
    std::size_t output_size = 0;  // json_size of the output in the run's context (Run::context_size)
    std::shared_ptr<boost::asio::steady_timer> timer;

    void cancel_timer() {
        if (timer) {
            timer->cancel();
            timer.reset();
        }
    }
};

struct Run : std::enable_shared_from_this<Run> {
    std::string id;
    std::shared_ptr<const WorkflowVersion> wf;
    const Definition& def() const { return *wf->def; }
    bool durable = false;
    RS status = RS::queued;
    boost::json::value ctx;  // {"input","trigger","tasks":{},"run":{}}
    std::size_t context_size = 0;  // about ctx's JSON size (workflow.max_context_mb)
    std::vector<TaskState> tasks;
    std::string trigger_type;
    std::string trigger_json, input_json;
    std::optional<std::string> idempotency_key;
    std::string parent_run_id, parent_task_id;
    std::string created_by;
    bool parent_waits = true;  // false for a fire-and-forget child ("wait": false)
    std::int64_t created_at = 0, started_at = 0, finished_at = 0, deadline_at = 0, wake_at = 0;
    boost::json::value output;
    std::string error;
    std::shared_ptr<Responder> responder;
    /// What answered a synchronous webhook's caller, as the run's `response` column stores it
    /// (set at the run's end; empty otherwise).
    std::string response_json;
    int in_flight = 0;
    int pending_writes = 0;
    bool finishing = false;
    bool removed = false;
    bool released = false;  // waiting for an approval / event with nothing else to do: not in memory
    /// The lease generation this instance holds the run with (its claim's; 0 for a run it
    /// started). Every write carries it (fencing, writer.hpp).
    std::int64_t lease_gen = 0;
    /// A write was fenced: another instance claimed the run, which this one dropped.
    bool lost = false;
    std::shared_ptr<boost::asio::steady_timer> deadline_timer;
    // Driver: one thread at a time runs the run's state machine; others leave work in the inbox.
    std::mutex m;
    bool driving = false;
    std::deque<std::function<void(Run&)>> inbox;
    // The compute pool (driver.hpp): attempts of cpu_bound tasks (index, token) waiting to run
    // there, and whether the driver must move the run to the pool before its next steps. Only
    // the driving thread touches them.
    std::vector<std::pair<int, std::uint64_t>> to_pool;
    bool wants_pool = false;

    boost::json::object& tasks_ctx() { return ctx.as_object()["tasks"].as_object(); }
    /// Whether any task other than `except` is waiting.
    bool any_waiting(int except = -1) const {
        for (std::size_t i = 0; i < tasks.size(); ++i)
            if (static_cast<int>(i) != except && tasks[i].status == TS::waiting) return true;
        return false;
    }
};

using RunPtr = std::shared_ptr<Run>;

/// The earliest due time of a waiting task (0 = none) becomes the run's wake_at.
void recompute_wake(Run& r);

/// The parent link of a child run, read from its trigger object (subworkflow runs).
void read_parent_link(Run& r, const boost::json::object& trigger);

/// The API view of a run held in memory (same shape as the stored view in store.cpp).
boost::json::object snapshot(const Run& r);

/// A run view's "response" (docs/workflows.md, "Webhook answers"): what answered a synchronous
/// webhook's caller. Takes the view's recorded "response" (null, {"source": "task", "task_id"}
/// or a full record) and its "tasks": a task's answer is filled in from that task's output (a
/// respond task that delivered, while the run's end is not recorded yet). Null when none.
void fill_response(boost::json::object& run_view);

}  // namespace arclight::workflow
