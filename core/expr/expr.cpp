#include "core/expr/expr.hpp"
#include "core/json/compare.hpp"
#include "core/json/schema.hpp"  // pointer_escape

// The expression language: a tokenizer, a recursive-descent parser into an immutable AST (built
// once per expression) and a tree-walking evaluator. Evaluation never re-parses and works on
// pointers into the scope's values: a path like tasks.fetch.output.items is a chain of lookups,
// and a value is only copied when it becomes part of the result.
//
// Precedence, lowest first: ||, &&, == !=, < <= > >=, + -, * / %, unary ! -, postfix . [ ].

#include <boost/json/parse.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>

namespace arclight::expr {

namespace json = boost::json;

namespace {

__extension__ typedef __int128 Int128;  // exact integer arithmetic on any two JSON integers

/// Maximum nesting: parentheses, brackets, call arguments, unary operators and chained binary
/// operators all count. Bounds parser and evaluator recursion.
constexpr int kMaxDepth = 64;

const json::value kNull;

// ---------------------------------------------------------------------------------------------
// Value helpers

const char* type_name(const json::value& v) noexcept {
    switch (v.kind()) {
        case json::kind::null: return "null";
        case json::kind::bool_: return "boolean";
        case json::kind::int64:
        case json::kind::uint64:
        case json::kind::double_: return "number";
        case json::kind::string: return "string";
        case json::kind::array: return "array";
        case json::kind::object: return "object";
    }
    return "value";
}

/// "null", "a number", "an array", ... for "x is a number".
std::string a_type_name(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null: return "null";
        case json::kind::array: return "an array";
        case json::kind::object: return "an object";
        default: return std::string("a ") + type_name(v);
    }
}

bool truthy_value(const json::value& v) noexcept {
    switch (v.kind()) {
        case json::kind::null: return false;
        case json::kind::bool_: return v.get_bool();
        case json::kind::int64: return v.get_int64() != 0;
        case json::kind::uint64: return v.get_uint64() != 0;
        case json::kind::double_: return v.get_double() != 0.0;
        case json::kind::string: return !v.get_string().empty();
        case json::kind::array: return !v.get_array().empty();
        case json::kind::object: return !v.get_object().empty();
    }
    return false;
}

// Compact JSON writer. Unlike boost::json::serialize it writes doubles the short way (3.5, not
// 3.5E0), which is what a template author expects to see spliced into a string. Works for
// std::string and json::string.
template <class Out>
void write_string(Out& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run = 0;  // start of the pending unescaped run
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.substr(run, i - run));
        run = i + 1;
        switch (c) {
            case '"': out.append(std::string_view("\\\"")); break;
            case '\\': out.append(std::string_view("\\\\")); break;
            case '\n': out.append(std::string_view("\\n")); break;
            case '\r': out.append(std::string_view("\\r")); break;
            case '\t': out.append(std::string_view("\\t")); break;
            case '\b': out.append(std::string_view("\\b")); break;
            case '\f': out.append(std::string_view("\\f")); break;
            default: {
                const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
                out.append(std::string_view(esc, 6));
            }
        }
    }
    out.append(s.substr(run));
    out.push_back('"');
}

template <class Out, class T>
void write_chars(Out& out, T number) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, number);
    out.append(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

template <class Out>
void write_json(Out& out, const json::value& v) {
    switch (v.kind()) {
        case json::kind::null: out.append(std::string_view("null")); break;
        case json::kind::bool_: out.append(std::string_view(v.get_bool() ? "true" : "false")); break;
        case json::kind::int64: write_chars(out, v.get_int64()); break;
        case json::kind::uint64: write_chars(out, v.get_uint64()); break;
        case json::kind::double_:
            if (std::isfinite(v.get_double()))
                write_chars(out, v.get_double());
            else
                out.append(std::string_view("null"));
            break;
        case json::kind::string: write_string(out, v.get_string()); break;
        case json::kind::array: {
            out.push_back('[');
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out.push_back(',');
                first = false;
                write_json(out, e);
            }
            out.push_back(']');
            break;
        }
        case json::kind::object: {
            out.push_back('{');
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) out.push_back(',');
                first = false;
                write_string(out, kv.key());
                out.push_back(':');
                write_json(out, kv.value());
            }
            out.push_back('}');
            break;
        }
    }
}

std::string to_json_text(const json::value& v) {
    std::string s;
    write_json(s, v);
    return s;
}

std::string quoted(std::string_view s) {
    std::string out;
    write_string(out, s);
    return out;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_ident_start(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) noexcept { return is_ident_start(c) || is_digit(c); }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

/// A whole string as a number: [+-]digits[.digits][(e|E)[+-]digits]. Integers become int64 (or
/// uint64 when too large for int64), everything else a finite double.
std::optional<json::value> parse_number(std::string_view s) {
    std::size_t i = 0;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    const std::size_t digits = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == digits) return std::nullopt;
    bool integral = true;
    if (i < s.size() && s[i] == '.') {
        const std::size_t frac = ++i;
        while (i < s.size() && is_digit(s[i])) ++i;
        if (i == frac) return std::nullopt;
        integral = false;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        const std::size_t exp = i;
        while (i < s.size() && is_digit(s[i])) ++i;
        if (i == exp) return std::nullopt;
        integral = false;
    }
    if (i != s.size()) return std::nullopt;
    const char* first = s.data() + digits;
    const char* last = s.data() + s.size();
    if (integral) {
        std::uint64_t u = 0;
        if (std::from_chars(first, last, u).ec == std::errc{}) {
            constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
            if (!neg) return u <= kMax ? json::value(static_cast<std::int64_t>(u)) : json::value(u);
            if (u <= kMax) return json::value(-static_cast<std::int64_t>(u));
            if (u == kMax + 1) return json::value(std::numeric_limits<std::int64_t>::min());
        }  // else too large for an integer: a double
    }
    double d = 0;
    const auto r = std::from_chars(first, last, d);
    if (r.ec != std::errc{} || r.ptr != last || !std::isfinite(d)) return std::nullopt;
    return json::value(neg ? -d : d);
}

