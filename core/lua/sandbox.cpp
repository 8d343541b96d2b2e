// The `script` task's Lua 5.4 sandbox (design C' of bench/lua_sandbox_bench.cpp): pooled, reused
// lua_States, a fresh environment table per call, an allocator cap, a count + call hook that
// charges the instruction budget and checks the clocks, the budget-aware C functions of
// budgeted.cpp, and an `input` converted lazily (see "Lazy input" below). See lua_sandbox.hpp for
// the interface.
//
// Lua errors are longjmps (liblua5.4 is C). Every function Lua calls (protected_call, the
// wrappers, the hook) keeps only trivially destructible objects in its frame, so an error never
// skips a destructor; C++ exceptions are thrown only by the output conversion, which runs outside
// any Lua call and uses only API functions that cannot raise.
#include "core/lua/sandbox.hpp"

#include "core/lua/budgeted.hpp"
#include "core/lua/json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <lua.hpp>

#include <time.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace arclight::lua {

namespace json = boost::json;

const char* to_string(ScriptResult::Status s) {
    using S = ScriptResult::Status;
    switch (s) {
    case S::ok: return "ok";
    case S::syntax_error: return "syntax_error";
    case S::runtime_error: return "runtime_error";
    case S::instruction_limit: return "instruction_limit";
    case S::cpu_limit: return "cpu_limit";
    case S::wall_limit: return "wall_limit";
    case S::memory_limit: return "memory_limit";
    case S::bad_output: return "bad_output";
    }
    return "unknown";
}

namespace {

using Status = ScriptResult::Status;

// ------------------------------------------------------------------------------------------------
// Constants
// ------------------------------------------------------------------------------------------------

constexpr int kHookEvery = 1000;                         // count hook period, in VM instructions
constexpr int kHookEveryBigHeap = 100;                   // ... once the call holds kBigHeap or more
constexpr std::size_t kBigHeap = 4u << 20;
constexpr std::size_t kBigAllocation = 1u << 20;         // the hook runs right after one of these
constexpr int kHookMask = LUA_MASKCOUNT | LUA_MASKCALL;  // call events look at the clocks
constexpr std::size_t kMaxCachedChunks = 64;             // compiled chunks kept per state
constexpr std::size_t kMaxCachedSource = 1u << 20;       // and their total source bytes
constexpr int kMaxInputDepth = 200;
constexpr int kMaxOutputDepth = 100;
constexpr std::size_t kMaxErrorBytes = 2000;             // user-visible error messages are cut here
constexpr std::int64_t kCpuFirstReadNs = 1'000'000;      // calls shorter than this never read the CPU clock
constexpr std::int64_t kCpuMinIntervalNs = 50'000;
constexpr std::size_t kCollectAfterGrowth = 1u << 20;    // full GC after a call that left this much garbage
constexpr const char* kChunkName = "=script";            // error messages say "script:LINE: ..."

// Registry keys (their addresses are the keys).
char kEnvMetaKey;
char kArrayMetaKey;
char kRandomSeedKey;
char kLazyMetaKey;  // the metatable shared by the lazy input tables
char kLazyMapKey;   // during a call: lazy table -> its LazySource; false between calls

// ------------------------------------------------------------------------------------------------
// Clocks
// ------------------------------------------------------------------------------------------------

std::int64_t clock_ns(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
std::int64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }          // vDSO: ~25 ns
std::int64_t thread_cpu_ns() { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }  // a syscall: ~0.6 µs

// ------------------------------------------------------------------------------------------------
// User-visible text
// ------------------------------------------------------------------------------------------------

// Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one.
std::size_t utf8_sequence(const unsigned char* s, std::size_t n) {
    const unsigned c = s[0];
    if (c < 0x80) return 1;
    std::size_t len = 0;
    unsigned min = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    unsigned cp = c & (0x7F >> len);
    for (std::size_t i = 1; i < len; ++i) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

// Length of `s` serialized as a JSON string (quotes and escapes included), or SIZE_MAX when it is
// not valid UTF-8.
std::size_t json_string_length(const char* data, std::size_t n) {
    const auto* s = reinterpret_cast<const unsigned char*>(data);
    std::size_t out = n + 2;
    for (std::size_t i = 0; i < n;) {
        const unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80) {
            if (c == '"' || c == '\\') ++out;
            ++i;
            continue;
        }
        if (c < 0x20) {
            out += (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') ? 1 : 5;
            ++i;
            continue;
        }
        const std::size_t len = utf8_sequence(s + i, n - i);
        if (len == 0) return SIZE_MAX;
        i += len;
    }
    return out;
}

// An error message for the user: valid UTF-8 (invalid bytes become '?') and at most
// kMaxErrorBytes (cut on a character boundary, with "...").
std::string user_text(std::string_view in) {
    std::string out;
    out.reserve(std::min(in.size(), kMaxErrorBytes + 3));
    const auto* s = reinterpret_cast<const unsigned char*>(in.data());
    for (std::size_t i = 0; i < in.size();) {
        std::size_t len = utf8_sequence(s + i, in.size() - i);
        if (out.size() + std::max<std::size_t>(len, 1) > kMaxErrorBytes) {
            out += "...";
            break;
        }
        if (len == 0) {
            out += '?';
            len = 1;
        } else {
            out.append(in.data() + i, len);
        }
        i += len;
    }
    return out;
}

std::string describe_bytes(std::size_t n) {
    if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
    if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
    return std::to_string(n) + " bytes";
}

// ------------------------------------------------------------------------------------------------
// JSON -> Lua, in protected mode (raises memory errors). Objects become tables with string keys,
// arrays sequences marked with kArrayMetaKey (so [] stays []), null the NULL light userdata that
// the global `null` also holds.
// ------------------------------------------------------------------------------------------------

void push_json(lua_State* L, const json::value& v, int depth) { lua::push_json(L, v, &kArrayMetaKey, kMaxInputDepth, depth); }

// ------------------------------------------------------------------------------------------------
// Lazy input. Converting the whole input on every call was most of the cost of a typical script
// (the engine's input holds the trigger and every earlier task's output; a script reads a little
// of it). So `input`, its object members (input.trigger, input.tasks, ...) and input.tasks.<id>
// start as empty tables that share one protected metatable (kLazyMetaKey); a read of a member
// they do not hold yet converts that member (push_json, or lazily again for the levels above),
// stores it with rawset and returns it, so the next read is a plain table read.
//
// A lazy table's source is a LazySource, a full userdata (in the Lua heap, so under the call's
// memory cap) holding a pointer to the boost::json::object and one flag per member: "done" once
// the member has been materialized, assigned or removed by the script, after which the JSON never
// speaks for that key again (so `t.k = nil` removes k even when it was never read). The userdata
// is reachable only through the per-call map in the registry (kLazyMapKey: lazy table ->
// userdata), which ScriptRunner replaces with `false` when the call ends, whatever its outcome:
// after that no pointer into the caller's JSON is reachable from Lua, and a lazy table that
// somehow survived would find no source (reads of missing members give nil).
//
// Everything that looks at a table other than a plain key read sees the whole of it: pairs (the
// __pairs of the metatable; the sandbox's pairs honours __pairs like Lua's), next and rawget (the
// sandbox's versions materialize first), rawset (marks the key done). The output conversion reads
// the members not yet materialized straight from the JSON (OutputConverter::convert_json), with
// the result an eager conversion would have given. # and rawlen are 0 as for any object.
// ------------------------------------------------------------------------------------------------

enum class LazyRole : unsigned char {
    root,   // `input`: its object members are lazy ("tasks": role tasks, the others leaf)
    tasks,  // input.tasks: its object members are lazy leaves
    leaf,   // its members are converted eagerly
};

struct LazySource {
    const json::object* object;
    std::size_t remaining;  // members not done yet
    int depth;              // of the table: `input` is 0 (push_json's depth for its members is depth + 1)
    LazyRole role;
    // One flag per member of *object (in its order), after the struct: set once the member has
    // been materialized, assigned or removed.
    unsigned char* done() { return reinterpret_cast<unsigned char*>(this + 1); }
    const unsigned char* done() const { return reinterpret_cast<const unsigned char*>(this + 1); }
};
static_assert(std::is_trivially_destructible_v<LazySource>);

constexpr std::size_t kNoMember = SIZE_MAX;
constexpr int kLazyPresize = 4;  // hash slots a new lazy table starts with (at most)

// The source of the table at idx (an absolute index), or nullptr when it is not a lazy table of
// the current call. Uses 3 stack slots; never raises.
LazySource* lazy_source(lua_State* L, int idx) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kLazyMapKey) != LUA_TTABLE) {
        lua_pop(L, 1);
        return nullptr;
    }
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    auto* src = static_cast<LazySource*>(lua_touserdata(L, -1));
    lua_pop(L, 2);
    return src;
}

