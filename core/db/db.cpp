#include "core/db/db.hpp"

#include "core/errors/error.hpp"
#include "core/log/log.hpp"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sqlite3.h>
#include <libpq-fe.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

namespace arclight {

DbUrl parse_db_url(const std::string& url) {
    if (url.rfind("sqlite:", 0) == 0) {
        auto path = url.substr(7);
        if (path.rfind("//", 0) == 0) path = path.substr(2);  // sqlite:///abs/path
        if (path.empty()) throw std::invalid_argument("sqlite URL has no file path (expected sqlite:<path>)");
        return {DbBackend::sqlite, path};
    }
    if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
        // libpq parses the URI; SOCI gets the equivalent keyword=value string (it does not take URIs).
        char* err = nullptr;
        PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
        if (!opts) {
            std::string msg = err ? err : "unparseable";
            PQfreemem(err);
            while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
            throw std::invalid_argument("invalid PostgreSQL URL: " + msg);
        }
        std::string conninfo;
        bool has_timeout = false;
        for (auto* o = opts; o->keyword; ++o) {
            if (!o->val) continue;
            if (std::string_view(o->keyword) == "connect_timeout") has_timeout = true;
            std::string v;
            for (const char* c = o->val; *c; ++c) {
                if (*c == '\'' || *c == '\\') v += '\\';
                v += *c;
            }
            conninfo += fmt::format("{}{}='{}'", conninfo.empty() ? "" : " ", o->keyword, v);
        }
        PQconninfoFree(opts);
        // A connection attempt to an unreachable server ends in bounded time (libpq waits forever
        // by default); the URL can set its own.
        if (!has_timeout) conninfo += " connect_timeout='5'";
        return {DbBackend::postgres, conninfo};
    }
    throw std::invalid_argument(fmt::format("unsupported database URL \"{}\" (expected sqlite:<path> or postgresql://...)",
                                            url.substr(0, url.find(':'))));
}

Db::Db(DbOptions options, boost::asio::any_io_executor blocking)
    : options_(std::move(options)), blocking_(std::move(blocking)) {
    auto parsed = parse_db_url(options_.url);
    backend_ = parsed.backend;
    if (options_.pool_size == 0) options_.pool_size = 1;
    if (backend_ == DbBackend::sqlite && parsed.target != ":memory:") {
        auto parent = std::filesystem::path(parsed.target).parent_path();
        if (!parent.empty()) std::filesystem::create_directories(parent);
    }
    pool_ = std::make_unique<soci::connection_pool>(options_.pool_size);
    for (std::size_t i = 0; i < options_.pool_size; ++i) configure(pool_->at(i));
}

