// The auth module against the real server: every route is guarded, sessions, CSRF, API keys,
// throttling, audit, and secrets never leak.
#include "modules/auth/api.hpp"

#include "core/db/db.hpp"
#include "core/http/router.hpp"
#include "core/log/log.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <soci/soci.h>

#include <algorithm>
#include <mutex>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;

namespace {

using Headers = std::map<std::string, std::string>;

struct Browser {
    std::string cookie;  // "arclight_session=..."
    std::string csrf;
    Headers headers(bool with_csrf = true) const {
        Headers h{{"Cookie", cookie}};
        if (with_csrf) h["X-CSRF-Token"] = csrf;
        return h;
    }
};

Browser login(unsigned short port, const std::string& user, const std::string& password, const Headers& extra = {}) {
    auto r = http(port, "POST", "/api/v1/auth/login",
                  json::serialize(json::object{{"username", user}, {"password", password}}), extra);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto c = r.header("set-cookie");
    CHECK(c.find("HttpOnly") != std::string::npos);
    CHECK(c.find("SameSite=Strict") != std::string::npos);
    return {c.substr(0, c.find(';')), std::string(r.json().at("csrf_token").as_string())};
}

std::string create_user(TestServer& s, const std::string& name, const std::string& role) {
    auto r = http(s.port(), "POST", "/api/v1/auth/users",
                  json::serialize(json::object{{"username", name}, {"password", "a long enough passphrase"}, {"role", role}}),
                  s.admin());
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return std::string(r.json().at("id").as_string());
}

std::string create_key(unsigned short port, const Browser& b, json::array scopes) {
    auto r = http(port, "POST", "/api/v1/auth/api-keys", json::serialize(json::object{{"name", "k"}, {"scopes", scopes}}),
                  b.headers());
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return std::string(r.json().at("key").as_string());
}

Headers bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

std::string concrete(const std::string& pattern) {
    std::string out;
    std::size_t i = 0;
    while (i < pattern.size()) {
        if (pattern[i] == '{') {
            out += "x";
            i = pattern.find('}', i) + 1;
        } else {
            out += pattern[i++];
        }
    }
    return out;
}

}  // namespace

TEST_CASE("every non-public route answers 401 without credentials and 403 without its permission") {
    TestServer s;
    auto viewer_id = create_user(s, "vera", "viewer");
    (void)viewer_id;
    auto vera = login(s.port(), "vera", "a long enough passphrase");
    auto viewer_key = create_key(s.port(), vera, {"*"});
    auto admin = login(s.port(), "admin", TestServer::kAdminPassword);
    auto only_system = create_key(s.port(), admin, {"system.read"});
    auto only_flows = create_key(s.port(), admin, {"flows.read"});
    std::size_t checked = 0;
    for (const auto& route : s.app().router().routes()) {
        if (route.permission == kPublic) continue;
        auto path = concrete(route.pattern);
        auto body = route.json_body ? std::string("{}") : std::string();
        auto anon = http(s.port(), route.method, path, body);
        CHECK_MESSAGE(anon.status == 401, route.method << " " << route.pattern << " answered " << anon.status);
        CHECK(anon.header("content-type") == "application/problem+json");
        // A credential that lacks the permission: a viewer (role) where viewers lack it, else an
        // admin's key narrowed to one unrelated scope.
        std::string key = route.permission == "system.read" ? only_flows : only_system;
        bool viewer_has = route.permission == "auth.self" || route.permission.ends_with(".read");
        if (!viewer_has || route.permission == "audit.read") key = viewer_key;
        auto denied = http(s.port(), route.method, path, body, bearer(key));
        CHECK_MESSAGE(denied.status == 403, route.method << " " << route.pattern << " answered " << denied.status);
        ++checked;
    }
    CHECK(checked >= 10);
}

