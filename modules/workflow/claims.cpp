#include "modules/workflow/claims.hpp"

#include "core/json/text.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/log/log.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/events.hpp"
#include "modules/workflow/rows.hpp"
#include "modules/workflow/run_store.hpp"
#include "modules/workflow/tasks/control_task.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <soci/soci.h>

#include <thread>

namespace arclight::workflow {
namespace asio = boost::asio;

Claims::Claims(Engine::Impl& engine, Engine::VersionLoader loader) : e_(engine), loader_(std::move(loader)) {}

void Claims::take_over_stale_runs() {
    if (e_.db.backend() != DbBackend::sqlite || !e_.opt.sqlite_single_instance) return;
    std::string me = e_.opt.instance_id;
    e_.db.with_session([&](soci::session& s) { RunStore::release_others(s, me); });
}

void Claims::release_all() {
    try {
        std::string me = e_.opt.instance_id;
        bool pg = e_.db.backend() == DbBackend::postgres;
        e_.db.with_session([&](soci::session& s) { RunStore::release_leases(s, me, pg); });
    } catch (const std::exception& e) {
        log::warn("workflow", "could not release run leases: {}", e.what());
    }
}

void Claims::kick() {
    requested_ = true;
    if (auto t = timer_) asio::post(e_.io, [t] { t->cancel(); });
}

void Claims::wait_stopped(std::chrono::steady_clock::time_point deadline) const {
    while (loops_running_ > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

std::shared_ptr<const WorkflowVersion> Claims::version(soci::session& s, const std::string& id, int v) {
    {
        std::lock_guard lk(versions_m_);
        auto it = versions_.find({id, v});
        if (it != versions_.end()) return it->second;
    }
    auto wf = loader_(s, id, v);
    if (wf) {
        std::lock_guard lk(versions_m_);
        if (versions_.size() > 1000) versions_.clear();
        versions_[{id, v}] = wf;
    }
    return wf;
}

RunPtr Claims::load(soci::session& s, const std::string& id, std::vector<Unresumable>& failed) {
    RunRow row;
    std::vector<TaskRow> tasks;
    if (!RunStore::load(s, id, row, tasks)) return nullptr;
    auto wf = version(s, row.workflow_id, row.version);
    if (!wf) {
        // Missing, or it no longer compiles (a task type gone): claiming it again would fail the
        // same way forever. The run fails once, saying why.
        auto error = "workflow " + row.workflow_id + " version " + std::to_string(row.version) +
                     " is missing or no longer valid; the run cannot resume";
        log::error("workflow", "run {}: {}", id, error);
        if (RunStore::fail(s, id, error, e_.now())) failed.push_back({id, row.workflow_id, error});
        return nullptr;
    }
    return run_from_rows(std::move(wf), row, tasks);
}

void Claims::resume(const RunPtr& r) {
    auto& e = e_;
    ++e.runs_claimed;
    e.runs.add(r);
    e.notify(r, [&e, r](Run& run) {
        for (std::size_t k = 0; k < run.tasks.size(); ++k) {
            auto& ts = run.tasks[k];
            const auto& td = run.def().tasks[k];
            if (terminal(ts.status)) {
                run.tasks_ctx()[td.id] = task_context_entry(ts);
                ts.output_size = json_size(ts.output);
                run.context_size += ts.output_size;
            } else if (ts.status == TS::running) {
                ts.status = TS::pending;  // its worker vanished: run again (next attempt number)
            } else if (ts.status == TS::retrying) {
                e.arm_wake(r, static_cast<int>(k), ts.due_at, ts.token);
            } else if (ts.status == TS::waiting && td.control) {
                td.control->resume_waiting(e, r, static_cast<int>(k));
            }
        }
        bool was_queued = run.status == RS::queued;
        run.status = run.any_waiting() ? RS::waiting : RS::running;
        if (run.started_at == 0) run.started_at = e.now();
        recompute_wake(run);
        // A failure recorded before the run's own end was (crash, or a rejection decided
        // while the run was out of memory) ends the run the same way it would have.
        for (std::size_t k = 0; k < run.tasks.size(); ++k)
            if (run.tasks[k].status == TS::failed && run.def().tasks[k].on_error == OnError::fail) {
                e.fail_run(r, "task " + run.def().tasks[k].id + " failed: " + run.tasks[k].error);
                return;
            }
        e.arm_run_deadline(r);
        e.record_run(r, [&e, was_queued](Run& run2, bool, const std::string&) {
            if (was_queued) e.publish_run(run2);
        });
    });
}

asio::awaitable<void> Claims::claim_round(std::shared_ptr<Engine::Impl> self) {
    if (e_.stopping) co_return;
    auto active = e_.active_count();
    if (active >= e_.opt.max_active_runs) co_return;
    std::size_t n = std::min(e_.opt.claim_batch, e_.opt.max_active_runs - active);
    bool sqlite = e_.db.backend() == DbBackend::sqlite;
    auto q = [this, self, n, sqlite](soci::session& s) {
        std::pair<std::vector<RunPtr>, std::vector<Unresumable>> out;
        auto now = e_.now();
        auto claimed = RunStore::claim(s, sqlite, e_.opt.instance_id, now, now + e_.opt.lease_ms, n);
        for (const auto& [id, gen] : claimed) {
            try {
                if (auto r = load(s, id, out.second)) {
                    r->lease_gen = gen;
                    out.first.push_back(r);
                }
            } catch (const std::exception& e) {
                log::error("workflow", "run {}: cannot load: {}", id, e.what());
            }
        }
        return std::make_pair(std::move(out), claimed.size());
    };
    auto result = co_await e_.db.run(std::move(q));
    auto& loaded = result.first;
    std::size_t claimed = result.second;
    for (auto& r : loaded.first) resume(r);
    for (const auto& f : loaded.second)
        e_.bus.publish(std::string(events::kRunFailed),
                       events::run_data({.run_id = f.run_id, .workflow_id = f.workflow_id, .status = "failed", .error = f.error}),
                       {}, e_.project_of(f.workflow_id));
    if (claimed == n && !e_.stopping) requested_ = true;
}

asio::awaitable<void> Claims::loop(std::shared_ptr<Engine::Impl> self) {
    ++loops_running_;
    auto ex = co_await asio::this_coro::executor;
    std::int64_t next_renew = 0, next_checkpoint = 0, next_sweep = 0;
    bool sqlite = e_.db.backend() == DbBackend::sqlite;
    while (!e_.stopping) {
        try {
            if (e_.now() >= next_renew) {
                std::int64_t lease = e_.now() + e_.opt.lease_ms;
                std::string me = e_.opt.instance_id;
                std::vector<std::string> ids = e_.runs.ids_where([](const Run&) { return true; });
                auto q = [lease, me, sqlite, ids = std::move(ids)](soci::session& s) {
                    if (!ids.empty()) RunStore::renew_leases(s, sqlite, me, lease, ids);
                };
                co_await e_.db.run(std::move(q));
                next_renew = e_.now() + e_.opt.lease_ms / 3;
            }
            requested_ = false;
            co_await claim_round(self);
            if (now_ms() >= next_sweep) {
                for (const auto* t : control_tasks()) co_await t->sweep(e_);
                next_sweep = now_ms() + 2000;
            }
            if (sqlite && now_ms() >= next_checkpoint) {
                // The writer's own connection does not auto-checkpoint.
                auto q = [](soci::session& s) { RunStore::checkpoint(s); };
                co_await e_.db.run(std::move(q));
                next_checkpoint = now_ms() + 500;
            }
        } catch (const std::exception& e) {
            log::warn("workflow", "claim loop: {}", e.what());
        }
        if (e_.stopping) break;
        if (requested_.exchange(false)) continue;
        timer_ = std::make_shared<asio::steady_timer>(ex, std::chrono::milliseconds(e_.opt.poll_ms));
        auto t = timer_;
        boost::system::error_code ec;
        co_await t->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    --loops_running_;
}

}  // namespace arclight::workflow
