#pragma once
// Every SQL statement of the engine outside the group-commit writer: claims, leases, recovery
// loads, decisions and cancellations of runs not in memory, and the lookups of the control
// tasks. Blocking; called through Db::run on the blocking pool (or Db::with_session).
#include "modules/workflow/writer.hpp"

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace soci {
class session;
}

namespace arclight::workflow {

class RunStore {
public:
    // ---- claims and leases ----
    /// Claims up to `n` runs nobody holds (queued, lease lapsed, or a due timer) for `me`: each
    /// claim increments the run's lease generation (fencing: the previous holder's writes are
    /// refused from now on). (run id, the generation claimed).
    static std::vector<std::pair<std::string, std::int64_t>> claim(soci::session& s, bool sqlite, const std::string& me, std::int64_t now,
                                          std::int64_t lease_until, std::size_t n);
    /// A run's row and its task rows; false when the run is absent.
    static bool load(soci::session& s, const std::string& id, RunRow& run, std::vector<TaskRow>& tasks);
    /// Extends the leases of `me`'s unfinished runs among `ids` (the runs it holds in memory:
    /// looked up by id, so dead index entries of finished runs are never read).
    static void renew_leases(soci::session& s, bool sqlite, const std::string& me, std::int64_t lease_until,
                             const std::vector<std::string>& ids);
    /// Gives up every unfinished run owned by `me` (and wakes the other instances on PostgreSQL).
    static void release_leases(soci::session& s, const std::string& me, bool notify);
    /// Gives up every unfinished run owned by anybody but `me` (SQLite: one process per file).
    static void release_others(soci::session& s, const std::string& me);
    /// SQLite: moves committed WAL frames into the database file without blocking writers.
    static void checkpoint(soci::session& s);

    // ---- runs not in memory ----
    /// Decides a waiting task of a waiting run nobody holds and queues the run. 1 applied,
    /// 0 not waiting, 2 the run is held by a live instance.
    static int decide(soci::session& s, bool sqlite, const std::string& run_id, const std::string& task_id,
                      const std::string& type, const std::string& type2, const std::string& status,
                      const std::string& output, const std::string& error, std::int64_t now);
    /// Cancels an unfinished run; its workflow id, or "" when it was not unfinished.
    static std::string cancel(soci::session& s, const std::string& run_id, std::int64_t now);
    /// Fails an unfinished run with `error` (a run that cannot be resumed); false when it was not
    /// unfinished.
    static bool fail(soci::session& s, const std::string& run_id, const std::string& error, std::int64_t now);
    /// Queues a failed / cancelled run again, dropping its unsucceeded task rows; its workflow
    /// id, or "" when it was not failed / cancelled.
    static std::string requeue(soci::session& s, bool sqlite, const std::string& run_id, std::int64_t now);
    /// Unfinished child runs of `run_id`: (id, trigger_data).
    static std::vector<std::pair<std::string, std::string>> active_children(soci::session& s, const std::string& run_id);

    // ---- control tasks ----
    struct EventWait {
        std::string run_id, task_id, input;
        std::int64_t created_at = 0;  ///< the run's: events recorded since then can decide the wait
        std::string workflow_id;
    };
    /// Waiting wait_for_event tasks of waiting runs.
    static std::vector<EventWait> event_waits(soci::session& s);
    struct EndedChild {
        std::string parent, task, child, status, output, error;
    };
    /// Waiting subworkflow / decompose tasks whose child run has ended.
    static std::vector<EndedChild> ended_children(soci::session& s);
    /// A decompose plan stored as version 1 of the one-off workflow `workflow_id` (idempotent).
    static void save_plan(soci::session& s, const std::string& workflow_id, const std::string& definition,
                          std::int64_t now);
    /// The run of `workflow_id` with idempotency key `key`, or "".
    static std::string run_by_key(soci::session& s, const std::string& workflow_id, const std::string& key);

    // ---- retention (retention.hpp) ----
    // A run may be deleted when it is final (succeeded, failed, cancelled) and finished before
    // `cutoff`, unless its parent run is not final (the parent's subworkflow / decompose task
    // still reads the child's end) or, on SQLite, it holds the largest outcome position (the next
    // position is computed from it: deleting it would let the outcome feed's positions go back).
    /// Deletes up to `limit` task rows of such runs; the number deleted.
    static std::size_t delete_expired_tasks(soci::session& s, bool sqlite, std::int64_t cutoff, std::size_t limit);
    /// Deletes up to `limit` such runs that have no task rows left; the number deleted.
    static std::size_t delete_expired_runs(soci::session& s, bool sqlite, std::int64_t cutoff, std::size_t limit);
};

}  // namespace arclight::workflow