json::value from_int128(Int128 r) {
    if (r >= std::numeric_limits<std::int64_t>::min() && r <= std::numeric_limits<std::int64_t>::max())
        return json::value(static_cast<std::int64_t>(r));
    if (r >= 0 && r <= static_cast<Int128>(std::numeric_limits<std::uint64_t>::max()))
        return json::value(static_cast<std::uint64_t>(r));
    return json::value(static_cast<double>(r));
}

Int128 to_int128(const json::value& v) noexcept {
    return v.is_int64() ? static_cast<Int128>(v.get_int64()) : static_cast<Int128>(v.get_uint64());
}

/// -x for a number (exact for every integer: -(-2^63) is the uint64 2^63).
json::value negate(const json::value& v) {
    if (v.is_double()) return json::value(-v.get_double());
    return from_int128(-to_int128(v));
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

void add_unique(std::vector<std::string>& v, std::string_view s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.emplace_back(s);
}

enum class Op : std::uint8_t { Or, And, Eq, Ne, Lt, Le, Gt, Ge, Add, Sub, Mul, Div, Mod, Not, Neg };
enum class Fn : std::uint8_t { Len, String, Number, Exists, Lower, Upper, Json };

const char* op_text(Op op) noexcept {
    switch (op) {
        case Op::Or: return "||";
        case Op::And: return "&&";
        case Op::Eq: return "==";
        case Op::Ne: return "!=";
        case Op::Lt: return "<";
        case Op::Le: return "<=";
        case Op::Gt: return ">";
        case Op::Ge: return ">=";
        case Op::Add: return "+";
        case Op::Sub:
        case Op::Neg: return "-";
        case Op::Mul: return "*";
        case Op::Div: return "/";
        case Op::Mod: return "%";
        case Op::Not: return "!";
    }
    return "?";
}

struct FnInfo {
    std::string_view name;
    Fn fn;
};
constexpr FnInfo kFunctions[] = {{"len", Fn::Len},       {"string", Fn::String}, {"number", Fn::Number},
                                 {"exists", Fn::Exists}, {"lower", Fn::Lower},   {"upper", Fn::Upper},
                                 {"json", Fn::Json}};

const char* fn_name(Fn fn) noexcept {
    for (const auto& f : kFunctions)
        if (f.fn == fn) return f.name.data();  // the literals are NUL-terminated
    return "?";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// AST

struct Expr::Node {
    enum class Kind : std::uint8_t { Literal, Path, Unary, Binary, Call };

    struct Segment {
        enum class Kind : std::uint8_t { Key, Index, Dynamic };
        Kind kind = Kind::Key;
        std::string key;                    ///< Key
        std::size_t index = 0;              ///< Index
        std::unique_ptr<const Node> expr;   ///< Dynamic: [expr], a string key or an array index
        std::size_t end = 0;                ///< source offset just past the segment (for messages)
    };

    Kind kind = Kind::Literal;
    Op op = Op::Not;
    Fn fn = Fn::Len;
    std::size_t pos = 0;  ///< source offset of the node's first character
    int depth = 1;

    json::value literal;                             ///< Literal
    std::string root;                                ///< Path over a root name
    std::unique_ptr<const Node> base;                ///< Path over a computed value (root empty)
    std::size_t root_end = 0;                        ///< Path: offset just past the root / base
    std::vector<Segment> segments;                   ///< Path
    std::vector<std::unique_ptr<const Node>> args;   ///< Unary: 1, Binary: 2, Call: n
};

namespace {

using Node = Expr::Node;
using NodePtr = std::unique_ptr<Node>;

// ---------------------------------------------------------------------------------------------
// Tokenizer

struct Token {
    enum class Kind : std::uint8_t { End, Number, String, Ident, Punct };
    Kind kind = Kind::End;
    std::size_t pos = 0;
    std::string_view text;  ///< the source slice
    json::value value;      ///< Number / String
    bool is(std::string_view p) const noexcept { return kind == Kind::Punct && text == p; }
};

class Parser {
public:
    explicit Parser(const std::string& text) : text_(text) { tokenize(); }

    NodePtr parse() {
        if (peek().kind == Token::Kind::End) fail("empty expression");
        auto n = parse_or();
        if (peek().kind != Token::Kind::End) unexpected(peek());
        return n;
    }

private:
    const std::string& text_;
    std::vector<Token> toks_;
    std::size_t at_ = 0;
    int nesting_ = 0;

    [[noreturn]] void fail(const std::string& message) const { throw ExprError(text_, message); }
    std::string column(std::size_t pos) const { return "at column " + std::to_string(pos + 1); }

    [[noreturn]] void unexpected(const Token& t, std::string_view expected = {}) const {
        std::string m;
        if (t.kind == Token::Kind::End)
            m = "unexpected end of expression";
        else if (t.kind == Token::Kind::String)
            m = "unexpected " + std::string(t.text) + " " + column(t.pos);
        else
            m = "unexpected \"" + std::string(t.text) + "\" " + column(t.pos);
        if (!expected.empty()) m += ", expected " + std::string(expected);
        fail(m);
    }

    // --- tokens

    void tokenize() {
        const std::string_view s = text_;
        std::size_t i = 0;
        while (true) {
            while (i < s.size() && is_space(s[i])) ++i;
            Token t;
            t.pos = i;
            if (i >= s.size()) {
                toks_.push_back(std::move(t));
                return;
            }
            const char c = s[i];
            if (is_ident_start(c)) {
                std::size_t j = i + 1;
                while (j < s.size() && is_ident_char(s[j])) ++j;
                t.kind = Token::Kind::Ident;
                t.text = s.substr(i, j - i);
                i = j;
            } else if (is_digit(c)) {
                i = lex_number(t);
            } else if (c == '"' || c == '\'') {
                i = lex_string(t);
            } else {
                static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">=", "&&", "||"};
                std::size_t len = 0;
                for (auto op : kTwo)
                    if (s.substr(i, 2) == op) len = 2;
                if (len == 0 && std::string_view("<>!+-*/%()[].,").find(c) != std::string_view::npos) len = 1;
                if (len == 0) {
                    // Show the whole UTF-8 character, not one byte of it.
                    std::size_t j = i + 1;
                    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
                    std::string m = "unexpected \"" + std::string(s.substr(i, j - i)) + "\" " + column(i);
                    if (c == '=') m += " (use == to compare)";
                    fail(m);
                }
                t.kind = Token::Kind::Punct;
                t.text = s.substr(i, len);
                i += len;
            }
            toks_.push_back(std::move(t));
        }
    }

    std::size_t lex_number(Token& t) {
        const std::string_view s = text_;
        std::size_t i = t.pos;
        while (i < s.size() && is_digit(s[i])) ++i;
        if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
            ++i;
            while (i < s.size() && is_digit(s[i])) ++i;
        }
        if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
            ++i;
            if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
            while (i < s.size() && is_digit(s[i])) ++i;
        }
        std::size_t end = i;  // "5abc" is one bad number, not 5 followed by a name
        while (end < s.size() && is_ident_char(s[end])) ++end;
        if (end != i) fail("invalid number \"" + std::string(s.substr(t.pos, end - t.pos)) + "\" " + column(t.pos));
        const auto number = parse_number(s.substr(t.pos, i - t.pos));
        if (!number) fail("invalid number \"" + std::string(s.substr(t.pos, i - t.pos)) + "\" " + column(t.pos));
        t.kind = Token::Kind::Number;
        t.text = s.substr(t.pos, i - t.pos);
        t.value = *number;
        return i;
    }

    static int hex_value(char c) noexcept {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    /// Reads the 4 hex digits after "\u" at s[i]; -1 if they are not there.
    static long read_hex4(std::string_view s, std::size_t i) noexcept {
        if (i + 4 > s.size()) return -1;
        long v = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const int h = hex_value(s[i + k]);
            if (h < 0) return -1;
            v = v * 16 + h;
        }
        return v;
    }

    std::size_t lex_string(Token& t) {
        const std::string_view s = text_;
        const char quote = s[t.pos];
        std::size_t i = t.pos + 1;
        std::string out;
        while (true) {
            if (i >= s.size()) fail("unterminated string " + column(t.pos));
            const char c = s[i];
            if (c == quote) {
                ++i;
                break;
            }
            if (c != '\\') {
                out.push_back(c);
                ++i;
                continue;
            }
            if (i + 1 >= s.size()) fail("unterminated string " + column(t.pos));
            const char e = s[i + 1];
            switch (e) {
                case '"':
                case '\'':
                case '\\':
                case '/': out.push_back(e); break;
                case 'n': out.push_back('\n'); break;
                case 't': out.push_back('\t'); break;
                case 'r': out.push_back('\r'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'u': {
                    long cp = read_hex4(s, i + 2);
                    std::size_t len = 6;
                    if (cp >= 0xD800 && cp <= 0xDBFF && s.substr(i + 6, 2) == "\\u") {
                        const long low = read_hex4(s, i + 8);
                        if (low >= 0xDC00 && low <= 0xDFFF) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                            len = 12;
                        }
                    }
                    if (cp < 0 || (cp >= 0xD800 && cp <= 0xDFFF)) fail("invalid \\u escape " + column(i));
                    append_utf8(out, static_cast<std::uint32_t>(cp));
                    i += len;
                    continue;
                }
                default: fail("invalid escape \"\\" + std::string(1, e) + "\" " + column(i));
            }
            i += 2;
        }
        t.kind = Token::Kind::String;
        t.text = s.substr(t.pos, i - t.pos);
        t.value = json::string(out);
        return i;
    }

    const Token& peek() const noexcept { return toks_[at_]; }
    const Token& next() noexcept {
        const Token& t = toks_[at_];
        if (at_ + 1 < toks_.size()) ++at_;
        return t;
    }
    std::size_t prev_end() const noexcept {
        const Token& t = toks_[at_ > 0 ? at_ - 1 : 0];
        return t.pos + t.text.size();
    }
    void expect(std::string_view p) {
        if (!peek().is(p)) unexpected(peek(), "\"" + std::string(p) + "\"");
        next();
    }

    // --- nodes

    NodePtr make(Node::Kind kind, std::size_t pos) {
        auto n = std::make_unique<Node>();
        n->kind = kind;
        n->pos = pos;
        return n;
    }

    /// Computes the node's depth from its children and enforces the limit.
    void finish(Node& n, std::size_t err_pos) {
        int d = 0;
        for (const auto& a : n.args) d = std::max(d, a->depth);
        if (n.base) d = std::max(d, n.base->depth);
        for (const auto& s : n.segments)
            if (s.expr) d = std::max(d, s.expr->depth);
        n.depth = d + 1;
        if (n.depth > kMaxDepth) too_deep(err_pos);
    }

    [[noreturn]] void too_deep(std::size_t pos) const {
        fail("expression is nested too deeply (more than " + std::to_string(kMaxDepth) + " levels) " + column(pos));
    }

    NodePtr binary(Op op, std::size_t op_pos, NodePtr l, NodePtr r) {
        auto n = make(Node::Kind::Binary, l->pos);
        n->op = op;
        n->args.push_back(std::move(l));
        n->args.push_back(std::move(r));
        finish(*n, op_pos);
        return n;
    }

    // --- grammar

    NodePtr parse_or() {
        auto l = parse_and();
        while (peek().is("||")) {
            const auto pos = next().pos;
            l = binary(Op::Or, pos, std::move(l), parse_and());
        }
        return l;
    }

    NodePtr parse_and() {
        auto l = parse_equality();
        while (peek().is("&&")) {
            const auto pos = next().pos;
            l = binary(Op::And, pos, std::move(l), parse_equality());
        }
        return l;
    }

    NodePtr parse_equality() {
        auto l = parse_comparison();
        while (peek().is("==") || peek().is("!=")) {
            const auto& t = next();
            const Op op = t.text == "==" ? Op::Eq : Op::Ne;
            l = binary(op, t.pos, std::move(l), parse_comparison());
        }
        return l;
    }

    NodePtr parse_comparison() {
        auto l = parse_additive();
        while (true) {
            const auto& t = peek();
            Op op;
            if (t.is("<"))
                op = Op::Lt;
            else if (t.is("<="))
                op = Op::Le;
            else if (t.is(">"))
                op = Op::Gt;
            else if (t.is(">="))
                op = Op::Ge;
            else
                return l;
            const auto pos = next().pos;
            l = binary(op, pos, std::move(l), parse_additive());
        }
    }

    NodePtr parse_additive() {
        auto l = parse_multiplicative();
        while (peek().is("+") || peek().is("-")) {
            const auto& t = next();
            const Op op = t.text == "+" ? Op::Add : Op::Sub;
            l = binary(op, t.pos, std::move(l), parse_multiplicative());
        }
        return l;
    }

    NodePtr parse_multiplicative() {
        auto l = parse_unary();
        while (peek().is("*") || peek().is("/") || peek().is("%")) {
            const auto& t = next();
            const Op op = t.text == "*" ? Op::Mul : t.text == "/" ? Op::Div : Op::Mod;
            l = binary(op, t.pos, std::move(l), parse_unary());
        }
        return l;
    }

    NodePtr parse_unary() {
        struct Guard {
            int& n;
            ~Guard() { --n; }
        } guard{++nesting_};
        if (nesting_ > kMaxDepth) too_deep(peek().pos);
        if (peek().is("!") || peek().is("-")) {
            const auto& t = next();
            const Op op = t.text == "!" ? Op::Not : Op::Neg;
            auto operand = parse_unary();
            if (op == Op::Neg && operand->kind == Node::Kind::Literal && operand->literal.is_number()) {
                operand->literal = negate(operand->literal);  // fold -<number literal>
                operand->pos = t.pos;
                return operand;
            }
            auto n = make(Node::Kind::Unary, t.pos);
            n->op = op;
            n->args.push_back(std::move(operand));
            finish(*n, t.pos);
            return n;
        }
        return parse_postfix();
    }

    NodePtr parse_postfix() {
        const std::size_t start = peek().pos;
        auto n = parse_primary();
        while (peek().is(".") || peek().is("[")) {
            if (n->kind != Node::Kind::Path) {
                auto p = make(Node::Kind::Path, start);
                p->root_end = prev_end();
                p->base = std::move(n);
                n = std::move(p);
            }
            Node::Segment seg;
            if (next().text == ".") {
                const auto& name = peek();
                if (name.kind != Token::Kind::Ident) unexpected(name, "a name after \".\"");
                seg.key = std::string(next().text);
            } else {
                auto index = parse_or();
                expect("]");
                classify_index(seg, std::move(index));
            }
            seg.end = prev_end();
            n->segments.push_back(std::move(seg));
            finish(*n, n->segments.back().expr ? n->segments.back().expr->pos : n->pos);
        }
        return n;
    }

    /// a["key"] is a.key; a[3] a constant index; anything else is computed when evaluated.
    void classify_index(Node::Segment& seg, NodePtr index) {
        if (index->kind != Node::Kind::Literal) {
            seg.kind = Node::Segment::Kind::Dynamic;
            seg.expr = std::move(index);
            return;
        }
        const auto& v = index->literal;
        const std::string where = column(index->pos);
        if (v.is_string()) {
            seg.kind = Node::Segment::Kind::Key;
            seg.key = std::string(v.get_string());
        } else if (v.is_int64() && v.get_int64() >= 0) {
            seg.kind = Node::Segment::Kind::Index;
            seg.index = static_cast<std::size_t>(v.get_int64());
        } else if (v.is_uint64()) {
            seg.kind = Node::Segment::Kind::Index;
            seg.index = static_cast<std::size_t>(v.get_uint64());
        } else if (v.is_number() && compare_numbers(v, json::value(0)) < 0) {
            fail("negative index " + to_json_text(v) + " is not supported " + where);
        } else if (v.is_double()) {
            fail("index " + to_json_text(v) + " is not a whole number " + where);
        } else {
            fail("an index must be a string or a number, not " + std::string(type_name(v)) + " " + where);
        }
    }

    NodePtr parse_primary() {
        const Token& t = next();
        switch (t.kind) {
            case Token::Kind::Number:
            case Token::Kind::String: {
                auto n = make(Node::Kind::Literal, t.pos);
                n->literal = t.value;
                return n;
            }
            case Token::Kind::Ident: {
                if (t.text == "true" || t.text == "false" || t.text == "null") {
                    auto n = make(Node::Kind::Literal, t.pos);
                    if (t.text != "null") n->literal = t.text == "true";
                    return n;
                }
                if (peek().is("(")) return parse_call(t);
                auto n = make(Node::Kind::Path, t.pos);
                n->root = std::string(t.text);
                n->root_end = t.pos + t.text.size();
                return n;
            }
            case Token::Kind::Punct:
                if (t.is("(")) {
                    auto n = parse_or();
                    expect(")");
                    return n;
                }
                unexpected(t);
            case Token::Kind::End: break;
        }
        unexpected(t);
    }

    NodePtr parse_call(const Token& name) {
        const FnInfo* info = nullptr;
        for (const auto& f : kFunctions)
            if (f.name == name.text) info = &f;
        if (!info) fail("unknown function \"" + std::string(name.text) + "\" " + column(name.pos));
        auto n = make(Node::Kind::Call, name.pos);
        n->fn = info->fn;
        expect("(");
        if (!peek().is(")")) {
            while (true) {
                n->args.push_back(parse_or());
                if (!peek().is(",")) break;
                next();
            }
        }
        expect(")");
        if (n->args.size() != 1)
            fail(std::string(info->name) + "() takes exactly one argument, got " + std::to_string(n->args.size()) +
                 " " + column(name.pos));
        finish(*n, name.pos);
        return n;
    }
};