bool has_lazy_metatable(lua_State* L, int idx) {
    if (!lua_getmetatable(L, idx)) return false;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kLazyMetaKey);
    const bool lazy = lua_rawequal(L, -1, -2) != 0;
    lua_pop(L, 2);
    return lazy;
}

// The source of the table at idx (absolute) when it is a lazy table with members not done yet.
LazySource* pending_source(lua_State* L, int idx) {
    if (!has_lazy_metatable(L, idx)) return nullptr;
    LazySource* src = lazy_source(L, idx);
    return src != nullptr && src->remaining > 0 ? src : nullptr;
}

// The position of the member named by the value at k (absolute) when it is a string naming a
// member that is not done yet; kNoMember otherwise.
std::size_t pending_member(lua_State* L, const LazySource& src, int k) {
    if (src.remaining == 0 || lua_type(L, k) != LUA_TSTRING) return kNoMember;
    std::size_t n = 0;
    const char* s = lua_tolstring(L, k, &n);  // a string already: no conversion
    const auto it = src.object->find(json::string_view(s, n));
    if (it == src.object->end()) return kNoMember;
    const auto i = static_cast<std::size_t>(it - src.object->begin());
    return src.done()[i] ? kNoMember : i;
}

void mark_done(LazySource& src, std::size_t i) {
    src.done()[i] = 1;
    --src.remaining;
}

// Pushes a new lazy table for `o` (registered in the call's map).
void push_lazy(lua_State* L, const json::object& o, int depth, LazyRole role) {
    luaL_checkstack(L, 4, "input nested too deeply");
    lua_createtable(L, 0, static_cast<int>(std::min<std::size_t>(o.size(), kLazyPresize)));
    const int t = lua_gettop(L);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kLazyMapKey) != LUA_TTABLE) luaL_error(L, "lazy input outside a call");
    lua_pushvalue(L, t);
    auto* src = static_cast<LazySource*>(lua_newuserdatauv(L, sizeof(LazySource) + o.size(), 0));
    src->object = &o;
    src->remaining = o.size();
    src->depth = depth;
    src->role = role;
    if (!o.empty()) std::memset(src->done(), 0, o.size());
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kLazyMetaKey);
    lua_setmetatable(L, t);
}

// Materializes member i of the lazy table at t (absolute), whose key is the string at k (absolute;
// 0: push it from the JSON), and leaves the value on the stack. The member is marked done only
// once it is in the table, so a memory error on the way leaves it to a later read.
void materialize(lua_State* L, int t, LazySource& src, std::size_t i, int k) {
    luaL_checkstack(L, 3, "input nested too deeply");
    const json::key_value_pair& kv = src.object->begin()[i];
    const json::value& v = kv.value();
    if (src.role != LazyRole::leaf && v.is_object()) {
        const bool tasks = src.role == LazyRole::root && kv.key() == "tasks";
        push_lazy(L, v.get_object(), src.depth + 1, tasks ? LazyRole::tasks : LazyRole::leaf);
    } else {
        push_json(L, v, src.depth + 1);
    }
    if (k != 0)
        lua_pushvalue(L, k);
    else
        lua_pushlstring(L, kv.key().data(), kv.key().size());
    lua_pushvalue(L, -2);
    lua_rawset(L, t);
    mark_done(src, i);
}

void materialize_all(lua_State* L, int t, LazySource& src) {
    const std::size_t n = src.object->size();
    for (std::size_t i = 0; i < n && src.remaining > 0; ++i) {
        if (src.done()[i]) continue;
        materialize(L, t, src, i, 0);
        lua_pop(L, 1);
    }
}

// __index (t, k): only called for a key t does not hold.
int lazy_index(lua_State* L) {
    LazySource* src = lazy_source(L, 1);
    if (src == nullptr) return 0;
    const std::size_t i = pending_member(L, *src, 2);
    if (i == kNoMember) return 0;  // not in the JSON, or removed by the script
    materialize(L, 1, *src, i, 2);
    return 1;
}

// __newindex (t, k, v): only called for a key t does not hold. From now on the JSON has no say
// on k (v may be nil: k is removed).
int lazy_newindex(lua_State* L) {
    const int kt = lua_type(L, 2);
    if (kt == LUA_TNIL || (kt == LUA_TNUMBER && std::isnan(lua_tonumber(L, 2))))  // with the script's line, as Lua says it
        return luaL_error(L, kt == LUA_TNIL ? "table index is nil" : "table index is NaN");
    LazySource* src = lazy_source(L, 1);
    const std::size_t i = src != nullptr ? pending_member(L, *src, 2) : kNoMember;
    lua_settop(L, 3);
    lua_rawset(L, 1);
    if (i != kNoMember) mark_done(*src, i);
    return 0;
}

// next: Lua's, on the whole table.
int sandbox_next(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (LazySource* src = pending_source(L, 1)) materialize_all(L, 1, *src);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

// __pairs: the whole table, then Lua's next.
int lazy_pairs(lua_State* L) {
    lua_settop(L, 1);
    if (LazySource* src = lazy_source(L, 1)) materialize_all(L, 1, *src);
    lua_pushcfunction(L, &sandbox_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

// pairs as in lbaselib.c, but its iterator is the sandbox's next (Lua's would hand scripts a
// next that does not see the members of a lazy table not read yet).
int pairs_continue(lua_State*, int, lua_KContext) { return 3; }
int sandbox_pairs(lua_State* L) {
    luaL_checkany(L, 1);
    if (luaL_getmetafield(L, 1, "__pairs") == LUA_TNIL) {
        lua_pushcfunction(L, &sandbox_next);
        lua_pushvalue(L, 1);
        lua_pushnil(L);
    } else {
        lua_pushvalue(L, 1);
        lua_callk(L, 1, 3, 0, &pairs_continue);
    }
    return 3;
}

// rawget: a member of a lazy table not read yet is materialized first.
int sandbox_rawget(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    if (LazySource* src = pending_source(L, 1)) {
        const std::size_t i = pending_member(L, *src, 2);
        if (i != kNoMember) {
            materialize(L, 1, *src, i, 2);
            return 1;
        }
    }
    lua_rawget(L, 1);
    return 1;
}

// Builds the protected metatable of the lazy tables (in setup).
void register_lazy_metatable(lua_State* L) {
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, &lazy_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, &lazy_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, &lazy_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushliteral(L, "json input");
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kLazyMetaKey);
    lua_pushboolean(L, 0);  // the map's slot exists from now on: setting it never allocates
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kLazyMapKey);
}

// Ends the laziness of the call: the map (and through it every pointer into the input) is gone.
// Never raises (the registry slot exists).
void forget_lazy_input(lua_State* L) {
    lua_pushboolean(L, 0);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kLazyMapKey);
}

