// Issue 19, item 4: webhooks can be authenticated (a shared-secret header, or an HMAC-SHA256
// signature of the raw body with an optional timestamp and replay window), refused with 401
// before any run starts; the secret is write-only; the trigger data keeps an allow-list of headers.
#include <doctest/doctest.h>

#include "core/time/time.hpp"
#include "modules/workflow/webhook_auth.hpp"
#include "tests/modules/workflow/rig.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <thread>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;

namespace {

// Runs of a workflow (any status).
std::size_t run_count(Api& api, const std::string& wf) {
    auto list = api.call("GET", "/api/v1/runs?workflow_id=" + wf).json();
    return list.at("items").as_array().size();
}

// Waits until the webhook serves (triggers are loaded asynchronously after a save).
void wait_live(TestServer& srv, const std::string& path, const Headers& h, const std::string& body = "{}") {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (http(srv.port(), "POST", path, body, h).status == 404 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

TEST_CASE("webhook auth: HMAC-SHA256 is the known test vector") {
    // RFC 4231, test case 2.
    CHECK(workflow::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("webhook auth: a shared-secret header is required, compared exactly, and never kept") {
    TestServer srv;
    Api api{srv};
    auto wf = api.create(R"({"name":"token","active":true,"triggers":[{"type":"webhook","path":"tok",
        "auth":{"type":"header","header":"X-Webhook-Token","secret":"s3cr3t-PLANTED-token"}}],
        "tasks":[{"id":"a","type":"set","config":{"values":"{{ trigger.headers }}"}}]})");
    Headers json_ct{{"Content-Type", "application/json"}};
    Headers good = json_ct;
    good["X-Webhook-Token"] = "s3cr3t-PLANTED-token";
    good["X-Other"] = "not kept";
    wait_live(srv, "/hooks/tok", json_ct);
    for (const auto& [name, headers] : std::vector<std::pair<std::string, Headers>>{
             {"missing", json_ct},
             {"wrong", {{"Content-Type", "application/json"}, {"X-Webhook-Token", "s3cr3t-PLANTED-tokem"}}},
             {"prefix", {{"Content-Type", "application/json"}, {"X-Webhook-Token", "s3cr3t-PLANTED"}}},
             {"longer", {{"Content-Type", "application/json"}, {"X-Webhook-Token", "s3cr3t-PLANTED-token!"}}}}) {
        CAPTURE(name);
        auto r = http(srv.port(), "POST", "/hooks/tok", "{}", headers);
        CHECK(r.status == 401);
        CHECK(r.header("content-type") == "application/problem+json");
        CHECK(r.body.find("x-webhook-token") != std::string::npos);
        CHECK(r.body.find("PLANTED") == std::string::npos);
    }
    CHECK(run_count(api, wf) == 0);  // nothing started
    auto ok = http(srv.port(), "POST", "/hooks/tok", "{}", good);
    REQUIRE(ok.status == 202);
    auto run = api.wait(str(ok.json().at("id")));
    CHECK(str(run.at("status")) == "succeeded");
    // The token header is not in the run's data (nor any header but the kept ones).
    auto text = json::serialize(run);
    CHECK(text.find("PLANTED") == std::string::npos);
    CHECK(text.find("x-other") == std::string::npos);
    CHECK(task(run, "a").at("output").as_object().contains("content-type"));

    // Write-only: the API never shows the secret; sending back what it shows keeps it.
    auto shown = api.call("GET", "/api/v1/workflows/" + wf);
    CHECK(shown.body.find("PLANTED") == std::string::npos);
    CHECK(shown.json().at("triggers").at(0).at("auth").at("secret") == "********");
    CHECK(api.call("GET", "/api/v1/workflows").body.find("PLANTED") == std::string::npos);
    auto def = shown.json().as_object();
    for (const char* k : {"id", "version", "active", "created_at", "updated_at"}) def.erase(k);
    def["description"] = "changed";
    REQUIRE(api.call("PUT", "/api/v1/workflows/" + wf, json::serialize(def)).status == 200);
    auto again = http(srv.port(), "POST", "/hooks/tok", "{}", good);
    CHECK(again.status == 202);
    // The placeholder is never a secret of its own.
    auto placeholder = api.call("POST", "/api/v1/workflows/validate", R"({"name":"p","triggers":[{"type":"webhook","path":"p",
        "auth":{"type":"header","header":"X-T","secret":"********"}}],"tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
    CHECK(placeholder.status == 422);
    CHECK(placeholder.body.find("/triggers/0/auth/secret") != std::string::npos);
}

TEST_CASE("webhook auth: an HMAC-SHA256 signature of the raw body, with a timestamp inside the replay window") {
    TestServer srv;
    Api api{srv};
    auto wf = api.create(R"({"name":"signed","active":true,"triggers":[{"type":"webhook","path":"sig",
        "auth":{"type":"hmac","header":"X-Signature-256","prefix":"sha256=","secret":"hmac-PLANTED-key",
                "timestamp_header":"X-Timestamp","tolerance_s":300}}],
        "tasks":[{"id":"a","type":"set","config":{"values":"{{ trigger.headers }}"}}]})");
    const std::string body = R"({"order": 42,  "note": "raw bytes, spaces kept"})";
    auto signed_headers = [&](std::int64_t ts, const std::string& b, const std::string& key = "hmac-PLANTED-key") {
        return Headers{{"Content-Type", "application/json"},
                       {"X-Timestamp", std::to_string(ts)},
                       {"X-Signature-256", "sha256=" + workflow::hmac_sha256_hex(key, std::to_string(ts) + "." + b)}};
    };
    std::int64_t now = now_ms() / 1000;
    wait_live(srv, "/hooks/sig", {{"Content-Type", "application/json"}});
    struct Case {
        const char* name;
        Headers h;
        std::string body;
    };
    auto no_prefix = signed_headers(now, body);
    no_prefix["X-Signature-256"] = no_prefix["X-Signature-256"].substr(7);
    std::vector<Case> refused{{"no signature", {{"Content-Type", "application/json"}, {"X-Timestamp", std::to_string(now)}}, body},
                              {"wrong key", signed_headers(now, body, "other"), body},
                              {"body changed", signed_headers(now, body), body + " "},
                              {"no prefix", no_prefix, body},
                              {"replayed (old)", signed_headers(now - 301, body), body},
                              {"from the future", signed_headers(now + 301, body), body},
                              {"no timestamp", {{"Content-Type", "application/json"}, {"X-Signature-256", signed_headers(now, body).at("X-Signature-256")}}, body},
                              {"timestamp not a number", signed_headers(now, body), body}};
    refused.back().h["X-Timestamp"] = "12x";
    for (const auto& c : refused) {
        CAPTURE(c.name);
        auto r = http(srv.port(), "POST", "/hooks/sig", c.body, c.h);
        CHECK(r.status == 401);
        CHECK(r.body.find("PLANTED") == std::string::npos);
    }
    CHECK(run_count(api, wf) == 0);
    auto ok = http(srv.port(), "POST", "/hooks/sig", body, signed_headers(now, body));
    REQUIRE(ok.status == 202);
    auto run = api.wait(str(ok.json().at("id")));
    CHECK(str(run.at("status")) == "succeeded");
    // The signature headers are kept (not secrets); the key never appears.
    const auto& kept = task(run, "a").at("output").as_object();
    CHECK(kept.contains("x-signature-256"));
    CHECK(kept.contains("x-timestamp"));
    CHECK(json::serialize(run).find("PLANTED") == std::string::npos);
    // Upper-case hex is the same digest.
    auto upper = signed_headers(now, body);
    for (auto& ch : upper["X-Signature-256"]) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    upper["X-Signature-256"].replace(0, 7, "sha256=");
    CHECK(http(srv.port(), "POST", "/hooks/sig", body, upper).status == 202);
}

