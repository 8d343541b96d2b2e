#include "modules/workflow/writer.hpp"

#include "core/db/db.hpp"
#include "core/log/log.hpp"
#include "core/util/text.hpp"
#include "modules/workflow/writer_session.hpp"

#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>
#include <unordered_map>
#include <vector>

namespace arclight::workflow {
namespace {

bool is_constraint_violation(const std::string& what) {
    std::string w = what;
    std::transform(w.begin(), w.end(), w.begin(), ::tolower);
    return w.find("unique") != std::string::npos || w.find("duplicate key") != std::string::npos ||
           w.find("constraint") != std::string::npos;
}

}  // namespace

void Writer::store_refused(Session& s, Op& op, const std::string& error, char& applied) {
    auto reason = to_storable_text(error);
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
    Op degraded;
    if (op.run) {
        RunRow row = *op.run;
        bool final = row.status == "succeeded" || row.status == "failed" || row.status == "cancelled";
        if (final) row.status = "failed";
        row.output = "null";
        row.input = "null";
        row.trigger_data = "{}";
        row.response.clear();
        row.error = "the run's state could not be stored: " + reason;
        degraded.run = std::move(row);
    } else {
        TaskRow row = *op.task;
        row.status = "failed";
        row.input = "null";
        row.output = "null";
        row.error = "the task's state could not be stored: " + reason;
        degraded.task = std::move(row);
    }
    log::error("workflow", "a state change was refused by the database ({}); stored as failed", reason);
    try {
        s.commit(&degraded, 1, &applied);
    } catch (const std::exception& e) {
        log::error("workflow", "storing the refused change as failed failed too: {}", e.what());
    }
}

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
    // A change queued after the loop's last look (a timer of a run that fired while the engine was
    // stopping) can no longer commit: the run stays as last committed and is resumed from there by
    // whoever claims it next. Dropping it frees what its callback holds (the run, the engine).
    std::deque<Op> late;
    {
        std::lock_guard lk(m_);
        stopped_ = true;
        late.swap(queue_);
    }
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

std::size_t Writer::queued() const {
    std::lock_guard lk(m_);
    return queue_.size() + committing_;
}

namespace {
std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

void Writer::failing(bool now_failing) {
    if (!now_failing) {
        failing_since_ms_.store(0, std::memory_order_relaxed);
        return;
    }
    std::int64_t none = 0;
    failing_since_ms_.compare_exchange_strong(none, std::max<std::int64_t>(1, steady_ms()), std::memory_order_relaxed);
}

std::int64_t Writer::failing_for_ms() const {
    std::int64_t since = failing_since_ms_.load(std::memory_order_relaxed);
    return since == 0 ? 0 : std::max<std::int64_t>(0, steady_ms() - since);
}

void Writer::enqueue(Op op) {
    Op late;  // destroyed outside the lock
    {
        std::lock_guard lk(m_);
        if (stopped_) {
            late = std::move(op);
        } else {
            queue_.push_back(std::move(op));
        }
    }
    cv_.notify_one();
}

WriterStats Writer::stats() const {
    std::lock_guard lk(m_);
    return stats_;
}

std::string Writer::storage_failure() const {
    std::lock_guard lk(m_);
    return stats_.storage_failure ? stats_.failure : std::string();
}

void Writer::note_failure(const std::exception& e) {
    std::lock_guard lk(m_);
    failing_ = true;
    stats_.failure = e.what();
    // Also when opening a fresh session failed for that reason (outside SqliteSession::commit).
    auto* sq = dynamic_cast<const soci::sqlite3_soci_error*>(&e);
    stats_.storage_failure = dynamic_cast<const StorageFailure*>(&e) != nullptr || (sq && is_transient_sqlite_error(sq->result()));
}

void Writer::note_commit() {
    if (!failing_.load(std::memory_order_relaxed)) return;  // the common case takes no lock
    std::lock_guard lk(m_);
    failing_ = false;
    stats_.failure.clear();
    stats_.storage_failure = false;
    log::info("workflow", "the state writer commits again");
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
            committing_ = batch.size();
        }
        auto t0 = std::chrono::steady_clock::now();
        std::vector<char> applied(batch.size(), 0);
        std::vector<std::string> errors(batch.size());
        bool committed = false;
        try {
            if (!session) session = open_session();
            session->commit(batch.data(), batch.size(), applied.data());
            committed = true;
            failing(false);
            note_commit();
        } catch (const Refused& e) {
            log::warn("workflow", "state batch of {} refused ({}); retrying one by one", batch.size(), e.what());
        } catch (const std::exception& e) {
            failing(true);
            log::warn("workflow", "state batch of {} failed ({}); retrying one by one", batch.size(), e.what());
            note_failure(e);  // (a refusal is caught above)
        }
        if (!committed) {
            // Isolate the failing change: each op in its own transaction. A constraint violation
            // is that op's answer; anything else (connection lost) is retried until it works or
            // the server stops, because an accepted state change must not be dropped.
            for (std::size_t i = 0; i < batch.size(); ++i) {
                for (int attempt = 0;; ++attempt) {
                    try {
                        if (!session) session = open_session();
                        session->commit(&batch[i], 1, &applied[i]);
                        failing(false);
                        note_commit();
                        break;
                    } catch (const Refused& e) {
                        // Never retried: that would block every later change of this writer.
                        errors[i] = e.what();
                        if (!batch[i].insert) store_refused(*session, batch[i], errors[i], applied[i]);
                        break;
                    } catch (const std::exception& e) {
                        std::string what = e.what();
                        if (is_constraint_violation(what)) {
                            errors[i] = what;
                            break;
                        }
                        failing(true);
                        note_failure(e);
                        if (attempt % 10 == 0) log::warn("workflow", "a state change is not committed yet (attempt {}): {}", attempt + 1, what);
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
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (!batch[i].insert || applied[i] || !errors[i].empty()) continue;
            // Nothing inserted. Run ids are fresh, so a row with this id is this insert's own,
            // committed by an attempt whose answer was lost with its connection; otherwise the
            // idempotency key belongs to another run.
            bool ours = false;
            try {
                if (!session) session = open_session();
                ours = session->run_gen(batch[i].run->id).has_value();
            } catch (const std::exception& e) {
                session.reset();
                errors[i] = std::string("database unavailable: ") + e.what();
                continue;
            }
            if (ours) applied[i] = 1;
            else errors[i] = "duplicate: a run with this idempotency key exists";
        }
        // An update that changed nothing: the row is final, or the run's lease generation is no
        // longer the writer's (fenced). Rare, so told apart afterwards, one query per run; a
        // claim in between also means the run is no longer the writer's.
        std::vector<char> fenced(batch.size(), 0);
        std::unordered_map<std::string, std::optional<std::int64_t>> gens;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (batch[i].insert || applied[i] || !errors[i].empty()) continue;
            const std::string& run_id = batch[i].run ? batch[i].run->id : batch[i].task->run_id;
            std::int64_t mine = batch[i].run ? batch[i].run->lease_gen : batch[i].task->lease_gen;
            auto it = gens.find(run_id);
            if (it == gens.end()) {
                try {
                    if (!session) session = open_session();
                    it = gens.emplace(run_id, session->run_gen(run_id)).first;
                } catch (const std::exception& e) {
                    session.reset();
                    log::warn("workflow", "could not read the lease generation of run {}: {}", run_id, e.what());
                    continue;
                }
            }
            fenced[i] = !it->second || *it->second != mine;
        }
        {
            std::lock_guard lk(m_);
            committing_ = 0;
            ++stats_.batches;
            if (!committed) ++stats_.split;
            stats_.rows += batch.size();
            stats_.commit_us += static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
            for (std::size_t i = 0; i < batch.size(); ++i) {
                if (!errors[i].empty()) ++stats_.errors;
                else if (fenced[i]) ++stats_.fenced;
                else if (!applied[i]) ++stats_.ignored;
            }
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (!batch[i].done) continue;
            try {
                batch[i].done(WriteResult{applied[i] != 0, fenced[i] != 0, errors[i]});
            } catch (const std::exception& e) {
                log::error("workflow", "state-change callback threw: {}", e.what());
            }
        }
        batch.clear();
        if (committed && session) {
            try {
                session->after_batch();
            } catch (const std::exception& e) {
                log::warn("workflow", "state writer upkeep: {}", e.what());
            }
        }
    }
}

}  // namespace arclight::workflow