TEST_CASE("sessions: a new id at login, logout revokes, expiry, CSRF") {
    TestServer s;
    auto first = login(s.port(), "admin", TestServer::kAdminPassword);
    // Logging in while presenting a session gives a different id and ends the old one.
    auto second = login(s.port(), "admin", TestServer::kAdminPassword, {{"Cookie", first.cookie}});
    CHECK(second.cookie != first.cookie);
    CHECK(http(s.port(), "GET", "/api/v1/auth/me", {}, first.headers()).status == 401);
    auto me = http(s.port(), "GET", "/api/v1/auth/me", {}, second.headers());
    REQUIRE(me.status == 200);
    CHECK(me.json().at("user").at("username").as_string() == "admin");
    CHECK(me.json().at("csrf_token").as_string() == second.csrf);

    // Unsafe requests with a cookie need the CSRF token.
    auto body = R"({"name":"x","scopes":["*"]})";
    auto missing = http(s.port(), "POST", "/api/v1/auth/api-keys", body, second.headers(false));
    CHECK(missing.status == 403);
    CHECK(missing.json().at("code").as_string() == "csrf-failed");
    auto wrong_headers = second.headers(false);
    wrong_headers["X-CSRF-Token"] = "not-the-token";
    CHECK(http(s.port(), "POST", "/api/v1/auth/api-keys", body, wrong_headers).status == 403);
    CHECK(http(s.port(), "POST", "/api/v1/auth/api-keys", body, second.headers()).status == 201);

    // Logout ends the session.
    auto out = http(s.port(), "POST", "/api/v1/auth/logout", {}, second.headers());
    CHECK(out.status == 204);
    CHECK(out.header("set-cookie").find("Max-Age=0") != std::string::npos);
    CHECK(http(s.port(), "GET", "/api/v1/auth/me", {}, second.headers()).status == 401);

    // An expired session is refused.
    auto third = login(s.port(), "admin", TestServer::kAdminPassword);
    s.app().db().with_session([](soci::session& sql) { sql << "UPDATE auth_sessions SET expires_at = 1"; });
    CHECK(http(s.port(), "GET", "/api/v1/auth/me", {}, third.headers()).status == 401);
}

TEST_CASE("changing the password revokes every session") {
    TestServer s;
    create_user(s, "paula", "editor");
    auto a = login(s.port(), "paula", "a long enough passphrase");
    auto b = login(s.port(), "paula", "a long enough passphrase");
    auto r = http(s.port(), "POST", "/api/v1/auth/password",
                  R"({"current_password":"a long enough passphrase","new_password":"another long passphrase"})", a.headers());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(http(s.port(), "GET", "/api/v1/auth/me", {}, a.headers()).status == 401);
    CHECK(http(s.port(), "GET", "/api/v1/auth/me", {}, b.headers()).status == 401);
    auto c = r.header("set-cookie");
    CHECK(http(s.port(), "GET", "/api/v1/auth/me", {}, {{"Cookie", c.substr(0, c.find(';'))}}).status == 200);
    login(s.port(), "paula", "another long passphrase");
}

