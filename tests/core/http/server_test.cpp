// The real Application on an ephemeral port, driven over HTTP and WebSocket.
#include "core/http/server.hpp"

#include "core/bus/bus.hpp"
#include "core/http/router.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <future>
#include <thread>

using namespace arclight;
using namespace arclight::test;
namespace asio = boost::asio;

namespace {

std::atomic<int> g_slow_started{0};

// A module that exists only in tests: a JSON echo route, a slow route and a failing route.
class ProbeModule final : public Module {
public:
    void register_routes(Router& r) override {
        r.add({"POST", "/api/v1/probe/echo", "probe.write", "Echo the posted JSON.",
               [](HttpRequest& req) -> asio::awaitable<HttpResponse> { co_return HttpResponse::json(req.json); }, true,
               "probe"});
        r.add({"GET", "/api/v1/probe/slow", "probe.read", "Answer after 600 ms.",
               [](HttpRequest&) -> asio::awaitable<HttpResponse> {
                   ++g_slow_started;
                   asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(600));
                   co_await t.async_wait(asio::use_awaitable);
                   co_return HttpResponse::json({{"slow", true}});
               },
               false, "probe"});
        r.add({"GET", "/api/v1/probe/boom", "probe.read", "Fail with an internal error.",
               [](HttpRequest&) -> asio::awaitable<HttpResponse> {
                   throw std::runtime_error("secret internal detail");
                   co_return HttpResponse{};
               },
               false, "probe"});
        r.add({"GET", "/api/v1/probe/invalid", "probe.read", "Fail with a validation error.",
               [](HttpRequest&) -> asio::awaitable<HttpResponse> {
                   throw Error(ErrorCode::validation_failed, "bad fields", {{"/name", "is required"}});
                   co_return HttpResponse{};
               },
               false, "probe"});
    }
};

ModuleDescriptor probe() {
    ModuleDescriptor d{"probe", {"system"}, "Test-only routes.", {}, [](ModuleContext&) { return std::make_unique<ProbeModule>(); }};
    d.permissions = {{"probe.read", "Call the probe's GET routes.", {"viewer"}},
                     {"probe.write", "Call the probe's echo route.", {"editor"}}};
    return d;
}

// A module whose route names a permission that no module declares (a typo, or a permission of a
// module that is not built).
class UndeclaredModule final : public Module {
public:
    void register_routes(Router& r) override {
        r.add({"GET", "/api/v1/undeclared", "flows.raed", "Names a permission nobody declared.",
               [](HttpRequest&) -> asio::awaitable<HttpResponse> { co_return HttpResponse{}; }, false, "undeclared"});
    }
};

bool is_problem(const HttpResult& r, int status, const std::string& code) {
    if (r.status != status) return false;
    if (r.header("content-type") != "application/problem+json") return false;
    auto j = r.json();
    return j.at("status").as_int64() == status && j.at("code").as_string() == code && !j.at("title").as_string().empty() &&
           j.at("request_id").as_string() == r.header("x-request-id");
}

void still_serving(unsigned short port) { CHECK(http(port, "GET", "/healthz").status == 200); }

}  // namespace

TEST_CASE("start-up refuses a route whose permission no module declared") {
    ModuleDescriptor bad{"undeclared", {}, "Test-only.", {}, [](ModuleContext&) { return std::make_unique<UndeclaredModule>(); }};
    std::string message;
    try {
        TestServer s({}, {bad});
    } catch (const std::logic_error& e) {
        message = e.what();
    }
    CHECK(message.find("GET /api/v1/undeclared") != std::string::npos);
    CHECK(message.find("flows.raed") != std::string::npos);
}

TEST_CASE("every route of the built-in modules names a declared permission") {
    TestServer s;
    const auto& catalog = s.app().permissions();
    CHECK(catalog.known("flows.read"));
    CHECK(catalog.known("system.read"));
    CHECK_FALSE(catalog.known("agents.read"));  // declared by the agents module once it exists
    for (const auto& route : s.app().router().routes()) {
        if (route.permission == kPublic) continue;
        CHECK_MESSAGE(catalog.known(route.permission), route.method << " " << route.pattern << ": " << route.permission);
    }
    // Roles get what the modules declared for them.
    auto viewer = catalog.held_by("viewer");
    CHECK(viewer.count("runs.read"));
    CHECK_FALSE(viewer.count("flows.write"));
    CHECK(catalog.held_by("admin") == std::set<std::string, std::less<>>{"*"});
}