// ---------------------------------------------------------------------------------------------
// Evaluator

/// A result: either borrowed (a pointer into the scope or the AST) or owned.
struct Val {
    const json::value* ref = nullptr;
    json::value own;
    const json::value& get() const noexcept { return ref ? *ref : own; }
    json::value take() && { return ref ? json::value(*ref) : std::move(own); }
};

Val borrowed(const json::value& v) {
    Val r;
    r.ref = &v;
    return r;
}
Val owned(json::value v) {
    Val r;
    r.own = std::move(v);
    return r;
}

double to_double(const json::value& v) noexcept {
    switch (v.kind()) {
        case json::kind::int64: return static_cast<double>(v.get_int64());
        case json::kind::uint64: return static_cast<double>(v.get_uint64());
        case json::kind::double_: return v.get_double();
        default: return 0;
    }
}

class Evaluator {
public:
    Evaluator(const std::string& text, const Scope& scope) : text_(text), scope_(scope) {}

    Val eval(const Node& n) {
        switch (n.kind) {
            case Node::Kind::Literal: return borrowed(n.literal);
            case Node::Kind::Path: return eval_path(n, false);
            case Node::Kind::Unary: return eval_unary(n);
            case Node::Kind::Binary: return eval_binary(n);
            case Node::Kind::Call: return eval_call(n);
        }
        return borrowed(kNull);
    }

