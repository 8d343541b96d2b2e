// bench_lua_sandbox: which design of the workflow engine's Lua `script` task keeps the sandbox's
// guarantees, and how much of the ~15,500 chains/s target does each one leave room for?
//
// A script task is Lua 5.4 with JSON in and JSON out (JSON -> Lua table -> script -> Lua table ->
// JSON, through Boost.JSON), no io/os/package/require/load/debug/dofile/loadfile/collectgarbage/
// string.dump, and limits on instructions (CPU), wall-clock time and memory. Designs measured:
//
//   C   in-process: one reused sandboxed lua_State per thread, a fresh environment table per call,
//       an allocator cap, an instruction-count hook (lua_sethook LUA_MASKCOUNT) that also checks
//       the wall clock. Lua's own string.find/match/gmatch/gsub, string.rep and table.move.
//   C'  C, with the C functions that can run unbounded without executing a Lua instruction (so
//       without ever reaching the hook) replaced by budget-aware versions: a Lua pattern matcher
//       with a step counter (find/match/gmatch/gsub, and a linear plain find), string.rep and
//       table.move; and the hook also fires on calls (LUA_MASKCALL) to look at the clock, so a
//       loop of expensive-but-bounded C calls (table.sort) cannot run ~250 of them between two
//       count events. C' is the shipped sandbox: this bench runs the product library
//       (arclight_lua: ScriptRunner in core/lua/, one runner shared by the
//       client threads), so it measures exactly what the `script` task runs.
//   A   a pool of worker processes (fork + exec of this binary, socketpair, length-prefixed JSON;
//       the worker sets RLIMIT_AS and re-arms RLIMIT_CPU per request and runs the C sandbox; the
//       supervisor SIGKILLs a worker that misses its wall-clock timeout and starts a new one):
//       one round trip per script.
//   B   the same workers, a run's scripts (the chain's ten) in one round trip.
//
// Usage: bench_lua_sandbox [--seconds S] [--rounds R] [--quick] [--pattern-n N]
//                          [--unbounded-timeout S] [--demo-cap S] [--no-bench] [--no-demos]
//                          [--pin] [--filter LABEL-SUBSTRING]
//        bench_lua_sandbox --eval[-budgeted] SCRIPT     one script in the C (C': ScriptRunner) sandbox, timed
//        bench_lua_sandbox --selftest [CASES [SEED]]   differential test: the shipped budgeted
//                                                       functions (core/lua/budgeted.cpp) vs Lua's
//        (bench_lua_sandbox --worker FD ...     is how the supervisor starts a worker)

#include "core/lua/budgeted.hpp"
#include "core/lua/json.hpp"
#include "core/lua/sandbox.hpp"

#include <boost/json.hpp>
#include <lua.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace json = boost::json;
namespace sb = arclight::lua;

namespace {

// ------------------------------------------------------------------------------------------------
// Clocks
// ------------------------------------------------------------------------------------------------

std::int64_t clock_ns(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
std::int64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }
std::int64_t thread_cpu_ns() { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }
double ms_since(std::int64_t t0) { return static_cast<double>(mono_ns() - t0) / 1e6; }

// CPU time of another (single-threaded) process: /proc/PID/schedstat's first field, in ns.
std::int64_t process_cpu_ns(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
    long long ns = 0;
    in >> ns;
    return ns;
}

// ------------------------------------------------------------------------------------------------
// The sandbox of design C (also what runs inside a worker process for A and B). C' is the product,
// sb::ScriptRunner; this one shares its defences (read-only libraries, locked string metatable, no
// __gc, limit errors pcall cannot catch) but keeps Lua's own C functions and checks the clock only
// at count events.
// ------------------------------------------------------------------------------------------------

struct Limits {
    std::size_t memory_bytes = 16u << 20;     // live Lua memory a call may add; 0 = no cap
    std::uint64_t instructions = 100'000'000; // VM instructions (+ budgeted C-function steps)
    std::int64_t wall_ns = 500'000'000;       // wall-clock limit of one call
    bool budgeted_c_functions = false;        // the shipped budget-aware find/match/gmatch/gsub/rep/move
                                              // (sandbox/budgeted.cpp): --selftest, and workers with --budgeted
    bool expose_builtins = false;             // --selftest only: keep Lua's versions as builtin_*
};

// C' runs the product with the same budget: 16 MiB, 100 M instructions, and the clocks at
// 400 ms CPU / 500 ms wall (CPU below wall, as in the product's defaults, so the CPU clock is used).
sb::ScriptLimits product_limits() {
    sb::ScriptLimits l;
    l.max_instructions = 100'000'000;
    l.cpu_ms = 400;
    l.wall_ms = 500;
    l.memory_bytes = 16u << 20;
    l.max_output_bytes = 16u << 20;
    return l;
}

constexpr int kHookEvery = 1000;  // the count hook fires every kHookEvery VM instructions

// Registry keys (their addresses are the keys).
char kEnvMetaKey;
char kArrayMetaKey;

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

void push_json(lua_State* L, const json::value& v, int depth);
json::value to_json(lua_State* L, int idx, int depth, std::size_t& values, std::size_t& bytes);

class Sandbox final : public sb::budgeted::Meter {
public:
    explicit Sandbox(const Limits& limits) : limits_(limits) {
        L_ = lua_newstate(&Sandbox::allocate, this);
        if (L_ == nullptr) throw std::runtime_error("lua_newstate failed");
        sb::budgeted::set_meter(L_, this);
        lua_pushcfunction(L_, &Sandbox::setup);
        if (lua_pcall(L_, 0, 0, 0) != LUA_OK) {
            std::string msg = lua_type(L_, -1) == LUA_TSTRING ? lua_tostring(L_, -1) : "?";
            lua_close(L_);
            throw std::runtime_error("sandbox setup failed: " + msg);
        }
        lua_gc(L_, LUA_GCCOLLECT);
    }
    ~Sandbox() { lua_close(L_); }
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    // One script task: JSON in, JSON out. False (and `error`) when the script failed, was stopped
    // by a limit, or returned something that is not JSON.
    bool run(std::string_view source, const json::value& input, json::value& output,
             std::string& error) {
        lua_State* L = L_;
        const int base = lua_gettop(L);
        CallFrame frame{source.data(), source.size(), LUA_NOREF, &input};
        const auto cached = chunks_.find(source);
        if (cached != chunks_.end()) frame.ref = cached->second;

        charged_ = 0;
        tripped_ = nullptr;
        deadline_ns_ = mono_ns() + limits_.wall_ns;
        cap_ = limits_.memory_bytes ? used_ + limits_.memory_bytes : SIZE_MAX;
        lua_sethook(L, &Sandbox::hook, hook_mask(), kHookEvery);
        lua_pushcfunction(L, &Sandbox::protected_call);
        lua_pushlightuserdata(L, &frame);
        const int status = lua_pcall(L, 1, 1, 0);
        cap_ = SIZE_MAX;
        if (cached == chunks_.end() && frame.ref != LUA_NOREF)
            chunks_.emplace(std::string(source), frame.ref);

        bool ok = status == LUA_OK;
        if (!ok) {
            error = lua_type(L, -1) == LUA_TSTRING
                        ? lua_tostring(L, -1)
                        : std::string("(error object is a ") + luaL_typename(L, -1) + ")";
        } else {
            try {
                std::size_t values = 0, bytes = 0;
                output = to_json(L, -1, 0, values, bytes);
            } catch (const std::exception& e) {
                ok = false;
                error = std::string("output: ") + e.what();
            }
        }
        lua_settop(L, base);
        // A runaway call leaves up to the whole cap as garbage: give it back now.
        if (!ok && (status == LUA_ERRMEM || tripped_ != nullptr)) lua_gc(L, LUA_GCCOLLECT);
        return ok;
    }

    static Sandbox* from(lua_State* L) { return static_cast<Sandbox*>(sb::budgeted::meter(L)); }
    bool tripped() const { return tripped_ != nullptr; }
    std::size_t memory_in_use() const { return used_; }

    // Charges `units` of work (VM instructions, or steps of a budgeted C function) to the current
    // call; raises the limit error once the call's instruction or wall-clock budget is spent.
    void charge(lua_State* L, std::uint64_t units) override {
        charged_ += units;
        if (tripped_ == nullptr) {
            if (charged_ > limits_.instructions) {
                tripped_ = "instruction";
            } else if (mono_ns() > deadline_ns_) {
                tripped_ = "wall-clock";
            } else {
                return;
            }
        }
        // From now on every instruction raises again, so a script cannot outrun the limit with
        // nested pcalls; sandbox_pcall/xpcall re-raise it too.
        lua_sethook(L, &Sandbox::hook, hook_mask(), 1);
        luaL_error(L, "sandbox: %s limit exceeded", tripped_);
    }

private:
    struct CallFrame {
        const char* source;
        std::size_t source_len;
        int ref;
        const json::value* input;
    };

    struct ChunkReader {
        const char* parts[2];
        std::size_t sizes[2];
        int next;
        static const char* read(lua_State*, void* ud, std::size_t* size) {
            auto* r = static_cast<ChunkReader*>(ud);
            if (r->next == 2) {
                *size = 0;
                return nullptr;
            }
            *size = r->sizes[r->next];
            return r->parts[r->next++];
        }
    };

    static void* allocate(void* ud, void* ptr, std::size_t osize, std::size_t nsize) {
        auto* self = static_cast<Sandbox*>(ud);
        const std::size_t old = ptr != nullptr ? osize : 0;
        if (nsize == 0) {
            std::free(ptr);
            self->used_ -= old;
            return nullptr;
        }
        if (nsize > old && self->used_ - old + nsize > self->cap_) return nullptr;
        void* p = std::realloc(ptr, nsize);
        if (p != nullptr) self->used_ = self->used_ - old + nsize;
        return p;
    }

    static int hook_mask() { return LUA_MASKCOUNT; }

    // Count events charge kHookEvery instructions (and look at the clock).
    static void hook(lua_State* L, lua_Debug*) { from(L)->charge(L, kHookEvery); }

