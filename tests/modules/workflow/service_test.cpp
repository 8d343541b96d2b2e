// The workflow module's service layer: WorkflowService used directly (as another module would),
// who started a run (created_by), and the durable outcome feed over the service and HTTP.
#include <doctest/doctest.h>

#include "core/app/module.hpp"
#include "modules/workflow/api.hpp"
#include "modules/workflow/outcomes.hpp"
#include "tests/modules/workflow/rig.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

// Runs a service coroutine to its end on a small pool (as a module's coroutine would run).
struct Caller {
    asio::thread_pool pool{2};
    ~Caller() { pool.join(); }
    template <class F>
    auto operator()(F f) {
        return asio::co_spawn(pool.get_executor(), std::move(f), asio::use_future).get();
    }
};

workflow::WorkflowService& service_of(TestServer& srv) { return srv.app().services().require<workflow::WorkflowService>(); }

}  // namespace

TEST_CASE("workflow service: start, get, list and cancel through WorkflowService") {
    TestServer srv;
    Api api{srv};
    Caller call;
    auto& svc = service_of(srv);
    auto quick = api.create(R"({"name":"quick","tasks":[{"id":"a","type":"set","config":{"values":{"x":"{{ input.x }}"}}}]})");
    auto slow = api.create(R"({"name":"slow","tasks":[{"id":"w","type":"delay","config":{"seconds":60}}]})");

    workflow::RunStart start;
    start.workflow_id = quick;
    start.input = json::object{{"x", 7}};
    start.created_by = "module:test";
    auto started = call([&]() -> asio::awaitable<workflow::StartedRun> { co_return co_await svc.start_run(start); });
    CHECK(!started.existing);
    auto done = api.wait(started.id);
    CHECK(str(done.at("status")) == "succeeded");
    CHECK(done.at("output") == json::parse(R"({"x":7})"));
    auto got = call([&]() -> asio::awaitable<json::object> { co_return co_await svc.get_run(started.id); });
    CHECK(str(got.at("created_by")) == "module:test");
    CHECK(str(got.at("status")) == "succeeded");

    // Idempotency through the service: the same key gives the first run.
    start.idempotency_key = "svc-1";
    auto first = call([&]() -> asio::awaitable<workflow::StartedRun> { co_return co_await svc.start_run(start); });
    auto again = call([&]() -> asio::awaitable<workflow::StartedRun> { co_return co_await svc.start_run(start); });
    CHECK(first.id == again.id);
    CHECK(again.existing);

    // Cancel a waiting run; a second cancel is a conflict.
    workflow::RunStart s2;
    s2.workflow_id = slow;
    s2.created_by = "module:test";
    auto waiting = call([&]() -> asio::awaitable<workflow::StartedRun> { co_return co_await svc.start_run(s2); });
    call([&]() -> asio::awaitable<void> { co_await svc.cancel_run(waiting.id); });
    CHECK(str(api.wait(waiting.id).at("status")) == "cancelled");
    CHECK_THROWS_AS(call([&]() -> asio::awaitable<void> { co_await svc.cancel_run(waiting.id); }), Error);

    // List by workflow and status, paged by cursor.
    workflow::RunQuery q;
    q.workflow_id = quick;
    q.limit = 1;
    auto page1 = call([&]() -> asio::awaitable<workflow::RunPage> { co_return co_await svc.list_runs(q); });
    REQUIRE(page1.items.size() == 1);
    REQUIRE(page1.next_cursor);
    q.cursor = *page1.next_cursor;
    q.limit = 10;
    auto page2 = call([&]() -> asio::awaitable<workflow::RunPage> { co_return co_await svc.list_runs(q); });
    CHECK(page2.items.size() == 1);  // two runs of "quick" (the idempotent start made one)
    CHECK(page2.items[0].as_object().at("id") != page1.items[0].as_object().at("id"));
    workflow::RunQuery cancelled;
    cancelled.status = "cancelled";
    auto page3 = call([&]() -> asio::awaitable<workflow::RunPage> { co_return co_await svc.list_runs(cancelled); });
    REQUIRE(page3.items.size() == 1);
    CHECK(str(page3.items[0].as_object().at("id")) == waiting.id);
    CHECK(str(page3.items[0].as_object().at("created_by")) == "module:test");

    // Errors: unknown workflow and run, bad query.
    workflow::RunStart none;
    none.workflow_id = "no-such-workflow";
    CHECK_THROWS_AS(call([&]() -> asio::awaitable<workflow::StartedRun> { co_return co_await svc.start_run(none); }), Error);
    CHECK_THROWS_AS(call([&]() -> asio::awaitable<json::object> { co_return co_await svc.get_run("no-such-run"); }), Error);
    workflow::RunQuery bad;
    bad.status = "sleeping";
    CHECK_THROWS_AS(call([&]() -> asio::awaitable<workflow::RunPage> { co_return co_await svc.list_runs(bad); }), Error);
}

