#include "modules/workflow/engine.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/db/row.hpp"
#include "core/log/log.hpp"
#include "core/time/json.hpp"
#include "core/util/ids.hpp"
#include "core/json/compare.hpp"
#include "core/json/schema.hpp"
#include "modules/workflow/writer.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <soci/soci.h>

#include <libpq-fe.h>
#include <poll.h>

#include <deque>
#include <set>
#include <tuple>
#include <random>
#include <thread>

namespace arclight::workflow {
namespace asio = boost::asio;
namespace json = boost::json;

// ------------------------------------------------------------------------------------------------
// Responder
// ------------------------------------------------------------------------------------------------

bool Responder::deliver(HttpResponse r) {
    std::function<void()> w;
    {
        std::lock_guard lk(m_);
        if (value_ || taken_) return false;
        value_ = std::move(r);
        w = std::move(waiter_);
        waiter_ = nullptr;
    }
    if (w) w();
    return true;
}

std::optional<HttpResponse> Responder::take() {
    std::lock_guard lk(m_);
    if (!value_) return std::nullopt;
    taken_ = true;
    auto v = std::move(value_);
    value_.reset();
    return v;
}

asio::awaitable<HttpResponse> Responder::wait(std::int64_t timeout_ms, HttpResponse on_timeout) {
    if (auto v = take()) co_return std::move(*v);
    auto ex = co_await asio::this_coro::executor;
    auto timer = std::make_shared<asio::steady_timer>(ex, std::chrono::milliseconds(timeout_ms));
    auto self = this;
    auto timeout_response = std::make_shared<HttpResponse>(std::move(on_timeout));
    timer->async_wait([self, timeout_response](boost::system::error_code ec) {
        if (!ec) self->deliver(std::move(*timeout_response));
    });
    auto init = [this, ex](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto fire = [h, ex]() { asio::post(ex, [h]() mutable { (*h)(); }); };
        std::unique_lock lk(m_);
        if (value_) {
            lk.unlock();
            fire();
        } else {
            waiter_ = fire;
        }
    };
    co_await asio::async_initiate<const asio::use_awaitable_t<>, void()>(init, asio::use_awaitable);
    timer->cancel();
    auto v = take();
    co_return v ? std::move(*v) : HttpResponse{};
}

// ------------------------------------------------------------------------------------------------
// Run state
// ------------------------------------------------------------------------------------------------

namespace {

enum class RS { queued, running, waiting, succeeded, failed, cancelled };
enum class TS { pending, running, waiting, retrying, succeeded, failed, skipped, cancelled };

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
bool terminal(RS s) { return s == RS::succeeded || s == RS::failed || s == RS::cancelled; }
bool terminal(TS s) { return s == TS::succeeded || s == TS::failed || s == TS::skipped || s == TS::cancelled; }

class OverlayScope final : public expr::Scope {
public:
    OverlayScope(const json::object& base, const json::value& item, const json::value& index)
        : base_(base), item_(item), index_(index) {}
    const json::value* lookup(std::string_view root) const override {
        if (root == "item") return &item_;
        if (root == "index") return &index_;
        return base_.if_contains(root);
    }
private:
    const json::object& base_;
    const json::value& item_;
    const json::value& index_;
};

}  // namespace

struct TaskState {
    TS status = TS::pending;
    int attempts = 0;
    json::value input;
    json::value output;
    std::string error;
    std::string agent;
    double cost = 0;
    long long started_at = 0, finished_at = 0, due_at = 0;
    std::uint64_t token = 0;
    int committing = 0;  // writes of this task in flight (a task can have two: waiting, then done)
    bool has_row = false;
    std::shared_ptr<asio::steady_timer> timer;
};

struct Run : std::enable_shared_from_this<Run> {
    std::string id;
    std::shared_ptr<const WorkflowVersion> wf;
    const Definition& def() const { return *wf->def; }
    bool durable = false;
    RS status = RS::queued;
    json::value ctx;  // {"input","trigger","tasks":{},"run":{}}
    std::vector<TaskState> tasks;
    std::string trigger_type;
    std::string trigger_json, input_json;
    std::optional<std::string> idempotency_key;
    std::string parent_run_id, parent_task_id;
    bool parent_waits = true;  // false for a fire-and-forget child ("wait": false)
    long long created_at = 0, started_at = 0, finished_at = 0, deadline_at = 0, wake_at = 0;
    json::value output;
    std::string error;
    std::shared_ptr<Responder> responder;
    int in_flight = 0;
    int pending_writes = 0;
    bool finishing = false;
    bool removed = false;
    bool released = false;  // waiting for an approval / event with nothing else to do: not in memory
    std::shared_ptr<asio::steady_timer> deadline_timer;
    // Driver: one thread at a time runs the run's state machine; others leave work in the inbox.
    std::mutex m;
    bool driving = false;
    std::deque<std::function<void(Run&)>> inbox;

    json::object& tasks_ctx() { return ctx.as_object()["tasks"].as_object(); }
};

using RunPtr = std::shared_ptr<Run>;

namespace {

json::value text_or_null(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(json::string(s)); }

// The API view of a run held in memory (same shape as the stored view in store.cpp).
json::object snapshot(const Run& r) {
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
                                     {"input", t.input},
                                     {"output", t.output},
                                     {"error", text_or_null(t.error)},
                                     {"started_at", rfc3339_or_null(t.started_at)},
                                     {"finished_at", rfc3339_or_null(t.finished_at)},
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
                        {"input", r.ctx.as_object().at("input")},
                        {"output", r.output},
                        {"error", text_or_null(r.error)},
                        {"created_at", rfc3339_or_null(r.created_at)},
                        {"started_at", rfc3339_or_null(r.started_at)},
                        {"finished_at", rfc3339_or_null(r.finished_at)},
                        {"execution_data", to_string(def.execution_data)},
                        {"durable", r.durable},
                        {"tasks", std::move(tasks)}};
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Engine implementation
// ------------------------------------------------------------------------------------------------

struct Engine::Impl : std::enable_shared_from_this<Engine::Impl> {
    Db& db;
    EventBus& bus;
    asio::any_io_executor io, blocking;
    EngineOptions opt;
    VersionLoader loader;
    // State writers: one on SQLite (one writer is what SQLite wants), several on PostgreSQL,
    // where each statement is a network round trip. A run always uses the same writer, so its
    // changes commit in order.
    std::vector<std::unique_ptr<Writer>> writers;
    mutable std::mutex runs_m;
    std::unordered_map<std::string, RunPtr> runs;
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> runs_started{0}, runs_finished{0}, tasks_run{0}, runs_claimed{0};
    std::shared_ptr<asio::steady_timer> loop_timer;
    std::atomic<bool> claim_requested{false};
    std::mutex rng_m;
    std::mt19937_64 rng{std::random_device{}()};
    std::mutex versions_m;
    std::map<std::pair<std::string, int>, std::shared_ptr<const WorkflowVersion>> versions;
    std::atomic<int> loops_running{0};
    Engine::CurrentLoader current_loader;
    std::function<asio::awaitable<StartResult>(StartRequest)> start_child;
    long long last_renew = 0;

    Impl(Db& d, EventBus& b, asio::any_io_executor i, asio::any_io_executor bl, EngineOptions o, VersionLoader l)
        : db(d), bus(b), io(std::move(i)), blocking(std::move(bl)), opt(std::move(o)), loader(std::move(l)),
          writers() {
        std::size_t n = d.backend() == DbBackend::sqlite ? 1 : std::max<std::size_t>(1, opt.pg_writers);
        for (std::size_t i = 0; i < n; ++i) writers.push_back(std::make_unique<Writer>(d, opt.max_batch));
    }

    Writer& writer_for(const std::string& run_id) {
        if (writers.size() == 1) return *writers[0];
        return *writers[std::hash<std::string>{}(run_id) % writers.size()];
    }

    double random01() {
        std::lock_guard lk(rng_m);
        return std::uniform_real_distribution<double>(0, 1)(rng);
    }

    // ---- driver --------------------------------------------------------------------------------

    // Leaves `fn` for the run's driver; drives now on this thread when nobody else is.
    void notify(const RunPtr& r, std::function<void(Run&)> fn) {
        {
            std::lock_guard lk(r->m);
            r->inbox.push_back(std::move(fn));
            if (r->driving) return;
            r->driving = true;
        }
        drive(r);
    }
    // Same, but never drives on the calling thread (writer thread, timers of other runs).
    void notify_async(const RunPtr& r, std::function<void(Run&)> fn) {
        {
            std::lock_guard lk(r->m);
            r->inbox.push_back(std::move(fn));
            if (r->driving) return;
            r->driving = true;
        }
        auto self = shared_from_this();
        asio::post(io, [self, r] { self->drive(r); });
    }

    void drive(const RunPtr& r) {
        for (;;) {
            std::deque<std::function<void(Run&)>> work;
            {
                std::lock_guard lk(r->m);
                if (r->inbox.empty()) {
                    r->driving = false;
                    return;
                }
                work.swap(r->inbox);
            }
            for (auto& fn : work) {
                try {
                    fn(*r);
                } catch (const std::exception& e) {
                    log::error("workflow", "run {}: internal error: {}", r->id, e.what());
                    fail_run(r, std::string("internal error: ") + e.what());
                }
            }
            try {
                schedule(r);
            } catch (const std::exception& e) {
                log::error("workflow", "run {}: internal error: {}", r->id, e.what());
                fail_run(r, std::string("internal error: ") + e.what());
            }
        }
    }

    // ---- persistence helpers -------------------------------------------------------------------

    RunRow run_row(const Run& r) const {
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
        bool unowned = terminal(r.status) || r.released;
        row.owner = unowned ? std::string() : opt.instance_id;
        row.lease_until = unowned ? 0 : now_ms() + opt.lease_ms;
        row.wake_at = r.wake_at;
        row.deadline_at = r.deadline_at;
        row.created_at = r.created_at;
        row.started_at = r.started_at;
        row.finished_at = r.finished_at;
        row.updated_at = now_ms();
        return row;
    }

    TaskRow task_row(const Run& r, int k) const {
        const auto& t = r.tasks[k];
        TaskRow row;
        row.run_id = r.id;
        row.task_id = r.def().tasks[k].id;
        row.type = r.def().tasks[k].type;
        row.status = name(t.status);
        row.attempts = t.attempts;
        row.input = json::serialize(t.input);
        row.output = json::serialize(t.output);
        row.error = t.error;
        row.started_at = t.started_at;
        row.finished_at = t.finished_at;
        row.due_at = t.due_at;
        row.agent = t.agent;
        row.cost = t.cost;
        row.instance = opt.instance_id;
        return row;
    }

    // Writes the task's current state when the run is durable, then calls `then` on the driver.
    void record_task(const RunPtr& r, int k, std::function<void(Run&, bool applied)> then) {
        if (!r->durable) {
            then(*r, true);
            return;
        }
        r->tasks[k].has_row = true;
        ++r->tasks[k].committing;
        ++r->pending_writes;
        auto self = shared_from_this();
        writer_for(r->id).put_task(task_row(*r, k), [self, r, k, then = std::move(then)](bool applied, const std::string&) {
            self->notify_async(r, [k, applied, then](Run& run) {
                --run.pending_writes;
                --run.tasks[k].committing;
                then(run, applied);
            });
        });
    }