    // Runs in protected mode: only trivially destructible C++ objects live in these frames, so a
    // Lua error (a longjmp) never skips a destructor.
    static int protected_call(lua_State* L) {
        auto* frame = static_cast<CallFrame*>(lua_touserdata(L, 1));
        if (frame->ref == LUA_NOREF) {
            // The script's globals resolve to the fresh per-call environment passed as an
            // argument; the chunk's own _ENV upvalue is cleared.
            static constexpr char kPrologue[] = "local _ENV, input = ...; ";
            ChunkReader reader{{kPrologue, frame->source},
                               {sizeof kPrologue - 1, frame->source_len},
                               0};
            if (lua_load(L, &ChunkReader::read, &reader, "=script", "t") != LUA_OK)
                return lua_error(L);
            lua_pushnil(L);
            lua_setupvalue(L, -2, 1);
            frame->ref = luaL_ref(L, LUA_REGISTRYINDEX);
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, frame->ref);
        lua_createtable(L, 0, 1);  // the environment: reads fall through to the shared template
        lua_rawgetp(L, LUA_REGISTRYINDEX, &kEnvMetaKey);
        lua_setmetatable(L, -2);
        lua_pushliteral(L, "_G");
        lua_pushvalue(L, -2);
        lua_rawset(L, -3);
        push_json(L, *frame->input, 0);
        lua_call(L, 2, 1);
        return 1;
    }

    static int readonly_newindex(lua_State* L) {
        return luaL_error(L, "attempt to modify a read-only library table");
    }

    // pcall/xpcall that cannot swallow a limit error.
    static int sandbox_pcall(lua_State* L) {
        luaL_checkany(L, 1);
        const int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
        if (from(L)->tripped()) return lua_error(L);
        luaL_checkstack(L, 1, "too many results");
        lua_pushboolean(L, status == LUA_OK);
        lua_insert(L, 1);
        return lua_gettop(L);
    }
    static int sandbox_xpcall(lua_State* L) {
        const int n = lua_gettop(L);
        luaL_checktype(L, 2, LUA_TFUNCTION);
        luaL_checkstack(L, 2, "too many arguments");
        lua_pushboolean(L, 1);  // becomes the status
        lua_pushvalue(L, 1);    // the function
        lua_rotate(L, 3, 2);    // f, handler, status, f, args...
        const int status = lua_pcall(L, n - 2, LUA_MULTRET, 2);
        if (from(L)->tripped()) return lua_error(L);
        lua_pushboolean(L, status == LUA_OK);
        lua_replace(L, 3);
        return lua_gettop(L) - 2;
    }
    // setmetatable without finalizers: a __gc would run later, inside another call's budget.
    static int sandbox_setmetatable(lua_State* L) {
        luaL_checktype(L, 1, LUA_TTABLE);
        const int t = lua_type(L, 2);
        luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
        if (t == LUA_TTABLE) {
            lua_pushliteral(L, "__gc");
            if (lua_rawget(L, 2) != LUA_TNIL)
                return luaL_error(L, "__gc metamethods are not allowed in scripts");
            lua_pop(L, 1);
        }
        if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
            return luaL_error(L, "cannot change a protected metatable");
        lua_settop(L, 2);
        lua_setmetatable(L, 1);
        return 1;
    }
    // rawset that refuses the read-only library proxies (shared by every call of the state).
    static int sandbox_rawset(lua_State* L) {
        luaL_checktype(L, 1, LUA_TTABLE);
        luaL_checkany(L, 2);
        luaL_checkany(L, 3);
        if (lua_getmetatable(L, 1)) {
            lua_pushliteral(L, "__sandbox_readonly");
            const bool readonly = lua_rawget(L, -2) != LUA_TNIL;
            lua_pop(L, 2);
            if (readonly) return luaL_error(L, "attempt to modify a read-only library table");
        }
        lua_settop(L, 3);
        lua_rawset(L, 1);
        return 1;
    }

    static void push_readonly_proxy(lua_State* L, int lib) {
        lib = lua_absindex(L, lib);
        lua_newtable(L);
        lua_createtable(L, 0, 4);
        lua_pushvalue(L, lib);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, &Sandbox::readonly_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "__sandbox_readonly");
        lua_setmetatable(L, -2);
    }

    static int setup(lua_State* L) {
        Sandbox* self = from(L);
        luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
        lua_pop(L, 1);
        luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);  // 1
        luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);   // 2
        luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);   // 3
        luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);   // 4
        lua_pushnil(L);
        lua_setfield(L, 1, "dump");
        if (self->limits_.budgeted_c_functions) sb::budgeted::install(L, 1, 2, self->limits_.expose_builtins);

        // The string metatable (its __index is the real string table) is out of the scripts' reach.
        lua_pushliteral(L, "");
        lua_getmetatable(L, -1);
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 2);

        // The template every per-call environment reads through.
        lua_createtable(L, 0, 32);
        const int tpl = lua_gettop(L);
        for (const char* name : {"assert", "error", "ipairs", "next", "pairs", "select", "tonumber",
                                 "tostring", "type", "rawequal", "rawlen", "rawget",
                                 "getmetatable", "_VERSION"}) {
            lua_getglobal(L, name);
            lua_setfield(L, tpl, name);
        }
        const luaL_Reg wrapped[] = {{"pcall", &Sandbox::sandbox_pcall},
                                    {"xpcall", &Sandbox::sandbox_xpcall},
                                    {"setmetatable", &Sandbox::sandbox_setmetatable},
                                    {"rawset", &Sandbox::sandbox_rawset},
                                    {nullptr, nullptr}};
        luaL_setfuncs(L, wrapped, 0);
        const char* libs[] = {"string", "table", "math", "utf8"};
        for (int i = 0; i < 4; ++i) {
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

        lua_createtable(L, 0, 1);  // marks tables that came from JSON arrays (so [] stays [])
        lua_pushliteral(L, "json array");
        lua_setfield(L, -2, "__metatable");
        lua_rawsetp(L, LUA_REGISTRYINDEX, &kArrayMetaKey);

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
    Limits limits_;
    std::size_t used_ = 0;
    std::size_t cap_ = SIZE_MAX;
    std::uint64_t charged_ = 0;
    std::int64_t deadline_ns_ = 0;
    const char* tripped_ = nullptr;
    std::unordered_map<std::string, int, StringHash, std::equal_to<>> chunks_;
};

// JSON -> Lua exactly as the shipped sandbox converts it (core/lua/json.hpp).
void push_json(lua_State* L, const json::value& v, int depth) { arclight::lua::push_json(L, v, &kArrayMetaKey, 200, depth); }

constexpr std::size_t kMaxOutputValues = 1u << 20;
constexpr std::size_t kMaxOutputBytes = 16u << 20;

// Lua -> JSON, outside protected mode: only API calls that cannot raise (no string conversion
// in place, lua_checkstack instead of luaL_checkstack). Bounded in depth, value count and bytes,
// because shared subtables (t = {t, t} forty times) are small in Lua and exponential in JSON.
json::value to_json(lua_State* L, int idx, int depth, std::size_t& values, std::size_t& bytes) {
    idx = lua_absindex(L, idx);
    if (++values > kMaxOutputValues) throw std::runtime_error("too many values (limit 1 Mi)");
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return nullptr;
    case LUA_TBOOLEAN: return json::value(lua_toboolean(L, idx) != 0);
    case LUA_TNUMBER: {
        if (lua_isinteger(L, idx)) return json::value(static_cast<std::int64_t>(lua_tointeger(L, idx)));
        const double d = lua_tonumber(L, idx);
        if (!std::isfinite(d)) throw std::runtime_error("NaN or infinity");
        return json::value(d);
    }
    case LUA_TSTRING: {
        std::size_t n = 0;
        const char* s = lua_tolstring(L, idx, &n);
        if ((bytes += n) > kMaxOutputBytes) throw std::runtime_error("too large (limit 16 MiB)");
        return json::value(json::string_view(s, n));
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == nullptr) return nullptr;
        throw std::runtime_error("a userdata value");
    case LUA_TTABLE: break;
    default: throw std::runtime_error(std::string("a ") + luaL_typename(L, idx) + " value");
    }
    if (depth >= 100) throw std::runtime_error("nested too deeply (a cycle?)");
    if (!lua_checkstack(L, 4)) throw std::runtime_error("Lua stack exhausted");
    bool marked_array = false;
    if (lua_getmetatable(L, idx)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &kArrayMetaKey);
        marked_array = lua_rawequal(L, -1, -2) != 0;
        lua_pop(L, 2);
    }
    const lua_Unsigned n = lua_rawlen(L, idx);
    std::size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        ++count;
        lua_pop(L, 1);
    }
    if (count == n && (n > 0 || marked_array)) {
        json::array arr;
        arr.reserve(n);
        bool dense = true;
        for (lua_Unsigned i = 1; i <= n; ++i) {
            if (lua_rawgeti(L, idx, static_cast<lua_Integer>(i)) == LUA_TNIL) {
                lua_pop(L, 1);
                dense = false;
                break;
            }
            arr.push_back(to_json(L, -1, depth + 1, values, bytes));
            lua_pop(L, 1);
        }
        if (dense) return arr;
    }
    json::object obj;
    obj.reserve(count);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        char buf[32];
        std::string_view key;
        if (lua_type(L, -2) == LUA_TSTRING) {
            std::size_t kn = 0;
            const char* k = lua_tolstring(L, -2, &kn);
            key = {k, kn};
        } else if (lua_isinteger(L, -2)) {
            const int len = std::snprintf(buf, sizeof buf, "%lld",
                                          static_cast<long long>(lua_tointeger(L, -2)));
            key = {buf, static_cast<std::size_t>(len)};
        } else {
            throw std::runtime_error("a table key that is not a string or an integer");
        }
        if ((bytes += key.size()) > kMaxOutputBytes) throw std::runtime_error("too large (limit 16 MiB)");
        obj[key] = to_json(L, -1, depth + 1, values, bytes);
        lua_pop(L, 1);
    }
    return obj;
}

// ------------------------------------------------------------------------------------------------
// Worker processes (designs A and B): length-prefixed JSON over a socketpair
// ------------------------------------------------------------------------------------------------

constexpr std::size_t kMaxFrame = 64u << 20;