// The global `input`: lazy when it is an object (this starts the call's map).
void push_input(lua_State* L, const json::value& input) {
    if (!input.is_object()) return push_json(L, input, 0);
    lua_createtable(L, 0, 8);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kLazyMapKey);
    push_lazy(L, input.get_object(), 0, LazyRole::root);
}

// ------------------------------------------------------------------------------------------------
// Lua -> JSON, outside protected mode: only API calls that cannot raise (no in-place string
// conversion, lua_checkstack rather than luaL_checkstack, no metamethods). Strict: a table is an
// array when its keys are exactly 1..n, or when it is empty and marked as an array; otherwise all
// its keys must be strings. Object members are sorted by key, so the output does not depend on
// Lua's (per-state seeded) hash order. The serialized size is counted as it goes, so a small Lua
// value that is huge as JSON (t = {t, t} forty times) stops early.
// ------------------------------------------------------------------------------------------------

struct BadOutput : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class OutputConverter {
public:
    struct PathPart {
        const char* key;  // nullptr: an array index
        std::size_t key_len;
        lua_Integer index;
    };
    struct Member {
        std::string_view key;
        json::value value;
    };
    // Working memory, kept by the state from one call to the next (no allocation per call). The
    // vectors are stacks: a nested table pushes above its parent and pops before returning.
    struct Scratch {
        std::vector<const void*> tables;  // the tables on the current path (cycle detection)
        std::vector<PathPart> path;
        std::vector<Member> members;      // the object members converted so far
        std::vector<std::uint32_t> order; // their order by key
    };

    OutputConverter(lua_State* L, std::size_t max_bytes, Scratch& scratch)
        : L_(L), max_bytes_(max_bytes ? max_bytes : SIZE_MAX), tables_(scratch.tables), path_(scratch.path),
          members_(scratch.members), order_(scratch.order) {
        tables_.clear();
        path_.clear();
        members_.clear();
        order_.clear();
    }

