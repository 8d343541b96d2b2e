// GCC 12 at -O2 reports false -Warray-bounds / -Wstringop-overflow on std::string
// concatenation chains (a known GCC 12 issue); this test builds many such strings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
// The `script` task's Lua sandbox (modules/workflow/sandbox): JSON in/out, refused escapes, state
// isolation, limits. Every limit test uses small limits so the file runs in a few seconds, also
// under ASan. Every test that runs scripts runs in both isolation modes (TEST_CASE_TEMPLATE over
// InProcess, InWorker): in this process (ScriptRunner) and in a worker process
// (ProcessScriptRunner, this test binary as the worker), with the same assertions.
#include "core/lua/process_runner.hpp"
#include "core/lua/sandbox.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace json = boost::json;
using arclight::lua::ScriptLimits;
using arclight::lua::ScriptResult;
using arclight::lua::ProcessRunnerOptions;
using arclight::lua::ProcessScriptRunner;
using arclight::lua::ScriptExecutor;
using arclight::lua::ScriptRunner;
using Status = ScriptResult::Status;

namespace {

// The two isolation modes; `states` is the in-process pool size or the number of workers.
struct InProcess {
    static std::unique_ptr<ScriptExecutor> make(std::size_t states = 8) { return std::make_unique<ScriptRunner>(states); }
};
struct InWorker {
    static std::unique_ptr<ScriptExecutor> make(std::size_t states = 8) {
        ProcessRunnerOptions o;
        o.workers = states;
        return std::make_unique<ProcessScriptRunner>(std::move(o));
    }
};

// Limits for the tests that run into one: small, so each test stops quickly.
ScriptLimits small_limits() {
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

Timed timed_run(ScriptExecutor& runner, std::string_view code, const ScriptLimits& limits = small_limits(),
                const json::value& input = json::object{}) {
    const auto t0 = std::chrono::steady_clock::now();
    ScriptResult r = runner.run(code, input, limits);
    const auto t1 = std::chrono::steady_clock::now();
    return {std::move(r), std::chrono::duration<double, std::milli>(t1 - t0).count()};
}

bool is_limit(Status s) {
    return s == Status::instruction_limit || s == Status::cpu_limit || s == Status::wall_limit || s == Status::memory_limit;
}

// A limited script counts as stopped "in time" when it ends within this (generous for ASan).
constexpr double kInTimeMs = 1500;

}  // namespace

TYPE_TO_STRING(InProcess);
TYPE_TO_STRING(InWorker);

TEST_CASE_TEMPLATE("sandbox: the echo script from the issue", Mode, InProcess, InWorker) {
    const auto executor = Mode::make();
    ScriptExecutor& runner = *executor;
    const json::value input = json::parse(R"({"trigger":{"body":{"a":1}}})");
    const ScriptResult r = runner.run("local b = input.trigger.body; b.echoed = true; return b", input, ScriptLimits{});
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(r.error.empty());
    CHECK(r.output == json::parse(R"({"a":1,"echoed":true})"));
    CHECK(json::serialize(r.output) == R"({"a":1,"echoed":true})");
}

TEST_CASE_TEMPLATE("sandbox: JSON round trips", Mode, InProcess, InWorker) {
    const auto executor = Mode::make();
    ScriptExecutor& runner = *executor;
    const ScriptLimits limits;

    SUBCASE("input comes back unchanged") {
        const json::value input = json::parse(
            R"({"arr":[1,2.5,"x",true,false,null,{"k":null},[]],"empty_arr":[],"empty_obj":{},"n":null,)"
            R"("nested":{"a":{"b":[[1],[2,3]]}},"big":9007199254740993,"neg":-42,"s":"héllo \"q\"\n\u0001"})");
        const ScriptResult r = runner.run("return input", input, limits);
        REQUIRE_MESSAGE(r.ok(), r.error);
        CHECK(r.output == input);
    }
    SUBCASE("null is the global `null`, absent keys are nil") {
        const json::value input = json::parse(R"({"n":null,"list":[null,1]})");
        const ScriptResult r = runner.run(
            "return {input.n == null, input.missing == nil, input.missing ~= null, #input.list, input.list[1] == null, "
            "type(null)}",
            input, limits);
        REQUIRE_MESSAGE(r.ok(), r.error);
        CHECK(r.output == json::parse(R"([true,true,true,2,true,"userdata"])"));
    }
    SUBCASE("values built by the script") {
        auto out = [&](std::string_view code) {
            const ScriptResult r = runner.run(code, json::object{}, limits);
            REQUIRE_MESSAGE(r.ok(), r.error);
            return json::serialize(r.output);
        };
        CHECK(out("return {1, 2, 3}") == "[1,2,3]");
        CHECK(out("return {b = 1, a = {x = null}, c = 'z'}") == R"({"a":{"x":null},"b":1,"c":"z"})");  // sorted keys
        CHECK(out("return nil") == "null");
        CHECK(out("local x = 1") == "null");
        CHECK(out("return null") == "null");
        CHECK(out("return {}") == "{}");
        CHECK(out("return array()") == "[]");
        CHECK(out("local t = array({}) t[1] = 'a' return t") == R"(["a"])");
        const ScriptResult nums = runner.run("return {i = 3, f = 3.5, w = 2^53, m = math.maxinteger}", json::object{}, limits);
        REQUIRE(nums.ok());
        CHECK(nums.output.at("i").is_int64());
        CHECK(nums.output.at("f").is_double());
        CHECK(nums.output.at("w").is_double());
        CHECK(nums.output == json::parse(R"({"f":3.5,"i":3,"m":9223372036854775807,"w":9007199254740992.0})"));
        CHECK(out("return 'multi', 'values'") == R"("multi")");
    }
    SUBCASE("an input array emptied by the script stays an array") {
        const ScriptResult r = runner.run("table.remove(input.list) table.remove(input.list) return input",
                                          json::parse(R"({"list":[1,2]})"), limits);
        REQUIRE_MESSAGE(r.ok(), r.error);
        CHECK(json::serialize(r.output) == R"({"list":[]})");
    }
    SUBCASE("uint64 beyond Lua's integers becomes a float") {
        const ScriptResult r = runner.run("return math.type(input.u)", json::parse(R"({"u":18446744073709551615})"), limits);
        REQUIRE_MESSAGE(r.ok(), r.error);
        CHECK(r.output == "float");
    }
}

