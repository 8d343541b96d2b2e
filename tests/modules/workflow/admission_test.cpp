// Admission of new runs while the database holds the state writer back (issue "faults", item 10):
// beyond workflow.max_queued_changes waiting changes, or once the database has been failing for
// longer than workflow.start_timeout_ms, a start is answered 503 at once; runs already accepted
// are kept and complete when the database takes writes again.
#include <doctest/doctest.h>

#include "core/db/db.hpp"
#include "tests/modules/workflow/rig.hpp"

#include <soci/soci.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace arclight;
using namespace arclight::test;

namespace {

boost::json::object engine_stats(Api& api) {
    auto r = api.call("GET", "/api/v1/workflow/stats");
    REQUIRE(r.status == 200);
    return r.json().as_object();
}

std::int64_t stat(Api& api, const char* name) { return engine_stats(api).at(name).to_number<std::int64_t>(); }

// Waits (polling the server's own counters, at most `ms`) until `ok` holds.
template <class F>
bool until(F ok, int ms = 15000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!ok()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

// Another connection holds the write lock of the runs table: the state writer's commit waits.
void hold_writes(soci::session& s, bool sqlite) {
    if (sqlite) {
        s << "BEGIN IMMEDIATE";
    } else {
        s << "BEGIN";
        s << "LOCK TABLE workflow_runs IN EXCLUSIVE MODE";
    }
}

struct Caller {
    std::atomic<bool> done{false};
    int status = 0;
    std::string body, retry_after;
    std::int64_t took_ms = 0;
    std::thread thread;
};

void start_in_thread(Api& api, const std::string& wf, Caller& c) {
    c.thread = std::thread([&api, wf, &c] {
        auto t0 = std::chrono::steady_clock::now();
        auto r = api.call("POST", "/api/v1/workflows/" + wf + "/runs", R"({"input":{}})");
        c.took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        c.status = r.status;
        c.body = r.body;
        c.retry_after = r.header("retry-after");
        c.done = true;
    });
}

}  // namespace

TEST_CASE("workflow: beyond max_queued_changes waiting changes a start is refused at once; accepted runs complete") {
    TestServer srv(std::map<std::string, std::string>{{"workflow.max_queued_changes", "2"},
                                                      {"workflow.start_timeout_ms", "60000"},
                                                      {"database.busy_timeout_ms", "60000"},
                                                      {"workflow.pg_writers", "1"}});  // one queue to count
    Api api{srv};
    auto wf = api.create(R"({"name":"bounded","tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
    auto& db = srv.app().db();
    auto blocker = db.open_dedicated();
    hold_writes(*blocker, db.backend() == DbBackend::sqlite);

    // Starts one at a time: each waits for its commit (held back) and counts as a change waiting
    // for the database, until two wait. The next one is refused at once.
    std::vector<std::unique_ptr<Caller>> callers;
    Caller* refused = nullptr;
    std::int64_t waiting = -1;
    for (int i = 0; i < 8 && !refused; ++i) {
        auto before = stat(api, "queued_changes");
        callers.push_back(std::make_unique<Caller>());
        auto& c = *callers.back();
        start_in_thread(api, wf, c);
        bool seen = until([&] { return c.done.load() || stat(api, "queued_changes") > before; });
        CHECK(seen);
        if (!seen) break;
        if (c.done) {
            refused = &c;
            waiting = stat(api, "queued_changes");
        }
    }
    *blocker << "ROLLBACK";
    for (auto& c : callers) c->thread.join();

    REQUIRE(refused != nullptr);
    CHECK(refused->status == 503);
    CHECK(refused->retry_after == "2");
    CHECK(refused->body.find("not keeping up") != std::string::npos);
    CHECK(refused->took_ms < 2000);  // not the start timeout (60 s): refused without waiting
    CHECK(waiting == 2);
    // Every start that waited got its run once the database took writes again, and it completes.
    for (auto& c : callers) {
        if (c.get() == refused) continue;
        CHECK(c->status == 201);
        auto id = str(boost::json::parse(c->body).as_object().at("id"));
        CHECK(str(api.wait(id).at("status")) == "succeeded");
    }
    CHECK(until([&] { return stat(api, "queued_changes") == 0; }));
    CHECK(str(api.wait(api.start(wf)).at("status")) == "succeeded");
}

TEST_CASE("workflow: while the database fails commits for longer than start_timeout_ms, starts are refused at once") {
    TestServer srv(std::map<std::string, std::string>{{"workflow.start_timeout_ms", "200"},
                                                      {"database.busy_timeout_ms", "20"}});
    Api api{srv};
    auto& db = srv.app().db();
    if (db.backend() != DbBackend::sqlite) return;  // PostgreSQL waits on the lock instead of failing: scripts/ stop it
    auto wf = api.create(R"({"name":"away","tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
    CHECK(stat(api, "db_failing_ms") == 0);
    auto blocker = db.open_dedicated();
    hold_writes(*blocker, true);

    // The first start's commit fails (the file stays locked) and is retried; the caller gets 503
    // after the start timeout.
    Caller first;
    start_in_thread(api, wf, first);
    bool failing = until([&] { return stat(api, "db_failing_ms") > 200; });
    first.thread.join();
    if (!failing) *blocker << "ROLLBACK";
    REQUIRE(failing);
    CHECK(first.status == 503);

    // Now the database has been failing for longer than a start would wait: refused at once.
    auto r = api.call("POST", "/api/v1/workflows/" + wf + "/runs", R"({"input":{}})");
    CHECK(r.status == 503);
    CHECK(r.header("retry-after") == "2");
    CHECK(r.body.find("unavailable") != std::string::npos);

    *blocker << "ROLLBACK";
    CHECK(until([&] { return stat(api, "db_failing_ms") == 0 && stat(api, "queued_changes") == 0; }));
    // New starts work at once.
    CHECK(str(api.wait(api.start(wf)).at("status")) == "succeeded");
}