    json::value convert(int idx, int depth) {
        idx = lua_absindex(L_, idx);
        switch (lua_type(L_, idx)) {
        case LUA_TNIL: return null_value();
        case LUA_TBOOLEAN: return boolean(lua_toboolean(L_, idx) != 0);
        case LUA_TNUMBER:
            if (lua_isinteger(L_, idx)) return integer(static_cast<std::int64_t>(lua_tointeger(L_, idx)));
            return number(lua_tonumber(L_, idx));
        case LUA_TSTRING: {
            std::size_t n = 0;
            const char* s = lua_tolstring(L_, idx, &n);
            return string(s, n);
        }
        case LUA_TLIGHTUSERDATA:
            if (lua_touserdata(L_, idx) == nullptr) return null_value();  // the global `null`
            fail("a userdata value cannot be converted to JSON");
        case LUA_TTABLE: return convert_table(idx, depth);
        default: fail(std::string("a ") + lua_typename(L_, lua_type(L_, idx)) + " value cannot be converted to JSON");
        }
    }

private:
    // The scalars, shared by convert and convert_json.
    json::value null_value() {
        add_bytes(4);
        return nullptr;
    }
    json::value boolean(bool b) {
        add_bytes(b ? 4 : 5);
        return json::value(b);
    }
    json::value integer(std::int64_t i) {
        char buf[64];
        add_bytes(static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, i).ptr - buf));
        return json::value(i);
    }
    json::value number(double d) {
        char buf[64];
        if (!std::isfinite(d)) fail(std::isnan(d) ? "NaN is not a JSON number" : "infinity is not a JSON number");
        add_bytes(static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, d).ptr - buf));
        return json::value(d);
    }
    json::value string(const char* s, std::size_t n) {
        const std::size_t len = json_string_length(s, n);
        if (len == SIZE_MAX) fail("a string that is not valid UTF-8 cannot be converted to JSON");
        add_bytes(len);
        return json::value(json::string_view(s, n));
    }

    // A member of an object (the key is on path_ already): the key's bytes, and the key must be UTF-8.
    void add_key(const char* k, std::size_t kn) {
        const std::size_t klen = json_string_length(k, kn);
        if (klen == SIZE_MAX) fail("a key that is not valid UTF-8 cannot be converted to JSON");
        add_bytes(klen + 1);  // and the colon
    }

    // The object made of members_[first..], sorted by key; pops them.
    json::value finish_object(std::size_t first) {
        json::value result;
        const std::size_t order_first = order_.size();
        for (std::size_t i = first; i < members_.size(); ++i) order_.push_back(static_cast<std::uint32_t>(i));
        std::sort(order_.begin() + static_cast<std::ptrdiff_t>(order_first), order_.end(),
                  [this](std::uint32_t a, std::uint32_t b) { return members_[a].key < members_[b].key; });
        json::object& obj = result.emplace_object();
        obj.reserve(members_.size() - first);
        for (std::size_t i = order_first; i < order_.size(); ++i) {
            Member& m = members_[order_[i]];
            obj.emplace(m.key, std::move(m.value));
        }
        order_.resize(order_first);
        members_.resize(first);
        return result;
    }

    // A member of a lazy table that the script never materialized, straight from the JSON: the
    // same result (and the same errors) as push_json followed by convert, without the detour.
    json::value convert_json(const json::value& v, int depth) {
        switch (v.kind()) {
        case json::kind::null: return null_value();
        case json::kind::bool_: return boolean(v.get_bool());
        case json::kind::int64: return integer(v.get_int64());
        case json::kind::uint64: {
            const std::uint64_t u = v.get_uint64();
            if (u <= static_cast<std::uint64_t>(LUA_MAXINTEGER)) return integer(static_cast<std::int64_t>(u));
            return number(static_cast<double>(static_cast<lua_Number>(u)));
        }
        case json::kind::double_: return number(v.get_double());
        case json::kind::string: return string(v.get_string().data(), v.get_string().size());
        case json::kind::array: {
            if (depth >= kMaxOutputDepth) fail("nested deeper than " + std::to_string(kMaxOutputDepth) + " levels");
            const json::array& a = v.get_array();
            json::value result;
            json::array& arr = result.emplace_array();
            if (a.empty()) {
                add_bytes(2);
                return result;
            }
            add_bytes(2 + a.size() - 1);  // brackets and commas
            arr.reserve(a.size());
            lua_Integer i = 0;
            for (const json::value& e : a) {
                path_.push_back({nullptr, 0, ++i});
                arr.push_back(convert_json(e, depth + 1));
                path_.pop_back();
            }
            return result;
        }
        case json::kind::object: {
            if (depth >= kMaxOutputDepth) fail("nested deeper than " + std::to_string(kMaxOutputDepth) + " levels");
            const json::object& o = v.get_object();
            if (o.empty()) {
                add_bytes(2);
                return json::object();
            }
            add_bytes(2 + o.size() - 1);  // braces and commas
            const std::size_t first = members_.size();
            for (const json::key_value_pair& kv : o) convert_json_member(kv, depth);
            return finish_object(first);
        }
        }
        return nullptr;
    }

    // Converts a member of a JSON object at `depth` onto members_.
    void convert_json_member(const json::key_value_pair& kv, int depth) {
        const json::string_view k = kv.key();
        path_.push_back({k.data(), k.size(), 0});
        add_key(k.data(), k.size());
        json::value v = convert_json(kv.value(), depth + 1);
        members_.push_back({std::string_view(k.data(), k.size()), std::move(v)});
        path_.pop_back();
    }

    void add_bytes(std::size_t n) {
        bytes_ += n;
        if (bytes_ > max_bytes_)
            throw BadOutput("output: larger than the limit of " + describe_bytes(max_bytes_) + " as JSON");
    }

    std::string path() const {
        std::string p = "output";
        for (const PathPart& part : path_) {
            if (part.key == nullptr) {
                p += '[' + std::to_string(part.index) + ']';
                continue;
            }
            const std::string_view k(part.key, std::min<std::size_t>(part.key_len, 60));
            bool ident = !k.empty() && !std::isdigit(static_cast<unsigned char>(k[0]));
            for (char c : k) ident = ident && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
            if (ident && part.key_len == k.size()) {
                p += '.';
                p += k;
            } else {
                p += "[\"" + user_text(k) + (part.key_len > k.size() ? "...\"]" : "\"]");
            }
        }
        return p;
    }

    [[noreturn]] void fail(const std::string& what) const { throw BadOutput(path() + ": " + what); }

    json::value convert_table(int idx, int depth) {
        const void* self = lua_topointer(L_, idx);
        if (std::find(tables_.begin(), tables_.end(), self) != tables_.end())
            fail("a table that contains itself (a cycle) cannot be converted to JSON");
        if (depth >= kMaxOutputDepth) fail("nested deeper than " + std::to_string(kMaxOutputDepth) + " levels");
        if (!lua_checkstack(L_, 4)) fail("nested too deeply");
        tables_.push_back(self);

        bool marked_array = false;
        bool lazy_table = false;
        if (lua_getmetatable(L_, idx)) {
            lua_rawgetp(L_, LUA_REGISTRYINDEX, &kArrayMetaKey);
            marked_array = lua_rawequal(L_, -1, -2) != 0;
            lua_pop(L_, 1);
            lua_rawgetp(L_, LUA_REGISTRYINDEX, &kLazyMetaKey);
            lazy_table = lua_rawequal(L_, -1, -2) != 0;
            lua_pop(L_, 2);
        }
        // A lazy table is what it holds plus the members of its JSON still pending.
        const LazySource* lazy = lazy_table ? lazy_source(L_, idx) : nullptr;
        if (lazy != nullptr && lazy->remaining == 0) lazy = nullptr;
        const lua_Unsigned n = lua_rawlen(L_, idx);
        std::size_t count = lazy != nullptr ? lazy->remaining : 0;
        lua_pushnil(L_);
        while (lua_next(L_, idx) != 0) {
            ++count;
            lua_pop(L_, 1);
        }
        json::value result;
        if (count == 0) {
            add_bytes(2);
            if (marked_array)
                result.emplace_array();
            else
                result.emplace_object();
        } else if (count == n && sequence(idx, n)) {
            add_bytes(2 + static_cast<std::size_t>(n) - 1);  // brackets and commas
            json::array& arr = result.emplace_array();
            arr.reserve(static_cast<std::size_t>(n));
            for (lua_Unsigned i = 1; i <= n; ++i) {
                lua_rawgeti(L_, idx, static_cast<lua_Integer>(i));
                path_.push_back({nullptr, 0, static_cast<lua_Integer>(i)});
                arr.push_back(convert(-1, depth + 1));
                path_.pop_back();
                lua_pop(L_, 1);
            }
        } else {
            add_bytes(2 + count - 1);  // braces and commas
            const std::size_t first = members_.size();
            lua_pushnil(L_);
            while (lua_next(L_, idx) != 0) {
                if (lua_type(L_, -2) != LUA_TSTRING) non_string_key();
                std::size_t kn = 0;
                const char* k = lua_tolstring(L_, -2, &kn);  // a string already: no conversion
                path_.push_back({k, kn, 0});
                add_key(k, kn);
                json::value v = convert(-1, depth + 1);
                members_.push_back({std::string_view(k, kn), std::move(v)});
                path_.pop_back();
                lua_pop(L_, 1);
            }
            if (lazy != nullptr) {
                const std::size_t size = lazy->object->size();
                for (std::size_t i = 0; i < size; ++i)
                    if (!lazy->done()[i]) convert_json_member(lazy->object->begin()[i], depth);
            }
            result = finish_object(first);
        }
        tables_.pop_back();
        return result;
    }

    // Keys exactly 1..n, given that there are n keys and n is a border.
    bool sequence(int idx, lua_Unsigned n) {
        for (lua_Unsigned i = 1; i <= n; ++i) {
            const bool present = lua_rawgeti(L_, idx, static_cast<lua_Integer>(i)) != LUA_TNIL;
            lua_pop(L_, 1);
            if (!present) return false;
        }
        return true;
    }

    // The key at -2 is not a string (and the table is not a sequence).
    [[noreturn]] void non_string_key() const {
        std::string key;
        char buf[64];
        switch (lua_type(L_, -2)) {
        case LUA_TNUMBER:
            if (lua_isinteger(L_, -2))
                key = std::to_string(lua_tointeger(L_, -2));
            else
                key.assign(buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, lua_tonumber(L_, -2)).ptr - buf));
            break;
        case LUA_TBOOLEAN: key = lua_toboolean(L_, -2) ? "true" : "false"; break;
        default: key = std::string("a ") + lua_typename(L_, lua_type(L_, -2)); break;
        }
        fail("a table with a non-string key (" + key + ") that is not a sequence cannot be converted to JSON: a table "
             "becomes an array only when its keys are exactly 1..n with no holes, otherwise all its keys must be strings");
    }

    lua_State* L_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::vector<const void*>& tables_;
    std::vector<PathPart>& path_;
    std::vector<Member>& members_;
    std::vector<std::uint32_t>& order_;
};

// ------------------------------------------------------------------------------------------------
// One sandboxed lua_State
// ------------------------------------------------------------------------------------------------

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

enum class Trip { none, instructions, cpu, wall };

class State final : public budgeted::Meter {
public:
    // nullptr when Lua cannot even set up a state (out of memory).
    static std::unique_ptr<State> create() {
        std::unique_ptr<State> st(new State);
        st->L_ = lua_newstate(&State::allocate, st.get());
        if (st->L_ == nullptr) return nullptr;
        budgeted::set_meter(st->L_, st.get());
        lua_pushcfunction(st->L_, &State::setup);
        if (lua_pcall(st->L_, 0, 0, 0) != LUA_OK) return nullptr;
        lua_gc(st->L_, LUA_GCCOLLECT);
        st->base_ = st->used_;
        return st;
    }

    ~State() {
        if (L_ != nullptr) lua_close(L_);
    }
    State(const State&) = delete;
    State& operator=(const State&) = delete;

    // False once the state must not be reused (it hit a limit or a memory error).
    bool reusable() const { return reusable_; }