TEST_CASE("workflow: runs record who started them (API key, session, webhook, child run)") {
    TestServer srv;
    Api api{srv};
    auto parent_id = api.create(R"({"name":"who","active":true,"triggers":[{"type":"webhook","method":"POST","path":"who"}],
        "tasks":[{"id":"a","type":"set","config":{"values":1}}]})");

    // An API key: its id.
    auto key = api.call("POST", "/api/v1/auth/api-keys", R"({"name":"starter","scopes":["*"]})");
    REQUIRE(key.status == 201);
    std::string key_id(key.json().at("id").as_string());
    Headers bearer{{"Authorization", "Bearer " + std::string(key.json().at("key").as_string())}};
    auto by_key = api.call_as(bearer, "POST", "/api/v1/workflows/" + parent_id + "/runs", R"({"input":{}})");
    REQUIRE(by_key.status == 201);
    auto run1 = api.wait(str(by_key.json().at("id")));
    CHECK(str(run1.at("created_by")) == "api_key:" + key_id);

    // A browser session: the user's id.
    auto login = http(srv.port(), "POST", "/api/v1/auth/login",
                      json::serialize(json::object{{"username", "admin"}, {"password", TestServer::kAdminPassword}}),
                      {{"Content-Type", "application/json"}});
    REQUIRE(login.status == 200);
    auto cookie = login.header("set-cookie");
    Headers session{{"Cookie", cookie.substr(0, cookie.find(';'))}, {"X-CSRF-Token", str(login.json().at("csrf_token"))}};
    auto me = api.call_as(session, "GET", "/api/v1/auth/me", {});
    REQUIRE(me.status == 200);
    std::string user_id(me.json().at("user").at("id").as_string());
    auto by_session = api.call_as(session, "POST", "/api/v1/workflows/" + parent_id + "/runs", R"({"input":{}})");
    REQUIRE(by_session.status == 201);
    auto run2 = api.wait(str(by_session.json().at("id")));
    CHECK(str(run2.at("created_by")) == "user:" + user_id);
    // Rerun: who asked for it.
    auto rerun = api.call_as(session, "POST", "/api/v1/runs/" + str(run1.at("id")) + "/rerun", {});
    REQUIRE(rerun.status == 201);
    CHECK(str(api.wait(str(rerun.json().at("id"))).at("created_by")) == "user:" + user_id);

    // A webhook.
    auto hook = http(srv.port(), "POST", "/hooks/who", "{}", {{"Content-Type", "application/json"}});
    REQUIRE(hook.status == 202);
    auto run3 = api.wait(str(hook.json().at("id")));
    CHECK(str(run3.at("created_by")) == "trigger:webhook");

    // A child run: its parent.
    auto outer = api.create(R"({"name":"outer","tasks":[{"id":"sub","type":"subworkflow","config":{"workflow_id":")" +
                            parent_id + R"("}}]})");
    auto started = api.call("POST", "/api/v1/workflows/" + outer + "/runs", R"({"input":{}})");
    REQUIRE(started.status == 201);
    std::string outer_run = str(started.json().at("id"));
    auto done = api.wait(outer_run);
    REQUIRE(str(done.at("status")) == "succeeded");
    std::string child(done.at("tasks").as_array()[0].as_object().at("output").as_object().at("run_id").as_string());
    CHECK(str(api.wait(child).at("created_by")) == "run:" + outer_run);

    // The run list carries it too.
    auto list = api.call("GET", "/api/v1/runs?workflow_id=" + parent_id + "&limit=10");
    REQUIRE(list.status == 200);
    std::set<std::string> who;
    auto listed = list.json();
    for (const auto& r : listed.at("items").as_array()) who.insert(str(r.at("created_by")));
    CHECK(who.count("api_key:" + key_id) == 1);
    CHECK(who.count("trigger:webhook") == 1);
}

