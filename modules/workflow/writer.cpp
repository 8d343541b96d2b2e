#include "modules/workflow/writer.hpp"

#include "core/db/db.hpp"
#include "core/log/log.hpp"

#include <soci/soci.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace arclight::workflow {
namespace {

constexpr const char* kUpsertRun =
    "INSERT INTO workflow_runs (id, workflow_id, version, status, trigger_type, trigger_data, input, output, error, "
    "idempotency_key, parent_run_id, parent_task_id, owner, lease_until, wake_at, deadline_at, created_at, started_at, "
    "finished_at, updated_at) VALUES (:id, :wf, :v, :st, :tt, :td, :in, :out, :err, :idem, :prun, :ptask, :owner, "
    ":lease, :wake, :dl, :cr, :sa, :fa, :ua) "
    "ON CONFLICT (id) DO UPDATE SET status = excluded.status, output = excluded.output, error = excluded.error, "
    "owner = excluded.owner, lease_until = excluded.lease_until, wake_at = excluded.wake_at, "
    "deadline_at = excluded.deadline_at, started_at = excluded.started_at, finished_at = excluded.finished_at, "
    "updated_at = excluded.updated_at "
    "WHERE workflow_runs.status NOT IN ('succeeded', 'failed', 'cancelled')";

// A run's first write: any conflict (only the idempotency key can clash, ids are fresh UUIDs)
// inserts nothing, which the caller learns as "not applied". A failing statement is avoided on
// purpose: SOCI 4.0's PostgreSQL backend leaks its parameter buffers when a statement fails.
constexpr const char* kInsertRun =
    "INSERT INTO workflow_runs (id, workflow_id, version, status, trigger_type, trigger_data, input, output, error, "
    "idempotency_key, parent_run_id, parent_task_id, owner, lease_until, wake_at, deadline_at, created_at, started_at, "
    "finished_at, updated_at) VALUES (:id, :wf, :v, :st, :tt, :td, :in, :out, :err, :idem, :prun, :ptask, :owner, "
    ":lease, :wake, :dl, :cr, :sa, :fa, :ua) ON CONFLICT DO NOTHING";

constexpr const char* kUpsertTask =
    "INSERT INTO workflow_tasks (run_id, task_id, type, status, attempts, input, output, error, started_at, "
    "finished_at, due_at, agent, instance) VALUES (:r, :t, :ty, :st, :a, :in, :out, :err, :sa, :fa, :due, :ag, :i) "
    "ON CONFLICT (run_id, task_id) DO UPDATE SET type = excluded.type, status = excluded.status, "
    "attempts = excluded.attempts, input = excluded.input, output = excluded.output, error = excluded.error, "
    "started_at = excluded.started_at, finished_at = excluded.finished_at, due_at = excluded.due_at, "
    "agent = excluded.agent, instance = excluded.instance "
    "WHERE workflow_tasks.status <> 'succeeded'";

bool is_constraint_violation(const std::string& what) {
    std::string w = what;
    std::transform(w.begin(), w.end(), w.begin(), ::tolower);
    return w.find("unique") != std::string::npos || w.find("duplicate key") != std::string::npos ||
           w.find("constraint") != std::string::npos;
}

}  // namespace

// The writer's session with its two prepared statements bound to `run`/`task`.
struct Writer::Session {
    std::unique_ptr<soci::session> own;
    soci::session& s;
    bool sqlite;
    RunRow run;
    soci::indicator idem_ind = soci::i_null;
    TaskRow task;
    soci::statement run_st;
    soci::statement insert_st;
    soci::statement task_st;

    explicit Session(Db& db)
        : own(db.open_dedicated()), s(*own), sqlite(db.backend() == DbBackend::sqlite), run_st(s), insert_st(s), task_st(s) {
        using soci::use;
        // The WAL is checkpointed in the background (Engine's claim loop), not inside this
        // thread's commits: a checkpoint in the commit path stalls every caller of the batch.
        if (sqlite) s << "PRAGMA wal_autocheckpoint = 0";
        run_st = (s.prepare << kUpsertRun, use(run.id), use(run.workflow_id), use(run.version), use(run.status),
                  use(run.trigger_type), use(run.trigger_data), use(run.input), use(run.output), use(run.error),
                  use(idem_str, idem_ind), use(run.parent_run_id), use(run.parent_task_id), use(run.owner),
                  use(run.lease_until), use(run.wake_at), use(run.deadline_at), use(run.created_at),
                  use(run.started_at), use(run.finished_at), use(run.updated_at));
        insert_st = (s.prepare << kInsertRun, use(run.id), use(run.workflow_id), use(run.version), use(run.status),
                     use(run.trigger_type), use(run.trigger_data), use(run.input), use(run.output), use(run.error),
                     use(idem_str, idem_ind), use(run.parent_run_id), use(run.parent_task_id), use(run.owner),
                     use(run.lease_until), use(run.wake_at), use(run.deadline_at), use(run.created_at),
                     use(run.started_at), use(run.finished_at), use(run.updated_at));
        task_st = (s.prepare << kUpsertTask, use(task.run_id), use(task.task_id), use(task.type), use(task.status),
                   use(task.attempts), use(task.input), use(task.output), use(task.error), use(task.started_at),
                   use(task.finished_at), use(task.due_at), use(task.agent), use(task.instance));
    }
    std::string idem_str;

