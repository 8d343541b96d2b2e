// The run state machine: the driver, scheduling, task execution and the run's lifecycle
// (Engine::Impl). Control task types (tasks/) hook in through ControlTask; claims and recovery
// are in claims.cpp, SQL in run_store.cpp, rows in rows.cpp.
#include "modules/workflow/engine_impl.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/exec/compute_pool.hpp"
#include "core/log/log.hpp"
#include "core/time/time.hpp"
#include "core/json/text.hpp"
#include "core/util/ids.hpp"
#include "core/util/text.hpp"
#include "modules/workflow/claims.hpp"
#include "modules/workflow/events.hpp"
#include "modules/workflow/peers.hpp"
#include "modules/workflow/rows.hpp"
#include "modules/workflow/tasks/control_task.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

namespace arclight::workflow {
namespace asio = boost::asio;
namespace json = boost::json;

Engine::Impl::Impl(Db& d, EventBus& b, asio::any_io_executor i, asio::any_io_executor bl, EngineOptions o,
                   VersionLoader loader)
    : db(d),
      bus(b),
      io(std::move(i)),
      blocking(std::move(bl)),
      opt(std::move(o)),
      clock(opt.clock ? *opt.clock : system_clock()),
      driver(io, clock, opt.compute),
      recorder(d, driver, opt.instance_id, opt.lease_ms, opt.max_batch, opt.pg_writers) {
    recorder.set_admission(opt.max_queued_changes, opt.start_timeout_ms);
    claims = std::make_unique<Claims>(*this, std::move(loader));
    peers = make_peer_link(opt.relay, io);
}

Engine::Impl::~Impl() = default;

double Engine::Impl::random01() {
    std::lock_guard lk(rng_m);
    return std::uniform_real_distribution<double>(0, 1)(rng);
}

// ---- scheduling --------------------------------------------------------------------------------

namespace {
// Whether dependency `d` of a task lets it run: 1 yes, 0 not yet, -1 never (skip).
int dep_state(const Run& r, int d, int k) {
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
}  // namespace

void Engine::Impl::schedule(const RunPtr& r) {
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
        // On the compute pool, the pass's ready cpu_bound attempts run as one batch.
        if (!r->to_pool.empty() && ComputePool::on_pool_thread()) {
            run_pool_batch(r);
            progress = true;
        }
    }
    check_done(r);
    maybe_release(r);
}

// A run whose only unfinished work is waiting for something outside it (an approval, an event,
// a child run) leaves memory: its state is in the database (owner cleared, wake_at = the
// earliest wait timeout), and a decision puts it back in the queue for any instance to claim.
void Engine::Impl::maybe_release(const RunPtr& r) {
    if (terminal(r->status) || r->finishing || r->released || r->removed || r->status != RS::waiting) return;
    if (r->in_flight > 0 || !r->durable) return;
    bool external = false;
    for (std::size_t k = 0; k < r->tasks.size(); ++k) {
        const auto& t = r->tasks[k];
        if (t.committing || t.status == TS::running || t.status == TS::retrying) return;
        if (t.status == TS::waiting) {
            const auto* control = r->def().tasks[k].control;
            if (!control || !control->waits_outside()) return;
            external = true;
        }
    }
    if (!external) return;
    for (auto& t : r->tasks) t.cancel_timer();
    r->released = true;
    recompute_wake(*r);
    record_run(r, [this](Run& run, bool, const std::string&) {
        if (!run.released || run.removed) return;
        publish_run(run);
        run.removed = true;
        runs.erase(run);
    });
}

void Engine::Impl::check_done(const RunPtr& r) {
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
        if (def.tasks[k].control && def.tasks[k].control->excluded_from_output()) continue;
        sinks[def.tasks[k].id] = r->tasks[k].output;
        single = r->tasks[k].output;
        ++n;
    }
    r->output = n == 1 ? single : json::value(std::move(sinks));
    finish_run(r, RS::succeeded, {});
}

// ---- task execution ----------------------------------------------------------------------------