    ScriptResult run(std::string_view code, const json::value& input, const ScriptLimits& limits) {
        lua_State* L = L_;
        const int top = lua_gettop(L);
        begin_call(limits);
        CallFrame frame{code.data(), code.size(), LUA_NOREF, LUA_OK, 0, &input};
        const auto cached = cache_.find(code);
        if (cached != cache_.end()) {
            frame.ref = cached->second.ref;
            cached->second.last_use = ++use_clock_;
        }
        lua_sethook(L, &State::hook, kHookMask, kHookEvery);
        lua_pushcfunction(L, &State::protected_call);
        lua_pushlightuserdata(L, &frame);
        running_ = L;
        const int status = lua_pcall(L, 1, 1, 0);
        running_ = nullptr;
        lua_sethook(L, nullptr, 0, 0);
        cap_ = SIZE_MAX;
        // The output conversion still reads the lazy input. Right after it (and, should anything
        // throw before, when leaving), nothing in the state points into `input` any more.
        struct ForgetLazyInput {
            lua_State* L;
            ~ForgetLazyInput() { forget_lazy_input(L); }
        } forget{L};

        if (frame.ref != LUA_NOREF) {
            // The chunk's _ENV goes back to nil: the call's environment and input become garbage.
            lua_rawgeti(L, LUA_REGISTRYINDEX, frame.ref);
            lua_pushnil(L);
            lua_setupvalue(L, -2, 1);
            lua_pop(L, 1);
        }

        ScriptResult res;
        if (tripped_ != Trip::none) {
            reusable_ = false;
            res.status = tripped_ == Trip::instructions ? Status::instruction_limit
                         : tripped_ == Trip::cpu        ? Status::cpu_limit
                                                        : Status::wall_limit;
            res.error = limit_message();
        } else if (status == LUA_ERRMEM || frame.load_status == LUA_ERRMEM ||
                   (status != LUA_OK && refused_ && error_is_memory(L))) {
            reusable_ = false;
            res.status = Status::memory_limit;
            res.error = limit_message_memory();
        } else if (status != LUA_OK) {
            res.status = frame.load_status != LUA_OK ? Status::syntax_error : Status::runtime_error;
            res.error = error_message(L);
        } else {
            try {
                OutputConverter conv(L, limits.max_output_bytes, scratch_);
                res.output = conv.convert(-1, 0);
            } catch (const BadOutput& e) {
                res.status = Status::bad_output;
                res.error = user_text(e.what());
            } catch (const std::bad_alloc&) {
                res.status = Status::memory_limit;
                res.error = "out of memory converting the output to JSON";
            }
        }
        if (res.status != Status::ok) res.output = nullptr;
        forget_lazy_input(L);
        lua_settop(L, top);
        if (refused_) reusable_ = false;  // the script caught a memory error: do not reuse

        if (cached == cache_.end() && frame.ref != LUA_NOREF) remember(code, frame.ref, frame.chunk_bytes);
        if (reusable_) after_call();
        return res;
    }

    std::string check_syntax(std::string_view code) {
        refused_ = false;
        cap_ = saturating_add(base_, ScriptLimits{}.memory_bytes);
        const int status = luaL_loadbufferx(L_, code.data(), code.size(), kChunkName, "t");
        cap_ = SIZE_MAX;
        std::string msg;
        if (status == LUA_ERRMEM)
            msg = "the script is too large to compile (memory limit)";
        else if (status != LUA_OK)
            msg = error_message(L_);
        lua_pop(L_, 1);
        if (refused_) reusable_ = false;
        return msg;
    }

    void charge(lua_State* L, std::uint64_t units) override {
        charged_ += units;
        if (tripped_ == Trip::none) {
            if (charged_ > max_instructions_) {
                tripped_ = Trip::instructions;
            } else {
                const std::int64_t now = mono_ns();
                if (now < next_check_ns_ || !clocks_over(now)) return;
            }
        }
        raise_limit(L);
    }

private:
    struct CallFrame {
        const char* source;
        std::size_t source_len;
        int ref;                  // the compiled chunk in the registry; LUA_NOREF: compile it
        int load_status;          // of the compilation, when it happened in this call
        std::size_t chunk_bytes;  // heap the compiled chunk takes (about)
        const json::value* input;
    };

    struct CacheEntry {
        int ref;
        std::size_t chunk_bytes;
        std::uint64_t last_use;
    };

    State() = default;

    static State* from(lua_State* L) { return static_cast<State*>(budgeted::meter(L)); }

    static std::size_t saturating_add(std::size_t a, std::size_t b) { return b > SIZE_MAX - a ? SIZE_MAX : a + b; }

    void begin_call(const ScriptLimits& limits) {
        charged_ = 0;
        tripped_ = Trip::none;
        refused_ = false;
        reseed_ = false;
        max_instructions_ = limits.max_instructions > 0 ? static_cast<std::uint64_t>(limits.max_instructions) : UINT64_MAX;
        max_memory_ = limits.memory_bytes;
        cpu_limit_ms_ = limits.cpu_ms;
        wall_limit_ms_ = limits.wall_ms;
        start_ns_ = mono_ns();
        wall_deadline_ns_ = limits.wall_ms > 0 ? start_ns_ + std::int64_t{limits.wall_ms} * 1'000'000 : INT64_MAX;
        // The CPU clock is a syscall: it is first read 1 ms into the call (counting all of that
        // millisecond as CPU time), and after that only when the remaining CPU budget could be
        // spent, since CPU time never runs faster than the wall clock. Useless when the wall-clock
        // limit is the smaller one.
        cpu_limit_ns_ = limits.cpu_ms > 0 && limits.cpu_ms < (limits.wall_ms > 0 ? limits.wall_ms : INT_MAX)
                            ? std::int64_t{limits.cpu_ms} * 1'000'000
                            : 0;
        cpu_base_set_ = false;
        next_cpu_check_ns_ = cpu_limit_ns_ > 0 ? start_ns_ + std::min(cpu_limit_ns_, kCpuFirstReadNs) : INT64_MAX;
        next_check_ns_ = std::min(wall_deadline_ns_, next_cpu_check_ns_);
        cap_ = limits.memory_bytes > 0 ? saturating_add(base_, limits.memory_bytes) : SIZE_MAX;
    }

    // Sets tripped_ when a clock is over its limit.
    bool clocks_over(std::int64_t now) {
        if (now >= wall_deadline_ns_) {
            tripped_ = Trip::wall;
            return true;
        }
        if (cpu_limit_ns_ > 0 && now >= next_cpu_check_ns_) {
            const std::int64_t cpu = thread_cpu_ns();
            if (!cpu_base_set_) {
                cpu_base_ns_ = cpu - (now - start_ns_);
                cpu_base_set_ = true;
            }
            const std::int64_t used = cpu - cpu_base_ns_;
            if (used >= cpu_limit_ns_) {
                tripped_ = Trip::cpu;
                return true;
            }
            next_cpu_check_ns_ = now + std::max(cpu_limit_ns_ - used, kCpuMinIntervalNs);
        }
        next_check_ns_ = std::min(wall_deadline_ns_, cpu_limit_ns_ > 0 ? next_cpu_check_ns_ : INT64_MAX);
        return false;
    }

    // Raises the limit error. From now on every instruction and every call raises it again (in
    // this thread and in the main one), and pcall/xpcall/coroutine.resume re-raise it, so a
    // script cannot outrun or swallow it.
    void raise_limit(lua_State* L) {
        lua_sethook(L, &State::hook, kHookMask, 1);
        if (L != L_) lua_sethook(L_, &State::hook, kHookMask, 1);
        luaL_error(L, "%s", trip_text());  // does not return (no std::string may live in this frame)
    }