    void record_run(const RunPtr& r, std::function<void(Run&, bool applied, const std::string& error)> then) {
        if (!r->durable) {
            then(*r, true, {});
            return;
        }
        ++r->pending_writes;
        auto self = shared_from_this();
        writer_for(r->id).put_run(run_row(*r), [self, r, then = std::move(then)](bool applied, const std::string& error) {
            self->notify_async(r, [applied, error, then](Run& run) {
                --run.pending_writes;
                then(run, applied, error);
            });
        });
    }

    // Makes a non-durable run durable (execution_data errors/none before a wait or a failure):
    // the run row and every task that has a state, in one batch.
    void promote(const RunPtr& r) {
        if (r->durable) return;
        r->durable = true;
        if (r->trigger_json.empty()) r->trigger_json = json::serialize(r->ctx.as_object().at("trigger"));
        if (r->input_json.empty()) r->input_json = json::serialize(r->ctx.as_object().at("input"));
        ++r->pending_writes;
        auto self = shared_from_this();
        writer_for(r->id).put_run(run_row(*r), [self, r](bool, const std::string&) {
            self->notify_async(r, [](Run& run) { --run.pending_writes; });
        });
        for (std::size_t k = 0; k < r->tasks.size(); ++k) {
            if (r->tasks[k].status == TS::pending || r->tasks[k].committing) continue;
            r->tasks[k].has_row = true;
            ++r->pending_writes;
            writer_for(r->id).put_task(task_row(*r, static_cast<int>(k)), [self, r](bool, const std::string&) {
                self->notify_async(r, [](Run& run) { --run.pending_writes; });
            });
        }
    }

    // ---- events --------------------------------------------------------------------------------

    static const std::string& topic_of(TS s) {
        static const std::string topics[] = {"workflow.task.pending",   "workflow.task.running", "workflow.task.waiting",
                                             "workflow.task.retrying",  "workflow.task.succeeded", "workflow.task.failed",
                                             "workflow.task.skipped",   "workflow.task.cancelled"};
        return topics[static_cast<int>(s)];
    }
    static const std::string& topic_of(RS s) {
        static const std::string topics[] = {"workflow.run.queued",    "workflow.run.running", "workflow.run.waiting",
                                             "workflow.run.succeeded", "workflow.run.failed",  "workflow.run.cancelled"};
        return topics[static_cast<int>(s)];
    }

    void publish_task(const Run& r, int k) {
        const auto& t = r.tasks[k];
        const auto& topic = topic_of(t.status);
        if (!bus.has_subscribers(topic)) return;
        json::object d{{"run_id", r.id},
                       {"workflow_id", r.wf->id},
                       {"task_id", r.def().tasks[k].id},
                       {"type", r.def().tasks[k].type},
                       {"status", name(t.status)},
                       {"attempts", t.attempts},
                       {"started_at", rfc3339_or_null(t.started_at)},
                       {"finished_at", rfc3339_or_null(t.finished_at)}};
        if (!t.error.empty()) d["error"] = t.error;
        if (!t.agent.empty()) {
            // The per-task record the rl module learns from: agent, outcome (status), latency, cost.
            d["agent"] = t.agent;
            d["cost"] = t.cost;
            if (t.finished_at > 0 && t.started_at > 0) d["latency_ms"] = t.finished_at - t.started_at;
        }
        bus.publish(topic, std::move(d));
    }
    void publish_run(const Run& r) {
        const auto& topic = topic_of(r.status);
        if (!bus.has_subscribers(topic)) return;
        json::object d{{"run_id", r.id}, {"workflow_id", r.wf->id}, {"status", name(r.status)}};
        if (!r.error.empty()) d["error"] = r.error;
        bus.publish(topic, std::move(d));
    }

    // ---- scheduling ----------------------------------------------------------------------------

    // Whether dependency `d` of a task lets it run: 1 yes, 0 not yet, -1 never (skip).
    static int dep_state(const Run& r, int d, int k) {
        const auto& ts = r.tasks[d];
        if (!terminal(ts.status) || ts.committing) return 0;
        const auto& dd = r.def().tasks[d];
        if (ts.status == TS::succeeded) return 1;
        if (ts.status == TS::failed) {
            if (dd.on_error == OnError::cont) return 1;
            if (dd.on_error == OnError::branch && r.def().tasks[k].handles_errors_of == d) return 1;
            return -1;
        }
        return -1;  // skipped / cancelled
    }

    void schedule(const RunPtr& r) {
        if (r->removed) return;
        if (terminal(r->status) || r->finishing) {
            maybe_remove(r);
            return;
        }
        if (r->status != RS::running && r->status != RS::waiting) return;
        const auto& def = r->def();
        bool progress = true;
        while (progress && !terminal(r->status) && !r->finishing) {
            progress = false;
            for (std::size_t k = 0; k < r->tasks.size(); ++k) {
                auto& ts = r->tasks[k];
                if (ts.status != TS::pending || ts.committing) continue;
                const auto& td = def.tasks[k];
                int ready = 1;
                bool any_ok = false;
                if (td.handles_errors_of >= 0) {
                    int h = td.handles_errors_of;
                    if (!terminal(r->tasks[h].status) || r->tasks[h].committing) ready = 0;
                    else if (r->tasks[h].status != TS::failed) ready = -1;
                }
                if (ready != 0) {
                    bool all_done = true;
                    int worst = 1;
                    for (int d : td.deps) {
                        int s = dep_state(*r, d, static_cast<int>(k));
                        if (s == 0) all_done = false;
                        if (s == 1) any_ok = true;
                        worst = std::min(worst, s);
                    }
                    if (!all_done) ready = 0;
                    else if (td.join_any) ready = (ready == 1 && (any_ok || td.deps.empty())) ? 1 : -1;
                    else ready = std::min(ready, worst);
                }
                if (ready == 0) continue;
                if (def.concurrency > 0 && r->in_flight >= def.concurrency && ready == 1) continue;
                progress = true;
                if (ready < 0) {
                    finish_task(r, static_cast<int>(k), TS::skipped, nullptr, {});
                } else {
                    launch(r, static_cast<int>(k));
                }
                if (terminal(r->status) || r->finishing) break;
            }
        }
        check_done(r);
        maybe_release(r);
    }

    // A run whose only unfinished work is waiting for an approval or an event leaves memory:
    // its state is in the database (owner cleared, wake_at = the earliest wait timeout), and a
    // decision or event puts it back in the queue for any instance to claim.
    void maybe_release(const RunPtr& r) {
        if (terminal(r->status) || r->finishing || r->released || r->removed || r->status != RS::waiting) return;
        if (r->in_flight > 0 || !r->durable) return;
        bool external = false;
        for (std::size_t k = 0; k < r->tasks.size(); ++k) {
            const auto& t = r->tasks[k];
            if (t.committing || t.status == TS::running || t.status == TS::retrying) return;
            if (t.status == TS::waiting) {
                const auto& type = r->def().tasks[k].type;
                if (type != "approval" && type != "wait_for_event" && type != "subworkflow" && type != "decompose") return;
                external = true;
            }
        }
        if (!external) return;
        for (auto& t : r->tasks)
            if (t.timer) {
                t.timer->cancel();
                t.timer.reset();
            }
        r->released = true;
        recompute_wake(*r);
        record_run(r, [this, r](Run& run, bool, const std::string&) {
            if (!run.released || run.removed) return;
            publish_run(run);
            run.removed = true;
            std::lock_guard lk(runs_m);
            runs.erase(run.id);
        });
    }

    static void recompute_wake(Run& r) {
        long long w = 0;
        for (const auto& t : r.tasks)
            if (t.status == TS::waiting && t.due_at > 0) w = w == 0 ? t.due_at : std::min(w, t.due_at);
        r.wake_at = w;
    }

    void check_done(const RunPtr& r) {
        if (terminal(r->status) || r->finishing || r->status != RS::running) return;
        for (const auto& t : r->tasks)
            if (!terminal(t.status) || t.committing) return;
        // Output: the single sink task's output, or {sink id: output} for several sinks.
        const auto& def = r->def();
        json::object sinks;
        json::value single;
        int n = 0;
        for (std::size_t k = 0; k < def.tasks.size(); ++k) {
            if (!def.tasks[k].dependents.empty() || r->tasks[k].status != TS::succeeded) continue;
            if (def.tasks[k].type == "respond") continue;
            sinks[def.tasks[k].id] = r->tasks[k].output;
            single = r->tasks[k].output;
            ++n;
        }
        r->output = n == 1 ? single : json::value(std::move(sinks));
        finish_run(r, RS::succeeded, {});
    }

    // ---- task execution ------------------------------------------------------------------------

    void launch(const RunPtr& r, int k) {
        const auto& td = r->def().tasks[k];
        auto& ts = r->tasks[k];
        expr::ObjectScope scope(r->ctx.as_object());
        if (td.when) {
            bool go = false;
            try {
                go = td.when->truthy(scope);
            } catch (const expr::ExprError& e) {
                ts.attempts = std::max(ts.attempts, 1);
                fail_task(r, k, std::string("when: ") + e.what(), false);
                return;
            }
            if (!go) {
                finish_task(r, k, TS::skipped, nullptr, {});
                return;
            }
        }
        json::value input;
        try {
            input = td.config_template.is_literal() ? td.config : td.config_template.eval(scope);
        } catch (const expr::ExprError& e) {
            ts.attempts = std::max(ts.attempts, 1);
            fail_task(r, k, std::string("config: ") + e.what(), false);
            return;
        }
        ts.input = std::move(input);
        ++ts.attempts;
        ++ts.token;
        ts.error.clear();
        if (ts.started_at == 0 || ts.attempts == 1) ts.started_at = now_ms();
        ts.status = TS::running;
        ++tasks_run;

        if (td.type == "delay") return start_delay(r, k);
        if (td.type == "approval" || td.type == "wait_for_event") return start_wait(r, k);
        if (td.type == "subworkflow" || td.type == "decompose") return start_subworkflow(r, k);
        if (td.type == "respond") return run_respond(r, k);
        if (td.type == "map") return start_map(r, k);

        TaskType* impl = const_cast<TaskType*>(td.impl);
        if (impl->synchronous() && !impl->side_effects()) {
            run_sync_now(r, k, impl);
            return;
        }
        // Side effects: the attempt number is durable before the effect happens.
        ++r->in_flight;
        std::uint64_t token = ts.token;
        auto go = [this, r, k, impl, token](Run& run, bool) {
            if (run.tasks[k].token != token || run.tasks[k].status != TS::running) {
                --run.in_flight;
                return;
            }
            publish_task(run, k);
            if (impl->synchronous()) {
                --run.in_flight;
                run_sync_now(r, k, impl);
            } else {
                start_async(r, k, impl);
            }
        };
        record_task(r, k, go);
    }