TEST_CASE("API keys: scopes are a subset of the owner's permissions, revocation, expiry") {
    TestServer s;
    create_user(s, "otto", "operator");
    auto otto = login(s.port(), "otto", "a long enough passphrase");
    auto key = create_key(s.port(), otto, {"system.read"});
    CHECK(key.rfind("ak_", 0) == 0);
    CHECK(http(s.port(), "GET", "/api/v1/system/info", {}, bearer(key)).status == 200);
    CHECK(http(s.port(), "GET", "/api/v1/auth/me", {}, bearer(key)).status == 403);  // auth.self not in scope

    auto too_much = http(s.port(), "POST", "/api/v1/auth/api-keys", R"({"name":"x","scopes":["users.admin"]})", otto.headers());
    CHECK(too_much.status == 422);
    CHECK(too_much.json().at("errors").at(0).at("pointer").as_string() == "/scopes/0");
    auto past = http(s.port(), "POST", "/api/v1/auth/api-keys",
                     R"({"name":"x","scopes":["*"],"expires_at":"2001-01-01T00:00:00Z"})", otto.headers());
    CHECK(past.status == 422);

    auto list = http(s.port(), "GET", "/api/v1/auth/api-keys", {}, otto.headers());
    REQUIRE(list.status == 200);
    auto list_json = list.json();
    auto& items = list_json.at("items").as_array();
    REQUIRE(items.size() == 1);
    CHECK(list.body.find(key) == std::string::npos);  // the secret is shown only once
    std::string id(items[0].at("id").as_string());
    CHECK(http(s.port(), "GET", "/api/v1/auth/api-keys/" + id, {}, otto.headers()).status == 200);
    CHECK(http(s.port(), "GET", "/api/v1/auth/api-keys/" + id, {}, s.admin()).status == 404);  // not the admin's key
    CHECK(http(s.port(), "DELETE", "/api/v1/auth/api-keys/" + id, {}, otto.headers()).status == 204);
    CHECK(http(s.port(), "GET", "/api/v1/system/info", {}, bearer(key)).status == 401);
    CHECK(http(s.port(), "GET", "/api/v1/system/info", {}, bearer("ak_unknown")).status == 401);
    CHECK(http(s.port(), "GET", "/api/v1/system/info", {}, {{"Authorization", "Basic abc"}}).status == 401);
}

// A credential mints keys within its own powers only. A session holds its user's role's
// permissions; an API key only its scopes. "*" asks for every permission of the minting
// credential's user, so a key narrower than its user's role may not ask for it. Every pair of
// (scopes of the minting key, scopes asked for), for an admin (role "*") and an editor.
TEST_CASE("API keys: a key mints keys only within its own scopes, never more (every pair)") {
    TestServer s;
    create_user(s, "ada", "admin");
    create_user(s, "eddie", "editor");
    const std::vector<std::vector<std::string>> asked = {
        {"*"}, {"auth.self"}, {"system.read"}, {"auth.self", "system.read"}, {"users.admin"}};
    auto arr = [](const std::vector<std::string>& v) {
        json::array a;
        for (const auto& x : v) a.emplace_back(x.c_str());
        return a;
    };
    struct Case {
        std::string user;
        std::vector<std::string> scopes;  // of the minting key; empty: the user's session
        std::vector<int> expect;          // per entry of `asked`
    };
    const std::vector<Case> cases = {
        {"ada", {}, {201, 201, 201, 201, 201}},
        {"ada", {"*"}, {201, 201, 201, 201, 201}},
        {"ada", {"auth.self"}, {422, 201, 422, 422, 422}},
        {"ada", {"auth.self", "system.read"}, {422, 201, 201, 201, 422}},
        {"ada", {"auth.self", "users.admin"}, {422, 201, 422, 422, 201}},
        {"ada", {"system.read"}, {403, 403, 403, 403, 403}},
        {"eddie", {}, {201, 201, 201, 201, 422}},
        {"eddie", {"*"}, {201, 201, 201, 201, 422}},
        {"eddie", {"auth.self"}, {422, 201, 422, 422, 422}},
        {"eddie", {"auth.self", "system.read"}, {422, 201, 201, 201, 422}},
    };
    for (const auto& c : cases) {
        auto session = login(s.port(), c.user, "a long enough passphrase");
        Headers as = c.scopes.empty() ? session.headers() : bearer(create_key(s.port(), session, arr(c.scopes)));
        for (std::size_t i = 0; i < asked.size(); ++i) {
            CAPTURE(c.user);
            CAPTURE(json::serialize(arr(c.scopes)));
            CAPTURE(json::serialize(arr(asked[i])));
            auto r = http(s.port(), "POST", "/api/v1/auth/api-keys",
                          json::serialize(json::object{{"name", "minted"}, {"scopes", arr(asked[i])}}), as);
            CHECK(r.status == c.expect[i]);
            if (r.status != 201) continue;
            // What the minted key can do is within what minted it.
            auto minted = bearer(std::string(r.json().at("key").as_string()));
            bool may_admin = c.user == "ada" && (c.scopes.empty() || c.scopes[0] == "*" ||
                                                 std::find(c.scopes.begin(), c.scopes.end(), "users.admin") != c.scopes.end());
            bool asked_admin = asked[i][0] == "*" || asked[i][0] == "users.admin";
            CHECK(http(s.port(), "GET", "/api/v1/auth/users", {}, minted).status == (may_admin && asked_admin ? 200 : 403));
        }
    }
}

