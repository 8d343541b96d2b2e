#pragma once
// Database access: a SOCI session pool over SQLite or PostgreSQL. Queries are blocking, so they
// run on the blocking thread pool via run(); an I/O thread never waits on the database.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

namespace soci {
class session;
class connection_pool;
}  // namespace soci

namespace arclight {

enum class DbBackend { sqlite, postgres };

struct DbOptions {
    std::string url = "sqlite:data/arclight.db";  ///< "sqlite:<path>" or "postgresql://..." (libpq URI)
    std::size_t pool_size = 8;
    std::string sqlite_synchronous = "full";        ///< full | normal
    int busy_timeout_ms = 5000;
};

/// SQLite result codes of failures of the moment (full disk, read-only file, I/O error, file
/// that cannot be opened): the statement did nothing and may work later. Never a refusal of the
/// change itself.
bool is_transient_sqlite_error(int code) noexcept;

/// Parses a database URL. Throws std::invalid_argument naming what is wrong.
struct DbUrl {
    DbBackend backend;
    std::string target;  ///< file path (sqlite) or libpq connection string (postgres)
};
DbUrl parse_db_url(const std::string& url);

/// A transaction that will write. On SQLite it starts with BEGIN IMMEDIATE, so a transaction
/// that reads before it writes waits for the write lock (busy_timeout) up front instead of
/// failing with "database is locked" when another writer got in between. Rolls back unless
/// committed.
class WriteTransaction {
public:
    WriteTransaction(soci::session& s, bool sqlite);
    ~WriteTransaction();
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;
    void commit();

private:
    soci::session& s_;
    bool done_ = false;
};

class Db {
public:
    /// Opens `pool_size` sessions (blocking). Throws soci::soci_error or std::invalid_argument.
    Db(DbOptions options, boost::asio::any_io_executor blocking);
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    DbBackend backend() const noexcept { return backend_; }
    /// The URL the pool was opened with (for a module's own dedicated connection, e.g. LISTEN).
    const std::string& url() const noexcept { return options_.url; }
    const char* backend_name() const noexcept { return backend_ == DbBackend::sqlite ? "sqlite" : "postgres"; }

    /// A session borrowed from the pool for the lifetime of the lease. Blocks while all are busy.
    ///
    /// A PostgreSQL session whose connection broke (database restarted, connection killed) is
    /// reconnected when it is leased; when that fails the lease throws Error(service_unavailable)
    /// with Retry-After. One thread holds at most one lease: a second one while the first is held
    /// could wait for itself once the pool is exhausted, so it throws std::logic_error instead.
    class Lease {
    public:
        explicit Lease(Db& db);
        ~Lease();
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        soci::session& session() noexcept { return *session_; }
        /// Called inside the catch of a failed statement: when it failed because the connection
        /// is gone (the session is reconnected by its next lease), or on SQLite because the disk is
        /// full, the file read-only or an I/O error occurred (is_transient_sqlite_error), throws
        /// Error(service_unavailable) with Retry-After and a detail naming the cause instead;
        /// otherwise returns and the caller rethrows.
        void rethrow_if_unavailable() const;

    private:
        Db& db_;
        std::size_t pos_;
        soci::session* session_;
    };

    /// Runs f(session) on the blocking pool and resumes the caller with its result (or exception).
    template <class F>
    auto run(F f) -> boost::asio::awaitable<std::invoke_result_t<F&, soci::session&>> {
        using R = std::invoke_result_t<F&, soci::session&>;
        // The task is a named local: GCC 12 may destroy a non-trivial temporary inside a co_await
        // expression twice, so coroutine code here keeps such temporaries out of co_await.
        auto task = [this, f = std::move(f)]() mutable -> boost::asio::awaitable<R> {
            Lease lease(*this);
            try {
                co_return f(lease.session());
            } catch (...) {
                lease.rethrow_if_unavailable();
                throw;
            }
        };
        co_return co_await boost::asio::co_spawn(blocking_, std::move(task), boost::asio::use_awaitable);
    }

    /// Blocking variant for start-up, CLI commands and tests.
    template <class F>
    auto with_session(F&& f) -> std::invoke_result_t<F&, soci::session&> {
        Lease lease(*this);
        try {
            return f(lease.session());
        } catch (...) {
            lease.rethrow_if_unavailable();
            throw;
        }
    }

    /// A new session outside the pool, configured like the pool's (blocking). For a component that
    /// keeps a connection for itself (the workflow engine's state writers).
    std::unique_ptr<soci::session> open_dedicated() const;

    /// True when a trivial query succeeds (blocking).
    bool ping() noexcept;
    /// ping() on the blocking pool.
    boost::asio::awaitable<bool> ping_async();
    boost::asio::any_io_executor blocking_executor() const { return blocking_; }

    /// SQLite: hands up to `max_pages` free pages back to the file system (PRAGMA
    /// incremental_vacuum) after deletions, in one short write transaction; the number freed.
    /// 0 on PostgreSQL (autovacuum's business) and on files without incremental auto-vacuum.
    std::int64_t reclaim_space(soci::session& s, int max_pages);
    /// SQLite: a file created before Arclight set incremental auto-vacuum is switched once with a
    /// VACUUM (rewrites the file: takes time and free disk space of the file's size). True when it
    /// switched now. New files are created incremental (configure()). No-op on PostgreSQL.
    bool ensure_incremental_vacuum();

    /// Executes a multi-statement SQL script on `s` with the backend's native API (SOCI runs only
    /// the first statement of a script on SQLite).
    void exec_script(soci::session& s, const std::string& sql);

private:
    void configure(soci::session& s) const;
    /// PostgreSQL: whether the session's connection is up (always true on SQLite).
    bool connected(soci::session& s) const;
    DbBackend backend_;
    DbOptions options_;
    boost::asio::any_io_executor blocking_;
    std::unique_ptr<soci::connection_pool> pool_;
};

}  // namespace arclight
