// The state writer's database sessions: SQLite through SOCI statements prepared once, PostgreSQL
// through libpq's pipeline mode; the upserts they run, with fencing and outcome positions.
#include "core/db/db.hpp"
#include "modules/workflow/outcomes.hpp"
#include "modules/workflow/writer_session.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <array>
#include <cctype>
#include <cstring>
#include <limits>
#include <map>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace arclight::workflow {
namespace {

// Fencing (schema/workflow/0005_lease_fence.sql): a run's update applies only while its row has
// the writer's lease generation (`lease_gen`, bumped by every claim); the row already fetched
// for the conflict is compared, so it costs nothing. Task rows: see kUpsertTaskPg and
// SqliteSession::stored_gen.
//
// The upserts also keep `outcome_seq` (the outcome feed, modules/workflow/outcomes.hpp): a final
// status gets {outcome}, the dialect's next outcome position (NULL for a status that is not
// final); a row rewritten with the same status, or with a status that is not final, keeps the
// position it has (never cleared, so positions never go back on SQLite; the feed reads final rows
// only).
// The statements are put together from these parts (each written once); {outcome} is filled in
// by with_outcome. No `IN` with three constants or more: SQLite builds a temporary b-tree for it
// every time the statement runs (see schema/workflow/0012_active_runs_cheap.sqlite.sql).
#define ARCLIGHT_RUN_INSERT                                                                                            \
    "INSERT INTO workflow_runs (id, workflow_id, version, status, trigger_type, trigger_data, input, output, error, " \
    "idempotency_key, parent_run_id, parent_task_id, owner, lease_until, wake_at, deadline_at, created_at, started_at, " \
    "finished_at, updated_at, created_by, lease_gen, response, outcome_seq) VALUES (:id, :wf, :v, :st, :tt, :td, :in, " \
    ":out, :err, :idem, :prun, :ptask, :owner, :lease, :wake, :dl, :cr, :sa, :fa, :ua, :cb, :gen, :resp, {outcome}) "
#define ARCLIGHT_TASK_COLUMNS                                                                                   \
    "INSERT INTO workflow_tasks (run_id, task_id, type, status, attempts, input, output, error, started_at, " \
    "finished_at, due_at, agent, instance, cost, outcome_seq) "
#define ARCLIGHT_TASK_ON_CONFLICT                                                                                \
    "ON CONFLICT (run_id, task_id) DO UPDATE SET type = excluded.type, status = excluded.status, "             \
    "attempts = excluded.attempts, input = excluded.input, output = excluded.output, error = excluded.error, " \
    "started_at = excluded.started_at, finished_at = excluded.finished_at, due_at = excluded.due_at, "        \
    "agent = excluded.agent, instance = excluded.instance, cost = excluded.cost, outcome_seq = CASE WHEN "       \
    "excluded.outcome_seq IS NULL OR workflow_tasks.status = excluded.status THEN "                             \
    "COALESCE(workflow_tasks.outcome_seq, excluded.outcome_seq) ELSE excluded.outcome_seq END "                 \
    "WHERE workflow_tasks.status <> 'succeeded'"

constexpr const char* kUpsertRun =
    ARCLIGHT_RUN_INSERT
    "ON CONFLICT (id) DO UPDATE SET status = excluded.status, output = excluded.output, error = excluded.error, "
    "owner = excluded.owner, lease_until = excluded.lease_until, wake_at = excluded.wake_at, "
    "deadline_at = excluded.deadline_at, started_at = excluded.started_at, finished_at = excluded.finished_at, "
    "updated_at = excluded.updated_at, response = CASE WHEN excluded.response = '' THEN workflow_runs.response "
    "ELSE excluded.response END, outcome_seq = CASE WHEN excluded.outcome_seq IS NULL OR "
    "workflow_runs.status = excluded.status THEN COALESCE(workflow_runs.outcome_seq, excluded.outcome_seq) "
    "ELSE excluded.outcome_seq END "
    "WHERE workflow_runs.status <> 'succeeded' AND workflow_runs.status <> 'failed' AND workflow_runs.status <> 'cancelled' "
    "AND workflow_runs.lease_gen = excluded.lease_gen";

// A run's first write: any conflict (only the idempotency key can clash, ids are fresh UUIDs)
// inserts nothing, which the caller learns as "not applied". A failing statement is avoided on
// purpose: SOCI 4.0's PostgreSQL backend leaks its parameter buffers when a statement fails.
constexpr const char* kInsertRun = ARCLIGHT_RUN_INSERT "ON CONFLICT DO NOTHING";

constexpr const char* kUpsertTask =
    ARCLIGHT_TASK_COLUMNS "VALUES (:r, :t, :ty, :st, :a, :in, :out, :err, :sa, :fa, :due, :ag, :i, :c, {outcome}) "
    ARCLIGHT_TASK_ON_CONFLICT;

// PostgreSQL's task upsert, row by row: inserts or updates only while the run's row has the
// writer's lease generation ($15), and share-locks that row's key for the rest of the transaction
// (FOR KEY SHARE: the claim's FOR UPDATE SKIP LOCKED passes the run over until this batch
// committed, and a claim not yet committed makes this statement wait and then see the new
// generation). Numbered by hand ($1 twice, casts where an INSERT ... SELECT cannot infer the
// type); the outcome position as with_outcome gives it, its flag in $16.
constexpr const char* kUpsertTaskPg =
    ARCLIGHT_TASK_COLUMNS "SELECT $1::text, $2, $3, $4::text, $5::integer, $6, $7, $8, "
    "$9::bigint, $10::bigint, $11::bigint, $12, $13, $14::double precision, CASE WHEN $16::boolean THEN {next} END "
    "WHERE EXISTS (SELECT 1 FROM workflow_runs WHERE id = $1::text AND lease_gen = $15::bigint FOR KEY SHARE) "
    ARCLIGHT_TASK_ON_CONFLICT;

// PostgreSQL's task upsert for many rows in one statement: the rows come as one array per column
// (PgSession::TaskColumns) and are unnested. A statement's set-up (executor, the ON CONFLICT
// projection) cost PostgreSQL more than writing the row itself: per 20 rows, one statement ran
// 1.3-1.8x the transactions/s of 20 pipelined ones (pgbench, same cluster). The rows a statement
// changed come back (RETURNING) and count as applied. Rows go plain: fenced by the batch (see
// commit_batch). Never two rows with one key in a statement (ON CONFLICT affects a row once).
constexpr const char* kUpsertTasksPg =
    ARCLIGHT_TASK_COLUMNS "SELECT r, t, ty, st, a, i, o, e, sa, fa, du, ag, ins, c, CASE WHEN f THEN {next} END "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::text[], $8::text[], "
    "$9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::double precision[], $15::boolean[]) "
    "AS x(r, t, ty, st, a, i, o, e, sa, fa, du, ag, ins, c, f) "
    ARCLIGHT_TASK_ON_CONFLICT " RETURNING run_id, task_id";

#undef ARCLIGHT_RUN_INSERT
#undef ARCLIGHT_TASK_COLUMNS
#undef ARCLIGHT_TASK_ON_CONFLICT

// The batch form of PostgreSQL's task fence: one statement per run and batch, before the run's
// first task row, instead of a subquery in every task upsert. It share-locks the run's key like
// kUpsertTaskPg (held to the commit) and divides by zero (SQLSTATE 22012) when the run does not
// have the writer's generation, which aborts the batch; PgSession::commit then writes the batch
// again with kUpsertTaskPg, which tells the fenced rows apart.
constexpr const char* kFenceRunPg =
    "SELECT 1 / (SELECT count(*) FROM (SELECT 1 FROM workflow_runs WHERE id = $1 AND lease_gen = $2::bigint "
    "FOR KEY SHARE) f)::integer";

// A run's upsert that is its task rows' fence: when the batch also writes the run's row, that
// write fences them. ON CONFLICT DO UPDATE locks the existing row before it tests the condition
// (held to the commit, whether the update then applies or not: a run already final keeps its
// state), and this form divides by zero (SQLSTATE 22012, like kFenceRunPg) when the row's
// generation is not the writer's; the batch is then written again row by row. So the task rows
// go without a fence of their own: no lookup and no lock of the run's row per task row. A row not
// there yet is inserted, and nobody claims a row before its insert commits.
// One CASE, so the generation is compared whatever the status (two ANDed conditions may be
// evaluated in either order and stop at the first false one: a run another instance claimed and
// has finished since must still trip).
std::string pg_guarded_run_upsert(const std::string& upsert) {
    std::string s = upsert;
    static constexpr std::string_view condition =
        "WHERE workflow_runs.status <> 'succeeded' AND workflow_runs.status <> 'failed' AND workflow_runs.status <> 'cancelled' "
        "AND workflow_runs.lease_gen = excluded.lease_gen";
    auto at = s.rfind(condition);
    if (at == std::string::npos) throw std::logic_error("pg_guarded_run_upsert: kUpsertRun's condition changed");
    s.replace(at, condition.size(),
              "WHERE CASE WHEN 1 / CAST(workflow_runs.lease_gen = excluded.lease_gen AS integer) = 1 THEN "
              "workflow_runs.status NOT IN ('succeeded', 'failed', 'cancelled') END");
    return s;
}

std::string pg_task_upsert(const char* sql) {
    std::string s = sql;
    s.replace(s.find("{next}"), 6, next_outcome_seq_sql(false));
    return s;
}

// An element of a PostgreSQL array literal: quoted, with `"` and `\` escaped.
void append_array_text(std::string& out, std::string_view v) {
    out += out.size() > 1 ? ",\"" : "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}
void append_array_number(std::string& out, std::string_view v) {
    if (out.size() > 1) out += ',';
    out += v;
}

// SQLite: a bound position (:seq, NULL unless the status is final) that the writer numbers per
// batch from one query (SqliteSession::commit), instead of a MAX subquery per final row. Deciding
// "final" in the writer rather than in SQL matters: SQLite builds a temporary table for
// `:st IN ('succeeded', ...)` at every execution, which cost the writer a fifth of its time.
// PostgreSQL: the writing transaction's id, per row, when the bound flag (:final, decided by the
// writer: final_run_status / final_task_status) says the status is final. Decided in SQL, the
// status list was a ScalarArrayOp and text comparisons set up at every execution.
std::string with_outcome(const char* sql, bool sqlite) {
    std::string s = sql;
    std::string outcome = sqlite ? std::string(":seq") : "CASE WHEN :final THEN " + next_outcome_seq_sql(false) + " END";
    s.replace(s.find("{outcome}"), 9, outcome);
    return s;
}

bool final_run_status(const std::string& s) { return s == "succeeded" || s == "failed" || s == "cancelled"; }
bool final_task_status(const std::string& s) { return final_run_status(s) || s == "skipped"; }

// ":name" placeholders (SOCI) -> "$1", "$2", ... (libpq), in order of appearance.
std::string numbered_placeholders(const char* sql) {
    std::string out;
    int n = 0;
    for (const char* p = sql; *p;) {
        if (*p == ':' && (std::isalpha(static_cast<unsigned char>(p[1])) || p[1] == '_')) {
            out += '$' + std::to_string(++n);
            ++p;
            while (std::isalnum(static_cast<unsigned char>(*p)) || *p == '_') ++p;
        } else {
            out += *p++;
        }
    }
    return out;
}

// PostgreSQL SQLSTATE classes of refusals: 22 data exception (e.g. 22021 invalid byte sequence),
// 23 integrity constraint, 42 syntax or access rule, 54 program limit exceeded.
bool refusal_sqlstate(const char* code) {
    if (!code || std::strlen(code) < 2) return false;
    std::string_view cls(code, 2);
    return cls == "22" || cls == "23" || cls == "42" || cls == "54";
}

// SQLite result codes of refusals: SQLITE_ERROR (1: an SQL error), SQLITE_TOOBIG (18),
// SQLITE_CONSTRAINT (19), SQLITE_MISMATCH (20), SQLITE_RANGE (25).
bool refusal_sqlite(int code) {
    int primary = code & 0xff;
    return primary == 1 || primary == 18 || primary == 19 || primary == 20 || primary == 25;
}

}  // namespace

// SQLite: the upserts as sqlite3 statements prepared once on a dedicated connection and bound
// straight from the queued rows (text bound in place, no copy of a row and no per-execution
// conversion layer: SOCI's cost the writer thread about a fifth of its time).
struct Writer::SqliteSession final : Writer::Session {
    using Stmt = sqlite_api::sqlite3_stmt;
    std::unique_ptr<soci::session> own;
    sqlite_api::sqlite3* db;
    Stmt* run_up = nullptr;
    Stmt* run_in = nullptr;
    Stmt* task_up = nullptr;
    Stmt* gen_st = nullptr;
    Stmt* version_st = nullptr;
    Stmt* horizon_st = nullptr;
    std::int64_t next_seq = 1;
    // Fencing of task rows: the run's lease generation, read once and remembered instead of a
    // subquery in every task upsert. A claim (the only thing that changes it) commits on another
    // connection, which changes this connection's `PRAGMA data_version`; read inside each batch's
    // BEGIN IMMEDIATE (no claim can commit before this batch's COMMIT), an unchanged data_version
    // proves every remembered generation still holds, so a run is read once, not once per batch.
    std::int64_t seen_version = -1;
    std::unordered_map<std::string, std::int64_t> gens;  // run id -> lease_gen (-1: no such run)
    static constexpr std::size_t kMaxGens = 65536;       // remembered runs (forgotten all at once)