bool send_frame(int fd, std::string_view body) {
    std::string frame(4 + body.size(), '\0');
    const auto n = static_cast<std::uint32_t>(body.size());
    std::memcpy(frame.data(), &n, 4);
    std::memcpy(frame.data() + 4, body.data(), body.size());
    const char* p = frame.data();
    std::size_t left = frame.size();
    while (left > 0) {
        const ssize_t w = ::send(fd, p, left, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        left -= static_cast<std::size_t>(w);
    }
    return true;
}

class FrameReader {
public:
    enum class Status { ok, timeout, closed, error };

    void reset(int fd) {
        fd_ = fd;
        buf_.clear();
        pos_ = 0;
    }

    // deadline_ns < 0: wait as long as it takes.
    Status read(std::string& out, std::int64_t deadline_ns) {
        for (;;) {
            const std::size_t avail = buf_.size() - pos_;
            if (avail >= 4) {
                std::uint32_t n = 0;
                std::memcpy(&n, buf_.data() + pos_, 4);
                if (n > kMaxFrame) return Status::error;
                if (avail - 4 >= n) {
                    out.assign(buf_.data() + pos_ + 4, n);
                    pos_ += 4 + n;
                    if (pos_ == buf_.size()) {
                        buf_.clear();
                        pos_ = 0;
                    }
                    return Status::ok;
                }
            }
            if (deadline_ns >= 0) {
                const std::int64_t left = deadline_ns - mono_ns();
                if (left <= 0) return Status::timeout;
                pollfd pfd{fd_, POLLIN, 0};
                const timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
                const int r = ppoll(&pfd, 1, &ts, nullptr);
                if (r == 0) return Status::timeout;
                if (r < 0) {
                    if (errno == EINTR) continue;
                    return Status::error;
                }
            }
            char tmp[16384];
            const ssize_t r = ::read(fd_, tmp, sizeof tmp);
            if (r == 0) return Status::closed;
            if (r < 0) {
                if (errno == EINTR) continue;
                return Status::error;
            }
            buf_.append(tmp, static_cast<std::size_t>(r));
        }
    }

private:
    int fd_ = -1;
    std::string buf_;
    std::size_t pos_ = 0;
};

struct WorkerOptions {
    Limits limits;                            // the sandbox inside the worker
    std::size_t address_space = 256u << 20;   // RLIMIT_AS; 0 = none
    int cpu_seconds = 1;                      // RLIMIT_CPU soft limit re-armed per request: used + 1 + this
    double timeout_s = 1.0;                   // the supervisor's wall-clock timeout per request
};

long vm_size_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmSize:", 0) == 0) return std::strtol(line.c_str() + 7, nullptr, 10);
    return -1;
}

// Request {"s": [script, ...], "i": input}: runs the scripts in order, each one's output the next
// one's input. Reply {"o": [output, ...]}, or {"e": message, "k": failed index, "o": outputs so far}.
std::string handle_request(Sandbox& sb, std::string_view msg) {
    boost::system::error_code ec;
    json::value req = json::parse(msg, ec);
    if (ec || !req.is_object()) return R"({"e":"bad request","k":-1})";
    json::object& o = req.get_object();
    const json::value* scripts = o.if_contains("s");
    const json::value* input = o.if_contains("i");
    if (scripts == nullptr || !scripts->is_array() || input == nullptr) return R"({"e":"bad request","k":-1})";
    const json::array& list = scripts->get_array();
    json::object reply;
    reply.reserve(3);  // `outputs` must not move when "e" and "k" are added
    json::array& outputs = reply["o"].emplace_array();
    outputs.reserve(list.size());
    const json::value* in = input;
    std::string error;
    for (std::size_t k = 0; k < list.size(); ++k) {
        if (!list[k].is_string()) return R"({"e":"bad request","k":-1})";
        const json::string& src = list[k].get_string();
        json::value& out = outputs.emplace_back(nullptr);
        if (!sb.run(std::string_view(src.data(), src.size()), *in, out, error)) {
            outputs.pop_back();
            reply["e"] = error;
            reply["k"] = k;
            break;
        }
        in = &out;
    }
    return json::serialize(reply);
}

int worker_main(int fd, const WorkerOptions& opt) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (opt.address_space > 0) {
        const rlimit as{opt.address_space, opt.address_space};
        setrlimit(RLIMIT_AS, &as);
    }
    rlimit cpu{};
    getrlimit(RLIMIT_CPU, &cpu);

    Sandbox sb(opt.limits);
    FrameReader reader;
    reader.reset(fd);
    if (!send_frame(fd, R"({"ready":true,"vm_kib":)" + std::to_string(vm_size_kib()) + "}")) return 1;
    std::string msg;
    while (reader.read(msg, -1) == FrameReader::Status::ok) {
        if (opt.cpu_seconds > 0) {  // RLIMIT_CPU counts the process's whole life: re-arm per request
            const std::int64_t used_s = clock_ns(CLOCK_PROCESS_CPUTIME_ID) / 1'000'000'000;
            cpu.rlim_cur = static_cast<rlim_t>(used_s + 1 + opt.cpu_seconds);
            setrlimit(RLIMIT_CPU, &cpu);
        }
        std::string reply;
        try {
            reply = handle_request(sb, msg);
        } catch (const std::exception& e) {  // e.g. std::bad_alloc under RLIMIT_AS
            reply = json::serialize(json::object{{"e", std::string("worker: ") + e.what()}, {"k", -1}});
        }
        if (!send_frame(fd, reply)) return 1;
    }
    return 0;
}

std::string describe_status(int status) {
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        return std::string(sig == SIGKILL ? "SIGKILL" : sig == SIGXCPU ? "SIGXCPU" : strsignal(sig));
    }
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    return "?";
}

// The supervisor's handle on one worker process.
class Worker {
public:
    enum class Outcome { ok, timeout, died };

    explicit Worker(WorkerOptions opt) : opt_(opt) {}
    ~Worker() { stop(); }
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // fork + exec of this binary in worker mode; waits for its "ready" frame.
    void start() {
        const std::int64_t t0 = mono_ns();
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair failed");
        std::vector<std::string> args = {
            "bench_lua_sandbox", "--worker", std::to_string(sv[1]),
            "--mem", std::to_string(opt_.limits.memory_bytes),
            "--insn", std::to_string(opt_.limits.instructions),
            "--wall-ns", std::to_string(opt_.limits.wall_ns),
            "--as", std::to_string(opt_.address_space),
            "--cpu", std::to_string(opt_.cpu_seconds)};
        if (opt_.limits.budgeted_c_functions) args.emplace_back("--budgeted");
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const pid_t pid = fork();
        if (pid < 0) throw std::runtime_error("fork failed");
        if (pid == 0) {
            fcntl(sv[1], F_SETFD, 0);  // the worker's end survives exec; nothing else does
            execv("/proc/self/exe", argv.data());
            _exit(127);
        }
        close(sv[1]);
        pid_ = pid;
        fd_ = sv[0];
        reader_.reset(fd_);
        std::string ready;
        if (reader_.read(ready, mono_ns() + 5'000'000'000LL) != FrameReader::Status::ok) {
            stop();
            throw std::runtime_error("worker did not start");
        }
        const json::value v = json::parse(ready);
        vm_kib_ = v.at("vm_kib").as_int64();
        start_ms_ = ms_since(t0);
    }

    void stop() {
        if (fd_ >= 0) close(fd_);
        fd_ = -1;
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            int status = 0;
            waitpid(pid_, &status, 0);
        }
        pid_ = -1;
    }

    // One request. On a timeout the worker is SIGKILLed; on a timeout or a death it is reaped and
    // replaced (detail() says how it ended, respawn_ms() how long the replacement took).
    Outcome call(std::string_view request, std::string& reply) {
        const std::int64_t t0 = mono_ns();
        const std::int64_t deadline = opt_.timeout_s > 0 ? t0 + static_cast<std::int64_t>(opt_.timeout_s * 1e9) : -1;
        FrameReader::Status st = FrameReader::Status::error;
        if (send_frame(fd_, request)) st = reader_.read(reply, deadline);
        if (st == FrameReader::Status::ok) return Outcome::ok;
        int status = 0;
        if (st == FrameReader::Status::timeout) kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        stopped_ms_ = ms_since(t0);
        detail_ = (st == FrameReader::Status::timeout ? "killed by the supervisor's timeout ("
                                                      : "died on its own (") + describe_status(status) + ")";
        close(fd_);
        fd_ = -1;
        pid_ = -1;
        start();
        respawn_ms_ = start_ms_;
        return st == FrameReader::Status::timeout ? Outcome::timeout : Outcome::died;
    }

    pid_t pid() const { return pid_; }
    long vm_kib() const { return vm_kib_; }
    double start_ms() const { return start_ms_; }
    double stopped_ms() const { return stopped_ms_; }
    double respawn_ms() const { return respawn_ms_; }
    const std::string& detail() const { return detail_; }
    const WorkerOptions& options() const { return opt_; }

private:
    WorkerOptions opt_;
    pid_t pid_ = -1;
    int fd_ = -1;
    FrameReader reader_;
    long vm_kib_ = 0;
    double start_ms_ = 0, stopped_ms_ = 0, respawn_ms_ = 0;
    std::string detail_;
};

std::string quoted(std::string_view s) { return json::serialize(json::value(json::string_view(s.data(), s.size()))); }

std::string make_request(const std::vector<std::string_view>& scripts, const json::value& input) {
    std::string req = R"({"s":[)";
    for (std::size_t i = 0; i < scripts.size(); ++i) {
        if (i > 0) req += ',';
        req += quoted(scripts[i]);
    }
    req += R"(],"i":)";
    req += json::serialize(input);
    req += '}';
    return req;
}

// ------------------------------------------------------------------------------------------------
// Scripts and payload
// ------------------------------------------------------------------------------------------------

constexpr std::string_view kEcho = "local b = input; b.echoed = true; return b";
constexpr std::string_view kStep = "input.n = input.n + 1; return input";
constexpr std::string_view kPatternScript =
    "local u, d = input.customer.email:match('^([%w%.]+)@([%w%.]+)$'); "
    "input.user = u; input.domain = d; return input";
