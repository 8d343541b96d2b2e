// Behind a reverse proxy (issue 19, item 3): the client a trusted proxy forwards is the client for
// set-up, login throttling, audit entries, session cookies and the access log; the forwarding
// headers of anyone else change nothing. The test client connects from 127.0.0.1, so a server
// that trusts 127.0.0.1 sees it as a proxy, and one that does not sees it as the client.
#include "core/log/log.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <mutex>
#include <thread>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;

namespace {

using Headers = std::map<std::string, std::string>;

const std::string kSetupBody = R"({"username":"root","password":"a long enough passphrase"})";

HttpResult failed_login(unsigned short port, const std::string& user, const Headers& h) {
    return http(port, "POST", "/api/v1/auth/login",
                json::serialize(json::object{{"username", user}, {"password", "not the password!"}}), h);
}

// The client address of each audit entry of `action`, newest first.
std::vector<std::string> audit_ips(TestServer& s, const std::string& action, const Headers& admin) {
    auto audit = http(s.port(), "GET", "/api/v1/auth/audit?limit=100", {}, admin).json();
    std::vector<std::string> out;
    for (const auto& e : audit.at("items").as_array())
        if (e.at("action").as_string() == action) out.emplace_back(e.at("ip").as_string());
    return out;
}

Headers bearer_of_new_key(unsigned short port, const HttpResult& logged_in) {
    auto cookie = logged_in.header("set-cookie");
    Headers h{{"Cookie", cookie.substr(0, cookie.find(';'))},
              {"X-CSRF-Token", std::string(logged_in.json().at("csrf_token").as_string())}};
    auto k = http(port, "POST", "/api/v1/auth/api-keys", R"({"name":"t","scopes":["*"]})", h);
    REQUIRE_MESSAGE(k.status == 201, k.body);
    return {{"Authorization", "Bearer " + std::string(k.json().at("key").as_string())}};
}

}  // namespace

TEST_CASE("behind a trusted proxy: set-up is refused for a forwarded client that is not on loopback") {
    TestServer s(Overrides{{"server.trusted_proxies", "127.0.0.1,::1"}}, {}, false);
    for (const auto& h : std::vector<Headers>{{{"X-Forwarded-For", "203.0.113.9"}},
                                              // a forged loopback address left of the one the proxy appended
                                              {{"X-Forwarded-For", "127.0.0.1, 203.0.113.9"}},
                                              {{"X-Forwarded-For", "2001:db8::9"}}}) {
        CAPTURE(h.begin()->second);
        auto r = http(s.port(), "POST", "/api/v1/auth/setup", kSetupBody, h);
        CHECK(r.status == 403);
        CHECK(r.header("content-type") == "application/problem+json");
        CHECK(r.json().at("code").as_string() == "forbidden");
        CHECK(r.json().at("detail").as_string().find("server's own machine") != std::string::npos);
    }
    CHECK(http(s.port(), "GET", "/api/v1/auth/setup").json().at("needed").as_bool());
    // Relayed for a client on the proxy's own machine: allowed, and audited with that address.
    auto ok = http(s.port(), "POST", "/api/v1/auth/setup", kSetupBody, {{"X-Forwarded-For", "127.0.0.1"}});
    REQUIRE_MESSAGE(ok.status == 201, ok.body);
    CHECK(audit_ips(s, "auth.setup", bearer_of_new_key(s.port(), ok)) == std::vector<std::string>{"127.0.0.1"});
}

TEST_CASE("behind a trusted proxy writing Forwarded: its for= is the client; X-Forwarded-For is not read") {
    TestServer s(Overrides{{"server.trusted_proxies", "127.0.0.0/8"}, {"server.forwarded_header", "forwarded"}}, {}, false);
    auto v6 = http(s.port(), "POST", "/api/v1/auth/setup", kSetupBody, {{"Forwarded", R"(for="[2001:db8:cafe::17]:4711";proto=https)"}});
    CHECK(v6.status == 403);
    CHECK(v6.json().at("detail").as_string().find("2001:db8:cafe::17") != std::string::npos);
    // Garbage is never trusted: the client is the peer (here loopback, the proxy itself).
    auto garbage = http(s.port(), "POST", "/api/v1/auth/setup", R"({"username":"x","password":"1"})",
                        {{"Forwarded", "for=\"[2001:db8::1"}});
    CHECK(garbage.status == 422);  // past the loopback check, refused for its password
    // The header this proxy does not write is the client's own word.
    auto ok = http(s.port(), "POST", "/api/v1/auth/setup", kSetupBody, {{"X-Forwarded-For", "203.0.113.9"}});
    REQUIRE_MESSAGE(ok.status == 201, ok.body);
}

TEST_CASE("forwarding headers from a peer that is not a trusted proxy change nothing") {
    // No trusted proxies at all, and a list the test client is not in.
    for (const char* trusted : {"", "10.0.0.0/8,::1"}) {
        CAPTURE(trusted);
        TestServer s(Overrides{{"server.trusted_proxies", trusted}, {"auth.address_free_attempts", "3"},
                               {"auth.login_free_attempts", "1000"}},
                     {}, false);
        // A forged public address does not make the loopback client remote...
        auto ok = http(s.port(), "POST", "/api/v1/auth/setup", kSetupBody,
                       {{"X-Forwarded-For", "203.0.113.9"}, {"Forwarded", "for=203.0.113.9"}, {"X-Forwarded-Proto", "https"}});
        REQUIRE_MESSAGE(ok.status == 201, ok.body);
        CHECK(ok.header("set-cookie").find("Secure") == std::string::npos);
        auto admin = bearer_of_new_key(s.port(), ok);
        CHECK(audit_ips(s, "auth.setup", admin) == std::vector<std::string>{"127.0.0.1"});
        // ...and a new forged address per attempt does not escape the per-address throttle.
        for (int i = 0; i < 4; ++i) {
            CHECK(failed_login(s.port(), "nobody" + std::to_string(i), {{"X-Forwarded-For", "198.51.100." + std::to_string(i)}})
                      .status == 401);
        }
        CHECK(failed_login(s.port(), "nobody9", {{"X-Forwarded-For", "198.51.100.9"}}).status == 429);
        for (const auto& ip : audit_ips(s, "auth.login", admin)) CHECK(ip == "127.0.0.1");
    }
}