void Engine::Impl::launch(const RunPtr& r, int k) {
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
    if (!td.config_template.is_literal()) {
        if (auto bad = find_unstorable(input, "/config")) {
            ts.attempts = std::max(ts.attempts, 1);
            fail_task(r, k, "config: " + bad->pointer + " " + bad->problem, false);
            return;
        }
    }
    ts.input = std::move(input);
    ++ts.attempts;
    ++ts.token;
    ts.error.clear();
    if (ts.started_at == 0 || ts.attempts == 1) ts.started_at = now();
    ts.status = TS::running;
    ++tasks_run;

    if (td.control) return td.control->start(*this, r, k);

    TaskType* impl = const_cast<TaskType*>(td.impl);
    if (impl->synchronous() && !impl->side_effects()) {
        if (impl->cpu_bound() && driver.pool() && ComputePool::on_pool_thread()) {
            r->to_pool.emplace_back(k, ts.token);  // schedule() runs the pass's batch
            return;
        }
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

std::int64_t Engine::Impl::attempt_deadline(const Run& r, int k) const {
    const auto& td = r.def().tasks[k];
    std::int64_t d = td.timeout_ms > 0 ? now() + td.timeout_ms : 0;
    if (r.deadline_at > 0) d = d > 0 ? std::min(d, r.deadline_at) : r.deadline_at;
    return d;
}

void Engine::Impl::run_sync_now(const RunPtr& r, int k, TaskType* impl) {
    auto& ts = r->tasks[k];
    bool pool = impl->cpu_bound() && driver.pool();
    if (pool && ComputePool::on_pool_thread()) {
        r->to_pool.emplace_back(k, ts.token);
        run_pool_batch(r);
        return;
    }
    TaskCall call{r->id, r->def().tasks[k].id, ts.attempts, ts.input, r->ctx, attempt_deadline(*r, k), io, pool};
    TaskOutcome out;
    try {
        out = impl->run_sync(call);
    } catch (const std::exception& e) {
        out = TaskOutcome::failure(std::string("executor error: ") + e.what());
    }
    if (out.offload && pool) {
        // The attempt runs again on the compute pool; the driver moves the run there before its
        // next steps (driver.cpp), and this step takes the attempt (and any other) there.
        r->to_pool.emplace_back(k, ts.token);
        if (!r->wants_pool) {
            r->wants_pool = true;
            std::lock_guard lk(r->m);
            r->inbox.push_back([this, r](Run&) { run_pool_batch(r); });
        }
        return;
    }
    if (out.offload) out = TaskOutcome::failure("executor error: the task needs the compute pool", false);
    complete(r, k, std::move(out));
}

void Engine::Impl::run_pool_batch(const RunPtr& r) {
    auto waiting = std::move(r->to_pool);
    r->to_pool.clear();
    // Still current attempts only (a cancel or a failed run may have ended some), by type.
    std::vector<std::pair<int, std::uint64_t>> live;
    for (auto [k, token] : waiting)
        if (r->tasks[k].token == token && r->tasks[k].status == TS::running) live.emplace_back(k, token);
    std::vector<bool> done(live.size(), false);
    for (std::size_t i = 0; i < live.size(); ++i) {
        if (done[i]) continue;
        auto* impl = const_cast<TaskType*>(r->def().tasks[live[i].first].impl);
        std::vector<std::size_t> group;
        for (std::size_t j = i; j < live.size(); ++j)
            if (!done[j] && r->def().tasks[live[j].first].impl == impl) {
                group.push_back(j);
                done[j] = true;
            }
        std::vector<TaskCall> calls;
        calls.reserve(group.size());
        for (auto j : group) {
            int k = live[j].first;
            const auto& ts = r->tasks[k];
            calls.push_back(TaskCall{r->id, r->def().tasks[k].id, ts.attempts, ts.input, r->ctx, attempt_deadline(*r, k), io, false});
        }
        std::vector<const TaskCall*> ptrs;
        for (const auto& c : calls) ptrs.push_back(&c);
        std::vector<TaskOutcome> outs;
        try {
            outs = impl->run_sync_batch(ptrs);
        } catch (const std::exception& e) {
            outs.assign(calls.size(), TaskOutcome::failure(std::string("executor error: ") + e.what()));
        }
        outs.resize(calls.size(), TaskOutcome::failure("executor error: no result", false));
        for (std::size_t n = 0; n < group.size(); ++n) {
            auto [k, token] = live[group[n]];
            // An earlier result of the batch may have ended the run (and this attempt).
            if (r->tasks[k].token != token || r->tasks[k].status != TS::running) continue;
            if (outs[n].offload) outs[n] = TaskOutcome::failure("executor error: the task needs the compute pool", false);
            complete(r, k, std::move(outs[n]));
        }
    }
}

void Engine::Impl::start_async(const RunPtr& r, int k, TaskType* impl) {
    auto& ts = r->tasks[k];
    struct Frame {
        std::string run_id, task_id;
        json::value config, context;
        TaskCall call;
        Frame(std::string rid, std::string tid, json::value cfg, json::value cx, int attempt, std::int64_t dl,
              asio::any_io_executor ex)
            : run_id(std::move(rid)), task_id(std::move(tid)), config(std::move(cfg)), context(std::move(cx)),
              call{run_id, task_id, attempt, config, context, dl, std::move(ex)} {}
    };
    std::int64_t deadline = attempt_deadline(*r, k);
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

void Engine::Impl::arm_timeout(const RunPtr& r, int k, std::uint64_t token, std::int64_t deadline) {
    r->tasks[k].timer = driver.at(r, deadline, [this, r, k, token](Run& run) {
        auto& ts = run.tasks[k];
        if (ts.token != token || ts.status != TS::running) return;
        ++ts.token;  // the late result is ignored
        bool run_deadline = run.deadline_at > 0 && now() >= run.deadline_at;
        auto ms = run.def().tasks[k].timeout_ms;
        fail_task(r, k, run_deadline ? "the run timed out" : "timed out after " + std::to_string(ms) + " ms",
                        !run_deadline);
    });
}

void Engine::Impl::arm_wake(const RunPtr& r, int k, std::int64_t due, std::uint64_t token) {
    r->tasks[k].timer = driver.at(r, due, [this, r, k, token](Run& run) {
        auto& ts = run.tasks[k];
        if (ts.token != token) return;
        ts.timer.reset();
        if (ts.status == TS::retrying) {
            ts.status = TS::pending;  // schedule() launches the next attempt
        } else if (ts.status == TS::waiting) {
            if (const auto* control = run.def().tasks[k].control) control->on_due(*this, r, k);
        }
    });
}

void Engine::Impl::complete(const RunPtr& r, int k, TaskOutcome out) {
    auto& ts = r->tasks[k];
    if (!out.agent.empty()) ts.agent = out.agent;
    ts.cost += out.cost;  // every attempt's cost counts
    ts.cancel_timer();
    if (out.ok) {
        finish_task(r, k, TS::succeeded, std::move(out.output), {});
    } else {
        if (!out.output.is_null()) ts.output = std::move(out.output);
        fail_task(r, k, out.error, out.retryable);
    }
}

void Engine::Impl::fail_task(const RunPtr& r, int k, std::string error, bool retryable) {
    auto& ts = r->tasks[k];
    const auto& td = r->def().tasks[k];
    if (retryable && ts.attempts < td.retry.max_attempts && !(r->deadline_at > 0 && now() >= r->deadline_at)) {
        ts.status = TS::retrying;
        ts.error = std::move(error);
        ts.due_at = now() + td.retry.delay_before(ts.attempts + 1, random01());
        promote(r);  // a sleeping run is durable first
        record_task(r, k, [this, r, k](Run& run, bool) {
            publish_task(run, k);
            arm_wake(r, k, run.tasks[k].due_at, run.tasks[k].token);
        });
        return;
    }
    finish_task(r, k, TS::failed, std::move(ts.output), std::move(error));
}

void Engine::Impl::finish_task(const RunPtr& r, int k, TS status, json::value output, std::string error) {
    // Only text and finite numbers can be stored: an output that is not (a script's binary string)
    // fails the task here, saying where, instead of failing in the database.
    if (auto bad = find_unstorable(output)) {
        status = TS::failed;
        error = "the output cannot be stored: " + (bad->pointer.empty() ? std::string("it") : bad->pointer) + " " +
                bad->problem + " (encode binary data, e.g. as base64)";
        output = nullptr;
    }
    // A run's context holds every task's output: one that would make it larger than
    // workflow.max_context_mb fails the task, saying so, instead of exhausting memory.
    auto& ts = r->tasks[k];
    std::size_t size = output.is_null() ? 0 : json_size(output);
    if (size > ts.output_size && r->context_size - ts.output_size + size > opt.max_context_bytes) {
        status = TS::failed;
        error = "the output (about " + std::to_string(size >> 10) + " KiB) would make the run's context larger than " +
                "workflow.max_context_mb (" + std::to_string(opt.max_context_bytes >> 20) + " MiB)";
        output = nullptr;
        size = 0;
    }
    r->context_size = r->context_size - ts.output_size + size;
    ts.output_size = size;
    error = to_storable_text(error);
    ts.status = status;
    ts.output = std::move(output);
    ts.error = std::move(error);
    ts.finished_at = now();
    ts.due_at = 0;
    ts.cancel_timer();
    if (status == TS::skipped && ts.attempts == 0) ts.started_at = 0;
    bool failed = status == TS::failed;
    if (failed && !r->durable && r->def().execution_data == ExecutionData::errors) promote(r);
    const auto& td = r->def().tasks[k];
    // Results of pure tasks (no effect outside the run: script, set, condition, respond, a
    // skip) are visible to dependents at once; their row is committed in the next batch
    // and their event published after that. A crash before the commit re-runs them, which
    // is harmless. Tasks with side effects wait for their completion to be durable.
    bool pure = status == TS::skipped || (td.control && td.control->pure()) || (td.impl && !td.impl->side_effects());
    auto apply = [this, r, k, failed](Run& run) {
        run.tasks_ctx()[run.def().tasks[k].id] = task_context_entry(run.tasks[k]);
        if (failed && run.def().tasks[k].on_error == OnError::fail)
            fail_run(r, "task " + run.def().tasks[k].id + " failed: " + run.tasks[k].error);
    };
    if (!r->durable) {
        apply(*r);
        publish_task(*r, k);
        return;
    }
    if (pure) {
        // The row is queued before apply() may queue the run's final state: the writer
        // commits in queue order, so a finished run never lacks its tasks' rows.
        recorder.task_behind(r, k, [this, k](Run& run) { publish_task(run, k); });
        apply(*r);
        return;
    }
    record_task(r, k, [this, k, apply](Run& run, bool applied) {
        if (!applied && run.tasks[k].status == TS::succeeded) {
            log::info("workflow", "run {} task {}: completion already recorded; this attempt's result is discarded", run.id,
                      run.def().tasks[k].id);
        }
        apply(run);
        publish_task(run, k);
    });
}

// ---- run lifecycle -----------------------------------------------------------------------------

void Engine::Impl::fail_run(const RunPtr& r, std::string error) {
    if (terminal(r->status) || r->finishing) return;
    r->error = std::move(error);
    stop_tasks(r);
    if (!r->durable && r->def().execution_data == ExecutionData::errors) promote(r);
    finish_run(r, RS::failed, r->error);
}

void Engine::Impl::stop_tasks(const RunPtr& r) {
    for (std::size_t k = 0; k < r->tasks.size(); ++k) {
        auto& ts = r->tasks[k];
        if (terminal(ts.status)) continue;
        ++ts.token;
        ts.cancel_timer();
        bool started = ts.status != TS::pending;
        ts.status = TS::cancelled;
        if (started) {
            ts.finished_at = now();
            record_task(r, static_cast<int>(k), [this, k](Run& run, bool) { publish_task(run, static_cast<int>(k)); });
        }
    }
}

namespace {
// What a synchronous webhook gets when the run ends before a respond task answered.
WebhookReply final_reply(const Run& run) {
    WebhookReply reply;
    if (run.status == RS::succeeded) {
        reply.body = json::value(json::object{{"id", run.id}, {"status", name(run.status)}, {"output", run.output}});
        return reply;
    }
    reply.status = run.status == RS::cancelled ? 409 : 500;
    reply.content_type = "application/problem+json";
    reply.body = json::value(json::object{{"type", "about:blank"},
                                          {"title", run.status == RS::cancelled ? "Run Cancelled" : "Workflow Run Failed"},
                                          {"status", reply.status},
                                          {"detail", run.error},
                                          {"run_id", run.id}});
    return reply;
}
}  // namespace

void Engine::Impl::finish_run(const RunPtr& r, RS status, std::string error) {
    if (r->finishing || terminal(r->status)) return;
    r->finishing = true;
    if (r->deadline_timer) r->deadline_timer->cancel();
    r->error = std::move(error);
    r->finished_at = now();
    r->status = status;
    // A synchronous webhook's caller: unless a respond task (or the timeout) answered, the run's
    // end answers, once it is recorded. What answered goes into the run's final row (no write
    // of its own): the run's `response`.
    // A run whose state is not stored (execution data none) builds no record of it.
    std::shared_ptr<WebhookReply> end_reply;
    if (r->responder) {
        json::object answer;
        if (r->responder->reserve()) {
            end_reply = std::make_shared<WebhookReply>(final_reply(*r));
            if (r->durable) {
                answer = reply_record(*end_reply);
                answer["source"] = "run_end";
            }
        } else if (r->durable) {
            // A respond task's answer is in its own output ({"delivered": true}), which the
            // run's view reads (fill_response): the run's row stores only the timeout's.
            answer = r->responder->answer();
            if (auto* src = answer.if_contains("source"); src && *src == "task") answer.clear();
        }
        if (!answer.empty()) r->response_json = json::serialize(answer);
    }
    record_run(r, [this, r, end_reply](Run& run, bool applied, const std::string&) {
        if (!applied && run.durable) {
            // The database already has a final state (cancelled elsewhere): keep that one.
            log::info("workflow", "run {}: already finished in the database; local result discarded", run.id);
        }
        publish_run(run);
        if (end_reply && run.responder) run.responder->deliver_reserved(std::move(*end_reply));
        ++runs_finished;
        notify_parent(*this, run);
        maybe_remove(r);
    });
}

void Engine::Impl::maybe_remove(const RunPtr& r) {
    if (r->removed || !terminal(r->status) || r->pending_writes > 0) return;
    for (const auto& t : r->tasks)
        if (t.committing) return;
    r->removed = true;
    runs.erase(*r);
}

void Engine::Impl::run_lost(const RunPtr& r) {
    if (r->lost) return;
    r->lost = true;
    log::warn("workflow", "run {}: another instance claimed it while this one held it past its lease; dropped here",
              r->id);
    for (auto& t : r->tasks) {
        ++t.token;  // in-flight results and due times are ignored
        t.cancel_timer();
    }
    if (r->deadline_timer) r->deadline_timer->cancel();
    r->removed = true;
    runs.erase(*r);
    ++runs_lost;  // counted once it is gone (a reader of the counters sees both)
}

void Engine::Impl::arm_run_deadline(const RunPtr& r) {
    if (r->deadline_at <= 0) return;
    r->deadline_timer = driver.at(r, r->deadline_at, [this, r](Run&) {
        fail_run(r, "the run timed out after " + std::to_string(r->def().timeout_ms) + " ms");
    });
}

std::size_t Engine::Impl::active_count() const { return runs.size(); }

void Engine::Impl::cancel_local(const std::string& id) {
    RunPtr r = runs.find(id);
    if (!r) return;
    notify_async(r, [this, r](Run& run) {
        if (terminal(run.status) || run.finishing) return;
        stop_tasks(r);
        finish_run(r, RS::cancelled, "cancelled");
    });
}

void Engine::Impl::on_peer_message(const std::string& payload) {
    if (payload.rfind("cancel:", 0) == 0) cancel_local(payload.substr(7));
    else if (payload.rfind("workflow:", 0) == 0) {
        if (workflow_changed) workflow_changed(payload.substr(9));
    } else kick();
}

void Engine::Impl::notify_peers(std::string payload) { peers->send(std::move(payload)); }

void Engine::Impl::kick() { claims->kick(); }

}  // namespace arclight::workflow
