#pragma once
// The `script` task's sandbox: Lua 5.4, JSON in (global `input`), JSON out (the chunk's return
// value). No io, os, package, require, load, loadstring, dofile, loadfile, debug, collectgarbage,
// string.dump, coroutine-based escapes of the limits. Limits per call: an instruction budget
// (count hook), CPU time and wall time (checked in the hook and in every budget-aware C
// function), and memory (allocator cap). Lua's pattern functions (string.find/match/gmatch/gsub),
// string.rep and table.move are replaced by budget-aware versions (sandbox/budgeted.cpp),
// because Lua's count hook never fires inside a C function. Measured in bench/lua_sandbox_bench
// (design C'); the decision and figures are in docs/architecture.md.
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace arclight::workflow::sandbox {

struct ScriptLimits {
    std::int64_t max_instructions = 50'000'000;  ///< Lua VM instructions per call (plus C-function steps)
    int cpu_ms = 1000;                          ///< CPU time of the calling thread
    int wall_ms = 2000;                         ///< wall-clock time
    std::size_t memory_bytes = 32u << 20;       ///< Lua heap (allocator cap), per state
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

/// Pooled sandboxed states; thread-safe. A state is reused across calls (a fresh environment
/// table per call, so nothing leaks from one call to the next) and discarded after any limit error.
/// Compiled chunks are cached per state by the source text.
class ScriptRunner {
public:
    explicit ScriptRunner(std::size_t max_idle_states = 8);
    ~ScriptRunner();
    ScriptRunner(const ScriptRunner&) = delete;
    ScriptRunner& operator=(const ScriptRunner&) = delete;
    /// Runs `code` with global `input` = input. Never throws for anything the script does.
    ScriptResult run(std::string_view code, const boost::json::value& input, const ScriptLimits& limits);
    /// Compiles without running: empty when fine, else the syntax error message (for validation).
    std::string check_syntax(std::string_view code);
private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace arclight::workflow::sandbox
