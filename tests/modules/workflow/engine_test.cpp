// Integration tests of the workflow module: the real server on an ephemeral port, its HTTP API,
// webhooks and the engine, on the selected database backend.
#include <doctest/doctest.h>

#include "tests/modules/workflow/rig.hpp"
#include "tests/support/fake_http.hpp"

#include <boost/json.hpp>
#include <soci/soci.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace arclight::test;
namespace json = boost::json;


TEST_CASE("workflow: validate lists every error with a JSON pointer") {
    TestServer srv;
    Api api{srv};
    auto r = api.call("POST", "/api/v1/workflows/validate", R"({
      "name": "bad",
      "triggers": [{"type": "cron", "schedule": "61 * * * *"}, {"type": "webhook", "path": "a b"}],
      "tasks": [
        {"id": "a", "type": "nope"},
        {"id": "b", "type": "script", "config": {}},
        {"id": "c", "type": "set", "config": {"values": 1}, "depends_on": ["missing"]},
        {"id": "d", "type": "set", "config": {"values": "{{ tasks.ghost.output }}"}},
        {"id": "e", "type": "set", "config": {"values": 1}, "depends_on": ["f"]},
        {"id": "f", "type": "set", "config": {"values": 1}, "depends_on": ["e"]},
        {"id": "g", "type": "script", "config": {"code": "return ("}},
        {"id": "h", "type": "delay", "config": {"seconds": 1}, "retry": {"max_attempts": 0}}
      ]})");
    CHECK(r.status == 422);
    CHECK(r.header("content-type").find("application/problem+json") != std::string::npos);
    std::set<std::string> pointers;
    auto body = r.json();
    for (const auto& e : body.at("errors").as_array()) pointers.insert(std::string(e.at("pointer").as_string()));
    INFO(r.body);
    CHECK(pointers.count("/triggers/0/schedule"));
    CHECK(pointers.count("/triggers/1/path"));
    CHECK(pointers.count("/tasks/0/type"));
    CHECK(pointers.count("/tasks/1/config/code"));
    CHECK(pointers.count("/tasks/2/depends_on/0"));
    CHECK(pointers.count("/tasks/3/config/values"));  // the string that reads a task that does not exist
    CHECK(pointers.count("/tasks/6/config/code"));
    CHECK(pointers.count("/tasks/7/retry/max_attempts"));
    // The cycle is reported once the rest is valid.
    auto cyc = api.call("POST", "/api/v1/workflows/validate", R"({"name":"c","tasks":[
        {"id":"e","type":"set","config":{"values":1},"depends_on":["f"]},
        {"id":"f","type":"set","config":{"values":1},"depends_on":["e"]}]})");
    CHECK(cyc.status == 422);
    CHECK(cyc.body.find("cycle") != std::string::npos);
    auto ok = api.call("POST", "/api/v1/workflows/validate", R"({"name":"ok","tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
    CHECK(ok.status == 200);
    CHECK(api.call("POST", "/api/v1/workflows/validate", "[1,2]").status == 422);
    CHECK(api.call("POST", "/api/v1/workflows/validate", "{not json").status == 400);
}

TEST_CASE("workflow: a change made by another instance reaches the start route through NOTIFY") {
    if (!use_postgres()) return;  // one process per SQLite file: every change is local
    // A cache lifetime far longer than the test: only the NOTIFY can explain a fresh version.
    TestServer srv(Overrides{{"workflow.trigger_refresh_ms", "600000"}});
    Api api{srv};
    auto id = api.create(R"({"name":"n","tasks":[{"id":"x","type":"set","config":{"values":1}}]})");
    CHECK(api.wait(api.start(id)).at("version").as_int64() == 1);  // version 1 is now cached
    // What another instance's PUT does: a new version in the database, then the announcement.
    std::string def2 = R"({"name":"n","tasks":[{"id":"x","type":"set","config":{"values":2}}]})";
    srv.app().db().with_session([&](soci::session& s) {
        s << "UPDATE workflows SET version = 2, definition = :d WHERE id = :id", soci::use(def2), soci::use(id);
        s << "INSERT INTO workflow_versions (workflow_id, version, definition, created_at) VALUES (:id, 2, :d, 0)",
            soci::use(id), soci::use(def2);
    });
    CHECK(api.wait(api.start(id)).at("version").as_int64() == 1);  // not announced yet: still cached
    srv.app().db().with_session([&](soci::session& s) {
        std::string payload = "workflow:" + id;
        s << "SELECT pg_notify('arclight_workflow', :p)", soci::use(payload);
    });
    std::int64_t version = 0;
    for (int i = 0; i < 100 && version != 2; ++i) {
        auto r = api.wait(api.start(id));
        version = r.at("version").as_int64();
        if (version == 2) CHECK(r.at("output") == json::value(2));
        else std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(version == 2);
}

TEST_CASE("workflow: PostgreSQL state writers survive losing their connections") {
    if (!use_postgres()) return;
    TestServer srv;
    Api api{srv};
    auto id = api.create(R"({"name":"w","tasks":[{"id":"a","type":"set","config":{"values":1}},
        {"id":"b","type":"set","depends_on":["a"],"config":{"values":2}}]})");
    // Cut every writer connection over and over while runs start and finish.
    std::atomic<bool> done{false};
    std::atomic<int> cut{0};
    std::thread cutter([&] {
        while (!done) {
            int n = 0;
            srv.app().db().with_session([&](soci::session& s) {
                s << "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE application_name = 'arclight workflow writer' AND datname = current_database()",
                    soci::into(n);
            });
            cut += n;
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
    });
    struct Stop {
        std::atomic<bool>& done;
        std::thread& t;
        ~Stop() {
            done = true;
            if (t.joinable()) t.join();
        }
    } stop{done, cutter};
    std::vector<std::string> runs;
    for (int i = 0; i < 60; ++i) runs.push_back(api.start(id));
    done = true;
    cutter.join();
    CHECK(cut > 0);
    for (const auto& r : runs) {
        auto run = api.wait(r);
        CHECK(str(run.at("status")) == "succeeded");
        CHECK(run.at("output") == json::value(2));
        CHECK(task(run, "a").at("status").as_string() == "succeeded");
    }
}

TEST_CASE("workflow: create, read, version, list, delete") {
    TestServer srv;
    Api api{srv};
    auto id = api.create(R"({"name":"v","tasks":[{"id":"w","type":"delay","config":{"seconds":0.4}}]})");
    auto got = api.call("GET", "/api/v1/workflows/" + id);
    CHECK(got.status == 200);
    CHECK(got.json().at("version").as_int64() == 1);
    CHECK(got.json().at("tasks").as_array().size() == 1);
    auto run1 = api.start(id);
    auto put = api.call("PUT", "/api/v1/workflows/" + id, R"({"name":"v2","tasks":[{"id":"x","type":"set","config":{"values":2}}]})");
    CHECK(put.status == 200);
    CHECK(put.json().at("version").as_int64() == 2);
    auto r1 = api.wait(run1);
    CHECK(str(r1.at("status")) == "succeeded");
    CHECK(r1.at("version").as_int64() == 1);  // a run keeps the version it started with
    CHECK(task(r1, "w").at("status").as_string() == "succeeded");
    auto run2 = api.wait(api.start(id));
    CHECK(run2.at("version").as_int64() == 2);
    CHECK(run2.at("output") == json::value(2));
    auto list = api.call("GET", "/api/v1/workflows");
    CHECK(list.json().at("items").as_array().size() == 1);
    CHECK(api.call("DELETE", "/api/v1/workflows/" + id).status == 204);
    CHECK(api.call("GET", "/api/v1/workflows/" + id).status == 404);
    CHECK(api.call("DELETE", "/api/v1/workflows/" + id).status == 404);
    CHECK(api.run(run1).at("status") == "succeeded");  // runs stay readable
    CHECK(api.call("POST", "/api/v1/workflows/nope/runs", "{}").status == 404);
    CHECK(api.call("GET", "/api/v1/runs/00000000-0000-0000-0000-000000000000").status == 404);
}

