// The public face of the engine: start, cancel, decide, retry, the live view, start/stop. The
// state machine is in machine.cpp (Engine::Impl), the rest in the rooms engine_impl.hpp lists.
#include "modules/workflow/engine.hpp"

#include "core/exec/compute_pool.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/json/schema.hpp"
#include "core/json/text.hpp"
#include "core/log/log.hpp"
#include "core/time/json.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/claims.hpp"
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/events.hpp"
#include "modules/workflow/peers.hpp"
#include "modules/workflow/rows.hpp"
#include "modules/workflow/run_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>

#include <algorithm>

namespace arclight::workflow {
namespace asio = boost::asio;
namespace json = boost::json;


Engine::Engine(Db& db, EventBus& bus, asio::any_io_executor io, asio::any_io_executor blocking, EngineOptions options,
               VersionLoader loader)
    : impl_(std::make_shared<Impl>(db, bus, std::move(io), std::move(blocking), std::move(options), std::move(loader))) {
    impl_->driver.bind(impl_);
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
    impl_->peers->stop();
    impl_->recorder.stop();
}

void Engine::start() {
    impl_->recorder.start();
    impl_->claims->take_over_stale_runs();
    auto self = impl_;
    auto body = [self]() -> asio::awaitable<void> { co_await self->claims->loop(self); };
    asio::co_spawn(impl_->io, std::move(body), asio::detached);
    Impl* core = impl_.get();  // the link is stopped before the engine goes
    impl_->peers->start([core](const std::string& payload) { core->on_peer_message(payload); });
}

void Engine::stop(std::chrono::steady_clock::time_point deadline) {
    impl_->stopping = true;
    impl_->kick();
    impl_->peers->stop();
    impl_->claims->wait_stopped(deadline);
    impl_->waits.clear();
    impl_->recorder.stop();
    impl_->claims->release_all();
    std::vector<RunPtr> left = impl_->runs.take_all();
    for (auto& r : left) {
        std::lock_guard lk(r->m);
        for (auto& t : r->tasks)
            if (t.timer) t.timer->cancel();
        if (r->deadline_timer) r->deadline_timer->cancel();
    }
}

namespace {
bool uses_compute(const Definition& def) {
    for (const auto& t : def.tasks)
        if (t.impl && t.impl->cpu_bound()) return true;
    return false;
}
}  // namespace

asio::awaitable<StartResult> Engine::start_run(StartRequest req) {
    auto& I = *impl_;
    if (I.stopping) throw Error(ErrorCode::service_unavailable, "the server is shutting down");
    const auto& def = *req.wf->def;
    if (!def.input_schema.is_null()) {
        std::vector<FieldError> errs;
        jsonschema::validate_json(def.input_schema, req.input, "/input", errs);
        if (!errs.empty()) throw Error(ErrorCode::validation_failed, "the input does not match the workflow's input_schema", errs);
    }
    // What is stored must be text: bytes that are not UTF-8 (a header, a query parameter, a
    // body) are refused here, naming where they are, instead of failing in the database.
    auto refuse = [](const UnstorableJson& bad) {
        return Error(ErrorCode::bad_request, "the run cannot be stored: " + bad.pointer + " " + bad.problem,
                     {{bad.pointer, bad.problem}});
    };
    for (const auto& [key, value] : req.trigger)
        if (auto bad = find_unstorable(value, "/trigger/" + std::string(key))) throw refuse(*bad);
    if (auto bad = find_unstorable(req.input, "/input")) throw refuse(*bad);
    // Admission: with the compute queue full, a caller that waits for a run with script tasks
    // is told to come back, instead of waiting behind the queue.
    if (req.responder && I.opt.compute && I.opt.compute->saturated() && uses_compute(def))
        throw Error(ErrorCode::service_unavailable, "the server is busy running scripts; try again shortly")
            .with_header("Retry-After", std::to_string(I.opt.compute->options().retry_after_s));
    auto r = make_run(req.wf);
    r->id = new_time_uuid();
    r->trigger_type = req.trigger_type;
    r->idempotency_key = req.idempotency_key;
    r->responder = req.responder;
    if (req.trigger_type == "subworkflow") read_parent_link(*r, req.trigger);
    r->created_by = !req.created_by.empty() || r->parent_run_id.empty() ? req.created_by : "run:" + r->parent_run_id;
    r->created_at = r->started_at = I.now();
    if (def.timeout_ms > 0) r->deadline_at = r->created_at + def.timeout_ms;
    init_context(*r, req.input, req.trigger);
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
        auto row = run_row(*r, I.opt.instance_id, I.opt.lease_ms, I.clock);
        if (queue_only) {
            row.owner.clear();
            row.lease_until = 0;
        }
        // Admission: while the run's writer cannot store anything (SQLite: disk full, read-only), a
        // new run is refused at once, saying why.
        if (auto why = I.recorder.storage_failure(row.id); !why.empty())
            throw Error(ErrorCode::service_unavailable, "the database cannot store changes (" + why + "); try again shortly")
                .with_header("Retry-After", "5");
        // Likewise with too many changes already waiting for the database (it is away or slow),
        // or while it has been failing for longer than a start would wait, a new run is refused
        // at once rather than queued without bound.
        if (const char* why = I.recorder.refusal(row.id))
            throw Error(ErrorCode::service_unavailable, why).with_header("Retry-After", "2");
        // The caller waits for the run's first commit at most start_timeout_ms; whichever of the
        // commit and the timer comes first answers.
        auto init = [&I, r, queue_only, row = std::move(row)](auto handler) mutable {
            struct Wait {
                std::atomic<bool> answered{false};
                decltype(handler) h;
                std::optional<asio::steady_timer> timer;
                explicit Wait(decltype(handler)&& hh) : h(std::move(hh)) {}
            };
            auto w = std::make_shared<Wait>(std::move(handler));
            // True when this answered the caller (false: the other side already had).
            auto answer = [w](std::string error) {
                if (w->answered.exchange(true)) return false;
                auto ex = asio::get_associated_executor(w->h);
                asio::post(ex, [w, error = std::move(error)]() mutable { w->h(std::move(error)); });
                return true;
            };
            if (I.opt.start_timeout_ms > 0) {
                w->timer.emplace(I.io, std::chrono::milliseconds(I.opt.start_timeout_ms));
                w->timer->async_wait([answer](boost::system::error_code ec) {
                    if (!ec) answer("timeout");
                });
            }
            I.recorder.insert(std::move(row), [&I, w, answer, r, queue_only](const WriteResult& res) mutable {
                bool late = !answer(res.error) && res.error.empty();
                // What this callback holds goes to an I/O thread: the caller's coroutine (and the
                // run it holds) must not be freed on the writer's thread, which it slows.
                asio::post(I.io, [&I, w = std::move(w), answer = std::move(answer), r = std::move(r), queue_only, late] {
                    if (w->timer) w->timer->cancel();
                    // Recorded after its caller was answered 503 (start timeout): the run is
                    // there, so it runs, as that answer said it might.
                    if (late && !I.stopping) {
                        r->responder.reset();  // its caller has its answer
                        I.adopt_started(r, queue_only);
                    }
                });
            });
        };
        std::string error =
            co_await asio::async_initiate<const asio::use_awaitable_t<>, void(std::string)>(std::move(init), asio::use_awaitable);
        if (error == "timeout") {
            // Not known to be recorded yet; it may still be (then it runs): retry with an
            // Idempotency-Key to be sure of one run.
            throw Error(ErrorCode::service_unavailable, "the run could not be recorded in time; try again shortly")
                .with_header("Retry-After", "2");
        }
        if (!error.empty()) {
            if (req.idempotency_key) throw Error(ErrorCode::conflict, "a run with this Idempotency-Key is being created");
            throw Error(ErrorCode::service_unavailable, "the run could not be recorded");
        }
        I.adopt_started(r, queue_only);
        co_return StartResult{r->id, queue_only ? "queued" : name(r->status), false};
    }
    // An in-memory run's trigger and input are serialized only if it is ever made durable.
    I.adopt_started(r, false);
    co_return StartResult{r->id, name(r->status), false};
}

