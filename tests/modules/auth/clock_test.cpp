// The auth service's expiry checks take their time from an injected Clock.
#include "modules/auth/service.hpp"

#include "core/db/migrator.hpp"
#include "core/time/time.hpp"
#include "core/util/embedded.hpp"
#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

using namespace arclight;

namespace {

// Runs one coroutine to completion on a private io_context (the Db pool does the blocking work).
template <class T>
T run(boost::asio::awaitable<T> task) {
    boost::asio::io_context io;
    auto fut = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
    io.run();
    return fut.get();
}

ErrorCode failure(boost::asio::awaitable<std::shared_ptr<const Principal>> task) {
    try {
        run(std::move(task));
    } catch (const Error& e) {
        return e.code();
    }
    return ErrorCode::internal;
}

HttpRequest with_header(std::string name, std::string value) {
    HttpRequest r;
    r.remote_address = "127.0.0.1";
    r.headers.emplace_back(std::move(name), std::move(value));
    return r;
}

}  // namespace

TEST_CASE("auth: session idle expiry and API key expiry follow the injected clock") {
    test::TestDatabase tdb;
    auto db = tdb.open();
    apply_migrations(*db, collect_migrations(embedded_schema()), {"auth"});
    ManualClock clock(1'800'000'000'000);
    auth::AuthConfig cfg;
    cfg.session_idle_ms = 60'000;
    cfg.api_key_cache_ms = 3'600'000;  // the cache must not outlive the key's expiry either
    PermissionCatalog permissions;
    auth::AuthService svc(*db, cfg, permissions, clock);
    const std::string password = "correct horse battery staple";
    svc.create_user("otto", password, "admin");

    HttpRequest from_loopback;
    from_loopback.remote_address = "127.0.0.1";
    auto login = run(svc.login("otto", password, from_loopback));
    CHECK(login.user.last_login_at == clock.now_ms());
    auto browser = with_header("Cookie", std::string(auth::kSessionCookie) + "=" + login.session_id);
    auto who = run(svc.authenticate(browser));
    REQUIRE(who);
    CHECK(who->username == "otto");

    // A session lives session_idle_ms after it was last seen, by the clock and nothing else.
    clock.advance(59'999);
    CHECK(run(svc.authenticate(browser)) != nullptr);
    clock.advance(1);
    CHECK(failure(svc.authenticate(browser)) == ErrorCode::unauthorized);

    // An API key expires at its expires_at, even while its principal is cached.
    CHECK_THROWS_AS(run(svc.create_key(*who, "past", {"*"}, clock.now_ms(), "", from_loopback)), Error);
    auto key = run(svc.create_key(*who, "short", {"*"}, clock.now_ms() + 10'000, "", from_loopback));
    CHECK(key.key.created_at == clock.now_ms());
    auto client = with_header("Authorization", "Bearer " + key.secret);
    CHECK(run(svc.authenticate(client)) != nullptr);  // cached from here on
    clock.advance(9'999);
    CHECK(run(svc.authenticate(client)) != nullptr);
    clock.advance(1);
    CHECK(failure(svc.authenticate(client)) == ErrorCode::unauthorized);
}
