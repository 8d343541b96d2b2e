// workflow.script_isolation = "process": script tasks run in sandboxed worker processes (this
// test binary serves as the worker; tests/main.cpp). The same workflows as in thread mode succeed,
// the hostile scripts of engine_test.cpp's sandbox test fail the same way, and the scripts really
// ran in workers, children of this process.
#include <doctest/doctest.h>

#include "tests/modules/workflow/rig.hpp"

#include <boost/json.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace arclight::test;
namespace json = boost::json;

namespace {

// Script workers that are children of this process.
std::set<pid_t> script_workers() {
    std::set<pid_t> out;
    const std::string me = std::to_string(::getpid());
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(e.path() / "stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(line.substr(close + 2));
        std::string state, ppid;
        rest >> state >> ppid;
        if (ppid != me) continue;
        std::ifstream cmd(e.path() / "cmdline");
        std::stringstream ss;
        ss << cmd.rdbuf();
        if (ss.str().find(std::string("script-worker\0", 14)) != std::string::npos) out.insert(std::stoi(name));
    }
    return out;
}

}  // namespace

TEST_CASE("workflow: script tasks run in worker processes with workflow.script_isolation = \"process\"") {
    const auto before = script_workers();
    TestServer srv(Overrides{{"workflow.script_isolation", "process"},
                             {"workflow.script_workers", "2"},
                             {"workflow.script_wall_ms", "500"},
                             {"workflow.script_memory_mb", "16"}});
    Api api{srv};
    // A chain and a fan-in of scripts.
    auto id = api.create(R"({"name":"chain","tasks":[{"id":"a","type":"set","config":{"values":{"n":41}}},
        {"id":"s1","type":"script","depends_on":["a"],"config":{"code":"return {n = input.tasks.a.output.n + 1, x = input.input.x, t = input.trigger.type}"}},
        {"id":"s2","type":"script","depends_on":["s1"],"config":{"code":"return {n = input.tasks.s1.output.n * 2}"}},
        {"id":"s3","type":"script","depends_on":["s1"],"config":{"code":"return {n = input.tasks.s1.output.n + 100}"}},
        {"id":"sum","type":"script","depends_on":["s2","s3"],"config":{"code":"return {n = input.tasks.s2.output.n + input.tasks.s3.output.n, x = input.tasks.s1.output.x}"}}]})");
    for (int i = 0; i < 3; ++i) {
        auto run = api.wait(api.start(id, R"({"x":"y"})"));
        CHECK(str(run.at("status")) == "succeeded");
        CHECK(task(run, "s1").at("output") == json::parse(R"({"n":42,"x":"y","t":"manual"})"));
        CHECK(run.at("output") == json::parse(R"({"n":226,"x":"y"})"));
    }
    // The scripts ran in workers of this process, at most script_workers of them.
    std::set<pid_t> workers;
    for (pid_t p : script_workers())
        if (!before.count(p)) workers.insert(p);
    CHECK(workers.size() >= 1);
    CHECK(workers.size() <= 2);

    // The hostile scripts of the thread-mode test fail their runs, in time, and escape nothing.
    auto marker = std::filesystem::temp_directory_path() / ("arclight-escape-process-" + std::to_string(::getpid()));
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
        auto wf = api.create(json::serialize(def));
        auto t0 = std::chrono::steady_clock::now();
        auto run = api.wait(api.start(wf));
        CHECK(str(run.at("status")) == "failed");
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
        CHECK(!task(run, "s").at("error").is_null());
    }
    CHECK(!std::filesystem::exists(marker));
    // And the server still runs scripts.
    auto run = api.wait(api.start(id, R"({"x":"z"})"));
    CHECK(run.at("output") == json::parse(R"({"n":226,"x":"z"})"));
    srv.stop();
}

TEST_CASE("workflow: script_isolation accepts thread and process only, naming the key otherwise") {
    CHECK_NOTHROW(make_config({{"workflow.script_isolation", "thread"}}));
    CHECK_NOTHROW(make_config({{"workflow.script_isolation", "process"}}));
    try {
        make_config({{"workflow.script_isolation", "sandbox"}});
        FAIL("accepted script_isolation = sandbox");
    } catch (const arclight::ConfigError& e) {
        CHECK_MESSAGE(std::string(e.what()).find("workflow.script_isolation") != std::string::npos, e.what());
    }
}