TEST_CASE_TEMPLATE("sandbox: values that are not JSON give bad_output", Mode, InProcess, InWorker) {
    const auto executor = Mode::make();
    ScriptExecutor& runner = *executor;
    auto bad = [&](std::string_view code, std::string_view expect_in_message) {
        const ScriptResult r = runner.run(code, json::object{}, small_limits());
        CHECK_MESSAGE(r.status == Status::bad_output, code);
        CHECK_MESSAGE(r.error.find(expect_in_message) != std::string::npos, r.error);
        CHECK(r.output.is_null());
    };
    bad("return {1, nil, 3}", "output: a table with a non-string key (");
    bad("return {1, 2, x = 3}", "output: a table with a non-string key (");
    bad("return {[1.5] = 1}", "non-string key (1.5)");
    bad("return {f = function() end}", "output.f: a function value");
    bad("return {list = {{}, {co = coroutine.create(print or function() end)}}}", "output.list[2].co: a thread value");
    bad("return {[true] = 1}", "non-string key (true)");
    bad("return {[{}] = 1}", "non-string key (a table)");
    bad("local t = {} t.self = t return t", "output.self: a table that contains itself");
    bad("return 0/0", "NaN");
    bad("return {x = 1/0}", "infinity");
    bad("return '\\xff'", "not valid UTF-8");
    bad("return {['\\xff'] = 1}", "not valid UTF-8");
    bad("local t = {} for i = 1, 40 do t = {t, t} end return t", "larger than the limit");
    ScriptLimits tiny = small_limits();
    tiny.max_output_bytes = 50;
    const ScriptResult r = runner.run("return string.rep('x', 100)", json::object{}, tiny);
    CHECK(r.status == Status::bad_output);
    CHECK(r.error == "output: larger than the limit of 50 bytes as JSON");
    CHECK(runner.run("return string.rep('x', 40)", json::object{}, tiny).ok());
}

TEST_CASE_TEMPLATE("sandbox: errors", Mode, InProcess, InWorker) {
    const auto executor = Mode::make();
    ScriptExecutor& runner = *executor;
    SUBCASE("a Lua error is a runtime_error with the message") {
        const ScriptResult r = runner.run("error('boom')", json::object{}, ScriptLimits{});
        CHECK(r.status == Status::runtime_error);
        CHECK(r.error == "script:1: boom");
        CHECK(r.output.is_null());
    }
    SUBCASE("error objects that are not strings") {
        CHECK(runner.run("error({code = 1})", json::object{}, ScriptLimits{}).error == "(error object is a table value)");
        CHECK(runner.run("error(42)", json::object{}, ScriptLimits{}).error == "42");
        CHECK(runner.run("error()", json::object{}, ScriptLimits{}).error == "nil");
        const ScriptResult r = runner.run("error(string.rep('e', 100000))", json::object{}, ScriptLimits{});
        CHECK(r.status == Status::runtime_error);
        CHECK(r.error.size() <= 2003);
    }
    SUBCASE("messages carry no addresses or paths") {
        const ScriptResult r = runner.run("local t = {} t.x.y = 1", json::object{}, ScriptLimits{});
        CHECK(r.status == Status::runtime_error);
        CHECK(r.error == "script:1: attempt to index a nil value (field 'x')");
        const ScriptResult r2 = runner.run("return ('x'):find({})", json::object{}, ScriptLimits{});
        CHECK(r2.status == Status::runtime_error);
        CHECK(r2.error.find("0x") == std::string::npos);
        CHECK(r2.error.find('/') == std::string::npos);
    }
    SUBCASE("syntax errors") {
        const ScriptResult r = runner.run("return +", json::object{}, ScriptLimits{});
        CHECK(r.status == Status::syntax_error);
        CHECK(r.error.rfind("script:1:", 0) == 0);
        const ScriptResult r2 = runner.run("\x1bLua binary", json::object{}, ScriptLimits{});
        CHECK(r2.status == Status::syntax_error);
        CHECK(r2.error.find("binary") != std::string::npos);
    }
    SUBCASE("check_syntax") {
        CHECK(runner.check_syntax("return input.a + 1").empty());
        CHECK(runner.check_syntax("").empty());
        CHECK(runner.check_syntax("while true do end").empty());  // compiled, not run
        const std::string e = runner.check_syntax("local x = \n return x +");
        CHECK(e.rfind("script:2:", 0) == 0);
        CHECK(e.find("unexpected symbol") != std::string::npos);
        CHECK_FALSE(runner.check_syntax("for").empty());
    }
    SUBCASE("to_string") {
        CHECK(std::string(to_string(Status::ok)) == "ok");
        CHECK(std::string(to_string(Status::memory_limit)) == "memory_limit");
        CHECK(std::string(to_string(Status::bad_output)) == "bad_output");
    }
}

TEST_CASE_TEMPLATE("sandbox: escapes are refused and never happen", Mode, InProcess, InWorker) {
    const auto executor = Mode::make(1);
    ScriptExecutor& runner = *executor;
    const std::string marker = "/tmp/arclight_sandbox_test_" + std::to_string(getpid());
    ::unlink(marker.c_str());
    const std::vector<std::string> scripts = {
        "os.execute('touch " + marker + "')",
        "io.open('" + marker + "', 'w'):write('x')",
        "io.open('/etc/passwd')",
        "return require('os')",
        "return load('return 1')()",
        "return loadstring('return 1')()",
        "return dofile('/etc/passwd')",
        "return loadfile('/etc/passwd')",
        "debug.sethook(function() end, '', 1)",
        "return debug.getinfo(1)",
        "return string.dump(function() end)",
        "return ('').dump(function() end)",
        "return package.loadlib('libc.so.6', 'system')",
        "collectgarbage('stop')",
        "print('hello')",
        "setmetatable({}, {__gc = function() end})",
        "string.upper = nil",
        "rawset(string, 'upper', nil)",
        "setmetatable(string, nil)",
        "getmetatable('').__index.upper = nil",
        "getmetatable('').__index = {}",
        "setmetatable(_G, nil)",
        "coroutine.resume = nil",
        "math.floor = nil",
    };
    for (const std::string& code : scripts) {
        const ScriptResult r = runner.run(code, json::object{}, small_limits());
        CHECK_MESSAGE(r.status == Status::runtime_error, code, " -> ", to_string(r.status), " ", r.error);
        CHECK_MESSAGE(r.error.rfind("script:1:", 0) == 0, code, " -> ", r.error);
    }
    CHECK(::access(marker.c_str(), F_OK) != 0);
    // The string library and its metatable are intact for the next calls.
    const ScriptResult r = runner.run("return {('a'):upper(), string.upper('b'), math.floor(2.5), getmetatable('')}",
                                      json::object{}, ScriptLimits{});
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(r.output == json::parse(R"(["A","B",2,"locked"])"));
    // What is there is the documented set.
    const ScriptResult names = runner.run(R"(
        local out = {}
        for _, n in ipairs({'print', 'load', 'loadstring', 'dofile', 'loadfile', 'require', 'collectgarbage',
                            'os', 'io', 'debug', 'package', 'module', 'newproxy', 'setfenv', 'getfenv'}) do
          if _ENV[n] ~= nil then out[#out + 1] = n end
        end
        return array(out))",
                                             json::object{}, ScriptLimits{});
    REQUIRE_MESSAGE(names.ok(), names.error);
    CHECK(json::serialize(names.output) == "[]");
}

