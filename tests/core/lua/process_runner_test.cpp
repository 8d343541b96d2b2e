// Process isolation (ProcessScriptRunner): the workers' sandbox seen from outside (/proc), killing
// and replacing workers that overrun, die or answer garbage, batches, concurrency and recycling.
// The scripts' own behaviour in a worker is sandbox_test.cpp's, which runs in both modes. The
// workers are this test binary (tests/main.cpp hands `script-worker` to the worker).
#include "core/lua/process_runner.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define ARCLIGHT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARCLIGHT_TEST_ASAN 1
#endif
#endif

namespace json = boost::json;
using arclight::lua::ProcessRunnerOptions;
using arclight::lua::ProcessScriptRunner;
using arclight::lua::ScriptJob;
using arclight::lua::ScriptLimits;
using arclight::lua::ScriptResult;
using Status = ScriptResult::Status;

namespace {

ScriptLimits quick_limits() {
    ScriptLimits l;
    l.max_instructions = 5'000'000;
    l.cpu_ms = 200;
    l.wall_ms = 400;
    l.memory_bytes = 8u << 20;
    return l;
}

ProcessRunnerOptions options(std::size_t workers) {
    ProcessRunnerOptions o;
    o.workers = workers;
    return o;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The line of /proc/<pid>/<file> that starts with `key`, whitespace collapsed.
std::string proc_line(pid_t pid, const std::string& file, const std::string& key) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/" + file);
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind(key, 0) != 0) continue;
        std::string out;
        bool space = false;
        for (char c : line) {
            if (c == ' ' || c == '\t') {
                space = true;
                continue;
            }
            if (space && !out.empty()) out += ' ';
            space = false;
            out += c;
        }
        return out;
    }
    return {};
}

// Blocks until `pid` (a child of this process, not yet reaped) has ended: pidfd polls readable.
void wait_until_dead(pid_t pid) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    REQUIRE(fd >= 0);
    pollfd p{fd, POLLIN, 0};
    CHECK(::poll(&p, 1, 10000) == 1);
    ::close(fd);
}

// True when `pid` is no longer a child of this process: reaped, so no zombie is left.
bool reaped(pid_t pid) {
    int status = 0;
    return ::waitpid(pid, &status, WNOHANG) == -1 && errno == ECHILD;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// A fake worker: /bin/sh writing `output` (prepared frames) and then sleeping.
ProcessRunnerOptions fake_worker(const std::string& name, const std::string& output) {
    const auto path = std::filesystem::temp_directory_path() / ("arclight-fake-worker-" + name + "-" + std::to_string(::getpid()));
    std::ofstream(path, std::ios::binary) << output;
    ProcessRunnerOptions o = options(1);
    o.executable = "/bin/sh";
    o.args = {"-c", "/bin/cat '" + path.string() + "'; exec /bin/sleep 30"};
    o.start_timeout_ms = 5000;
    return o;
}

std::string frame(const std::string& body) {
    const auto n = static_cast<std::uint32_t>(body.size());
    std::string out{static_cast<char>(n >> 24), static_cast<char>((n >> 16) & 0xFF), static_cast<char>((n >> 8) & 0xFF),
                    static_cast<char>(n & 0xFF)};
    return out + body;
}

}  // namespace