    long long attempt_deadline(const Run& r, int k) const {
        const auto& td = r.def().tasks[k];
        long long d = td.timeout_ms > 0 ? now_ms() + td.timeout_ms : 0;
        if (r.deadline_at > 0) d = d > 0 ? std::min(d, r.deadline_at) : r.deadline_at;
        return d;
    }

    void run_sync_now(const RunPtr& r, int k, TaskType* impl) {
        auto& ts = r->tasks[k];
        TaskCall call{r->id, r->def().tasks[k].id, ts.attempts, ts.input, r->ctx, attempt_deadline(*r, k), io};
        TaskOutcome out;
        try {
            out = impl->run_sync(call);
        } catch (const std::exception& e) {
            out = TaskOutcome::failure(std::string("executor error: ") + e.what());
        }
        complete(r, k, std::move(out));
    }

    void start_async(const RunPtr& r, int k, TaskType* impl) {
        auto& ts = r->tasks[k];
        struct Frame {
            std::string run_id, task_id;
            json::value config, context;
            TaskCall call;
            Frame(std::string rid, std::string tid, json::value cfg, json::value cx, int attempt, long long dl,
                  asio::any_io_executor ex)
                : run_id(std::move(rid)), task_id(std::move(tid)), config(std::move(cfg)), context(std::move(cx)),
                  call{run_id, task_id, attempt, config, context, dl, std::move(ex)} {}
        };
        long long deadline = attempt_deadline(*r, k);
        auto frame = std::make_shared<Frame>(r->id, r->def().tasks[k].id, ts.input, r->ctx, ts.attempts, deadline, io);
        std::uint64_t token = ts.token;
        auto self = shared_from_this();
        if (deadline > 0) arm_timeout(r, k, token, deadline);
        auto body = [self, r, k, impl, frame, token]() -> asio::awaitable<void> {
            TaskOutcome out;
            try {
                out = co_await impl->run(frame->call);
            } catch (const std::exception& e) {
                out = TaskOutcome::failure(std::string("executor error: ") + e.what());
            }
            auto shared_out = std::make_shared<TaskOutcome>(std::move(out));
            self->notify(r, [self, r, k, token, shared_out](Run& run) {
                --run.in_flight;
                if (run.tasks[k].token != token || run.tasks[k].status != TS::running) return;
                self->complete(r, k, std::move(*shared_out));
            });
        };
        asio::co_spawn(io, std::move(body), asio::detached);
    }

    // Task k's timer: at epoch ms `at`, `fn` runs on the run's driver (unless the timer was
    // cancelled: a result, a cancel or a newer timer came first).
    void arm_task_timer(const RunPtr& r, int k, long long at, std::function<void(Run&)> fn) {
        auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(std::max(0LL, at - now_ms())));
        r->tasks[k].timer = timer;
        auto self = shared_from_this();
        timer->async_wait([self, r, timer, fn = std::move(fn)](boost::system::error_code ec) mutable {
            if (ec) return;
            self->notify(r, std::move(fn));
        });
    }

    void arm_timeout(const RunPtr& r, int k, std::uint64_t token, long long deadline) {
        auto self = shared_from_this();
        arm_task_timer(r, k, deadline, [self, r, k, token](Run& run) {
            auto& ts = run.tasks[k];
            if (ts.token != token || ts.status != TS::running) return;
            ++ts.token;  // the late result is ignored
            bool run_deadline = run.deadline_at > 0 && now_ms() >= run.deadline_at;
            auto ms = run.def().tasks[k].timeout_ms;
            self->fail_task(r, k, run_deadline ? "the run timed out" : "timed out after " + std::to_string(ms) + " ms",
                            !run_deadline);
        });
    }

    void complete(const RunPtr& r, int k, TaskOutcome out) {
        auto& ts = r->tasks[k];
        if (!out.agent.empty()) ts.agent = out.agent;
        ts.cost += out.cost;  // every attempt's cost counts
        if (ts.timer) {
            ts.timer->cancel();
            ts.timer.reset();
        }
        if (out.ok) {
            finish_task(r, k, TS::succeeded, std::move(out.output), {});
        } else {
            if (!out.output.is_null()) ts.output = std::move(out.output);
            fail_task(r, k, out.error, out.retryable);
        }
    }

    void fail_task(const RunPtr& r, int k, std::string error, bool retryable) {
        auto& ts = r->tasks[k];
        const auto& td = r->def().tasks[k];
        if (retryable && ts.attempts < td.retry.max_attempts && !(r->deadline_at > 0 && now_ms() >= r->deadline_at)) {
            ts.status = TS::retrying;
            ts.error = std::move(error);
            ts.due_at = now_ms() + td.retry.delay_before(ts.attempts + 1, random01());
            promote(r);  // a sleeping run is durable first
            record_task(r, k, [this, r, k](Run& run, bool) {
                publish_task(run, k);
                arm_wake(r, k, run.tasks[k].due_at, run.tasks[k].token);
            });
            return;
        }
        finish_task(r, k, TS::failed, std::move(ts.output), std::move(error));
    }

    // Timer for a retry back-off or a delay: at `due` the task is launched again / completes.
    void arm_wake(const RunPtr& r, int k, long long due, std::uint64_t token) {
        auto self = shared_from_this();
        arm_task_timer(r, k, due, [self, r, k, token](Run& run) {
            auto& ts = run.tasks[k];
            if (ts.token != token) return;
            ts.timer.reset();
            if (ts.status == TS::retrying) {
                ts.status = TS::pending;  // schedule() launches the next attempt
            } else if (ts.status == TS::waiting && run.def().tasks[k].type != "delay") {
                self->unregister_wait(run.id, run.def().tasks[k].id);
                self->fail_task(r, k, "timed out waiting for " +
                                          std::string(run.def().tasks[k].type == "approval" ? "an approval" : "the event"),
                                false);
                if (run.status == RS::waiting) {
                    bool still = false;
                    for (const auto& t : run.tasks)
                        if (t.status == TS::waiting) still = true;
                    if (!still) run.status = RS::running;
                }
            } else if (ts.status == TS::waiting) {
                auto waited = now_ms() - ts.started_at;
                if (run.status == RS::waiting) {
                    run.status = RS::running;
                    run.wake_at = 0;
                }
                self->finish_task(r, k, TS::succeeded, json::object{{"waited_ms", waited}}, {});
            }
        });
    }

    void finish_task(const RunPtr& r, int k, TS status, json::value output, std::string error) {
        auto& ts = r->tasks[k];
        ts.status = status;
        ts.output = std::move(output);
        ts.error = std::move(error);
        ts.finished_at = now_ms();
        ts.due_at = 0;
        if (ts.timer) {
            ts.timer->cancel();
            ts.timer.reset();
        }
        if (status == TS::skipped && ts.attempts == 0) ts.started_at = 0;
        bool failed = status == TS::failed;
        if (failed && !r->durable && r->def().execution_data == ExecutionData::errors) promote(r);
        const auto& td = r->def().tasks[k];
        // Results of pure tasks (no effect outside the run: script, set, condition, respond, a
        // skip) are visible to dependents at once; their row is committed in the next batch
        // and their event published after that. A crash before the commit re-runs them, which
        // is harmless. Tasks with side effects wait for their completion to be durable.
        bool pure = status == TS::skipped || td.type == "respond" || (td.impl && !td.impl->side_effects());
        auto apply = [this, r, k, failed](Run& run) {
            auto& t = run.tasks[k];
            json::object entry{{"status", name(t.status)}, {"output", t.output}};
            if (!t.error.empty()) entry["error"] = t.error;
            run.tasks_ctx()[run.def().tasks[k].id] = std::move(entry);
            if (failed && run.def().tasks[k].on_error == OnError::fail)
                fail_run(r, "task " + run.def().tasks[k].id + " failed: " + t.error);
        };
        if (!r->durable) {
            apply(*r);
            publish_task(*r, k);
            return;
        }
        if (pure) {
            // The row is queued before apply() may queue the run's final state: the writer
            // commits in queue order, so a finished run never lacks its tasks' rows.
            r->tasks[k].has_row = true;
            ++r->pending_writes;
            auto self = shared_from_this();
            writer_for(r->id).put_task(task_row(*r, k), [self, r, k](bool, const std::string&) {
                self->notify_async(r, [self, k](Run& run) {
                    --run.pending_writes;
                    self->publish_task(run, k);
                });
            });
            apply(*r);
            return;
        }
        record_task(r, k, [this, k, apply](Run& run, bool applied) {
            if (!applied && run.tasks[k].status == TS::succeeded) {
                log::info("workflow", "run {} task {}: completion already recorded; this attempt's result is discarded",
                          run.id, run.def().tasks[k].id);
            }
            apply(run);
            publish_task(run, k);
        });
    }

    // ---- built-ins -----------------------------------------------------------------------------

    void start_wait(const RunPtr& r, int k) {
        auto& ts = r->tasks[k];
        const auto& td = r->def().tasks[k];
        const auto& cfg = ts.input.as_object();
        double timeout = 0;
        if (auto* t = cfg.if_contains("timeout_seconds"); t && !t->is_null()) {
            if (t->is_number()) timeout = t->to_number<double>();
            else if (t->is_string()) {
                try {
                    timeout = std::stod(std::string(t->as_string()));
                } catch (...) {
                    timeout = -1;
                }
            }
            if (!(timeout > 0) || timeout > 366.0 * 86400) {
                fail_task(r, k, td.type + ": timeout_seconds must be a number between 0 and 31622400", false);
                return;
            }
        }
        if (td.type == "wait_for_event") {
            auto* topic = cfg.if_contains("topic");
            if (!topic || !topic->is_string() || !valid_topic_pattern(topic->as_string())) {
                fail_task(r, k, "wait_for_event: topic must evaluate to a topic pattern", false);
                return;
            }
        }
        ts.status = TS::waiting;
        ts.due_at = timeout > 0 ? now_ms() + static_cast<long long>(timeout * 1000) : 0;
        r->status = RS::waiting;
        recompute_wake(*r);
        promote(r);
        std::uint64_t token = ts.token;
        record_task(r, k, [this, r, k, token](Run& run, bool) {
            auto& t = run.tasks[k];
            if (t.token != token || t.status != TS::waiting) return;
            publish_task(run, k);
            if (run.def().tasks[k].type == "wait_for_event") register_wait(run.id, run.def().tasks[k].id, t.input);
            if (t.due_at > 0) arm_wake(r, k, t.due_at, token);
        });
    }

    // ---- waits for events ------------------------------------------------------------------
    struct EventWait {
        std::unique_ptr<Subscription> sub;
    };
    std::mutex waits_m;
    std::map<std::string, EventWait> waits;  // "<run id>/<task id>"