TEST_CASE_TEMPLATE("sandbox: nothing leaks from one call to the next", Mode, InProcess, InWorker) {
    const auto executor = Mode::make(1);  // one state, reused by every call
    ScriptExecutor& runner = *executor;
    const ScriptLimits limits;
    SUBCASE("globals") {
        REQUIRE(runner.run("leak = 42; _G.leak2 = 1; rawset(_G, 'leak3', 1) return 1", json::object{}, limits).ok());
        const ScriptResult r = runner.run("return {leak == nil, leak2 == nil, leak3 == nil, input.x}",
                                          json::parse(R"({"x":2})"), limits);
        REQUIRE_MESSAGE(r.ok(), r.error);
        CHECK(r.output == json::parse("[true,true,true,2]"));
    }
    SUBCASE("the input of the previous call") {
        REQUIRE(runner.run("return input", json::parse(R"({"secret":1})"), limits).ok());
        const ScriptResult r = runner.run("return input.secret == nil", json::object{}, limits);
        REQUIRE_MESSAGE(r.ok(), r.error);
        CHECK(r.output == true);
    }
    SUBCASE("the same cached chunk sees its own call's input") {
        for (int i = 0; i < 5; ++i) {
            const ScriptResult r = runner.run("seen = (seen or 0) + 1 return {input.i, seen}", json::object{{"i", i}}, limits);
            REQUIRE_MESSAGE(r.ok(), r.error);
            CHECK(r.output == json::array{i, 1});
        }
    }
    SUBCASE("math.randomseed") {
        const ScriptResult a = runner.run("math.randomseed(42) math.random() return math.random(1, 1000000000)",
                                          json::object{}, limits);
        REQUIRE(runner.run("math.randomseed(42) return math.random(1, 1000000000)", json::object{}, limits).ok());
        const ScriptResult b = runner.run("return math.random(1, 1000000000)", json::object{}, limits);
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        CHECK(a.output != b.output);  // the seed did not carry over (1 in 1e9 to fail by chance)
    }
    SUBCASE("after a limit error the next call runs normally") {
        CHECK(is_limit(timed_run(runner, "x = 1 while true do end").r.status));
        const ScriptResult r = runner.run("return x == nil", json::object{}, limits);
        REQUIRE_MESSAGE(r.ok(), r.error);
        CHECK(r.output == true);
    }
}