constexpr std::string_view kCallsScript =  // ~2,000 Lua calls: what the clock check on calls costs
    "local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end "
    "input.fib = fib(15); return input";
constexpr int kChainLength = 10;
constexpr double kTargetChainsPerSecond = 15'500;

const json::value& small_input() {
    static const json::value v = json::parse(R"({"n":0})");
    return v;
}

const json::value& payload() {
    static const json::value v = json::parse(
        R"({"id":"evt_01HZX3K9","type":"order.created","amount":1299,"currency":"EUR",)"
        R"("customer":{"id":"cus_42","email":"alice@example.com"},)"
        R"("items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"n":0})");
    return v;
}

std::string pathological_pattern_script(int n) {
    return "return string.find(string.rep('a', " + std::to_string(n) + "), string.rep('a?', " +
           std::to_string(n) + ") .. string.rep('a', " + std::to_string(n) + "))";
}

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "bench_lua_sandbox: %s\n", msg.c_str());
    std::exit(2);
}

// ------------------------------------------------------------------------------------------------
// Running something that may not stop: in a forked child, killed after a timeout
// ------------------------------------------------------------------------------------------------

struct ChildOutcome {
    bool finished = false;  // false: still running at the timeout, SIGKILLed
    double ms = 0;          // until the result arrived or the child was killed
    std::string text;       // what the child wrote
};

ChildOutcome run_in_child(double timeout_s, const std::function<std::string()>& fn) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) die("pipe2 failed");
    std::fflush(stdout);
    const std::int64_t t0 = mono_ns();
    const pid_t pid = fork();
    if (pid < 0) die("fork failed");
    if (pid == 0) {
        close(p[0]);
        std::string r;
        try {
            r = fn();
        } catch (const std::exception& e) {
            r = std::string("exception: ") + e.what();
        }
        const char* d = r.data();
        std::size_t left = r.size();
        while (left > 0) {
            const ssize_t w = write(p[1], d, left);
            if (w <= 0) break;
            d += w;
            left -= static_cast<std::size_t>(w);
        }
        _exit(0);
    }
    close(p[1]);
    ChildOutcome out;
    const std::int64_t deadline = t0 + static_cast<std::int64_t>(timeout_s * 1e9);
    for (;;) {
        const std::int64_t left = deadline - mono_ns();
        if (left <= 0) break;
        pollfd pfd{p[0], POLLIN, 0};
        const timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
        const int r = ppoll(&pfd, 1, &ts, nullptr);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        char buf[4096];
        const ssize_t n = read(p[0], buf, sizeof buf);
        if (n <= 0) {
            out.finished = true;
            break;
        }
        out.text.append(buf, static_cast<std::size_t>(n));
    }
    if (!out.finished) kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    out.ms = ms_since(t0);
    close(p[0]);
    return out;
}

// One in-process sandbox: design C (the Sandbox above) or C' (the product: an sb::ScriptRunner,
// which may be shared by several boxes, as the engine's threads share one).
class InProcessBox {
public:
    explicit InProcessBox(const Limits& limits) : sandbox_(std::make_unique<Sandbox>(limits)) {}
    explicit InProcessBox(std::shared_ptr<sb::ScriptRunner> runner, sb::ScriptLimits limits = product_limits())
        : runner_(std::move(runner)), limits_(limits) {}

    // As Sandbox::run. C' errors read "STATUS: message", e.g. "cpu_limit: CPU time limit exceeded (400 ms)".
    bool run(std::string_view source, const json::value& input, json::value& output, std::string& error) {
        if (sandbox_) return sandbox_->run(source, input, output, error);
        sb::ScriptResult r = runner_->run(source, input, limits_);
        if (!r.ok()) {
            error = std::string(sb::to_string(r.status)) + ": " + r.error;
            return false;
        }
        output = std::move(r.output);
        return true;
    }
    bool product() const { return runner_ != nullptr; }
    std::size_t memory_in_use() const { return sandbox_ ? sandbox_->memory_in_use() : 0; }

private:
    std::unique_ptr<Sandbox> sandbox_;
    std::shared_ptr<sb::ScriptRunner> runner_;
    sb::ScriptLimits limits_;
};

// budgeted: design C' (the product), else C.
std::unique_ptr<InProcessBox> make_box(bool budgeted) {
    if (budgeted) return std::make_unique<InProcessBox>(std::make_shared<sb::ScriptRunner>(1));
    return std::make_unique<InProcessBox>(Limits{});
}

struct ScriptResult {
    bool ok = false;
    double ms = 0;
    std::string message;  // the error, or the serialized output
};

ScriptResult timed_run(InProcessBox& box, std::string_view src, const json::value& input) {
    ScriptResult r;
    json::value out;
    const std::int64_t t0 = mono_ns();
    r.ok = box.run(src, input, out, r.message);
    r.ms = ms_since(t0);
    if (r.ok) r.message = json::serialize(out);
    return r;
}

std::string encode(const ScriptResult& r) {
    return json::serialize(json::object{{"ok", r.ok}, {"ms", r.ms}, {"m", r.message}});
}
ScriptResult decode(const std::string& s) {
    ScriptResult r;
    boost::system::error_code ec;
    const json::value v = json::parse(s, ec);
    if (ec || !v.is_object()) {
        r.message = s.empty() ? "(no result)" : s;
        return r;
    }
    r.ok = v.at("ok").as_bool();
    r.ms = v.at("ms").to_number<double>();
    r.message = std::string(v.at("m").as_string());
    return r;
}

std::string shorten(std::string s, std::size_t n = 70) {
    if (s.size() > n) s = s.substr(0, n - 3) + "...";
    return s;
}

// ------------------------------------------------------------------------------------------------
// Safety demonstrations
// ------------------------------------------------------------------------------------------------

struct DemoLine {
    std::string design;
    std::string what;
    bool pass;
    std::string time;
    std::string detail;
};

std::vector<DemoLine> g_demos;

void record(std::string design, std::string what, bool pass, std::string time, std::string detail) {
    std::printf("  %-4s %-44s %s  %9s  %s\n", design.c_str(), shorten(what, 44).c_str(), pass ? "PASS" : "FAIL",
                time.c_str(), detail.c_str());
    std::fflush(stdout);
    g_demos.push_back({std::move(design), std::move(what), pass, std::move(time), std::move(detail)});
}

std::string fmt_ms(double ms) {
    char buf[32];
    if (ms >= 1000)
        std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000);
    else if (ms >= 10)
        std::snprintf(buf, sizeof buf, "%.0f ms", ms);
    else
        std::snprintf(buf, sizeof buf, "%.2f ms", ms);
    return buf;
}

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

struct Options {
    double seconds = 2.0;
    int rounds = 3;
    int pattern_n = 30;
    double unbounded_timeout_s = 10.0;
    double demo_cap_s = 2.0;
    bool bench = true;
    bool demos = true;
    bool pin = false;        // pin thread i (and worker i) to CPU i
    std::string filter;      // run only the measurements whose label contains this
};

const std::vector<std::pair<std::string, std::string>>& forbidden_scripts() {
    static const std::vector<std::pair<std::string, std::string>> v = {
        {"os.execute", "return os.execute('id')"},
        {"io.open", "return io.open('/etc/passwd')"},
        {"require", "return require('os')"},
        {"load", "return load('return 1')"},
        {"debug.getinfo", "return debug.getinfo(1)"},
        {"string.dump", "return string.dump(function() end)"},
        {"dofile / loadfile", "return dofile and loadfile or loadfile('/etc/passwd')"},
        {"collectgarbage", "return collectgarbage('count')"},
        {"package", "return package.loaded"},
    };
    return v;
}

const char* kInfiniteLoop = "while true do end";
const char* kMemoryBomb = "local t = {} for i=1,1e9 do t[i] = string.rep('x', 1024) end";
const char* kRepEmpty = "return #string.rep('', 2^50)";
const char* kMoveEmpty = "return #table.move({}, 1, 2^40, 2)";
// Lua's plain find is memchr + memcmp at every candidate position: O(n*m).
const char* kPlainFind = "local s = string.rep('a', 4e6) return string.find(s, string.rep('a', 2e6) .. 'b', 1, true)";
// Few instructions, each one a C call of ~100 ms (sorting 400k integers, within the 16 MiB cap).
const char* kSortLoop =
    "local t = {} for i = 1, 4e5 do t[i] = (i * 7919) % 1000003 end while true do table.sort(t) end";
// Few instructions, each one a 4 MB string comparison: the instruction count is not a CPU
// measure; the wall-clock check in the hook is what stops this.
const char* kCostlyInstructions =
    "local a = string.rep('x', 4e6) .. 'a' local b = string.rep('x', 4e6) .. 'b' "
    "local n = 0 while true do if a < b then n = n + 1 end end";

struct Escape {
    std::string what;
    std::string script;
    std::string expect;  // a substring of the expected error ("" = any error)
};

const std::vector<Escape>& escape_scripts() {
    static const std::vector<Escape> v = {
        {"string.find = nil (shared library)", "string.find = nil return 1", "read-only"},
        {"rawset(string, 'find', nil)", "rawset(string, 'find', nil) return 1", "read-only"},
        {"getmetatable('').__index.find = nil", "getmetatable('').__index.find = nil return 1", ""},
        {"setmetatable with __gc", "setmetatable({}, {__gc = function() while true do end end}) return 1", "__gc"},
        {"pcall swallowing the limit", "while true do pcall(function() while true do end end) end", "limit exceeded"},
        {"output explosion (t = {t, t} x 40)", "local t = {} for i = 1, 40 do t = {t, t} end return t", "output"},
        {"4 MB string compare per instruction", kCostlyInstructions, "limit exceeded"},  // by a clock
        {"loop of table.sort(400k integers)", kSortLoop, "limit exceeded"},
    };
    return v;
}


// A limit is respected when the call stops within twice the wall-clock limit.
bool in_time(double ms) { return ms <= 2 * static_cast<double>(Limits{}.wall_ns) / 1e6; }