    bool truthy(const Node& n) { return truthy_value(eval(n).get()); }

private:
    const std::string& text_;
    const Scope& scope_;

    [[noreturn]] void fail(const std::string& message) const { throw ExprError(text_, message); }

    std::string_view source(std::size_t from, std::size_t to) const {
        return std::string_view(text_).substr(from, to > from ? to - from : 0);
    }

    [[noreturn]] void cannot_read(const Node& n, std::size_t prefix_end, const std::string& what,
                                  const json::value& v) const {
        fail("cannot read " + what + " of " + type_name(v) + " (" + std::string(source(n.pos, prefix_end)) + " is " +
             a_type_name(v) + ")");
    }

    /// Walks the path. `lenient` (inside exists()): reading through null gives null.
    Val eval_path(const Node& n, bool lenient) {
        Val base;
        if (n.base) {
            base = eval(*n.base);
        } else {
            const auto* root = scope_.lookup(n.root);
            if (!root) fail("unknown name \"" + n.root + "\"");
            base.ref = root;
        }
        const json::value* cur = &base.get();
        std::size_t prefix_end = n.root_end;
        for (const auto& seg : n.segments) {
            if (cur->is_null() && lenient) break;
            switch (seg.kind) {
                case Node::Segment::Kind::Key: cur = member(n, prefix_end, *cur, seg.key); break;
                case Node::Segment::Kind::Index: cur = element(n, prefix_end, *cur, seg.index); break;
                case Node::Segment::Kind::Dynamic: {
                    const Val k = eval(*seg.expr);
                    const auto& key = k.get();
                    if (key.is_string()) {
                        cur = member(n, prefix_end, *cur, key.get_string());
                    } else if (key.is_number()) {
                        if (compare_numbers(key, json::value(0)) < 0)
                            fail("negative index " + to_json_text(key) + " is not supported");
                        if (key.is_double() && std::trunc(key.get_double()) != key.get_double())
                            fail("index " + to_json_text(key) + " is not a whole number");
                        const double limit = 18446744073709551615.0;
                        const std::size_t i = key.is_int64()    ? static_cast<std::size_t>(key.get_int64())
                                              : key.is_uint64() ? static_cast<std::size_t>(key.get_uint64())
                                              : key.get_double() >= limit
                                                  ? std::numeric_limits<std::size_t>::max()
                                                  : static_cast<std::size_t>(key.get_double());
                        cur = element(n, prefix_end, *cur, i);
                    } else {
                        fail("an index must be a string or a number, not " + std::string(type_name(key)) + " (in " +
                             std::string(source(n.pos, seg.end)) + ")");
                    }
                    break;
                }
            }
            prefix_end = seg.end;
        }
        if (base.ref || cur == &kNull) return borrowed(*cur);
        if (cur == &base.own) return base;
        // `cur` points inside our own temporary: move that part out.
        return owned(std::move(const_cast<json::value&>(*cur)));
    }