    explicit SqliteSession(Db& d) : own(d.open_dedicated()) {
        db = static_cast<soci::sqlite3_session_backend*>(own->get_backend())->conn_;
        // The WAL is checkpointed in the background (Engine's claim loop), not inside this
        // thread's commits: a checkpoint in the commit path stalls every caller of the batch.
        // Under a steady stream of commits that checkpoint never catches up with the end of the
        // log, so the log never starts over and grows without bound (1 GB in a minute of
        // webhooks; every read then searches a larger WAL index). after_batch() finishes the
        // job on this connection, between batches, when the log has grown long.
        exec("PRAGMA wal_autocheckpoint = 0");
        exec("PRAGMA journal_size_limit = 67108864");  // a restarted log is cut back to 64 MiB
        sqlite_api::sqlite3_wal_hook(db, &SqliteSession::on_wal_commit, this);
        run_up = prepare(with_outcome(kUpsertRun, true));
        run_in = prepare(with_outcome(kInsertRun, true));
        task_up = prepare(with_outcome(kUpsertTask, true));
        gen_st = prepare("SELECT lease_gen FROM workflow_runs WHERE id = ?1");
        version_st = prepare("PRAGMA data_version");
        horizon_st = prepare(sqlite_next_outcome_seq_query());
    }
    // The log's length in frames after this connection's last commit (sqlite3_wal_hook).
    int wal_frames = 0;
    int checkpoint_at = kCheckpointFrames;
    static constexpr int kCheckpointFrames = 1024;  // 4 MiB of 4 KiB pages
    static int on_wal_commit(void* self, sqlite_api::sqlite3*, const char*, int frames) {
        static_cast<SqliteSession*>(self)->wal_frames = frames;
        return SQLITE_OK;
    }
    // A long log is checkpointed here, where no commit of this writer can extend it meanwhile,
    // so the checkpoint reaches the end and the next commit starts the log over (unless a
    // reader still holds an older snapshot: then a later batch tries again). The background
    // checkpoint has usually copied most of it already; this copies the rest.
    void after_batch() override {
        if (wal_frames < checkpoint_at) {
            if (wal_frames < kCheckpointFrames) checkpoint_at = kCheckpointFrames;  // started over
            return;
        }
        // Whatever the outcome (a reader's snapshot or the background checkpoint may keep it
        // from the end), the next try waits until the log is longer by another quarter.
        checkpoint_at = wal_frames + kCheckpointFrames / 4;
        sqlite_api::sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
    ~SqliteSession() override {
        for (Stmt* st : {run_up, run_in, task_up, gen_st, version_st, horizon_st}) sqlite_api::sqlite3_finalize(st);
    }

    [[noreturn]] void fail(int rc, const char* what) {
        int code = sqlite_api::sqlite3_extended_errcode(db);
        if ((code & 0xff) != (rc & 0xff)) code = rc;
        std::string message = std::string("sqlite3 ") + what + ": " + sqlite_api::sqlite3_errmsg(db) + " (code " + std::to_string(code) + ")";
        if (refusal_sqlite(code)) throw Refused(message);
        if (is_transient_sqlite_error(code)) throw StorageFailure(message);
        throw std::runtime_error(message);
    }
    void exec(const char* sql) {
        int rc = sqlite_api::sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK) fail(rc, sql);
    }
    Stmt* prepare(const std::string& sql) {
        Stmt* st = nullptr;
        int rc = sqlite_api::sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &st, nullptr);
        if (rc != SQLITE_OK) fail(rc, "prepare");
        return st;
    }
    // Steps a statement to its end (or its first row) and resets it: a statement left stepped
    // keeps a read transaction open after COMMIT, so the next BEGIN IMMEDIATE found its snapshot
    // stale ("database is locked"). Returns whether a row came, with its first column.
    bool step(Stmt* st, std::int64_t* first = nullptr) {
        int rc = sqlite_api::sqlite3_step(st);
        if (rc == SQLITE_ROW && first) *first = sqlite_api::sqlite3_column_int64(st, 0);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            try {
                fail(rc, "step");
            } catch (...) {
                sqlite_api::sqlite3_reset(st);
                throw;
            }
        }
        sqlite_api::sqlite3_reset(st);
        return rc == SQLITE_ROW;
    }
    static void text(Stmt* st, int i, const std::string& v) {
        if (v.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) throw Refused("a value larger than SQLite stores");
        sqlite_api::sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), nullptr);  // static: the row outlives the step
    }
    static void num(Stmt* st, int i, std::int64_t v) { sqlite_api::sqlite3_bind_int64(st, i, v); }
    // The outcome position of a change: the next one for a final status, none otherwise.
    void outcome(Stmt* st, int i, bool final) {
        if (final) num(st, i, next_seq++);
        else sqlite_api::sqlite3_bind_null(st, i);
    }

    bool write_run(Stmt* st, const RunRow& r) {
        text(st, 1, r.id);
        text(st, 2, r.workflow_id);
        num(st, 3, r.version);
        text(st, 4, r.status);
        text(st, 5, r.trigger_type);
        text(st, 6, r.trigger_data);
        text(st, 7, r.input);
        text(st, 8, r.output);
        text(st, 9, r.error);
        if (r.idempotency_key) text(st, 10, *r.idempotency_key);
        else sqlite_api::sqlite3_bind_null(st, 10);
        text(st, 11, r.parent_run_id);
        text(st, 12, r.parent_task_id);
        text(st, 13, r.owner);
        num(st, 14, r.lease_until);
        num(st, 15, r.wake_at);
        num(st, 16, r.deadline_at);
        num(st, 17, r.created_at);
        num(st, 18, r.started_at);
        num(st, 19, r.finished_at);
        num(st, 20, r.updated_at);
        text(st, 21, r.created_by);
        num(st, 22, r.lease_gen);
        text(st, 23, r.response);
        outcome(st, 24, final_run_status(r.status));
        step(st);
        return sqlite_api::sqlite3_changes(db) > 0;
    }

    bool write_task(const TaskRow& t) {
        text(task_up, 1, t.run_id);
        text(task_up, 2, t.task_id);
        text(task_up, 3, t.type);
        text(task_up, 4, t.status);
        num(task_up, 5, t.attempts);
        text(task_up, 6, t.input);
        text(task_up, 7, t.output);
        text(task_up, 8, t.error);
        num(task_up, 9, t.started_at);
        num(task_up, 10, t.finished_at);
        num(task_up, 11, t.due_at);
        text(task_up, 12, t.agent);
        text(task_up, 13, t.instance);
        sqlite_api::sqlite3_bind_double(task_up, 14, t.cost);
        outcome(task_up, 15, final_task_status(t.status));
        step(task_up);
        return sqlite_api::sqlite3_changes(db) > 0;
    }

    // At the start of a transaction: forgets the remembered generations unless nothing else was
    // committed since they were read.
    void revalidate_gens() {
        std::int64_t version = 0;
        step(version_st, &version);
        if (version != seen_version || gens.size() > kMaxGens) gens.clear();
        seen_version = version;
    }

    std::int64_t stored_gen(const std::string& run_id) {
        auto it = gens.find(run_id);
        if (it != gens.end()) return it->second;
        text(gen_st, 1, run_id);
        std::int64_t g = -1;
        if (!step(gen_st, &g)) g = -1;
        gens.emplace(run_id, g);
        return g;
    }

    bool apply(const Op& op) {
        if (op.run) {
            const RunRow& run = *op.run;
            bool changed = write_run(op.insert ? run_in : run_up, run);
            // Written: the row has this generation (a finished run's is not needed any more).
            if (changed && !final_run_status(run.status)) gens[run.id] = run.lease_gen;
            else gens.erase(run.id);
            return changed;
        }
        if (stored_gen(op.task->run_id) != op.task->lease_gen) return false;  // fenced
        return write_task(*op.task);
    }

    std::optional<std::int64_t> run_gen(const std::string& id) override {
        // Read outside a write transaction: what is read now is not remembered.
        gens.erase(id);
        std::int64_t g = stored_gen(id);
        gens.erase(id);
        if (g < 0) return std::nullopt;
        return g;
    }

    void commit(Op* ops, std::size_t n, char* applied) override {
        exec("BEGIN IMMEDIATE");
        try {
            revalidate_gens();
            // Inside the write transaction, so no other writer can take the same positions.
            step(horizon_st, &next_seq);
            for (std::size_t i = 0; i < n; ++i) applied[i] = apply(ops[i]);
            exec("COMMIT");
        } catch (...) {
            gens.clear();  // what this transaction wrote is rolled back
            if (!sqlite_api::sqlite3_get_autocommit(db)) sqlite_api::sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }
};