TEST_CASE("workflow: DAG order, and parallel branches overlap (timestamps)") {
    TestServer srv;
    Api api{srv};
    auto id = api.create(R"({"name":"dag","tasks":[
        {"id":"a","type":"set","config":{"values":{"n":1}}},
        {"id":"b","type":"delay","config":{"seconds":0.3},"depends_on":["a"]},
        {"id":"c","type":"delay","config":{"seconds":0.3},"depends_on":["a"]},
        {"id":"d","type":"set","config":{"values":{"from_a":"{{ tasks.a.output.n }}","b":"{{ tasks.b.status }}"}},"depends_on":["b","c"]}]})");
    auto run = api.wait(api.start(id));
    INFO(json::serialize(run));
    REQUIRE(str(run.at("status")) == "succeeded");
    auto a = task(run, "a"), b = task(run, "b"), c = task(run, "c"), d = task(run, "d");
    // Timestamps are ISO 8601 with milliseconds: they compare as strings.
    CHECK(str(b.at("started_at")) >= str(a.at("finished_at")));
    CHECK(str(c.at("started_at")) >= str(a.at("finished_at")));
    CHECK(str(b.at("started_at")) < str(c.at("finished_at")));  // b and c ran at the same time
    CHECK(str(c.at("started_at")) < str(b.at("finished_at")));
    CHECK(str(d.at("started_at")) >= str(b.at("finished_at")));
    CHECK(str(d.at("started_at")) >= str(c.at("finished_at")));
    CHECK(d.at("output") == json::parse(R"({"from_a":1,"b":"succeeded"})"));
}

TEST_CASE("workflow: retries with back-off, then success; without retries the run fails") {
    std::atomic<int> hits{0};
    std::mutex m;
    std::vector<std::chrono::steady_clock::time_point> times;
    FakeHttpServer far([&](const FakeRequest&) {
        std::lock_guard lk(m);
        times.push_back(std::chrono::steady_clock::now());
        return ++hits <= 2 ? FakeResponse{503, "{}"} : FakeResponse{200, R"({"ok":true})"};
    });
    TestServer srv(Overrides{{"workflow.http_allow", "127.0.0.1"}});
    Api api{srv};
    auto id = api.create(R"({"name":"flaky","tasks":[{"id":"call","type":"http","config":{"url":")" + far.url("/x") +
                         R"("},"retry":{"max_attempts":3,"backoff_ms":200,"factor":2,"jitter":false}}]})");
    auto run = api.wait(api.start(id));
    INFO(json::serialize(run));
    CHECK(str(run.at("status")) == "succeeded");
    CHECK(task(run, "call").at("attempts").as_int64() == 3);
    CHECK(task(run, "call").at("output").at("body") == json::parse(R"({"ok":true})"));
    REQUIRE(times.size() == 3);
    CHECK(times[1] - times[0] >= std::chrono::milliseconds(190));  // 200 ms, then 400 ms
    CHECK(times[2] - times[1] >= std::chrono::milliseconds(390));

    hits = -100;  // fails from now on
    auto id2 = api.create(R"({"name":"once","tasks":[{"id":"call","type":"http","config":{"url":")" + far.url("/y") + R"("}}]})");
    auto run2 = api.wait(api.start(id2));
    CHECK(str(run2.at("status")) == "failed");
    CHECK(str(run2.at("error")).find("task call failed") != std::string::npos);
    CHECK(task(run2, "call").at("attempts").as_int64() == 1);
}

TEST_CASE("workflow: per-task and per-run timeouts") {
    FakeHttpServer slow([](const FakeRequest&) { return FakeResponse{200, "{}", "application/json", 10000}; });
    TestServer srv(Overrides{{"workflow.http_allow", "127.0.0.1"}});
    Api api{srv};
    auto id = api.create(R"({"name":"t","tasks":[{"id":"call","type":"http","timeout_ms":200,"config":{"url":")" + slow.url("/") + R"("}}]})");
    auto t0 = std::chrono::steady_clock::now();
    auto run = api.wait(api.start(id));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(8000));  // long before the answer
    CHECK(str(run.at("status")) == "failed");
    CHECK(str(task(run, "call").at("error")).find("time") != std::string::npos);

    auto id2 = api.create(R"({"name":"rt","timeout_ms":300,"tasks":[{"id":"nap","type":"delay","config":{"seconds":30}}]})");
    auto run2 = api.wait(api.start(id2));
    CHECK(str(run2.at("status")) == "failed");
    CHECK(str(run2.at("error")).find("timed out") != std::string::npos);
    CHECK(str(task(run2, "nap").at("status")) == "cancelled");
}

TEST_CASE("workflow: cancel a running run") {
    TestServer srv;
    Api api{srv};
    auto id = api.create(R"({"name":"c","tasks":[{"id":"nap","type":"delay","config":{"seconds":30}},
        {"id":"after","type":"set","config":{"values":1},"depends_on":["nap"]}]})");
    auto run_id = api.start(id);
    api.wait(run_id, 5000, true);
    auto c = api.call("POST", "/api/v1/runs/" + run_id + "/cancel");
    CHECK(c.status == 200);
    auto run = api.wait(run_id);
    CHECK(str(run.at("status")) == "cancelled");
    CHECK(str(task(run, "nap").at("status")) == "cancelled");
    CHECK(str(task(run, "after").at("status")) == "cancelled");
    CHECK(api.call("POST", "/api/v1/runs/" + run_id + "/cancel").status == 409);
}

TEST_CASE("workflow: script sandbox refuses escapes and enforces limits") {
    TestServer srv(Overrides{{"workflow.script_wall_ms", "500"}, {"workflow.script_memory_mb", "16"}});
    Api api{srv};
    auto marker = std::filesystem::temp_directory_path() / ("arclight-escape-" + std::to_string(::getpid()));
    std::filesystem::remove(marker);
    std::vector<std::pair<std::string, std::string>> cases = {
        {"os.execute", "os.execute('touch " + marker.string() + "') return 1"},
        {"io.open", "local f = io.open('" + marker.string() + "', 'w') f:write('x') return 1"},
        {"require", "local os2 = require('os') return os2.time()"},
        {"load", "return load('return 1')()"},
        {"infinite loop", "while true do end"},
        {"memory bomb", "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end"},
        {"pathological find", "return string.find(string.rep('a', 3e4), string.rep('a?', 3e4) .. string.rep('a', 3e4))"},
    };
    for (const auto& [label, code] : cases) {
        CAPTURE(label);
        json::object def{{"name", label}, {"tasks", json::array{json::object{{"id", "s"}, {"type", "script"}, {"config", {{"code", code}}}}}}};
        auto id = api.create(json::serialize(def));
        auto t0 = std::chrono::steady_clock::now();
        auto run = api.wait(api.start(id));
        CHECK(str(run.at("status")) == "failed");
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
        CHECK(!task(run, "s").at("error").is_null());
    }
    CHECK(!std::filesystem::exists(marker));
    // And a normal script sees the documented input.
    auto id = api.create(R"({"name":"ok","tasks":[{"id":"a","type":"set","config":{"values":{"n":41}}},
        {"id":"s","type":"script","depends_on":["a"],"config":{"code":"return {n = input.tasks.a.output.n + 1, x = input.input.x, t = input.trigger.type}"}}]})");
    auto run = api.wait(api.start(id, R"({"x":"y"})"));
    CHECK(run.at("output") == json::parse(R"({"n":42,"x":"y","t":"manual"})"));
}