TEST_CASE_TEMPLATE("sandbox: pcall, coroutines and metatables still work", Mode, InProcess, InWorker) {
    const auto executor = Mode::make();
    ScriptExecutor& runner = *executor;
    const ScriptLimits limits;
    auto out = [&](std::string_view code) {
        const ScriptResult r = runner.run(code, json::object{}, limits);
        REQUIRE_MESSAGE(r.ok(), r.error);
        return json::serialize(r.output);
    };
    CHECK(out("local ok, e = pcall(error, 'x', 0) return {ok, e}") == R"([false,"x"])");
    CHECK(out("return {pcall(function(a) return a + 1 end, 1)}") == "[true,2]");
    CHECK(out("return {xpcall(function() error('x', 0) end, function(m) return 'handled ' .. m end)}") ==
          R"([false,"handled x"])");
    CHECK(out(R"(
        local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
        local co = coroutine.create(function(a)
          local ok, v = pcall(function() return coroutine.yield(a * 2) end)  -- yield across pcall
          return ok, v
        end)
        local _, first = coroutine.resume(co, 21)
        local _, ok, second = coroutine.resume(co, 'back')
        return {gen(), gen(), gen(), first, ok, second, coroutine.status(co)})") == R"([1,2,3,42,true,"back","dead"])");
    CHECK(out("local mt = {__index = function(t, k) return k .. '!' end} return setmetatable({}, mt).hey") == R"("hey!")");
    CHECK(out("return {('a,b,c'):gsub(',', ';')}") == R"(["a;b;c",2])");
    CHECK(out("local t = {} for w in ('one two'):gmatch('%a+') do t[#t + 1] = w end return t") == R"(["one","two"])");
    CHECK(out("return {string.find('hello', 'l+')}") == "[3,4]");
    CHECK(out("return {string.match('k=v', '(%w+)=(%w+)')}") == R"(["k","v"])");
    CHECK(out("return table.move({1, 2, 3}, 1, 3, 2)") == "[1,1,2,3]");
    CHECK(out("return string.rep('ab', 3, '-')") == R"("ab-ab-ab")");
    CHECK(out("local t = {3, 1, 2} table.sort(t) return {t, utf8.char(233), utf8.len('é')}") == R"([[1,2,3],"é",1])");
    CHECK(out("return {math.type(1), math.type(1.0), math.random(1, 1) }") == R"(["integer","float",1])");
}

TEST_CASE_TEMPLATE("sandbox: limits", Mode, InProcess, InWorker) {
    const auto executor = Mode::make();
    ScriptExecutor& runner = *executor;

    SUBCASE("infinite loop: the instruction budget") {
        const Timed t = timed_run(runner, "while true do end");
        CHECK_MESSAGE((t.r.status == Status::instruction_limit || t.r.status == Status::cpu_limit), t.r.error);
        CHECK(t.ms < kInTimeMs);
        ScriptLimits l = small_limits();
        l.max_instructions = 100'000;
        const Timed t2 = timed_run(runner, "local n = 0 while true do n = n + 1 end", l);
        CHECK(t2.r.status == Status::instruction_limit);
        CHECK(t2.r.error == "instruction limit exceeded (100000 instructions)");
    }
    SUBCASE("infinite loop: CPU time") {
        ScriptLimits l = small_limits();
        l.max_instructions = 0;  // none
        l.cpu_ms = 100;
        l.wall_ms = 5000;
        const Timed t = timed_run(runner, "while true do end", l);
        CHECK(t.r.status == Status::cpu_limit);
        CHECK(t.r.error == "CPU time limit exceeded (100 ms)");
        CHECK(t.ms >= 90);
        CHECK(t.ms < kInTimeMs);
    }
    SUBCASE("infinite loop: wall-clock time") {
        ScriptLimits l = small_limits();
        l.max_instructions = 0;
        l.cpu_ms = 0;
        l.wall_ms = 100;
        const Timed t = timed_run(runner, "while true do end", l);
        CHECK(t.r.status == Status::wall_limit);
        CHECK(t.r.error == "wall-clock time limit exceeded (100 ms)");
        CHECK(t.ms >= 99);
        CHECK(t.ms < kInTimeMs);
    }
    SUBCASE("pcall cannot swallow a limit") {
        const Timed t = timed_run(runner, "while true do pcall(function() while true do end end) end");
        CHECK(is_limit(t.r.status));
        CHECK(t.ms < kInTimeMs);
        const Timed t2 = timed_run(runner,
                                   "local ok = xpcall(function() while true do end end, function() while true do end end) "
                                   "return ok");
        CHECK(is_limit(t2.r.status));
        CHECK(t2.ms < kInTimeMs);
    }
    SUBCASE("handlers that run after a limit error cannot loop") {
        // A limit error is raised inside the hook, where Lua runs no hooks: neither xpcall's
        // handler nor a dead coroutine's __close handlers may run then.
        for (const char* code : {
                 "local ok = xpcall(function() while true do end end, function() while true do end end) return ok",
                 "local x <close> = setmetatable({}, {__close = function() while true do end end}) while true do end",
                 "coroutine.wrap(function() local x <close> = setmetatable({}, {__close = function() while true do end end}) "
                 "while true do end end)()",
                 "local co = coroutine.create(function() local x <close> = setmetatable({}, {__close = function() "
                 "while true do end end}) while true do end end) coroutine.resume(co) coroutine.close(co)",
                 "local co = coroutine.wrap(function() local x <close> = setmetatable({}, {__close = function() "
                 "while true do end end}) error('x') end) pcall(co) return 1",
                 "xpcall(error, function() while true do end end)",
             }) {
            const Timed t = timed_run(runner, code);
            CHECK_MESSAGE(is_limit(t.r.status), code, " -> ", to_string(t.r.status), " ", t.r.error);
            CHECK(t.ms < kInTimeMs);
        }
    }
    SUBCASE("memory bomb") {
        // The memory cap must be what stops these, also in the sanitizer build, where allocating
        // is several times slower and 200 ms of CPU can run out first.
        ScriptLimits roomy = small_limits();
        roomy.cpu_ms = 1000;
        roomy.wall_ms = 1400;
        const Timed t = timed_run(runner, "local t = {} for i=1,1e9 do t[i] = string.rep('x', 1000) .. i end", roomy);
        CHECK(t.r.status == Status::memory_limit);
        CHECK(t.r.error == "memory limit exceeded (8 MiB)");
        CHECK(t.ms < kInTimeMs);
        const Timed t2 = timed_run(runner, "local s = 'x' while true do s = s .. s end", roomy);
        CHECK(t2.r.status == Status::memory_limit);
        const Timed t3 = timed_run(runner, "local t = {} for i = 1, 1e9 do pcall(function() t[i] = ('x'):rep(1e5) .. i end) end");
        CHECK(is_limit(t3.r.status));
        CHECK(t3.ms < kInTimeMs);
        // Memory is per call: the same state (or a new one) runs the next script normally.
        const ScriptResult r = runner.run("return #string.rep('x', 4e6)", json::object{}, small_limits());
        REQUIRE_MESSAGE(r.ok(), r.error);
        CHECK(r.output == 4000000);
    }
    SUBCASE("pathological pattern") {
        const Timed t = timed_run(runner, "return string.find(string.rep('a', 1e5), string.rep('a?', 1e5) .. string.rep('a', 1e5))");
        CHECK_FALSE(t.r.ok());
        CHECK(t.ms < kInTimeMs);
        // Exponential but within the matcher's depth: the budget stops it.
        const Timed t2 = timed_run(runner, "return string.find(string.rep('a', 30), string.rep('a?', 30) .. string.rep('a', 30))");
        CHECK(is_limit(t2.r.status));
        CHECK(t2.ms < kInTimeMs);
        const Timed t3 = timed_run(runner, "return string.gsub(string.rep('a', 30), string.rep('a?', 30) .. string.rep('a', 30), '')");
        CHECK(is_limit(t3.r.status));
        const Timed t4 = timed_run(runner, "for m in string.gmatch(string.rep('a', 30), string.rep('a?', 30) .. string.rep('a', 30)) do end");
        CHECK(is_limit(t4.r.status));
    }
    SUBCASE("string.rep of 2^50 bytes") {
        const Timed t = timed_run(runner, "return #string.rep('x', 2^50)");
        CHECK(is_limit(t.r.status));
        CHECK(t.ms < kInTimeMs);
        ScriptLimits l = small_limits();
        l.max_instructions = 0;
        const Timed t2 = timed_run(runner, "return #string.rep('x', 2^50)", l);
        CHECK(t2.r.status == Status::memory_limit);
        const Timed t3 = timed_run(runner, "return #string.rep('', 2^50)");  // Lua's own loops 2^50 times
        CHECK(t3.r.ok());
        CHECK(t3.r.output == 0);
        CHECK(t3.ms < kInTimeMs);
    }
    SUBCASE("table.move over 2^40 elements") {
        const Timed t = timed_run(runner, "return #table.move({}, 1, 2^40, 2)");
        CHECK(is_limit(t.r.status));
        CHECK(t.ms < kInTimeMs);
    }
    SUBCASE("infinite loops inside coroutines") {
        for (const char* code : {
                 "local co = coroutine.create(function() while true do end end) coroutine.resume(co) return 1",
                 "local co = coroutine.create(function() while true do end end) "
                 "local ok = coroutine.resume(co) while true do end",
                 "coroutine.wrap(function() while true do end end)() return 1",
                 "pcall(coroutine.wrap(function() while true do end end)) return 1",
                 "local co = coroutine.create(function() while true do end end) "
                 "pcall(coroutine.resume, co) coroutine.close(co) return 1",
                 "local co = coroutine.wrap(function() while true do coroutine.yield() end end) while true do co() end",
                 "local function nest(n) if n == 0 then while true do end end "
                 "  return coroutine.wrap(function() return nest(n - 1) end)() end return nest(50)",
             }) {
            const Timed t = timed_run(runner, code);
            CHECK_MESSAGE(is_limit(t.r.status), code, " -> ", to_string(t.r.status), " ", t.r.error);
            CHECK(t.ms < kInTimeMs);
        }
        ScriptLimits l = small_limits();
        l.max_instructions = 0;
        l.cpu_ms = 100;
        l.wall_ms = 5000;
        const Timed t = timed_run(runner, "coroutine.wrap(function() while true do end end)()", l);
        CHECK(t.r.status == Status::cpu_limit);
    }
    SUBCASE("few instructions, each an expensive C call: the clock check on calls") {
        ScriptLimits l = small_limits();
        l.max_instructions = 0;
        l.wall_ms = 200;
        l.cpu_ms = 0;
        l.memory_bytes = 16u << 20;
        const Timed t = timed_run(runner,
                                  "local t = {} for i = 1, 2e5 do t[i] = (i * 7919) % 1000003 end "
                                  "while true do table.sort(t, function(a, b) return a > b end) table.sort(t) end",
                                  l);
        CHECK(t.r.status == Status::wall_limit);
        CHECK(t.ms < kInTimeMs);
        const Timed t2 = timed_run(runner,
                                   "local a = string.rep('x', 2e6) .. 'a' local b = string.rep('x', 2e6) .. 'b' "
                                   "local n = 0 while true do if a < b then n = n + 1 end end",
                                   l);
        CHECK(t2.r.status == Status::wall_limit);
        CHECK(t2.ms < kInTimeMs);
        const Timed t3 = timed_run(runner, "local a = string.rep('x', 3e6) while true do local b = a .. a end", l);
        CHECK(t3.r.status == Status::wall_limit);
        CHECK(t3.ms < kInTimeMs);
    }
    SUBCASE("deep recursion") {
        const Timed t = timed_run(runner, "local function f(n) return 1 + f(n + 1) end return f(1)");
        CHECK_FALSE(t.r.ok());
        CHECK(t.ms < kInTimeMs);
        const Timed t2 = timed_run(runner, "local function f() return pcall(f) end return f()");
        CHECK(t2.ms < kInTimeMs);
    }
}

TEST_CASE_TEMPLATE("sandbox: the chunk cache and the pool", Mode, InProcess, InWorker) {
    const auto executor = Mode::make(2);
    ScriptExecutor& runner = *executor;
    const ScriptLimits limits;
    SUBCASE("more distinct scripts than the cache holds") {
        for (int round = 0; round < 2; ++round) {
            for (int i = 0; i < 100; ++i) {
                const ScriptResult r = runner.run("return input.x + " + std::to_string(i), json::object{{"x", 1}}, limits);
                REQUIRE_MESSAGE(r.ok(), r.error);
                CHECK(r.output == 1 + i);
            }
        }
    }
    SUBCASE("threads share the runner") {
        std::atomic<int> failures{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 200; ++i) {
                    const ScriptResult r = runner.run("input.n = input.n + 1 return input", json::object{{"n", t * 1000 + i}}, limits);
                    if (!r.ok() || r.output.at("n") != t * 1000 + i + 1) ++failures;
                    if (i % 50 == 0 && runner.run("while true do end", json::object{}, small_limits()).ok()) ++failures;
                }
            });
        }
        for (std::thread& th : threads) th.join();
        CHECK(failures == 0);
    }
    SUBCASE("no pooling") {
        ScriptRunner unpooled(0);
        CHECK(unpooled.run("return 1", json::object{}, limits).output == 1);
        CHECK(unpooled.run("return 2", json::object{}, limits).output == 2);
    }
}