// In-process designs C and C': every demonstration runs in a forked child (so a demonstration
// that is not stopped cannot hang the bench) and is killed after `cap` seconds.
void demos_in_process(bool budgeted, const Options& opt) {
    const std::string design = budgeted ? "C'" : "C";
    auto one = [&](std::string_view src) {
        const ChildOutcome c = run_in_child(opt.demo_cap_s, [&] {
            const auto box = make_box(budgeted);
            return encode(timed_run(*box, src, payload()));
        });
        return std::make_pair(c, decode(c.text));
    };
    auto not_stopped = [&](const std::string& what, const ChildOutcome& c) {
        record(design, what, false, "-", "NOT stopped by the hook: still running after " + fmt_ms(c.ms) + ", killed from outside");
    };

    {
        auto [c, r] = one(kInfiniteLoop);
        if (!c.finished) not_stopped("infinite loop", c);
        else record(design, "infinite loop", !r.ok && contains(r.message, "limit exceeded") && in_time(r.ms), fmt_ms(r.ms), shorten(r.message, 60));
    }
    {
        const ChildOutcome c = run_in_child(opt.demo_cap_s, [&] {
            const auto box = make_box(budgeted);
            const ScriptResult bomb = timed_run(*box, kMemoryBomb, payload());
            const ScriptResult after = timed_run(*box, kEcho, payload());
            return json::serialize(json::object{{"bomb", encode(bomb)}, {"after", after.ok}, {"kib", box->memory_in_use() / 1024}});
        });
        if (!c.finished) {
            not_stopped("memory bomb", c);
        } else {
            const json::value v = json::parse(c.text);
            const ScriptResult r = decode(std::string(v.at("bomb").as_string()));
            const bool reused = v.at("after").as_bool();
            // C reuses the state; C' (the product) discards a state after a limit and the next call
            // runs on another one.
            const bool refused = contains(r.message, "not enough memory") || contains(r.message, "memory_limit");
            const std::string after = budgeted ? (reused ? "; next call OK (state replaced)" : "; next call FAILED")
                                               : (reused ? "; state reused OK (" : "; state broken (") +
                                                     std::to_string(v.at("kib").as_int64()) + " KiB after)";
            record(design, "memory bomb (16 MiB allocator cap)", !r.ok && refused && reused, fmt_ms(r.ms),
                   shorten(r.message, budgeted ? 42 : 30) + after);
        }
    }
    {
        const ChildOutcome c = run_in_child(opt.demo_cap_s, [&] {
            const auto box = make_box(budgeted);
            json::array res;
            for (const auto& [what, src] : forbidden_scripts()) res.push_back(json::value(encode(timed_run(*box, src, payload()))));
            return json::serialize(res);
        });
        int refused = 0;
        std::string first, allowed;
        double worst = 0;
        if (c.finished) {
            const json::array a = json::parse(c.text).as_array();
            for (std::size_t i = 0; i < a.size(); ++i) {
                const ScriptResult r = decode(std::string(a[i].as_string()));
                worst = std::max(worst, r.ms);
                if (!r.ok) {
                    ++refused;
                    if (first.empty()) first = r.message;
                } else {
                    allowed += forbidden_scripts()[i].first + " ";
                }
            }
        }
        const int total = static_cast<int>(forbidden_scripts().size());
        record(design, "os/io/require/load/debug/string.dump/...", refused == total, fmt_ms(worst),
               std::to_string(refused) + "/" + std::to_string(total) + " refused" +
                   (allowed.empty() ? ", e.g. " + shorten(first, 46) : "; ALLOWED: " + allowed));
    }
    for (const Escape& e : escape_scripts()) {
        auto [c, r] = one(e.script);
        if (!c.finished) not_stopped(e.what, c);
        else record(design, e.what, !r.ok && contains(r.message, e.expect) && in_time(r.ms), fmt_ms(r.ms),
                    shorten(r.ok ? "ALLOWED" : r.message, 60) + (in_time(r.ms) ? "" : " (TOO LATE)"));
    }
    {
        const ChildOutcome c = run_in_child(opt.demo_cap_s, [&] {
            const auto box = make_box(budgeted);
            const ScriptResult a = timed_run(*box, "leak = 42 return 1", payload());
            const ScriptResult b = timed_run(*box, "return leak == nil", payload());
            return std::string(a.ok && b.ok && b.message == "true" ? "clean" : "LEAKED");
        });
        record(design, "globals do not leak between calls", c.text == "clean", "-", c.text);
    }
    const std::string pat = pathological_pattern_script(opt.pattern_n);
    for (const auto& [what, src] : std::vector<std::pair<std::string, std::string>>{
             {"pathological pattern (n=" + std::to_string(opt.pattern_n) + ")", pat},
             {"string.rep('', 2^50)", kRepEmpty},
             {"table.move({}, 1, 2^40, 2)", kMoveEmpty},
             {"plain string.find, 4 MB in 2 MB (O(n*m))", kPlainFind}}) {
        // Safe when it ends in time: stopped by a limit, or (C' string.rep) simply done.
        auto [c, r] = one(src);
        if (!c.finished) not_stopped(what, c);
        else record(design, what, in_time(r.ms), fmt_ms(r.ms),
                    shorten(r.ok ? "completed: returned " + r.message : "stopped: " + r.message, 60) + (in_time(r.ms) ? "" : " (TOO LATE)"));
    }
}

// Worker designs A and B (B sends the same scripts to the same workers, only batched).
void demos_worker(const Options& opt) {
    const std::string design = "A/B";
    WorkerOptions wo;
    wo.timeout_s = 1.0;
    Worker w(wo);
    w.start();
    std::printf("  (worker: fork+exec %s, VmSize %ld KiB, RLIMIT_AS %zu MiB, RLIMIT_CPU +%d s/request, supervisor timeout %.1f s)\n",
                fmt_ms(w.start_ms()).c_str(), w.vm_kib(), wo.address_space >> 20, wo.cpu_seconds, wo.timeout_s);

    auto call = [](Worker& wk, std::string_view src, std::string& reply, double& ms) {
        const std::int64_t t0 = mono_ns();
        const Worker::Outcome o = wk.call(make_request({src}, payload()), reply);
        ms = ms_since(t0);
        return o;
    };
    auto error_of = [](const std::string& reply) -> std::string {
        boost::system::error_code ec;
        const json::value v = json::parse(reply, ec);
        if (ec || !v.is_object() || !v.as_object().contains("e")) return "";
        return std::string(v.at("e").as_string());
    };
    auto echo_works = [&](Worker& wk) {
        std::string reply;
        double ms = 0;
        return call(wk, kEcho, reply, ms) == Worker::Outcome::ok && error_of(reply).empty() && contains(reply, "\"echoed\":true");
    };

    {
        const pid_t before = w.pid();
        std::string reply;
        double ms = 0;
        const Worker::Outcome o = call(w, kInfiniteLoop, reply, ms);
        const std::string e = error_of(reply);
        const bool pass = o == Worker::Outcome::ok && contains(e, "limit exceeded") && w.pid() == before;
        record(design, "infinite loop", pass, fmt_ms(ms), "hook inside the worker: " + shorten(e, 40) + "; worker survived");
    }
    {
        const pid_t before = w.pid();
        std::string reply;
        double ms = 0;
        const Worker::Outcome o = call(w, kMemoryBomb, reply, ms);
        const std::string e = error_of(reply);
        const bool survived = o == Worker::Outcome::ok && w.pid() == before;
        record(design, "memory bomb (16 MiB allocator cap)", (survived && contains(e, "not enough memory")) || o != Worker::Outcome::ok,
               fmt_ms(ms), survived ? "refused (" + shorten(e, 30) + "); worker survived" : "worker " + w.detail() + ", replaced");
    }
    {
        WorkerOptions nocap = wo;
        nocap.limits.memory_bytes = 0;
        nocap.limits.wall_ns = 5'000'000'000;  // let the address-space limit, not the clock, end it
        nocap.limits.instructions = 2'000'000'000;
        nocap.timeout_s = 10;
        nocap.cpu_seconds = 10;
        Worker w2(nocap);
        w2.start();
        const pid_t before = w2.pid();
        std::string reply;
        double ms = 0;
        const Worker::Outcome o = call(w2, kMemoryBomb, reply, ms);
        const std::string e = error_of(reply);
        const bool survived = o == Worker::Outcome::ok && w2.pid() == before;
        const bool works = echo_works(w2);
        record(design, "memory bomb, no allocator cap: RLIMIT_AS", (survived || o != Worker::Outcome::ok) && works, fmt_ms(ms),
               (survived ? (contains(e, "not enough memory") ? "malloc failed at RLIMIT_AS (" : "stopped otherwise (") +
                               shorten(e, 30) + "); worker survived"
                         : "worker " + w2.detail() + ", replaced in " + fmt_ms(w2.respawn_ms())) +
                   (works ? "" : "; then BROKEN"));
    }
    {
        int refused = 0;
        double worst = 0;
        std::string allowed;
        for (const auto& [what, src] : forbidden_scripts()) {
            std::string reply;
            double ms = 0;
            if (call(w, src, reply, ms) == Worker::Outcome::ok && !error_of(reply).empty()) ++refused;
            else allowed += what + " ";
            worst = std::max(worst, ms);
        }
        const int total = static_cast<int>(forbidden_scripts().size());
        record(design, "os/io/require/load/debug/string.dump/...", refused == total, fmt_ms(worst),
               std::to_string(refused) + "/" + std::to_string(total) + " refused (same sandbox as C)" + (allowed.empty() ? "" : "; ALLOWED: " + allowed));
    }
    {
        const pid_t before = w.pid();
        std::string reply;
        double ms = 0;
        const Worker::Outcome o = call(w, pathological_pattern_script(opt.pattern_n), reply, ms);
        const bool replaced = o == Worker::Outcome::timeout && w.pid() != before && w.pid() > 0;
        const bool works = replaced && echo_works(w);
        record(design, "pathological pattern (n=" + std::to_string(opt.pattern_n) + ")", works, fmt_ms(w.stopped_ms()),
               "worker " + w.detail() + "; new worker in " + fmt_ms(w.respawn_ms()) + (works ? ", answers" : ", BROKEN"));
    }
    {
        // Batched (B): the pattern is step 5 of a 10-script run; the whole batch is lost.
        std::vector<std::string_view> scripts(kChainLength, kStep);
        const std::string pat = pathological_pattern_script(opt.pattern_n);
        scripts[4] = pat;
        const pid_t before = w.pid();
        std::string reply;
        const Worker::Outcome o = w.call(make_request(scripts, payload()), reply);
        const bool replaced = o == Worker::Outcome::timeout && w.pid() != before && echo_works(w);
        record("B", "pattern as step 5 of a 10-script batch", replaced, fmt_ms(w.stopped_ms()),
               "worker " + w.detail() + "; steps 1-4 lost with it, new worker in " + fmt_ms(w.respawn_ms()));
    }
    for (const auto& [what, src] : std::vector<std::pair<std::string, std::string>>{
             {"string.rep('', 2^50)", kRepEmpty}, {"table.move({}, 1, 2^40, 2)", kMoveEmpty},
             {"plain string.find, 4 MB in 2 MB (O(n*m))", kPlainFind},
             {"loop of table.sort(400k integers)", kSortLoop}}) {
        const pid_t before = w.pid();
        std::string reply;
        double ms = 0;
        const Worker::Outcome o = call(w, src, reply, ms);
        const bool ok = o != Worker::Outcome::ok ? (w.pid() != before && echo_works(w)) : true;
        record(design, what, ok, fmt_ms(o == Worker::Outcome::ok ? ms : w.stopped_ms()),
               o == Worker::Outcome::ok ? shorten(error_of(reply).empty() ? "completed: " + reply : error_of(reply), 60)
                                        : "worker " + w.detail() + "; new worker in " + fmt_ms(w.respawn_ms()));
    }
    {
        // The RLIMIT_CPU backstop alone: no supervisor timeout.
        WorkerOptions cpu_only = wo;
        cpu_only.timeout_s = 30;
        Worker w3(cpu_only);
        w3.start();
        const pid_t before = w3.pid();
        std::string reply;
        const Worker::Outcome o = w3.call(make_request({pathological_pattern_script(opt.pattern_n)}, payload()), reply);
        const bool pass = o == Worker::Outcome::died && w3.pid() != before && contains(w3.detail(), "SIGXCPU") && echo_works(w3);
        record(design, "pattern, supervisor timeout off: RLIMIT_CPU", pass, fmt_ms(w3.stopped_ms()),
               "worker " + w3.detail() + "; new worker in " + fmt_ms(w3.respawn_ms()));
    }
}

