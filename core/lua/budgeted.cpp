// Budget-aware string.find/match/gmatch/gsub/rep and table.move: see budgeted.hpp.
//
// Lua errors are longjmps (liblua5.4 is C): the frames of these functions hold only trivially
// destructible objects, so an error never skips a destructor.
#include "core/lua/budgeted.hpp"

#include <lua.hpp>

#include <cctype>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>

namespace arclight::lua::budgeted {

void set_meter(lua_State* L, Meter* m) { *static_cast<Meter**>(lua_getextraspace(L)) = m; }
Meter* meter(lua_State* L) { return *static_cast<Meter**>(lua_getextraspace(L)); }

namespace {

constexpr int kMaxCaptures = 32;
constexpr int kMaxDepth = 200;  // recursion limit of the matcher ("pattern too complex")
constexpr std::ptrdiff_t kCapOpen = -1;
constexpr std::ptrdiff_t kCapPosition = -2;
constexpr char kEsc = '%';
constexpr unsigned kChargeEvery = 1024;

inline int uc(char c) { return static_cast<unsigned char>(c); }

struct Matcher {
    lua_State* L;
    Meter* sb;
    const char* s_begin;
    const char* s_end;
    const char* p_end;
    int depth;
    int level;  // captures opened so far
    unsigned pending;
    struct {
        const char* start;
        std::ptrdiff_t len;  // or kCapOpen / kCapPosition
    } cap[kMaxCaptures];
};

// One unit per matcher step; work proportional to a length (scanning a set, comparing a
// back-reference) is charged one unit per 16 bytes on top, so no step hides a long loop.
inline void step(Matcher& m, std::size_t units = 1) {
    if (units >= kChargeEvery) {
        m.sb->charge(m.L, units);
        return;
    }
    m.pending += static_cast<unsigned>(units);
    if (m.pending >= kChargeEvery) {
        const unsigned n = m.pending;
        m.pending = 0;
        m.sb->charge(m.L, n);
    }
}
inline void flush(Matcher& m) {
    const unsigned n = m.pending;
    m.pending = 0;
    m.sb->charge(m.L, n);
}

void prepare(Matcher& m, lua_State* L, const char* s, std::size_t ls, const char* p, std::size_t lp) {
    m.L = L;
    m.sb = meter(L);
    m.s_begin = s;
    m.s_end = s + ls;
    m.p_end = p + lp;
    m.depth = 0;
    m.level = 0;
    m.pending = 0;
}

bool class_matches(int c, int cl) {
    bool r = false;
    switch (std::tolower(cl)) {
    case 'a': r = std::isalpha(c) != 0; break;
    case 'c': r = std::iscntrl(c) != 0; break;
    case 'd': r = std::isdigit(c) != 0; break;
    case 'g': r = std::isgraph(c) != 0; break;
    case 'l': r = std::islower(c) != 0; break;
    case 'p': r = std::ispunct(c) != 0; break;
    case 's': r = std::isspace(c) != 0; break;
    case 'u': r = std::isupper(c) != 0; break;
    case 'w': r = std::isalnum(c) != 0; break;
    case 'x': r = std::isxdigit(c) != 0; break;
    case 'z': r = c == 0; break;  // deprecated since 5.2 and gone from the manual, but Lua 5.4 still has it
    default: return cl == c;  // %x with x not a class letter: x itself
    }
    return std::isupper(cl) ? !r : r;
}

// A set: `open` points at '[', `close` at its ']'.
bool set_matches(int c, const char* open, const char* close) {
    const char* p = open + 1;
    bool positive = true;
    if (*p == '^') {
        positive = false;
        ++p;
    }
    for (; p < close; ++p) {
        if (*p == kEsc) {
            ++p;
            if (class_matches(c, uc(*p))) return positive;
        } else if (p + 2 < close && p[1] == '-') {
            if (uc(p[0]) <= c && c <= uc(p[2])) return positive;
            p += 2;
        } else if (uc(*p) == c) {
            return positive;
        }
    }
    return !positive;
}

// The end of the single-character class starting at p.
const char* class_end(Matcher& m, const char* p) {
    const char* start = p;
    const char c = *p++;
    if (c == kEsc) {
        if (p >= m.p_end) luaL_error(m.L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (p < m.p_end && *p == '^') ++p;
        for (;;) {  // the first character of a set is never its end, so "[]]" is a set of ']'
            if (p >= m.p_end) luaL_error(m.L, "malformed pattern (missing ']')");
            const char d = *p++;
            if (d == kEsc) {
                if (p >= m.p_end) luaL_error(m.L, "malformed pattern (missing ']')");
                ++p;
            }
            if (p < m.p_end && *p == ']') {
                step(m, static_cast<std::size_t>(p - start) / 16);
                return p + 1;
            }
        }
    }
    return p;
}

bool single_matches(Matcher& m, const char* s, const char* p, const char* ep) {
    if (s >= m.s_end) return false;
    const int c = uc(*s);
    switch (*p) {
    case '.': return true;
    case kEsc: return class_matches(c, uc(p[1]));
    case '[':
        step(m, static_cast<std::size_t>(ep - p) / 16);
        return set_matches(c, p, ep - 1);
    default: return uc(*p) == c;
    }
}

const char* match(Matcher& m, const char* s, const char* p);

const char* greedy(Matcher& m, const char* s, const char* p, const char* ep) {
    std::ptrdiff_t i = 0;
    while (single_matches(m, s + i, p, ep)) {
        ++i;
        step(m);
    }
    for (; i >= 0; --i) {
        if (const char* r = match(m, s + i, ep + 1)) return r;
    }
    return nullptr;
}

const char* lazy(Matcher& m, const char* s, const char* p, const char* ep) {
    for (;;) {
        if (const char* r = match(m, s, ep + 1)) return r;
        if (!single_matches(m, s, p, ep)) return nullptr;
        ++s;
    }
}

const char* open_capture(Matcher& m, const char* s, const char* p, std::ptrdiff_t what) {
    if (m.level >= kMaxCaptures) luaL_error(m.L, "too many captures");
    m.cap[m.level].start = s;
    m.cap[m.level].len = what;
    ++m.level;
    const char* r = match(m, s, p);
    if (r == nullptr) --m.level;
    return r;
}

const char* close_capture(Matcher& m, const char* s, const char* p) {
    int l = m.level - 1;
    while (l >= 0 && m.cap[l].len != kCapOpen) --l;
    if (l < 0) luaL_error(m.L, "invalid pattern capture");
    m.cap[l].len = s - m.cap[l].start;
    const char* r = match(m, s, p);
    if (r == nullptr) m.cap[l].len = kCapOpen;
    return r;
}

const char* balanced(Matcher& m, const char* s, const char* p) {
    if (p + 1 >= m.p_end) luaL_error(m.L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m.s_end || *s != p[0]) return nullptr;
    const char open = p[0], close = p[1];
    int depth = 1;
    while (++s < m.s_end) {
        step(m);
        if (*s == close) {
            if (--depth == 0) return s + 1;
        } else if (*s == open) {
            ++depth;
        }
    }
    return nullptr;
}

// The body of match(): items that consume exactly one pattern element and continue loop here;
// alternatives (quantifiers, captures) recurse.
const char* match_items(Matcher& m, const char* s, const char* p) {
    for (;;) {
        step(m);
        if (p >= m.p_end) return s;
        switch (*p) {
        case '(':
            if (p + 1 < m.p_end && p[1] == ')') return open_capture(m, s, p + 2, kCapPosition);
            return open_capture(m, s, p + 1, kCapOpen);
        case ')': return close_capture(m, s, p + 1);
        case '$':
            if (p + 1 == m.p_end) return s == m.s_end ? s : nullptr;
            break;  // a '$' elsewhere is an ordinary character
        case kEsc:
            if (p + 1 < m.p_end) {
                const char x = p[1];
                if (x == 'b') {
                    s = balanced(m, s, p + 2);
                    if (s == nullptr) return nullptr;
                    p += 4;
                    continue;
                }
                if (x == 'f') {
                    p += 2;
                    if (p >= m.p_end || *p != '[') luaL_error(m.L, "missing '[' after '%%f' in pattern");
                    const char* ep = class_end(m, p);
                    const int prev = s == m.s_begin ? 0 : uc(s[-1]);
                    const int cur = s < m.s_end ? uc(*s) : 0;
                    step(m, static_cast<std::size_t>(ep - p) / 8);
                    if (set_matches(prev, p, ep - 1) || !set_matches(cur, p, ep - 1)) return nullptr;
                    p = ep;
                    continue;
                }
                if (std::isdigit(uc(x))) {  // back-reference %1..%9
                    const int l = x - '1';
                    if (l < 0 || l >= m.level || m.cap[l].len == kCapOpen)
                        luaL_error(m.L, "invalid capture index %%%d", l + 1);
                    const std::ptrdiff_t len = m.cap[l].len;
                    if (len > 0) step(m, static_cast<std::size_t>(len) / 16);
                    if (len < 0 || m.s_end - s < len || std::memcmp(m.cap[l].start, s, len) != 0)
                        return nullptr;
                    s += len;
                    p += 2;
                    continue;
                }
            }
            break;
        default: break;
        }
        // One character class, perhaps with a quantifier.
        const char* ep = class_end(m, p);
        const bool hit = single_matches(m, s, p, ep);
        const char q = ep < m.p_end ? *ep : '\0';
        if (q == '?') {
            if (hit) {
                if (const char* r = match(m, s + 1, ep + 1)) return r;
            }
            p = ep + 1;
            continue;
        }
        if (q == '+') return hit ? greedy(m, s + 1, p, ep) : nullptr;
        if (q == '*') return greedy(m, s, p, ep);
        if (q == '-') return lazy(m, s, p, ep);
        if (!hit) return nullptr;
        ++s;
        p = ep;
    }
}

const char* match(Matcher& m, const char* s, const char* p) {
    if (++m.depth > kMaxDepth) luaL_error(m.L, "pattern too complex");
    const char* r = match_items(m, s, p);
    --m.depth;
    return r;
}

void push_capture(Matcher& m, int i, const char* s, const char* e) {
    if (i >= m.level) {
        if (i != 0) luaL_error(m.L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m.L, s, static_cast<std::size_t>(e - s));  // no captures: the whole match
        return;
    }
    const std::ptrdiff_t len = m.cap[i].len;
    if (len == kCapOpen) luaL_error(m.L, "unfinished capture");
    if (len == kCapPosition)
        lua_pushinteger(m.L, m.cap[i].start - m.s_begin + 1);
    else
        lua_pushlstring(m.L, m.cap[i].start, static_cast<std::size_t>(len));
}

// s == nullptr: only the explicit captures (string.find).
int push_captures(Matcher& m, const char* s, const char* e) {
    const int n = (m.level == 0 && s != nullptr) ? 1 : m.level;
    luaL_checkstack(m.L, n, "too many captures");
    for (int i = 0; i < n; ++i) push_capture(m, i, s, e);
    return n;
}

// 1-based start position, with the manual's rules for 0 and negative values.
std::size_t start_position(lua_Integer pos, std::size_t len) {
    if (pos > 0) return static_cast<std::size_t>(pos);
    if (pos == 0) return 1;
    if (pos < -static_cast<lua_Integer>(len)) return 1;
    return len + static_cast<std::size_t>(pos) + 1;
}

bool has_specials(const char* p, std::size_t lp) {
    static constexpr char kSpecials[] = "^$*+?.([%-";
    for (std::size_t i = 0; i < lp; ++i)
        if (p[i] != '\0' && std::memchr(kSpecials, p[i], sizeof kSpecials - 1) != nullptr) return true;
    return false;
}

int find_or_match(lua_State* L, bool find) {
    std::size_t ls = 0, lp = 0;
    const char* s = luaL_checklstring(L, 1, &ls);
    const char* p = luaL_checklstring(L, 2, &lp);
    const std::size_t init = start_position(luaL_optinteger(L, 3, 1), ls);
    if (init > ls + 1) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        // Plain search with glibc's memmem (linear time; Lua's own is O(n*m) in the worst case).
        meter(L)->charge(L, (ls - init + 1 + lp) / 64 + 1);
        const auto* hit = static_cast<const char*>(memmem(s + init - 1, ls - init + 1, p, lp));
        if (hit == nullptr) {
            luaL_pushfail(L);
            return 1;
        }
        lua_pushinteger(L, hit - s + 1);
        lua_pushinteger(L, static_cast<lua_Integer>(hit - s + lp));
        return 2;
    }
    const bool anchor = lp > 0 && *p == '^';
    if (anchor) {
        ++p;
        --lp;
    }
    Matcher m;
    prepare(m, L, s, ls, p, lp);
    const char* s1 = s + init - 1;
    do {
        m.level = 0;
        m.depth = 0;
        if (const char* e = match(m, s1, p)) {
            flush(m);
            if (find) {
                lua_pushinteger(L, s1 - s + 1);
                lua_pushinteger(L, e - s);
                return push_captures(m, nullptr, nullptr) + 2;
            }
            return push_captures(m, s1, e);
        }
    } while (s1++ < m.s_end && !anchor);
    flush(m);
    luaL_pushfail(L);
    return 1;
}

int find(lua_State* L) { return find_or_match(L, true); }
int match_fn(lua_State* L) { return find_or_match(L, false); }

struct GmatchState {
    const char* src;
    const char* p;
    const char* last;
    Matcher m;
};

int gmatch_step(lua_State* L) {
    auto* g = static_cast<GmatchState*>(lua_touserdata(L, lua_upvalueindex(3)));
    g->m.L = L;
    g->m.pending = 0;
    for (const char* src = g->src; src <= g->m.s_end; ++src) {
        g->m.level = 0;
        g->m.depth = 0;
        const char* e = match(g->m, src, g->p);
        if (e != nullptr && e != g->last) {
            g->src = g->last = e;
            flush(g->m);
            return push_captures(g->m, src, e);
        }
    }
    flush(g->m);
    return 0;
}

int gmatch(lua_State* L) {
    std::size_t ls = 0, lp = 0;
    const char* s = luaL_checklstring(L, 1, &ls);
    const char* p = luaL_checklstring(L, 2, &lp);
    std::size_t init = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) init = ls + 1;  // starts after the end: no match
    lua_settop(L, 2);              // the subject and the pattern stay alive as upvalues
    auto* g = static_cast<GmatchState*>(lua_newuserdatauv(L, sizeof(GmatchState), 0));
    prepare(g->m, L, s, ls, p, lp);
    g->src = s + init;
    g->p = p;
    g->last = nullptr;
    lua_pushcclosure(L, &gmatch_step, 3);
    return 1;
}

void add_replacement_string(Matcher& m, luaL_Buffer* b, const char* s, const char* e) {
    lua_State* L = m.L;
    std::size_t l = 0;
    const char* r = lua_tolstring(L, 3, &l);
    const char* end = r + l;
    for (const char* q = r; q < end; ++q) {
        step(m);
        if (*q != kEsc) {
            luaL_addchar(b, *q);
            continue;
        }
        ++q;
        if (q < end && *q == kEsc) {
            luaL_addchar(b, kEsc);
        } else if (q < end && std::isdigit(uc(*q))) {
            if (*q == '0') {
                luaL_addlstring(b, s, static_cast<std::size_t>(e - s));
            } else {
                push_capture(m, *q - '1', s, e);
                luaL_tolstring(L, -1, nullptr);
                lua_remove(L, -2);
                luaL_addvalue(b);
            }
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", kEsc);
        }
    }
}

// Appends the replacement of the match [s, e); false when the match is kept as it was.
bool add_replacement(Matcher& m, luaL_Buffer* b, const char* s, const char* e, int kind) {
    lua_State* L = m.L;
    if (kind == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        const int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (kind == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_replacement_string(m, b, s, e);
        return true;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, static_cast<std::size_t>(e - s));
        return false;
    }
    if (!lua_isstring(L, -1)) luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return true;
}

int gsub(lua_State* L) {
    std::size_t ls = 0, lp = 0;
    const char* src = luaL_checklstring(L, 1, &ls);
    const char* p = luaL_checklstring(L, 2, &lp);
    const int kind = lua_type(L, 3);
    const lua_Integer max_n = luaL_optinteger(L, 4, static_cast<lua_Integer>(ls) + 1);
    luaL_argexpected(L, kind == LUA_TNUMBER || kind == LUA_TSTRING || kind == LUA_TFUNCTION ||
                            kind == LUA_TTABLE,
                     3, "string/function/table");
    const bool anchor = lp > 0 && *p == '^';
    if (anchor) {
        ++p;
        --lp;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    Matcher m;
    prepare(m, L, src, ls, p, lp);
    const char* last = nullptr;
    lua_Integer n = 0;
    bool changed = false;
    while (n < max_n) {
        m.level = 0;
        m.depth = 0;
        const char* e = match(m, src, p);
        if (e != nullptr && e != last) {
            ++n;
            changed = add_replacement(m, &b, src, e, kind) || changed;
            src = last = e;
        } else if (src < m.s_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor) break;
    }
    flush(m);
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, static_cast<std::size_t>(m.s_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

// string.rep: Lua's loops n times even when the result is empty (string.rep('', 2^50)).
int rep(lua_State* L) {
    std::size_t l = 0, lsep = 0;
    const char* s = luaL_checklstring(L, 1, &l);
    const lua_Integer n = luaL_checkinteger(L, 2);
    const char* sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    if (l + lsep < l || l + lsep > (SIZE_MAX / 2) / static_cast<std::size_t>(n))
        return luaL_error(L, "resulting string too large");
    const std::size_t count = static_cast<std::size_t>(n);
    const std::size_t total = count * l + (count - 1) * lsep;
    meter(L)->charge(L, total / 64 + 1);
    luaL_Buffer b;
    char* out = luaL_buffinitsize(L, &b, total);
    for (std::size_t i = 0; i < count; ++i) {
        std::memcpy(out, s, l);
        out += l;
        if (lsep > 0 && i + 1 < count) {
            std::memcpy(out, sep, lsep);
            out += lsep;
        }
    }
    luaL_pushresultsize(&b, total);
    return 1;
}

// table.move: Lua's loops e - f + 1 times even over an empty table (table.move({}, 1, 2^40, 2)).
int move(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    const lua_Integer f = luaL_checkinteger(L, 2);
    const lua_Integer e = luaL_checkinteger(L, 3);
    const lua_Integer t = luaL_checkinteger(L, 4);
    const int dst = lua_isnoneornil(L, 5) ? 1 : 5;
    luaL_checktype(L, dst, LUA_TTABLE);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
        const lua_Integer n = e - f;  // n + 1 elements
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n, 4, "destination wrap around");
        Meter* sb = meter(L);
        const bool forward = t > e || t <= f || (dst != 1 && !lua_compare(L, 1, dst, LUA_OPEQ));
        unsigned pending = 0;
        for (lua_Integer i = 0; i <= n; ++i) {
            if (++pending == kChargeEvery) {
                pending = 0;
                sb->charge(L, kChargeEvery);
            }
            const lua_Integer k = forward ? i : n - i;
            lua_geti(L, 1, f + k);
            lua_seti(L, dst, t + k);
        }
        sb->charge(L, pending);
    }
    lua_pushvalue(L, dst);
    return 1;
}

}  // namespace

void install(lua_State* L, int string_lib, int table_lib, bool keep_builtins) {
    string_lib = lua_absindex(L, string_lib);
    table_lib = lua_absindex(L, table_lib);
    if (keep_builtins) {
        for (const char* name : {"find", "match", "gmatch", "gsub", "rep"}) {
            char key[32];
            std::snprintf(key, sizeof key, "builtin_%s", name);
            lua_getfield(L, string_lib, name);
            lua_setfield(L, string_lib, key);
        }
        lua_getfield(L, table_lib, "move");
        lua_setfield(L, table_lib, "builtin_move");
    }
    const luaL_Reg string_fns[] = {{"find", &find},     {"match", &match_fn}, {"gmatch", &gmatch},
                                   {"gsub", &gsub},     {"rep", &rep},        {nullptr, nullptr}};
    lua_pushvalue(L, string_lib);
    luaL_setfuncs(L, string_fns, 0);
    lua_pop(L, 1);
    lua_pushcfunction(L, &move);
    lua_setfield(L, table_lib, "move");
}

}  // namespace arclight::lua::budgeted