// ------------------------------------------------------------------------------------------------
// The lazy input: `input`, its object members and input.tasks.<id> are converted on first read.
// Everything a script can observe must be what the eager conversion gave.
// ------------------------------------------------------------------------------------------------

namespace {

// Shaped like the engine's: {"input", "trigger", "tasks": {"<id>": {"status", "output"}}, "run"}.
json::value engine_input(int ntasks) {
    json::object tasks;
    for (int k = 0; k < ntasks; ++k)
        tasks["s" + std::to_string(k)] = json::object{{"status", "succeeded"}, {"output", json::object{{"n", k}}}};
    tasks["failed"] = json::object{{"status", "failed"}, {"output", nullptr}, {"error", "boom"}};
    json::value v = json::parse(R"({
        "input": {"order": 7, "tags": ["a", "b"], "empty": {}, "none": null},
        "trigger": {"type": "webhook", "method": "POST", "path": "/hooks/x",
                    "body": {"a": 1, "list": [1, 2.5, null, {"k": "v"}], "big": 9007199254740993, "f": 3.0},
                    "query": {"q": "1"}, "headers": {"content-type": "application/json", "x-n": "2"},
                    "params": {}},
        "run": {"id": "r1", "workflow_id": "wf", "version": 3}})");
    v.as_object()["tasks"] = std::move(tasks);
    return v;
}

// Reads every table reachable from `input` with pairs, so that nothing is lazy any more.
constexpr std::string_view kTouchAll = R"(
    local function touch(t, depth)
      if depth > 50 then return end
      for _, v in pairs(t) do if type(v) == 'table' then touch(v, depth + 1) end end
    end
    touch(input, 0)
)";

ScriptResult run_ok(ScriptExecutor& runner, std::string_view code, const json::value& input) {
    ScriptResult r = runner.run(code, input, ScriptLimits{});
    REQUIRE_MESSAGE(r.ok(), code, " -> ", to_string(r.status), " ", r.error);
    return r;
}

}  // namespace