    const json::value* member(const Node& n, std::size_t prefix_end, const json::value& v, std::string_view key) const {
        if (!v.is_object()) cannot_read(n, prefix_end, quoted(key), v);
        const auto* p = v.get_object().if_contains(key);
        return p ? p : &kNull;
    }

    const json::value* element(const Node& n, std::size_t prefix_end, const json::value& v, std::size_t i) const {
        if (!v.is_array()) cannot_read(n, prefix_end, "[" + std::to_string(i) + "]", v);
        const auto& a = v.get_array();
        return i < a.size() ? &a[i] : &kNull;
    }

    Val eval_unary(const Node& n) {
        const Val a = eval(*n.args[0]);
        const auto& v = a.get();
        if (n.op == Op::Not) return owned(!truthy_value(v));
        if (v.is_number()) return owned(negate(v));
        fail(std::string("- needs a number, got ") + type_name(v));
    }

    Val eval_binary(const Node& n) {
        if (n.op == Op::And) return owned(truthy(*n.args[0]) && truthy(*n.args[1]));
        if (n.op == Op::Or) return owned(truthy(*n.args[0]) || truthy(*n.args[1]));
        const Val l = eval(*n.args[0]);
        const Val r = eval(*n.args[1]);
        const auto& a = l.get();
        const auto& b = r.get();
        switch (n.op) {
            case Op::Eq: return owned(json_equal(a, b));
            case Op::Ne: return owned(!json_equal(a, b));
            case Op::Lt:
            case Op::Le:
            case Op::Gt:
            case Op::Ge: {
                std::partial_ordering c = std::partial_ordering::unordered;
                if (a.is_number() && b.is_number())
                    c = compare_numbers(a, b);
                else if (a.is_string() && b.is_string())
                    c = std::string_view(a.get_string()) <=> std::string_view(b.get_string());
                else
                    fail(std::string(op_text(n.op)) + " needs two numbers or two strings, got " + type_name(a) +
                         " and " + type_name(b));
                const bool result = n.op == Op::Lt   ? c < 0
                                    : n.op == Op::Le ? c <= 0
                                    : n.op == Op::Gt ? c > 0
                                                     : c >= 0;
                return owned(result);
            }
            case Op::Add:
                if (a.is_string() && b.is_string()) {
                    json::string s;
                    s.reserve(a.get_string().size() + b.get_string().size());
                    s.append(a.get_string());
                    s.append(b.get_string());
                    return owned(std::move(s));
                }
                if (!a.is_number() || !b.is_number())
                    fail(std::string("+ needs two numbers or two strings, got ") + type_name(a) + " and " +
                         type_name(b));
                return owned(arithmetic(n.op, a, b));
            default:
                if (!a.is_number() || !b.is_number())
                    fail(std::string(op_text(n.op)) + " needs two numbers, got " + type_name(a) + " and " +
                         type_name(b));
                return owned(arithmetic(n.op, a, b));
        }
    }