TEST_CASE("workflow: the http task's SSRF guard refuses internal addresses unless allow-listed") {
    FakeHttpServer local([](const FakeRequest&) { return FakeResponse{200, R"({"hi":1})"}; });
    {
        TestServer srv;
        Api api{srv};
        for (std::string url : {local.url("/"), std::string("http://169.254.169.254/latest/meta-data/"),
                                std::string("http://[::ffff:127.0.0.1]:") + std::to_string(local.port()) + "/",
                                std::string("http://10.0.0.1/")}) {
            CAPTURE(url);
            json::object def{{"name", "ssrf"},
                             {"tasks", json::array{json::object{{"id", "h"}, {"type", "http"}, {"config", {{"url", url}, {"timeout_ms", 2000}}}}}}};
            auto run = api.wait(api.start(api.create(json::serialize(def))));
            CHECK(str(run.at("status")) == "failed");
            CHECK(str(task(run, "h").at("error")).find("refused") != std::string::npos);
        }
    }
    TestServer srv(Overrides{{"workflow.http_allow", "127.0.0.1"}});
    Api api{srv};
    json::object def{{"name", "ok"}, {"tasks", json::array{json::object{{"id", "h"}, {"type", "http"}, {"config", {{"url", local.url("/")}}}}}}};
    auto run = api.wait(api.start(api.create(json::serialize(def))));
    CHECK(str(run.at("status")) == "succeeded");
    CHECK(task(run, "h").at("output").at("body") == json::parse(R"({"hi":1})"));
}

TEST_CASE("workflow: the issue's echo webhook works as written, in every execution_data mode") {
    TestServer srv;
    Api api{srv};
    for (std::string mode : {"none", "errors", "full"}) {
        CAPTURE(mode);
        auto def = R"({"name": "echo-)" + mode + R"(", "execution_data": ")" + mode + R"(", "active": true,
         "triggers": [{"type": "webhook", "method": "POST", "path": "echo-)" + mode + R"(", "respond": "sync"}],
         "tasks": [
           {"id": "add", "type": "script",
            "config": {"code": "local b = input.trigger.body; b.echoed = true; return b"}},
           {"id": "reply", "type": "respond", "depends_on": ["add"],
            "config": {"status": 200, "body": "{{ tasks.add.output }}"}}]})";
        api.create(def);
        auto r = http(srv.port(), "POST", "/hooks/echo-" + mode, R"({"a":1,"list":[1,2]})", {{"Content-Type", "application/json"}});
        INFO(r.body);
        CHECK(r.status == 200);
        CHECK(r.header("content-type").find("application/json") != std::string::npos);
        CHECK(r.json() == json::parse(R"({"a":1,"list":[1,2],"echoed":true})"));
    }
    // The issue's exact document (path "echo").
    api.create(R"({"name": "echo",
     "execution_data": "none", "active": true,
     "triggers": [{"type": "webhook", "method": "POST", "path": "echo", "respond": "sync"}],
     "tasks": [
       {"id": "add", "type": "script",
        "config": {"code": "local b = input.trigger.body; b.echoed = true; return b"}},
       {"id": "reply", "type": "respond", "depends_on": ["add"],
        "config": {"status": 200, "body": "{{ tasks.add.output }}"}}]})");
    auto r = http(srv.port(), "POST", "/hooks/echo", R"({"x":"y"})", {{"Content-Type", "application/json"}});
    CHECK(r.json() == json::parse(R"({"x":"y","echoed":true})"));
    // Unknown hook, wrong method, malformed JSON body.
    CHECK(http(srv.port(), "POST", "/hooks/nope", "{}").status == 404);
    CHECK(http(srv.port(), "GET", "/hooks/echo").status == 404);
    CHECK(http(srv.port(), "POST", "/hooks/echo", "{bad", {{"Content-Type", "application/json"}}).status == 400);
    // A second active workflow cannot take the same webhook.
    auto clash = api.call("POST", "/api/v1/workflows", R"({"name":"clash","active":true,
        "triggers":[{"type":"webhook","method":"POST","path":"echo"}],"tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
    CHECK(clash.status == 409);
}

TEST_CASE("workflow: async webhook answers 202 with the run id; deactivate stops it") {
    TestServer srv;
    Api api{srv};
    auto id = api.create(R"({"name":"hook","active":true,"triggers":[{"type":"webhook","method":"POST","path":"in/box"}],
        "tasks":[{"id":"s","type":"set","config":{"values":{"got":"{{ trigger.body.v }}","q":"{{ trigger.query.k }}"}}}]})");
    auto r = http(srv.port(), "POST", "/hooks/in/box?k=z", R"({"v":5})", {{"Content-Type", "application/json"}});
    REQUIRE(r.status == 202);
    auto run = api.wait(std::string(r.json().at("id").as_string()));
    CHECK(run.at("output") == json::parse(R"({"got":5,"q":"z"})"));
    CHECK(str(run.at("trigger")) == "webhook");
    CHECK(api.call("POST", "/api/v1/workflows/" + id + "/deactivate").status == 200);
    CHECK(http(srv.port(), "POST", "/hooks/in/box", "{}").status == 404);
    CHECK(api.call("POST", "/api/v1/workflows/" + id + "/activate").status == 200);
    CHECK(http(srv.port(), "POST", "/hooks/in/box", "{}").status == 202);
}