// PostgreSQL: BEGIN, every upsert and COMMIT sent in libpq pipeline mode and read back after one
// sync, so a batch costs one round trip instead of one per statement (bench_db_ceiling: 10.9k
// rows/s one by one vs 80.8k pipelined on one connection). The connection is a dedicated SOCI
// session's (same settings as the pool's), used through libpq directly.
struct Writer::PgSession final : Writer::Session {
    std::unique_ptr<soci::session> own;
    PGconn* conn;
    std::vector<std::string> values;  // text parameters of the statement being sent
    std::vector<const char*> params;
    std::vector<long> slots;  // commit_batch: statement -> op (-1: fence, kMultiSlot: the task rows)
    std::vector<char> trips;  // commit_batch: statement -> divides by zero when its fence fails
    // commit_batch: (run, generation) -> its task rows in the batch (0 once its fence is sent),
    // or -1: the batch writes the run's row too, which fences them (pg_guarded_run_upsert)
    std::map<std::pair<std::string, std::int64_t>, int> fences;
    // commit_batch: the plain task rows of the batch as one statement (kUpsertTasksPg): one
    // array literal per column, and the ops they came from, by key.
    static std::string task_key(std::string_view run_id, std::string_view task_id) {
        std::string key(run_id);
        key += '\n';
        key += task_id;
        return key;
    }
    struct TaskColumns {
        std::array<std::string, 15> cols;
        std::unordered_map<std::string, std::size_t> ops;  // task_key -> op
        void clear() {
            for (auto& c : cols) c.assign(1, '{');
            ops.clear();
        }
        void add(const TaskRow& t, std::size_t op) {
            append_array_text(cols[0], t.run_id);
            append_array_text(cols[1], t.task_id);
            append_array_text(cols[2], t.type);
            append_array_text(cols[3], t.status);
            append_array_number(cols[4], std::to_string(t.attempts));
            append_array_text(cols[5], t.input);
            append_array_text(cols[6], t.output);
            append_array_text(cols[7], t.error);
            append_array_number(cols[8], std::to_string(t.started_at));
            append_array_number(cols[9], std::to_string(t.finished_at));
            append_array_number(cols[10], std::to_string(t.due_at));
            append_array_text(cols[11], t.agent);
            append_array_text(cols[12], t.instance);
            append_array_number(cols[13], fmt::format("{}", t.cost));
            append_array_number(cols[14], final_task_status(t.status) ? "t" : "f");
            ops.emplace(task_key(t.run_id, t.task_id), op);
        }
    } multi;
    std::unordered_set<std::string> keys;  // commit_batch: the task rows' keys
    static constexpr long kMultiSlot = -3;  // slots: the statement of kUpsertTasksPg

