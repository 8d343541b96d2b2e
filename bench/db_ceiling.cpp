// bench_db_ceiling: what the database itself can commit, for bench/workflow_bench.sh.
//
// The workflow engine records each state change as an upsert into workflow_runs/workflow_tasks,
// many per transaction (group commit, modules/workflow/writer.cpp). This program measures the
// floor under that on the same disk and server: a table shaped like workflow_tasks, the same
// `INSERT ... ON CONFLICT DO UPDATE ... WHERE` statement prepared once, and
//   * single: one row per transaction (BEGIN; upsert; COMMIT), i.e. durable commits/s;
//   * batch:  B rows per transaction (default 100), executed one by one like the writer does;
//   * PostgreSQL only, pipelined: the same B-row transactions sent in libpq pipeline mode (one
//     round trip per transaction instead of one per statement), for comparison.
// SQLite runs like arclight's pool (WAL, synchronous=FULL unless --synchronous normal, BEGIN
// IMMEDIATE); PostgreSQL with the server's settings (synchronous_commit as configured), over
// one connection, like the writer's single session.
//
//   bench_db_ceiling sqlite /path/to/file.db [--seconds S] [--rounds R] [--batch B] [--synchronous full|normal]
//   bench_db_ceiling postgres postgresql://... [--seconds S] [--rounds R] [--batch B]
//
// SQLite: the file is created and deleted (with its -wal/-shm). PostgreSQL: a table
// bench_ceiling_<pid> is created and dropped. Each figure is the median of R rounds of S s.
// Prints a "RESULT key=value..." line.

#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kColumns =
    "(run_id TEXT NOT NULL, task_id TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL, "
    "attempts INTEGER NOT NULL DEFAULT 0, input TEXT NOT NULL DEFAULT 'null', output TEXT NOT NULL DEFAULT 'null', "
    "error TEXT NOT NULL DEFAULT '', started_at BIGINT NOT NULL DEFAULT 0, finished_at BIGINT NOT NULL DEFAULT 0, "
    "due_at BIGINT NOT NULL DEFAULT 0, agent TEXT NOT NULL DEFAULT '', instance TEXT NOT NULL DEFAULT '', "
    "PRIMARY KEY (run_id, task_id))";

std::string upsert_sql(const std::string& table, bool pg) {
    auto p = [pg](int i) { return pg ? "$" + std::to_string(i) : std::string("?") + std::to_string(i); };
    std::string sql = "INSERT INTO " + table +
                      " (run_id, task_id, type, status, attempts, input, output, error, started_at, finished_at, due_at, "
                      "agent, instance) VALUES (";
    for (int i = 1; i <= 13; ++i) sql += p(i) + (i < 13 ? ", " : ")");
    sql += " ON CONFLICT (run_id, task_id) DO UPDATE SET type = excluded.type, status = excluded.status, "
           "attempts = excluded.attempts, input = excluded.input, output = excluded.output, error = excluded.error, "
           "started_at = excluded.started_at, finished_at = excluded.finished_at, due_at = excluded.due_at, "
           "agent = excluded.agent, instance = excluded.instance WHERE " +
           table + ".status <> 'succeeded'";
    return sql;
}

// The values of row number n: a finished script task of a fresh run (a UUID-like run id).
struct RowValues {
    std::string run_id, task_id = "s3", type = "script", status = "succeeded", attempts = "1", input = "null",
                output = R"({"n":4})", error, started_at, finished_at, due_at = "0", agent,
                instance = "6f1c7a52-3a53-4d0e-9a3c-6b1e5f9e2d11";
    void set(unsigned long long n) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%08llx-0000-4000-8000-%012llx", n >> 16, n * 2654435761ULL % 0xFFFFFFFFFFFFULL);
        run_id = buf;
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        started_at = std::to_string(ms);
        finished_at = std::to_string(ms + 1);
    }
    std::vector<const char*> params() const {
        return {run_id.c_str(), task_id.c_str(), type.c_str(), status.c_str(), attempts.c_str(), input.c_str(), output.c_str(),
                error.c_str(), started_at.c_str(), finished_at.c_str(), due_at.c_str(), agent.c_str(), instance.c_str()};
    }
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual void begin() = 0;
    virtual void upsert(const RowValues& v) = 0;
    virtual void commit() = 0;
};