    /// Integers stay exact (int64, or uint64 above INT64_MAX) while the result fits; otherwise,
    /// and whenever a double is involved, the result is a double. `/` gives an integer only when
    /// the division is exact (7 / 2 == 3.5). `%` has the sign of the dividend.
    json::value arithmetic(Op op, const json::value& a, const json::value& b) const {
        if (!a.is_double() && !b.is_double()) {
            const Int128 x = to_int128(a);
            const Int128 y = to_int128(b);
            switch (op) {
                case Op::Add: return from_int128(x + y);
                case Op::Sub: return from_int128(x - y);
                case Op::Mul: {
                    Int128 r = 0;
                    if (!__builtin_mul_overflow(x, y, &r)) return from_int128(r);
                    break;  // beyond 128 bits: as doubles
                }
                case Op::Div:
                    if (y == 0) fail("division by zero");
                    if (x % y == 0) return from_int128(x / y);
                    break;
                case Op::Mod:
                    if (y == 0) fail("division by zero");
                    return from_int128(x % y);
                default: break;
            }
        }
        const double x = to_double(a);
        const double y = to_double(b);
        double r = 0;
        switch (op) {
            case Op::Add: r = x + y; break;
            case Op::Sub: r = x - y; break;
            case Op::Mul: r = x * y; break;
            case Op::Div:
                if (y == 0) fail("division by zero");
                r = x / y;
                break;
            case Op::Mod:
                if (y == 0) fail("division by zero");
                r = std::fmod(x, y);
                break;
            default: break;
        }
        if (!std::isfinite(r)) fail(std::string("the result of ") + op_text(op) + " is too large");
        return json::value(r);
    }

    [[noreturn]] void wrong_argument(Fn fn, const char* wanted, const json::value& v) const {
        fail(std::string(fn_name(fn)) + "() needs " + wanted + ", got " + type_name(v));
    }

