#pragma once
// Persistence of run and task state through the group-commit writers: what a change writes (rows
// from rows.hpp) and where its continuation runs (the run's driver, once the change is durable).
// Private to the workflow module.
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
    /// Whether a new run may queue its first write: false when its writer already has
    /// `max_queued` changes waiting (the database is away or slow).
    bool admits(const std::string& run_id) { return writer_for(run_id).queued() < max_queued_; }
    void set_max_queued(std::size_t n) { max_queued_ = n; }
    /// The storage failure (SQLite disk full, read-only, I/O error) the run's writer is retrying,
    /// or "": new runs are refused at once meanwhile.
    std::string storage_failure(const std::string& run_id) { return writer_for(run_id).storage_failure(); }
    /// A new durable run's first write (docs: Writer::insert_run); `done` runs on the writer thread.
    void insert(RunRow row, Writer::Done done);

    WriterStats stats() const;

private:
    static void refused(Driver& d, const RunPtr& r, int k, const std::string& error);
    Writer& writer_for(const std::string& run_id) {
        if (writers_.size() == 1) return *writers_[0];
        return *writers_[std::hash<std::string>{}(run_id) % writers_.size()];
    }

    Driver& driver_;
    std::string instance_;
    std::int64_t lease_ms_;
    std::size_t max_queued_ = 100000;
    std::vector<std::unique_ptr<Writer>> writers_;
};

}  // namespace arclight::workflow