    const char* trip_text() const {
        switch (tripped_) {
        case Trip::instructions: return "instruction limit exceeded";
        case Trip::cpu: return "CPU time limit exceeded";
        case Trip::wall: return "wall-clock time limit exceeded";
        case Trip::none: break;
        }
        return "limit exceeded";
    }

    std::string limit_message() const {
        std::string limit;
        switch (tripped_) {
        case Trip::instructions: limit = std::to_string(max_instructions_) + " instructions"; break;
        case Trip::cpu: limit = std::to_string(cpu_limit_ms_) + " ms"; break;
        case Trip::wall: limit = std::to_string(wall_limit_ms_) + " ms"; break;
        case Trip::none: break;
        }
        return std::string(trip_text()) + " (" + limit + ")";
    }
    std::string limit_message_memory() const {
        return max_memory_ > 0 ? "memory limit exceeded (" + describe_bytes(max_memory_) + ")" : "out of memory";
    }

    // Count events charge the instructions since the last one; call events only look at the
    // clocks, so a loop of expensive-but-bounded C calls (table.sort of a large table) cannot run
    // hundreds of them between two count events.
    //
    // One VM instruction can cost up to a copy or comparison of the largest string the memory
    // cap allows (a .. b, a < b, a == b on 16 MB strings: milliseconds each), so once the call
    // holds a big heap the count hook fires 10 times more often.
    static void hook(lua_State* L, lua_Debug* ar) {
        State* self = from(L);
        if (ar->event == LUA_HOOKCOUNT) {
            const int count = lua_gethookcount(L);
            if (self->tripped_ == Trip::none) {
                const int period = self->used_ > self->base_ + kBigHeap ? kHookEveryBigHeap : kHookEvery;
                if (period != count) lua_sethook(L, &State::hook, kHookMask, period);
            }
            self->charge(L, static_cast<std::uint64_t>(count));
        } else if (self->tripped_ != Trip::none) {
            self->raise_limit(L);
        } else {
            const std::int64_t now = mono_ns();
            if (now >= self->next_check_ns_ && self->clocks_over(now)) self->raise_limit(L);
        }
    }

    static void* allocate(void* ud, void* ptr, std::size_t osize, std::size_t nsize) {
        auto* self = static_cast<State*>(ud);
        const std::size_t old = ptr != nullptr ? osize : 0;
        if (nsize == 0) {
            std::free(ptr);
            self->used_ -= old;
            return nullptr;
        }
        if (nsize > old && self->used_ - old + nsize > self->cap_) {
            self->refused_ = true;  // Lua collects garbage and tries once more before raising
            return nullptr;
        }
        void* p = std::realloc(ptr, nsize);
        if (p == nullptr) {
            if (nsize <= old) return ptr;  // Lua assumes shrinking never fails
            self->refused_ = true;
            return nullptr;
        }
        self->used_ = self->used_ - old + nsize;
        // A big allocation may belong to an instruction that copies megabytes (a .. b) and takes
        // milliseconds: look at the clocks at the next instruction. (lua_sethook is safe anywhere,
        // even in a signal handler.)
        if (nsize >= kBigAllocation && self->running_ != nullptr && self->tripped_ == Trip::none)
            lua_sethook(self->running_, &State::hook, kHookMask, 1);
        return p;
    }

    // Compiles the chunk (unless cached), builds the call's environment and runs the chunk.
    static int protected_call(lua_State* L) {
        auto* frame = static_cast<CallFrame*>(lua_touserdata(L, 1));
        State* self = from(L);
        if (frame->ref == LUA_NOREF) {
            const std::size_t before = self->used_;
            frame->load_status = luaL_loadbufferx(L, frame->source, frame->source_len, kChunkName, "t");
            if (frame->load_status != LUA_OK) return lua_error(L);
            frame->chunk_bytes = self->used_ > before ? self->used_ - before : 0;
            frame->ref = luaL_ref(L, LUA_REGISTRYINDEX);
            self->charge(L, frame->source_len / 64);  // compiling takes time too
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, frame->ref);
        lua_createtable(L, 0, 2);  // the environment; reads fall through to the shared template
        lua_pushliteral(L, "_G");
        lua_pushvalue(L, -2);
        lua_rawset(L, -3);
        lua_pushliteral(L, "input");
        push_input(L, *frame->input);
        lua_rawset(L, -3);
        lua_rawgetp(L, LUA_REGISTRYINDEX, &kEnvMetaKey);
        lua_setmetatable(L, -2);
        lua_setupvalue(L, -2, 1);  // the chunk's _ENV
        lua_call(L, 0, 1);
        return 1;
    }