TEST_CASE("process runner: the worker's sandbox seen from outside") {
    ProcessScriptRunner runner(options(1));
    const ScriptResult r = runner.run("return input.a + 1", json::object{{"a", 1}}, quick_limits());
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(r.output == 2);
    const auto pids = runner.worker_pids();
    REQUIRE(pids.size() == 1);
    const pid_t pid = pids.front();
    CHECK(proc_line(pid, "status", "Seccomp:") == "Seccomp: 2");
    CHECK(proc_line(pid, "status", "NoNewPrivs:") == "NoNewPrivs: 1");
    CHECK(runner.stats().seccomp);
    // Only the two pipes: stdin and stdout (stderr is closed too).
    std::set<std::string> fds;
    for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
        fds.insert(e.path().filename().string());
    CHECK(fds == std::set<std::string>{"0", "1"});
    CHECK(std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/0").string().rfind("pipe:", 0) == 0);
    CHECK(std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/1").string().rfind("pipe:", 0) == 0);
    // The rlimits.
    CHECK(proc_line(pid, "limits", "Max cpu time") == "Max cpu time 300 301 seconds");
    CHECK(proc_line(pid, "limits", "Max processes") == "Max processes 0 0 processes");
    CHECK(proc_line(pid, "limits", "Max file size") == "Max file size 0 0 bytes");
    CHECK(proc_line(pid, "limits", "Max core file size") == "Max core file size 0 0 bytes");
    CHECK(proc_line(pid, "limits", "Max open files") == "Max open files 2 2 files");
#ifndef ARCLIGHT_TEST_ASAN
    const std::string as = std::to_string((512u << 20) + 2 * (32u << 20));
    CHECK(proc_line(pid, "limits", "Max address space") == "Max address space " + as + " " + as + " bytes");
#endif
    // No environment of the server's (it may hold credentials).
    const std::string env = slurp("/proc/" + std::to_string(pid) + "/environ");
    std::size_t start = 0;
    while (start < env.size()) {
        const std::string entry = env.substr(start, env.find('\0', start) - start);
        start += entry.size() + 1;
        const std::string name = entry.substr(0, entry.find('='));
        CHECK_MESSAGE((name == "LD_LIBRARY_PATH" || name.ends_with("SAN_OPTIONS")), entry);
    }
    // Still serving after being looked at.
    CHECK(runner.run("return 7", json::object{}, quick_limits()).output == 7);
    CHECK(runner.worker_pids() == pids);
}

TEST_CASE("process runner: a worker that overruns is killed and replaced") {
    ProcessScriptRunner runner(options(1));
    REQUIRE(runner.run("return 1", json::object{}, quick_limits()).ok());
    const pid_t stopped = runner.worker_pids().at(0);
    REQUIRE(::kill(stopped, SIGSTOP) == 0);
    ScriptLimits l = quick_limits();
    l.wall_ms = 200;
    const auto t0 = std::chrono::steady_clock::now();
    const ScriptResult r = runner.run("return 2", json::object{}, l);
    const double took = ms_since(t0);
    CHECK(r.status == Status::wall_limit);
    CHECK_MESSAGE(r.error == "the script worker did not answer within 450 ms (the scripts' wall-clock limits plus 250 ms) "
                             "and was stopped",
                  r.error);
    CHECK(took >= 440);
    CHECK(took < 1500);
    CHECK(reaped(stopped));  // killed and waited for: no zombie
    CHECK(runner.worker_pids().empty());
    const ScriptResult next = runner.run("return 3", json::object{}, quick_limits());
    REQUIRE_MESSAGE(next.ok(), next.error);
    CHECK(next.output == 3);
    REQUIRE(runner.worker_pids().size() == 1);
    CHECK(runner.worker_pids().front() != stopped);
    CHECK(runner.stats().killed == 1);
    CHECK(runner.stats().spawned == 2);
}

TEST_CASE("process runner: a worker killed between calls is replaced") {
    ProcessScriptRunner runner(options(1));
    REQUIRE(runner.run("return 1", json::object{}, quick_limits()).ok());
    const pid_t victim = runner.worker_pids().at(0);
    REQUIRE(::kill(victim, SIGKILL) == 0);
    wait_until_dead(victim);
    const ScriptResult r = runner.run("return 2", json::object{}, quick_limits());
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(r.output == 2);
    CHECK(reaped(victim));
    CHECK(runner.worker_pids().at(0) != victim);
    CHECK(runner.stats().killed == 1);
}

TEST_CASE("process runner: a worker that dies during a batch fails the batch, and the next call gets a fresh one") {
    // RLIMIT_CPU kills the worker (SIGXCPU) before the script's own CPU limit stops it. The
    // limit counts the worker's start too, which in a sanitizer build on a loaded machine took
    // most of a second: there every worker (the fresh one below too) gets 3 s.
#ifdef ARCLIGHT_TEST_ASAN
    constexpr int kWorkerCpuSeconds = 3;
#else
    constexpr int kWorkerCpuSeconds = 1;
#endif
    ProcessRunnerOptions o = options(1);
    o.cpu_seconds = kWorkerCpuSeconds;
    ProcessScriptRunner runner(o);
    ScriptLimits l;
    l.max_instructions = 0;
    l.cpu_ms = 5000 * kWorkerCpuSeconds;
    l.wall_ms = 10000 * kWorkerCpuSeconds;
    const auto t0 = std::chrono::steady_clock::now();
    const ScriptResult r = runner.run("while true do end", json::object{}, l);
    CHECK(r.status == Status::runtime_error);
    CHECK_MESSAGE(r.error == "the script worker died (signal 24, SIGXCPU)", r.error);
    CHECK(ms_since(t0) < 5000 * kWorkerCpuSeconds);
    CHECK(runner.worker_pids().empty());
    const ScriptResult next = runner.run("return 'fine'", json::object{}, quick_limits());
    REQUIRE_MESSAGE(next.ok(), next.error);
    CHECK(next.output == "fine");
}

TEST_CASE("process runner: memory") {
    ProcessScriptRunner runner(options(1));
    ScriptLimits l = quick_limits();
    l.cpu_ms = 1000;
    l.wall_ms = 1400;
    SUBCASE("a memory bomb beyond the Lua cap is memory_limit") {
        const ScriptResult r = runner.run("local t = {} for i=1,1e9 do t[i] = string.rep('x', 1000) .. i end", json::object{}, l);
        CHECK(r.status == Status::memory_limit);
        CHECK(r.error == "memory limit exceeded (8 MiB)");
        CHECK(runner.run("return #string.rep('x', 4e6)", json::object{}, l).output == 4000000);
    }
#ifndef ARCLIGHT_TEST_ASAN
    SUBCASE("beyond RLIMIT_AS: the worker's allocations fail, the server is unaffected") {
        ProcessRunnerOptions o = options(1);
        o.memory_bytes = 8u << 20;
        o.address_space_baseline = 384u << 20;
        ProcessScriptRunner tight(o);
        ScriptLimits big = l;
        big.memory_bytes = std::size_t{4} << 30;  // the Lua cap allows 4 GiB; RLIMIT_AS ~400 MiB does not
        big.max_instructions = 0;
        big.cpu_ms = 5000;
        big.wall_ms = 8000;
        const ScriptResult r = tight.run("local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1e6) .. i end", json::object{}, big);
        CHECK_MESSAGE((r.status == Status::memory_limit || r.status == Status::runtime_error), to_string(r.status), " ", r.error);
        CHECK_FALSE(r.ok());
        const ScriptResult next = tight.run("return 5", json::object{}, quick_limits());
        REQUIRE_MESSAGE(next.ok(), next.error);
        CHECK(next.output == 5);
    }
#endif
}

TEST_CASE("process runner: a batch is one round trip, its results in order") {
    ProcessScriptRunner runner(options(1));
    const json::value one = json::object{{"n", 1}};
    const json::value five = json::object{{"n", 5}};
    const std::vector<ScriptJob> jobs = {
        {"return input.n * 2", &one, quick_limits()},
        {"error('second fails')", &one, quick_limits()},
        {"while true do end", &five, quick_limits()},
        {"return input.n * 2", &five, quick_limits()},
        {"return {", &one, quick_limits()},
        {"return function() end", &one, quick_limits()},
        {"return input.n + 10", &one, quick_limits()},
    };
    const auto results = runner.run_batch(jobs);
    REQUIRE(results.size() == jobs.size());
    CHECK(results[0].output == 2);
    CHECK(results[1].status == Status::runtime_error);
    CHECK(results[1].error == "script:1: second fails");
    CHECK((results[2].status == Status::instruction_limit || results[2].status == Status::cpu_limit));
    CHECK(results[3].output == 10);
    CHECK(results[4].status == Status::syntax_error);
    CHECK(results[5].status == Status::bad_output);
    CHECK(results[6].output == 11);
    const auto st = runner.stats();
    CHECK(st.spawned == 1);
    CHECK(st.killed == 0);
    CHECK(runner.run_batch({}).empty());
    // A batch with a dead worker fails as a whole.
    REQUIRE(::kill(runner.worker_pids().at(0), SIGSTOP) == 0);
    ScriptLimits l = quick_limits();
    l.wall_ms = 50;
    const std::vector<ScriptJob> two = {{"return 1", &one, l}, {"return 2", &one, l}};
    const auto failed = runner.run_batch(two);
    REQUIRE(failed.size() == 2);
    CHECK(failed[0].status == Status::wall_limit);
    CHECK(failed[1].status == Status::wall_limit);
    CHECK(failed[0].error.find("within 350 ms") != std::string::npos);
}

TEST_CASE("process runner: 8 threads x 50 runs through a pool of 2 workers") {
    ProcessScriptRunner runner(options(2));
    std::atomic<int> failures{0};
    std::atomic<int> done{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                const int n = t * 1000 + i;
                const ScriptResult r = runner.run("input.n = input.n + 1 return input", json::object{{"n", n}}, quick_limits());
                if (!r.ok() || r.output.at("n") != n + 1) ++failures;
                ++done;
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(done == 400);
    CHECK(failures == 0);
    CHECK(runner.worker_pids().size() <= 2);
    CHECK(runner.stats().spawned <= 2);
    CHECK(runner.stats().killed == 0);
}

TEST_CASE("process runner: workers are recycled after max_requests, and reaped") {
    ProcessRunnerOptions o = options(1);
    o.max_requests = 3;
    ProcessScriptRunner runner(o);
    std::set<pid_t> seen;
    for (int i = 0; i < 7; ++i) {
        const ScriptResult r = runner.run("return input.i", json::object{{"i", i}}, quick_limits());
        REQUIRE_MESSAGE(r.ok(), r.error);
        CHECK(r.output == i);
        for (pid_t p : runner.worker_pids()) seen.insert(p);
    }
    CHECK(seen.size() == 3);  // requests 1-3, 4-6, 7
    CHECK(runner.stats().recycled == 2);
    CHECK(runner.stats().spawned == 3);
    const pid_t live = runner.worker_pids().at(0);
    for (pid_t p : seen)
        if (p != live) CHECK(reaped(p));
}

TEST_CASE("process runner: workers that cannot start or answer garbage are errors, never crashes") {
    const std::string hello = frame(R"({"ready":true,"seccomp":"installed"})");
    SUBCASE("no such executable") {
        ProcessRunnerOptions o = options(1);
        o.executable = "/nonexistent/arclight";
        ProcessScriptRunner runner(o);
        const ScriptResult r = runner.run("return 1", json::object{}, quick_limits());
        CHECK(r.status == Status::runtime_error);
        CHECK(r.error.rfind("the script worker could not be started (", 0) == 0);
        CHECK(runner.worker_pids().empty());
    }
    SUBCASE("a worker that exits at once") {
        ProcessRunnerOptions o = options(1);
        o.executable = "/bin/false";
        o.args = {};
        ProcessScriptRunner runner(o);
        const ScriptResult r = runner.run("return 1", json::object{}, quick_limits());
        CHECK(r.status == Status::runtime_error);
        CHECK(r.error == "the script worker could not be started (exit code 1)");
    }
    SUBCASE("an oversized reply frame") {
        ProcessScriptRunner runner(fake_worker("big", hello + "zzzz"));
        const ScriptResult r = runner.run("return 1", json::object{}, quick_limits());
        CHECK(r.status == Status::runtime_error);
        CHECK(r.error == "the script worker's reply was too large; the worker was stopped");
        CHECK(runner.worker_pids().empty());
        CHECK(runner.stats().killed == 1);
    }
    SUBCASE("a reply that is not JSON, or not the reply") {
        for (const std::string& reply : {std::string("abc"), std::string(R"({"results":[],"cpu_ms":1})"),
                                         std::string(R"({"results":[{"status":"great","output":1,"error":""}],"cpu_ms":1})")}) {
            CAPTURE(reply);
            ProcessScriptRunner runner(fake_worker("garbage", hello + frame(reply)));
            const ScriptResult r = runner.run("return 1", json::object{}, quick_limits());
            CHECK(r.status == Status::runtime_error);
            CHECK(r.error == "the script worker sent a malformed reply and was stopped");
            CHECK(runner.worker_pids().empty());
        }
    }
    SUBCASE("a worker that goes away before reading the request (EPIPE, no SIGPIPE)") {
        ProcessRunnerOptions o = fake_worker("gone", hello);
        o.args = {"-c", "/bin/cat '" + (std::filesystem::temp_directory_path() /
                                        ("arclight-fake-worker-gone-" + std::to_string(::getpid()))).string() + "'"};
        ProcessScriptRunner runner(o);
        const json::value big = json::object{{"blob", std::string(1u << 20, 'x')}};  // more than a pipe holds
        const ScriptResult r = runner.run("return 1", big, quick_limits());
        CHECK(r.status == Status::runtime_error);
        CHECK(r.error == "the script worker died (exit code 0)");
        CHECK(runner.worker_pids().empty());
    }
    SUBCASE("a request larger than max_frame_bytes never reaches a worker") {
        ProcessRunnerOptions o = options(1);
        o.max_frame_bytes = 1000;
        ProcessScriptRunner runner(o);
        const ScriptResult r = runner.run("return 1", json::object{{"blob", std::string(2000, 'x')}}, quick_limits());
        CHECK(r.status == Status::runtime_error);
        CHECK(r.error.rfind("the scripts' input is too large for a script worker", 0) == 0);
        CHECK(runner.stats().spawned == 0);
    }
}

TEST_CASE("process runner: check_syntax compiles in process and runs nothing") {
    ProcessRunnerOptions o = options(1);
    o.executable = "/nonexistent/arclight";  // no worker needed
    ProcessScriptRunner runner(o);
    CHECK(runner.check_syntax("while true do end").empty());
    CHECK(runner.check_syntax("return +").rfind("script:1:", 0) == 0);
    CHECK(runner.stats().spawned == 0);
}