    explicit PgSession(Db& db) : own(db.open_dedicated()) {
        conn = static_cast<soci::postgresql_session_backend*>(own->get_backend())->conn_;
        // Named in pg_stat_activity, for operators (and the test that cuts these connections).
        PQclear(PQexec(conn, "SET application_name = 'arclight workflow writer'"));
        // Its statements have one sensible plan (upserts by key): planned once, not again at every
        // execution (PostgreSQL re-plans a prepared statement while it guesses a custom plan may
        // be cheaper, which for kUpsertTasksPg, whose arrays it cannot size, is always).
        PQclear(PQexec(conn, "SET plan_cache_mode = force_generic_plan"));
        std::string run_up = numbered_placeholders(with_outcome(kUpsertRun, false).c_str());
        prepare("arclight_wf_run_up", run_up, 24);
        prepare("arclight_wf_run_guard", pg_guarded_run_upsert(run_up), 24);
        prepare("arclight_wf_run_in", numbered_placeholders(with_outcome(kInsertRun, false).c_str()), 24);
        prepare("arclight_wf_task_up", pg_task_upsert(kUpsertTaskPg), 16);
        prepare("arclight_wf_tasks_up", pg_task_upsert(kUpsertTasksPg), 15);
        prepare("arclight_wf_task_plain", numbered_placeholders(with_outcome(kUpsertTask, false).c_str()), 15);
        prepare("arclight_wf_fence", kFenceRunPg, 2);
    }