TEST_CASE("roles: viewers read, only admins manage users; the last admin stays") {
    TestServer s;
    auto vid = create_user(s, "vic", "viewer");
    auto vic = login(s.port(), "vic", "a long enough passphrase");
    CHECK(http(s.port(), "GET", "/api/v1/system/info", {}, vic.headers()).status == 200);
    CHECK(http(s.port(), "GET", "/api/v1/auth/users", {}, vic.headers()).status == 403);
    CHECK(http(s.port(), "POST", "/api/v1/auth/users", R"({"username":"z","password":"a long enough passphrase"})",
               vic.headers())
              .status == 403);
    auto weak = http(s.port(), "POST", "/api/v1/auth/users", R"({"username":"w","password":"password123","role":"viewer"})",
                     s.admin());
    CHECK(weak.status == 422);
    CHECK(weak.json().at("errors").at(0).at("pointer").as_string() == "/password");
    CHECK(http(s.port(), "POST", "/api/v1/auth/users", R"({"username":"w","password":"short","role":"viewer"})", s.admin())
              .status == 422);
    CHECK(http(s.port(), "POST", "/api/v1/auth/users", R"({"username":"vic","password":"a long enough passphrase"})", s.admin())
              .status == 409);
    auto vic_key = create_key(s.port(), vic, {"system.read"});
    CHECK(http(s.port(), "GET", "/api/v1/system/info", {}, bearer(vic_key)).status == 200);  // the key is now cached
    // Disabling a user ends their sessions and their API keys at once.
    CHECK(http(s.port(), "PATCH", "/api/v1/auth/users/" + vid, R"({"disabled":true})", s.admin()).status == 200);
    CHECK(http(s.port(), "GET", "/api/v1/auth/me", {}, vic.headers()).status == 401);
    CHECK(http(s.port(), "GET", "/api/v1/system/info", {}, bearer(vic_key)).status == 401);
    // The only admin cannot be demoted.
    auto users = http(s.port(), "GET", "/api/v1/auth/users", {}, s.admin()).json();
    std::string admin_id;
    for (const auto& u : users.at("items").as_array()) {
        if (u.at("username").as_string() == "admin") admin_id = std::string(u.at("id").as_string());
    }
    CHECK(http(s.port(), "PATCH", "/api/v1/auth/users/" + admin_id, R"({"role":"viewer"})", s.admin()).status == 409);
    CHECK(http(s.port(), "DELETE", "/api/v1/auth/users/" + vid, {}, s.admin()).status == 204);
}

