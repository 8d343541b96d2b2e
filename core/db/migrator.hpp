#pragma once
// The migration runner: schema/<module>/NNNN_<what>.sql, with optional .sqlite.sql/.postgres.sql
// variants, applied in module order and version order, each in its own transaction, recorded in
// schema_migrations with a SHA-256 checksum. An applied migration whose file changed stops
// start-up. A database-wide lock (pg_advisory_lock / SQLite's write lock) keeps two instances
// that start at once from racing.

#include "core/db/db.hpp"
#include "core/util/embedded.hpp"

#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace arclight {

struct Migration {
    std::string module;
    int version = 0;
    std::string name;            ///< file name without variant and extension
    std::string common_sql;      ///< NNNN_name.sql
    std::string sqlite_sql;      ///< NNNN_name.sqlite.sql
    std::string postgres_sql;    ///< NNNN_name.postgres.sql
    bool has_common = false, has_sqlite = false, has_postgres = false;

    /// The script for a backend; throws when neither a variant nor a common file exists.
    const std::string& sql_for(DbBackend backend) const;
};

class MigrationError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Groups files (path relative to schema/, e.g. "system/0001_instances.sql") into migrations.
/// Throws MigrationError on a malformed name or a duplicate version.
std::vector<Migration> collect_migrations(std::span<const EmbeddedFile> files);

struct MigrationReport {
    std::vector<std::string> applied;  ///< "module/NNNN_name" for each newly applied migration
    std::size_t already_applied = 0;
};

/// Applies pending migrations of `modules` (in that order; a module without files is skipped).
MigrationReport apply_migrations(Db& db, const std::vector<Migration>& migrations,
                                 const std::vector<std::string>& modules);

}  // namespace arclight