TEST_CASE("workflow: manual start with Idempotency-Key returns the same run") {
    TestServer srv;
    Api api{srv};
    auto id = api.create(R"({"name":"idem","execution_data":"none","tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
    auto a = api.call("POST", "/api/v1/workflows/" + id + "/runs", R"({"input":{}})", {{"Idempotency-Key", "k-1"}});
    auto b = api.call("POST", "/api/v1/workflows/" + id + "/runs", R"({"input":{}})", {{"Idempotency-Key", "k-1"}});
    CHECK(a.status == 201);
    CHECK(b.status == 200);
    CHECK(a.json().at("id") == b.json().at("id"));
    auto c = api.call("POST", "/api/v1/workflows/" + id + "/runs", R"({"input":{}})", {{"Idempotency-Key", "k-2"}});
    CHECK(c.json().at("id") != a.json().at("id"));
    // Concurrent duplicates: one run.
    std::vector<std::string> ids(8);
    std::vector<std::thread> ts;
    for (int i = 0; i < 8; ++i)
        ts.emplace_back([&, i] {
            auto r = api.call("POST", "/api/v1/workflows/" + id + "/runs", R"({"input":{}})", {{"Idempotency-Key", "k-3"}});
            ids[i] = r.body.empty() ? "" : std::string(r.json().at("id").as_string());
        });
    for (auto& t : ts) t.join();
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 1);
    // The same key with another input is refused (422), and the key keeps its first run.
    auto other = api.call("POST", "/api/v1/workflows/" + id + "/runs", R"({"input":{"x":1}})", {{"Idempotency-Key", "k-1"}});
    CHECK(other.status == 422);
    CHECK(str(other.json().at("code")) == "idempotency-key-reused");
    auto again = api.call("POST", "/api/v1/workflows/" + id + "/runs", R"({"input":{}})", {{"Idempotency-Key", "k-1"}});
    CHECK(again.status == 200);
    CHECK(again.json().at("id") == a.json().at("id"));
    // Key order and number spelling do not make a different request.
    auto d1 = api.call("POST", "/api/v1/workflows/" + id + "/runs", R"({"input":{"a":1,"b":2.0}})", {{"Idempotency-Key", "k-4"}});
    auto d2 = api.call("POST", "/api/v1/workflows/" + id + "/runs", R"({"input":{"b":2,"a":1}})", {{"Idempotency-Key", "k-4"}});
    CHECK(d1.status == 201);
    CHECK(d2.status == 200);
}

TEST_CASE("workflow: map fans out with a concurrency limit and fans in") {
    std::atomic<int> now{0}, peak{0};
    FakeHttpServer far([&](const FakeRequest& req) {
        int n = ++now;
        int p = peak.load();
        while (n > p && !peak.compare_exchange_weak(p, n)) {
        }
        FakeResponse r{200, "{\"path\":\"" + req.target + "\"}", "application/json", 100};
        --now;  // decremented before the delay ends is fine: the delay happens after return
        return r;
    });
    TestServer srv(Overrides{{"workflow.http_allow", "127.0.0.1"}});
    Api api{srv};
    auto id = api.create(R"({"name":"map","tasks":[
        {"id":"double","type":"map","config":{"items":"{{ input.xs }}","concurrency":3,
            "task":{"type":"set","config":{"values":"{{ item * 2 }}"}}}},
        {"id":"fetch","type":"map","config":{"items":[1,2,3,4,5,6],"concurrency":2,
            "task":{"type":"http","config":{"url":")" + far.url("/i/{{ item }}") + R"("}}}},
        {"id":"sum","type":"script","depends_on":["double","fetch"],
            "config":{"code":"local s = 0 for _, v in ipairs(input.tasks.double.output) do s = s + v end return {sum = s, n = #input.tasks.fetch.output}"}}]})");
    auto run = api.wait(api.start(id, R"({"xs":[1,2,3,4]})"));
    INFO(json::serialize(run));
    CHECK(str(run.at("status")) == "succeeded");
    CHECK(task(run, "double").at("output") == json::parse("[2,4,6,8]"));
    CHECK(task(run, "fetch").at("output").as_array().size() == 6);
    CHECK(task(run, "fetch").at("output").as_array()[3].at("body").at("path") == "/i/4");
    CHECK(run.at("output") == json::parse(R"({"sum":20,"n":6})"));
}

TEST_CASE("workflow: when, condition, switch, on_error continue and error branches") {
    TestServer srv;
    Api api{srv};
    auto id = api.create(R"j({"name":"branches","tasks":[
        {"id":"check","type":"condition","config":{"if":"{{ input.n > 5 }}"}},
        {"id":"big","type":"set","depends_on":["check"],"when":"{{ tasks.check.output.result }}","config":{"values":"big"}},
        {"id":"small","type":"set","depends_on":["check"],"when":"{{ !tasks.check.output.result }}","config":{"values":"small"}},
        {"id":"join","type":"set","depends_on":["big","small"],"join":"any","config":{"values":"joined"}},
        {"id":"pick","type":"switch","config":{"value":"{{ input.color }}","cases":["red","blue"]}},
        {"id":"boom","type":"script","on_error":"continue","config":{"code":"error('boom')"}},
        {"id":"after_boom","type":"set","depends_on":["boom"],"config":{"values":"{{ tasks.boom.status }}"}},
        {"id":"risky","type":"script","on_error":"handler","config":{"code":"error('bad')"}},
        {"id":"handler","type":"set","depends_on":["risky"],"config":{"values":"handled"}},
        {"id":"normal","type":"set","depends_on":["risky"],"config":{"values":"never"}}]})j");
    auto run = api.wait(api.start(id, R"({"n":9,"color":"blue"})"));
    INFO(json::serialize(run));
    CHECK(str(run.at("status")) == "succeeded");
    CHECK(str(task(run, "big").at("status")) == "succeeded");
    CHECK(str(task(run, "small").at("status")) == "skipped");
    CHECK(str(task(run, "join").at("status")) == "succeeded");
    CHECK(task(run, "pick").at("output") == json::parse(R"({"case":"blue","index":1})"));
    CHECK(str(task(run, "boom").at("status")) == "failed");
    CHECK(task(run, "after_boom").at("output") == "failed");
    CHECK(str(task(run, "handler").at("status")) == "succeeded");
    CHECK(str(task(run, "normal").at("status")) == "skipped");
}

TEST_CASE("workflow: a mapping error fails the task naming the expression") {
    TestServer srv;
    Api api{srv};
    auto id = api.create(R"({"name":"m","tasks":[{"id":"s","type":"set","config":{"values":"{{ input.a.b.c }}"}}]})");
    auto run = api.wait(api.start(id, "{}"));
    CHECK(str(run.at("status")) == "failed");
    CHECK(str(task(run, "s").at("error")).find("input.a.b.c") != std::string::npos);
}

TEST_CASE("workflow: emit publishes a bus event that starts an event-triggered workflow") {
    TestServer srv;
    Api api{srv};
    auto listener = api.create(R"({"name":"listener","active":true,
        "triggers":[{"type":"event","topic":"custom.ping","filter":"{{ event.data.n > 1 }}"}],
        "tasks":[{"id":"s","type":"set","config":{"values":"{{ input.n }}"}}]})");
    auto emitter = api.create(R"({"name":"emitter","tasks":[{"id":"e","type":"emit","config":{"topic":"custom.ping","data":{"n":"{{ input.n }}"}}}]})");
    api.wait(api.start(emitter, R"({"n":1})"));  // filtered out
    api.wait(api.start(emitter, R"({"n":7})"));
    json::array items;
    for (int i = 0; i < 200 && items.empty(); ++i) {
        items = api.call("GET", "/api/v1/runs?workflow_id=" + listener).json().at("items").as_array();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(items.size() == 1);
    auto run = api.wait(std::string(items[0].at("id").as_string()));
    CHECK(run.at("output") == json::value(7));
}