void Engine::Impl::adopt_started(const RunPtr& r, bool queue_only) {
    if (r->durable) publish_run(*r);
    if (queue_only) {
        kick();
        notify_peers("");
        return;
    }
    runs.add(r);
    arm_run_deadline(r);
    notify(r, [](Run&) {});
}

asio::awaitable<bool> Engine::cancel(std::string run_id) {
    auto& I = *impl_;
    if (RunPtr r = I.runs.find(run_id)) {
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
    std::int64_t now = I.now();
    auto q = [run_id, now](soci::session& s) { return RunStore::cancel(s, run_id, now); };
    std::string workflow_id = co_await I.db.run(std::move(q));
    bool changed = !workflow_id.empty();
    if (changed) {
        I.bus.publish(std::string(events::kRunCancelled),
                      events::run_data({.run_id = run_id, .workflow_id = workflow_id, .status = "cancelled", .error = "cancelled"}),
                      {}, I.project_of(workflow_id));
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
    std::vector<std::string> children =
        I.runs.ids_where([&run_id](const Run& r) { return r.parent_run_id == run_id && r.parent_waits; });
    auto q = [run_id](soci::session& s) { return RunStore::active_children(s, run_id); };
    auto stored = co_await I.db.run(std::move(q));
    for (auto& [id, trigger_data] : stored) {
        boost::system::error_code ec;
        auto trigger = json::parse(trigger_data, ec);
        if (ec || !waited(trigger)) continue;
        if (std::find(children.begin(), children.end(), id) == children.end()) children.push_back(std::move(id));
    }
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

asio::awaitable<int> Engine::Impl::decide(std::string run_id, std::string task_id, std::string type, bool ok,
                                          json::value output, std::string error, bool take_back) {
    if (RunPtr r = runs.find(run_id)) {
        auto self = shared_from_this();
        std::function<int(Run&)> fn = [self, r, task_id, type, ok, output, error, take_back](Run& run) -> int {
            if (run.removed || terminal(run.status) || run.finishing) return 0;
            int k = run.def().find(task_id);
            if (k < 0) return 0;
            const auto& tt = run.def().tasks[k].type;
            bool type_ok = tt == type || (type == "subworkflow" && tt == "decompose");
            if (run.tasks[k].status != TS::waiting || !type_ok) return 0;
            if (run.released && !take_back) return 2;
            run.released = false;
            run.tasks[k].cancel_timer();
            if (!run.any_waiting(k)) run.status = RS::running;
            if (ok) self->finish_task(r, k, TS::succeeded, output, {});
            else self->finish_task(r, k, TS::failed, output, error);
            recompute_wake(run);
            return 1;
        };
        int res = co_await on_driver<int>(r, std::move(fn));
        if (res == 1 || !r->removed) co_return res;
        // Released meanwhile: decide through the database below.
    }
    std::int64_t now = clock.now_ms();
    bool sqlite = db.backend() == DbBackend::sqlite;
    std::string status = ok ? "succeeded" : "failed";
    std::string out_text = json::serialize(output);
    std::string type2 = type == "subworkflow" ? "decompose" : type;
    auto q = [run_id, task_id, type, type2, status, out_text, error, now, sqlite](soci::session& s) {
        return RunStore::decide(s, sqlite, run_id, task_id, type, type2, status, out_text, error, now);
    };
    int res = co_await db.run(std::move(q));
    if (res == 1) {
        kick();
        notify_peers("");
    }
    co_return res;
}

asio::awaitable<bool> Engine::retry(std::string run_id) {
    auto& I = *impl_;
    std::int64_t now = I.now();
    bool sqlite = I.db.backend() == DbBackend::sqlite;
    auto q = [run_id, now, sqlite](soci::session& s) { return RunStore::requeue(s, sqlite, run_id, now); };
    std::string workflow_id = co_await I.db.run(std::move(q));
    bool ok = !workflow_id.empty();
    if (ok) {
        I.bus.publish(std::string(events::kRunQueued),
                      events::run_data({.run_id = run_id, .workflow_id = workflow_id, .status = "queued"}), {},
                      I.project_of(workflow_id));
        kick();
        I.notify_peers("");
    }
    co_return ok;
}

asio::awaitable<std::optional<json::object>> Engine::live_run(std::string run_id) const {
    RunPtr r = impl_->runs.find(run_id);
    if (!r) co_return std::nullopt;
    std::function<json::object(Run&)> fn = [](Run& run) { return snapshot(run); };
    auto snap = co_await impl_->on_driver<json::object>(r, std::move(fn));
    co_return std::optional<json::object>(std::move(snap));
}

void Engine::kick() { impl_->kick(); }

asio::any_io_executor Engine::executor() const { return impl_->io; }

EngineStats Engine::stats() const {
    WriterStats w = impl_->recorder.stats();
    EngineStats s;
    s.runs_started = impl_->runs_started;
    s.runs_finished = impl_->runs_finished;
    s.tasks_run = impl_->tasks_run;
    s.runs_claimed = impl_->runs_claimed;
    s.runs_lost = impl_->runs_lost;
    s.fenced = w.fenced;
    s.batches = w.batches;
    s.rows = w.rows;
    s.ignored = w.ignored;
    s.commit_us = w.commit_us;
    s.split = w.split;
    s.active_runs = impl_->active_count();
    s.queued_changes = impl_->recorder.queued();
    s.db_failing_ms = impl_->recorder.failing_for_ms();
    s.write_failure = std::move(w.failure);
    s.storage_failure = w.storage_failure;
    return s;
}

}  // namespace arclight::workflow
