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
    /// The lease generation the writer holds (its claim's; 0 for a run it started). An update
    /// applies only while the stored row has it (a first insert stores it).
    std::int64_t lease_gen = 0;
    /// What answered a synchronous webhook (Run::response_json); empty keeps what the row has.
    std::string response;
};

struct TaskRow {
    std::string run_id, task_id, type, status;
    int attempts = 0;
    std::string input = "null", output = "null", error;
    std::int64_t started_at = 0, finished_at = 0, due_at = 0;
    std::string agent, instance;
    double cost = 0;
    /// The run's lease generation the writer holds: the row is written only while the run's
    /// row has it.
    std::int64_t lease_gen = 0;
};

/// What became of one queued change.
struct WriteResult {
    /// The guarded upsert changed a row. False: nothing changed (the run is already final, the
    /// task's completion is already recorded, or `fenced`).
    bool applied = false;
    /// The run's lease generation in the database is no longer the writer's: another instance
    /// claimed the run since (this one stalled past its lease). Nothing was written; the writer
    /// no longer owns the run and must drop it.
    bool fenced = false;
    /// Set when the write failed for good (a constraint violation such as a duplicate
    /// idempotency key, or a value the database refuses).
    std::string error;
};

struct WriterStats {
    std::uint64_t batches = 0;
    std::uint64_t rows = 0;
    std::uint64_t ignored = 0;   ///< upserts that changed nothing (a final row already there)
    std::uint64_t fenced = 0;    ///< writes refused for a stale lease generation
    std::uint64_t errors = 0;
    std::uint64_t split = 0;     ///< batches that failed as a whole and went again change by change
    std::uint64_t commit_us = 0;  ///< total time spent executing + committing batches
    /// Why the writer's last attempt failed, while it retries; empty once a commit succeeds.
    std::string failure;
    /// The failure is SQLite's disk full / read-only file / I/O error (is_transient_sqlite_error).
    bool storage_failure = false;
};

class Writer {
public:
    /// Called on the writer's thread once the change's transaction ended (WriteResult).
    using Done = std::function<void(const WriteResult& result)>;

    Writer(Db& db, std::size_t max_batch);
    ~Writer();
    void start();
    /// Commits what is queued, then stops the thread.
    void stop();

    /// Insert or update a run; never overwrites a run that is succeeded/failed/cancelled, nor one
    /// whose lease generation is not `row.lease_gen` (fenced).
    void put_run(RunRow row, Done done);
    /// A run's first write. When a run with the same (workflow, idempotency key) exists nothing is
    /// written and `error` says "duplicate: ...".
    void insert_run(RunRow row, Done done);
    /// Insert or update a task; never overwrites a task recorded succeeded, and writes nothing
    /// while the run's lease generation is not `row.lease_gen` (fenced).
    void put_task(TaskRow row, Done done);

    WriterStats stats() const;
    /// Changes waiting to be committed, including the batch being committed now.
    std::size_t queued() const;
    /// How long the database has been failing this writer's commits (connection lost, disk full,
    /// locked): 0 once a commit works again.
    std::int64_t failing_for_ms() const;
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
    struct SqliteSession;
    struct PgSession;
    std::unique_ptr<Session> open_session();
    /// A change the database refused (not text, out of range): stored instead as failed, without
    /// its data and saying why, so the run ends visibly instead of being retried forever.
    static void store_refused(Session& s, Op& op, const std::string& error, char& applied);
    void loop();
    void enqueue(Op op);
    void failing(bool now_failing);
    void note_failure(const std::exception& e);
    void note_commit();

    Db& db_;
    std::size_t max_batch_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::deque<Op> queue_;
    std::size_t committing_ = 0;  // changes in the batch being committed
    bool stopping_ = false;
    bool stopped_ = false;  // the loop has ended: later changes are dropped
    WriterStats stats_;
    std::atomic<std::int64_t> failing_since_ms_{0};  // steady clock; 0: the last commit worked
    std::atomic<bool> failing_{false};  // stats_.failure is set (read without the lock by note_commit)
    std::thread thread_;
};

}  // namespace arclight::workflow
