// Audit retention (auth.audit_retention_days): entries older than the limit are deleted in
// batches; newer ones stay; 0 keeps everything. Time comes from a ManualClock.
#include "modules/auth/service.hpp"

#include "core/db/migrator.hpp"
#include "core/time/time.hpp"
#include "core/util/embedded.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <soci/soci.h>

using namespace arclight;

namespace {

template <class T>
T run(boost::asio::awaitable<T> task) {
    boost::asio::io_context io;
    auto fut = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
    io.run();
    return fut.get();
}

constexpr std::int64_t kDay = 24LL * 3600 * 1000;

long long audit_count(Db& db) {
    long long n = 0;
    db.with_session([&](soci::session& s) { s << "SELECT COUNT(*) FROM auth_audit", soci::into(n); });
    return n;
}

}  // namespace

TEST_CASE("auth: audit entries older than auth.audit_retention_days are deleted in batches, newer ones kept") {
    test::TestDatabase tdb;
    auto db = tdb.open();
    apply_migrations(*db, collect_migrations(embedded_schema()), {"auth"});
    ManualClock clock(1'800'000'000'000);
    PermissionCatalog permissions;
    auth::AuthConfig cfg;
    cfg.audit_retention_days = 365;
    auth::AuthService svc(*db, cfg, permissions, clock);
    auto record = [&](const std::string& action) {
        run(svc.record(auth::AuditEntry{"", "otto", action, "", "success", "127.0.0.1"}));
    };
    for (int i = 0; i < 7; ++i) record("old." + std::to_string(i));  // recorded at t0
    clock.advance(200 * kDay);
    record("newer");  // t0 + 200 days
    clock.advance(166 * kDay);  // t0 + 366 days: the first seven are past 365 days

    auth::AuthConfig keep_cfg = cfg;
    keep_cfg.audit_retention_days = 0;
    auth::AuthService keep(*db, keep_cfg, permissions, clock);
    CHECK(run(keep.purge_audit(2)) == 0);
    CHECK(audit_count(*db) == 8);

    CHECK(run(svc.purge_audit(2)) == 7);  // four batches
    CHECK(audit_count(*db) == 1);
    auto page = run(svc.list_audit(10, std::nullopt));
    REQUIRE(page.items.size() == 1);
    CHECK(page.items[0].entry.action == "newer");
    CHECK(run(svc.purge_audit(2)) == 0);
    clock.advance(200 * kDay);
    CHECK(run(svc.purge_audit(2)) == 1);
    CHECK(audit_count(*db) == 0);
}

TEST_CASE("auth: the audit retention setting is validated and shown with the audit log") {
    CHECK_THROWS(test::make_config({{"auth.audit_retention_days", "-5"}}));
    test::TestServer srv(test::Overrides{{"auth.audit_retention_days", "90"}});
    auto r = test::http(srv.port(), "GET", "/api/v1/auth/audit", {}, srv.admin());
    REQUIRE(r.status == 200);
    CHECK(r.json().at("retention_days").as_int64() == 90);
}