    // Subscribes to the wait's topic; a matching event decides the task (any instance may hold
    // the run). Idempotent.
    void register_wait(const std::string& run_id, const std::string& task_id, const json::value& input) {
        auto key = run_id + "/" + task_id;
        {
            std::lock_guard lk(waits_m);
            if (waits.count(key)) return;
        }
        if (!input.is_object()) return;
        const auto& cfg = input.as_object();
        auto* topic = cfg.if_contains("topic");
        if (!topic || !topic->is_string() || !valid_topic_pattern(topic->as_string())) return;
        std::shared_ptr<expr::Expr> filter;
        if (auto* f = cfg.if_contains("filter"); f && f->is_string()) {
            try {
                filter = std::make_shared<expr::Expr>(parse_condition_text(f->as_string()));
            } catch (const std::exception&) {
                return;
            }
        }
        json::object match;
        if (auto* m = cfg.if_contains("match"); m && m->is_object()) match = m->as_object();
        std::weak_ptr<Impl> weak = shared_from_this();
        auto handler = [weak, run_id, task_id, filter, match](const EventPtr& ev) {
            auto self = weak.lock();
            if (!self || self->stopping) return;
            for (const auto& [path, expected] : match) {
                const json::value* v = nullptr;
                json::value data_v = ev->data;
                v = &data_v;
                std::string_view rest = path;
                while (v && !rest.empty()) {
                    auto dot = rest.find('.');
                    auto part = rest.substr(0, dot);
                    rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
                    v = v->is_object() ? v->as_object().if_contains(part) : nullptr;
                }
                if (!v || !json_equal(*v, expected)) return;
            }
            json::object event{{"topic", ev->topic}, {"id", ev->id}, {"time", format_rfc3339(ev->time_ms)}, {"data", ev->data}};
            if (filter) {
                json::object root{{"event", event}};
                try {
                    if (!filter->truthy(expr::ObjectScope(root))) return;
                } catch (const std::exception&) {
                    return;
                }
            }
            auto body = [self, run_id, task_id, event]() -> asio::awaitable<void> {
                try {
                    int r = co_await self->decide(run_id, task_id, "wait_for_event", true, event, {});
                    if (r != 2) self->unregister_wait(run_id, task_id);
                } catch (const std::exception& e) {
                    log::warn("workflow", "run {}: event for task {} not applied: {}", run_id, task_id, e.what());
                }
            };
            asio::co_spawn(self->io, std::move(body), asio::detached);
        };
        auto sub = std::make_unique<Subscription>(bus.subscribe(std::string(topic->as_string()), std::move(handler)));
        std::lock_guard lk(waits_m);
        waits[key].sub = std::move(sub);
    }

    void unregister_wait(const std::string& run_id, const std::string& task_id) {
        std::unique_ptr<Subscription> old;
        std::lock_guard lk(waits_m);
        auto it = waits.find(run_id + "/" + task_id);
        if (it == waits.end()) return;
        old = std::move(it->second.sub);
        waits.erase(it);
    }

    // Loads every event wait in the database (start-up, and now and then: waits created by
    // other instances, or decided elsewhere).
    asio::awaitable<void> refresh_waits() {
        auto q = [](soci::session& s) {
            std::vector<std::tuple<std::string, std::string, std::string>> out;
            soci::rowset<soci::row> rows =
                s.prepare << "SELECT t.run_id, t.task_id, t.input FROM workflow_tasks t JOIN workflow_runs r ON r.id = t.run_id "
                             "WHERE t.status = 'waiting' AND t.type = 'wait_for_event' AND r.status = 'waiting'";
            for (const auto& row : rows) out.emplace_back(row.get<std::string>(0), row.get<std::string>(1), row.get<std::string>(2));
            return out;
        };
        auto rows = co_await db.run(std::move(q));
        std::set<std::string> live;
        for (const auto& [run_id, task_id, input] : rows) {
            live.insert(run_id + "/" + task_id);
            boost::system::error_code ec;
            auto v = json::parse(input, ec);
            if (!ec) register_wait(run_id, task_id, v);
        }
        std::vector<std::unique_ptr<Subscription>> dropped;
        std::lock_guard lk(waits_m);
        for (auto it = waits.begin(); it != waits.end();) {
            if (!live.count(it->first)) {
                dropped.push_back(std::move(it->second.sub));
                it = waits.erase(it);
            } else {
                ++it;
            }
        }
    }

    // Completes a waiting approval / wait_for_event task. 1 = applied, 0 = not waiting (or
    // unknown), 2 = the run is active on another instance (try again).
    asio::awaitable<int> decide(std::string run_id, std::string task_id, std::string type, bool ok, json::value output,
                                std::string error) {
        RunPtr r;
        {
            std::lock_guard lk(runs_m);
            auto it = runs.find(run_id);
            if (it != runs.end()) r = it->second;
        }
        if (r) {
            auto self = shared_from_this();
            std::function<int(Run&)> fn = [self, r, task_id, type, ok, output, error](Run& run) -> int {
                if (run.removed || terminal(run.status) || run.finishing) return 0;
                int k = run.def().find(task_id);
                if (k < 0) return 0;
                const auto& tt = run.def().tasks[k].type;
                bool type_ok = tt == type || (type == "subworkflow" && tt == "decompose");
                if (run.tasks[k].status != TS::waiting || !type_ok) return 0;
                run.released = false;
                auto& t = run.tasks[k];
                if (t.timer) {
                    t.timer->cancel();
                    t.timer.reset();
                }
                bool still = false;
                for (std::size_t i = 0; i < run.tasks.size(); ++i)
                    if (static_cast<int>(i) != k && run.tasks[i].status == TS::waiting) still = true;
                if (!still) run.status = RS::running;
                if (ok) self->finish_task(r, k, TS::succeeded, output, {});
                else self->finish_task(r, k, TS::failed, output, error);
                recompute_wake(run);
                return 1;
            };
            int res = co_await on_driver<int>(r, std::move(fn));
            if (res == 1 || !r->removed) co_return res;
            // Released meanwhile: decide through the database below.
        }
        long long now = now_ms();
        bool sqlite = db.backend() == DbBackend::sqlite;
        std::string status = ok ? "succeeded" : "failed";
        std::string out_text = json::serialize(output);
        std::string type2 = type == "subworkflow" ? "decompose" : type;
        auto q = [run_id, task_id, type, type2, status, out_text, error, now, sqlite](soci::session& s) -> int {
            WriteTransaction tx(s, sqlite);
            std::string run_status, owner;
            long long lease = 0;
            soci::indicator i1 = soci::i_null, i2 = soci::i_null, i3 = soci::i_null;
            s << "SELECT status, owner, lease_until FROM workflow_runs WHERE id = :id", soci::into(run_status, i1),
                soci::into(owner, i2), soci::into(lease, i3), soci::use(run_id);
            if (!s.got_data() || run_status != "waiting") return 0;
            if (!owner.empty() && lease >= now) return 2;
            soci::statement st = (s.prepare << "UPDATE workflow_tasks SET status = :st, output = :o, error = :e, finished_at = :f, "
                                               "due_at = 0 WHERE run_id = :r AND task_id = :t AND status = 'waiting' AND type IN (:ty, :ty2)",
                                  soci::use(status), soci::use(out_text), soci::use(error), soci::use(now), soci::use(run_id),
                                  soci::use(task_id), soci::use(type), soci::use(type2));
            st.execute(true);
            if (st.get_affected_rows() == 0) return 0;
            s << "UPDATE workflow_runs SET status = 'queued', owner = '', lease_until = 0, wake_at = 0, updated_at = :u "
                 "WHERE id = :id AND status = 'waiting'",
                soci::use(now), soci::use(run_id);
            tx.commit();
            return 1;
        };
        int res = co_await db.run(std::move(q));
        if (res == 1) {
            kick();
            notify_peers("");
        }
        co_return res;
    }

    // ---- subworkflows -------------------------------------------------------------------------
    // The child run is started with the idempotency key "sub:<run>:<task>:<attempt>" (so a
    // restart never starts it twice, and the child is durable). With wait (default) the task
    // waits like an approval: the child's end decides it, and a periodic check catches an end
    // whose notice was lost.
    void start_subworkflow(const RunPtr& r, int k) {
        auto& ts = r->tasks[k];
        const auto& td = r->def().tasks[k];
        const auto& cfg = ts.input.as_object();
        std::string wf_id;
        bool wait = true;
        json::value input = json::object();
        std::shared_ptr<const WorkflowVersion> plan;  // decompose: the subtasks as a one-off workflow
        std::string plan_text;
        if (td.type == "decompose") {
            json::value tasks;
            if (auto* t = td.config.as_object().if_contains("tasks"); t && !t->is_null()) tasks = *t;
            else if (auto* p = cfg.if_contains("plan"); p && !p->is_null()) tasks = *p;
            json::object doc{{"name", r->def().name + " / " + td.id}, {"execution_data", "full"}, {"tasks", tasks}};
            std::vector<FieldError> errors;
            auto def = opt.types ? parse_definition(doc, *opt.types, errors) : nullptr;
            if (!def) {
                std::string why;
                for (std::size_t i = 0; i < errors.size() && i < 5; ++i)
                    why += (i ? "; " : "") + errors[i].pointer + " " + errors[i].message;
                fail_task(r, k, "decompose: the plan is not a valid task list: " + why, false);
                return;
            }
            wf_id = "decompose:" + r->id + ":" + td.id + ":" + std::to_string(ts.attempts);
            auto v = std::make_shared<WorkflowVersion>();
            v->id = wf_id;
            v->version = 1;
            v->def = def;
            plan = v;
            plan_text = json::serialize(doc);
            json::object in{{"goal", cfg.contains("goal") ? cfg.at("goal") : json::value(nullptr)}};
            input = std::move(in);
        } else {
            auto* wid = cfg.if_contains("workflow_id");
            if (!wid || !wid->is_string() || wid->as_string().empty()) {
                fail_task(r, k, "subworkflow: workflow_id must evaluate to a workflow id", false);
                return;
            }
            wf_id = std::string(wid->as_string());
            if (auto* w = cfg.if_contains("wait"); w && w->is_bool()) wait = w->as_bool();
            if (auto* in = cfg.if_contains("input"); in && !in->is_null()) input = *in;
        }
        int depth = 1;
        const auto& trig = r->ctx.as_object().at("trigger");
        if (trig.is_object())
            if (auto* d = trig.as_object().if_contains("depth"); d && d->is_int64()) depth = static_cast<int>(d->as_int64()) + 1;
        if (depth > 8) {
            fail_task(r, k, td.type + ": nested deeper than 8 levels", false);
            return;
        }
        if (wait) {
            ts.status = TS::waiting;
            r->status = RS::waiting;
        }
        promote(r);  // the parent must survive a restart to receive the child's end
        ++r->in_flight;
        std::string key = "sub:" + r->id + ":" + r->def().tasks[k].id + ":" + std::to_string(ts.attempts);
        json::object trigger{{"type", "subworkflow"},
                             {"parent_run_id", r->id},
                             {"parent_task_id", r->def().tasks[k].id},
                             {"depth", depth},
                             {"wait", wait}};
        std::uint64_t token = ts.token;
        auto self = shared_from_this();
        auto body = [self, r, k, token, wf_id, key, trigger, input, wait, plan, plan_text]() mutable -> asio::awaitable<void> {
            std::string child_id, error;
            std::string child_status;
            try {
                std::shared_ptr<const WorkflowVersion> wf;
                if (plan) {
                    // The plan is stored as a workflow version first, so the child run can be
                    // reloaded after a restart like any other.
                    long long now = now_ms();
                    auto store = [wf_id, plan_text, now](soci::session& s) {
                        s << "INSERT INTO workflow_versions (workflow_id, version, definition, created_at) "
                             "VALUES (:w, 1, :d, :c) ON CONFLICT (workflow_id, version) DO NOTHING",
                            soci::use(wf_id), soci::use(plan_text), soci::use(now);
                    };
                    co_await self->db.run(std::move(store));
                    wf = plan;
                } else {
                    auto loader = self->current_loader;
                    auto q = [loader, wf_id](soci::session&) { return loader ? loader(wf_id) : nullptr; };
                    wf = co_await self->db.run(std::move(q));
                }
                if (!wf) {
                    error = "subworkflow: there is no workflow " + wf_id;
                } else {
                    StartRequest req;
                    req.wf = wf;
                    req.input = std::move(input);
                    req.trigger_type = "subworkflow";
                    req.trigger = std::move(trigger);
                    req.idempotency_key = key;
                    bool exists = false;
                    try {
                        auto res = co_await self->start_child(std::move(req));
                        child_id = res.id;
                        child_status = res.status;
                    } catch (const Error& e) {
                        if (e.code() != ErrorCode::conflict) throw;
                        exists = true;
                    }
                    if (exists) {
                        // Started before (a restart re-launched the task): find that child.
                        auto find = [wf_id, key](soci::session& s) {
                            std::string id;
                            soci::indicator ind = soci::i_null;
                            s << "SELECT id FROM workflow_runs WHERE workflow_id = :w AND idempotency_key = :k", soci::into(id, ind),
                                soci::use(wf_id), soci::use(key);
                            return ind == soci::i_ok ? id : std::string();
                        };
                        child_id = co_await self->db.run(std::move(find));
                        if (child_id.empty()) error = "subworkflow: the child run could not be started";
                    }
                }
            } catch (const std::exception& e) {
                error = std::string("subworkflow: ") + e.what();
            }
            self->notify(r, [self, r, k, token, child_id, child_status, error, wait](Run& run) {
                --run.in_flight;
                auto& t = run.tasks[k];
                if (t.token != token || terminal(t.status)) return;
                if (!error.empty()) {
                    if (t.status == TS::waiting) t.status = TS::running;
                    self->fail_task(r, k, error, false);
                    return;
                }
                if (!wait) {
                    self->finish_task(r, k, TS::succeeded, json::object{{"run_id", child_id}, {"status", child_status}}, {});
                    return;
                }
                t.output = json::object{{"run_id", child_id}};
                self->record_task(r, k, [self, k](Run& run2, bool) { self->publish_task(run2, k); });
            });
        };
        asio::co_spawn(io, std::move(body), asio::detached);
    }