class Sqlite final : public Backend {
public:
    Sqlite(const std::string& path, const std::string& synchronous) : path_(path) {
        if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("sqlite3_open " + path + ": " + sqlite3_errmsg(db_));
        exec("PRAGMA busy_timeout = 5000");
        exec("PRAGMA journal_mode = WAL");
        exec(synchronous == "normal" ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
        exec(std::string("CREATE TABLE IF NOT EXISTS bench_tasks ") + kColumns);
        auto sql = upsert_sql("bench_tasks", false);
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK)
            throw std::runtime_error(std::string("prepare: ") + sqlite3_errmsg(db_));
    }
    ~Sqlite() override {
        sqlite3_finalize(st_);
        sqlite3_close(db_);
        for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((path_ + suffix).c_str());
    }
    void begin() override { exec("BEGIN IMMEDIATE"); }
    void commit() override { exec("COMMIT"); }
    void upsert(const RowValues& v) override {
        auto p = v.params();
        for (int i = 0; i < 13; ++i) sqlite3_bind_text(st_, i + 1, p[static_cast<std::size_t>(i)], -1, SQLITE_STATIC);
        if (sqlite3_step(st_) != SQLITE_DONE) throw std::runtime_error(std::string("upsert: ") + sqlite3_errmsg(db_));
        sqlite3_reset(st_);
    }

private:
    void exec(const std::string& sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            std::string e = err ? err : "?";
            sqlite3_free(err);
            throw std::runtime_error(sql + ": " + e);
        }
    }
    std::string path_;
    sqlite3* db_ = nullptr;
    sqlite3_stmt* st_ = nullptr;
};

class Postgres final : public Backend {
public:
    explicit Postgres(const std::string& url) : table_("bench_ceiling_" + std::to_string(::getpid())) {
        conn_ = PQconnectdb(url.c_str());
        if (PQstatus(conn_) != CONNECTION_OK) throw std::runtime_error(std::string("connect: ") + PQerrorMessage(conn_));
        exec("SET client_min_messages = warning");
        exec("DROP TABLE IF EXISTS " + table_);
        exec("CREATE TABLE " + table_ + " " + kColumns);
        auto sql = upsert_sql(table_, true);
        PGresult* r = PQprepare(conn_, "up", sql.c_str(), 13, nullptr);
        check(r, PGRES_COMMAND_OK, "prepare");
        PGresult* s = PQexec(conn_, "SHOW synchronous_commit");
        if (PQresultStatus(s) == PGRES_TUPLES_OK && PQntuples(s) == 1) sync_commit_ = PQgetvalue(s, 0, 0);
        PQclear(s);
        s = PQexec(conn_, "SHOW fsync");
        if (PQresultStatus(s) == PGRES_TUPLES_OK && PQntuples(s) == 1) fsync_ = PQgetvalue(s, 0, 0);
        PQclear(s);
    }
    ~Postgres() override {
        try {
            exec("DROP TABLE IF EXISTS " + table_);
        } catch (...) {
        }
        PQfinish(conn_);
    }
    void begin() override { exec("BEGIN"); }
    void commit() override { exec("COMMIT"); }
    void upsert(const RowValues& v) override {
        auto p = v.params();
        PGresult* r = PQexecPrepared(conn_, "up", 13, p.data(), nullptr, nullptr, 0);
        check(r, PGRES_COMMAND_OK, "upsert");
    }
    std::string settings() const { return "synchronous_commit=" + sync_commit_ + ",fsync=" + fsync_; }

    // One transaction of rows.size() upserts sent in libpq pipeline mode: one round trip for
    // BEGIN, the upserts and COMMIT together instead of one per statement.
    void pipelined_tx(const std::vector<RowValues>& rows) {
        if (PQenterPipelineMode(conn_) != 1) throw std::runtime_error(std::string("pipeline mode: ") + PQerrorMessage(conn_));
        auto send = [this](const char* sql) {
            if (PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) != 1)
                throw std::runtime_error(std::string("send: ") + PQerrorMessage(conn_));
        };
        send("BEGIN");
        for (const auto& v : rows) {
            auto p = v.params();
            if (PQsendQueryPrepared(conn_, "up", 13, p.data(), nullptr, nullptr, 0) != 1)
                throw std::runtime_error(std::string("send: ") + PQerrorMessage(conn_));
        }
        send("COMMIT");
        if (PQpipelineSync(conn_) != 1) throw std::runtime_error(std::string("sync: ") + PQerrorMessage(conn_));
        std::string error;
        for (std::size_t q = 0; q < rows.size() + 2; ++q) {
            while (PGresult* r = PQgetResult(conn_)) {
                if (PQresultStatus(r) != PGRES_COMMAND_OK && error.empty()) error = PQresultErrorMessage(r);
                PQclear(r);
            }
        }
        PGresult* sync = PQgetResult(conn_);
        bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
        PQclear(sync);
        PQexitPipelineMode(conn_);
        if (!error.empty()) throw std::runtime_error("pipelined upsert: " + error);
        if (!synced) throw std::runtime_error("pipelined upsert: no sync");
    }

private:
    void check(PGresult* r, ExecStatusType want, const std::string& what) {
        if (PQresultStatus(r) != want) {
            std::string e = PQresultErrorMessage(r);
            PQclear(r);
            throw std::runtime_error(what + ": " + e);
        }
        PQclear(r);
    }
    void exec(const std::string& sql) { check(PQexec(conn_, sql.c_str()), PGRES_COMMAND_OK, sql); }
    PGconn* conn_ = nullptr;
    std::string table_;
    std::string sync_commit_ = "?", fsync_ = "?";
};

