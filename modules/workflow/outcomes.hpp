#pragma once
// The durable outcome feed: finished tasks and runs in the order their final state was committed
// (WorkflowService::outcomes, GET /api/v1/workflows/outcomes). Blocking; called through Db::run.
//
// Each final write (the state writer's upserts, and the engine's direct updates for decisions and
// remote cancels) sets `outcome_seq` in the same statement:
//   SQLite      one more than the largest outcome_seq of workflow_runs and workflow_tasks. Writes
//               are serialised (one writer, BEGIN IMMEDIATE), so positions follow commit order, and
//               positions are never cleared (a retried run takes a fresh one), so they never go back.
//   PostgreSQL  the writing transaction's id, pg_current_xact_id(). Transactions commit in any
//               order, so a position alone is no safe cursor; but every transaction with an id
//               below the oldest running one (pg_snapshot_xmin of a fresh snapshot) has ended, and
//               every transaction that commits later has an id at or above it. The reader returns
//               only rows below that horizon, ordered by (outcome_seq, kind, ids): nothing can
//               appear later behind a cursor it handed out.
// Runs of execution_data none/errors that were never written are not in the feed.
#include "modules/workflow/api.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace soci {
class session;
}

namespace arclight::workflow {

/// SQL giving the next outcome position inside a statement that writes a final status.
std::string next_outcome_seq_sql(bool sqlite);
/// SQLite: the query giving the next outcome position (run inside the write transaction; the
/// workflow writer numbers a whole batch from it instead of one subquery per final row).
const char* sqlite_next_outcome_seq_query();

/// A position in the feed: (seq, kind, run id, task id).
struct OutcomeCursor {
    std::int64_t seq = 0;
    Outcome::Kind kind = Outcome::Kind::run;
    std::string run_id, task_id;
    bool start = true;  ///< before the first outcome
};

/// "" -> start; otherwise "<seq>.<r|t>.<run id>[.<task id>]". nullopt when malformed.
std::optional<OutcomeCursor> parse_outcome_cursor(std::string_view text);
std::string format_outcome_cursor(const OutcomeCursor& c);

class OutcomeStore {
public:
    explicit OutcomeStore(bool sqlite) : sqlite_(sqlite) {}
    /// At most `limit` outcomes after `after`, only below the safe horizon.
    OutcomePage read(soci::session& s, const OutcomeCursor& after, int limit);

private:
    bool sqlite_;
};

}  // namespace arclight::workflow
