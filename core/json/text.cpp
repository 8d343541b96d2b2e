#include "core/json/text.hpp"

#include "core/util/text.hpp"

#include <boost/json.hpp>

#include <cmath>

namespace arclight {
namespace {

std::string escape_token(std::string_view key) {
    std::string out;
    for (char c : key) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

std::optional<std::string> text_problem(std::string_view s) {
    if (!valid_utf8(s)) return std::string("is not valid UTF-8 text");
    if (s.find('\0') != std::string_view::npos) return std::string("contains a NUL character");
    return std::nullopt;
}

// Iterative (a definition can nest deeply; the stack must not).
bool walk(const boost::json::value& root, const std::string& base, UnstorableJson& out) {
    struct Frame {
        const boost::json::value* v;
        std::string pointer;
    };
    std::vector<Frame> stack{{&root, base}};
    while (!stack.empty()) {
        Frame f = std::move(stack.back());
        stack.pop_back();
        const auto& v = *f.v;
        if (v.is_string()) {
            if (auto p = text_problem(v.get_string())) {
                out = {f.pointer, *p};
                return false;
            }
        } else if (v.is_double()) {
            if (!std::isfinite(v.get_double())) {
                out = {f.pointer, "is not a finite number"};
                return false;
            }
        } else if (v.is_array()) {
            const auto& a = v.get_array();
            for (std::size_t i = a.size(); i-- > 0;) stack.push_back({&a[i], f.pointer + "/" + std::to_string(i)});
        } else if (v.is_object()) {
            for (const auto& [k, child] : v.get_object()) {
                std::string pointer = f.pointer + "/" + escape_token(k);
                if (auto p = text_problem(k)) {
                    out = {pointer, "has a key that " + *p};
                    return false;
                }
                stack.push_back({&child, std::move(pointer)});
            }
        }
    }
    return true;
}

// The common case, every string and key storable, without building a pointer per node (the
// request path runs this for every run's trigger and input): true when all is storable, false
// when something is not or the value nests deeper than the fixed stack (walk() then decides).
bool scalar_storable(const boost::json::value& v) {
    if (v.is_string()) return storable_text(v.get_string());
    if (v.is_double()) return std::isfinite(v.get_double());
    return true;
}

bool all_storable(const boost::json::value& root) {
    if (!root.is_array() && !root.is_object()) return scalar_storable(root);
    struct Frame {
        const boost::json::value* v;
        std::size_t i;  // the next child
    };
    constexpr std::size_t kDepth = 64;
    Frame stack[kDepth];
    std::size_t n = 0;
    stack[n++] = {&root, 0};
    while (n > 0) {
        Frame& f = stack[n - 1];
        const boost::json::value* child;
        if (f.v->is_array()) {
            const auto& a = f.v->get_array();
            if (f.i == a.size()) {
                --n;
                continue;
            }
            child = &a[f.i++];
        } else {
            const auto& o = f.v->get_object();
            if (f.i == o.size()) {
                --n;
                continue;
            }
            const auto& kv = *(o.begin() + static_cast<std::ptrdiff_t>(f.i++));
            if (!storable_text(kv.key())) return false;
            child = &kv.value();
        }
        if (child->is_array() || child->is_object()) {
            if (n == kDepth) return false;
            stack[n++] = {child, 0};
        } else if (!scalar_storable(*child)) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::optional<UnstorableJson> find_unstorable(const boost::json::value& v, const std::string& base) {
    if (all_storable(v)) return std::nullopt;
    UnstorableJson out;
    if (walk(v, base, out)) return std::nullopt;
    return out;
}

std::size_t json_size(const boost::json::value& v) {
    switch (v.kind()) {
    case boost::json::kind::null: return 4;
    case boost::json::kind::bool_: return 5;
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return 24;
    case boost::json::kind::string: return v.get_string().size() + 2;
    case boost::json::kind::array: {
        std::size_t n = 2;
        for (const auto& e : v.get_array()) n += json_size(e) + 1;
        return n;
    }
    case boost::json::kind::object: {
        std::size_t n = 2;
        for (const auto& kv : v.get_object()) n += kv.key().size() + 4 + json_size(kv.value());
        return n;
    }
    }
    return 0;
}

}  // namespace arclight