    Val eval_call(const Node& n) {
        const Node& arg = *n.args[0];
        if (n.fn == Fn::Exists) {
            const Val v = arg.kind == Node::Kind::Path ? eval_path(arg, true) : eval(arg);
            return owned(!v.get().is_null());
        }
        Val a = eval(arg);
        const auto& v = a.get();
        const auto wrong_type = [&](const char* wanted) { wrong_argument(n.fn, wanted, v); };
        switch (n.fn) {
            case Fn::Len:
                if (v.is_string()) return owned(static_cast<std::uint64_t>(v.get_string().size()));
                if (v.is_array()) return owned(static_cast<std::uint64_t>(v.get_array().size()));
                if (v.is_object()) return owned(static_cast<std::uint64_t>(v.get_object().size()));
                wrong_type("a string, an array or an object");
                break;
            case Fn::String:
                if (v.is_string()) return a;
                return owned(json::string(to_json_text(v)));
            case Fn::Number:
                if (v.is_number()) return a;
                if (v.is_string()) {
                    if (auto number = parse_number(trim(v.get_string()))) return owned(std::move(*number));
                    fail("number() cannot convert " + quoted(v.get_string()) + " to a number");
                }
                wrong_type("a string or a number");
                break;
            case Fn::Lower:
            case Fn::Upper: {
                if (!v.is_string()) wrong_type("a string");
                json::string s(v.get_string());
                for (auto& c : s) {
                    if (n.fn == Fn::Lower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
                    if (n.fn == Fn::Upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
                }
                return owned(std::move(s));
            }
            case Fn::Json: {
                if (!v.is_string()) wrong_type("a string");
                std::error_code ec;
                auto parsed = json::parse(v.get_string(), ec);
                if (ec) fail("json() cannot parse its argument: " + ec.message());
                return owned(std::move(parsed));
            }
            case Fn::Exists: break;
        }
        return borrowed(kNull);
    }
};

void node_references(const Node& n, std::vector<std::string>& roots, std::vector<std::string>& task_ids) {
    if (n.kind == Node::Kind::Path && !n.base) {
        add_unique(roots, n.root);
        if (n.root == "tasks" && !n.segments.empty() && n.segments[0].kind == Node::Segment::Kind::Key)
            add_unique(task_ids, n.segments[0].key);
    }
    if (n.base) node_references(*n.base, roots, task_ids);
    for (const auto& s : n.segments)
        if (s.expr) node_references(*s.expr, roots, task_ids);
    for (const auto& a : n.args) node_references(*a, roots, task_ids);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API

const boost::json::value* ObjectScope::lookup(std::string_view root) const { return o_.if_contains(root); }

Expr Expr::parse(std::string_view text) {
    Expr e;
    e.text_ = std::string(trim(text));
    Parser parser(e.text_);
    e.root_ = parser.parse();
    return e;
}

boost::json::value Expr::eval(const Scope& scope) const {
    if (!root_) throw ExprError(text_, "empty expression");
    Evaluator ev(text_, scope);
    return ev.eval(*root_).take();
}

bool Expr::truthy(const Scope& scope) const {
    if (!root_) throw ExprError(text_, "empty expression");
    Evaluator ev(text_, scope);
    return ev.truthy(*root_);
}

void Expr::references(std::vector<std::string>& roots, std::vector<std::string>& task_ids) const {
    if (root_) node_references(*root_, roots, task_ids);
}

Template Template::parse(std::string_view text) {
    Template t;
    std::string literal;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto open = text.find("{{", i);
        if (open == std::string_view::npos) {
            literal.append(text.substr(i));
            break;
        }
        literal.append(text.substr(i, open - i));
        // The closing }} — skipping quoted strings so {{ "}}" }} works.
        std::size_t close = std::string_view::npos;
        for (std::size_t j = open + 2; j < text.size(); ++j) {
            const char c = text[j];
            if (c == '"' || c == '\'') {
                for (++j; j < text.size() && text[j] != c; ++j)
                    if (text[j] == '\\') ++j;
                if (j >= text.size()) break;
            } else if (c == '}' && j + 1 < text.size() && text[j + 1] == '}') {
                close = j;
                break;
            }
        }
        // An unbalanced quote: let the expression parser report it.
        if (close == std::string_view::npos) close = text.find("}}", open + 2);
        if (close == std::string_view::npos)
            throw ExprError(std::string(trim(text.substr(open + 2))), "\"{{\" without a closing \"}}\"");
        if (!literal.empty()) t.parts_.push_back(Part{std::move(literal), nullptr});
        literal.clear();
        t.parts_.push_back(Part{{}, std::make_shared<Expr>(Expr::parse(text.substr(open + 2, close - open - 2)))});
        i = close + 2;
    }
    if (!literal.empty()) t.parts_.push_back(Part{std::move(literal), nullptr});

    std::size_t exprs = 0;
    bool blank_literals = true;
    for (const auto& p : t.parts_) {
        if (p.expr)
            ++exprs;
        else if (!trim(p.literal).empty())
            blank_literals = false;
    }
    t.single_ = exprs == 1 && blank_literals;
    return t;
}

bool Template::is_literal() const noexcept {
    for (const auto& p : parts_)
        if (p.expr) return false;
    return true;
}

boost::json::value Template::eval(const Scope& scope) const {
    if (single_) {
        for (const auto& p : parts_)
            if (p.expr) return p.expr->eval(scope);
    }
    json::string out;
    for (const auto& p : parts_) {
        if (!p.expr) {
            out.append(p.literal);
            continue;
        }
        if (!p.expr->root_) throw ExprError(p.expr->text_, "empty expression");
        Evaluator ev(p.expr->text_, scope);
        const Val v = ev.eval(*p.expr->root_);
        const auto& value = v.get();
        if (value.is_string())
            out.append(value.get_string());
        else if (!value.is_null())
            write_json(out, value);
    }
    return out;
}

void Template::references(std::vector<std::string>& roots, std::vector<std::string>& task_ids) const {
    for (const auto& p : parts_)
        if (p.expr) p.expr->references(roots, task_ids);
}

struct ValueTemplate::Node {
    enum class Kind : std::uint8_t { Literal, Template, Object, Array };
    Kind kind = Kind::Literal;
    json::value literal;             ///< Literal: a subtree without templates
    Template tmpl;                   ///< Template
    std::vector<std::string> keys;   ///< Object
    std::vector<Node> children;      ///< Object (parallel to keys), Array
};

namespace {

using VNode = ValueTemplate::Node;

VNode compile_value(const json::value& v, const std::vector<std::string>* raw_keys, std::string& pointer) {
    VNode n;
    if (v.is_string()) {
        auto t = Template::parse(v.get_string());  // ExprError propagates; `pointer` names the string
        if (t.is_literal()) {
            n.literal = v;
        } else {
            n.kind = VNode::Kind::Template;
            n.tmpl = std::move(t);
        }
        return n;
    }
    if (v.is_object()) {
        const auto& o = v.get_object();
        n.keys.reserve(o.size());
        n.children.reserve(o.size());
        bool literal = true;
        for (const auto& kv : o) {
            const auto size = pointer.size();
            pointer += '/';
            pointer += jsonschema::pointer_escape(kv.key());
            VNode child;
            if (raw_keys && std::find(raw_keys->begin(), raw_keys->end(), kv.key()) != raw_keys->end())
                child.literal = kv.value();
            else
                child = compile_value(kv.value(), nullptr, pointer);
            pointer.resize(size);
            literal = literal && child.kind == VNode::Kind::Literal;
            n.keys.emplace_back(kv.key());
            n.children.push_back(std::move(child));
        }
        if (literal) {
            n.keys.clear();
            n.children.clear();
            n.literal = v;
        } else {
            n.kind = VNode::Kind::Object;
        }
        return n;
    }
    if (v.is_array()) {
        const auto& a = v.get_array();
        n.children.reserve(a.size());
        bool literal = true;
        for (std::size_t i = 0; i < a.size(); ++i) {
            const auto size = pointer.size();
            pointer += '/';
            pointer += std::to_string(i);
            n.children.push_back(compile_value(a[i], nullptr, pointer));
            pointer.resize(size);
            literal = literal && n.children.back().kind == VNode::Kind::Literal;
        }
        if (literal) {
            n.children.clear();
            n.literal = v;
        } else {
            n.kind = VNode::Kind::Array;
        }
        return n;
    }
    n.literal = v;
    return n;
}

json::value eval_value(const VNode& n, const Scope& scope) {
    switch (n.kind) {
        case VNode::Kind::Literal: return n.literal;
        case VNode::Kind::Template: return n.tmpl.eval(scope);
        case VNode::Kind::Object: {
            json::object o;
            o.reserve(n.keys.size());
            for (std::size_t i = 0; i < n.keys.size(); ++i) o.emplace(n.keys[i], eval_value(n.children[i], scope));
            return o;
        }
        case VNode::Kind::Array: {
            json::array a;
            a.reserve(n.children.size());
            for (const auto& c : n.children) a.push_back(eval_value(c, scope));
            return a;
        }
    }
    return nullptr;
}

void value_references(const VNode& n, std::vector<std::string>& roots, std::vector<std::string>& task_ids) {
    if (n.kind == VNode::Kind::Template) n.tmpl.references(roots, task_ids);
    for (const auto& c : n.children) value_references(c, roots, task_ids);
}

void string_references(const VNode& n, std::string& pointer, std::vector<ValueTemplate::StringReferences>& out) {
    if (n.kind == VNode::Kind::Template) {
        ValueTemplate::StringReferences r{pointer, {}, {}};
        n.tmpl.references(r.roots, r.task_ids);
        out.push_back(std::move(r));
        return;
    }
    for (std::size_t i = 0; i < n.children.size(); ++i) {
        const auto size = pointer.size();
        pointer += '/';
        pointer += n.kind == VNode::Kind::Object ? jsonschema::pointer_escape(n.keys[i]) : std::to_string(i);
        string_references(n.children[i], pointer, out);
        pointer.resize(size);
    }
}

}  // namespace

ValueTemplate ValueTemplate::compile(const boost::json::value& v, const std::vector<std::string>& raw_keys,
                                     std::string* pointer) {
    ValueTemplate t;
    std::string where;
    VNode root;
    try {
        root = compile_value(v, &raw_keys, where);
    } catch (const ExprError&) {
        if (pointer) *pointer = where;
        throw;
    }
    if (root.kind == VNode::Kind::Literal) {
        t.literal_ = std::move(root.literal);
        t.literal_only_ = true;
    } else {
        t.root_ = std::make_shared<const Node>(std::move(root));
        t.literal_only_ = false;
    }
    return t;
}

boost::json::value ValueTemplate::eval(const Scope& scope) const {
    if (literal_only_ || !root_) return literal_;
    return eval_value(*root_, scope);
}

bool ValueTemplate::is_literal() const noexcept { return literal_only_; }

void ValueTemplate::references(std::vector<std::string>& roots, std::vector<std::string>& task_ids) const {
    if (root_) value_references(*root_, roots, task_ids);
}

std::vector<ValueTemplate::StringReferences> ValueTemplate::references_by_string() const {
    std::vector<StringReferences> out;
    std::string pointer;
    if (root_) string_references(*root_, pointer, out);
    return out;
}

}  // namespace arclight::expr