TEST_CASE("behind a trusted proxy: clients are throttled and audited each by their own address") {
    TestServer s(Overrides{{"server.trusted_proxies", "127.0.0.1"}, {"auth.address_free_attempts", "3"},
                           {"auth.login_free_attempts", "1000"}});
    Headers alice{{"X-Forwarded-For", "198.51.100.1"}}, bob{{"X-Forwarded-For", "203.0.113.2"}};
    for (int i = 0; i < 4; ++i) CHECK(failed_login(s.port(), "nobody" + std::to_string(i), alice).status == 401);
    auto limited = failed_login(s.port(), "nobody9", alice);
    CHECK(limited.status == 429);
    CHECK(!limited.header("retry-after").empty());
    // Another client behind the same proxy is not locked out with the first.
    CHECK(failed_login(s.port(), "nobody", bob).status == 401);
    auto in = http(s.port(), "POST", "/api/v1/auth/login",
                   json::serialize(json::object{{"username", "admin"}, {"password", TestServer::kAdminPassword}}), bob);
    CHECK(in.status == 200);
    // The proxy's address never stands in for a client's: it is only on the test rig's own login,
    // made directly, without a forwarding header.
    auto ips = audit_ips(s, "auth.login", s.admin());
    CHECK(std::count(ips.begin(), ips.end(), "198.51.100.1") == 5);
    CHECK(std::count(ips.begin(), ips.end(), "203.0.113.2") == 2);
    CHECK(std::count(ips.begin(), ips.end(), "127.0.0.1") == 1);
}

TEST_CASE("behind a trusted proxy: the session cookie is Secure when the client used HTTPS") {
    TestServer s(Overrides{{"server.trusted_proxies", "127.0.0.1"}});
    auto body = json::serialize(json::object{{"username", "admin"}, {"password", TestServer::kAdminPassword}});
    auto https = http(s.port(), "POST", "/api/v1/auth/login", body, {{"X-Forwarded-For", "198.51.100.1"}, {"X-Forwarded-Proto", "https"}});
    REQUIRE(https.status == 200);
    CHECK(https.header("set-cookie").find("; Secure") != std::string::npos);
    auto plain = http(s.port(), "POST", "/api/v1/auth/login", body, {{"X-Forwarded-For", "198.51.100.1"}, {"X-Forwarded-Proto", "http"}});
    REQUIRE(plain.status == 200);
    CHECK(plain.header("set-cookie").find("Secure") == std::string::npos);
}

TEST_CASE("behind a trusted proxy: the access log names the client and the proxy it came through") {
    std::mutex mu;
    std::string logged;
    log::set_observer([&](std::string_view line) {
        std::lock_guard lk(mu);
        logged.append(line);
    });
    auto logged_line = [&](const std::string& needle) {
        // The line is written once the response is; wait for it, not for a guessed time.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            {
                std::lock_guard lk(mu);
                auto at = logged.find(needle);
                if (at != std::string::npos) {
                    auto start = logged.rfind('\n', at);
                    return logged.substr(start == std::string::npos ? 0 : start + 1,
                                         logged.find('\n', at) - (start == std::string::npos ? 0 : start + 1));
                }
            }
            std::this_thread::yield();
        }
        return std::string{};
    };
    {
        TestServer s(Overrides{{"server.trusted_proxies", "127.0.0.1"}, {"server.access_log", "true"}, {"log.level", "info"}});
        CHECK(http(s.port(), "GET", "/healthz", {}, {{"X-Forwarded-For", "198.51.100.7"}, {"X-Request-Id", "via-proxy-1"}})
                  .status == 200);
        auto line = logged_line("id=via-proxy-1");
        CHECK(line.find("198.51.100.7 \"GET /healthz\"") != std::string::npos);
        CHECK(line.find("via=127.0.0.1") != std::string::npos);
        CHECK(http(s.port(), "GET", "/healthz", {}, {{"X-Request-Id", "direct-1"}}).status == 200);
        auto direct = logged_line("id=direct-1");
        CHECK(direct.find("127.0.0.1 \"GET /healthz\"") != std::string::npos);
        CHECK(direct.find("via=") == std::string::npos);
    }
    log::set_observer({});
}

TEST_CASE("server.trusted_proxies: an entry that is not an address or block stops start-up, named") {
    try {
        TestServer s(Overrides{{"server.trusted_proxies", "127.0.0.1,10.0.0.0/33"}});
        FAIL("started");
    } catch (const ConfigError& e) {
        std::string all;
        for (const auto& p : e.problems()) all += p + "\n";
        CHECK(all.find("server.trusted_proxies") != std::string::npos);
        CHECK(all.find("'10.0.0.0/33'") != std::string::npos);
    }
}