    // When a child run ends, its parent's waiting subworkflow task is decided.
    void notify_parent(const Run& child) {
        const auto& trig = child.ctx.as_object().at("trigger");
        if (!trig.is_object()) return;
        const auto& t = trig.as_object();
        auto* type = t.if_contains("type");
        auto* pr = t.if_contains("parent_run_id");
        auto* pt = t.if_contains("parent_task_id");
        if (!type || *type != "subworkflow" || !pr || !pr->is_string() || !pt || !pt->is_string()) return;
        bool ok = child.status == RS::succeeded;
        json::object out{{"run_id", child.id}, {"status", name(child.status)}, {"output", child.output}};
        std::string error = ok ? "" : "subworkflow run " + child.id + " " + name(child.status) + ": " + child.error;
        auto self = shared_from_this();
        std::string parent(pr->as_string()), task(pt->as_string());
        auto body = [self, parent, task, ok, out, error]() -> asio::awaitable<void> {
            try {
                co_await self->decide(parent, task, "subworkflow", ok, out, error);
            } catch (const std::exception& e) {
                log::warn("workflow", "run {}: subworkflow result not applied yet: {}", parent, e.what());
            }
        };
        asio::co_spawn(io, std::move(body), asio::detached);
    }

    // Subworkflow tasks still waiting although their child has ended (a notice lost to a crash,
    // or the parent was busy elsewhere): decide them now.
    asio::awaitable<void> reconcile_subworkflows() {
        auto q = [](soci::session& s) {
            std::vector<std::tuple<std::string, std::string, std::string, std::string, std::string, std::string>> out;
            soci::rowset<soci::row> rows =
                s.prepare << "SELECT t.run_id, t.task_id, c.id, c.status, c.output, c.error FROM workflow_tasks t "
                             "JOIN workflow_runs c ON c.parent_run_id = t.run_id AND c.parent_task_id = t.task_id "
                             "WHERE t.status = 'waiting' AND t.type IN ('subworkflow', 'decompose') "
                             "AND c.status IN ('succeeded', 'failed', 'cancelled')";
            for (const auto& row : rows)
                out.emplace_back(row.get<std::string>(0), row.get<std::string>(1), row.get<std::string>(2),
                                 row.get<std::string>(3), row_text(row, 4), row_text(row, 5));
            return out;
        };
        auto rows = co_await db.run(std::move(q));
        for (auto& [parent, task, child, status, output, error] : rows) {
            boost::system::error_code ec;
            auto out_v = json::parse(output, ec);
            bool ok = status == "succeeded";
            json::object out{{"run_id", child}, {"status", status}, {"output", ec ? json::value(nullptr) : out_v}};
            co_await decide(parent, task, "subworkflow", ok, out, ok ? "" : "subworkflow run " + child + " " + status + ": " + error);
        }
    }

    void start_delay(const RunPtr& r, int k) {
        auto& ts = r->tasks[k];
        const auto& cfg = ts.input.as_object();
        double seconds = 0;
        const auto& s = cfg.at("seconds");
        if (s.is_number()) seconds = s.to_number<double>();
        else if (s.is_string()) {
            try {
                seconds = std::stod(std::string(s.as_string()));
            } catch (...) {
                fail_task(r, k, "delay: seconds must be a number, got \"" + std::string(s.as_string()) + "\"", false);
                return;
            }
        }
        if (!(seconds >= 0) || seconds > 366.0 * 86400) {
            fail_task(r, k, "delay: seconds must be between 0 and 31622400", false);
            return;
        }
        ts.status = TS::waiting;
        ts.due_at = now_ms() + static_cast<long long>(seconds * 1000);
        r->status = RS::waiting;
        recompute_wake(*r);
        promote(r);
        std::uint64_t token = ts.token;
        record_task(r, k, [this, r, k, token](Run& run, bool) {
            publish_task(run, k);
            record_run(r, [this, r, k, token](Run& run2, bool, const std::string&) {
                publish_run(run2);
                if (run2.tasks[k].token == token && run2.tasks[k].status == TS::waiting)
                    arm_wake(r, k, run2.tasks[k].due_at, token);
            });
        });
    }

    void run_respond(const RunPtr& r, int k) {
        auto& ts = r->tasks[k];
        const auto& cfg = ts.input.as_object();
        HttpResponse resp;
        resp.status = 200;
        if (auto* st = cfg.if_contains("status")) {
            long long code = 0;
            if (st->is_int64()) code = st->as_int64();
            else if (st->is_uint64()) code = static_cast<long long>(st->as_uint64());
            else if (st->is_string()) {
                try {
                    code = std::stoll(std::string(st->as_string()));
                } catch (...) {
                    code = 0;
                }
            }
            if (code < 100 || code > 599) {
                fail_task(r, k, "respond: status must be an HTTP status between 100 and 599", false);
                return;
            }
            resp.status = static_cast<int>(code);
        }
        bool has_ct = false;
        if (auto* h = cfg.if_contains("headers"); h && h->is_object()) {
            for (const auto& [key, v] : h->as_object()) {
                std::string value = v.is_string() ? std::string(v.as_string()) : json::serialize(v);
                if (value.find_first_of("\r\n") != std::string::npos || key.empty()) {
                    fail_task(r, k, "respond: header \"" + std::string(key) + "\" has an invalid value", false);
                    return;
                }
                std::string lk(key);
                std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
                if (lk == "content-type") {
                    resp.content_type = value;
                    has_ct = true;
                } else if (lk != "content-length" && lk != "connection" && lk != "transfer-encoding") {
                    resp.headers.emplace_back(std::string(key), std::move(value));
                }
            }
        }
        const json::value* body = cfg.if_contains("body");
        if (!body || body->is_null()) {
            resp.body.clear();
            if (!has_ct) resp.content_type = "text/plain; charset=utf-8";
        } else if (body->is_string()) {
            resp.body = std::string(body->as_string());
            if (!has_ct) resp.content_type = "text/plain; charset=utf-8";
        } else {
            resp.body = json::serialize(*body);
            if (!has_ct) resp.content_type = "application/json";
        }
        int status = resp.status;
        bool delivered = r->responder && r->responder->deliver(std::move(resp));
        finish_task(r, k, TS::succeeded, json::object{{"status", status}, {"delivered", delivered}}, {});
    }