TEST_CASE("a permission declared twice, or given to an unknown role, is refused") {
    PermissionCatalog c;
    c.add("one", {"x.read", "Read x.", {"viewer"}});
    CHECK_THROWS_AS(c.add("two", {"x.read", "Read x again.", {}}), std::logic_error);
    CHECK_THROWS_AS(c.add("two", {"y.read", "Read y.", {"superuser"}}), std::logic_error);
    CHECK_THROWS_AS(c.add("two", {"Y read", "Bad name.", {}}), std::logic_error);
    CHECK_THROWS_AS(c.add("two", {"z.read", "", {}}), std::logic_error);
}

// Issue 19, item 9: the UI's page carries a strict Content-Security-Policy (the browser tests
// load the whole UI under it and see no violation).
TEST_CASE("the UI is served with a strict Content-Security-Policy") {
    TestServer s;
    auto page = http(s.port(), "GET", "/");
    REQUIRE(page.status == 200);
    auto csp = page.header("content-security-policy");
    INFO(csp);
    for (std::string_view part : {"default-src 'self'", "script-src 'self'", "object-src 'none'", "connect-src 'self'",
                                  "frame-ancestors 'none'", "base-uri 'none'"})
        CHECK(csp.find(part) != std::string::npos);
    CHECK(csp.find("unsafe-eval") == std::string::npos);
    CHECK(csp.find("script-src 'self';") != std::string::npos);  // nothing more for scripts: no inline script
    CHECK(csp.find("ws:") == std::string::npos);                  // no WebSocket to any host
    CHECK(http(s.port(), "GET", "/healthz").header("content-security-policy").empty());  // documents only
}

TEST_CASE("health, readiness, system info and the OpenAPI document") {
    TestServer s({}, {probe()});
    auto h = http(s.port(), "GET", "/healthz");
    CHECK(h.status == 200);
    CHECK(h.json().at("status").as_string() == "ok");
    CHECK(h.header("x-content-type-options") == "nosniff");
    CHECK(!h.header("x-request-id").empty());

    auto r = http(s.port(), "GET", "/readyz");
    CHECK(r.status == 200);
    CHECK(r.json().at("database").at("ok").as_bool());

    auto info = http(s.port(), "GET", "/api/v1/system/info", {}, s.admin()).json();
    CHECK(info.at("name").as_string() == "arclight");
    CHECK(info.at("database").at("backend").as_string() == (use_postgres() ? "postgres" : "sqlite"));
    auto& mods = info.at("modules").as_array();
    bool system_ok = false;
    for (const auto& m : mods) {
        if (m.at("name").as_string() == "system") system_ok = m.at("health").at("status").as_string() == "ok";
    }
    CHECK(system_ok);
    CHECK(info.at("instances").as_array().size() == 1);

    auto doc = http(s.port(), "GET", "/api/v1/openapi.json").json();
    CHECK(doc.at("openapi").as_string() == "3.1.0");
    CHECK(doc.at("paths").at("/api/v1/system/info").at("get").at("x-permission").as_string() == "system.read");
    CHECK(doc.at("paths").at("/api/v1/probe/echo").at("post").as_object().contains("requestBody"));
    // Every route in the table is in the document.
    for (const auto& route : s.app().router().routes()) {
        std::string m;
        for (char c : route.method) m += static_cast<char>(std::tolower(c));
        // OpenAPI path templates have no rest parameter: "{path*}" appears as "{path}".
        std::string path = route.pattern;
        if (auto star = path.find("*}"); star != std::string::npos) path.erase(star, 1);
        CHECK_MESSAGE(doc.at("paths").as_object().contains(path), path);
        CHECK(doc.at("paths").at(path).as_object().contains(m));
    }
}

TEST_CASE("an incoming request id is kept, a missing one generated") {
    TestServer s;
    CHECK(http(s.port(), "GET", "/healthz", {}, {{"X-Request-Id", "abc-123"}}).header("x-request-id") == "abc-123");
    CHECK(http(s.port(), "GET", "/healthz", {}, {{"X-Request-Id", "bad id with spaces"}}).header("x-request-id") !=
          "bad id with spaces");
}

