#include "core/db/migrator.hpp"

#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>
#include <soci/soci.h>

#include <thread>

using namespace arclight;
using arclight::test::TestDatabase;

namespace {

int count_rows(Db& db, const std::string& table) {
    return db.with_session([&](soci::session& s) {
        int n = 0;
        s << "SELECT COUNT(*) FROM " + table, soci::into(n);
        return n;
    });
}

const EmbeddedFile kV1[] = {
    {"alpha/0001_create.sql", "CREATE TABLE alpha_items (id TEXT PRIMARY KEY, n INTEGER NOT NULL);\n"
                              "INSERT INTO alpha_items (id, n) VALUES ('a', 1);\n"},
    {"alpha/0002_more.sqlite.sql", "CREATE TABLE alpha_more (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);"},
    {"alpha/0002_more.postgres.sql", "CREATE TABLE alpha_more (id BIGSERIAL PRIMARY KEY, v TEXT);"},
    {"beta/0001_create.sql", "CREATE TABLE beta_items (id TEXT PRIMARY KEY);"},
};

}  // namespace

TEST_CASE("migrations apply in order, once, with the dialect's variant") {
    TestDatabase tdb;
    auto db = tdb.open();
    auto migs = collect_migrations(kV1);
    REQUIRE(migs.size() == 3);

    auto first = apply_migrations(*db, migs, {"alpha", "beta"});
    CHECK(first.applied == std::vector<std::string>{"alpha/0001_create", "alpha/0002_more", "beta/0001_create"});
    CHECK(count_rows(*db, "alpha_items") == 1);
    CHECK(count_rows(*db, "schema_migrations") == 3);
    db->with_session([](soci::session& s) { s << "INSERT INTO alpha_more (v) VALUES ('x')"; });

    auto again = apply_migrations(*db, migs, {"alpha", "beta"});
    CHECK(again.applied.empty());
    CHECK(again.already_applied == 3);
    CHECK(count_rows(*db, "alpha_items") == 1);  // the INSERT did not run twice

    // A module that is not enabled is not migrated.
    auto only_alpha = apply_migrations(*db, migs, {"alpha"});
    CHECK(only_alpha.already_applied == 2);
}

TEST_CASE("an edited migration is refused and nothing is applied") {
    TestDatabase tdb;
    auto db = tdb.open();
    apply_migrations(*db, collect_migrations(kV1), {"alpha", "beta"});
    const EmbeddedFile edited[] = {
        {"alpha/0001_create.sql", "CREATE TABLE alpha_items (id TEXT PRIMARY KEY, n BIGINT NOT NULL);"},
        {"alpha/0003_next.sql", "CREATE TABLE alpha_next (id TEXT PRIMARY KEY);"},
    };
    try {
        apply_migrations(*db, collect_migrations(edited), {"alpha"});
        FAIL("an edited migration was accepted");
    } catch (const MigrationError& e) {
        CHECK(std::string(e.what()).find("alpha/0001_create was edited after it was applied") != std::string::npos);
    }
    CHECK(count_rows(*db, "schema_migrations") == 3);
}

TEST_CASE("a failing migration is rolled back and reported with its name") {
    TestDatabase tdb;
    auto db = tdb.open();
    const EmbeddedFile bad[] = {
        {"gamma/0001_ok.sql", "CREATE TABLE gamma_ok (id TEXT PRIMARY KEY);"},
        {"gamma/0002_bad.sql", "CREATE TABLE gamma_bad (id TEXT PRIMARY KEY);\nTHIS IS NOT SQL;"},
    };
    try {
        apply_migrations(*db, collect_migrations(bad), {"gamma"});
        FAIL("a broken migration was accepted");
    } catch (const MigrationError& e) {
        CHECK(std::string(e.what()).find("migration gamma/0002_bad failed") != std::string::npos);
    }
    // gamma_bad's CREATE TABLE was rolled back with the rest of its migration.
    bool exists = db->with_session([](soci::session& s) {
        try {
            int n = 0;
            s << "SELECT COUNT(*) FROM gamma_bad", soci::into(n);
            return true;
        } catch (const soci::soci_error&) {
            return false;
        }
    });
    CHECK_FALSE(exists);
    // Fixing the file lets the next start continue.
    const EmbeddedFile fixed[] = {
        {"gamma/0001_ok.sql", "CREATE TABLE gamma_ok (id TEXT PRIMARY KEY);"},
        {"gamma/0002_bad.sql", "CREATE TABLE gamma_bad (id TEXT PRIMARY KEY);"},
    };
    CHECK_NOTHROW(apply_migrations(*db, collect_migrations(fixed), {"gamma"}));
    CHECK(count_rows(*db, "gamma_bad") == 0);
}

TEST_CASE("two instances migrating at once apply each migration exactly once") {
    TestDatabase tdb;
    auto db1 = tdb.open();
    auto db2 = tdb.open();
    auto migs = collect_migrations(kV1);
    std::atomic<int> applied{0}, failures{0};
    auto run = [&](Db& db) {
        try {
            applied += static_cast<int>(apply_migrations(db, migs, {"alpha", "beta"}).applied.size());
        } catch (const std::exception& e) {
            MESSAGE("migration failed: " << e.what());
            ++failures;
        }
    };
    std::thread a([&] { run(*db1); });
    std::thread b([&] { run(*db2); });
    a.join();
    b.join();
    CHECK(failures == 0);
    CHECK(applied == 3);
    CHECK(count_rows(*db1, "schema_migrations") == 3);
    CHECK(count_rows(*db1, "alpha_items") == 1);
}

TEST_CASE("malformed schema file names are refused") {
    const EmbeddedFile bad_name[] = {{"alpha/1_create.sql", "SELECT 1;"}};
    CHECK_THROWS_AS(collect_migrations(bad_name), MigrationError);
    const EmbeddedFile nested[] = {{"alpha/sub/0001_x.sql", "SELECT 1;"}};
    CHECK_THROWS_AS(collect_migrations(nested), MigrationError);
    const EmbeddedFile clash[] = {{"alpha/0001_a.sql", "SELECT 1;"}, {"alpha/0001_b.sql", "SELECT 1;"}};
    CHECK_THROWS_AS(collect_migrations(clash), MigrationError);
}

TEST_CASE("the product's own migrations apply on this backend") {
    TestDatabase tdb;
    auto db = tdb.open();
    auto migs = collect_migrations(embedded_schema());
    std::vector<std::string> modules;
    for (const auto& m : migs) {
        if (std::find(modules.begin(), modules.end(), m.module) == modules.end()) modules.push_back(m.module);
    }
    auto rep = apply_migrations(*db, migs, modules);
    CHECK(rep.applied.size() == migs.size());
    CHECK(apply_migrations(*db, migs, modules).applied.empty());
}
