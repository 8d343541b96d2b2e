// Issue 19, item 2: scripts run on the compute pool, not on the I/O threads. Scripts running to
// their limit no longer hold up /healthz, the UI or the API; with the compute queue full, a
// webhook whose caller waits for a script run answers 503 with Retry-After, and runs already
// started wait their turn.
#include <doctest/doctest.h>

#include "core/time/time.hpp"
#include "tests/modules/workflow/rig.hpp"

#include <chrono>

#include <boost/json.hpp>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;

namespace {

const char* kSpin = R"({"name":"spin","tasks":[{"id":"s","type":"script","config":{"code":"while true do end"}}]})";

void check_spun_to_limit(Api& api, const std::string& id) {
    auto run = api.wait(id, 60000);
    INFO(json::serialize(run));
    CHECK(str(run.at("status")) == "failed");
    CHECK(str(task(run, "s").at("error")).find("cpu_limit") != std::string::npos);
}

}  // namespace

// In both isolation modes: in process mode the compute threads wait for the worker processes.
// The script spins for 8 s of CPU: far longer than the few requests below take, even under the
// sanitizers on a loaded machine.
static void check_io_threads_stay_free(const std::string& isolation) {
    CAPTURE(isolation);
    // One I/O thread: before the pool, a script ran on it and everything else waited.
    TestServer srv({{"server.threads", "1"},
                    {"server.compute_threads", "1"},
                    {"workflow.script_isolation", isolation},
                    {"workflow.script_cpu_ms", "8000"},
                    {"workflow.script_max_instructions", "10000000000"},
                    {"workflow.script_wall_ms", "120000"}});
    Api api{srv};
    auto wf = api.create(kSpin);
    auto a = api.start(wf);
    auto ms = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    };
    std::int64_t started = ms();
    CHECK(http(srv.port(), "GET", "/healthz").status == 200);
    std::int64_t healthz = ms();
    CHECK(http(srv.port(), "GET", "/").status == 200);
    std::int64_t ui = ms();
    CHECK(api.call("GET", "/api/v1/workflows").status == 200);
    std::int64_t answered = ms();
    // All three were answered while the script was still spinning: before its task finished.
    auto run = api.wait(a, 60000);
    INFO(json::serialize(run));
    INFO("healthz ", healthz - started, " ms, UI ", ui - healthz, " ms, API ", answered - ui, " ms");
    auto finished = parse_rfc3339(str(task(run, "s").at("finished_at")));
    REQUIRE(finished);
    CHECK(answered < *finished);
    check_spun_to_limit(api, a);
}

TEST_CASE("compute pool: scripts running to their limit do not hold up /healthz, the UI or the API") {
    check_io_threads_stay_free("thread");
}

TEST_CASE("compute pool: in process isolation, scripts running to their limit do not hold up the server either") {
    check_io_threads_stay_free("process");
}

TEST_CASE("compute pool: a full queue answers a waiting webhook caller 503 with Retry-After; started runs wait") {
    TestServer srv({{"server.compute_threads", "1"},
                    {"server.compute_queue", "1"},
                    {"server.compute_retry_after_s", "7"},
                    // Each run spins 3 s of CPU: the queue stays full far longer than the calls below take.
                    {"workflow.script_cpu_ms", "3000"},
                    {"workflow.script_max_instructions", "10000000000"},
                    {"workflow.script_wall_ms", "60000"}});
    Api api{srv};
    auto spin = api.create(kSpin);
    api.create(R"({"name":"sync-spin","active":true,
        "triggers":[{"type":"webhook","path":"spin","respond":"sync"}],
        "tasks":[{"id":"s","type":"script","config":{"code":"while true do end"}}]})");
    api.create(R"({"name":"sync-set","active":true,
        "triggers":[{"type":"webhook","path":"set","respond":"sync"}],
        "tasks":[{"id":"v","type":"set","config":{"values":{"ok":true}}}]})");
    Headers ct{{"Content-Type", "application/json"}};
    // Triggers load asynchronously after a save: wait until the script-free hook serves.
    for (int i = 0; i < 500 && http(srv.port(), "POST", "/hooks/set", "{}", ct).status == 404; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto a = api.start(spin);  // runs on the one compute thread
    auto b = api.start(spin);  // waits: the queue is full
    auto busy = http(srv.port(), "POST", "/hooks/spin", "{}", ct);
    CHECK(busy.status == 503);
    CHECK(busy.header("retry-after") == "7");
    CHECK(busy.header("content-type") == "application/problem+json");
    CHECK(busy.body.find("scripts") != std::string::npos);
    // Work without scripts is not refused, and a started run is accepted and waits its turn.
    CHECK(http(srv.port(), "POST", "/hooks/set", "{}", ct).status == 200);
    auto c = api.start(spin);
    for (const auto& id : {a, b, c}) check_spun_to_limit(api, id);
}

TEST_CASE("compute pool: with every script on the pool, a run's ready scripts run there as a batch, in order") {
    for (std::string isolation : {"thread", "process"}) {
        CAPTURE(isolation);
        TestServer srv(std::map<std::string, std::string>{
            {"workflow.script_inline_ms", "0"}, {"server.compute_threads", "1"}, {"workflow.script_isolation", isolation}});
        Api api{srv};
        auto wf = api.create(R"j({"name":"fan","tasks":[
            {"id":"a","type":"script","config":{"code":"return input.input.n"}},
            {"id":"b","type":"script","depends_on":["a"],"config":{"code":"return input.tasks.a.output * 2"}},
            {"id":"c","type":"script","depends_on":["a"],"config":{"code":"return input.tasks.a.output * 3"}},
            {"id":"d","type":"script","depends_on":["a"],"config":{"code":"error('d fails')"},"on_error":"continue"},
            {"id":"e","type":"script","depends_on":["b","c","d"],
             "config":{"code":"return {b = input.tasks.b.output, c = input.tasks.c.output, d = input.tasks.d.status}"}}]})j");
        for (int n = 1; n <= 20; ++n) {
            auto run = api.wait(api.start(wf, "{\"n\":" + std::to_string(n) + "}"));
            INFO(json::serialize(run));
            REQUIRE(str(run.at("status")) == "succeeded");
            CHECK(task(run, "e").at("output") == json::parse("{\"b\":" + std::to_string(2 * n) + ",\"c\":" +
                                                             std::to_string(3 * n) + ",\"d\":\"failed\"}"));
            CHECK(str(task(run, "d").at("error")).find("d fails") != std::string::npos);
        }
    }
}