    void prepare(const char* name, const std::string& text, int n) {
        PGresult* r = PQprepare(conn, name, text.c_str(), n, nullptr);
        std::string error = PQresultStatus(r) == PGRES_COMMAND_OK ? "" : PQresultErrorMessage(r);
        PQclear(r);
        if (!error.empty()) throw std::runtime_error(std::string("prepare ") + name + ": " + error);
    }

    void send(const char* name, bool null_at_9 = false) {
        params.clear();
        for (const auto& v : values) params.push_back(v.c_str());
        if (null_at_9) params[9] = nullptr;  // no idempotency key
        if (PQsendQueryPrepared(conn, name, static_cast<int>(params.size()), params.data(), nullptr, nullptr, 0) != 1)
            throw std::runtime_error(std::string("send: ") + PQerrorMessage(conn));
    }
    void send_plain(const char* sql) {
        if (PQsendQueryParams(conn, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) != 1)
            throw std::runtime_error(std::string("send: ") + PQerrorMessage(conn));
    }

    void send_op(const Op& op, bool fenced_in_batch, bool guard = false) {
        values.clear();
        auto num = [this](std::int64_t v) { values.push_back(std::to_string(v)); };
        if (op.run) {
            const auto& r = *op.run;
            values = {r.id, r.workflow_id, std::to_string(r.version), r.status, r.trigger_type, r.trigger_data, r.input,
                      r.output, r.error, r.idempotency_key.value_or(""), r.parent_run_id, r.parent_task_id, r.owner};
            for (std::int64_t v : {r.lease_until, r.wake_at, r.deadline_at, r.created_at, r.started_at, r.finished_at, r.updated_at})
                num(v);
            values.push_back(r.created_by);
            num(r.lease_gen);
            values.push_back(r.response);
            values.push_back(final_run_status(r.status) ? "t" : "f");  // :final (with_outcome)
            send(op.insert ? "arclight_wf_run_in" : guard ? "arclight_wf_run_guard" : "arclight_wf_run_up", !r.idempotency_key);
            return;
        }
        const auto& t = *op.task;
        values = {t.run_id, t.task_id, t.type, t.status, std::to_string(t.attempts), t.input, t.output, t.error};
        for (std::int64_t v : {t.started_at, t.finished_at, t.due_at}) num(v);
        values.push_back(t.agent);
        values.push_back(t.instance);
        values.push_back(fmt::format("{}", t.cost));
        const char* final = final_task_status(t.status) ? "t" : "f";  // :final (with_outcome), $16 (kUpsertTaskPg)
        if (fenced_in_batch) {
            values.push_back(final);
            send("arclight_wf_task_plain");
            return;
        }
        num(t.lease_gen);
        values.push_back(final);
        send("arclight_wf_task_up");
    }

