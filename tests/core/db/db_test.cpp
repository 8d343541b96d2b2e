// The session pool: reconnection after a lost connection, outage errors, nested leases.
#include "core/db/db.hpp"
#include "core/errors/error.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>
#include <soci/soci.h>

#include <chrono>
#include <stdexcept>
#include <thread>

using namespace arclight;
using namespace arclight::test;

namespace {

// Ends every connection of the database named `application_name` except the caller's own.
int terminate_connections(soci::session& s, const std::string& application_name) {
    int n = 0;
    s << "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :a "
         "AND datname = current_database() AND pid <> pg_backend_pid()",
        soci::use(application_name), soci::into(n);
    return n;
}

int select_one(soci::session& s) {
    int one = 0;
    s << "SELECT 1", soci::into(one);
    return one;
}

}  // namespace

TEST_CASE("db: a second lease on the same thread throws instead of waiting for itself") {
    TestDatabase tdb;
    auto db = tdb.open(1);
    CHECK_THROWS_AS(db->with_session([&](soci::session&) { return db->with_session(select_one); }), std::logic_error);
    // The pool is whole afterwards.
    CHECK(db->with_session(select_one) == 1);
}

TEST_CASE("db: pooled PostgreSQL sessions whose connections were killed reconnect at their next lease") {
    if (!use_postgres()) return;
    TestDatabase tdb;
    auto db = tdb.open(3);
    auto killer = db->open_dedicated();
    *killer << "SET application_name = 'arclight test killer'";
    for (int i = 0; i < 3; ++i) CHECK(db->with_session(select_one) == 1);
    CHECK(terminate_connections(*killer, "arclight") >= 1);
    // A statement on a killed connection fails as "unavailable" (503, Retry-After), never as an
    // internal error; the session is reconnected by its next lease, so this settles at once.
    int unavailable = 0, ok = 0;
    for (int i = 0; i < 12; ++i) {
        try {
            int one = db->with_session(select_one);
            CHECK(one == 1);
            ++ok;
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::service_unavailable);
            REQUIRE(e.headers().size() == 1);
            CHECK(e.headers()[0].first == "Retry-After");
            ++unavailable;
        }
    }
    CHECK(unavailable <= 3);  // at most once per pooled session
    CHECK(ok >= 9);
    for (int i = 0; i < 6; ++i) CHECK(db->with_session(select_one) == 1);
}

TEST_CASE("db: after PostgreSQL dropped every pooled connection the API answers 503 or works, then works") {
    if (!use_postgres()) return;
    TestServer srv;
    auto killer = srv.app().db().open_dedicated();
    *killer << "SET application_name = 'arclight test killer'";
    CHECK(http(srv.port(), "GET", "/api/v1/workflows", {}, srv.admin()).status == 200);
    CHECK(terminate_connections(*killer, "arclight") >= 1);
    int ok_in_a_row = 0;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ok_in_a_row < 20 && std::chrono::steady_clock::now() < until) {
        auto r = http(srv.port(), "GET", "/api/v1/workflows", {}, srv.admin());
        if (r.status == 200) {
            ++ok_in_a_row;
            continue;
        }
        ok_in_a_row = 0;
        CAPTURE(r.body);
        REQUIRE(r.status == 503);
        CHECK(r.header("retry-after") == "2");
        CHECK(r.header("content-type") == "application/problem+json");
    }
    CHECK(ok_in_a_row == 20);
}

TEST_CASE("db: PostgreSQL out of resources (disk full, too many connections) answers 503, a wrong statement does not") {
    if (!use_postgres()) return;
    TestDatabase tdb;
    auto db = tdb.open(1);
    // The server raises what it raises when its disk is full (53100) or it has no connection
    // slot left (53300); a real full disk cannot be made on this machine without root mounts.
    for (const char* state : {"53100", "53300"}) {
        CAPTURE(state);
        std::string sql = std::string("DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '") + state + "'; END $$";
        try {
            db->with_session([&](soci::session& s) { s << sql; return 0; });
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::service_unavailable);
            REQUIRE(e.headers().size() == 1);
            CHECK(e.headers()[0].first == "Retry-After");
        }
    }
    // A statement that is wrong stays an error of its own kind (not "try again later").
    CHECK_THROWS_AS(db->with_session([](soci::session& s) { s << "SELECT no_such_column FROM no_such_table"; return 0; }),
                    soci::soci_error);
    CHECK(db->with_session(select_one) == 1);
}