TEST_CASE("webhook auth: the definition is checked at save") {
    TestServer srv;
    Api api{srv};
    auto check = [&](const std::string& trigger, const std::string& pointer) {
        CAPTURE(trigger);
        auto r = api.call("POST", "/api/v1/workflows/validate",
                          R"({"name":"v","triggers":[)" + trigger + R"(],"tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
        CHECK(r.status == 422);
        CHECK(r.body.find(pointer) != std::string::npos);
    };
    check(R"({"type":"webhook","path":"a","auth":{"type":"basic","header":"X","secret":"s"}})", "/triggers/0/auth/type");
    check(R"({"type":"webhook","path":"a","auth":{"type":"header","secret":"s"}})", "/triggers/0/auth/header");
    check(R"({"type":"webhook","path":"a","auth":{"type":"header","header":"X"}})", "/triggers/0/auth/secret");
    check(R"({"type":"webhook","path":"a","auth":{"type":"header","header":"X","secret":""}})", "/triggers/0/auth/secret");
    check(R"({"type":"webhook","path":"a","auth":{"type":"header","header":"X","secret":"s","prefix":"p"}})", "/triggers/0/auth/prefix");
    check(R"({"type":"webhook","path":"a","auth":{"type":"hmac","header":"X","secret":"s","tolerance_s":0}})", "/triggers/0/auth/tolerance_s");
    check(R"({"type":"webhook","path":"a","auth":{"type":"hmac","header":"X","secret":"s","extra":1}})", "/triggers/0/auth/extra");
    check(R"({"type":"webhook","path":"a","headers":["Authorization"]})", "/triggers/0/headers/0");
    check(R"({"type":"webhook","path":"a","auth":{"type":"header","header":"X-T","secret":"s"},"headers":["x-t"]})", "/triggers/0/headers/0");
}