// Issue 19, item 7: a workflow cannot publish the server's own events (a forged login, instance
// event or run end that others act on): refused at save, and at run time when the topic is
// computed.
TEST_CASE("workflow: emit may not publish reserved topics (workflow.*, system.*, auth.*)") {
    TestServer srv;
    Api api{srv};
    for (std::string topic : {"workflow.run.succeeded", "system.heartbeat", "auth.login", "auth"}) {
        CAPTURE(topic);
        auto r = api.call("POST", "/api/v1/workflows",
                          R"({"name":"forger","tasks":[{"id":"e","type":"emit","config":{"topic":")" + topic + R"("}}]})");
        CHECK(r.status == 422);
        CHECK(r.body.find("/tasks/0/config/topic") != std::string::npos);
    }
    // Names that merely start with the same letters are the application's own.
    CHECK(api.call("POST", "/api/v1/workflows/validate",
                   R"({"name":"ok","tasks":[{"id":"e","type":"emit","config":{"topic":"authors.added"}}]})")
              .status == 200);
    auto computed = api.create(R"({"name":"computed","tasks":[{"id":"e","type":"emit","config":{"topic":"{{ input.t }}"}}]})");
    auto run = api.wait(api.start(computed, R"({"t":"system.shutdown"})"));
    CHECK(run.at("status") == "failed");
    CHECK(std::string(run.at("error").as_string()).find("reserved") != std::string::npos);
    CHECK(api.wait(api.start(computed, R"({"t":"orders.created"})")).at("status") == "succeeded");
}

// Issue 19, item 7: a chain of event-triggered runs stops at workflow.max_event_chain with a
// clear error in the last run, instead of running forever (a workflow that triggers itself).
TEST_CASE("workflow: a workflow that triggers itself through events stops at workflow.max_event_chain") {
    TestServer srv(Overrides{{"workflow.max_event_chain", "3"}});
    Api api{srv};
    auto id = api.create(R"({"name":"echoes","active":true,
        "triggers":[{"type":"event","topic":"loop.ping"}],
        "tasks":[{"id":"e","type":"emit","config":{"topic":"loop.ping","data":{"from":"{{ run.id }}"}}}]})");
    api.wait(api.start(id, "{}"));  // hops 0: its event starts the chain
    // The chain: runs at hops 1, 2 and 3; the third one's emit would start a fourth.
    json::array items;
    auto failed = [&] {
        for (const auto& it : items)
            if (it.at("status") == "failed") return true;
        return false;
    };
    for (int i = 0; i < 500 && !failed(); ++i) {
        items = api.call("GET", "/api/v1/runs?workflow_id=" + id).json().at("items").as_array();
        if (!failed()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(failed());
    REQUIRE(items.size() == 4);
    int succeeded = 0;
    for (const auto& it : items) {
        auto run = api.wait(std::string(it.at("id").as_string()));
        if (run.at("status") == "succeeded") {
            ++succeeded;
            continue;
        }
        CHECK(str(run.at("status")) == "failed");
        CHECK(str(run.at("error")).find("event chain too deep") != std::string::npos);
        CHECK(str(run.at("error")).find("workflow.max_event_chain") != std::string::npos);
        CHECK(run.at("input").at("event_hops") == json::value(3));  // the event that started it
    }
    CHECK(succeeded == 3);
    // Nothing more starts.
    auto after = api.call("GET", "/api/v1/runs?workflow_id=" + id).json();
    CHECK(after.at("items").as_array().size() == 4);
}

// Issue 19, item 7: plans come from data (soon from models), so a decompose plan may use only
// the task types its definition allows: by default not script, http or subworkflow; nor inside a
// map or a nested decompose, which may not allow more than its plan.
TEST_CASE("workflow: a decompose plan may use only the task types its definition allows") {
    TestServer srv;
    Api api{srv};
    auto planner = [](const std::string& id, const std::string& plan) {
        return R"({"id":")" + id + R"(","type":"set","config":{"values":)" + plan + "}}";
    };
    auto decompose = [](const std::string& id, const std::string& from, const std::string& allowed = "") {
        return R"({"id":")" + id + R"(","type":"decompose","depends_on":[")" + from + R"("],"on_error":"continue","config":{)" +
               (allowed.empty() ? "" : R"("allowed_types":)" + allowed + ",") + R"("plan":"{{ tasks.)" + from + R"(.output }}"}})";
    };
    std::string script = R"([{"id":"s","type":"script","config":{"code":"return 41 + 1"}}])";
    std::string tasks = planner("p_script", script) + "," + decompose("d_script", "p_script") + "," +
                        planner("p_http", R"([{"id":"h","type":"http","config":{"url":"http://127.0.0.1:9/"}}])") + "," +
                        decompose("d_http", "p_http") + "," +
                        planner("p_sub", R"([{"id":"w","type":"subworkflow","config":{"workflow_id":"any"}}])") + "," +
                        decompose("d_sub", "p_sub") + "," +
                        planner("p_map", R"([{"id":"m","type":"map","config":{"items":[1],"task":{"type":"script","config":{"code":"return 1"}}}}])") +
                        "," + decompose("d_map", "p_map") + "," +
                        planner("p_nested", R"([{"id":"n","type":"decompose","config":{"allowed_types":["script"],"tasks":[{"id":"a","type":"set","config":{"values":1}}]}}])") +
                        "," + decompose("d_nested", "p_nested") + "," +
                        planner("p_deep", R"([{"id":"n","type":"decompose","config":{"tasks":[{"id":"a","type":"script","config":{"code":"return 1"}}]}}])") +
                        "," + decompose("d_deep", "p_deep") + "," +
                        planner("p_emit", R"([{"id":"e","type":"emit","config":{"topic":"plans.made"}}])") + "," +
                        decompose("d_narrow", "p_emit", R"(["set"])") + "," + decompose("d_allowed", "p_script", R"(["script"])") +
                        "," + decompose("d_default", "p_emit");
    auto id = api.create(R"({"name":"plans","tasks":[)" + tasks + "]}");
    auto run = api.wait(api.start(id, "{}"));
    INFO(json::serialize(run));
    auto refused = [&](const char* t, const std::string& pointer, const std::string& what) {
        CAPTURE(t);
        CHECK(str(task(run, t).at("status")) == "failed");
        std::string error = str(task(run, t).at("error"));
        CHECK(error.find("the plan uses task types it may not") != std::string::npos);
        CHECK(error.find(pointer) != std::string::npos);
        CHECK(error.find(what) != std::string::npos);
    };
    refused("d_script", "/tasks/0/type", "\"script\"");
    refused("d_http", "/tasks/0/type", "\"http\"");
    refused("d_sub", "/tasks/0/type", "\"subworkflow\"");
    refused("d_map", "/tasks/0/config/task/type", "\"script\"");
    refused("d_nested", "/tasks/0/config/allowed_types/0", "may not allow what it may not use itself");
    refused("d_deep", "/tasks/0/config/tasks/0/type", "\"script\"");
    refused("d_narrow", "/tasks/0/type", "\"emit\"");
    // What the definition allows runs.
    CHECK(str(task(run, "d_allowed").at("status")) == "succeeded");
    CHECK(task(run, "d_allowed").at("output").at("output") == json::value(42));
    CHECK(str(task(run, "d_default").at("status")) == "succeeded");
    // allowed_types names task types that exist.
    auto bad = api.call("POST", "/api/v1/workflows/validate",
                        R"({"name":"x","tasks":[{"id":"d","type":"decompose","config":{"allowed_types":["set","nope"],"plan":"{{ input }}"}}]})");
    CHECK(bad.status == 422);
    CHECK(bad.body.find("/tasks/0/config/allowed_types/1") != std::string::npos);
}

// Issue 19, item 7: per-run limits fail the task with a clear error instead of exhausting memory.
TEST_CASE("workflow: a map over more items than workflow.max_map_items fails saying so") {
    TestServer srv(Overrides{{"workflow.max_map_items", "5"}});
    Api api{srv};
    auto id = api.create(R"({"name":"fan","tasks":[{"id":"m","type":"map","config":{"items":"{{ input.items }}",
        "concurrency":2,"task":{"type":"set","config":{"values":"{{ item }}"}}}}]})");
    auto many = api.wait(api.start(id, R"({"items":[1,2,3,4,5,6]})"));
    CHECK(str(many.at("status")) == "failed");
    CHECK(str(task(many, "m").at("error")).find("6 items, more than workflow.max_map_items (5)") != std::string::npos);
    auto ok = api.wait(api.start(id, R"({"items":[1,2,3,4,5]})"));
    CHECK(str(ok.at("status")) == "succeeded");
    CHECK(task(ok, "m").at("output") == json::parse("[1,2,3,4,5]"));
}

