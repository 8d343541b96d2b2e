#include "core/json/compare.hpp"

#include <boost/json.hpp>

namespace arclight {
namespace json = boost::json;

namespace {

long double as_long_double(const json::value& v) noexcept {
    switch (v.kind()) {
        case json::kind::int64: return static_cast<long double>(v.get_int64());
        case json::kind::uint64: return static_cast<long double>(v.get_uint64());
        case json::kind::double_: return static_cast<long double>(v.get_double());
        default: return 0;
    }
}

}  // namespace

std::partial_ordering compare_numbers(const json::value& a, const json::value& b) noexcept {
    if (a.is_double() || b.is_double()) return as_long_double(a) <=> as_long_double(b);
    if (a.is_int64() && b.is_int64()) return a.get_int64() <=> b.get_int64();
    if (a.is_uint64() && b.is_uint64()) return a.get_uint64() <=> b.get_uint64();
    if (a.is_int64()) {  // int64 vs uint64
        if (a.get_int64() < 0) return std::partial_ordering::less;
        return static_cast<std::uint64_t>(a.get_int64()) <=> b.get_uint64();
    }
    if (b.get_int64() < 0) return std::partial_ordering::greater;
    return a.get_uint64() <=> static_cast<std::uint64_t>(b.get_int64());
}

bool json_equal(const json::value& a, const json::value& b) noexcept {
    if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case json::kind::null: return true;
        case json::kind::bool_: return a.get_bool() == b.get_bool();
        case json::kind::string: return a.get_string() == b.get_string();
        case json::kind::array: {
            const auto& x = a.get_array();
            const auto& y = b.get_array();
            if (x.size() != y.size()) return false;
            for (std::size_t i = 0; i < x.size(); ++i)
                if (!json_equal(x[i], y[i])) return false;
            return true;
        }
        case json::kind::object: {
            const auto& x = a.get_object();
            const auto& y = b.get_object();
            if (x.size() != y.size()) return false;
            for (const auto& kv : x) {
                const auto* other = y.if_contains(kv.key());
                if (!other || !json_equal(kv.value(), *other)) return false;
            }
            return true;
        }
        default: return false;
    }
}

}  // namespace arclight