    void send_fence(const std::string& run_id, std::int64_t gen) {
        values = {run_id, std::to_string(gen)};
        send("arclight_wf_fence");
    }

    // The fence of a batch tripped (kFenceRunPg): a run in it is no longer the writer's.
    struct FenceTripped : std::runtime_error {
        using std::runtime_error::runtime_error;
    };

    std::optional<std::int64_t> run_gen(const std::string& id) override {
        const char* params[] = {id.c_str()};
        PGresult* r =
            PQexecParams(conn, "SELECT lease_gen FROM workflow_runs WHERE id = $1", 1, nullptr, params, nullptr, nullptr, 0);
        auto st = PQresultStatus(r);
        std::optional<std::int64_t> gen;
        if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) gen = std::stoll(PQgetvalue(r, 0, 0));
        std::string error = st == PGRES_TUPLES_OK ? "" : PQresultErrorMessage(r);
        PQclear(r);
        if (!error.empty()) throw std::runtime_error(error);
        return gen;
    }

    void commit(Op* ops, std::size_t n, char* applied) override {
        if (n > 1) {
            try {
                commit_batch(ops, n, applied, true);
                return;
            } catch (const FenceTripped&) {
                // Rare (a stalled instance's runs were claimed): the batch again, fenced row by row.
            }
        }
        commit_batch(ops, n, applied, false);
    }

    // fence_per_run: task rows of a run whose row the batch writes too are fenced by that write
    // (pg_guarded_run_upsert); for another run with several task rows in the batch, one
    // kFenceRunPg before the first, then plain upserts (either throws FenceTripped when the run is
    // not the writer's); otherwise, and for a run with one task row, kUpsertTaskPg per task row.
    void commit_batch(Op* ops, std::size_t n, char* applied, bool fence_per_run) {
        if (PQenterPipelineMode(conn) != 1) throw std::runtime_error(std::string("pipeline mode: ") + PQerrorMessage(conn));
        std::string error;
        bool refused = false, tripped = false;
        std::size_t answered = 0;  // statements that answered OK, in order
        // What each statement after BEGIN is: the op it writes, or -1 for a fence.
        slots.clear();
        trips.clear();
        try {
            send_plain("BEGIN");
            // Task rows per run in this batch: a run with one row keeps the row's own fence (one
            // statement instead of two); a run with several gets one fence for all of them.
            fences.clear();
            if (fence_per_run) {
                for (std::size_t i = 0; i < n; ++i)
                    if (ops[i].task) ++fences[{ops[i].task->run_id, ops[i].task->lease_gen}];
                for (std::size_t i = 0; i < n; ++i)
                    if (ops[i].run && !ops[i].insert)
                        if (auto it = fences.find({ops[i].run->id, ops[i].run->lease_gen}); it != fences.end()) it->second = -1;
            }
            // The plain task rows go as one statement (kUpsertTasksPg) at the end, when there
            // are two or more and no key comes twice in the batch (a task's start and end, say:
            // they go one by one, in order).
            multi.clear();
            bool use_multi = false;
            if (fence_per_run) {
                std::size_t plain = 0;
                keys.clear();
                use_multi = true;
                for (std::size_t i = 0; i < n && use_multi; ++i) {
                    if (!ops[i].task) continue;
                    use_multi = keys.insert(task_key(ops[i].task->run_id, ops[i].task->task_id)).second;
                    if (fences.at({ops[i].task->run_id, ops[i].task->lease_gen}) != 1) ++plain;
                }
                use_multi = use_multi && plain >= 2;
            }
            for (std::size_t i = 0; i < n; ++i) {
                bool shared_fence = false, guard = false;
                if (fence_per_run && ops[i].task) {
                    auto it = fences.find({ops[i].task->run_id, ops[i].task->lease_gen});
                    shared_fence = it->second != 1;
                    if (it->second > 1) {
                        send_fence(ops[i].task->run_id, ops[i].task->lease_gen);
                        slots.push_back(-1);
                        trips.push_back(1);
                        it->second = 0;  // sent
                    }
                } else if (fence_per_run && ops[i].run && !ops[i].insert) {
                    // The first write of the run's row in the batch fences its task rows.
                    auto it = fences.find({ops[i].run->id, ops[i].run->lease_gen});
                    if (it != fences.end() && it->second == -1) {
                        guard = true;
                        it->second = 0;
                    }
                }
                if (use_multi && shared_fence) {
                    multi.add(*ops[i].task, i);
                    continue;
                }
                send_op(ops[i], shared_fence, guard);
                slots.push_back(static_cast<long>(i));
                trips.push_back(guard ? 1 : 0);
            }
            if (!multi.ops.empty()) {
                values.clear();
                for (auto& c : multi.cols) values.push_back(c + '}');
                send("arclight_wf_tasks_up");
                slots.push_back(kMultiSlot);
                trips.push_back(0);
            }
            send_plain("COMMIT");
            if (PQpipelineSync(conn) != 1) throw std::runtime_error(std::string("sync: ") + PQerrorMessage(conn));
            // Results arrive in order: BEGIN, one per statement, COMMIT (each followed by a
            // null), then the sync.
            const std::size_t total = slots.size() + 2;
            for (std::size_t q = 0; q < total; ++q) {
                long slot = q >= 1 && q <= slots.size() ? slots[q - 1] : -2;
                bool trips_on_fence = q >= 1 && q <= slots.size() && trips[q - 1];
                while (PGresult* r = PQgetResult(conn)) {
                    auto st = PQresultStatus(r);
                    bool ok = st == PGRES_COMMAND_OK || ((trips_on_fence || slot == kMultiSlot) && st == PGRES_TUPLES_OK);
                    if (!ok && error.empty()) {
                        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
                        error = st == PGRES_PIPELINE_ABORTED ? "pipeline aborted" : PQresultErrorMessage(r);
                        tripped = trips_on_fence && state && std::strcmp(state, "22012") == 0;
                        refused = !tripped && st != PGRES_PIPELINE_ABORTED && refusal_sqlstate(state);
                    }
                    if (ok) {
                        if (answered == q) ++answered;
                        if (slot >= 0) {
                            const char* rows = PQcmdTuples(r);
                            applied[slot] = rows && *rows && std::strcmp(rows, "0") != 0;
                        } else if (slot == kMultiSlot) {
                            for (int row = 0, rows = PQntuples(r); row < rows; ++row) {
                                auto it = multi.ops.find(task_key(PQgetvalue(r, row, 0), PQgetvalue(r, row, 1)));
                                if (it != multi.ops.end()) applied[it->second] = 1;
                            }
                        }
                    }
                    PQclear(r);
                }
            }
            PQclear(PQgetResult(conn));  // the sync (absent when the connection is gone)
        } catch (const std::exception& e) {
            error = e.what();
        }
        PQexitPipelineMode(conn);
        // Durable exactly when COMMIT answered OK (and so did everything before it); what happens
        // to the connection afterwards does not matter (the next batch reconnects).
        if (error.empty() && answered != slots.size() + 2)
            error = std::string("connection lost before the commit was confirmed: ") + PQerrorMessage(conn);
        if (!error.empty()) {
            // Not committed, or not known to be: the caller retries change by change, and the
            // upserts are idempotent (a run insert whose first attempt did commit is recognised
            // by its id). A statement that failed leaves the BEGIN's block open and aborted: end
            // it so the session can be used again. A broken connection is reopened by the caller.
            if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE) PQclear(PQexec(conn, "ROLLBACK"));
            if (tripped) throw FenceTripped(error);
            if (refused) throw Refused(error);
            throw std::runtime_error(error);
        }
    }
};

std::unique_ptr<Writer::Session> Writer::open_session() {
    if (db_.backend() == DbBackend::postgres) return std::make_unique<PgSession>(db_);
    return std::make_unique<SqliteSession>(db_);
}

}  // namespace arclight::workflow