    // Executes one op; returns whether a row changed.
    bool apply(Op& op) {
        if (op.run) {
            run = *op.run;
            if (run.idempotency_key) {
                idem_str = *run.idempotency_key;
                idem_ind = soci::i_ok;
            } else {
                idem_str.clear();
                idem_ind = soci::i_null;
            }
            auto& st = op.insert ? insert_st : run_st;
            st.execute(true);
            return st.get_affected_rows() > 0;
        }
        task = *op.task;
        task_st.execute(true);
        return task_st.get_affected_rows() > 0;
    }
};

Writer::Writer(Db& db, std::size_t max_batch) : db_(db), max_batch_(std::max<std::size_t>(1, max_batch)) {}

Writer::~Writer() { stop(); }

void Writer::start() {
    std::lock_guard lk(m_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { loop(); });
}

void Writer::stop() {
    {
        std::lock_guard lk(m_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Writer::put_run(RunRow row, Done done) {
    Op op;
    op.run = std::move(row);
    op.done = std::move(done);
    enqueue(std::move(op));
}

void Writer::insert_run(RunRow row, Done done) {
    Op op;
    op.run = std::move(row);
    op.insert = true;
    op.done = std::move(done);
    enqueue(std::move(op));
}

void Writer::put_task(TaskRow row, Done done) {
    Op op;
    op.task = std::move(row);
    op.done = std::move(done);
    enqueue(std::move(op));
}

void Writer::enqueue(Op op) {
    {
        std::lock_guard lk(m_);
        queue_.push_back(std::move(op));
    }
    cv_.notify_one();
}

WriterStats Writer::stats() const {
    std::lock_guard lk(m_);
    return stats_;
}

void Writer::loop() {
    std::unique_ptr<Session> session;
    std::vector<Op> batch;
    batch.reserve(max_batch_);
    for (;;) {
        {
            std::unique_lock lk(m_);
            cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty() && stopping_) return;
            while (!queue_.empty() && batch.size() < max_batch_) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        auto t0 = std::chrono::steady_clock::now();
        std::vector<char> applied(batch.size(), 0);
        std::vector<std::string> errors(batch.size());
        bool committed = false;
        try {
            if (!session) session = std::make_unique<Session>(db_);
            WriteTransaction tx(session->s, session->sqlite);
            for (std::size_t i = 0; i < batch.size(); ++i) applied[i] = session->apply(batch[i]);
            tx.commit();
            committed = true;
        } catch (const std::exception& e) {
            log::warn("workflow", "state batch of {} failed ({}); retrying one by one", batch.size(), e.what());
        }
        if (!committed) {
            // Isolate the failing change: each op in its own transaction. A constraint violation
            // is that op's answer; anything else (connection lost) is retried until it works or
            // the server stops, because an accepted state change must not be dropped.
            for (std::size_t i = 0; i < batch.size(); ++i) {
                for (int attempt = 0;; ++attempt) {
                    try {
                        if (!session) session = std::make_unique<Session>(db_);
                        WriteTransaction tx(session->s, session->sqlite);
                        applied[i] = session->apply(batch[i]);
                        tx.commit();
                        break;
                    } catch (const std::exception& e) {
                        std::string what = e.what();
                        if (is_constraint_violation(what)) {
                            errors[i] = what;
                            break;
                        }
                        session.reset();
                        bool stop_now;
                        {
                            std::lock_guard lk(m_);
                            stop_now = stopping_ && attempt >= 3;
                        }
                        if (stop_now) {
                            errors[i] = "database unavailable: " + what;
                            log::error("workflow", "dropping a state change at shutdown: {}", what);
                            break;
                        }
                        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 50 << std::min(attempt, 4))));
                    }
                }
            }
        }
        for (std::size_t i = 0; i < batch.size(); ++i)
            if (batch[i].insert && !applied[i] && errors[i].empty()) errors[i] = "duplicate: a run with this idempotency key exists";
        {
            std::lock_guard lk(m_);
            ++stats_.batches;
            stats_.rows += batch.size();
            stats_.commit_us += static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
            for (std::size_t i = 0; i < batch.size(); ++i) {
                if (!errors[i].empty()) ++stats_.errors;
                else if (!applied[i]) ++stats_.ignored;
            }
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (!batch[i].done) continue;
            try {
                batch[i].done(applied[i] != 0, errors[i]);
            } catch (const std::exception& e) {
                log::error("workflow", "state-change callback threw: {}", e.what());
            }
        }
        batch.clear();
    }
}

}  // namespace arclight::workflow