    void start_map(const RunPtr& r, int k) {
        const auto& td = r->def().tasks[k];
        auto& ts = r->tasks[k];
        const auto& cfg = ts.input.as_object();
        const auto& items_v = cfg.at("items");
        if (!items_v.is_array()) {
            fail_task(r, k, "map: items must evaluate to an array", false);
            return;
        }
        int conc = 10;
        if (auto* c = cfg.if_contains("concurrency"); c && c->is_int64()) conc = static_cast<int>(c->as_int64());
        struct MapState {
            json::array items;
            std::vector<json::value> results;
            std::vector<std::string> errors;
            std::atomic<std::size_t> next{0};
            std::atomic<int> workers{0};
            json::value ctx;
        };
        auto st = std::make_shared<MapState>();
        st->items = items_v.as_array();
        st->results.resize(st->items.size());
        st->errors.resize(st->items.size());
        st->ctx = r->ctx;
        auto inner = td.map_task;
        std::uint64_t token = ts.token;
        ++r->in_flight;
        long long deadline = attempt_deadline(*r, k);
        if (deadline > 0) arm_timeout(r, k, token, deadline);
        auto self = shared_from_this();
        int n_workers = std::max(1, std::min<int>(conc, static_cast<int>(st->items.size())));
        if (st->items.empty()) {
            --r->in_flight;
            complete(r, k, TaskOutcome::success(json::array()));
            return;
        }
        st->workers = n_workers;
        auto run_id = r->id;
        for (int w = 0; w < n_workers; ++w) {
            auto body = [self, r, k, st, inner, token, run_id, deadline]() -> asio::awaitable<void> {
                for (;;) {
                    std::size_t i = st->next.fetch_add(1);
                    if (i >= st->items.size()) break;
                    json::value index = static_cast<std::int64_t>(i);
                    OverlayScope scope(st->ctx.as_object(), st->items[i], index);
                    json::value config;
                    try {
                        config = inner->config_template.eval(scope);
                    } catch (const expr::ExprError& e) {
                        st->errors[i] = std::string("config: ") + e.what();
                        continue;
                    }
                    std::string task_id = inner->id + "[" + std::to_string(i) + "]";
                    json::value item_ctx = st->ctx;
                    item_ctx.as_object()["item"] = st->items[i];
                    item_ctx.as_object()["index"] = index;
                    TaskCall call{run_id, task_id, 1, config, item_ctx, deadline, self->io};
                    TaskType* impl = const_cast<TaskType*>(inner->impl);
                    TaskOutcome out;
                    try {
                        if (impl->synchronous()) out = impl->run_sync(call);
                        else out = co_await impl->run(call);
                    } catch (const std::exception& e) {
                        out = TaskOutcome::failure(std::string("executor error: ") + e.what());
                    }
                    if (out.ok) st->results[i] = std::move(out.output);
                    else st->errors[i] = out.error;
                }
                if (--st->workers == 0) {
                    self->notify(r, [self, r, k, st, token](Run& run) {
                        --run.in_flight;
                        if (run.tasks[k].token != token || run.tasks[k].status != TS::running) return;
                        for (std::size_t i = 0; i < st->errors.size(); ++i)
                            if (!st->errors[i].empty()) {
                                auto o = TaskOutcome::failure("item " + std::to_string(i) + ": " + st->errors[i]);
                                self->complete(r, k, std::move(o));
                                return;
                            }
                        json::array out;
                        for (auto& v : st->results) out.push_back(std::move(v));
                        self->complete(r, k, TaskOutcome::success(std::move(out)));
                    });
                }
            };
            asio::co_spawn(io, std::move(body), asio::detached);
        }
    }

    // ---- run lifecycle -------------------------------------------------------------------------

    void fail_run(const RunPtr& r, std::string error) {
        if (terminal(r->status) || r->finishing) return;
        r->error = std::move(error);
        stop_tasks(r);
        if (!r->durable && r->def().execution_data == ExecutionData::errors) promote(r);
        finish_run(r, RS::failed, r->error);
    }

    // Cancels everything still pending or in flight (their late results are ignored).
    void stop_tasks(const RunPtr& r) {
        for (std::size_t k = 0; k < r->tasks.size(); ++k) {
            auto& ts = r->tasks[k];
            if (terminal(ts.status)) continue;
            ++ts.token;
            if (ts.timer) {
                ts.timer->cancel();
                ts.timer.reset();
            }
            bool started = ts.status != TS::pending;
            ts.status = TS::cancelled;
            if (started) {
                ts.finished_at = now_ms();
                record_task(r, static_cast<int>(k), [this, k](Run& run, bool) { publish_task(run, static_cast<int>(k)); });
            }
        }
    }

    void finish_run(const RunPtr& r, RS status, std::string error) {
        if (r->finishing || terminal(r->status)) return;
        r->finishing = true;
        if (r->deadline_timer) r->deadline_timer->cancel();
        auto final_status = status;
        r->error = std::move(error);
        r->finished_at = now_ms();
        r->status = final_status;
        record_run(r, [this, r](Run& run, bool applied, const std::string&) {
            if (!applied && run.durable) {
                // The database already has a final state (cancelled elsewhere): keep that one.
                log::info("workflow", "run {}: already finished in the database; local result discarded", run.id);
            }
            publish_run(run);
            if (run.responder) {
                if (run.status == RS::succeeded) {
                    json::object body{{"id", run.id}, {"status", name(run.status)}, {"output", run.output}};
                    run.responder->deliver(HttpResponse::json(body, 200));
                } else {
                    HttpResponse resp;
                    resp.status = run.status == RS::cancelled ? 409 : 500;
                    resp.content_type = "application/problem+json";
                    json::object p{{"type", "about:blank"},
                                   {"title", run.status == RS::cancelled ? "Run Cancelled" : "Workflow Run Failed"},
                                   {"status", resp.status},
                                   {"detail", run.error},
                                   {"run_id", run.id}};
                    resp.body = json::serialize(p);
                    run.responder->deliver(std::move(resp));
                }
            }
            ++runs_finished;
            notify_parent(run);
            maybe_remove(r);
        });
    }

    void maybe_remove(const RunPtr& r) {
        if (r->removed || !terminal(r->status) || r->pending_writes > 0) return;
        for (const auto& t : r->tasks)
            if (t.committing) return;
        r->removed = true;
        std::lock_guard lk(runs_m);
        runs.erase(r->id);
    }

    void arm_run_deadline(const RunPtr& r) {
        if (r->deadline_at <= 0) return;
        auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(std::max(0LL, r->deadline_at - now_ms())));
        r->deadline_timer = timer;
        auto self = shared_from_this();
        timer->async_wait([self, r, timer](boost::system::error_code ec) {
            if (ec) return;
            self->notify(r, [self, r](Run&) {
                self->fail_run(r, "the run timed out after " + std::to_string(r->def().timeout_ms) + " ms");
            });
        });
    }

    RunPtr make_run(std::shared_ptr<const WorkflowVersion> wf) {
        auto r = std::make_shared<Run>();
        r->wf = std::move(wf);
        r->tasks.resize(r->def().tasks.size());
        return r;
    }

    void init_ctx(Run& r, const json::value& input, const json::object& trigger) {
        r.ctx = json::object{{"input", input},
                             {"trigger", trigger},
                             {"tasks", json::object()},
                             {"run", json::object{{"id", r.id}, {"workflow_id", r.wf->id}, {"version", r.wf->version}}}};
    }

    void register_run(const RunPtr& r) {
        std::lock_guard lk(runs_m);
        runs[r->id] = r;
    }

    std::size_t active_count() const {
        std::lock_guard lk(runs_m);
        return runs.size();
    }

    // ---- claiming and recovery -----------------------------------------------------------------

    std::shared_ptr<const WorkflowVersion> version(const std::string& id, int v) {
        {
            std::lock_guard lk(versions_m);
            auto it = versions.find({id, v});
            if (it != versions.end()) return it->second;
        }
        auto wf = loader(id, v);
        if (wf) {
            std::lock_guard lk(versions_m);
            if (versions.size() > 1000) versions.clear();
            versions[{id, v}] = wf;
        }
        return wf;
    }

    // Claims up to `n` runs that nobody holds (queued, lease lapsed, or a due timer). Blocking.
    std::vector<std::string> claim(soci::session& s, std::size_t n) {
        long long now = now_ms(), lease = now + opt.lease_ms;
        std::string me = opt.instance_id;
        long long limit = static_cast<long long>(n);
        std::vector<std::string> ids;
        bool sqlite = db.backend() == DbBackend::sqlite;
        static constexpr const char* kClaimSqlite =
            "UPDATE workflow_runs SET owner = :me, lease_until = :lease, updated_at = :now WHERE id IN ("
            "SELECT id FROM workflow_runs WHERE status IN ('queued', 'running', 'waiting') "
            "AND (owner = '' OR lease_until < :now2) AND (status <> 'waiting' OR (wake_at > 0 AND wake_at <= :now3)) "
            "ORDER BY created_at LIMIT :n) RETURNING id";
        static constexpr const char* kClaimPg =
            "UPDATE workflow_runs SET owner = :me, lease_until = :lease, updated_at = :now WHERE id IN ("
            "SELECT id FROM workflow_runs WHERE status IN ('queued', 'running', 'waiting') "
            "AND (owner = '' OR lease_until < :now2) AND (status <> 'waiting' OR (wake_at > 0 AND wake_at <= :now3)) "
            "ORDER BY created_at LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING id";
        WriteTransaction tx(s, sqlite);
        soci::rowset<soci::row> rows = (s.prepare << (sqlite ? kClaimSqlite : kClaimPg), soci::use(me), soci::use(lease),
                                        soci::use(now), soci::use(now), soci::use(now), soci::use(limit));
        for (const auto& row : rows) ids.push_back(row.get<std::string>(0));
        tx.commit();
        return ids;
    }

    // Loads a claimed run and its task states (blocking).
    RunPtr load(soci::session& s, const std::string& id) {
        soci::rowset<soci::row> rows =
            (s.prepare << "SELECT workflow_id, version, status, trigger_type, trigger_data, input, output, error, "
                          "idempotency_key, wake_at, deadline_at, created_at, started_at FROM workflow_runs WHERE id = :id",
             soci::use(id));
        auto it = rows.begin();
        if (it == rows.end()) return nullptr;
        const auto& row = *it;
        std::string wf_id = row.get<std::string>(0);
        int v = static_cast<int>(row_int(row, 1));
        auto wf = version(wf_id, v);
        if (!wf) {
            log::error("workflow", "run {}: workflow {} version {} is missing; the run cannot resume", id, wf_id, v);
            return nullptr;
        }
        auto r = make_run(wf);
        r->id = id;
        r->durable = true;
        r->status = run_status(row.get<std::string>(2));
        r->trigger_type = row.get<std::string>(3);
        r->trigger_json = row.get<std::string>(4);
        r->input_json = row.get<std::string>(5);
        auto idem = row_text(row, 8);
        if (!idem.empty()) r->idempotency_key = idem;
        r->wake_at = row_int(row, 9);
        r->deadline_at = row_int(row, 10);
        r->created_at = row_int(row, 11);
        r->started_at = row_int(row, 12);
        boost::system::error_code ec;
        auto trig = json::parse(r->trigger_json, ec);
        auto input = json::parse(r->input_json, ec);
        init_ctx(*r, input, trig.is_object() ? trig.as_object() : json::object());
        if (trig.is_object() && r->trigger_type == "subworkflow") {
            const auto& t = trig.as_object();
            if (auto* p = t.if_contains("parent_run_id"); p && p->is_string()) r->parent_run_id = std::string(p->as_string());
            if (auto* p = t.if_contains("parent_task_id"); p && p->is_string()) r->parent_task_id = std::string(p->as_string());
            if (auto* w = t.if_contains("wait"); w && w->is_bool()) r->parent_waits = w->as_bool();
        }
        soci::rowset<soci::row> trows =
            (s.prepare << "SELECT task_id, status, attempts, input, output, error, started_at, finished_at, due_at, agent, cost "
                          "FROM workflow_tasks WHERE run_id = :id",
             soci::use(id));
        for (const auto& tr : trows) {
            int k = r->def().find(tr.get<std::string>(0));
            if (k < 0) continue;
            auto& ts = r->tasks[k];
            ts.has_row = true;
            ts.status = task_status(tr.get<std::string>(1));
            ts.attempts = static_cast<int>(row_int(tr, 2));
            ts.input = json::parse(row_text(tr, 3), ec);
            if (ec) ts.input = nullptr;
            ts.output = json::parse(row_text(tr, 4), ec);
            if (ec) ts.output = nullptr;
            ts.error = row_text(tr, 5);
            ts.started_at = row_int(tr, 6);
            ts.finished_at = row_int(tr, 7);
            ts.due_at = row_int(tr, 8);
            ts.agent = row_text(tr, 9);
            ts.cost = row_double(tr, 10);
        }
        return r;
    }

