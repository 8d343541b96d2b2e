// Crash recovery (SIGKILL in the middle of runs, restart, every run finishes, completions
// recorded once, completed tasks never run again) and several instances on one PostgreSQL
// database (every task done exactly once, both instances did work). The server runs as a child
// process; the test reads the database directly.
#include <doctest/doctest.h>

#include "core/db/db.hpp"
#include "core/db/row.hpp"
#include "core/time/time.hpp"
#include "modules/workflow/store.hpp"
#include "tests/support/client.hpp"
#include "tests/support/fake_http.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_env.hpp"

#include <boost/json.hpp>
#include <soci/soci.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;

namespace {

struct Hits {
    std::mutex m;
    std::map<std::string, int> n;  // target -> count
    int get(const std::string& t) {
        std::lock_guard lk(m);
        auto it = n.find(t);
        return it == n.end() ? 0 : it->second;
    }
    std::map<std::string, int> snapshot() {
        std::lock_guard lk(m);
        return n;
    }
};

void insert_workflow(Db& db, const std::string& id, const std::string& definition) {
    workflow::Store store(db.backend() == DbBackend::sqlite);
    workflow::WorkflowRecord w;
    w.id = id;
    w.name = id;
    w.version = 1;
    w.active = true;
    w.definition = definition;
    w.created_at = w.updated_at = now_ms();
    db.with_session([&](soci::session& s) { store.insert_workflow(s, w); });
}

std::string fire(unsigned short port, const std::string& path, const std::string& body = "{}") {
    auto r = http(port, "POST", path, body, {{"Content-Type", "application/json"}});
    if (r.status != 202) return {};
    return std::string(r.json().at("id").as_string());
}

// Fires until the webhook is live (the instance picks up the inserted workflow).
std::string fire_when_live(unsigned short port, const std::string& path, const std::string& body = "{}") {
    for (int i = 0; i < 300; ++i) {
        auto id = fire(port, path, body);
        if (!id.empty()) return id;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL("webhook " << path << " never became live");
    return {};
}

struct TaskRowView {
    std::string status;
    long long attempts = 0;
    std::string instance;
};

std::map<std::string, std::map<std::string, TaskRowView>> task_rows(Db& db) {
    std::map<std::string, std::map<std::string, TaskRowView>> out;
    db.with_session([&](soci::session& s) {
        soci::rowset<soci::row> rows = s.prepare << "SELECT run_id, task_id, status, attempts, instance FROM workflow_tasks";
        for (const auto& r : rows)
            out[r.get<std::string>(0)][r.get<std::string>(1)] = {r.get<std::string>(2), row_int(r, 3), r.get<std::string>(4)};
    });
    return out;
}

std::map<std::string, std::string> run_statuses(Db& db) {
    std::map<std::string, std::string> out;
    db.with_session([&](soci::session& s) {
        soci::rowset<soci::row> rows = s.prepare << "SELECT id, status FROM workflow_runs";
        for (const auto& r : rows) out[r.get<std::string>(0)] = r.get<std::string>(1);
    });
    return out;
}

bool all_final(Db& db, std::size_t n) {
    auto st = run_statuses(db);
    if (st.size() < n) return false;
    for (auto& [id, s] : st)
        if (s != "succeeded" && s != "failed" && s != "cancelled") return false;
    return true;
}

std::map<std::string, std::string> base_env(const std::string& url) {
    return {{"ARCLIGHT_DATABASE_URL", url},
            {"ARCLIGHT_WORKFLOW_HTTP_ALLOW", "127.0.0.1"},
            {"ARCLIGHT_WORKFLOW_POLL_MS", "100"},
            {"ARCLIGHT_WORKFLOW_LEASE_MS", "1500"},
            {"ARCLIGHT_WORKFLOW_TRIGGER_REFRESH_MS", "100"},
            {"ARCLIGHT_SERVER_THREADS", "2"}};
}

}  // namespace

TEST_CASE("workflow: crash recovery after SIGKILL mid-run (http, delay, map)") {
    Hits hits;
    FakeHttpServer far([&](const FakeRequest& req) {
        {
            std::lock_guard lk(hits.m);
            ++hits.n[req.target];
        }
        return FakeResponse{200, R"({"ok":true})", "application/json", 150};
    });
    TestDatabase tdb;
    auto env = base_env(tdb.url());
    auto server = std::make_unique<ServerProcess>(env);
    auto db = tdb.open();
    auto def = R"({"name":"crash","triggers":[{"type":"webhook","method":"POST","path":"crash"}],"tasks":[
        {"id":"a","type":"http","config":{"method":"POST","url":")" + far.url("/hit/{{ run.id }}/a") + R"("}},
        {"id":"d","type":"delay","depends_on":["a"],"config":{"seconds":"{{ input.wait }}"}},
        {"id":"m","type":"map","depends_on":["d"],"config":{"items":[1,2,3,4],"concurrency":2,
            "task":{"type":"http","config":{"url":")" + far.url("/hit/{{ run.id }}/m{{ item }}") + R"("}}}},
        {"id":"s","type":"script","depends_on":["m"],"config":{"code":"return {n = #input.tasks.m.output}"}}]})";
    insert_workflow(*db, "crash-wf", def);
    // Wave 1 waits 1 s in its delay, wave 2 waits 2 s: the server is killed once wave 1 is in its
    // map (delay done, map not recorded) while wave 2 still waits in its delay.
    std::vector<std::string> runs;
    runs.push_back(fire_when_live(server->port(), "/hooks/crash", R"({"wait":1})"));
    for (int i = 0; i < 9; ++i) runs.push_back(fire(server->port(), "/hooks/crash", R"({"wait":1})"));
    for (int i = 0; i < 10; ++i) runs.push_back(fire(server->port(), "/hooks/crash", R"({"wait":2})"));
    auto positioned = [](const std::map<std::string, std::map<std::string, TaskRowView>>& rows) {
        bool some_waiting = false, some_mapping = false;
        for (auto& [run, tasks] : rows) {
            if (tasks.count("d") && tasks.at("d").status == "waiting") some_waiting = true;
            if (tasks.count("d") && tasks.at("d").status == "succeeded" && !tasks.count("m")) some_mapping = true;
        }
        return some_waiting && some_mapping;
    };
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!positioned(task_rows(*db)) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    server->kill9();
    for (auto& id : runs) REQUIRE(!id.empty());
    auto rows_at_kill = task_rows(*db);
    auto hits_at_kill = hits.snapshot();
    auto statuses_at_kill = run_statuses(*db);
    std::size_t unfinished = 0;
    for (auto& [id, s] : statuses_at_kill)
        if (s != "succeeded") ++unfinished;
    CHECK(unfinished > 0);  // the kill really interrupted runs
    CHECK(positioned(rows_at_kill));

    server = std::make_unique<ServerProcess>(env);
    for (int i = 0; i < 600 && !all_final(*db, runs.size()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto statuses = run_statuses(*db);
    auto rows = task_rows(*db);
    for (const auto& id : runs) {
        CAPTURE(id);
        CHECK(statuses[id] == "succeeded");
        const auto& tasks = rows[id];
        CHECK(tasks.size() == 4);  // one completion row per task
        for (auto& [task, row] : tasks) {
            CAPTURE(task);
            CHECK(row.status == "succeeded");
            CHECK(row.attempts >= 1);
        }
        // The http task: each attempt sent at most one request, and at least one got through.
        int a_hits = hits.get("/hit/" + id + "/a");
        CHECK(a_hits >= 1);
        CHECK(a_hits <= tasks.at("a").attempts);
        // A task recorded completed before the kill never ran again.
        auto before = rows_at_kill.find(id);
        if (before != rows_at_kill.end()) {
            if (before->second.count("a") && before->second.at("a").status == "succeeded")
                CHECK(a_hits == hits_at_kill["/hit/" + id + "/a"]);
            if (before->second.count("m") && before->second.at("m").status == "succeeded")
                for (int i = 1; i <= 4; ++i)
                    CHECK(hits.get("/hit/" + id + "/m" + std::to_string(i)) == hits_at_kill["/hit/" + id + "/m" + std::to_string(i)]);
        }
        for (int i = 1; i <= 4; ++i) CHECK(hits.get("/hit/" + id + "/m" + std::to_string(i)) >= 1);
    }
    CHECK(server->terminate() == 0);
}

TEST_CASE("workflow: two instances on one PostgreSQL database share the work, each task once") {
    if (!use_postgres()) return;  // SQLite is one process per database file
    Hits hits;
    FakeHttpServer far([&](const FakeRequest& req) {
        std::lock_guard lk(hits.m);
        ++hits.n[req.target];
        return FakeResponse{200, "{}", "application/json", 5};
    });
    TestDatabase tdb;
    auto env = base_env(tdb.url());
    env["ARCLIGHT_WORKFLOW_MAX_ACTIVE_RUNS"] = "4";
    ServerProcess a(env);
    ServerProcess b(env);
    auto db = tdb.open();
    auto def = R"({"name":"multi","triggers":[{"type":"webhook","method":"POST","path":"multi"}],"tasks":[
        {"id":"t1","type":"http","config":{"url":")" + far.url("/h/{{ run.id }}/t1") + R"("}},
        {"id":"t2","type":"http","depends_on":["t1"],"config":{"url":")" + far.url("/h/{{ run.id }}/t2") + R"("}},
        {"id":"t3","type":"http","depends_on":["t1"],"config":{"url":")" + far.url("/h/{{ run.id }}/t3") + R"("}}]})";
    insert_workflow(*db, "multi-wf", def);
    std::vector<std::string> runs;
    runs.push_back(fire_when_live(a.port(), "/hooks/multi"));
    for (int i = 1; i < 150; ++i) runs.push_back(fire(a.port(), "/hooks/multi"));  // all through instance A
    for (auto& id : runs) REQUIRE(!id.empty());
    for (int i = 0; i < 1200 && !all_final(*db, runs.size()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto statuses = run_statuses(*db);
    auto rows = task_rows(*db);
    std::set<std::string> instances;
    std::size_t tasks_done = 0;
    for (const auto& id : runs) {
        CAPTURE(id);
        CHECK(statuses[id] == "succeeded");
        for (const auto& t : {"t1", "t2", "t3"}) {
            CAPTURE(t);
            CHECK(rows[id][t].status == "succeeded");
            CHECK(hits.get("/h/" + id + "/" + t) == 1);  // done exactly once
            instances.insert(rows[id][t].instance);
            ++tasks_done;
        }
    }
    CHECK(tasks_done == 450);
    CHECK(instances.size() == 2);  // both instances did work
    CHECK(a.terminate() == 0);
    CHECK(b.terminate() == 0);
}