TEST_CASE("failed logins are throttled with 429 and Retry-After, and audited") {
    TestServer s;
    for (int i = 0; i < 5; ++i) {
        CHECK(http(s.port(), "POST", "/api/v1/auth/login", R"({"username":"admin","password":"wrong password!"})").status == 401);
    }
    CHECK(http(s.port(), "POST", "/api/v1/auth/login", R"({"username":"admin","password":"wrong password!"})").status == 401);
    auto limited = http(s.port(), "POST", "/api/v1/auth/login",
                        std::string(R"({"username":"admin","password":")") + TestServer::kAdminPassword + "\"}");
    CHECK(limited.status == 429);
    CHECK(std::stoi(limited.header("retry-after")) >= 1);
    auto audit = http(s.port(), "GET", "/api/v1/auth/audit?limit=100", {}, s.admin()).json();
    int failures = 0, denied = 0;
    for (const auto& e : audit.at("items").as_array()) {
        if (e.at("action").as_string() != "auth.login") continue;
        if (e.at("outcome").as_string() == "failure") ++failures;
        if (e.at("outcome").as_string() == "denied") ++denied;
        CHECK(e.at("ip").as_string() == "127.0.0.1");
    }
    CHECK(failures == 6);
    CHECK(denied == 1);
    // Paging with the cursor.
    auto page = http(s.port(), "GET", "/api/v1/auth/audit?limit=2", {}, s.admin()).json();
    REQUIRE(page.at("next_cursor").is_string());
    auto next = http(s.port(), "GET", std::string("/api/v1/auth/audit?limit=2&cursor=") + std::string(page.at("next_cursor").as_string()),
                     {}, s.admin());
    CHECK(next.status == 200);
    CHECK(next.json().at("items").at(0).at("id") != page.at("items").at(0).at("id"));
    CHECK(http(s.port(), "GET", "/api/v1/auth/audit?cursor=garbage", {}, s.admin()).status == 400);
}

TEST_CASE("password hashes and secrets never appear in responses or log lines") {
    std::mutex mu;
    std::string logged;
    log::set_observer([&](std::string_view line) {
        std::lock_guard lk(mu);
        logged.append(line);
    });
    {
        TestServer s(Overrides{{"log.level", "debug"}, {"server.access_log", "true"}});
        create_user(s, "hana", "editor");
        auto hana = login(s.port(), "hana", "a long enough passphrase");
        std::string all;
        for (const auto* path : {"/api/v1/auth/users", "/api/v1/auth/me", "/api/v1/auth/audit", "/api/v1/auth/api-keys"}) {
            all += http(s.port(), "GET", path, {}, s.admin()).body;
        }
        all += http(s.port(), "GET", "/api/v1/auth/me", {}, hana.headers()).body;
        CHECK(all.find("$argon2") == std::string::npos);
        CHECK(all.find("password_hash") == std::string::npos);
        CHECK(all.find("a long enough passphrase") == std::string::npos);
        CHECK(all.find(s.admin_key()) == std::string::npos);
    }
    log::set_observer({});
    CHECK(logged.find("$argon2") == std::string::npos);
    CHECK(logged.find("a long enough passphrase") == std::string::npos);
    CHECK(logged.find(TestServer::kAdminPassword) == std::string::npos);
}

TEST_CASE("first-run setup only while no user exists") {
    TestServer s({}, {}, false);
    CHECK(http(s.port(), "GET", "/api/v1/auth/setup").json().at("needed").as_bool());
    auto bad = http(s.port(), "POST", "/api/v1/auth/setup", R"({"username":"root","password":"123456"})");
    CHECK(bad.status == 422);
    auto ok = http(s.port(), "POST", "/api/v1/auth/setup", R"({"username":"root","password":"a long enough passphrase"})");
    REQUIRE_MESSAGE(ok.status == 201, ok.body);
    CHECK(ok.json().at("user").at("role").as_string() == "admin");
    CHECK_FALSE(http(s.port(), "GET", "/api/v1/auth/setup").json().at("needed").as_bool());
    CHECK(http(s.port(), "POST", "/api/v1/auth/setup", R"({"username":"again","password":"a long enough passphrase"})").status ==
          409);
}

