#pragma once
// Shared by the sandbox tests (sandbox_test.cpp, sandbox_lazy_test.cpp): the two isolation modes
// every test runs in (TEST_CASE_TEMPLATE over InProcess, InWorker) and the limit helpers.
#include "core/lua/process_runner.hpp"
#include "core/lua/sandbox.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <chrono>
#include <memory>
#include <string_view>

namespace json = boost::json;
using arclight::lua::ScriptLimits;
using arclight::lua::ScriptResult;
using arclight::lua::ProcessRunnerOptions;
using arclight::lua::ProcessScriptRunner;
using arclight::lua::ScriptExecutor;
using arclight::lua::ScriptRunner;
using Status = ScriptResult::Status;

namespace sandbox_test {

// The two isolation modes; `states` is the in-process pool size or the number of workers.
struct InProcess {
    static std::unique_ptr<ScriptExecutor> make(std::size_t states = 8) {
        return std::make_unique<ScriptRunner>(states);
    }
};
struct InWorker {
    static std::unique_ptr<ScriptExecutor> make(std::size_t states = 8) {
        ProcessRunnerOptions o;
        o.workers = states;
#if defined(__SANITIZE_ADDRESS__)
        // The reply's grace (JSON both ways, pipe I/O) is for a release build; a sanitizer build
        // is several times slower at it, and a test here is about the sandbox, not the deadline.
        o.grace_ms = 4000;
#endif
        return std::make_unique<ProcessScriptRunner>(std::move(o));
    }
};

// Limits for the tests that run into one: small, so each test stops quickly.
inline ScriptLimits small_limits() {
    ScriptLimits l;
    l.max_instructions = 5'000'000;
    l.cpu_ms = 200;
    l.wall_ms = 400;
    l.memory_bytes = 8u << 20;
    return l;
}

struct Timed {
    ScriptResult r;
    double ms;
};

inline Timed timed_run(ScriptExecutor& runner, std::string_view code, const ScriptLimits& limits = small_limits(),
                const json::value& input = json::object{}) {
    const auto t0 = std::chrono::steady_clock::now();
    ScriptResult r = runner.run(code, input, limits);
    const auto t1 = std::chrono::steady_clock::now();
    return {std::move(r), std::chrono::duration<double, std::milli>(t1 - t0).count()};
}

inline bool is_limit(Status s) {
    return s == Status::instruction_limit || s == Status::cpu_limit || s == Status::wall_limit || s == Status::memory_limit;
}

// A limited script counts as stopped "in time" when it ends within this. A sanitizer build runs
// several times slower, and a worker process must start first (an ASan binary maps its shadow
// memory), so it gets more.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kInTimeMs = 3000;
#else
constexpr double kInTimeMs = 1500;
#endif

}  // namespace sandbox_test

using namespace sandbox_test;

TYPE_TO_STRING(InProcess);
TYPE_TO_STRING(InWorker);
