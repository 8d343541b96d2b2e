#pragma once
// JSON -> Lua as the sandbox converts it, for the sandbox and the bench's comparison designs.
#include <boost/json/value.hpp>

struct lua_State;

namespace arclight::lua {

/// Pushes `v` onto L's stack, in protected mode (raises a Lua error on memory exhaustion or when
/// nested deeper than `max_depth`). Objects become tables with string keys; arrays become
/// sequences whose metatable is the registry value at light-userdata key `array_meta_key` (so an
/// empty array stays an array on the way back); null becomes the NULL light userdata.
void push_json(lua_State* L, const boost::json::value& v, const void* array_meta_key, int max_depth, int depth = 0);

}  // namespace arclight::lua
