#include "core/lua/json.hpp"

#include <boost/json.hpp>
#include <lua.hpp>

#include <algorithm>
#include <climits>
#include <cstdint>

namespace arclight::lua {

namespace json = boost::json;

void push_json(lua_State* L, const json::value& v, const void* array_meta_key, int max_depth, int depth) {
    if (depth > max_depth) luaL_error(L, "input nested deeper than %d levels", max_depth);
    luaL_checkstack(L, 3, "input nested too deeply");
    switch (v.kind()) {
    case json::kind::null: lua_pushlightuserdata(L, nullptr); break;
    case json::kind::bool_: lua_pushboolean(L, v.get_bool() ? 1 : 0); break;
    case json::kind::int64: lua_pushinteger(L, v.get_int64()); break;
    case json::kind::uint64: {
        const std::uint64_t u = v.get_uint64();
        if (u <= static_cast<std::uint64_t>(LUA_MAXINTEGER))
            lua_pushinteger(L, static_cast<lua_Integer>(u));
        else
            lua_pushnumber(L, static_cast<lua_Number>(u));
        break;
    }
    case json::kind::double_: lua_pushnumber(L, v.get_double()); break;
    case json::kind::string: {
        const json::string& s = v.get_string();
        lua_pushlstring(L, s.data(), s.size());
        break;
    }
    case json::kind::array: {
        const json::array& a = v.get_array();
        lua_createtable(L, static_cast<int>(std::min<std::size_t>(a.size(), INT_MAX)), 0);
        lua_Integer i = 0;
        for (const json::value& e : a) {
            push_json(L, e, array_meta_key, max_depth, depth + 1);
            lua_rawseti(L, -2, ++i);
        }
        lua_rawgetp(L, LUA_REGISTRYINDEX, array_meta_key);
        lua_setmetatable(L, -2);
        break;
    }
    case json::kind::object: {
        const json::object& o = v.get_object();
        lua_createtable(L, 0, static_cast<int>(std::min<std::size_t>(o.size(), INT_MAX)));
        for (const json::key_value_pair& kv : o) {
            lua_pushlstring(L, kv.key().data(), kv.key().size());
            push_json(L, kv.value(), array_meta_key, max_depth, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    }
    }
}

}  // namespace arclight::lua