TEST_CASE("workflow: the outcome feed returns every finished task and run exactly once, also while runs finish concurrently") {
    TestServer srv;
    Api api{srv};
    Caller call;
    auto& svc = service_of(srv);
    auto wf = api.create(R"({"name":"feed","tasks":[
        {"id":"a","type":"set","config":{"values":1}},
        {"id":"b","type":"script","depends_on":["a"],"config":{"code":"return 2"}},
        {"id":"c","type":"set","depends_on":["a"],"config":{"values":3}}]})");
    auto failing = api.create(R"j({"name":"feed-fail","tasks":[{"id":"boom","type":"script","config":{"code":"error('boom')"}}]})j");

    // Start runs from several threads while a reader pages through the feed.
    constexpr int kThreads = 4, kPerThread = 15;
    std::vector<std::string> ids(kThreads * kPerThread);
    std::atomic<int> started{0};
    std::vector<std::thread> starters;
    for (int t = 0; t < kThreads; ++t)
        starters.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                auto target = (i % 5 == 4) ? failing : wf;
                auto r = api.call("POST", "/api/v1/workflows/" + target + "/runs", R"({"input":{}})");
                if (r.status == 201) ids[t * kPerThread + i] = str(r.json().at("id"));
                ++started;
            }
        });
    std::map<std::string, int> seen;  // "run:<id>" / "task:<run>/<task>" -> times delivered
    std::vector<workflow::Outcome> all;
    std::string cursor;
    auto read_page = [&](int limit) {
        auto page = call([&]() -> asio::awaitable<workflow::OutcomePage> { co_return co_await svc.outcomes(cursor, limit); });
        for (auto& o : page.items) {
            ++seen[o.kind == workflow::Outcome::Kind::run ? "run:" + o.run_id : "task:" + o.run_id + "/" + o.task_id];
            all.push_back(o);
        }
        if (!page.items.empty()) CHECK(page.next_cursor != cursor);
        cursor = page.next_cursor;
        return page.items.size();
    };
    while (started < kThreads * kPerThread) read_page(7);
    for (auto& t : starters) t.join();
    std::size_t expected = 0;
    std::set<std::string> expected_keys;
    for (int i = 0; i < kThreads * kPerThread; ++i) {
        REQUIRE(!ids[i].empty());
        auto run = api.wait(ids[i]);
        expected_keys.insert("run:" + ids[i]);
        for (const auto& t : run.at("tasks").as_array()) expected_keys.insert("task:" + ids[i] + "/" + str(t.at("id")));
    }
    expected = expected_keys.size();
    // Every run has ended: page on until the feed has caught up (a deadline, no fixed wait).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (seen.size() < expected && std::chrono::steady_clock::now() < deadline) read_page(11);
    CHECK(read_page(50) == 0);  // nothing more, nothing twice
    CHECK(seen.size() == expected);
    for (const auto& [k, n] : seen) {
        INFO(k);
        CHECK(n == 1);
        CHECK(expected_keys.count(k) == 1);
    }
    // The fields of a finished task and run.
    int failed_tasks = 0, failed_runs = 0;
    for (const auto& o : all) {
        CHECK(o.created_by.rfind("api_key:", 0) == 0);
        CHECK(o.version == 1);
        CHECK(o.finished_at > 0);
        if (o.kind == workflow::Outcome::Kind::task) {
            CHECK(o.attempts == 1);
            CHECK(o.latency_ms.has_value());
            CHECK(!o.type.empty());
            if (o.status == "failed") {
                ++failed_tasks;
                CHECK(o.error.find("boom") != std::string::npos);
                CHECK(o.workflow_id == failing);
            }
        } else if (o.status == "failed") {
            ++failed_runs;
        }
    }
    CHECK(failed_tasks == kThreads * kPerThread / 5);
    CHECK(failed_runs == kThreads * kPerThread / 5);

    // From the start again, in pages of one: the same outcomes in the same order.
    std::string c;
    std::size_t k = 0;
    while (true) {
        auto page = call([&]() -> asio::awaitable<workflow::OutcomePage> { co_return co_await svc.outcomes(c, 1); });
        if (page.items.empty()) break;
        REQUIRE(k < all.size());
        CHECK(page.items[0].run_id == all[k].run_id);
        CHECK(page.items[0].task_id == all[k].task_id);
        ++k;
        c = page.next_cursor;
    }
    CHECK(k == all.size());
}