    // The error object at the top as a message for the user.
    static std::string error_message(lua_State* L) {
        switch (lua_type(L, -1)) {
        case LUA_TSTRING: {
            std::size_t n = 0;
            const char* s = lua_tolstring(L, -1, &n);
            return user_text(std::string_view(s, n));
        }
        case LUA_TNUMBER: {
            char buf[64];
            if (lua_isinteger(L, -1)) return std::to_string(lua_tointeger(L, -1));
            return std::string(buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, lua_tonumber(L, -1)).ptr - buf));
        }
        case LUA_TNIL: return "nil";
        case LUA_TBOOLEAN: return lua_toboolean(L, -1) ? "true" : "false";
        case LUA_TLIGHTUSERDATA:
            if (lua_touserdata(L, -1) == nullptr) return "null";
            break;
        default: break;
        }
        return std::string("(error object is a ") + lua_typename(L, lua_type(L, -1)) + " value)";
    }

    static bool error_is_memory(lua_State* L) {
        if (lua_type(L, -1) != LUA_TSTRING) return false;
        std::size_t n = 0;
        const char* s = lua_tolstring(L, -1, &n);
        const std::string_view msg(s, n);
        return msg.ends_with("not enough memory");
    }

    void remember(std::string_view code, int ref, std::size_t chunk_bytes) {
        if (code.size() > kMaxCachedSource) {
            luaL_unref(L_, LUA_REGISTRYINDEX, ref);
            return;
        }
        while (!cache_.empty() && (cache_.size() >= kMaxCachedChunks || cached_source_ + code.size() > kMaxCachedSource)) {
            auto oldest = cache_.begin();
            for (auto it = cache_.begin(); it != cache_.end(); ++it)
                if (it->second.last_use < oldest->second.last_use) oldest = it;
            luaL_unref(L_, LUA_REGISTRYINDEX, oldest->second.ref);
            cached_source_ -= oldest->first.size();
            base_ -= std::min(base_, oldest->second.chunk_bytes);
            cache_.erase(oldest);
        }
        cache_.emplace(std::string(code), CacheEntry{ref, chunk_bytes, ++use_clock_});
        cached_source_ += code.size();
        base_ += chunk_bytes;
    }

    void after_call() {
        if (reseed_) {  // the script seeded math.random: reseed randomly for the next call
            lua_rawgetp(L_, LUA_REGISTRYINDEX, &kRandomSeedKey);
            if (lua_pcall(L_, 0, 0, 0) != LUA_OK) {
                lua_pop(L_, 1);
                reusable_ = false;
            }
        }
        // Garbage counts against the next call's cap (Lua collects it before refusing), but a
        // lot of it is better collected now, when only the libraries and the cache are alive.
        if (used_ > base_ + kCollectAfterGrowth) {
            lua_gc(L_, LUA_GCCOLLECT);
            base_ = used_;
        }
    }

    // ---- functions exposed to scripts ----------------------------------------------------------

    static int readonly_newindex(lua_State* L) { return luaL_error(L, "attempt to modify a read-only library table"); }

    // pcall/xpcall as in lbaselib.c (yieldable), but a limit error cannot be caught.
    static int finish_pcall(lua_State* L, int status, lua_KContext extra) {
        State* self = from(L);
        if (self->tripped_ != Trip::none) {
            self->raise_limit(L);
            return 0;
        }
        if (status != LUA_OK && status != LUA_YIELD) {
            lua_pushboolean(L, 0);
            lua_pushvalue(L, -2);
            return 2;
        }
        return lua_gettop(L) - static_cast<int>(extra);
    }
    static int sandbox_pcall(lua_State* L) {
        luaL_checkany(L, 1);
        lua_pushboolean(L, 1);
        lua_insert(L, 1);
        const int status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, &State::finish_pcall);
        return finish_pcall(L, status, 0);
    }
    // xpcall's message handler runs where the error was raised: for a limit error that is inside
    // the hook, where Lua runs no hooks, so the script's handler must not run then.
    static int sandbox_msgh(lua_State* L) {
        if (from(L)->tripped_ != Trip::none) return 1;  // the error object, unchanged
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, lua_gettop(L) - 1, 1);
        return 1;
    }
    static int sandbox_xpcall(lua_State* L) {
        const int n = lua_gettop(L);
        luaL_checktype(L, 2, LUA_TFUNCTION);
        lua_pushvalue(L, 2);
        lua_pushcclosure(L, &State::sandbox_msgh, 1);
        lua_replace(L, 2);
        lua_pushboolean(L, 1);
        lua_pushvalue(L, 1);
        lua_rotate(L, 3, 2);
        const int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, &State::finish_pcall);
        return finish_pcall(L, status, 2);
    }

    // ---- coroutines -----------------------------------------------------------------------------
    //
    // resume/wrap/close as in lcorolib.c, with two differences: the coroutine surely runs under
    // the hook (new threads inherit it; this makes sure), and once a limit has tripped nothing
    // runs any more. The latter matters because a limit error is raised inside the hook, where
    // Lua disables hooks until the error reaches a pcall: a coroutine killed by it keeps hooks
    // disabled, so its __close handlers (run by coroutine.close, or by wrap on an error) would
    // run unbounded. Likewise for xpcall's message handler (see sandbox_msgh).

    static void ensure_hook(lua_State* co) {
        if (lua_gethook(co) != &State::hook) lua_sethook(co, &State::hook, kHookMask, kHookEvery);
    }

    // Moves narg arguments from L to co and resumes it: the number of results moved back to L,
    // or -1 with the error object on L's top.
    static int resume_thread(lua_State* L, lua_State* co, int narg) {
        if (!lua_checkstack(co, narg)) {
            lua_pushliteral(L, "too many arguments to resume");
            return -1;
        }
        ensure_hook(co);
        lua_xmove(L, co, narg);
        int nres = 0;
        State* self = from(L);
        self->running_ = co;
        const int status = lua_resume(co, L, narg, &nres);
        self->running_ = L;
        if (self->tripped_ != Trip::none) self->raise_limit(L);
        if (status == LUA_OK || status == LUA_YIELD) {
            if (!lua_checkstack(L, nres + 1)) {
                lua_pop(co, nres);
                lua_pushliteral(L, "too many results to resume");
                return -1;
            }
            lua_xmove(co, L, nres);
            return nres;
        }
        lua_xmove(co, L, 1);
        return -1;
    }

    static int sandbox_resume(lua_State* L) {
        lua_State* co = lua_tothread(L, 1);
        luaL_argexpected(L, co != nullptr, 1, "coroutine");
        const int r = resume_thread(L, co, lua_gettop(L) - 1);
        if (r < 0) {
            lua_pushboolean(L, 0);
            lua_insert(L, -2);
            return 2;
        }
        lua_pushboolean(L, 1);
        lua_insert(L, -(r + 1));
        return r + 1;
    }

    static int sandbox_wrapped(lua_State* L) {
        lua_State* co = lua_tothread(L, lua_upvalueindex(1));
        const int r = resume_thread(L, co, lua_gettop(L));
        if (r >= 0) return r;
        int status = lua_status(co);
        if (status != LUA_OK && status != LUA_YIELD) {  // the coroutine died: close its variables
            status = lua_resetthread(co);
            lua_xmove(co, L, 1);
        }
        if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
            luaL_where(L, 1);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }

    static int sandbox_wrap(lua_State* L) {
        luaL_checktype(L, 1, LUA_TFUNCTION);
        lua_State* co = lua_newthread(L);
        ensure_hook(co);
        lua_pushvalue(L, 1);
        lua_xmove(L, co, 1);
        lua_pushcclosure(L, &State::sandbox_wrapped, 1);
        return 1;
    }

    // coroutine.close: Lua's (upvalue 1), unless a limit tripped.
    static int sandbox_close(lua_State* L) {
        State* self = from(L);
        if (self->tripped_ != Trip::none) self->raise_limit(L);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
        return lua_gettop(L);
    }

    // math.randomseed: seeding is allowed, but the generator is reseeded after the call, so a
    // seed never carries over to the next script on this state.
    static int sandbox_randomseed(lua_State* L) {
        from(L)->reseed_ = true;
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
        return lua_gettop(L);
    }

    // setmetatable without finalizers: a __gc would run later, inside another call's budget.
    static int sandbox_setmetatable(lua_State* L) {
        luaL_checktype(L, 1, LUA_TTABLE);
        const int t = lua_type(L, 2);
        luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
        if (t == LUA_TTABLE) {
            lua_pushliteral(L, "__gc");
            if (lua_rawget(L, 2) != LUA_TNIL) return luaL_error(L, "__gc metamethods are not allowed in scripts");
            lua_pop(L, 1);
        }
        if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) return luaL_error(L, "cannot change a protected metatable");
        lua_settop(L, 2);
        lua_setmetatable(L, 1);
        return 1;
    }

    // rawset that refuses the read-only library proxies (shared by every call of the state). On
    // a lazy input table, the JSON has no say on the key any more (as for an assignment).
    static int sandbox_rawset(lua_State* L) {
        luaL_checktype(L, 1, LUA_TTABLE);
        luaL_checkany(L, 2);
        luaL_checkany(L, 3);
        lua_settop(L, 3);
        if (lua_getmetatable(L, 1)) {
            lua_pushliteral(L, "__sandbox_readonly");
            const bool readonly = lua_rawget(L, -2) != LUA_TNIL;
            lua_pop(L, 2);
            if (readonly) return luaL_error(L, "attempt to modify a read-only library table");
        }
        LazySource* src = pending_source(L, 1);
        const std::size_t i = src != nullptr ? pending_member(L, *src, 2) : kNoMember;
        lua_rawset(L, 1);
        if (i != kNoMember) mark_done(*src, i);
        return 1;
    }

    // array([t]): marks t (or a new table) as a JSON array, so that it is [] when empty.
    static int sandbox_array(lua_State* L) {
        if (lua_isnoneornil(L, 1)) {
            lua_newtable(L);
        } else {
            luaL_checktype(L, 1, LUA_TTABLE);
            lua_settop(L, 1);
            if (lua_getmetatable(L, 1)) {
                lua_rawgetp(L, LUA_REGISTRYINDEX, &kArrayMetaKey);
                if (!lua_rawequal(L, -1, -2)) return luaL_error(L, "array: the table already has a metatable");
                lua_pop(L, 2);
                return 1;
            }
        }
        lua_rawgetp(L, LUA_REGISTRYINDEX, &kArrayMetaKey);
        lua_setmetatable(L, -2);
        return 1;
    }

    static void push_readonly_proxy(lua_State* L, int lib) {
        lib = lua_absindex(L, lib);
        lua_newtable(L);
        lua_createtable(L, 0, 4);
        lua_pushvalue(L, lib);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, &State::readonly_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "__sandbox_readonly");
        lua_setmetatable(L, -2);
    }

    static int setup(lua_State* L) {
        luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
        lua_pop(L, 1);
        luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);   // 1
        luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);    // 2
        luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);    // 3
        luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);    // 4
        luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 0); // 5
        lua_pushnil(L);
        lua_setfield(L, 1, "dump");
        budgeted::install(L, 1, 2);

        lua_getfield(L, 3, "randomseed");
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &kRandomSeedKey);
        lua_pushcclosure(L, &State::sandbox_randomseed, 1);
        lua_setfield(L, 3, "randomseed");
        const luaL_Reg coroutine_fns[] = {{"resume", &State::sandbox_resume}, {"wrap", &State::sandbox_wrap}, {nullptr, nullptr}};
        lua_pushvalue(L, 5);
        luaL_setfuncs(L, coroutine_fns, 0);
        lua_pop(L, 1);
        lua_getfield(L, 5, "close");
        lua_pushcclosure(L, &State::sandbox_close, 1);
        lua_setfield(L, 5, "close");

        // The string metatable (its __index is the real string table) is out of the scripts' reach.
        lua_pushliteral(L, "");
        lua_getmetatable(L, -1);
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 2);

        // The template every per-call environment reads through.
        lua_createtable(L, 0, 32);
        const int tpl = lua_gettop(L);
        for (const char* name : {"assert", "error", "ipairs", "select", "tonumber", "tostring", "type", "rawequal",
                                 "rawlen", "getmetatable", "_VERSION"}) {
            lua_getglobal(L, name);
            lua_setfield(L, tpl, name);
        }
        const luaL_Reg wrapped[] = {{"pcall", &State::sandbox_pcall},
                                    {"xpcall", &State::sandbox_xpcall},
                                    {"setmetatable", &State::sandbox_setmetatable},
                                    {"rawset", &State::sandbox_rawset},
                                    {"rawget", &sandbox_rawget},
                                    {"next", &sandbox_next},
                                    {"pairs", &sandbox_pairs},
                                    {"array", &State::sandbox_array},
                                    {nullptr, nullptr}};
        luaL_setfuncs(L, wrapped, 0);
        const char* libs[] = {"string", "table", "math", "utf8", "coroutine"};
        for (int i = 0; i < 5; ++i) {
            push_readonly_proxy(L, i + 1);
            lua_setfield(L, tpl, libs[i]);
        }
        lua_pushlightuserdata(L, nullptr);  // JSON null
        lua_setfield(L, tpl, "null");

        lua_createtable(L, 0, 2);
        lua_pushvalue(L, tpl);
        lua_setfield(L, -2, "__index");
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
        lua_rawsetp(L, LUA_REGISTRYINDEX, &kEnvMetaKey);

        lua_createtable(L, 0, 1);  // marks tables that are JSON arrays (so [] stays [])
        lua_pushliteral(L, "json array");
        lua_setfield(L, -2, "__metatable");
        lua_rawsetp(L, LUA_REGISTRYINDEX, &kArrayMetaKey);

        register_lazy_metatable(L);

        // Scripts never see the real global table; leave nothing in it anyway.
        lua_pushglobaltable(L);
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_pushnil(L);
            lua_rawset(L, -4);
        }
        lua_settop(L, 0);
        return 0;
    }

    lua_State* L_ = nullptr;
    // The heap.
    std::size_t used_ = 0;         // bytes Lua has allocated
    std::size_t base_ = 0;         // ... when idle: the libraries and the cached chunks (about)
    std::size_t cap_ = SIZE_MAX;   // the allocator refuses to grow used_ beyond this
    bool refused_ = false;         // the allocator refused something during this call
    lua_State* running_ = nullptr; // the thread running now (the main one or a coroutine), during a call
    bool reusable_ = true;
    // The current call.
    std::uint64_t charged_ = 0;
    std::uint64_t max_instructions_ = UINT64_MAX;
    std::size_t max_memory_ = 0;
    int cpu_limit_ms_ = 0;
    int wall_limit_ms_ = 0;
    std::int64_t start_ns_ = 0;
    std::int64_t wall_deadline_ns_ = INT64_MAX;
    std::int64_t cpu_limit_ns_ = 0;  // 0: not checked
    std::int64_t cpu_base_ns_ = 0;   // the thread's CPU clock when the call started (about)
    bool cpu_base_set_ = false;
    std::int64_t next_cpu_check_ns_ = INT64_MAX;
    std::int64_t next_check_ns_ = INT64_MAX;  // no clock needs a look before this
    Trip tripped_ = Trip::none;
    bool reseed_ = false;
    OutputConverter::Scratch scratch_;
    // Compiled chunks by source text.
    std::unordered_map<std::string, CacheEntry, StringHash, std::equal_to<>> cache_;
    std::size_t cached_source_ = 0;
    std::uint64_t use_clock_ = 0;
};

}  // namespace

