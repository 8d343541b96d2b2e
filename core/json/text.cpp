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

}  // namespace

std::optional<UnstorableJson> find_unstorable(const boost::json::value& v, const std::string& base) {
    UnstorableJson out;
    if (walk(v, base, out)) return std::nullopt;
    return out;
}

}  // namespace arclight
