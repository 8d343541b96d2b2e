#pragma once
// Group commit for the engine's state changes. One writer thread owns one database session and
// commits every state change queued since its last commit in one transaction; each change's
// callback runs after its transaction is durable, so "persisted before published" costs one
// fsync per batch instead of one per change (docs/architecture.md has the figures). On
// PostgreSQL the transaction goes out in libpq pipeline mode: one round trip per batch instead of
// one per statement.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace arclight {
class Db;
}

namespace arclight::workflow {

struct RunRow {
    std::string id, workflow_id;
    int version = 0;
    std::string status, trigger_type, trigger_data = "{}", input = "null", output = "null", error;
    std::optional<std::string> idempotency_key;
    std::string parent_run_id, parent_task_id, owner;
    std::string created_by;  ///< who started the run (written by the first insert only)
    std::int64_t lease_until = 0, wake_at = 0, deadline_at = 0, created_at = 0, started_at = 0, finished_at = 0,
                 updated_at = 0;
};

struct TaskRow {
    std::string run_id, task_id, type, status;
    int attempts = 0;
    std::string input = "null", output = "null", error;
    std::int64_t started_at = 0, finished_at = 0, due_at = 0;
    std::string agent, instance;
    double cost = 0;
};

struct WriterStats {
    std::uint64_t batches = 0;
    std::uint64_t rows = 0;
    std::uint64_t ignored = 0;   ///< upserts that changed nothing (a final row already there)
    std::uint64_t errors = 0;
    std::uint64_t commit_us = 0;  ///< total time spent executing + committing batches
    /// Why the writer's last attempt failed, while it retries; empty once a commit succeeds.
    std::string failure;
    /// The failure is SQLite's disk full / read-only file / I/O error (is_transient_sqlite_error).
    bool storage_failure = false;
};

class Writer {
public:
    /// `applied` is false when the guarded upsert changed nothing (the run is already final, or
    /// the task's completion is already recorded). `error` is set when the write failed for good
    /// (a constraint violation such as a duplicate idempotency key).
    using Done = std::function<void(bool applied, const std::string& error)>;

    Writer(Db& db, std::size_t max_batch);
    ~Writer();
    void start();
    /// Commits what is queued, then stops the thread.
    void stop();

    /// Insert or update a run; never overwrites a run that is succeeded/failed/cancelled.
    void put_run(RunRow row, Done done);
    /// A run's first write. When a run with the same (workflow, idempotency key) exists nothing is
    /// written and `error` says "duplicate: ...".
    void insert_run(RunRow row, Done done);
    /// Insert or update a task; never overwrites a task recorded succeeded.
    void put_task(TaskRow row, Done done);

    WriterStats stats() const;
    /// Changes waiting to be committed.
    std::size_t queued() const;
    /// The SQLite storage failure (disk full, read-only, I/O error) the writer is retrying, or "".
    std::string storage_failure() const;

private:
    struct Op {
        std::optional<RunRow> run;
        std::optional<TaskRow> task;
        bool insert = false;
        Done done;
    };
    struct Session;
    struct SociSession;
    struct PgSession;
    std::unique_ptr<Session> open_session();
    /// A change the database refused (not text, out of range): stored instead as failed, without
    /// its data and saying why, so the run ends visibly instead of being retried forever.
    static void store_refused(Session& s, Op& op, const std::string& error, char& applied);
    void loop();
    void enqueue(Op op);
    void note_failure(const std::exception& e);
    void note_commit();

    Db& db_;
    std::size_t max_batch_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::deque<Op> queue_;
    bool stopping_ = false;
    bool stopped_ = false;  // the loop has ended: later changes are dropped
    WriterStats stats_;
    std::atomic<bool> failing_{false};  // stats_.failure is set (read without the lock by note_commit)
    std::thread thread_;
};

}  // namespace arclight::workflow