TEST_CASE_TEMPLATE("sandbox: lazy input, reads give what the eager conversion gave", Mode, InProcess, InWorker) {
    const auto executor = Mode::make(1);
    ScriptExecutor& runner = *executor;
    const json::value in = engine_input(5);
    SUBCASE("values at every lazy level and below") {
        const ScriptResult r = run_ok(runner, R"(
            local t = input.tasks
            return {
              input.tasks.s3.output.n, input.tasks.s0.status, math.type(input.tasks.s4.output.n),
              input.tasks.failed.output == null, input.tasks.failed.error,
              input.trigger.body.a, input.trigger.body.list[2], input.trigger.body.list[3] == null,
              input.trigger.body.list[4].k, #input.trigger.body.list, input.trigger.body.big,
              math.type(input.trigger.body.f), input.trigger.headers['content-type'], input.run.version,
              input.input.order, input.input.none == null, input.input.tags[2],
              input.nope == nil, input.tasks.nope == nil, input.tasks.s1.nope == nil, input.trigger.nope == nil,
              input.input.none ~= nil, t == input.tasks, input.tasks.s1 == input.tasks.s1,
              input[1] == nil, input.tasks[1] == nil, #input, #input.tasks, #input.tasks.s1, rawlen(input),
              type(input), type(input.tasks.s2)
            })",
                                      in);
        CHECK(r.output == json::parse(R"([3, "succeeded", "integer", true, "boom", 1, 2.5, true, "v", 4, 9007199254740993,
                                          "float", "application/json", 3, 7, true, "b", true, true, true, true,
                                          true, true, true, true, true, 0, 0, 0, 0, "table", "table"])"));
    }
    SUBCASE("the output of returning lazy tables is the full JSON, read or not") {
        // Nothing read; some levels read; everything read: the same JSON, equal to the input.
        for (const std::string& pre : {std::string(), std::string("local _ = input.tasks.s1.output.n, input.trigger.body, input.run.id "),
                                       std::string(kTouchAll)}) {
            CHECK(run_ok(runner, pre + " return input", in).output == in);
            CHECK(run_ok(runner, pre + " return input.tasks", in).output == in.at("tasks"));
            CHECK(run_ok(runner, pre + " return input.tasks.s2", in).output == in.at("tasks").at("s2"));
            CHECK(run_ok(runner, pre + " return {a = input.trigger, b = {input.run, input.tasks.failed}}", in).output ==
                  json::value{{"a", in.at("trigger")}, {"b", json::array{in.at("run"), in.at("tasks").at("failed")}}});
        }
        // Serialized like before: members sorted by key, [] and {} kept.
        const ScriptResult r = run_ok(runner, "return input.input", in);
        CHECK(json::serialize(r.output) == R"({"empty":{},"none":null,"order":7,"tags":["a","b"]})");
        CHECK(json::serialize(run_ok(runner, "return input.trigger.params", in).output) == "{}");
        CHECK(json::serialize(run_ok(runner, "return input", json::object{}).output) == "{}");
        // Numbers as before: uint64 beyond Lua's integers is a float, 3.0 stays a float.
        const json::value u = json::parse(R"({"run":{"u":18446744073709551615,"f":3.0,"i":3}})");
        for (const char* code : {"return input", "local _ = input.run.u return input"}) {
            const ScriptResult nums = run_ok(runner, code, u);
            CHECK(nums.output.at("run").at("u").is_double());
            CHECK(nums.output.at("run").at("u") == 18446744073709551615.0);
            CHECK(nums.output.at("run").at("f").is_double());
            CHECK(nums.output.at("run").at("i").is_int64());
        }
    }
    SUBCASE("the echo script on the engine's input") {
        const ScriptResult r = run_ok(runner, "local b = input.trigger.body; b.echoed = true; return b", in);
        json::value expect = in.at("trigger").at("body");
        expect.as_object()["echoed"] = true;
        CHECK(r.output == expect);
        // The mutation is seen through input too, and in the full output.
        const ScriptResult r2 = run_ok(runner, "input.trigger.body.echoed = true return input", in);
        json::value expect2 = in;
        expect2.as_object()["trigger"].as_object()["body"].as_object()["echoed"] = true;
        CHECK(r2.output == expect2);
    }
    SUBCASE("input that is not an object is converted as before") {
        CHECK(run_ok(runner, "return {input[2], #input}", json::parse("[5,6]")).output == json::parse("[6,2]"));
        CHECK(run_ok(runner, "return input", json::parse("[]")).output == json::array{});
        CHECK(run_ok(runner, "return input", json::value("s")).output == "s");
        CHECK(run_ok(runner, "return input == null", json::value(nullptr)).output == true);
    }
    SUBCASE("coroutines read lazy tables too") {
        CHECK(run_ok(runner, "return coroutine.wrap(function() return input.tasks.s1.output.n end)()", in).output == 1);
    }
}