// ------------------------------------------------------------------------------------------------
// ScriptRunner: the pool
// ------------------------------------------------------------------------------------------------

struct ScriptRunner::Impl {
    std::size_t max_idle;
    std::mutex mutex;
    std::vector<std::unique_ptr<State>> idle;

    std::unique_ptr<State> take() {
        {
            std::lock_guard lock(mutex);
            if (!idle.empty()) {
                std::unique_ptr<State> st = std::move(idle.back());
                idle.pop_back();
                return st;
            }
        }
        return State::create();
    }

    void give_back(std::unique_ptr<State> st) {
        if (!st->reusable()) return;
        {
            std::lock_guard lock(mutex);
            if (idle.size() < max_idle) {
                idle.push_back(std::move(st));
                return;
            }
        }
        // st is closed here, outside the lock.
    }
};

std::vector<ScriptResult> ScriptExecutor::run_batch(std::span<const ScriptJob> jobs) {
    std::vector<ScriptResult> out;
    out.reserve(jobs.size());
    for (const auto& j : jobs) out.push_back(run(j.code, *j.input, j.limits));
    return out;
}

ScriptRunner::ScriptRunner(std::size_t max_idle_states) : impl_(std::make_unique<Impl>()) {
    impl_->max_idle = max_idle_states;
    impl_->idle.reserve(std::min<std::size_t>(max_idle_states, 64));
}

ScriptRunner::~ScriptRunner() = default;

ScriptResult ScriptRunner::run(std::string_view code, const boost::json::value& input, const ScriptLimits& limits) {
    try {
        std::unique_ptr<State> st = impl_->take();
        if (!st) return {Status::memory_limit, nullptr, "out of memory creating the Lua state"};
        ScriptResult r = st->run(code, input, limits);
        impl_->give_back(std::move(st));
        return r;
    } catch (const std::bad_alloc&) {  // the state (if any) is closed, not reused
        return {Status::memory_limit, nullptr, "out of memory"};
    }
}

std::string ScriptRunner::check_syntax(std::string_view code) {
    try {
        std::unique_ptr<State> st = impl_->take();
        if (!st) return "out of memory creating the Lua state";
        std::string msg = st->check_syntax(code);
        impl_->give_back(std::move(st));
        return msg;
    } catch (const std::bad_alloc&) {
        return "out of memory";
    }
}

}  // namespace arclight::lua
