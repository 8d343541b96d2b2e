#pragma once
// Budget-aware replacements for the Lua 5.4 C functions that can run unbounded without executing
// a single Lua instruction, so without ever reaching the count hook: string.find/match/gmatch/gsub
// (a pattern matcher with a step counter, and glibc's linear memmem for plain finds), string.rep
// and table.move. Written from the Lua 5.4 reference manual (§6.4.1 patterns, §6.4, §6.6); every
// step is charged to the owner of the lua_State through a Meter, which raises the limit error.
// bench/lua_sandbox_bench --selftest compares them with Lua's own on random inputs.
//
// Used by the `script` task's sandbox (lua_sandbox.cpp) and by bench/lua_sandbox_bench.cpp.
#include <cstdint>

struct lua_State;

namespace arclight::lua::budgeted {

/// What the budgeted functions charge their work to: one unit per matcher step, per 64 bytes
/// copied or scanned, per table.move element (the same unit as one VM instruction).
class Meter {
public:
    /// Adds `units` to the current call's budget. Raises a Lua error (a longjmp: it does not
    /// return) once the call is over a limit; may also check the clocks.
    virtual void charge(lua_State* L, std::uint64_t units) = 0;

protected:
    ~Meter() = default;
};

/// The Meter of a state lives in the state's extra space (lua_getextraspace), which coroutine
/// threads inherit. The owner sets it before installing the functions.
void set_meter(lua_State* L, Meter* meter);
Meter* meter(lua_State* L);

/// Replaces find, match, gmatch, gsub and rep in the string library table at `string_lib` and
/// move in the table library table at `table_lib` (stack indices). keep_builtins (for the bench's
/// self-test only): Lua's versions stay reachable as builtin_find, ..., builtin_move.
void install(lua_State* L, int string_lib, int table_lib, bool keep_builtins = false);

}  // namespace arclight::lua::budgeted