TEST_CASE("workflow: a task whose output would make the run's context pass workflow.max_context_mb fails saying so") {
    TestServer srv(Overrides{{"workflow.max_context_mb", "1"}});
    Api api{srv};
    auto id = api.create(R"j({"name":"big","tasks":[
        {"id":"a","type":"script","config":{"code":"return string.rep('x', 600 * 1024)"}},
        {"id":"b","type":"script","depends_on":["a"],"config":{"code":"return string.rep('y', 600 * 1024)"}},
        {"id":"c","type":"set","depends_on":["b"],"config":{"values":"never"}}]})j");
    auto run = api.wait(api.start(id, "{}"));
    CHECK(str(run.at("status")) == "failed");
    CHECK(str(task(run, "a").at("status")) == "succeeded");
    CHECK(str(task(run, "b").at("status")) == "failed");
    CHECK(str(task(run, "b").at("error")).find("larger than workflow.max_context_mb (1 MiB)") != std::string::npos);
    CHECK(task(run, "b").at("output").is_null());
    CHECK(str(run.at("error")).find("max_context_mb") != std::string::npos);
}

// Issue 19, item 6: changes to workflows and runs are in the audit log with who, what, from
// where and the outcome, refusals included.
TEST_CASE("workflow: changes to workflows and runs, and approvals, are in the audit log") {
    TestServer srv;
    Api api{srv};
    auto id = api.create(R"({"name":"audited","tasks":[{"id":"ask","type":"approval","config":{}}]})");
    CHECK(api.call("PUT", "/api/v1/workflows/" + id, R"({"name":"audited","tasks":[{"id":"ask","type":"approval","config":{}}]})").status == 200);
    CHECK(api.call("POST", "/api/v1/workflows/" + id + "/activate").status == 200);
    CHECK(api.call("POST", "/api/v1/workflows/" + id + "/deactivate").status == 200);
    auto first = api.start(id);
    REQUIRE(str(api.wait(first, 5000, true).at("status")) == "waiting");
    CHECK(api.call("POST", "/api/v1/runs/" + first + "/tasks/ask/approve", R"({"approved":false,"comment":"not now"})").status == 200);
    api.wait(first);
    auto rerun = api.call("POST", "/api/v1/runs/" + first + "/rerun");
    REQUIRE(rerun.status == 201);
    std::string second(rerun.json().at("id").as_string());
    REQUIRE(str(api.wait(second, 5000, true).at("status")) == "waiting");
    CHECK(api.call("POST", "/api/v1/runs/" + second + "/cancel").status == 200);
    api.wait(second);
    CHECK(api.call("POST", "/api/v1/runs/" + second + "/retry").status == 200);
    CHECK(api.call("POST", "/api/v1/runs/" + first + "/cancel").status == 409);  // refused: it has ended
    CHECK(api.call("DELETE", "/api/v1/workflows/" + id).status == 204);
    CHECK(api.call("DELETE", "/api/v1/workflows/" + id).status == 404);  // refused: gone

    auto audit = api.call("GET", "/api/v1/auth/audit?limit=200").json();
    std::vector<std::string> seen;  // "action target outcome", oldest first
    for (const auto& e : audit.at("items").as_array()) {
        std::string action(e.at("action").as_string());
        if (action.rfind("workflow.", 0) != 0 && action.rfind("run.", 0) != 0) continue;
        CHECK(e.at("actor").as_string() == "admin");
        CHECK(!e.at("actor_id").as_string().empty());
        CHECK(e.at("ip").as_string() == "127.0.0.1");
        CHECK(!e.at("at").as_string().empty());
        seen.insert(seen.begin(), action + " " + std::string(e.at("target").as_string()) + " " + std::string(e.at("outcome").as_string()));
        if (action == "run.approval") {
            CHECK(e.at("detail").at("approved") == false);
            CHECK(e.at("detail").at("comment") == "not now");
        }
        if (action == "workflow.delete" && e.at("outcome") == "failure") CHECK(e.at("detail").at("error") == "not-found");
    }
    std::vector<std::string> want{"workflow.create " + id + " success",
                                  "workflow.update " + id + " success",
                                  "workflow.activate " + id + " success",
                                  "workflow.deactivate " + id + " success",
                                  "run.approval " + first + "/ask success",
                                  "run.rerun " + first + " success",
                                  "run.cancel " + second + " success",
                                  "run.retry " + second + " success",
                                  "run.cancel " + first + " failure",
                                  "workflow.delete " + id + " success",
                                  "workflow.delete " + id + " failure"};
    CHECK(seen == want);
}

TEST_CASE("workflow: retry a failed run re-runs only what did not succeed; rerun starts a new run") {
    std::atomic<bool> fail{true};
    std::atomic<int> first_hits{0};
    FakeHttpServer far([&](const FakeRequest& req) {
        if (req.target == "/first") {
            ++first_hits;
            return FakeResponse{200, "{}"};
        }
        return fail ? FakeResponse{500, "{}"} : FakeResponse{200, R"({"fixed":true})"};
    });
    TestServer srv(Overrides{{"workflow.http_allow", "127.0.0.1"}});
    Api api{srv};
    auto id = api.create(R"({"name":"r","tasks":[{"id":"one","type":"http","config":{"url":")" + far.url("/first") +
                         R"("}},{"id":"two","type":"http","depends_on":["one"],"config":{"url":")" + far.url("/second") + R"("}}]})");
    auto run_id = api.start(id);
    auto run = api.wait(run_id);
    REQUIRE(str(run.at("status")) == "failed");
    CHECK(first_hits == 1);
    fail = false;
    CHECK(api.call("POST", "/api/v1/runs/" + run_id + "/retry").status == 200);
    run = api.wait(run_id);
    CHECK(str(run.at("status")) == "succeeded");
    CHECK(first_hits == 1);  // the succeeded task did not run again
    CHECK(task(run, "two").at("output").at("body") == json::parse(R"({"fixed":true})"));
    CHECK(api.call("POST", "/api/v1/runs/" + run_id + "/retry").status == 409);
    auto rerun = api.call("POST", "/api/v1/runs/" + run_id + "/rerun");
    CHECK(rerun.status == 201);
    CHECK(str(api.wait(std::string(rerun.json().at("id").as_string())).at("status")) == "succeeded");
    CHECK(first_hits == 2);
}