TEST_CASE("JSON routes: echo, malformed JSON, wrong content type") {
    TestServer s({}, {probe()});
    auto ok = http(s.port(), "POST", "/api/v1/probe/echo", R"({"a":[1,2,{"b":null}]})", s.admin());
    CHECK(ok.status == 200);
    CHECK(ok.json().at("a").at(2).as_object().contains("b"));

    auto bad = http(s.port(), "POST", "/api/v1/probe/echo", R"({"a":)", s.admin());
    CHECK(is_problem(bad, 400, "invalid-json"));
    CHECK(bad.json().at("instance").as_string() == "/api/v1/probe/echo");

    auto deep = http(s.port(), "POST", "/api/v1/probe/echo", std::string(100, '[') + std::string(100, ']'), s.admin());
    CHECK(is_problem(deep, 400, "invalid-json"));

    auto wrong_type = http(s.port(), "POST", "/api/v1/probe/echo", "a=1",
                           {{"Content-Type", "application/x-www-form-urlencoded"}, {"Authorization", "Bearer " + s.admin_key()}});
    CHECK(is_problem(wrong_type, 415, "unsupported-media-type"));
    still_serving(s.port());
}

TEST_CASE("unknown routes, wrong methods, errors: problem+json, and internals never leak") {
    TestServer s({}, {probe()});
    CHECK(is_problem(http(s.port(), "GET", "/api/v1/nothing"), 404, "not-found"));
    CHECK(is_problem(http(s.port(), "GET", "/assets/missing-file.js"), 404, "not-found"));
    auto wrong = http(s.port(), "DELETE", "/healthz");
    CHECK(is_problem(wrong, 405, "method-not-allowed"));
    CHECK(wrong.header("allow") == "GET");

    auto boom = http(s.port(), "GET", "/api/v1/probe/boom", {}, s.admin());
    CHECK(is_problem(boom, 500, "internal"));
    CHECK(boom.body.find("secret") == std::string::npos);

    auto invalid = http(s.port(), "GET", "/api/v1/probe/invalid", {}, s.admin());
    CHECK(is_problem(invalid, 422, "validation-failed"));
    CHECK(invalid.json().at("errors").at(0).at("pointer").as_string() == "/name");
    still_serving(s.port());
}

TEST_CASE("the UI is served with its content types, caching and SPA fallback") {
    TestServer s;
    auto index = http(s.port(), "GET", "/");
    CHECK(index.status == 200);
    CHECK(index.header("content-type") == "text/html; charset=utf-8");
    CHECK(index.header("cache-control") == "no-cache");
    CHECK(index.body.find("<title>Arclight</title>") != std::string::npos);
    auto deep = http(s.port(), "GET", "/runs/123");
    CHECK(deep.status == 200);
    CHECK(deep.body == index.body);
    // A hashed asset referenced by index.html is cached for a year.
    auto pos = index.body.find("/assets/");
    REQUIRE(pos != std::string::npos);
    auto end = index.body.find('"', pos);
    auto asset = http(s.port(), "GET", index.body.substr(pos, end - pos));
    CHECK(asset.status == 200);
    CHECK(asset.header("content-type").rfind("text/javascript", 0) == 0);
    CHECK(asset.header("cache-control") == "public, max-age=31536000, immutable");
}

TEST_CASE("paths under /api in any letter case that match no route are 404 problems, not the UI page") {
    TestServer s;
    for (std::string path : {"/API/v1/auth/users", "/Api/v1/nothing", "/api", "/aPi/"}) {
        auto r = http(s.port(), "GET", path, {}, s.admin());
        INFO(path);
        CHECK(r.status == 404);
        CHECK(r.header("content-type") == "application/problem+json");
    }
    // Other paths that merely start with the letters are UI routes.
    CHECK(http(s.port(), "GET", "/apiary").status == 200);
    CHECK(http(s.port(), "GET", "/runs/api").status == 200);
}

TEST_CASE("size limits: oversized body 413, header flood 431, malformed request 400") {
    TestServer s(Overrides{{"server.max_body_bytes", "1024"}, {"server.max_header_bytes", "2048"}}, {probe()});
    auto big = http(s.port(), "POST", "/api/v1/probe/echo", "[" + std::string(4000, ' ') + "]", s.admin());
    CHECK(is_problem(big, 413, "payload-too-large"));
    still_serving(s.port());

    {
        RawConnection c(s.port());
        std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
        for (int i = 0; i < 200; ++i) req += "X-Flood-" + std::to_string(i) + ": " + std::string(40, 'a') + "\r\n";
        req += "\r\n";
        c.send(req);
        auto out = c.read_all(std::chrono::seconds(2));
        CHECK(out.rfind("HTTP/1.1 431", 0) == 0);
        CHECK(out.find("application/problem+json") != std::string::npos);
    }
    {
        // A client that keeps sending a body far over the limit still reads its 413: the server
        // drains what it sends before closing (no connection reset that would destroy the answer).
        RawConnection c(s.port());
        c.send("POST /api/v1/probe/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4194304\r\n\r\n");
        std::string chunk(65536, ' ');
        for (int i = 0; i < 64; ++i) {
            try {
                c.send(chunk);
            } catch (const std::exception&) {
                break;
            }
        }
        auto out = c.read_all(std::chrono::seconds(3));
        CHECK(out.rfind("HTTP/1.1 413", 0) == 0);
    }
    {
        RawConnection c(s.port());
        c.send("THIS IS NOT HTTP\r\n\r\n");
        auto out = c.read_all(std::chrono::seconds(2));
        CHECK(out.rfind("HTTP/1.1 400", 0) == 0);
    }
    still_serving(s.port());
}

