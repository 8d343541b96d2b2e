// Issue 19, item 5: credentials an http task sends (Authorization, Cookie and API-key headers, URL
// user info, secret query parameters) are hidden in everything recorded, shown and logged; the
// request itself carries them. The access log hides secret query parameters.
#include <doctest/doctest.h>

#include "core/db/db.hpp"
#include "core/log/log.hpp"
#include "core/util/redact.hpp"
#include "tests/modules/workflow/rig.hpp"
#include "tests/support/fake_http.hpp"

#include <boost/json.hpp>
#include <soci/soci.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;

TEST_CASE("redact: names, headers, URLs and request targets") {
    for (const char* n : {"Authorization", "Proxy-Authorization", "Cookie", "X-API-Key", "apikey", "access_key", "x-auth-token",
                          "client_secret", "password", "X-Signature", "session_id", "token"})
        CHECK_MESSAGE(sensitive_name(n), n);
    for (const char* n : {"Content-Type", "page", "x-request-id", "user-agent", "q"}) CHECK_MESSAGE(!sensitive_name(n), n);
    CHECK(redact_header("Authorization", "Bearer abc") == "Bearer ********");
    CHECK(redact_header("Authorization", "abc") == "********");
    CHECK(redact_header("Cookie", "sid=1") == "********");
    CHECK(redact_header("Accept", "text/html") == "text/html");
    CHECK(redact_url("https://u:p@h.example:8443/a/b?x=1&token=abc&api_key=k#frag") ==
          "https://********@h.example:8443/a/b?x=1&token=********&api_key=********#frag");
    CHECK(redact_url("http://h/p") == "http://h/p");
    CHECK(redact_url("not a url ?token=x") == "not a url ?token=x");
    CHECK(redact_target("/hooks/a?signature=s&n=2&password") == "/hooks/a?signature=********&n=2&password");
    CHECK(redact_url_in("connect: http://u:p@h/x failed, http://u:p@h/x", "http://u:p@h/x") ==
          "connect: http://********@h/x failed, http://********@h/x");
}

TEST_CASE("http task: credentials it sends are hidden in the run, its stored rows, events and logs") {
    std::mutex mu;
    std::string logged;
    log::set_observer([&](std::string_view line) {
        std::lock_guard lk(mu);
        logged.append(line).push_back('\n');
    });
    std::mutex seen_m;
    std::string seen;  // what the far end received
    std::atomic<bool> slow{true};
    FakeHttpServer far([&](const FakeRequest& req) {
        {
            std::lock_guard lk(seen_m);
            seen += req.head + "\n";
        }
        return FakeResponse{200, R"({"ok":true})", "application/json", slow ? 1500 : 0};
    });
    {
        TestServer srv(Overrides{{"workflow.http_allow", "127.0.0.1"}, {"server.access_log", "true"}, {"log.level", "debug"}});
        Api api{srv};
        std::string url = far.url("/data?page=2&token=PLANTED-query");
        auto wf = api.create(R"({"name":"calls","active":true,"triggers":[{"type":"webhook","path":"call"}],"tasks":[
            {"id":"h","type":"http","config":{"url":")" + url + R"(","headers":{
                "Authorization":"Bearer {{ input.key }}","Cookie":"sid=PLANTED-cookie","X-API-Key":"PLANTED-apikey","X-Plain":"visible"}}},
            {"id":"bad","type":"http","on_error":"continue","config":{"url":"http://user:PLANTED-error@127.0.0.1:1/x?secret=PLANTED-error2"}}]})");
        // The key comes from a webhook call whose query carries a token (the access log hides it);
        // the run's own input is the caller's data and shows what the caller sent.
        std::string call = "/hooks/call?signature=PLANTED-access";
        HttpResult started;
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        do {  // the trigger goes live shortly after the save
            started = http(srv.port(), "POST", call, R"({"key":"PLANTED-bearer"})", {{"Content-Type", "application/json"}});
        } while (started.status == 404 && std::chrono::steady_clock::now() < until &&
                 (std::this_thread::sleep_for(std::chrono::milliseconds(20)), true));
        REQUIRE(started.status == 202);
        std::string run_id = str(started.json().at("id"));
        // While the call is in flight the run is held in memory: its view hides them too.
        std::string shown;
        for (int i = 0; i < 200; ++i) {
            auto live = api.call("GET", "/api/v1/runs/" + run_id);
            auto view = live.json().as_object();
            if (task(view, "h").at("status") == "running") {
                view.erase("input");  // the caller's own data
                shown += json::serialize(view);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        REQUIRE(!shown.empty());
        slow = false;
        auto run = api.wait(run_id);
        REQUIRE(str(run.at("status")) == "succeeded");
        const auto& input = task(run, "h").at("input").as_object();
        CHECK(input.at("headers").at("Authorization") == "Bearer ********");
        CHECK(input.at("headers").at("Cookie") == "********");
        CHECK(input.at("headers").at("X-API-Key") == "********");
        CHECK(input.at("headers").at("X-Plain") == "visible");
        CHECK(str(input.at("url")).find("page=2&token=********") != std::string::npos);
        CHECK(str(task(run, "h").at("output").at("url")).find("PLANTED") == std::string::npos);
        CHECK(str(task(run, "bad").at("status")) == "failed");
        // (The client refuses user info in URLs; its error shows the URL with it hidden.)
        CHECK(str(task(run, "bad").at("input").at("url")) == "http://********@127.0.0.1:1/x?secret=********");
        CHECK(str(task(run, "bad").at("error")).find("'http://********@127.0.0.1:1/x?secret=********'") != std::string::npos);
        // Everything the API returns about it, without the caller's own input.
        run.erase("input");
        shown += json::serialize(run);
        shown += api.call("GET", "/api/v1/runs?workflow_id=" + wf).body;
        shown += api.call("GET", "/api/v1/workflows/outcomes").body;
        srv.app().db().with_session([&](soci::session& s) {
            soci::rowset<std::string> rows = (s.prepare << "SELECT input || output || error FROM workflow_tasks");
            for (const auto& r : rows) shown += r;
        });
        CHECK(shown.find("PLANTED") == std::string::npos);
        // The far end got every one of them.
        std::lock_guard lk(seen_m);
        for (const char* secret : {"Bearer PLANTED-bearer", "sid=PLANTED-cookie", "PLANTED-apikey", "token=PLANTED-query"})
            CHECK_MESSAGE(seen.find(secret) != std::string::npos, secret);
    }
    log::set_observer({});
    CHECK(logged.find("\"GET /hooks/call?signature=********\"") == std::string::npos);  // it was a POST
    CHECK(logged.find("POST /hooks/call?signature=********") != std::string::npos);
    CHECK(logged.find("PLANTED-access") == std::string::npos);
    for (const char* secret : {"PLANTED-bearer", "PLANTED-cookie", "PLANTED-apikey", "PLANTED-query", "PLANTED-error"})
        CHECK_MESSAGE(logged.find(secret) == std::string::npos, secret);
}
