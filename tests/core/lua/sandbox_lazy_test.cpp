// GCC 12 at -O2 reports false -Warray-bounds / -Wstringop-overflow on std::string
// concatenation chains (a known GCC 12 issue); this test builds many such strings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
// The sandbox's lazy input (split from sandbox_test.cpp), in both isolation modes.
#include "tests/core/lua/sandbox_modes.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <limits>
#include <memory>
#include <string>
#include <vector>

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