    // Continues a loaded run on this instance.
    void resume(const RunPtr& r) {
        ++runs_claimed;
        register_run(r);
        notify(r, [this, r](Run& run) {
            for (std::size_t k = 0; k < run.tasks.size(); ++k) {
                auto& ts = run.tasks[k];
                const auto& id = run.def().tasks[k].id;
                if (terminal(ts.status)) {
                    json::object entry{{"status", name(ts.status)}, {"output", ts.output}};
                    if (!ts.error.empty()) entry["error"] = ts.error;
                    run.tasks_ctx()[id] = std::move(entry);
                } else if (ts.status == TS::running) {
                    ts.status = TS::pending;  // its worker vanished: run again (next attempt number)
                } else if (ts.status == TS::retrying) {
                    arm_wake(r, static_cast<int>(k), ts.due_at, ts.token);
                } else if (ts.status == TS::waiting && run.def().tasks[k].type == "delay") {
                    arm_wake(r, static_cast<int>(k), ts.due_at, ts.token);
                } else if (ts.status == TS::waiting &&
                           (run.def().tasks[k].type == "subworkflow" || run.def().tasks[k].type == "decompose")) {
                    bool has_child = ts.output.is_object() && ts.output.as_object().contains("run_id");
                    if (!has_child) {
                        // Crashed while starting the child: start it again (same attempt, same
                        // idempotency key, so an already started child is found, not doubled).
                        ++ts.token;
                        start_subworkflow(r, static_cast<int>(k));
                    }
                } else if (ts.status == TS::waiting) {  // approval / wait_for_event
                    if (ts.due_at > 0) arm_wake(r, static_cast<int>(k), ts.due_at, ts.token);
                    if (run.def().tasks[k].type == "wait_for_event") register_wait(run.id, id, ts.input);
                }
            }
            bool was_queued = run.status == RS::queued;
            bool any_wait = false;
            for (const auto& ts : run.tasks)
                if (ts.status == TS::waiting) any_wait = true;
            run.status = any_wait ? RS::waiting : RS::running;
            if (run.started_at == 0) run.started_at = now_ms();
            recompute_wake(run);
            // A failure recorded before the run's own end was (crash, or a rejection decided
            // while the run was out of memory) ends the run the same way it would have.
            for (std::size_t k = 0; k < run.tasks.size(); ++k)
                if (run.tasks[k].status == TS::failed && run.def().tasks[k].on_error == OnError::fail) {
                    fail_run(r, "task " + run.def().tasks[k].id + " failed: " + run.tasks[k].error);
                    return;
                }
            arm_run_deadline(r);
            record_run(r, [this, was_queued](Run& run2, bool, const std::string&) {
                if (was_queued) publish_run(run2);
            });
        });
    }

    asio::awaitable<void> claim_round() {
        if (stopping) co_return;
        auto active = active_count();
        if (active >= opt.max_active_runs) co_return;
        std::size_t n = std::min(opt.claim_batch, opt.max_active_runs - active);
        auto self = shared_from_this();
        auto q = [self, n](soci::session& s) {
            std::vector<RunPtr> out;
            for (const auto& id : self->claim(s, n)) {
                try {
                    if (auto r = self->load(s, id)) out.push_back(r);
                } catch (const std::exception& e) {
                    log::error("workflow", "run {}: cannot load: {}", id, e.what());
                }
            }
            return out;
        };
        auto loaded = co_await db.run(std::move(q));
        for (auto& r : loaded) resume(r);
        if (loaded.size() == n && !stopping) claim_requested = true;
    }

    asio::awaitable<void> renew_leases() {
        long long lease = now_ms() + opt.lease_ms;
        std::string me = opt.instance_id;
        auto q = [lease, me](soci::session& s) {
            s << "UPDATE workflow_runs SET lease_until = :l WHERE owner = :me AND status IN ('queued', 'running', 'waiting')",
                soci::use(lease), soci::use(me);
        };
        co_await db.run(std::move(q));
    }

    asio::awaitable<void> loop() {
        auto self = shared_from_this();
        ++loops_running;
        auto ex = co_await asio::this_coro::executor;
        long long next_renew = 0, next_checkpoint = 0, next_waits = 0;
        while (!stopping) {
            try {
                if (now_ms() >= next_renew) {
                    co_await renew_leases();
                    next_renew = now_ms() + opt.lease_ms / 3;
                }
                claim_requested = false;
                co_await claim_round();
                if (now_ms() >= next_waits) {
                    co_await refresh_waits();
                    co_await reconcile_subworkflows();
                    next_waits = now_ms() + 2000;
                }
                if (db.backend() == DbBackend::sqlite && now_ms() >= next_checkpoint) {
                    // Moves committed WAL frames into the database file without blocking writers
                    // (the writer's own connection does not auto-checkpoint).
                    auto q = [](soci::session& s) { s << "PRAGMA wal_checkpoint(PASSIVE)"; };
                    co_await db.run(std::move(q));
                    next_checkpoint = now_ms() + 500;
                }
            } catch (const std::exception& e) {
                log::warn("workflow", "claim loop: {}", e.what());
            }
            if (stopping) break;
            if (claim_requested.exchange(false)) continue;
            loop_timer = std::make_shared<asio::steady_timer>(ex, std::chrono::milliseconds(opt.poll_ms));
            auto t = loop_timer;
            boost::system::error_code ec;
            co_await t->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        --loops_running;
    }

    // ---- PostgreSQL wake-ups ----------------------------------------------------------------
    // Instances wake each other with NOTIFY arclight_workflow: an empty payload means "runs are
    // waiting to be claimed", "cancel:<run id>" asks the owner of a run to cancel it now,
    // "workflow:<id>" says a workflow definition changed (caches drop it).
    std::thread listener;
    std::function<void(const std::string&)> workflow_changed;

    void listen_loop(std::string conninfo) {
        PGconn* conn = nullptr;
        while (!stopping) {
            if (!conn || PQstatus(conn) != CONNECTION_OK) {
                if (conn) PQfinish(conn);
                conn = PQconnectdb(conninfo.c_str());
                if (PQstatus(conn) != CONNECTION_OK) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(500));
                    continue;
                }
                PGresult* res = PQexec(conn, "LISTEN arclight_workflow");
                PQclear(res);
            }
            pollfd p{PQsocket(conn), POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) continue;
            if (!PQconsumeInput(conn)) continue;
            while (PGnotify* n = PQnotifies(conn)) {
                std::string payload = n->extra ? n->extra : "";
                PQfreemem(n);
                if (payload.rfind("cancel:", 0) == 0) cancel_local(payload.substr(7));
                else if (payload.rfind("workflow:", 0) == 0) {
                    if (workflow_changed) workflow_changed(payload.substr(9));
                } else kick();
            }
        }
        if (conn) PQfinish(conn);
    }

    void cancel_local(const std::string& id) {
        RunPtr r;
        {
            std::lock_guard lk(runs_m);
            auto it = runs.find(id);
            if (it == runs.end()) return;
            r = it->second;
        }
        notify_async(r, [this, r](Run& run) {
            if (terminal(run.status) || run.finishing) return;
            stop_tasks(r);
            finish_run(r, RS::cancelled, "cancelled");
        });
    }

    // Tells the other instances (PostgreSQL only).
    void notify_peers(std::string payload) {
        if (db.backend() != DbBackend::postgres) return;
        auto self = shared_from_this();
        auto body = [self, payload = std::move(payload)]() -> asio::awaitable<void> {
            auto q = [payload](soci::session& s) { s << "SELECT pg_notify('arclight_workflow', :p)", soci::use(payload); };
            try {
                co_await self->db.run(std::move(q));
            } catch (const std::exception& e) {
                log::warn("workflow", "NOTIFY failed: {}", e.what());
            }
        };
        asio::co_spawn(io, std::move(body), asio::detached);
    }

    // Runs `fn` on the run's driver and resumes the caller with its result.
    template <class T>
    asio::awaitable<T> on_driver(RunPtr r, std::function<T(Run&)> fn) {
        auto self = shared_from_this();
        auto init = [self, r, fn = std::move(fn)](auto handler) mutable {
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            self->notify_async(r, [h, fn = std::move(fn)](Run& run) {
                auto result = std::make_shared<T>(fn(run));
                auto ex = asio::get_associated_executor(*h);
                asio::post(ex, [h, result]() mutable { (*h)(std::move(*result)); });
            });
        };
        co_return co_await asio::async_initiate<const asio::use_awaitable_t<>, void(T)>(std::move(init), asio::use_awaitable);
    }

    void kick() {
        claim_requested = true;
        if (auto t = loop_timer) asio::post(io, [t] { t->cancel(); });
    }
};

// ------------------------------------------------------------------------------------------------
// Engine
// ------------------------------------------------------------------------------------------------

Engine::Engine(Db& db, EventBus& bus, asio::any_io_executor io, asio::any_io_executor blocking, EngineOptions options,
               VersionLoader loader)
    : impl_(std::make_shared<Impl>(db, bus, std::move(io), std::move(blocking), std::move(options), std::move(loader))) {
    impl_->start_child = [this](StartRequest req) -> asio::awaitable<StartResult> {
        auto res = co_await start_run(std::move(req));
        co_return res;
    };
}

void Engine::set_current_loader(CurrentLoader loader) { impl_->current_loader = std::move(loader); }

void Engine::set_workflow_changed_handler(std::function<void(const std::string&)> handler) {
    impl_->workflow_changed = std::move(handler);
}

void Engine::announce_workflow_change(const std::string& id) { impl_->notify_peers("workflow:" + id); }

Engine::~Engine() {
    impl_->stopping = true;
    if (impl_->listener.joinable()) impl_->listener.join();
    for (auto& w : impl_->writers) w->stop();
}

void Engine::start() {
    for (auto& w : impl_->writers) w->start();
    if (impl_->db.backend() == DbBackend::sqlite && impl_->opt.sqlite_single_instance) {
        // One process per SQLite file: whatever an earlier process owned is ours to resume now.
        std::string me = impl_->opt.instance_id;
        impl_->db.with_session([&](soci::session& s) {
            s << "UPDATE workflow_runs SET owner = '', lease_until = 0 WHERE owner <> :me AND status IN ('queued', 'running', 'waiting')",
                soci::use(me);
        });
    }
    auto self = impl_;
    auto body = [self]() -> asio::awaitable<void> { co_await self->loop(); };
    asio::co_spawn(impl_->io, std::move(body), asio::detached);
    if (impl_->db.backend() == DbBackend::postgres) {
        auto conninfo = parse_db_url(impl_->db.url()).target;
        impl_->listener = std::thread([self, conninfo] { self->listen_loop(conninfo); });
    }
}