struct Round {
    double rows_per_s, tx_per_s;
};

// Commits transactions of `rows` rows for `seconds`.
Round measure(Backend& b, std::size_t rows, double seconds, unsigned long long& counter) {
    RowValues v;
    std::size_t tx = 0, n = 0;
    auto t0 = Clock::now();
    auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    do {
        b.begin();
        for (std::size_t i = 0; i < rows; ++i) {
            v.set(++counter);
            b.upsert(v);
        }
        b.commit();
        ++tx;
        n += rows;
    } while (Clock::now() < end);
    double el = std::chrono::duration<double>(Clock::now() - t0).count();
    return {static_cast<double>(n) / el, static_cast<double>(tx) / el};
}

// Postgres only: transactions of `rows` rows sent in pipeline mode, for `seconds`.
Round measure_pipelined(Postgres& pg, std::size_t rows, double seconds, unsigned long long& counter) {
    std::vector<RowValues> v(rows);
    std::size_t tx = 0, n = 0;
    auto t0 = Clock::now();
    auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    do {
        for (auto& r : v) r.set(++counter);
        pg.pipelined_tx(v);
        ++tx;
        n += rows;
    } while (Clock::now() < end);
    double el = std::chrono::duration<double>(Clock::now() - t0).count();
    return {static_cast<double>(n) / el, static_cast<double>(tx) / el};
}

Round median_of(std::vector<Round> v) {
    std::sort(v.begin(), v.end(), [](const Round& a, const Round& b) { return a.rows_per_s < b.rows_per_s; });
    return v[(v.size() - 1) / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr,
                     "usage: %s sqlite PATH | postgres URL  [--seconds S=3] [--rounds R=3] [--batch B=100] "
                     "[--synchronous full|normal]\n",
                     argv[0]);
        return 2;
    }
    std::string kind = argv[1], target = argv[2], synchronous = "full";
    double seconds = 3;
    int rounds = 3;
    std::size_t batch = 100;
    for (int i = 3; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--seconds") seconds = std::atof(argv[i + 1]);
        else if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
        else if (a == "--batch") batch = static_cast<std::size_t>(std::atol(argv[i + 1]));
        else if (a == "--synchronous") synchronous = argv[i + 1];
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        }
    }
    if (seconds <= 0 || rounds < 1 || batch < 1 || (synchronous != "full" && synchronous != "normal")) {
        std::fprintf(stderr, "bad option value\n");
        return 2;
    }
    try {
        std::unique_ptr<Backend> b;
        Postgres* pg_raw = nullptr;
        std::string settings;
        if (kind == "sqlite") {
            b = std::make_unique<Sqlite>(target, synchronous);
            settings = "journal_mode=WAL,synchronous=" + synchronous;
        } else if (kind == "postgres") {
            auto pg = std::make_unique<Postgres>(target);
            settings = pg->settings();
            pg_raw = pg.get();
            b = std::move(pg);
        } else {
            std::fprintf(stderr, "first argument: sqlite or postgres\n");
            return 2;
        }
        unsigned long long counter = 0;
        measure(*b, 1, std::min(0.5, seconds), counter);  // warm-up
        std::vector<Round> single, batched, piped;
        for (int r = 0; r < rounds; ++r) {
            single.push_back(measure(*b, 1, seconds, counter));
            batched.push_back(measure(*b, batch, seconds, counter));
            if (pg_raw) piped.push_back(measure_pipelined(*pg_raw, batch, seconds, counter));
        }
        auto s = median_of(single), m = median_of(batched);
        std::printf("%s (%s): 1 row per transaction: %.0f commits/s; %zu rows per transaction: %.0f rows/s (%.0f commits/s)",
                    kind.c_str(), settings.c_str(), s.tx_per_s, batch, m.rows_per_s, m.tx_per_s);
        Round pp{0, 0};
        if (!piped.empty()) {
            pp = median_of(piped);
            std::printf("; pipelined: %.0f rows/s (%.0f commits/s)", pp.rows_per_s, pp.tx_per_s);
        }
        std::printf(" (median of %d rounds of %.1f s)\n", rounds, seconds);
        std::printf("RESULT backend=%s single_tx_per_s=%.1f batch=%zu batch_rows_per_s=%.1f batch_tx_per_s=%.1f", kind.c_str(),
                    s.tx_per_s, batch, m.rows_per_s, m.tx_per_s);
        if (!piped.empty()) std::printf(" pipelined_rows_per_s=%.1f pipelined_tx_per_s=%.1f", pp.rows_per_s, pp.tx_per_s);
        std::printf(" settings=%s\n", settings.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_db_ceiling: %s\n", e.what());
        return 1;
    }
    return 0;
}