// How long the pathological pattern runs with nothing to stop it.
void measure_unbounded(const Options& opt) {
    Limits unlimited;
    unlimited.instructions = UINT64_MAX / 2;
    unlimited.wall_ns = INT64_MAX / 4;
    unlimited.memory_bytes = 0;
    std::printf("  Lua's string.find(string.rep('a', n), string.rep('a?', n) .. string.rep('a', n)), nothing to stop it:\n   ");
    double last_ms = 0;
    int last_n = 0;
    for (int n = 16; n <= 24; n += 2) {
        const ChildOutcome c = run_in_child(30, [&] {
            InProcessBox box(unlimited);
            return encode(timed_run(box, pathological_pattern_script(n), payload()));
        });
        const ScriptResult r = decode(c.text);
        std::printf(" n=%d: %s;", n, c.finished ? fmt_ms(r.ms).c_str() : "> 30 s");
        std::fflush(stdout);
        if (!c.finished) break;
        last_ms = r.ms;
        last_n = n;
    }
    const ChildOutcome c = run_in_child(opt.unbounded_timeout_s, [&] {
        InProcessBox box(unlimited);
        return encode(timed_run(box, pathological_pattern_script(opt.pattern_n), payload()));
    });
    const ScriptResult r = decode(c.text);
    const double est_s = last_n > 0 ? last_ms / 1000 * std::pow(2.0, opt.pattern_n - last_n) : 0;
    if (c.finished)
        std::printf(" n=%d: %s (the demonstrations use n=%d)\n", opt.pattern_n, fmt_ms(r.ms).c_str(), opt.pattern_n);
    else
        std::printf(" n=%d: still running after %.0f s, killed (x2 per +1 n => ~%.0f s; the demonstrations use n=%d)\n",
                    opt.pattern_n, c.ms / 1000, est_s, opt.pattern_n);
}

// ------------------------------------------------------------------------------------------------
// Throughput
// ------------------------------------------------------------------------------------------------

struct Rate {
    double per_s = 0;      // operations per second (sum over threads)
    double cpu_us = 0;     // CPU per operation: the calling threads + the worker processes
    double lo = 0, hi = 0; // spread over the rounds
    double other_pct = 0;  // CPU used by everything else on the machine, % of all cores
    double steal_pct = 0;  // CPU stolen by the hypervisor, % of all cores
};

// /proc/stat's aggregate line, in clock ticks.
struct SystemTicks {
    long long busy = 0, total = 0, steal = 0;
};
SystemTicks system_ticks() {
    std::ifstream in("/proc/stat");
    std::string cpu;
    long long v[10] = {};
    in >> cpu;
    for (long long& x : v) in >> x;
    SystemTicks t;
    for (long long x : v) t.total += x;
    t.total -= v[8] + v[9];           // guest time is already counted in user time
    t.busy = t.total - v[3] - v[4];   // minus idle and iowait
    t.steal = v[7];
    return t;
}

void pin_to_cpu(pid_t pid, int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(pid, sizeof set, &set);
}

// Runs `ops.size()` threads, each calling its op in a loop; 0.3 s warm-up, then `seconds` measured.
// pin: thread i runs on CPU i (and, for the workers, so does worker i).
Rate measure_once(std::vector<std::function<void()>>& ops, double seconds, const std::vector<pid_t>& workers, bool pin) {
    std::atomic<int> phase{0};
    std::vector<std::uint64_t> count(ops.size(), 0);
    std::vector<std::int64_t> cpu(ops.size(), 0);
    std::vector<std::thread> threads;
    const int ncpu = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
    for (std::size_t i = 0; i < ops.size(); ++i) {
        threads.emplace_back([&, i] {
            if (pin) pin_to_cpu(0, static_cast<int>(i) % ncpu);
            while (phase.load(std::memory_order_relaxed) == 0) ops[i]();
            const std::int64_t c0 = thread_cpu_ns();
            std::uint64_t n = 0;
            while (phase.load(std::memory_order_relaxed) == 1) {
                ops[i]();
                ++n;
            }
            cpu[i] = thread_cpu_ns() - c0;
            count[i] = n;
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::int64_t w0 = 0;
    for (pid_t p : workers) w0 += process_cpu_ns(p);
    const SystemTicks s0 = system_ticks();
    const std::int64_t main0 = thread_cpu_ns();
    const std::int64_t t0 = mono_ns();
    phase = 1;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    phase = 2;
    const std::int64_t t1 = mono_ns();
    const SystemTicks s1 = system_ticks();
    const std::int64_t main1 = thread_cpu_ns();
    std::int64_t w1 = 0;
    for (pid_t p : workers) w1 += process_cpu_ns(p);
    for (std::thread& t : threads) t.join();
    std::uint64_t total = 0;
    std::int64_t total_cpu = w1 - w0;
    for (std::size_t i = 0; i < ops.size(); ++i) {
        total += count[i];
        total_cpu += cpu[i];
    }
    Rate r;
    r.per_s = static_cast<double>(total) / (static_cast<double>(t1 - t0) / 1e9);
    r.cpu_us = total > 0 ? static_cast<double>(total_cpu) / 1e3 / static_cast<double>(total) : 0;
    const double tick_ns = 1e9 / static_cast<double>(sysconf(_SC_CLK_TCK));
    const double all_ns = static_cast<double>(s1.total - s0.total) * tick_ns;
    if (all_ns > 0) {
        const double own_ns = static_cast<double>(total_cpu + (main1 - main0));
        r.other_pct = std::max(0.0, 100.0 * (static_cast<double>(s1.busy - s0.busy) * tick_ns - own_ns) / all_ns);
        r.steal_pct = 100.0 * static_cast<double>(s1.steal - s0.steal) * tick_ns / all_ns;
    }
    return r;
}

Rate measure(std::vector<std::function<void()>>& ops, const Options& opt, const std::vector<pid_t>& workers = {}) {
    std::vector<Rate> rs;
    for (int i = 0; i < opt.rounds; ++i) rs.push_back(measure_once(ops, opt.seconds, workers, opt.pin));
    std::sort(rs.begin(), rs.end(), [](const Rate& a, const Rate& b) { return a.per_s < b.per_s; });
    Rate med = rs[rs.size() / 2];
    med.lo = rs.front().per_s;
    med.hi = rs.back().per_s;
    return med;
}

void check(bool ok, const std::string& what, const std::string& err) {
    if (!ok) die(what + " failed: " + err);
}

std::function<void()> in_process_op(InProcessBox& box, std::string_view kind) {
    if (kind == "echo") {
        return [&box] {
            json::value out;
            std::string err;
            check(box.run(kEcho, payload(), out, err), "echo", err);
        };
    }
    if (kind == "pattern" || kind == "calls") {
        const std::string_view src = kind == "pattern" ? kPatternScript : kCallsScript;
        return [&box, src] {
            json::value out;
            std::string err;
            check(box.run(src, payload(), out, err), "script", err);
        };
    }
    const json::value* input = kind == "chain-small" ? &small_input() : &payload();
    return [&box, input] {
        json::value v = *input;
        std::string err;
        for (int k = 0; k < kChainLength; ++k) {
            json::value out;
            check(box.run(kStep, v, out, err), "chain step", err);
            v = std::move(out);
        }
        if (v.at("n").as_int64() != kChainLength) die("chain: wrong result");
    };
}

// C: one Sandbox per thread. C': the threads share one ScriptRunner (a pool of `threads` states).
Rate bench_in_process(bool budgeted, int threads, std::string_view kind, const Options& opt) {
    const auto runner = budgeted ? std::make_shared<sb::ScriptRunner>(static_cast<std::size_t>(threads)) : nullptr;
    std::vector<std::unique_ptr<InProcessBox>> boxes;
    std::vector<std::function<void()>> ops;
    for (int i = 0; i < threads; ++i) {
        boxes.push_back(budgeted ? std::make_unique<InProcessBox>(runner) : std::make_unique<InProcessBox>(Limits{}));
        ops.push_back(in_process_op(*boxes.back(), kind));
    }
    return measure(ops, opt);
}

json::value worker_reply_output(const std::string& reply, bool last) {
    json::value v = json::parse(reply);
    json::object& o = v.as_object();
    if (o.contains("e")) die("worker: " + std::string(o["e"].as_string()));
    json::array& outs = o["o"].as_array();
    return std::move(last ? outs.back() : outs.front());
}

// kind: "echo" (A), "chain" (A: one round trip per script), "batch" (B); "-small": input {"n":0}.
Rate bench_workers(int n, std::string_view kind, const Options& opt) {
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::function<void()>> ops;
    std::vector<pid_t> pids;
    static const std::string echo_prefix = R"({"s":[)" + quoted(kEcho) + R"(],"i":)";
    static const std::string step_prefix = R"({"s":[)" + quoted(kStep) + R"(],"i":)";
    static const std::string batch_prefix = [] {
        std::string s = R"({"s":[)";
        for (int k = 0; k < kChainLength; ++k) s += (k ? "," : "") + quoted(kStep);
        return s + R"(],"i":)";
    }();
    for (int i = 0; i < n; ++i) {
        workers.push_back(std::make_unique<Worker>(WorkerOptions{}));
        workers.back()->start();
        pids.push_back(workers.back()->pid());
        if (opt.pin) pin_to_cpu(pids.back(), i % static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))));
        Worker& w = *workers.back();
        auto roundtrip = [&w](const std::string& prefix, const json::value& in, bool last) {
            std::string req = prefix;
            req += json::serialize(in);
            req += '}';
            std::string reply;
            if (w.call(req, reply) != Worker::Outcome::ok) die("worker call: " + w.detail());
            return worker_reply_output(reply, last);
        };
        const json::value* input = kind.ends_with("-small") ? &small_input() : &payload();
        if (kind == "echo") {
            ops.emplace_back([roundtrip] { roundtrip(echo_prefix, payload(), false); });
        } else if (kind.starts_with("chain")) {
            ops.emplace_back([roundtrip, input] {
                json::value v = *input;
                for (int k = 0; k < kChainLength; ++k) v = roundtrip(step_prefix, v, false);
                if (v.at("n").as_int64() != kChainLength) die("chain: wrong result");
            });
        } else {
            ops.emplace_back([roundtrip, input] {
                const json::value v = roundtrip(batch_prefix, *input, true);
                if (v.at("n").as_int64() != kChainLength) die("batch: wrong result");
            });
        }
    }
    return measure(ops, opt, pids);
}