TEST_CASE("workflow: GET /api/v1/workflows/outcomes pages by cursor; 401, 403 and a bad cursor") {
    TestServer srv;
    Api api{srv};
    auto wf = api.create(R"({"name":"o","tasks":[{"id":"a","type":"set","config":{"values":1}},
        {"id":"b","type":"set","depends_on":["a"],"config":{"values":2}}]})");
    std::set<std::string> runs;
    for (int i = 0; i < 3; ++i) {
        auto r = api.call("POST", "/api/v1/workflows/" + wf + "/runs", R"({"input":{}})");
        REQUIRE(r.status == 201);
        runs.insert(str(api.wait(str(r.json().at("id"))).at("id")));
    }
    std::set<std::string> items;
    std::string cursor;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (items.size() < 9 && std::chrono::steady_clock::now() < deadline) {
        auto r = api.call("GET", "/api/v1/workflows/outcomes?limit=2&cursor=" + cursor);
        INFO(r.body);
        REQUIRE(r.status == 200);
        auto body = r.json().as_object();
        CHECK(body.at("items").as_array().size() <= 2);
        for (const auto& v : body.at("items").as_array()) {
            const auto& o = v.as_object();
            CHECK(runs.count(str(o.at("run_id"))) == 1);
            CHECK(str(o.at("workflow_id")) == wf);
            CHECK(str(o.at("status")) == "succeeded");
            CHECK(str(o.at("created_by")).rfind("api_key:", 0) == 0);
            if (str(o.at("kind")) == "task") {
                CHECK(o.at("attempts").as_int64() == 1);
                CHECK(str(o.at("type")) == "set");
                CHECK(o.at("latency_ms").is_int64());
            }
            CHECK(items.insert(str(o.at("kind")) + ":" + str(o.at("run_id")) + "/" + str(o.at("id"))).second);
        }
        cursor = str(body.at("next_cursor"));
    }
    CHECK(items.size() == 9);  // 3 runs + 6 tasks
    auto last = api.call("GET", "/api/v1/workflows/outcomes?cursor=" + cursor);
    CHECK(last.status == 200);
    CHECK(last.json().at("items").as_array().empty());
    CHECK(str(last.json().at("next_cursor")) == cursor);

    CHECK(http(srv.port(), "GET", "/api/v1/workflows/outcomes").status == 401);
    auto key = api.call("POST", "/api/v1/auth/api-keys", R"({"name":"flows","scopes":["flows.read"]})");
    REQUIRE(key.status == 201);
    auto forbidden = http(srv.port(), "GET", "/api/v1/workflows/outcomes", {},
                          {{"Authorization", "Bearer " + std::string(key.json().at("key").as_string())}});
    CHECK(forbidden.status == 403);
    for (std::string bad : {"nonsense", "12.x.abc", "-1.r.abc", "5.t.run", "5.r.a'b"}) {
        auto r = api.call("GET", "/api/v1/workflows/outcomes?cursor=" + bad);
        INFO(bad);
        CHECK(r.status == 400);
        CHECK(r.header("content-type").find("application/problem+json") != std::string::npos);
    }
    CHECK(api.call("GET", "/api/v1/workflows/outcomes?limit=0").status == 400);
    // The route is in the OpenAPI document with its permission.
    auto doc = http(srv.port(), "GET", "/api/v1/openapi.json").json();
    CHECK(str(doc.at("paths").at("/api/v1/workflows/outcomes").at("get").at("x-permission")) == "runs.read");
}

TEST_CASE("workflow: outcome cursors round-trip and refuse malformed text") {
    using workflow::parse_outcome_cursor;
    CHECK(parse_outcome_cursor("")->start);
    auto t = parse_outcome_cursor("42.t.run-1.task_a");
    REQUIRE(t);
    CHECK(t->seq == 42);
    CHECK(t->kind == workflow::Outcome::Kind::task);
    CHECK(workflow::format_outcome_cursor(*t) == "42.t.run-1.task_a");
    auto r = parse_outcome_cursor("7.r.abc");
    REQUIRE(r);
    CHECK(workflow::format_outcome_cursor(*r) == "7.r.abc");
    for (const char* bad : {"x", "1.r", "1.r.a.b", "1.t.a", "1.q.a", "a.r.b", "1.r.a b", "99999999999999999999.r.a", "1.r."})
        CHECK(!parse_outcome_cursor(bad));
}