TEST_CASE_TEMPLATE("sandbox: lazy input, pairs, next, rawget, rawset and # see the whole table", Mode, InProcess, InWorker) {
    const auto executor = Mode::make(1);
    ScriptExecutor& runner = *executor;
    const json::value in = engine_input(3);
    // The sorted keys of a table, through pairs or a next loop.
    const std::string keys = R"(
        local function keys(t)
          local out = {}
          for k in pairs(t) do out[#out + 1] = k end
          table.sort(out)
          return array(out)
        end
        local function next_keys(t)
          local out, k = {}, nil
          repeat k = next(t, k) if k ~= nil then out[#out + 1] = k end until k == nil
          table.sort(out)
          return array(out)
        end
    )";
    SUBCASE("pairs and next on untouched and partly read tables") {
        const ScriptResult r = run_ok(runner, keys + R"(
            local a = keys(input)
            local _ = input.tasks.s1
            local b = keys(input.tasks)
            local c = next_keys(input.tasks.s2)
            local d = next_keys(input.trigger)
            local n = 0 for k, v in pairs(input.tasks) do n = n + (v.output ~= null and v.output.n or 0) end
            return {a, b, c, d, n, pairs(input) == next, pairs({}) == next, next(input.run) ~= nil})",
                                      in);
        CHECK(r.output == json::parse(R"([["input","run","tasks","trigger"], ["failed","s0","s1","s2"],
                                         ["output","status"], ["body","headers","method","params","path","query","type"],
                                         3, true, true, true])"));
    }
    SUBCASE("the values pairs gives are the values reads give") {
        const ScriptResult r = run_ok(runner, R"(
            local out = {}
            for k, v in pairs(input.tasks) do out[k] = (v == input.tasks[k]) end
            for k, v in pairs(input.run) do out['run.' .. k] = v end
            return out)",
                                      in);
        CHECK(r.output == json::parse(R"({"failed":true,"s0":true,"s1":true,"s2":true,
                                          "run.id":"r1","run.version":3,"run.workflow_id":"wf"})"));
    }
    SUBCASE("assigning a key never read") {
        const ScriptResult r = run_ok(runner, keys + R"(
            input.trigger = 5
            input.tasks.s1 = 'replaced'
            input.added = {x = 1}
            input.tasks.s9 = true
            return {input.trigger, input.tasks.s1, input.added.x, keys(input), keys(input.tasks), input})",
                                      in);
        json::value expect_input = in;
        expect_input.as_object()["trigger"] = 5;
        expect_input.as_object()["tasks"].as_object()["s1"] = "replaced";
        expect_input.as_object()["tasks"].as_object()["s9"] = true;
        expect_input.as_object()["added"] = json::object{{"x", 1}};
        CHECK(r.output == json::array{5, "replaced", 1, json::parse(R"(["added","input","run","tasks","trigger"])"),
                                      json::parse(R"(["failed","s0","s1","s2","s9"])"), expect_input});
    }
    SUBCASE("setting a key to nil removes it, read or not") {
        const ScriptResult r = run_ok(runner, keys + R"(
            input.run = nil                        -- never read
            local t = input.trigger input.trigger = nil  -- read first
            input.tasks.s0 = nil
            local _ = input.tasks.s1 input.tasks.s1 = nil
            rawset(input.tasks, 's2', nil)         -- rawset, never read
            input.zzz = nil                        -- not in the JSON at all
            return {input.run == nil, input.trigger == nil, rawget(input, 'run') == nil, input.tasks.s0 == nil,
                    input.tasks.s1 == nil, input.tasks.s2 == nil, keys(input), keys(input.tasks), input,
                    t.method})",
                                      in);
        json::value expect_input = in;
        expect_input.as_object().erase("run");
        expect_input.as_object().erase("trigger");
        for (const char* id : {"s0", "s1", "s2"}) expect_input.as_object()["tasks"].as_object().erase(id);
        CHECK(r.output == json::array{true, true, true, true, true, true, json::parse(R"(["input","tasks"])"),
                                      json::parse(R"(["failed"])"), expect_input, "POST"});
        // Removing every member while iterating (allowed in Lua) leaves an empty object.
        CHECK(json::serialize(run_ok(runner, "for k in pairs(input.tasks) do input.tasks[k] = nil end return input.tasks", in)
                                  .output) == "{}");
        // A removed key can be set again.
        CHECK(run_ok(runner, "input.run = nil input.run = 1 return {input.run, rawget(input, 'run')}", in).output ==
              json::parse("[1,1]"));
    }
    SUBCASE("rawget materializes, rawset of an unread key wins over the JSON") {
        const ScriptResult r = run_ok(runner, R"(
            local a = rawget(input, 'tasks').s1.output.n
            local b = rawget(input.tasks, 's2') == input.tasks.s2
            local c = rawget(input, 'missing') == nil
            rawset(input, 'run', 'mine')
            rawset(input.tasks, 's0', 0)
            return {a, b, c, input.run, input.tasks.s0, rawget(input.trigger, 1) == nil})",
                                      in);
        CHECK(r.output == json::parse(R"([1, true, true, "mine", 0, true])"));
    }
    SUBCASE("ipairs and the table library see objects as before") {
        const ScriptResult r = run_ok(runner, R"(
            local n = 0 for _ in ipairs(input) do n = n + 1 end
            table.insert(input.tasks, 'x')   -- as on any object table: key 1
            return {n, input.tasks[1], #input.tasks})",
                                      in);
        CHECK(r.output == json::parse(R"([0, "x", 1])"));
        const ScriptResult bad = runner.run("table.insert(input.tasks, 'x') return input.tasks", in, ScriptLimits{});
        CHECK(bad.status == Status::bad_output);
        CHECK(bad.error.find("non-string key (1)") != std::string::npos);
    }
    SUBCASE("__pairs of the script's own tables still works") {
        const ScriptResult r = run_ok(runner, R"(
            local t = setmetatable({}, {__pairs = function(t) return function(_, k) if not k then return 'a', 1 end end, t, nil end})
            local out = {} for k, v in pairs(t) do out[k] = v end return out)",
                                      in);
        CHECK(r.output == json::parse(R"({"a":1})"));
    }
}

TEST_CASE_TEMPLATE("sandbox: lazy input, metatables and isolation", Mode, InProcess, InWorker) {
    const auto executor = Mode::make(1);  // one state: every call reuses it
    ScriptExecutor& runner = *executor;
    const json::value in = engine_input(2);
    SUBCASE("the metatable is protected and gives nothing away") {
        const ScriptResult r = run_ok(runner, R"(
            return {getmetatable(input), getmetatable(input.tasks), getmetatable(input.tasks.s1),
                    getmetatable(input.tasks.s1.output) == nil, getmetatable(input.trigger.body) == nil,
                    getmetatable(input).__index == nil, getmetatable(input).__pairs == nil})",
                                      in);
        CHECK(r.output == json::parse(R"(["json input","json input","json input",true,true,true,true])"));
        for (const char* code : {"setmetatable(input, {})", "setmetatable(input, nil)", "setmetatable(input.tasks, {})",
                                 "setmetatable(input.tasks.s0, nil)", "setmetatable(input.run, {__index = _G})",
                                 "array(input)", "input[nil] = 1", "input[0/0] = 1"}) {
            const ScriptResult e = runner.run(code, in, ScriptLimits{});
            CHECK_MESSAGE(e.status == Status::runtime_error, code, " -> ", to_string(e.status), " ", e.error);
            CHECK_MESSAGE(e.error.rfind("script:1:", 0) == 0, code, " -> ", e.error);
        }
        CHECK(runner.run("input[nil] = 1", in, ScriptLimits{}).error == "script:1: table index is nil");
        CHECK(runner.run("input[0/0] = 1", in, ScriptLimits{}).error == "script:1: table index is NaN");
        CHECK(runner.run("local t = {} t[nil] = 1", in, ScriptLimits{}).error == "script:1: table index is nil");
        // Deeper levels are plain tables, as before.
        CHECK(run_ok(runner, "local b = setmetatable(input.trigger.body, {__index = function() return 9 end}) return b.zz", in)
                  .output == 9);
    }
    SUBCASE("the next call sees its own input only, also after an error or a limit") {
        const json::value secret = json::parse(R"({"tasks":{"s1":{"output":{"secret":1}}},"trigger":{"k":"secret"}})");
        const json::value other = json::parse(R"({"tasks":{"s2":{"output":{}}}})");
        REQUIRE(run_ok(runner, "return input.tasks.s1.output.secret", secret).output == 1);
        CHECK(run_ok(runner, "return {input.tasks.s1 == nil, input.trigger == nil, input}", other).output ==
              json::array{true, true, other});
        CHECK(runner.run("local _ = input.tasks.s1 error('x')", secret, ScriptLimits{}).status == Status::runtime_error);
        CHECK(run_ok(runner, "return input", other).output == other);
        CHECK(is_limit(timed_run(runner, "local _ = input.tasks while true do end", small_limits(), secret).r.status));
        CHECK(run_ok(runner, "return input", other).output == other);
    }
    SUBCASE("the caller's JSON may go away after the call (ASan checks nothing reads it)") {
        for (int i = 0; i < 3; ++i) {
            auto held = std::make_unique<json::value>(engine_input(4));
            REQUIRE(run_ok(runner, "local _ = input.tasks.s1.output, input.run return input.tasks.s2", *held).output ==
                    held->at("tasks").at("s2"));
            held.reset();
            // Plenty of garbage, so the collector runs over whatever the previous call left.
            REQUIRE(run_ok(runner, "local t = {} for i = 1, 20000 do t[i] = {i} end return #t", json::object{}).output == 20000);
        }
    }
}