void Engine::stop(std::chrono::steady_clock::time_point deadline) {
    impl_->stopping = true;
    impl_->kick();
    if (impl_->listener.joinable()) impl_->listener.join();
    while (impl_->loops_running > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    {
        std::lock_guard lk(impl_->waits_m);
        impl_->waits.clear();
    }
    for (auto& w : impl_->writers) w->stop();
    // Hand this instance's runs to the others (or to the next start) right away.
    try {
        std::string me = impl_->opt.instance_id;
        impl_->db.with_session([&](soci::session& s) {
            s << "UPDATE workflow_runs SET owner = '', lease_until = 0 WHERE owner = :me AND status IN ('queued', 'running', 'waiting')",
                soci::use(me);
            if (impl_->db.backend() == DbBackend::postgres) s << "SELECT pg_notify('arclight_workflow', '')";
        });
    } catch (const std::exception& e) {
        log::warn("workflow", "could not release run leases: {}", e.what());
    }
    std::vector<RunPtr> left;
    {
        std::lock_guard lk(impl_->runs_m);
        for (auto& [id, r] : impl_->runs) left.push_back(r);
        impl_->runs.clear();
    }
    for (auto& r : left) {
        std::lock_guard lk(r->m);
        for (auto& t : r->tasks)
            if (t.timer) t.timer->cancel();
        if (r->deadline_timer) r->deadline_timer->cancel();
    }
}

asio::awaitable<StartResult> Engine::start_run(StartRequest req) {
    auto& I = *impl_;
    if (I.stopping) throw Error(ErrorCode::service_unavailable, "the server is shutting down");
    const auto& def = *req.wf->def;
    if (!def.input_schema.is_null()) {
        std::vector<FieldError> errs;
        jsonschema::validate_json(def.input_schema, req.input, "/input", errs);
        if (!errs.empty()) throw Error(ErrorCode::validation_failed, "the input does not match the workflow's input_schema", errs);
    }
    auto r = I.make_run(req.wf);
    r->id = new_uuid();
    r->trigger_type = req.trigger_type;
    r->idempotency_key = req.idempotency_key;
    r->responder = req.responder;
    if (req.trigger_type == "subworkflow") {
        if (auto* p = req.trigger.if_contains("parent_run_id"); p && p->is_string()) r->parent_run_id = std::string(p->as_string());
        if (auto* p = req.trigger.if_contains("parent_task_id"); p && p->is_string()) r->parent_task_id = std::string(p->as_string());
        if (auto* w = req.trigger.if_contains("wait"); w && w->is_bool()) r->parent_waits = w->as_bool();
    }
    r->created_at = r->started_at = now_ms();
    if (def.timeout_ms > 0) r->deadline_at = r->created_at + def.timeout_ms;
    I.init_ctx(*r, req.input, req.trigger);
    r->durable = def.execution_data == ExecutionData::full || req.idempotency_key.has_value();
    r->status = RS::running;
    ++I.runs_started;
    // Back-pressure: beyond max_active_runs a durable run without a waiting HTTP caller is only
    // queued; whichever instance has room claims it.
    bool queue_only = r->durable && !r->responder && I.active_count() >= I.opt.max_active_runs;
    if (queue_only) {
        r->status = RS::queued;
        r->started_at = 0;
    }
    if (r->durable) {
        r->trigger_json = json::serialize(req.trigger);
        r->input_json = json::serialize(req.input);
        auto row = I.run_row(*r);
        if (queue_only) {
            row.owner.clear();
            row.lease_until = 0;
        }
        auto init = [&I, row = std::move(row)](auto handler) mutable {
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            auto& w = I.writer_for(row.id);
            w.insert_run(std::move(row), [h](bool, const std::string& error) {
                auto ex = asio::get_associated_executor(*h);
                asio::post(ex, [h, error]() mutable { (*h)(error); });
            });
        };
        std::string error =
            co_await asio::async_initiate<const asio::use_awaitable_t<>, void(std::string)>(std::move(init), asio::use_awaitable);
        if (!error.empty()) {
            if (req.idempotency_key) throw Error(ErrorCode::conflict, "a run with this Idempotency-Key is being created");
            throw Error(ErrorCode::service_unavailable, "the run could not be recorded");
        }
        I.publish_run(*r);
        if (queue_only) {
            I.kick();
            I.notify_peers("");
            co_return StartResult{r->id, "queued", false};
        }
    }
    // An in-memory run's trigger and input are serialized only if it is ever made durable.
    I.register_run(r);
    I.arm_run_deadline(r);
    I.notify(r, [](Run&) {});
    co_return StartResult{r->id, name(r->status), false};
}

asio::awaitable<bool> Engine::cancel(std::string run_id) {
    auto& I = *impl_;
    RunPtr r;
    {
        std::lock_guard lk(I.runs_m);
        auto it = I.runs.find(run_id);
        if (it != I.runs.end()) r = it->second;
    }
    if (r) {
        auto self = impl_;
        std::function<bool(Run&)> fn = [self, r](Run& run) {
            if (terminal(run.status) || run.finishing) return false;
            self->stop_tasks(r);
            self->finish_run(r, RS::cancelled, "cancelled");
            return true;
        };
        bool result = co_await self->on_driver<bool>(r, std::move(fn));
        if (result) co_await cancel_children(run_id);
        co_return result;
    }
    long long now = now_ms();
    auto q = [run_id, now](soci::session& s) -> std::string {
        soci::statement st = (s.prepare << "UPDATE workflow_runs SET status = 'cancelled', error = 'cancelled', finished_at = :f, "
                                           "updated_at = :u, owner = '' WHERE id = :id AND status IN ('queued', 'running', 'waiting')",
                              soci::use(now), soci::use(now), soci::use(run_id));
        st.execute(true);
        if (st.get_affected_rows() == 0) return {};
        std::string wf;
        s << "SELECT workflow_id FROM workflow_runs WHERE id = :id", soci::into(wf), soci::use(run_id);
        return wf;
    };
    std::string workflow_id = co_await I.db.run(std::move(q));
    bool changed = !workflow_id.empty();
    if (changed) {
        I.bus.publish("workflow.run.cancelled", json::object{{"run_id", run_id}, {"workflow_id", workflow_id},
                                                             {"status", "cancelled"}, {"error", "cancelled"}});
        I.notify_peers("cancel:" + run_id);  // the owner stops its tasks now
        co_await cancel_children(run_id);
    }
    co_return changed;
}

// The unfinished child runs a cancelled run was waiting for (subworkflow and decompose tasks;
// not fire-and-forget children started with "wait": false) are cancelled too, and theirs in turn.
asio::awaitable<void> Engine::cancel_children(std::string run_id) {
    auto& I = *impl_;
    auto waited = [](const json::value& trigger) {
        if (!trigger.is_object()) return true;
        auto* w = trigger.as_object().if_contains("wait");
        return !(w && w->is_bool() && !w->as_bool());
    };
    std::vector<std::string> children;
    {
        std::lock_guard lk(I.runs_m);
        for (const auto& [id, r] : I.runs)
            if (r->parent_run_id == run_id && r->parent_waits) children.push_back(id);
    }
    auto q = [run_id, waited](soci::session& s) {
        std::vector<std::string> ids;
        soci::rowset<soci::row> rows = (s.prepare << "SELECT id, trigger_data FROM workflow_runs WHERE parent_run_id = :p "
                                                     "AND status IN ('queued', 'running', 'waiting')",
                                        soci::use(run_id));
        for (const auto& row : rows) {
            boost::system::error_code ec;
            auto trigger = json::parse(row_text(row, 1), ec);
            if (!ec && waited(trigger)) ids.push_back(row.get<std::string>(0));
        }
        return ids;
    };
    auto stored = co_await I.db.run(std::move(q));
    for (auto& id : stored)
        if (std::find(children.begin(), children.end(), id) == children.end()) children.push_back(std::move(id));
    for (const auto& child : children) {
        try {
            co_await cancel(child);
        } catch (const std::exception& e) {
            log::warn("workflow", "cancelling child run {} of {} failed: {}", child, run_id, e.what());
        }
    }
}

asio::awaitable<int> Engine::decide(std::string run_id, std::string task_id, std::string type, bool ok,
                                    json::value output, std::string error) {
    co_return co_await impl_->decide(std::move(run_id), std::move(task_id), std::move(type), ok, std::move(output),
                                     std::move(error));
}

asio::awaitable<bool> Engine::retry(std::string run_id) {
    auto& I = *impl_;
    long long now = now_ms();
    bool sqlite = I.db.backend() == DbBackend::sqlite;
    auto q = [run_id, now, sqlite](soci::session& s) -> std::string {
        WriteTransaction tx(s, sqlite);
        soci::statement st = (s.prepare << "UPDATE workflow_runs SET status = 'queued', error = '', output = 'null', finished_at = 0, "
                                           "owner = '', lease_until = 0, wake_at = 0, updated_at = :u WHERE id = :id AND status IN ('failed', 'cancelled')",
                              soci::use(now), soci::use(run_id));
        st.execute(true);
        if (st.get_affected_rows() == 0) return std::string();
        s << "DELETE FROM workflow_tasks WHERE run_id = :id AND status <> 'succeeded'", soci::use(run_id);
        std::string wf;
        s << "SELECT workflow_id FROM workflow_runs WHERE id = :id", soci::into(wf), soci::use(run_id);
        tx.commit();
        return wf;
    };
    std::string workflow_id = co_await I.db.run(std::move(q));
    bool ok = !workflow_id.empty();
    if (ok) {
        I.bus.publish("workflow.run.queued", json::object{{"run_id", run_id}, {"workflow_id", workflow_id}, {"status", "queued"}});
        kick();
        I.notify_peers("");
    }
    co_return ok;
}

asio::awaitable<std::optional<json::object>> Engine::live_run(std::string run_id) const {
    RunPtr r;
    {
        std::lock_guard lk(impl_->runs_m);
        auto it = impl_->runs.find(run_id);
        if (it == impl_->runs.end()) co_return std::nullopt;
        r = it->second;
    }
    std::function<json::object(Run&)> fn = [](Run& run) { return snapshot(run); };
    auto snap = co_await impl_->on_driver<json::object>(r, std::move(fn));
    co_return std::optional<json::object>(std::move(snap));
}

void Engine::kick() { impl_->kick(); }

asio::any_io_executor Engine::executor() const { return impl_->io; }

EngineStats Engine::stats() const {
    WriterStats w;
    for (auto& wr : impl_->writers) {
        auto one = wr->stats();
        w.batches += one.batches;
        w.rows += one.rows;
        w.ignored += one.ignored;
        w.errors += one.errors;
        w.commit_us += one.commit_us;
    }
    EngineStats s;
    s.runs_started = impl_->runs_started;
    s.runs_finished = impl_->runs_finished;
    s.tasks_run = impl_->tasks_run;
    s.runs_claimed = impl_->runs_claimed;
    s.batches = w.batches;
    s.rows = w.rows;
    s.ignored = w.ignored;
    s.commit_us = w.commit_us;
    s.active_runs = impl_->active_count();
    return s;
}

}  // namespace arclight::workflow
