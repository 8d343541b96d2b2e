#include "core/db/migrator.hpp"

#include "core/log/log.hpp"
#include "core/util/crypto.hpp"
#include "core/time/time.hpp"

#include <soci/soci.h>

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>

namespace arclight {
namespace {

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " module TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL, PRIMARY KEY (module, version))";
constexpr const char* kSelectApplied = "SELECT version, name, checksum FROM schema_migrations WHERE module = :m";
constexpr const char* kInsertApplied =
    "INSERT INTO schema_migrations (module, version, name, checksum, applied_at) VALUES (:m, :v, :n, :c, :t)";
// Arbitrary constant key for the PostgreSQL advisory lock that serialises migration runs.
constexpr long long kAdvisoryLockKey = 0x6172636c69676874LL;  // "arclight"

}  // namespace

const std::string& Migration::sql_for(DbBackend backend) const {
    if (backend == DbBackend::sqlite && has_sqlite) return sqlite_sql;
    if (backend == DbBackend::postgres && has_postgres) return postgres_sql;
    if (has_common) return common_sql;
    throw MigrationError(fmt::format("migration {}/{:04}_{} has no script for {}", module, version, name,
                                     backend == DbBackend::sqlite ? "sqlite" : "postgres"));
}

std::vector<Migration> collect_migrations(std::span<const EmbeddedFile> files) {
    std::map<std::pair<std::string, int>, Migration> by_key;
    for (const auto& f : files) {
        std::string path(f.path);
        auto slash = path.find('/');
        if (slash == std::string::npos || path.find('/', slash + 1) != std::string::npos) {
            throw MigrationError(fmt::format("schema file {} must be schema/<module>/NNNN_<what>.sql", path));
        }
        std::string module = path.substr(0, slash), file = path.substr(slash + 1);
        if (file.size() < 10 || file.substr(file.size() - 4) != ".sql" || file[4] != '_' ||
            !std::all_of(file.begin(), file.begin() + 4, [](char c) { return c >= '0' && c <= '9'; })) {
            throw MigrationError(fmt::format("schema file {} must be named NNNN_<what>.sql", path));
        }
        int version = std::stoi(file.substr(0, 4));
        std::string stem = file.substr(5, file.size() - 9);
        enum { common, sqlite, postgres } variant = common;
        if (stem.size() > 7 && stem.ends_with(".sqlite")) {
            variant = sqlite;
            stem.resize(stem.size() - 7);
        } else if (stem.size() > 9 && stem.ends_with(".postgres")) {
            variant = postgres;
            stem.resize(stem.size() - 9);
        }
        auto& m = by_key[{module, version}];
        if (m.module.empty()) {
            m.module = module;
            m.version = version;
            m.name = stem;
        } else if (m.name != stem) {
            throw MigrationError(fmt::format("schema/{}: version {:04} is used by both {} and {}", module, version, m.name, stem));
        }
        bool& has = variant == common ? m.has_common : variant == sqlite ? m.has_sqlite : m.has_postgres;
        std::string& sql = variant == common ? m.common_sql : variant == sqlite ? m.sqlite_sql : m.postgres_sql;
        if (has) throw MigrationError(fmt::format("duplicate schema file {}", path));
        has = true;
        sql.assign(f.data);
    }
    std::vector<Migration> out;
    for (auto& [k, m] : by_key) out.push_back(std::move(m));
    return out;
}

MigrationReport apply_migrations(Db& db, const std::vector<Migration>& migrations,
                                 const std::vector<std::string>& modules) {
    MigrationReport report;
    db.with_session([&](soci::session& s) {
        const bool pg = db.backend() == DbBackend::postgres;
        // Take the lock before anything else, so that even the CREATE TABLE cannot race.
        if (pg) {
            s << "SELECT pg_advisory_lock(" + std::to_string(kAdvisoryLockKey) + ")";
        } else {
            s << "BEGIN IMMEDIATE";
        }
        try {
            s << kCreateTable;
            for (const auto& module : modules) {
                std::map<int, std::pair<std::string, std::string>> applied;  // version -> (name, checksum)
                {
                    int version = 0;
                    std::string name, checksum;
                    soci::statement st = (s.prepare << kSelectApplied, soci::use(module), soci::into(version),
                                          soci::into(name), soci::into(checksum));
                    st.execute();
                    while (st.fetch()) applied[version] = {name, checksum};
                }
                for (const auto& m : migrations) {
                    if (m.module != module) continue;
                    const auto& sql = m.sql_for(db.backend());
                    auto checksum = sha256_hex(sql);
                    auto label = fmt::format("{}/{:04}_{}", m.module, m.version, m.name);
                    if (auto it = applied.find(m.version); it != applied.end()) {
                        if (it->second.second != checksum) {
                            throw MigrationError(fmt::format(
                                "migration {} was edited after it was applied (checksum {} in the database, {} now); "
                                "add a new migration instead",
                                label, it->second.second.substr(0, 12), checksum.substr(0, 12)));
                        }
                        ++report.already_applied;
                        continue;
                    }
                    if (pg) s << "BEGIN";
                    else s << "SAVEPOINT arclight_migration";
                    try {
                        db.exec_script(s, sql);
                        long long t = now_ms();
                        int version = m.version;
                        s << kInsertApplied, soci::use(m.module), soci::use(version), soci::use(m.name),
                            soci::use(checksum), soci::use(t);
                        if (pg) s << "COMMIT";
                        else s << "RELEASE SAVEPOINT arclight_migration";
                    } catch (const MigrationError&) {
                        throw;
                    } catch (const std::exception& e) {
                        if (pg) s << "ROLLBACK";
                        else s << "ROLLBACK TO SAVEPOINT arclight_migration";
                        throw MigrationError(fmt::format("migration {} failed: {}", label, e.what()));
                    }
                    log::info("migrate", "applied {}", label);
                    report.applied.push_back(label);
                }
            }
        } catch (...) {
            try {
                if (pg) s << "SELECT pg_advisory_unlock(" + std::to_string(kAdvisoryLockKey) + ")";
                else s << "ROLLBACK";
            } catch (...) {
            }
            throw;
        }
        if (pg) s << "SELECT pg_advisory_unlock(" + std::to_string(kAdvisoryLockKey) + ")";
        else s << "COMMIT";
    });
    return report;
}

}  // namespace arclight
