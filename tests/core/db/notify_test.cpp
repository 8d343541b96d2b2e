#include <doctest/doctest.h>

#include "core/db/db.hpp"
#include "core/db/notify.hpp"
#include "tests/support/test_env.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <soci/soci.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

using arclight::NotifyRelay;
using arclight::NotifyRelayOptions;
using namespace std::chrono_literals;

namespace {

constexpr auto kPatience = 20s;  // generous: the machine is shared; nothing here sleeps

std::chrono::steady_clock::time_point soon() { return std::chrono::steady_clock::now() + kPatience; }

NotifyRelayOptions named(std::string application_name) {
    NotifyRelayOptions o;
    o.application_name = std::move(application_name);
    return o;
}

// What one subscriber received, with a wait for the n-th item.
class Inbox {
public:
    NotifyRelay::Handler handler() {
        return [this](std::string payload) {
            {
                std::lock_guard lk(m_);
                got_.push_back(std::move(payload));
            }
            cv_.notify_all();
        };
    }
    NotifyRelay::Resync resync() {
        return [this] {
            {
                std::lock_guard lk(m_);
                ++resyncs_;
            }
            cv_.notify_all();
        };
    }
    bool wait_count(std::size_t n) {
        std::unique_lock lk(m_);
        return cv_.wait_for(lk, kPatience, [&] { return got_.size() >= n; });
    }
    bool wait_resyncs(int n) {
        std::unique_lock lk(m_);
        return cv_.wait_for(lk, kPatience, [&] { return resyncs_ >= n; });
    }
    std::vector<std::string> items() {
        std::lock_guard lk(m_);
        return got_;
    }
    int resyncs() {
        std::lock_guard lk(m_);
        return resyncs_;
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::vector<std::string> got_;
    int resyncs_ = 0;
};

using Items = std::vector<std::string>;

}  // namespace

TEST_SUITE("notify") {

TEST_CASE("notify relay: channel names and payload size are checked on both backends") {
    CHECK(NotifyRelay::valid_channel("arclight_workflow"));
    CHECK(NotifyRelay::valid_channel("a"));
    CHECK(NotifyRelay::valid_channel(std::string(63, 'a')));
    CHECK_FALSE(NotifyRelay::valid_channel(""));
    CHECK_FALSE(NotifyRelay::valid_channel(std::string(64, 'a')));
    CHECK_FALSE(NotifyRelay::valid_channel("Arclight"));
    CHECK_FALSE(NotifyRelay::valid_channel("1abc"));
    CHECK_FALSE(NotifyRelay::valid_channel("_abc"));
    CHECK_FALSE(NotifyRelay::valid_channel("a-b"));
    CHECK_FALSE(NotifyRelay::valid_channel("a b"));
    CHECK_FALSE(NotifyRelay::valid_channel("a;LISTEN b"));
    CHECK_FALSE(NotifyRelay::valid_channel("a\"b"));

    arclight::test::TestDatabase tdb;
    auto db = tdb.open();
    NotifyRelay relay(*db);
    CHECK_THROWS_AS(relay.subscribe("Bad-Channel", [](std::string) {}), std::invalid_argument);
    CHECK_THROWS_AS(relay.subscribe("ok", nullptr), std::invalid_argument);
    CHECK_THROWS_AS(relay.notify("Bad-Channel", ""), std::invalid_argument);
    CHECK_THROWS_AS(relay.notify("ok", std::string(8000, 'x')), std::invalid_argument);
    relay.start();
    CHECK(relay.wait_ready(soon()));
    CHECK_NOTHROW(relay.notify("ok", std::string(7999, 'x')));
    relay.stop(soon());
    CHECK_FALSE(relay.wait_ready(soon()));
    relay.stop(soon());  // idempotent
}

TEST_CASE("notify relay: SQLite delivers to the relay's own subscribers, in process") {
    if (arclight::test::use_postgres()) return;
    arclight::test::TestDatabase tdb;
    auto db = tdb.open();
    Inbox one, two, other;
    NotifyRelay relay(*db);
    auto s1 = relay.subscribe("arclight_test", one.handler(), one.resync());
    relay.subscribe("arclight_test", two.handler());
    relay.subscribe("arclight_other", other.handler());
    relay.notify("arclight_test", "queued before start");  // delivered once running
    relay.start();
    REQUIRE(relay.wait_ready(soon()));
    CHECK(relay.connected());
    CHECK(relay.connections() == 1);
    relay.notify("arclight_test", "workflow:42");
    relay.notify("arclight_other", "marker");
    REQUIRE(other.wait_count(1));
    REQUIRE(two.wait_count(2));
    CHECK(one.items() == Items{"queued before start", "workflow:42"});
    CHECK(two.items() == Items{"queued before start", "workflow:42"});
    CHECK(other.items() == Items{"marker"});

    relay.unsubscribe(s1);
    relay.unsubscribe(s1);  // unknown ids are ignored
    relay.notify("arclight_test", "after unsubscribe");
    REQUIRE(two.wait_count(3));
    CHECK(one.items().size() == 2);
    CHECK(one.resyncs() == 0);  // nothing to resync on SQLite
    relay.stop(soon());
    CHECK_FALSE(relay.connected());
}

TEST_CASE("notify relay: PostgreSQL delivers across connections, fans out by channel, unsubscribes") {
    if (!arclight::test::use_postgres()) return;
    arclight::test::TestDatabase tdb;
    auto db_a = tdb.open();  // two instances: two pools, two relays
    auto db_b = tdb.open();
    Inbox a_own, b_one, b_two, b_other;
    NotifyRelay a(*db_a, named("arclight notify relay test a"));
    NotifyRelay b(*db_b, named("arclight notify relay test b"));
    a.subscribe("arclight_test", a_own.handler());
    auto b1 = b.subscribe("arclight_test", b_one.handler());
    b.subscribe("arclight_test", b_two.handler());
    b.subscribe("arclight_other", b_other.handler());
    a.start();
    b.start();
    REQUIRE(a.wait_ready(soon()));
    REQUIRE(b.wait_ready(soon()));
    CHECK(b.connected());
    CHECK(b.connections() == 1);

    a.notify("arclight_test", "workflow:42");
    REQUIRE(b_one.wait_count(1));
    REQUIRE(b_two.wait_count(1));
    CHECK(b_one.items() == Items{"workflow:42"});
    CHECK(b_two.items() == Items{"workflow:42"});
    REQUIRE(a_own.wait_count(1));  // the sender's own subscribers hear it too
    CHECK(a_own.items() == Items{"workflow:42"});

    // Another channel: only its subscriber. Notifications from one sender arrive in order, so once
    // the marker is in, anything meant for the others would have been too.
    a.notify("arclight_other", "");
    a.notify("arclight_test", "marker");
    REQUIRE(b_two.wait_count(2));
    CHECK(b_other.items() == Items{""});
    CHECK(b_one.items() == Items{"workflow:42", "marker"});
    CHECK(b_two.items() == Items{"workflow:42", "marker"});

    // Unsubscribe: the other subscriber of the channel still gets it; a channel can be added late.
    b.unsubscribe(b1);
    Inbox b_late;
    b.subscribe("arclight_late", b_late.handler());
    REQUIRE(b.wait_ready(soon()));
    a.notify("arclight_test", "after unsubscribe");
    a.notify("arclight_late", "late");
    REQUIRE(b_late.wait_count(1));
    REQUIRE(b_two.wait_count(3));
    CHECK(b_two.items().back() == "after unsubscribe");
    CHECK(b_one.items().size() == 2);

    // notify_async goes through the pool as well.
    boost::asio::io_context io;
    boost::asio::co_spawn(io, a.notify_async("arclight_late", "async"), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    io.run();
    REQUIRE(b_late.wait_count(2));
    CHECK(b_late.items() == Items{"late", "async"});
}

TEST_CASE("notify relay: PostgreSQL listener reconnects after its backend is terminated") {
    if (!arclight::test::use_postgres()) return;
    arclight::test::TestDatabase tdb;
    auto db_a = tdb.open();
    auto db_b = tdb.open();
    Inbox got;
    NotifyRelay a(*db_a);
    NotifyRelay b(*db_b, named("arclight notify relay test b"));
    b.subscribe("arclight_test", got.handler(), got.resync());
    a.start();
    b.start();
    REQUIRE(b.wait_ready(soon()));
    a.notify("arclight_test", "before");
    REQUIRE(got.wait_count(1));
    CHECK(got.resyncs() == 0);

    int terminated = 0;
    db_a->with_session([&](soci::session& s) {
        s << "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = 'arclight notify relay test b' AND datname = current_database()",
            soci::into(terminated);
    });
    REQUIRE(terminated == 1);

    // The relay notices, reconnects, LISTENs again and tells its subscribers to resync.
    REQUIRE(got.wait_resyncs(1));
    CHECK(b.connections() == 2);
    REQUIRE(b.wait_ready(soon()));
    a.notify("arclight_test", "after");
    REQUIRE(got.wait_count(2));
    CHECK(got.items() == Items{"before", "after"});

    b.stop(soon());
    CHECK_FALSE(b.connected());
}

}  // TEST_SUITE