TEST_CASE_TEMPLATE("sandbox: lazy input, limits apply to what is materialized", Mode, InProcess, InWorker) {
    const auto executor = Mode::make(1);
    ScriptExecutor& runner = *executor;
    ScriptLimits l = small_limits();  // 8 MiB
    json::value in = engine_input(2);
    in.as_object()["tasks"].as_object()["huge"] =
        json::object{{"status", "succeeded"}, {"output", json::string(12u << 20, 'x')}};
    // Not read: not converted, so within the memory limit.
    const ScriptResult fine = runner.run("return input.tasks.s1.output.n", in, l);
    REQUIRE_MESSAGE(fine.ok(), fine.error);
    CHECK(fine.output == 1);
    // Read, by a key or by pairs: over the limit.
    for (const char* code : {"return #input.tasks.huge.output", "for k, v in pairs(input.tasks.huge) do end",
                             "local n = 0 for k in next, input.tasks.huge do n = n + 1 end return n",
                             "return rawget(input.tasks.huge, 'output') ~= nil"}) {
        const ScriptResult r = runner.run(code, in, l);
        CHECK_MESSAGE(r.status == Status::memory_limit, code, " -> ", to_string(r.status), " ", r.error);
    }
    // A memory error caught by the script leaves the member to a later read (it is not lost).
    const ScriptResult caught = runner.run(
        "local ok = pcall(function() return input.tasks.huge.output end) "
        "return {ok, input.tasks.huge.status, input.tasks.huge.output ~= nil or 'gone'}",
        in, l);
    CHECK(caught.status == Status::memory_limit);  // the second read fails again
    // Returned unread: the output size limit applies (4 MiB by default).
    const ScriptResult out = runner.run("return input", in, l);
    CHECK(out.status == Status::bad_output);
    CHECK(out.error.find("larger than the limit") != std::string::npos);
    // The state still works normally afterwards.
    CHECK(runner.run("return input.tasks.s0.output.n", in, l).output == 0);
}

TEST_CASE_TEMPLATE("sandbox: lazy input, output errors are those of the eager conversion", Mode, InProcess, InWorker) {
    const auto executor = Mode::make(1);
    ScriptExecutor& runner = *executor;
    json::value in = engine_input(1);
    in.as_object()["trigger"].as_object()["headers"].as_object()["x-bin"] = json::string("\xff\xfe");
    // Unread, read, everything read: the same bad_output, with the same path.
    for (const std::string& pre : {std::string(), std::string("local _ = input.trigger.headers "), std::string(kTouchAll)}) {
        const ScriptResult r = runner.run(pre + " return input", in, ScriptLimits{});
        CHECK(r.status == Status::bad_output);
        CHECK_MESSAGE(r.error == "output.trigger.headers[\"x-bin\"]: a string that is not valid UTF-8 cannot be converted to JSON",
                      r.error);
    }
    json::value bad_key = engine_input(1);
    bad_key.as_object()["run"].as_object()["\xc3"] = 1;
    for (const std::string& pre : {std::string(), std::string(kTouchAll)}) {
        const ScriptResult r = runner.run(pre + " return input.run", bad_key, ScriptLimits{});
        CHECK(r.status == Status::bad_output);
        CHECK_MESSAGE(r.error == "output[\"?\"]: a key that is not valid UTF-8 cannot be converted to JSON", r.error);
    }
    // Nested deeper than the output allows: the same error either way.
    json::value deep = json::array{};
    for (int i = 0; i < 120; ++i) deep = json::array{std::move(deep)};
    json::value deep_in = json::object{{"tasks", json::object{{"d", json::object{{"output", deep}}}}}};
    const ScriptResult a = runner.run("return input", deep_in, ScriptLimits{});
    const ScriptResult b = runner.run(std::string(kTouchAll) + " return input", deep_in, ScriptLimits{});
    CHECK(a.status == Status::bad_output);
    CHECK(a.error.find("nested deeper than 100 levels") != std::string::npos);
    CHECK(a.error == b.error);
    // Non-finite doubles built by a caller (not parsed) fail as before.
    json::value nan_in = json::object{{"run", json::object{{"x", std::numeric_limits<double>::infinity()}}}};
    CHECK(runner.run("return input", nan_in, ScriptLimits{}).error == "output.run.x: infinity is not a JSON number");
    CHECK(runner.run("local _ = input.run.x return input", nan_in, ScriptLimits{}).error ==
          "output.run.x: infinity is not a JSON number");
    // The output size limit counts unread members like read ones.
    ScriptLimits tiny;
    const json::value small = json::object{{"tasks", json::object{{"a", json::object{{"output", "0123456789"}}}}}};
    const std::size_t size = json::serialize(small).size();
    tiny.max_output_bytes = size;
    CHECK(runner.run("return input", small, tiny).ok());
    CHECK(runner.run(std::string(kTouchAll) + " return input", small, tiny).ok());
    tiny.max_output_bytes = size - 1;
    CHECK(runner.run("return input", small, tiny).status == Status::bad_output);
    CHECK(runner.run(std::string(kTouchAll) + " return input", small, tiny).status == Status::bad_output);
}
