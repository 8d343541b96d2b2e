#pragma once
// Persistence of run and task state through the group-commit writers: what a change writes (rows
// from rows.hpp) and where its continuation runs (the run's driver, once the change is durable).
// Private to the workflow module.
//
// Fencing: every row carries the run's lease generation (Run::lease_gen). A write the writer
// refuses for a stale generation (another instance claimed the run) runs no continuation: the
// run is dropped from this instance (Driver::lost), and so is every later answer for it.
#include "modules/workflow/driver.hpp"
#include "modules/workflow/writer.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace arclight {
class Db;
}

namespace arclight::workflow {

class Recorder {
public:
    /// One writer on SQLite (one writer is what SQLite wants), `pg_writers` on PostgreSQL, where
    /// each statement is a network round trip. A run always uses the same writer, so its changes
    /// commit in order.
    Recorder(Db& db, Driver& driver, std::string instance_id, std::int64_t lease_ms, std::size_t max_batch,
             std::size_t pg_writers);

    void start();
    /// Commits what is queued, then stops the writers; later changes are dropped.
    void stop();

    /// Writes task k's current state when the run is durable, then calls `then` on the driver
    /// (`applied` false: a final state was already recorded). A run in memory only: `then` now.
    void task(const RunPtr& r, int k, std::function<void(Run&, bool applied)> then);
    /// Queues task k's state without holding the task back (results of pure tasks are used
    /// before their row commits); `then` runs on the driver once it is durable.
    void task_behind(const RunPtr& r, int k, std::function<void(Run&)> then);
    /// The same for the run row; `error` is set when the write failed for good.
    void run(const RunPtr& r, std::function<void(Run&, bool applied, const std::string& error)> then);
    /// Makes a run held in memory durable: the run row and every task that has a state, in one batch.
    void promote(const RunPtr& r);
    /// Why a new run may not queue its first write now, or nullptr when it may: its writer already
    /// has `max_queued` changes waiting (the database is away or slow), or the database has been
    /// failing the writer's commits for longer than `away_ms` (a start would only time out: it is
    /// answered at once instead). `away_ms` 0: only the queue bound applies.
    const char* refusal(const std::string& run_id) {
        auto& w = writer_for(run_id);
        if (away_ms_ > 0 && w.failing_for_ms() > away_ms_) return "the database is unavailable; try again shortly";
        if (w.queued() >= max_queued_) return "the database is not keeping up; try again shortly";
        return nullptr;
    }
    void set_admission(std::size_t max_queued, std::int64_t away_ms) {
        max_queued_ = max_queued;
        away_ms_ = away_ms;
    }
    /// Changes waiting for the database, over all writers.
    std::size_t queued() const;
    /// The longest time any writer's commits have been failing (0: they work).
    std::int64_t failing_for_ms() const;
    /// The storage failure (SQLite disk full, read-only, I/O error) the run's writer is retrying,
    /// or "": new runs are refused at once meanwhile.
    std::string storage_failure(const std::string& run_id) { return writer_for(run_id).storage_failure(); }
    /// A new durable run's first write (docs: Writer::insert_run); `done` runs on the writer thread.
    void insert(RunRow row, Writer::Done done);

    WriterStats stats() const;

private:
    static void refused(Driver& d, const RunPtr& r, int k, const std::string& error);
    static bool dropped(Driver& d, const RunPtr& r, const WriteResult& res);
    Writer& writer_for(const std::string& run_id) {
        if (writers_.size() == 1) return *writers_[0];
        return *writers_[std::hash<std::string>{}(run_id) % writers_.size()];
    }

    Driver& driver_;
    std::string instance_;
    std::int64_t lease_ms_;
    std::size_t max_queued_ = 100000;
    std::int64_t away_ms_ = 0;
    std::vector<std::unique_ptr<Writer>> writers_;
};

}  // namespace arclight::workflow
