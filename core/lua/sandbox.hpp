#pragma once
// The `script` task's sandbox: Lua 5.4, JSON in (global `input`), JSON out (the chunk's return
// value). No io, os, package, require, load, loadstring, dofile, loadfile, debug, collectgarbage,
// string.dump, coroutine-based escapes of the limits. Limits per call: an instruction budget
// (count hook), CPU time and wall time (checked in the hook and in every budget-aware C
// function), and memory (allocator cap). Lua's pattern functions (string.find/match/gmatch/gsub),
// string.rep and table.move are replaced by budget-aware versions (sandbox/budgeted.cpp),
// because Lua's count hook never fires inside a C function. Measured in bench/lua_sandbox_bench
// (design C'); the decision and figures are in docs/architecture.md.
//
// What a script sees (lua_sandbox.cpp):
//  - globals: assert, error, ipairs, next, pairs, select, tonumber, tostring, type, rawequal,
//    rawlen, rawget, rawset, getmetatable, setmetatable (no __gc), pcall, xpcall, _VERSION, _G
//    (the call's own environment), and read-only string, table, math, utf8 and coroutine
//    libraries. No print. `input`, `null` and `array` (below).
//  - JSON -> Lua: objects are tables with string keys, arrays are sequences, null is the light
//    userdata `null` (so `input.x == null` when the JSON had "x": null, and `input.x == nil` when
//    it had no "x"); integers are Lua integers (beyond 2^63-1: floats), other numbers floats.
//  - Lua -> JSON (the first value the chunk returns; nothing or nil -> null): a table whose keys
//    are exactly 1..n is an array; an empty table is {} unless it came from a JSON array or went
//    through array(t) (then []); any other table needs string keys only and becomes an object,
//    its members sorted by key. Non-string keys of a non-sequence, functions, coroutines, NaN,
//    infinities, strings that are not UTF-8, cycles, and nesting beyond 100 levels give
//    bad_output, with the path (e.g. "output.items[2].f: a function value ...").
//  - `input` is converted lazily: when it is an object, `input`, its object members (input.trigger,
//    input.tasks, input.run, ...) and each input.tasks.<id> are tables filled member by member on
//    first read (deeper values are converted whole when their parent member is read). A script sees
//    the same values as with a full conversion: reads, assignments (including `t.k = nil`, which
//    removes k), pairs, next, rawget and rawset all see the whole table, and returning any of these
//    tables gives its full JSON. What differs: these tables have a protected metatable
//    (getmetatable(t) == "json input"; setmetatable and array() on them fail), and an input
//    member that is never read is never converted, so it costs no time or memory (a member too
//    big for the memory limit fails only when read; returned unread, the output size limit
//    applies). Nothing of the input outlives the call.
//  - Every call gets a fresh environment: globals set by one call are not seen by the next;
//    math.randomseed affects only the call that makes it.
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace arclight::lua {

/// Per call. 0 (or a negative number) means no limit.
struct ScriptLimits {
    std::int64_t max_instructions = 50'000'000;  ///< Lua VM instructions per call (plus C-function steps)
    int cpu_ms = 1000;                          ///< CPU time of the calling thread
    int wall_ms = 2000;                         ///< wall-clock time
    std::size_t memory_bytes = 32u << 20;       ///< Lua heap (allocator cap), per state: what the call may
                                                ///< add to its state's idle heap (libraries, cached chunks)
    std::size_t max_output_bytes = 4u << 20;    ///< serialized JSON of the result
};

struct ScriptResult {
    enum class Status { ok, syntax_error, runtime_error, instruction_limit, cpu_limit, wall_limit, memory_limit, bad_output };
    Status status = Status::ok;
    boost::json::value output;   ///< the returned value (null when nothing is returned)
    std::string error;           ///< message for the user when status != ok (no internal paths)
    bool ok() const noexcept { return status == Status::ok; }
};
const char* to_string(ScriptResult::Status);

/// One script of a batch: `input` must outlive the call.
struct ScriptJob {
    std::string_view code;
    const boost::json::value* input = nullptr;
    ScriptLimits limits;
};

/// Where script tasks run: in this process (ScriptRunner, below) or in sandboxed worker processes
/// (the process isolation mode). Implementations are thread-safe and never throw for anything a
/// script does.
class ScriptExecutor {
public:
    virtual ~ScriptExecutor() = default;
    /// Runs `code` with global `input` = input.
    virtual ScriptResult run(std::string_view code, const boost::json::value& input, const ScriptLimits& limits) = 0;
    /// Independent scripts (one run's ready script tasks), results in the jobs' order. A worker
    /// process answers a batch in one round trip; in process, the scripts simply run in turn.
    virtual std::vector<ScriptResult> run_batch(std::span<const ScriptJob> jobs);
    /// Compiles without running: empty when fine, else the syntax error message (for validation).
    virtual std::string check_syntax(std::string_view code) = 0;
};

/// Pooled sandboxed states; thread-safe. A state is reused across calls (a fresh environment
/// table per call, so nothing leaks from one call to the next) and discarded after any limit error.
/// Compiled chunks are cached per state by the source text.
class ScriptRunner final : public ScriptExecutor {
public:
    explicit ScriptRunner(std::size_t max_idle_states = 8);
    ~ScriptRunner();
    ScriptRunner(const ScriptRunner&) = delete;
    ScriptRunner& operator=(const ScriptRunner&) = delete;
    /// Runs `code` with global `input` = input. Never throws for anything the script does.
    ScriptResult run(std::string_view code, const boost::json::value& input, const ScriptLimits& limits) override;
    /// Compiles without running: empty when fine, else the syntax error message (for validation).
    std::string check_syntax(std::string_view code) override;
private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace arclight::lua
