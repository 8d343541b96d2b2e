// bench_script_isolation: what workflow.script_isolation = "process" costs. Chains of ten script
// steps ("input.n = input.n + 1; return input" on a ~300-byte event), through
//   thread    ScriptRunner (in process; the default)
//   process   ProcessScriptRunner (the shipped worker pool, this binary as the worker)
// each as
//   per script   ten run() calls, each step's output the next one's input (ten round trips)
//   batch        one run_batch() of ten independent steps (one round trip: a run's ready scripts)
// on 1 and 2 client threads (process: as many workers as threads). Prints chains/s, µs per script
// (wall time of a chain / 10) and the p99 of the chain's latency.
//
// Usage: bench_script_isolation [--seconds S]
#include "core/lua/process_runner.hpp"
#include "core/lua/sandbox.hpp"
#include "core/lua/script_worker.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace json = boost::json;
namespace lua = arclight::lua;

namespace {

constexpr std::string_view kStep = "input.n = input.n + 1; return input";
constexpr int kChainLength = 10;

const json::value& payload() {
    static const json::value v = json::parse(
        R"({"id":"evt_01HZX3K9","type":"order.created","amount":1299,"currency":"EUR",)"
        R"("customer":{"id":"cus_42","email":"alice@example.com"},)"
        R"("items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"n":0})");
    return v;
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "bench_script_isolation: %s\n", what.c_str());
    std::exit(1);
}

void chain_per_script(lua::ScriptExecutor& ex) {
    json::value v = payload();
    const lua::ScriptLimits limits;
    for (int k = 0; k < kChainLength; ++k) {
        lua::ScriptResult r = ex.run(kStep, v, limits);
        if (!r.ok()) die("step failed: " + r.error);
        v = std::move(r.output);
    }
    if (v.at("n").as_int64() != kChainLength) die("chain: wrong result");
}

void chain_batch(lua::ScriptExecutor& ex) {
    const lua::ScriptLimits limits;
    std::vector<lua::ScriptJob> jobs(kChainLength, lua::ScriptJob{kStep, &payload(), limits});
    const auto results = ex.run_batch(jobs);
    for (const auto& r : results)
        if (!r.ok() || r.output.at("n").as_int64() != 1) die("batch step failed: " + r.error);
}

struct Figures {
    double chains_per_s = 0;
    double us_per_script = 0;
    double p99_us = 0;
};

Figures measure(lua::ScriptExecutor& ex, const std::function<void(lua::ScriptExecutor&)>& chain, int threads, double seconds) {
    for (int i = 0; i < 20; ++i) chain(ex);  // warm up (spawns the workers)
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<double> latencies;
    std::vector<std::thread> ts;
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&] {
            std::vector<double> mine;
            while (!stop.load(std::memory_order_relaxed)) {
                const auto a = std::chrono::steady_clock::now();
                chain(ex);
                mine.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
            }
            std::lock_guard lk(mu);
            latencies.insert(latencies.end(), mine.begin(), mine.end());
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : ts) t.join();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::sort(latencies.begin(), latencies.end());
    Figures f;
    if (latencies.empty()) return f;
    double sum = 0;
    for (double l : latencies) sum += l;
    f.chains_per_s = static_cast<double>(latencies.size()) / elapsed;
    f.us_per_script = sum / static_cast<double>(latencies.size()) / kChainLength;
    f.p99_us = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::string_view(argv[1]) == "script-worker") lua::script_worker_main(argc, argv);
    double seconds = 3;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    std::printf("chains of %d script steps; %.1f s per figure; %u hardware threads\n", kChainLength, seconds,
                std::thread::hardware_concurrency());
    std::printf("%-8s | %-10s | %-7s | %12s | %12s | %12s\n", "mode", "calls", "threads", "chains/s", "us/script",
                "p99 chain us");
    for (const char* mode : {"thread", "process"}) {
        for (const char* calls : {"per script", "batch"}) {
            for (int threads : {1, 2}) {
                std::unique_ptr<lua::ScriptExecutor> ex;
                if (std::string_view(mode) == "thread") {
                    ex = std::make_unique<lua::ScriptRunner>(8);
                } else {
                    lua::ProcessRunnerOptions o;
                    o.workers = static_cast<std::size_t>(threads);
                    ex = std::make_unique<lua::ProcessScriptRunner>(std::move(o));
                }
                const bool batch = std::string_view(calls) == "batch";
                const Figures f = measure(*ex, batch ? chain_batch : chain_per_script, threads, seconds);
                std::printf("%-8s | %-10s | %7d | %12.0f | %12.1f | %12.0f\n", mode, calls, threads, f.chains_per_s,
                            f.us_per_script, f.p99_us);
                std::fflush(stdout);
            }
        }
    }
    return 0;
}