TEST_CASE("workflow: run list filters, bad query parameters, events over WebSocket") {
    TestServer srv;
    Api api{srv};
    WsClient ws(srv.port(), srv.admin());
    ws.send_text(R"({"type":"subscribe","topics":["workflow.**"]})");
    REQUIRE(ws.read_type("subscribed"));
    auto id = api.create(R"({"name":"l","tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
    auto bad = api.create(R"j({"name":"f","tasks":[{"id":"a","type":"script","config":{"code":"error('x')"}}]})j");
    auto ok_run = api.wait(api.start(id));
    auto bad_run = api.wait(api.start(bad));
    auto failed = api.call("GET", "/api/v1/runs?status=failed").json().at("items").as_array();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].at("id") == bad_run.at("id"));
    CHECK(api.call("GET", "/api/v1/runs?workflow_id=" + id).json().at("items").as_array().size() == 1);
    CHECK(api.call("GET", "/api/v1/runs?status=bogus").status == 400);
    CHECK(api.call("GET", "/api/v1/runs?limit=0").status == 400);
    CHECK(api.call("GET", "/api/v1/runs?since=yesterday").status == 400);
    CHECK(api.call("GET", "/api/v1/runs?since=2020-01-01T00:00:00Z").json().at("items").as_array().size() == 2);
    CHECK(api.call("GET", "/api/v1/runs?until=2020-01-01T00:00:00Z").json().at("items").as_array().size() == 0);
    std::set<std::string> topics;
    for (int i = 0; i < 50; ++i) {
        auto msg = ws.read(std::chrono::milliseconds(500));
        if (!msg) break;
        auto v = json::parse(*msg);
        if (v.as_object().contains("topic")) topics.insert(std::string(v.at("topic").as_string()));
        if (topics.count("workflow.run.succeeded") && topics.count("workflow.run.failed") && topics.count("workflow.task.failed")) break;
    }
    CHECK(topics.count("workflow.run.succeeded"));
    CHECK(topics.count("workflow.run.failed"));
    CHECK(topics.count("workflow.task.failed"));
}

TEST_CASE("workflow: execution_data none keeps nothing; errors keeps only failed runs") {
    TestServer srv;
    Api api{srv};
    auto none = api.create(R"({"name":"n","execution_data":"none","tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
    auto errs = api.create(R"({"name":"e","execution_data":"errors","tasks":[{"id":"a","type":"script","config":{"code":"if input.input.fail then error('no') end return 1"}}]})");
    auto r1 = api.start(none);
    auto r2 = api.start(errs, R"({"fail":false})");
    auto r3 = api.start(errs, R"({"fail":true})");
    // In memory while they run; gone once finished (they finish in microseconds, but a loaded
    // machine may take a moment).
    auto gone = [&](const std::string& id) {
        for (int i = 0; i < 250; ++i) {
            if (api.call("GET", "/api/v1/runs/" + id).status == 404) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    };
    CHECK(gone(r1));
    CHECK(gone(r2));
    auto failed = api.wait(r3);
    CHECK(str(failed.at("status")) == "failed");
    CHECK(str(task(failed, "a").at("status")) == "failed");
}

TEST_CASE("workflow: approval waits durably, leaves memory, and is decided through the API") {
    TestServer srv;
    Api api{srv};
    auto id = api.create(R"({"name":"approve","tasks":[
        {"id":"ask","type":"approval","config":{"message":"ship it?"}},
        {"id":"after","type":"set","depends_on":["ask"],"config":{"values":"{{ tasks.ask.output.approved }}"}}]})");
    auto run_id = api.start(id);
    auto waiting = api.wait(run_id, 5000, true);
    REQUIRE(str(waiting.at("status")) == "waiting");
    CHECK(str(task(waiting, "ask").at("status")) == "waiting");
    CHECK(api.call("POST", "/api/v1/runs/" + run_id + "/tasks/after/approve", R"({"approved":true})").status == 409);
    CHECK(api.call("POST", "/api/v1/runs/" + run_id + "/tasks/ask/approve", R"({"approved":"yes"})").status == 422);
    auto ok = api.call("POST", "/api/v1/runs/" + run_id + "/tasks/ask/approve", R"({"approved":true,"comment":"go"})");
    INFO(ok.body);
    CHECK(ok.status == 200);
    auto run = api.wait(run_id);
    CHECK(str(run.at("status")) == "succeeded");
    CHECK(task(run, "ask").at("output").at("by") == "admin");
    CHECK(task(run, "after").at("output") == json::value(true));
    CHECK(api.call("POST", "/api/v1/runs/" + run_id + "/tasks/ask/approve", R"({"approved":true})").status == 409);

    auto rejected = api.start(id);
    api.wait(rejected, 5000, true);
    CHECK(api.call("POST", "/api/v1/runs/" + rejected + "/tasks/ask/approve", R"({"approved":false,"comment":"no"})").status == 200);
    auto r2 = api.wait(rejected);
    CHECK(str(r2.at("status")) == "failed");
    CHECK(str(task(r2, "ask").at("error")).find("rejected by admin: no") != std::string::npos);

    auto timed = api.create(R"({"name":"t","tasks":[{"id":"ask","type":"approval","config":{"timeout_seconds":0.3}}]})");
    auto r3 = api.wait(api.start(timed));
    CHECK(str(r3.at("status")) == "failed");
    CHECK(str(task(r3, "ask").at("error")).find("timed out") != std::string::npos);
}

TEST_CASE("workflow: wait_for_event resumes the run with the matching event") {
    TestServer srv;
    Api api{srv};
    auto waiter = api.create(R"({"name":"waiter","tasks":[
        {"id":"paid","type":"wait_for_event","config":{"topic":"shop.paid","match":{"order":"{{ input.order }}"},"filter":"{{ event.data.amount > 0 }}"}},
        {"id":"done","type":"set","depends_on":["paid"],"config":{"values":"{{ tasks.paid.output.data.amount }}"}}]})");
    auto emitter = api.create(R"({"name":"payer","tasks":[{"id":"e","type":"emit","config":{"topic":"shop.paid","data":"{{ input }}"}}]})");
    // A second waiter on the same topic: once it has its event, the events sent before were seen.
    auto sentinel = api.create(R"({"name":"sentinel","tasks":[
        {"id":"s","type":"wait_for_event","config":{"topic":"shop.paid","match":{"order":"S"}}}]})");
    auto run_id = api.start(waiter, R"({"order":"A-1"})");
    auto sentinel_run = api.start(sentinel);
    api.wait(run_id, 5000, true);
    api.wait(sentinel_run, 5000, true);
    api.wait(api.start(emitter, R"({"order":"B-2","amount":5})"));  // another order: ignored
    api.wait(api.start(emitter, R"({"order":"A-1","amount":0})"));  // filtered out
    api.wait(api.start(emitter, R"({"order":"S"})"));
    CHECK(str(api.wait(sentinel_run).at("status")) == "succeeded");
    CHECK(str(api.run(run_id).at("status")) == "waiting");
    api.wait(api.start(emitter, R"({"order":"A-1","amount":7})"));
    auto run = api.wait(run_id);
    INFO(json::serialize(run));
    CHECK(str(run.at("status")) == "succeeded");
    CHECK(run.at("output") == json::value(7));
}