// Request smuggling and framing (issue 19, item 10): a transfer coding the server does not
// implement, or a length given two ways, is refused and the connection closed, so the bytes after
// the head are never read as a second request; a flood of small header fields is 431; a method
// the server does not implement is 501.
TEST_CASE("HTTP framing: unknown transfer codings and double lengths are refused and closed, not smuggled") {
    TestServer s({}, {probe()});
    auto responses = [](const std::string& out) {
        std::size_t n = 0;
        for (auto at = out.find("HTTP/1.1 "); at != std::string::npos; at = out.find("HTTP/1.1 ", at + 1)) ++n;
        return n;
    };
    std::string auth = "Authorization: " + s.admin().at("Authorization") + "\r\n";
    std::string hidden = "POST /api/v1/probe/echo HTTP/1.1\r\nHost: x\r\n" + auth +
                         "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    struct Case {
        std::string framing;
        std::string status;
    };
    for (const Case& c : {Case{"Transfer-Encoding: xchunked\r\n", "501"}, Case{"Transfer-Encoding: gzip, chunked\r\n", "501"},
                          Case{"Transfer-Encoding: chunked, identity\r\n", "501"},
                          Case{"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "400"},
                          Case{"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "400"}}) {
        CAPTURE(c.framing);
        RawConnection conn(s.port());
        conn.send("POST /api/v1/probe/echo HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: application/json\r\n" + c.framing +
                  "\r\n" + hidden);
        auto out = conn.read_all(std::chrono::seconds(3));
        CHECK(out.rfind("HTTP/1.1 " + c.status, 0) == 0);
        CHECK(out.find("application/problem+json") != std::string::npos);
        CHECK(out.find("Connection: close") != std::string::npos);
        CHECK(responses(out) == 1);  // the hidden request was never served
    }
    {
        // Plain chunked framing still works (any letter case).
        RawConnection conn(s.port());
        conn.send("POST /api/v1/probe/echo HTTP/1.1\r\nHost: x\r\n" + auth +
                  "Content-Type: application/json\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
        auto out = conn.read_all(std::chrono::seconds(3));
        CHECK(out.rfind("HTTP/1.1 200", 0) == 0);
    }
    still_serving(s.port());
}

TEST_CASE("HTTP framing: too many header fields is 431; methods the server does not implement are 501") {
    TestServer s(Overrides{{"server.max_header_fields", "50"}});
    {
        RawConnection c(s.port());
        std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
        for (int i = 0; i < 60; ++i) req += "X-" + std::to_string(i) + ": a\r\n";  // 200 bytes or so: under the byte limit
        c.send(req + "\r\n");
        auto out = c.read_all(std::chrono::seconds(2));
        CHECK(out.rfind("HTTP/1.1 431", 0) == 0);
        CHECK(out.find("header-fields-too-large") != std::string::npos);
    }
    {
        RawConnection c(s.port());
        std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
        for (int i = 0; i < 45; ++i) req += "X-" + std::to_string(i) + ": a\r\n";
        c.send(req + "\r\n");
        CHECK(c.read_all(std::chrono::seconds(2)).rfind("HTTP/1.1 200", 0) == 0);
    }
    for (std::string method : {"TRACE", "PROPFIND", "CONNECT", "BREW"}) {
        CAPTURE(method);
        for (std::string path : {"/", "/healthz", "/api/v1/workflows"}) {
            CAPTURE(path);
            RawConnection c(s.port());
            c.send(method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            auto out = c.read_all(std::chrono::seconds(2));
            CHECK(out.rfind("HTTP/1.1 501", 0) == 0);
            CHECK(out.find("not-implemented") != std::string::npos);
        }
    }
    still_serving(s.port());
}

TEST_CASE("keep-alive serves several requests on one connection") {
    TestServer s;
    RawConnection c(s.port());
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto out = c.read_all(std::chrono::seconds(2));
    auto first = out.find("HTTP/1.1 200");
    REQUIRE(first != std::string::npos);
    CHECK(out.find("HTTP/1.1 200", first + 1) != std::string::npos);
}

TEST_CASE("a client sending one byte at a time is cut off by the read timeout") {
    TestServer s(Overrides{{"server.read_timeout_ms", "500"}});
    RawConnection c(s.port());
    std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    bool closed = false;
    auto started = std::chrono::steady_clock::now();
    for (char ch : req) {
        try {
            c.send(std::string(1, ch));
        } catch (const std::exception&) {
            closed = true;
            break;
        }
        if (c.closed_within(std::chrono::milliseconds(200))) {
            closed = true;
            break;
        }
    }
    CHECK(closed);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
    still_serving(s.port());
}

TEST_CASE("idle keep-alive connections are closed after the idle timeout") {
    TestServer s(Overrides{{"server.idle_timeout_ms", "300"}});
    RawConnection c(s.port());
    CHECK(c.closed_within(std::chrono::seconds(3)));
}

TEST_CASE("graceful shutdown lets a request in flight finish, then refuses new connections") {
    g_slow_started = 0;
    TestServer s(Overrides{{"server.shutdown_timeout_ms", "5000"}}, {probe()});
    auto port = s.port();
    auto headers = s.admin();
    auto pending = std::async(std::launch::async, [port, headers] { return http(port, "GET", "/api/v1/probe/slow", {}, headers); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (g_slow_started == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    REQUIRE(g_slow_started == 1);
    s.stop();  // blocks until drained
    auto res = pending.get();
    CHECK(res.status == 200);
    CHECK(res.json().at("slow").as_bool());
    CHECK(res.header("connection") == "close");
    CHECK_THROWS(http(port, "GET", "/healthz"));
}

TEST_CASE("WebSocket: subscribe, receive matching bus events, ping/pong") {
    TestServer s;
    WsClient ws(s.port(), s.admin());
    ws.send_text(R"({"type":"subscribe","topics":["probe.*","other.**"]})");
    auto sub = ws.read_type("subscribed");
    REQUIRE(sub);
    CHECK(sub->at("topics").as_array().size() == 2);
    s.app().bus().publish("unrelated.topic", {{"n", 0}});
    s.app().bus().publish("probe.hello", {{"n", 1}});
    auto ev = ws.read_type("event");
    REQUIRE(ev);
    CHECK(ev->at("topic").as_string() == "probe.hello");
    CHECK(ev->at("data").at("n").as_int64() == 1);
    CHECK(ev->at("id").as_string().size() == 36);
    ws.send_text(R"({"type":"ping"})");
    CHECK(ws.read_type("pong"));
    // Overlapping patterns deliver an event once.
    ws.send_text(R"({"type":"subscribe","topics":["probe.**"]})");
    CHECK(ws.read_type("subscribed"));
    s.app().bus().publish("probe.twice", {});
    s.app().bus().publish("probe.marker", {});
    auto a = ws.read_type("event");
    auto b = ws.read_type("event");
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->at("topic").as_string() == "probe.twice");
    CHECK(b->at("topic").as_string() == "probe.marker");
}

TEST_CASE("WebSocket: the system heartbeat carries module health") {
    TestServer s(Overrides{{"system.heartbeat_seconds", "1"}});
    WsClient ws(s.port(), s.admin());
    ws.send_text(R"({"type":"subscribe","topics":["system.heartbeat"]})");
    REQUIRE(ws.read_type("subscribed"));
    auto ev = ws.read_type("event", std::chrono::seconds(5));
    REQUIRE(ev);
    CHECK(ev->at("topic").as_string() == "system.heartbeat");
    CHECK(ev->at("data").at("modules").as_array().size() >= 1);
}

TEST_CASE("WebSocket: invalid messages get an error and the connection keeps working") {
    TestServer s(Overrides{{"server.ws_max_message_bytes", "1024"}});
    WsClient ws(s.port(), s.admin());
    ws.send_text("not json");
    auto e1 = ws.read_type("error");
    REQUIRE(e1);
    CHECK(e1->at("detail").as_string().find("JSON") != std::string::npos);
    ws.send_text(R"({"type":"subscribe","topics":["a..b"]})");
    CHECK(ws.read_type("error"));
    ws.send_text(R"({"type":"teleport"})");
    CHECK(ws.read_type("error"));
    ws.send_binary(std::string("\x00\x01\x02", 3));
    CHECK(ws.read_type("error"));
    ws.send_text(R"({"type":"ping"})");
    CHECK(ws.read_type("pong"));

    // A message over the limit closes this connection with 1009; the server keeps serving.
    ws.send_text(std::string(4096, 'x'));
    CHECK_FALSE(ws.read(std::chrono::seconds(3)));
    CHECK(ws.close_code() == 1009);
    WsClient again(s.port(), s.admin());
    again.send_text(R"({"type":"ping"})");
    CHECK(again.read_type("pong"));
    still_serving(s.port());
}

TEST_CASE("WebSocket: a client that does not read is dropped; the bus and server carry on") {
    TestServer s(Overrides{{"server.ws_max_queue", "8"}});
    WsClient slow(s.port(), s.admin());
    slow.send_text(R"({"type":"subscribe","topics":["flood.**"]})");
    REQUIRE(slow.read_type("subscribed"));
    WsClient fast(s.port(), s.admin());
    fast.send_text(R"({"type":"subscribe","topics":["flood.last"]})");
    REQUIRE(fast.read_type("subscribed"));
    boost::json::object big{{"blob", std::string(32 * 1024, 'z')}};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (s.app().ws().dropped_slow_clients() == 0 && std::chrono::steady_clock::now() < deadline) {
        for (int i = 0; i < 200; ++i) s.app().bus().publish("flood.data", big);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(s.app().ws().dropped_slow_clients() >= 1);
    s.app().bus().publish("flood.last", {});
    CHECK(fast.read_type("event"));
    still_serving(s.port());
}

// Issue 19, item 10: the stream answers every ping by itself, so a flood of them was answered
// for as long as it lasted. Control frames are budgeted per connection (server.ws_max_control_frames_per_s,
// 20/s with bursts of 40): a flood of pings or of pongs is closed with 1008 and nothing else is.
TEST_CASE("WebSocket: a control-frame flood is closed with 1008; a client pinging now and then is not") {
    TestServer s;
    for (bool pongs : {false, true}) {
        CAPTURE(pongs);
        WsClient flood(s.port(), s.admin());
        for (int i = 0; i < 500 && (pongs ? flood.pong() : flood.ping()); ++i) {
        }
        // The server's answers to the first pings come first, then its close frame.
        CHECK_FALSE(flood.read(std::chrono::seconds(10)));
        CHECK(flood.close_code() == 1008);
        CHECK(flood.close_reason() == "too many control frames");
    }
    CHECK(s.app().ws().closed_control_floods() == 2);

    // A burst within the budget, then pings spaced out (each answered before the next) beyond the
    // burst: the connection stays open and still delivers events and answers.
    WsClient calm(s.port(), s.admin());
    calm.send_text(R"({"type":"subscribe","topics":["probe.*"]})");
    REQUIRE(calm.read_type("subscribed"));
    for (int i = 0; i < 30; ++i) REQUIRE(calm.ping());
    calm.send_text(R"({"type":"ping"})");
    REQUIRE(calm.read_type("pong"));
    for (int i = 0; i < 20; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the client's pace, not a wait for the server
        REQUIRE(calm.ping());
        calm.send_text(R"({"type":"ping"})");
        REQUIRE(calm.read_type("pong"));
    }
    s.app().bus().publish("probe.after", {{"n", 1}});
    auto ev = calm.read_type("event");
    REQUIRE(ev);
    CHECK(ev->at("topic").as_string() == "probe.after");
    CHECK_FALSE(calm.close_code());
    CHECK(s.app().ws().closed_control_floods() == 2);
}

TEST_CASE("WebSocket: the control-frame budget is configurable") {
    TestServer s(Overrides{{"server.ws_max_control_frames_per_s", "2"}});
    WsClient ws(s.port(), s.admin());
    for (int i = 0; i < 4; ++i) REQUIRE(ws.ping());  // the burst: twice the rate
    ws.send_text(R"({"type":"ping"})");
    REQUIRE(ws.read_type("pong"));
    CHECK_FALSE(ws.close_code());
    for (int i = 0; i < 20 && ws.ping(); ++i) {
    }
    CHECK_FALSE(ws.read(std::chrono::seconds(10)));
    CHECK(ws.close_code() == 1008);
}
