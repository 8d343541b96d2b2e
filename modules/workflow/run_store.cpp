#include "modules/workflow/run_store.hpp"

#include "core/db/db.hpp"
#include "core/db/row.hpp"
#include "modules/workflow/outcomes.hpp"

#include <boost/json.hpp>
#include <soci/soci.h>

namespace arclight::workflow {

std::vector<std::pair<std::string, std::int64_t>> RunStore::claim(soci::session& s, bool sqlite, const std::string& me,
                                                                   std::int64_t now, std::int64_t lease, std::size_t n) {
    auto limit = static_cast<std::int64_t>(n);
    // Claimable: unowned, or its lease has run out. An active run without an owner has
    // lease_until 0 (every write that clears the owner clears it too), so both are
    // `lease_until < now`, the range the index workflow_runs_active (status, lease_until) reads
    // (schema/workflow/0008_active_runs.sql): a run that finished within its lease is never read,
    // nor its entry left behind on PostgreSQL until the next vacuum.
    // `created_at + 0` keeps the planners off the created_at index, whose order they would
    // otherwise walk through every finished run to find the few unfinished ones (0.5 s per claim
    // at 100,000 finished runs); the found rows are sorted instead. SQLite's condition on status
    // is the index's own (schema/workflow/0012_active_runs_cheap.sqlite.sql), or the index is
    // not used.
    static constexpr const char* kClaimSqlite =
        "UPDATE workflow_runs SET owner = :me, lease_until = :lease, updated_at = :now, lease_gen = lease_gen + 1 WHERE id IN ("
        "SELECT id FROM workflow_runs WHERE (status = 'queued' OR status = 'running' OR status = 'waiting') "
        "AND lease_until < :now2 AND (status <> 'waiting' OR (wake_at > 0 AND wake_at <= :now3)) "
        "ORDER BY created_at + 0 LIMIT :n) RETURNING id, lease_gen";
    static constexpr const char* kClaimPg =
        "UPDATE workflow_runs SET owner = :me, lease_until = :lease, updated_at = :now, lease_gen = lease_gen + 1 WHERE id IN ("
        "SELECT id FROM workflow_runs WHERE status IN ('queued', 'running', 'waiting') AND lease_until < :now2 "
        "AND (status <> 'waiting' OR (wake_at > 0 AND wake_at <= :now3)) "
        "ORDER BY created_at + 0 LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING id, lease_gen";
    std::vector<std::pair<std::string, std::int64_t>> ids;
    WriteTransaction tx(s, sqlite);
    soci::rowset<soci::row> rows = (s.prepare << (sqlite ? kClaimSqlite : kClaimPg), soci::use(me), soci::use(lease),
                                    soci::use(now), soci::use(now), soci::use(now), soci::use(limit));
    for (const auto& row : rows) ids.emplace_back(row.get<std::string>(0), row_int(row, 1));
    tx.commit();
    return ids;
}

bool RunStore::load(soci::session& s, const std::string& id, RunRow& run, std::vector<TaskRow>& tasks) {
    soci::rowset<soci::row> rows =
        (s.prepare << "SELECT workflow_id, version, status, trigger_type, trigger_data, input, output, error, "
                      "idempotency_key, wake_at, deadline_at, created_at, started_at FROM workflow_runs WHERE id = :id",
         soci::use(id));
    auto it = rows.begin();
    if (it == rows.end()) return false;
    const auto& row = *it;
    run.id = id;
    run.workflow_id = row.get<std::string>(0);
    run.version = static_cast<int>(row_int(row, 1));
    run.status = row.get<std::string>(2);
    run.trigger_type = row.get<std::string>(3);
    run.trigger_data = row.get<std::string>(4);
    run.input = row.get<std::string>(5);
    auto idem = row_text(row, 8);
    if (!idem.empty()) run.idempotency_key = idem;
    run.wake_at = row_int(row, 9);
    run.deadline_at = row_int(row, 10);
    run.created_at = row_int(row, 11);
    run.started_at = row_int(row, 12);
    soci::rowset<soci::row> trows =
        (s.prepare << "SELECT task_id, status, attempts, input, output, error, started_at, finished_at, due_at, agent, cost "
                      "FROM workflow_tasks WHERE run_id = :id",
         soci::use(id));
    for (const auto& tr : trows) {
        TaskRow t;
        t.run_id = id;
        t.task_id = tr.get<std::string>(0);
        t.status = tr.get<std::string>(1);
        t.attempts = static_cast<int>(row_int(tr, 2));
        t.input = row_text(tr, 3);
        t.output = row_text(tr, 4);
        t.error = row_text(tr, 5);
        t.started_at = row_int(tr, 6);
        t.finished_at = row_int(tr, 7);
        t.due_at = row_int(tr, 8);
        t.agent = row_text(tr, 9);
        t.cost = row_double(tr, 10);
        tasks.push_back(std::move(t));
    }
    return true;
}

void RunStore::renew_leases(soci::session& s, bool sqlite, const std::string& me, std::int64_t lease,
                            const std::vector<std::string>& ids) {
    // The ids as one JSON array parameter, read by each dialect's JSON function, in slices.
    // PostgreSQL: rows locked now are passed over. Only the state writer locks a held run's row,
    // and its write extends the lease itself; waiting for it instead could deadlock (the two lock
    // the same rows in different orders: PostgreSQL breaks that after deadlock_timeout, 1 s, while
    // every run of the batch waits).
    const char* sql = sqlite ? "UPDATE workflow_runs SET lease_until = :l WHERE id IN (SELECT value FROM json_each(:ids)) "
                               "AND owner = :me AND status IN ('queued', 'running', 'waiting')"
                             : "UPDATE workflow_runs SET lease_until = :l WHERE id IN (SELECT id FROM workflow_runs "
                               "WHERE id IN (SELECT json_array_elements_text(CAST(:ids AS json))) AND owner = :me "
                               "AND status IN ('queued', 'running', 'waiting') FOR NO KEY UPDATE SKIP LOCKED)";
    constexpr std::size_t kSlice = 500;
    for (std::size_t at = 0; at < ids.size(); at += kSlice) {
        boost::json::array slice;
        for (std::size_t i = at; i < ids.size() && i < at + kSlice; ++i) slice.emplace_back(ids[i]);
        std::string text = boost::json::serialize(slice);
        s << sql, soci::use(lease), soci::use(text), soci::use(me);
    }
}

void RunStore::release_leases(soci::session& s, const std::string& me, bool notify) {
    s << "UPDATE workflow_runs SET owner = '', lease_until = 0 WHERE owner = :me AND status IN ('queued', 'running', 'waiting')",
        soci::use(me);
    if (notify) s << "SELECT pg_notify('arclight_workflow', '')";
}

void RunStore::release_others(soci::session& s, const std::string& me) {
    s << "UPDATE workflow_runs SET owner = '', lease_until = 0 WHERE owner <> :me AND status IN ('queued', 'running', 'waiting')",
        soci::use(me);
}

void RunStore::checkpoint(soci::session& s) { s << "PRAGMA wal_checkpoint(PASSIVE)"; }

int RunStore::decide(soci::session& s, bool sqlite, const std::string& run_id, const std::string& task_id,
                     const std::string& type, const std::string& type2, const std::string& status, const std::string& out_text,
                     const std::string& error, std::int64_t now) {
    WriteTransaction tx(s, sqlite);
    std::string run_status, owner;
    std::int64_t lease = 0;
    soci::indicator i1 = soci::i_null, i2 = soci::i_null, i3 = soci::i_null;
    s << "SELECT status, owner, lease_until FROM workflow_runs WHERE id = :id", soci::into(run_status, i1),
        soci::into(owner, i2), soci::into(lease, i3), soci::use(run_id);
    if (!s.got_data() || run_status != "waiting") return 0;
    if (!owner.empty() && lease >= now) return 2;
    soci::statement st = (s.prepare << "UPDATE workflow_tasks SET status = :st, output = :o, error = :e, finished_at = :f, "
                                       "due_at = 0, outcome_seq = " + next_outcome_seq_sql(sqlite) + " WHERE run_id = :r AND task_id = :t AND status = 'waiting' AND type IN (:ty, :ty2)",
                          soci::use(status), soci::use(out_text), soci::use(error), soci::use(now), soci::use(run_id),
                          soci::use(task_id), soci::use(type), soci::use(type2));
    st.execute(true);
    if (st.get_affected_rows() == 0) return 0;
    s << "UPDATE workflow_runs SET status = 'queued', owner = '', lease_until = 0, wake_at = 0, updated_at = :u "
         "WHERE id = :id AND status = 'waiting'",
        soci::use(now), soci::use(run_id);
    tx.commit();
    return 1;
}

std::string RunStore::cancel(soci::session& s, const std::string& run_id, std::int64_t now) {
    bool sqlite = s.get_backend_name() == "sqlite3";
    soci::statement st = (s.prepare << "UPDATE workflow_runs SET status = 'cancelled', error = 'cancelled', finished_at = :f, "
                                       "updated_at = :u, owner = '', outcome_seq = " + next_outcome_seq_sql(sqlite) + " WHERE id = :id AND status IN ('queued', 'running', 'waiting')",
                          soci::use(now), soci::use(now), soci::use(run_id));
    st.execute(true);
    if (st.get_affected_rows() == 0) return {};
    std::string wf;
    s << "SELECT workflow_id FROM workflow_runs WHERE id = :id", soci::into(wf), soci::use(run_id);
    return wf;
}

bool RunStore::fail(soci::session& s, const std::string& run_id, const std::string& error, std::int64_t now) {
    bool sqlite = s.get_backend_name() == "sqlite3";
    soci::statement st = (s.prepare << "UPDATE workflow_runs SET status = 'failed', error = :e, finished_at = :f, "
                                       "updated_at = :u, owner = '', lease_until = 0, wake_at = 0, outcome_seq = " +
                                           next_outcome_seq_sql(sqlite) + " WHERE id = :id AND status IN ('queued', 'running', 'waiting')",
                          soci::use(error), soci::use(now), soci::use(now), soci::use(run_id));
    st.execute(true);
    return st.get_affected_rows() > 0;
}

std::string RunStore::requeue(soci::session& s, bool sqlite, const std::string& run_id, std::int64_t now) {
    WriteTransaction tx(s, sqlite);
    // A fresh outcome position for the queued run keeps positions from going back on SQLite
    // when the task rows below are deleted (outcomes.hpp); the feed reads final rows only.
    soci::statement st = (s.prepare << "UPDATE workflow_runs SET status = 'queued', error = '', output = 'null', finished_at = 0, "
                                       "owner = '', lease_until = 0, wake_at = 0, updated_at = :u, outcome_seq = " +
                                           next_outcome_seq_sql(sqlite) + " WHERE id = :id AND status IN ('failed', 'cancelled')",
                          soci::use(now), soci::use(run_id));
    st.execute(true);
    if (st.get_affected_rows() == 0) return std::string();
    s << "DELETE FROM workflow_tasks WHERE run_id = :id AND status <> 'succeeded'", soci::use(run_id);
    std::string wf;
    s << "SELECT workflow_id FROM workflow_runs WHERE id = :id", soci::into(wf), soci::use(run_id);
    tx.commit();
    return wf;
}

std::vector<std::pair<std::string, std::string>> RunStore::active_children(soci::session& s, const std::string& run_id) {
    std::vector<std::pair<std::string, std::string>> out;
    soci::rowset<soci::row> rows = (s.prepare << "SELECT id, trigger_data FROM workflow_runs WHERE parent_run_id = :p "
                                                 "AND parent_run_id <> '' AND status IN ('queued', 'running', 'waiting')",
                                    soci::use(run_id));
    for (const auto& row : rows) out.emplace_back(row.get<std::string>(0), row_text(row, 1));
    return out;
}

std::vector<RunStore::EventWait> RunStore::event_waits(soci::session& s) {
    std::vector<EventWait> out;
    soci::rowset<soci::row> rows =
        s.prepare << "SELECT t.run_id, t.task_id, t.input, r.created_at, r.workflow_id FROM workflow_tasks t JOIN workflow_runs r "
                     "ON r.id = t.run_id WHERE t.status = 'waiting' AND t.type = 'wait_for_event' AND r.status = 'waiting'";
    for (const auto& row : rows)
        out.push_back({row.get<std::string>(0), row.get<std::string>(1), row.get<std::string>(2), row_int(row, 3),
                       row.get<std::string>(4)});
    return out;
}

std::vector<RunStore::EndedChild> RunStore::ended_children(soci::session& s) {
    std::vector<EndedChild> out;
    // CROSS JOIN: SQLite then reads the waiting tasks first (workflow_tasks_waiting) and finds
    // each one's child through workflow_runs_parent (whose predicate the `<> ''` term states),
    // instead of walking every finished run; PostgreSQL plans it as any join.
    soci::rowset<soci::row> rows =
        s.prepare << "SELECT t.run_id, t.task_id, c.id, c.status, c.output, c.error FROM workflow_tasks t "
                     "CROSS JOIN workflow_runs c WHERE c.parent_run_id = t.run_id AND c.parent_task_id = t.task_id "
                     "AND c.parent_run_id <> '' AND t.status = 'waiting' AND t.type IN ('subworkflow', 'decompose') "
                     "AND c.status IN ('succeeded', 'failed', 'cancelled')";
    for (const auto& row : rows)
        out.push_back({row.get<std::string>(0), row.get<std::string>(1), row.get<std::string>(2), row.get<std::string>(3),
                       row_text(row, 4), row_text(row, 5)});
    return out;
}

void RunStore::save_plan(soci::session& s, const std::string& workflow_id, const std::string& definition, std::int64_t now) {
    s << "INSERT INTO workflow_versions (workflow_id, version, definition, created_at) "
         "VALUES (:w, 1, :d, :c) ON CONFLICT (workflow_id, version) DO NOTHING",
        soci::use(workflow_id), soci::use(definition), soci::use(now);
}

std::string RunStore::run_by_key(soci::session& s, const std::string& workflow_id, const std::string& key) {
    std::string id;
    soci::indicator ind = soci::i_null;
    s << "SELECT id FROM workflow_runs WHERE workflow_id = :w AND idempotency_key = :k", soci::into(id, ind),
        soci::use(workflow_id), soci::use(key);
    return ind == soci::i_ok ? id : std::string();
}

namespace {

// The runs retention may delete (run_store.hpp), as alias r. created_at <= finished_at, so the
// created_at bound lets the index on created_at narrow the scan to runs old enough.
constexpr const char* kExpiredRun =
    "r.created_at < :c1 AND r.status IN ('succeeded', 'failed', 'cancelled') AND r.finished_at > 0 "
    "AND r.finished_at < :c2 AND NOT EXISTS (SELECT 1 FROM workflow_runs p WHERE p.id = r.parent_run_id "
    "AND p.status IN ('queued', 'running', 'waiting'))";
// SQLite: not the run holding the largest outcome position (:last), nor one of whose tasks does.
constexpr const char* kNotLastOutcome =
    " AND COALESCE(r.outcome_seq, 0) < :l1 AND NOT EXISTS (SELECT 1 FROM workflow_tasks k WHERE k.run_id = r.id "
    "AND k.outcome_seq >= :l2)";
constexpr const char* kDeleteExpiredTasks =
    "DELETE FROM workflow_tasks WHERE (run_id, task_id) IN (SELECT t.run_id, t.task_id FROM workflow_runs r "
    "JOIN workflow_tasks t ON t.run_id = r.id WHERE {expired} LIMIT :n)";
constexpr const char* kDeleteExpiredRuns =
    "DELETE FROM workflow_runs WHERE id IN (SELECT r.id FROM workflow_runs r WHERE {expired} "
    "AND NOT EXISTS (SELECT 1 FROM workflow_tasks t WHERE t.run_id = r.id) LIMIT :n)";

std::size_t delete_expired(soci::session& s, bool sqlite, const char* sql, const char* alias, std::int64_t cutoff,
                           std::size_t limit) {
    std::string text(sql);
    std::string expired = std::string(kExpiredRun) + (sqlite ? kNotLastOutcome : "");
    text.replace(text.find("{expired}"), 9, expired);
    // PostgreSQL: instances sweeping at the same time skip each other's rows instead of waiting
    // (or deadlocking) on them.
    if (!sqlite) text.insert(text.size() - 1, std::string(" FOR UPDATE OF ") + alias + " SKIP LOCKED");
    auto n = static_cast<std::int64_t>(limit);
    if (sqlite) {
        std::int64_t next = 1;
        s << sqlite_next_outcome_seq_query(), soci::into(next);
        std::int64_t last = next - 1;
        soci::statement st = (s.prepare << text, soci::use(cutoff), soci::use(cutoff), soci::use(last), soci::use(last),
                              soci::use(n));
        st.execute(true);
        return static_cast<std::size_t>(st.get_affected_rows());
    }
    soci::statement st = (s.prepare << text, soci::use(cutoff), soci::use(cutoff), soci::use(n));
    st.execute(true);
    return static_cast<std::size_t>(st.get_affected_rows());
}

}  // namespace

std::size_t RunStore::delete_expired_tasks(soci::session& s, bool sqlite, std::int64_t cutoff, std::size_t limit) {
    return delete_expired(s, sqlite, kDeleteExpiredTasks, "t", cutoff, limit);
}

std::size_t RunStore::delete_expired_runs(soci::session& s, bool sqlite, std::int64_t cutoff, std::size_t limit) {
    return delete_expired(s, sqlite, kDeleteExpiredRuns, "r", cutoff, limit);
}

}  // namespace arclight::workflow