std::string fmt_rate(const Rate& r) {
    if (r.per_s <= 0) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f", r.per_s);
    // Thousands separators, built front to back.
    const std::string digits = buf;
    std::string s;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
        s += digits[i];
    }
    return s;
}
std::string fmt_spread(const Rate& r) {
    if (r.per_s <= 0 || r.hi <= 0) return "";
    char buf[32];
    std::snprintf(buf, sizeof buf, "±%.0f%%", 50.0 * (r.hi - r.lo) / r.per_s);
    return buf;
}

// ------------------------------------------------------------------------------------------------
// --selftest: the budgeted matcher against Lua's, on random patterns and subjects
// ------------------------------------------------------------------------------------------------

const char* kSelftestScript = R"LUA(
local cases, seed = input.cases, input.seed
math.randomseed(seed)
local tokens = {'a','b','c','.','%a','%d','%s','%w','%A','%p','[ab]','[^a]','[a-c]','[%d_]','[]]','[^]]',
  '*','+','-','?','*','+','-','?','(',')','()','%1','%2','%b()','%f[%w]','%f[%W]','^','$','%%','%.',
  'x','1',' ','%','[',']','%z','[%a-]','%b','%f','%fa','%g','%u','%l','%x','%c','[%]','[a-','a-z','%bab','%0','%3'}