void Db::configure(soci::session& s) const {
    auto parsed = parse_db_url(options_.url);
    if (backend_ == DbBackend::sqlite) {
        s.open(soci::sqlite3, "db=" + parsed.target);
        s << fmt::format("PRAGMA busy_timeout = {}", options_.busy_timeout_ms);
        // Before anything writes the file's header (journal_mode = WAL does): a new file is
        // created with incremental auto-vacuum, so space freed by deletions can be handed back
        // (reclaim_space). An existing file is left alone (the pragma would write its header, which
        // fails on a full disk); the one-time VACUUM of ensure_incremental_vacuum() switches it.
        int pages = 0;
        s << "PRAGMA page_count", soci::into(pages);
        if (pages == 0) s << "PRAGMA auto_vacuum = INCREMENTAL";  // it writes on an existing file
        s << "PRAGMA journal_mode = WAL";
        s << "PRAGMA foreign_keys = ON";
        s << (options_.sqlite_synchronous == "normal" ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
    } else {
        s.open(soci::postgresql, parsed.target);
        s << "SET TIME ZONE 'UTC'";
        s << "SET application_name = 'arclight'";
        s << "SET client_min_messages = warning";
    }
}

std::unique_ptr<soci::session> Db::open_dedicated() const {
    auto s = std::make_unique<soci::session>();
    configure(*s);
    return s;
}

Db::~Db() = default;

namespace {
thread_local int leases_held = 0;

Error unavailable() {
    return Error(ErrorCode::service_unavailable, "the database is unavailable; try again shortly")
        .with_header("Retry-After", "2");
}

// SQLite failures of the moment: the disk is full (SQLITE_FULL 13), the file or its directory is
// read-only (SQLITE_READONLY 8), an I/O error (SQLITE_IOERR 10), the file cannot be opened
// (SQLITE_CANTOPEN 14). Nothing was written; the same statement works once the cause is gone.
const char* sqlite_unavailable_reason(int code) {
    switch (code & 0xff) {
        case 13: return "the database's disk is full";
        case 8: return "the database file is read-only";
        case 10: return "the database had an I/O error";
        case 14: return "the database file cannot be opened";
        default: return nullptr;
    }
}
}  // namespace

bool is_transient_sqlite_error(int code) noexcept { return sqlite_unavailable_reason(code) != nullptr; }

// PostgreSQL SQLSTATEs that mean "the server cannot do it now" rather than "this request is
// wrong": class 53 (insufficient resources: 53100 disk full, 53200 out of memory, 53300 too many
// connections), 57P03 (cannot connect now: starting up or shutting down), class 08 (connection).
static const char* pg_unavailable_reason(const std::string& sqlstate) noexcept {
    if (sqlstate == "53100") return "the database's disk is full";
    if (sqlstate.rfind("53", 0) == 0) return "the database is out of resources";
    if (sqlstate == "57P03") return "the database is starting up or shutting down";
    if (sqlstate.rfind("08", 0) == 0) return "the connection to the database failed";
    return nullptr;
}

bool Db::connected(soci::session& s) const {
    if (backend_ != DbBackend::postgres) return true;
    auto* be = static_cast<soci::postgresql_session_backend*>(s.get_backend());
    return be && be->conn_ && PQstatus(be->conn_) == CONNECTION_OK;
}

Db::Lease::Lease(Db& db) : db_(db), pos_(0), session_(nullptr) {
    if (leases_held > 0)
        throw std::logic_error("a database session was requested while this thread holds one (nested Db::run/with_session)");
    pos_ = db.pool_->lease();
    session_ = &db.pool_->at(pos_);
    if (!db.connected(*session_)) {
        try {
            session_->close();
            db.configure(*session_);
        } catch (const std::exception& e) {
            db.pool_->give_back(pos_);
            log::warn("db", "reconnecting a pooled session failed: {}", e.what());
            throw unavailable();
        }
        log::info("db", "a pooled session reconnected");
    }
    ++leases_held;
}

Db::Lease::~Lease() {
    --leases_held;
    db_.pool_->give_back(pos_);
}

void Db::Lease::rethrow_if_unavailable() const {
    if (!db_.connected(*session_)) throw unavailable();
    try {
        throw;
    } catch (const soci::postgresql_soci_error& e) {
        if (const char* why = pg_unavailable_reason(e.sqlstate())) {
            log::warn("db", "a statement failed: {} ({})", why, e.what());
            throw Error(ErrorCode::service_unavailable, std::string(why) + "; try again shortly").with_header("Retry-After", "5");
        }
    } catch (const soci::sqlite3_soci_error& e) {
        if (const char* why = sqlite_unavailable_reason(e.result())) {
            log::warn("db", "a statement failed: {} ({})", why, e.what());
            throw Error(ErrorCode::service_unavailable, std::string(why) + "; changes cannot be stored until it is fixed, try again shortly")
                .with_header("Retry-After", "5");
        }
    } catch (...) {
    }
}

namespace {
bool select_one(soci::session& s) noexcept {
    try {
        int one = 0;
        s << "SELECT 1", soci::into(one);
        return one == 1;
    } catch (...) {
        return false;
    }
}
}  // namespace

bool Db::ping() noexcept {
    try {
        return with_session(select_one);
    } catch (...) {
        return false;
    }
}

boost::asio::awaitable<bool> Db::ping_async() {
    co_return co_await run(select_one);
}

WriteTransaction::WriteTransaction(soci::session& s, bool sqlite) : s_(s) { s_ << (sqlite ? "BEGIN IMMEDIATE" : "BEGIN"); }

WriteTransaction::~WriteTransaction() {
    if (done_) return;
    try {
        s_ << "ROLLBACK";
    } catch (...) {
    }
}

void WriteTransaction::commit() {
    s_ << "COMMIT";
    done_ = true;
}

std::int64_t Db::reclaim_space(soci::session& s, int max_pages) {
    if (backend_ != DbBackend::sqlite || max_pages <= 0) return 0;
    int mode = 0, before = 0, after = 0;
    s << "PRAGMA auto_vacuum", soci::into(mode);
    if (mode != 2) return 0;  // not incremental (a file from before; see ensure_incremental_vacuum)
    s << "PRAGMA freelist_count", soci::into(before);
    if (before == 0) return 0;
    // Through sqlite3_exec: the pragma frees one page per step, and SOCI steps a statement once.
    exec_script(s, fmt::format("PRAGMA incremental_vacuum({})", max_pages));
    s << "PRAGMA freelist_count", soci::into(after);
    return before - after;
}

bool Db::ensure_incremental_vacuum() {
    if (backend_ != DbBackend::sqlite) return false;
    return with_session([&](soci::session& s) {
        int mode = 0;
        s << "PRAGMA auto_vacuum", soci::into(mode);
        if (mode == 2) return false;
        auto t0 = std::chrono::steady_clock::now();
        log::info("db", "switching the SQLite file to incremental auto-vacuum (a one-time VACUUM; it rewrites the file)");
        s << "PRAGMA auto_vacuum = INCREMENTAL";
        s << "VACUUM";
        s << "PRAGMA auto_vacuum", soci::into(mode);
        log::info("db", "VACUUM took {} ms; auto_vacuum is now {}",
                  std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count(),
                  mode == 2 ? "incremental" : "unchanged");
        return mode == 2;
    });
}

void Db::exec_script(soci::session& s, const std::string& sql) {
    if (backend_ == DbBackend::sqlite) {
        auto* be = static_cast<soci::sqlite3_session_backend*>(s.get_backend());
        char* err = nullptr;
        if (sqlite_api::sqlite3_exec(be->conn_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : "unknown error";
            sqlite_api::sqlite3_free(err);
            throw std::runtime_error(msg);
        }
    } else {
        auto* be = static_cast<soci::postgresql_session_backend*>(s.get_backend());
        PGresult* res = PQexec(be->conn_, sql.c_str());
        auto status = PQresultStatus(res);
        std::string msg = PQresultErrorMessage(res);
        PQclear(res);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw std::runtime_error(msg);
    }
}

}  // namespace arclight