TEST_CASE("workflow: cancelling a run cancels the child runs it waits for, not fire-and-forget ones") {
    TestServer srv;
    Api api{srv};
    auto sleeper = api.create(R"({"name":"sleeper","tasks":[{"id":"nap","type":"delay","config":{"seconds":60}}]})");
    auto middle = api.create(R"({"name":"middle","tasks":[{"id":"down","type":"subworkflow","config":{"workflow_id":")" +
                             sleeper + R"(","input":{"tag":"chained"}}}]})");
    auto top = api.create(R"({"name":"top","tasks":[
        {"id":"call","type":"subworkflow","config":{"workflow_id":")" + middle + R"("}},
        {"id":"free","type":"subworkflow","config":{"workflow_id":")" + sleeper + R"(","input":{"tag":"free"},"wait":false}}]})");
    auto top_run = api.start(top);
    // Wait until the chain stands: top -> middle -> sleeper (chained), and the free sleeper.
    auto runs_of = [&](const std::string& wf) {
        auto list = api.call("GET", "/api/v1/runs?workflow_id=" + wf).json();
        std::map<std::string, std::string> out;  // id -> status
        for (const auto& r : list.at("items").as_array()) out[str(r.at("id"))] = str(r.at("status"));
        return out;
    };
    std::map<std::string, std::string> sleepers, middles;
    for (int i = 0; i < 500; ++i) {
        sleepers = runs_of(sleeper);
        middles = runs_of(middle);
        int waiting = 0;
        for (auto& [id, st] : sleepers) waiting += st == "waiting";
        if (waiting == 2 && middles.size() == 1) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(sleepers.size() == 2);
    REQUIRE(middles.size() == 1);
    std::string chained, free_run;
    for (auto& [id, st] : sleepers) {
        auto tag = str(api.run(id).at("input").at("tag"));
        (tag == "chained" ? chained : free_run) = id;
    }
    REQUIRE(!chained.empty());
    REQUIRE(!free_run.empty());

    CHECK(api.call("POST", "/api/v1/runs/" + top_run + "/cancel").status == 200);
    CHECK(str(api.wait(top_run).at("status")) == "cancelled");
    CHECK(str(api.wait(middles.begin()->first).at("status")) == "cancelled");
    CHECK(str(api.wait(chained).at("status")) == "cancelled");  // the grandchild too
    CHECK(str(api.run(free_run).at("status")) == "waiting");     // started with "wait": false: left alone
    CHECK(api.call("POST", "/api/v1/runs/" + free_run + "/cancel").status == 200);
}

TEST_CASE("workflow: subworkflow runs a child run and takes its output; failures and fire-and-forget") {
    TestServer srv;
    Api api{srv};
    auto child = api.create(R"j({"name":"child","tasks":[{"id":"s","type":"script","config":{"code":"if input.input.boom then error('child broke') end return {twice = input.input.n * 2}"}}]})j");
    auto parent = api.create(R"({"name":"parent","tasks":[
        {"id":"call","type":"subworkflow","config":{"workflow_id":")" + child + R"(","input":{"n":"{{ input.n }}","boom":"{{ input.boom }}"}}},
        {"id":"use","type":"set","depends_on":["call"],"config":{"values":"{{ tasks.call.output.output.twice }}"}}]})");
    auto run = api.wait(api.start(parent, R"({"n":21,"boom":false})"));
    INFO(json::serialize(run));
    CHECK(str(run.at("status")) == "succeeded");
    CHECK(run.at("output") == json::value(42));
    std::string child_run(task(run, "call").at("output").at("run_id").as_string());
    CHECK(str(api.run(child_run).at("trigger")) == "subworkflow");

    auto failed = api.wait(api.start(parent, R"({"n":1,"boom":true})"));
    CHECK(str(failed.at("status")) == "failed");
    CHECK(str(task(failed, "call").at("error")).find("child broke") != std::string::npos);

    auto fire = api.create(R"({"name":"fire","tasks":[{"id":"go","type":"subworkflow","config":{"workflow_id":")" + child +
                           R"(","input":{"n":2},"wait":false}}]})");
    auto f = api.wait(api.start(fire));
    CHECK(str(f.at("status")) == "succeeded");
    auto started = std::string(task(f, "go").at("output").at("run_id").as_string());
    CHECK(str(api.wait(started).at("status")) == "succeeded");

    auto missing = api.create(R"({"name":"m","tasks":[{"id":"go","type":"subworkflow","config":{"workflow_id":"nope"}}]})");
    auto m = api.wait(api.start(missing));
    CHECK(str(m.at("status")) == "failed");
    CHECK(str(task(m, "go").at("error")).find("no workflow nope") != std::string::npos);

    auto self_id = api.create(R"({"name":"self","tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
    auto put = api.call("PUT", "/api/v1/workflows/" + self_id,
                        R"({"name":"self","tasks":[{"id":"again","type":"subworkflow","config":{"workflow_id":")" + self_id + R"("}}]})");
    REQUIRE(put.status == 200);
    auto deep = api.wait(api.start(self_id), 30000);
    CHECK(str(deep.at("status")) == "failed");  // nesting is capped
}

TEST_CASE("workflow: decompose turns a goal into subtasks from a template or a plan, validated") {
    TestServer srv;
    Api api{srv};
    auto id = api.create(R"({"name":"decomp","tasks":[
        {"id":"split","type":"decompose","config":{"goal":"{{ input.goal }}","tasks":[
            {"id":"research","type":"set","config":{"values":"research {{ input.goal }}"}},
            {"id":"write","type":"set","depends_on":["research"],"config":{"values":"{{ tasks.research.output }} then write"}}]}},
        {"id":"planner","type":"set","config":{"values":[{"id":"p1","type":"set","config":{"values":"{{ input.goal }}!"}}]}},
        {"id":"dyn","type":"decompose","depends_on":["planner"],"config":{"goal":"dynamic","plan":"{{ tasks.planner.output }}"}},
        {"id":"bad_planner","type":"set","config":{"values":[{"id":"x","type":"nope"}]}},
        {"id":"bad","type":"decompose","depends_on":["bad_planner"],"on_error":"continue","config":{"plan":"{{ tasks.bad_planner.output }}"}}]})");
    auto run = api.wait(api.start(id, R"({"goal":"a report"})"));
    INFO(json::serialize(run));
    CHECK(str(run.at("status")) == "succeeded");
    CHECK(task(run, "split").at("output").at("output") == "research a report then write");
    // The planner (a set task) evaluated "{{ input.goal }}" in the parent already.
    CHECK(task(run, "dyn").at("output").at("output") == "a report!");
    CHECK(str(task(run, "bad").at("status")) == "failed");
    CHECK(str(task(run, "bad").at("error")).find("unknown task type") != std::string::npos);
    // A template with an error is refused when the workflow is saved, with a pointer into it.
    auto bad = api.call("POST", "/api/v1/workflows/validate", R"({"name":"x","tasks":[
        {"id":"d","type":"decompose","config":{"tasks":[{"id":"a","type":"set","config":{}}]}}]})");
    CHECK(bad.status == 422);
    CHECK(bad.body.find("/tasks/0/config/tasks/0/config/values") != std::string::npos);
}