local chars = {'a','b','c','(',')','1','2',' ','_','.','%','x',']','A','\0'}
local function pattern()
  local t = {}
  for i = 1, math.random(0, 7) do t[#t + 1] = tokens[math.random(#tokens)] end
  return table.concat(t)
end
local function subject()
  local t = {}
  for i = 1, math.random(0, 14) do t[#t + 1] = chars[math.random(#chars)] end
  return table.concat(t)
end
local function pack(ok, ...) return {ok = ok, n = select('#', ...), ...} end
local function same(a, b)
  if a.ok ~= b.ok then return false end
  if not a.ok then return true end        -- both raised (messages may differ)
  if a.n ~= b.n then return false end
  for i = 1, a.n do if a[i] ~= b[i] or math.type(a[i]) ~= math.type(b[i]) then return false end end
  return true
end
local function gm(f, s, p, init)
  local out, it = {}, f(s, p, init)
  for i = 1, 40 do
    local r = table.pack(it())
    if r[1] == nil then break end
    for j = 1, r.n do out[#out + 1] = tostring(r[j]) end
    out[#out + 1] = '|'
  end
  return table.concat(out, ',')
end
local repls = {'%0<%1>', '%%', '', 'x', {a = 'A', ab = false, ['1'] = 'one'},
  function(...) return select('#', ...) .. (...) end, function() return nil end, '%2', '%'}
local bad, examples = 0, {}
local function compare(name, f1, f2, ...)
  local a, b = pack(pcall(f1, ...)), pack(pcall(f2, ...))
  if not same(a, b) then
    bad = bad + 1
    if #examples < 10 then
      local args = table.pack(...)
      for i = 1, args.n do args[i] = string.format('%q', tostring(args[i])) end
      examples[#examples + 1] = name .. '(' .. table.concat(args, ', ', 1, args.n) .. ') builtin=' ..
        tostring(a[1]) .. ',' .. tostring(a[2]) .. ' budgeted=' .. tostring(b[1]) .. ',' .. tostring(b[2])
    end
  end
end
for i = 1, cases do
  local s, p = subject(), pattern()
  local init = math.random(-6, 17)
  compare('find', string.builtin_find, string.find, s, p, init)
  compare('find', string.builtin_find, string.find, s, p, init, math.random(2) == 1)
  compare('match', string.builtin_match, string.match, s, p, init)
  compare('gmatch', function(...) return gm(string.builtin_gmatch, ...) end,
                    function(...) return gm(string.gmatch, ...) end, s, p, init)
  local r = repls[math.random(#repls)]
  local maxn = math.random(4) == 1 and math.random(0, 3) or nil
  compare('gsub', string.builtin_gsub, string.gsub, s, p, r, maxn)
  local k = math.random(-1, 4)
  compare('rep', string.builtin_rep, string.rep, s, k, math.random(2) == 1 and p or nil)
  local t1, t2 = {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5}
  local f, e, d = math.random(-1, 6), math.random(-1, 6), math.random(-1, 6)
  compare('move', function() return table.concat(table.builtin_move(t1, f, e, d), ',') end,
                  function() return table.concat(table.move(t2, f, e, d), ',') end)
end
return {cases = cases, mismatches = bad, examples = examples}
)LUA";

int selftest(long cases, long seed) {
    Limits l;
    l.budgeted_c_functions = true;
    l.expose_builtins = true;
    l.instructions = UINT64_MAX / 2;
    l.wall_ns = INT64_MAX / 4;
    l.memory_bytes = 256u << 20;
    Sandbox sb(l);
    json::value out;
    std::string err;
    const std::int64_t t0 = mono_ns();
    if (!sb.run(kSelftestScript, json::object{{"cases", cases}, {"seed", seed}}, out, err)) die("selftest: " + err);
    std::printf("selftest: %s (%.1f s)\n", json::serialize(out).c_str(), ms_since(t0) / 1000);
    return out.at("mismatches").as_int64() == 0 ? 0 : 1;
}

// ------------------------------------------------------------------------------------------------

int run_bench(const Options& opt) {
    char date[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
    std::printf("bench_lua_sandbox  %s  %s, %ld cores\n", date, LUA_RELEASE, sysconf(_SC_NPROCESSORS_ONLN));
    const Limits l;
    std::printf("limits per call: %zu MiB allocator cap, %llu M instructions (hook every %d), %.0f ms wall clock\n",
                l.memory_bytes >> 20, static_cast<unsigned long long>(l.instructions / 1'000'000), kHookEvery,
                static_cast<double>(l.wall_ns) / 1e6);
    const sb::ScriptLimits pl = product_limits();
    std::printf("C' is the shipped sb::ScriptRunner with %zu MiB, %lld M instructions, %d ms CPU, %d ms wall clock\n\n",
                pl.memory_bytes >> 20, static_cast<long long>(pl.max_instructions / 1'000'000), pl.cpu_ms, pl.wall_ms);

    if (opt.demos) {
        std::printf("== The pathological pattern, unbounded ==\n");
        measure_unbounded(opt);
        std::printf("\n== Safety demonstrations (each capped at %.1f s; time = until stopped) ==\n", opt.demo_cap_s);
        std::printf("  PASS: refused, or stopped within 2x the wall-clock limit (C, C'); worker stopped by its hook, or\n"
                    "  killed at the supervisor's timeout / RLIMIT_CPU and replaced by a working worker (A/B)\n");
        demos_in_process(false, opt);
        demos_in_process(true, opt);
        demos_worker(opt);
        std::printf("\n");
    }
    if (!opt.bench) return 0;

    std::printf("== Throughput (%.1f s x %d rounds each, median and spread; %s) ==\n", opt.seconds, opt.rounds,
                opt.pin ? "thread i and worker i pinned to CPU i" : "not pinned");
    std::printf("   echo input: %zu bytes of JSON; chain input: the same + \"n\" (chain-small: {\"n\":0})\n",
                json::serialize(payload()).size());
    std::printf("   %-40s %11s %6s %12s %8s %7s\n", "", "ops/s", "", "CPU/op", "other", "steal");
    double worst_other = 0;
    auto run = [&](const std::string& label, const std::function<Rate()>& fn) -> Rate {
        if (!opt.filter.empty() && !contains(label, opt.filter)) return {};
        const Rate r = fn();
        worst_other = std::max(worst_other, r.other_pct + r.steal_pct);
        std::printf("   %-40s %11s %6s %9.2f µs %7.0f%% %6.0f%%\n", label.c_str(), fmt_rate(r).c_str(), fmt_spread(r).c_str(),
                    r.cpu_us, r.other_pct, r.steal_pct);
        std::fflush(stdout);
        return r;
    };
    struct Row {
        std::string design;
        Rate echo1, echo2, chain1, chain2, small1;
    };
    Row c{"C   in-process, reused state, hook + cap", {}, {}, {}, {}, {}};
    Row cb{"C'  C + budgeted C fns + clock check on calls", {}, {}, {}, {}, {}};
    Row a{"A   worker process, 1 round trip per script", {}, {}, {}, {}, {}};
    Row b{"B   worker process, chain in 1 round trip", {}, {}, {}, {}, {}};
    for (auto [row, budgeted, name] : {std::tuple{&c, false, "C "}, std::tuple{&cb, true, "C'"}}) {
        const std::string n = name;
        row->echo1 = run(n + " echo, 1 thread", [&] { return bench_in_process(budgeted, 1, "echo", opt); });
        row->echo2 = run(n + " echo, 2 threads", [&] { return bench_in_process(budgeted, 2, "echo", opt); });
        row->chain1 = run(n + " chain, 1 thread", [&] { return bench_in_process(budgeted, 1, "chain", opt); });
        row->chain2 = run(n + " chain, 2 threads", [&] { return bench_in_process(budgeted, 2, "chain", opt); });
        row->small1 = run(n + " chain-small, 1 thread", [&] { return bench_in_process(budgeted, 1, "chain-small", opt); });
    }
    const Rate pat_c = run("C  email:match(...) script, 1 thread", [&] { return bench_in_process(false, 1, "pattern", opt); });
    const Rate pat_cb = run("C' email:match(...) script, 1 thread", [&] { return bench_in_process(true, 1, "pattern", opt); });
    const Rate calls_c = run("C  fib(15) script, 1 thread", [&] { return bench_in_process(false, 1, "calls", opt); });
    const Rate calls_cb = run("C' fib(15) script, 1 thread", [&] { return bench_in_process(true, 1, "calls", opt); });
    a.echo1 = run("A  echo, 1 worker", [&] { return bench_workers(1, "echo", opt); });
    a.echo2 = run("A  echo, 2 workers", [&] { return bench_workers(2, "echo", opt); });
    a.chain1 = run("A  chain, 1 worker", [&] { return bench_workers(1, "chain", opt); });
    a.chain2 = run("A  chain, 2 workers", [&] { return bench_workers(2, "chain", opt); });
    a.small1 = run("A  chain-small, 1 worker", [&] { return bench_workers(1, "chain-small", opt); });
    b.chain1 = run("B  chain, 1 worker", [&] { return bench_workers(1, "batch", opt); });
    b.chain2 = run("B  chain, 2 workers", [&] { return bench_workers(2, "batch", opt); });
    b.small1 = run("B  chain-small, 1 worker", [&] { return bench_workers(1, "batch-small", opt); });
    const std::vector<Row> rows = {c, cb, a, b};

    auto safe = [](std::initializer_list<const char*> designs) {
        int n = 0, failed = 0;
        for (const DemoLine& d : g_demos)
            for (const char* x : designs)
                if (d.design == x) {
                    ++n;
                    failed += d.pass ? 0 : 1;
                }
        return n == 0 ? std::string("not run") : failed == 0 ? std::string("all PASS") : std::to_string(failed) + " FAIL";
    };
    const std::string safety[4] = {safe({"C"}), safe({"C'"}), safe({"A/B"}), safe({"A/B", "B"})};

    // Headroom: CPU per chain is what decides how much of the 2 cores the scripts take at the
    // target; the best of the 1- and 2-thread figures (the 1-worker round trips pay for waking
    // an idle core on this VM).
    auto cpu_per_chain = [](const Row& r) {
        double best = 0;
        for (const Rate* x : {&r.chain1, &r.chain2})
            if (x->per_s > 0 && (best == 0 || x->cpu_us < best)) best = x->cpu_us;
        return best;
    };
    std::printf("\n== Summary (1 / 2 threads or workers; CPU per chain: the lower of the two) ==\n");
    std::printf("%-50s | %-19s | %-19s | %-11s | %-9s | %-12s | %s\n", "design", "echo calls/s", "chain chains/s",
                "chain-small", "CPU/chain", "cores @15.5k", "safety demos");
    std::printf("%s\n", std::string(150, '-').c_str());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        const std::string echo = r.echo1.per_s > 0 || r.echo2.per_s > 0 ? fmt_rate(r.echo1) + " / " + fmt_rate(r.echo2) : "-";
        const std::string chain = fmt_rate(r.chain1) + " / " + fmt_rate(r.chain2);
        char cpu[32], cores[32];
        std::snprintf(cpu, sizeof cpu, "%.1f µs", cpu_per_chain(r));
        std::snprintf(cores, sizeof cores, "%.2f", cpu_per_chain(r) * kTargetChainsPerSecond / 1e6);
        std::printf("%-50s | %-19s | %-19s | %-11s | %-10s | %-12s | %s\n", r.design.c_str(), echo.c_str(), chain.c_str(),
                    fmt_rate(r.small1).c_str(), cpu, cores, safety[i].c_str());
    }
    if (pat_c.per_s > 0 && pat_cb.per_s > 0)
        std::printf("pattern script (email:match): C %s/s, C' %s/s (budgeted matcher: %.0f%% of Lua's rate)\n",
                    fmt_rate(pat_c).c_str(), fmt_rate(pat_cb).c_str(), 100.0 * pat_cb.per_s / pat_c.per_s);
    if (calls_c.per_s > 0 && calls_cb.per_s > 0)
        std::printf("call-heavy script (fib(15), ~2,000 calls): C %s/s, C' %s/s (clock check on calls: %.0f%% of C's rate)\n",
                    fmt_rate(calls_c).c_str(), fmt_rate(calls_cb).c_str(), 100.0 * calls_cb.per_s / calls_c.per_s);
    if (worst_other > 10)
        std::printf("WARNING: other processes (or the hypervisor) took up to %.0f%% of the CPU during a measurement: "
                    "the figures are noisy, run it again on an idle machine\n", worst_other);
    std::printf("target: >= 15,500 chains/s end to end (5x Node-RED's 3,100), HTTP + engine on top (bare Beast ~90k req/s)\n");

    int best = -1;
    for (int i = 0; i < 4; ++i)
        if (safety[i] == "all PASS" && cpu_per_chain(rows[i]) > 0 &&
            (best < 0 || cpu_per_chain(rows[i]) < cpu_per_chain(rows[best])))
            best = i;
    if (best >= 0) {
        std::printf("\nConclusion: %s keeps every safety demonstration and leaves the most headroom: its scripts take %.2f "
                    "of a core at 15,500 chains/s (of 2 cores shared with HTTP, the engine and the client)",
                    rows[best].design.substr(0, 2).c_str(), cpu_per_chain(rows[best]) * kTargetChainsPerSecond / 1e6);
        for (int i = 0; i < 4; ++i)
            if (i != best && cpu_per_chain(rows[i]) > 0)
                std::printf("; %s %.2f%s", rows[i].design.substr(0, 2).c_str(),
                            cpu_per_chain(rows[i]) * kTargetChainsPerSecond / 1e6, safety[i] == "all PASS" ? "" : " (UNSAFE)");
        std::printf(".\n");
    } else {
        std::printf("\nConclusion: no measured design passed every safety demonstration.\n");
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "--worker") {
        if (args.size() < 2) return 2;
        const int fd = std::atoi(args[1].c_str());
        WorkerOptions wo;
        for (std::size_t i = 2; i < args.size(); ++i) {
            const std::string& a = args[i];
            auto next = [&]() -> const std::string& { return args.at(++i); };
            if (a == "--mem") wo.limits.memory_bytes = std::stoull(next());
            else if (a == "--insn") wo.limits.instructions = std::stoull(next());
            else if (a == "--wall-ns") wo.limits.wall_ns = std::stoll(next());
            else if (a == "--as") wo.address_space = std::stoull(next());
            else if (a == "--cpu") wo.cpu_seconds = std::stoi(next());
            else if (a == "--budgeted") wo.limits.budgeted_c_functions = true;
        }
        return worker_main(fd, wo);
    }
    Options opt;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= args.size()) die("missing value after " + a);
            return args[++i];
        };
        if (a == "--selftest")
            return selftest(i + 1 < args.size() ? std::stol(args[i + 1]) : 200000,
                            i + 2 < args.size() ? std::stol(args[i + 2]) : 12345);
        if (a == "--eval" || a == "--eval-budgeted") {  // run one script in the C (or C') sandbox
            const auto box = make_box(a == "--eval-budgeted");
            const ScriptResult r = timed_run(*box, next(), payload());
            std::printf("%s in %s: %s\n", r.ok ? "ok" : "error", fmt_ms(r.ms).c_str(), shorten(r.message, 300).c_str());
            return r.ok ? 0 : 1;
        }
        if (a == "--seconds") opt.seconds = std::stod(next());
        else if (a == "--rounds") opt.rounds = std::max(1, std::stoi(next()));
        else if (a == "--quick") {
            opt.seconds = 0.5;
            opt.rounds = 1;
            opt.unbounded_timeout_s = 5;
        } else if (a == "--pattern-n") opt.pattern_n = std::stoi(next());
        else if (a == "--unbounded-timeout") opt.unbounded_timeout_s = std::stod(next());
        else if (a == "--demo-cap") opt.demo_cap_s = std::stod(next());
        else if (a == "--no-bench") opt.bench = false;
        else if (a == "--no-demos") opt.demos = false;
        else if (a == "--pin") opt.pin = true;
        else if (a == "--filter") opt.filter = next();
        else die("unknown option " + a + " (see the comment at the top of bench/lua_sandbox_bench.cpp)");
    }
    signal(SIGPIPE, SIG_IGN);
    return run_bench(opt);
}