// Issue 19, item 8: a socket does not outlive its credential. Each ends its own socket (1008)
// and no other: key revocation, logout, password change, user disabled, user deleted.
TEST_CASE("WebSocket: a socket is closed once its credential ends, and only then") {
    TestServer s(Overrides{{"server.ws_recheck_ms", "100"}});
    for (const char* name : {"kay", "lou", "pat", "dee", "del"}) create_user(s, name, "viewer");
    auto session_of = [&](const char* name) { return login(s.port(), name, "a long enough passphrase"); };
    auto subscribed = [](WsClient& ws) {
        ws.send_text(R"({"type":"subscribe","topics":["system.heartbeat"]})");
        REQUIRE(ws.read_type("subscribed"));
    };
    // Reads until the server closes the socket (it sends heartbeats meanwhile); the close code.
    auto closed_with = [](WsClient& ws) {
        for (int i = 0; i < 200 && ws.read(std::chrono::seconds(5)); ++i) {
        }
        return ws.close_code();
    };
    auto kay = session_of("kay");
    auto key = create_key(s.port(), kay, {"system.read"});
    WsClient by_key(s.port(), bearer(key));
    auto lou = session_of("lou");
    WsClient by_logout(s.port(), {{"Cookie", lou.cookie}});
    auto pat = session_of("pat");
    WsClient by_password(s.port(), {{"Cookie", pat.cookie}});
    auto dee = session_of("dee");
    WsClient by_disable(s.port(), {{"Cookie", dee.cookie}});
    auto del = session_of("del");
    WsClient by_delete(s.port(), {{"Cookie", del.cookie}});
    WsClient stays(s.port(), {{"Cookie", kay.cookie}});
    for (auto* ws : {&by_key, &by_logout, &by_password, &by_disable, &by_delete, &stays}) subscribed(*ws);

    auto keys = http(s.port(), "GET", "/api/v1/auth/api-keys", {}, kay.headers()).json();
    std::string key_id(keys.at("items").at(0).at("id").as_string());
    REQUIRE(http(s.port(), "DELETE", "/api/v1/auth/api-keys/" + key_id, {}, kay.headers()).status == 204);
    CHECK(closed_with(by_key) == 1008);

    REQUIRE(http(s.port(), "POST", "/api/v1/auth/logout", {}, lou.headers()).status / 100 == 2);
    CHECK(closed_with(by_logout) == 1008);

    // A password change revokes every session of the user, the socket's included (the client
    // that changed it gets a new session).
    REQUIRE(http(s.port(), "POST", "/api/v1/auth/password",
                 R"({"current_password":"a long enough passphrase","new_password":"another long passphrase"})", pat.headers())
                .status == 200);
    CHECK(closed_with(by_password) == 1008);

    auto users = http(s.port(), "GET", "/api/v1/auth/users", {}, s.admin()).json();
    std::string dee_id, del_id;
    for (const auto& u : users.at("items").as_array()) {
        if (u.at("username") == "dee") dee_id = std::string(u.at("id").as_string());
        if (u.at("username") == "del") del_id = std::string(u.at("id").as_string());
    }
    REQUIRE(http(s.port(), "PATCH", "/api/v1/auth/users/" + dee_id, R"({"disabled":true})", s.admin()).status == 200);
    CHECK(closed_with(by_disable) == 1008);
    REQUIRE(http(s.port(), "DELETE", "/api/v1/auth/users/" + del_id, {}, s.admin()).status == 204);
    CHECK(closed_with(by_delete) == 1008);

    // A socket whose credential still holds is open and answering.
    stays.send_text(R"({"type":"ping"})");
    CHECK(stays.read_type("pong"));
    CHECK(!stays.close_code());
}

TEST_CASE("WebSocket: authentication on upgrade, permission per topic") {
    TestServer s;
    CHECK_THROWS(WsClient(s.port()));
    create_user(s, "wanda", "viewer");
    auto wanda = login(s.port(), "wanda", "a long enough passphrase");
    WsClient ws(s.port(), {{"Cookie", wanda.cookie}});
    ws.send_text(R"({"type":"subscribe","topics":["auth.**"]})");
    auto err = ws.read_type("error");
    REQUIRE(err);
    CHECK(err->at("detail").as_string().find("not allowed") != std::string::npos);
    ws.send_text(R"({"type":"subscribe","topics":["system.heartbeat"]})");
    CHECK(ws.read_type("subscribed"));
    CHECK_THROWS(WsClient(s.port(), {{"Cookie", wanda.cookie}, {"Origin", "http://evil.example"}}));
}
