#include "core/json/schema.hpp"
#include "core/json/compare.hpp"

// A small JSON Schema (2020-12 subset) validator. Validation walks the schema and the value
// together, appending one FieldError per problem; it never throws (other than on allocation
// failure) and treats malformed schemas leniently: a keyword whose value has the wrong shape is
// skipped. check_schema() is the strict counterpart used when a schema is defined.

#include <boost/json/serialize.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <compare>
#include <optional>

namespace arclight::jsonschema {

namespace json = boost::json;

namespace {

/// Nesting limit for schemas (and values walked with them): bounds recursion.
constexpr int kMaxDepth = 64;

constexpr std::array<std::string_view, 7> kTypeNames = {"string", "number", "integer", "boolean",
                                                        "object", "array",  "null"};

/// Keywords of JSON Schema this subset does not implement: check_schema() rejects them rather
/// than letting a schema silently accept what its author meant to forbid.
constexpr std::array<std::string_view, 23> kUnsupported = {
    "pattern",     "patternProperties", "$ref",          "$dynamicRef",      "$recursiveRef",
    "if",          "then",              "else",          "dependentRequired", "dependentSchemas",
    "dependencies", "prefixItems",      "contains",      "minContains",      "maxContains",
    "uniqueItems", "propertyNames",     "unevaluatedProperties", "unevaluatedItems", "multipleOf",
    "minProperties", "maxProperties",   "additionalItems"};

template <std::size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N>& list) {
    for (auto x : list)
        if (x == s) return true;
    return false;
}

bool is_whole(const json::value& v) noexcept {
    if (v.is_int64() || v.is_uint64()) return true;
    return v.is_double() && std::isfinite(v.get_double()) && std::trunc(v.get_double()) == v.get_double();
}

/// A value for a message: numbers the short way (1.5, not 1.5E0), everything else as JSON.
std::string show(const json::value& v) {
    if (v.is_double() && std::isfinite(v.get_double())) {
        char buf[64];
        const auto r = std::to_chars(buf, buf + sizeof buf, v.get_double());
        return std::string(buf, r.ptr);
    }
    return json::serialize(v);
}

/// minLength, maxItems, ...: a non-negative whole number, or nothing when malformed.
std::optional<std::uint64_t> as_count(const json::value* v) noexcept {
    if (!v) return std::nullopt;
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_double() && is_whole(*v) && v->get_double() >= 0 && v->get_double() < 1.8e19)
        return static_cast<std::uint64_t>(v->get_double());
    return std::nullopt;
}

bool type_matches(std::string_view type, const json::value& v) noexcept {
    if (type == "string") return v.is_string();
    if (type == "number") return v.is_number();
    if (type == "integer") return is_whole(v);
    if (type == "boolean") return v.is_bool();
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "null") return v.is_null();
    return false;
}

std::string type_phrase(std::string_view type) {
    if (type == "null") return "null";
    if (type == "integer" || type == "object" || type == "array") return "an " + std::string(type);
    return "a " + std::string(type);
}

std::size_t code_points(std::string_view s) noexcept {
    std::size_t n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

std::string plural(std::uint64_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

class Validator {
public:
    explicit Validator(std::vector<FieldError>& out) : out_(out) {}

    void validate(const json::value& schema, const json::value& v, std::string& ptr, int depth) {
        if (depth > kMaxDepth) return add(ptr, "is nested too deeply");
        if (schema.is_bool()) {
            if (!schema.get_bool()) add(ptr, "is not allowed");
            return;
        }
        if (!schema.is_object()) return;
        const auto& s = schema.get_object();

        if (const auto* type = s.if_contains("type")) {
            if (auto message = check_type(*type, v)) return add(ptr, std::move(*message));  // the rest is moot
        }
        if (const auto* c = s.if_contains("const"); c && !json_equal(*c, v)) add(ptr, "must be " + show(*c));
        if (const auto* e = s.if_contains("enum"); e && e->is_array() && !e->get_array().empty()) {
            bool found = false;
            for (const auto& option : e->get_array()) found = found || json_equal(option, v);
            if (!found) {
                std::string m = "must be one of: ";
                for (std::size_t i = 0; i < e->get_array().size(); ++i) m += (i ? ", " : "") + show(e->get_array()[i]);
                add(ptr, std::move(m));
            }
        }

        switch (v.kind()) {
            case json::kind::object: validate_object(s, v.get_object(), ptr, depth); break;
            case json::kind::array: validate_array(s, v.get_array(), ptr, depth); break;
            case json::kind::string: validate_string(s, v.get_string(), ptr); break;
            case json::kind::int64:
            case json::kind::uint64:
            case json::kind::double_: validate_number(s, v, ptr); break;
            default: break;
        }

        if (const auto* all = s.if_contains("allOf"); all && all->is_array())
            for (const auto& sub : all->get_array()) validate(sub, v, ptr, depth + 1);
        if (const auto* any = s.if_contains("anyOf"); any && any->is_array() && !any->get_array().empty()) {
            bool matched = false;
            for (const auto& sub : any->get_array()) {
                if (matches(sub, v, ptr, depth)) {
                    matched = true;
                    break;
                }
            }
            if (!matched) add(ptr, "must match at least one of the schemas in anyOf");
        }
        if (const auto* one = s.if_contains("oneOf"); one && one->is_array() && !one->get_array().empty()) {
            std::size_t n = 0;
            for (const auto& sub : one->get_array()) n += matches(sub, v, ptr, depth) ? 1 : 0;
            if (n == 0) add(ptr, "must match exactly one of the schemas in oneOf, but matches none");
            if (n > 1) add(ptr, "must match exactly one of the schemas in oneOf, but matches " + std::to_string(n));
        }
        const auto* no = s.if_contains("not");
        if (no && (no->is_object() || no->is_bool()) && matches(*no, v, ptr, depth))
            add(ptr, "must not match the schema in not");
    }

private:
    std::vector<FieldError>& out_;

    void add(const std::string& ptr, std::string message) { out_.push_back(FieldError{ptr, std::move(message)}); }

    /// True when `v` is valid against `sub` (errors discarded).
    bool matches(const json::value& sub, const json::value& v, std::string& ptr, int depth) {
        std::vector<FieldError> scratch;
        Validator inner(scratch);
        inner.validate(sub, v, ptr, depth + 1);
        return scratch.empty();
    }

    /// nullopt when `v` has one of the types; unknown type names are ignored (lenient).
    static std::optional<std::string> check_type(const json::value& type, const json::value& v) {
        std::vector<std::string_view> known;
        if (type.is_string()) {
            if (one_of(type.get_string(), kTypeNames)) known.push_back(type.get_string());
        } else if (type.is_array()) {
            for (const auto& t : type.get_array())
                if (t.is_string() && one_of(t.get_string(), kTypeNames)) known.push_back(t.get_string());
        }
        if (known.empty()) return std::nullopt;
        for (auto t : known)
            if (type_matches(t, v)) return std::nullopt;
        std::string m = "must be ";
        for (std::size_t i = 0; i < known.size(); ++i) {
            if (i > 0) m += i + 1 == known.size() ? " or " : ", ";
            m += type_phrase(known[i]);
        }
        return m;
    }

    void validate_object(const json::object& s, const json::object& o, std::string& ptr, int depth) {
        if (const auto* required = s.if_contains("required"); required && required->is_array()) {
            for (const auto& name : required->get_array()) {
                if (!name.is_string() || o.contains(name.get_string())) continue;
                add(ptr + "/" + pointer_escape(name.get_string()), "is required");
            }
        }
        const auto* props = s.if_contains("properties");
        const json::object* properties = props && props->is_object() ? &props->get_object() : nullptr;
        const auto* additional = s.if_contains("additionalProperties");
        for (const auto& kv : o) {
            const json::value* sub = properties ? properties->if_contains(kv.key()) : nullptr;
            if (!sub) sub = additional;
            if (!sub) continue;
            const auto size = ptr.size();
            ptr += '/';
            ptr += pointer_escape(kv.key());
            if (sub == additional && additional->is_bool() && !additional->get_bool())
                add(ptr, "unknown property " + json::serialize(json::string_view(kv.key())));
            else
                validate(*sub, kv.value(), ptr, depth + 1);
            ptr.resize(size);
        }
    }

    void validate_array(const json::object& s, const json::array& a, std::string& ptr, int depth) {
        if (auto min = as_count(s.if_contains("minItems")); min && a.size() < *min)
            add(ptr, "must have at least " + plural(*min, "item"));
        if (auto max = as_count(s.if_contains("maxItems")); max && a.size() > *max)
            add(ptr, "must have at most " + plural(*max, "item"));
        if (const auto* items = s.if_contains("items"); items && (items->is_object() || items->is_bool())) {
            for (std::size_t i = 0; i < a.size(); ++i) {
                const auto size = ptr.size();
                ptr += '/';
                ptr += std::to_string(i);
                validate(*items, a[i], ptr, depth + 1);
                ptr.resize(size);
            }
        }
    }

    void validate_string(const json::object& s, std::string_view str, const std::string& ptr) {
        const auto n = code_points(str);
        if (auto min = as_count(s.if_contains("minLength")); min && n < *min)
            add(ptr, "must be at least " + plural(*min, "character") + " long");
        if (auto max = as_count(s.if_contains("maxLength")); max && n > *max)
            add(ptr, "must not be longer than " + plural(*max, "character"));
    }

    void validate_number(const json::object& s, const json::value& v, const std::string& ptr) {
        struct Bound {
            const char* keyword;
            const char* op;
            bool (*ok)(std::partial_ordering);
        };
        static constexpr Bound kBounds[] = {
            {"minimum", ">=", [](std::partial_ordering c) { return c >= 0; }},
            {"maximum", "<=", [](std::partial_ordering c) { return c <= 0; }},
            {"exclusiveMinimum", ">", [](std::partial_ordering c) { return c > 0; }},
            {"exclusiveMaximum", "<", [](std::partial_ordering c) { return c < 0; }},
        };
        for (const auto& b : kBounds) {
            const auto* bound = s.if_contains(b.keyword);
            if (!bound || !bound->is_number()) continue;
            if (!b.ok(compare_numbers(v, *bound))) add(ptr, std::string("must be ") + b.op + " " + show(*bound));
        }
    }
};

class SchemaChecker {
public:
    explicit SchemaChecker(std::vector<FieldError>& out) : out_(out) {}

    void check(const json::value& schema, std::string& ptr, int depth) {
        if (depth > kMaxDepth) return add(ptr, "is nested too deeply");
        if (schema.is_bool()) return;
        if (!schema.is_object()) return add(ptr, "must be a schema (an object or a boolean)");
        for (const auto& kv : schema.get_object()) {
            const std::string_view key = kv.key();
            const auto& x = kv.value();
            const auto size = ptr.size();
            ptr += '/';
            ptr += pointer_escape(key);
            if (key == "type") {
                check_type(x, ptr);
            } else if (key == "enum") {
                if (!x.is_array())
                    add(ptr, "must be an array");
                else if (x.get_array().empty())
                    add(ptr, "must not be empty");
            } else if (key == "properties") {
                if (!x.is_object()) {
                    add(ptr, "must be an object");
                } else {
                    for (const auto& p : x.get_object()) child(p.value(), ptr, pointer_escape(p.key()), depth);
                }
            } else if (key == "required") {
                if (!x.is_array()) {
                    add(ptr, "must be an array of property names");
                } else {
                    const auto& a = x.get_array();
                    for (std::size_t i = 0; i < a.size(); ++i)
                        if (!a[i].is_string()) add(ptr + "/" + std::to_string(i), "must be a string");
                }
            } else if (key == "additionalProperties" || key == "items" || key == "not") {
                check(x, ptr, depth + 1);
            } else if (key == "minItems" || key == "maxItems" || key == "minLength" || key == "maxLength") {
                if (!as_count(&x)) add(ptr, "must be a non-negative integer");
            } else if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" || key == "exclusiveMaximum") {
                if (!x.is_number()) add(ptr, "must be a number");
            } else if (key == "anyOf" || key == "oneOf" || key == "allOf") {
                if (!x.is_array() || x.get_array().empty()) {
                    add(ptr, "must be a non-empty array of schemas");
                } else {
                    const auto& a = x.get_array();
                    for (std::size_t i = 0; i < a.size(); ++i) child(a[i], ptr, std::to_string(i), depth);
                }
            } else if (one_of(key, kUnsupported)) {
                add(ptr, "keyword \"" + std::string(key) + "\" is not supported");
            }
            ptr.resize(size);
        }
    }

private:
    std::vector<FieldError>& out_;

    void add(const std::string& ptr, std::string message) { out_.push_back(FieldError{ptr, std::move(message)}); }

    void child(const json::value& schema, std::string& ptr, const std::string& token, int depth) {
        const auto size = ptr.size();
        ptr += '/';
        ptr += token;
        check(schema, ptr, depth + 1);
        ptr.resize(size);
    }

    void check_type(const json::value& x, const std::string& ptr) {
        const auto known = [](const json::value& t) { return t.is_string() && one_of(t.get_string(), kTypeNames); };
        const std::string list = "string, number, integer, boolean, object, array or null";
        if (x.is_string()) {
            if (!known(x)) add(ptr, "unknown type " + json::serialize(x) + " (expected " + list + ")");
        } else if (x.is_array() && !x.get_array().empty()) {
            const auto& a = x.get_array();
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (known(a[i])) continue;
                const std::string what =
                    a[i].is_string() ? "unknown type " + json::serialize(a[i]) : "must be a type name";
                add(ptr + "/" + std::to_string(i), what + " (expected " + list + ")");
            }
        } else {
            add(ptr, "must be a type name or a non-empty array of type names");
        }
    }
};

}  // namespace

std::string pointer_escape(std::string_view token) {
    std::string out;
    out.reserve(token.size());
    for (char c : token) {
        if (c == '~')
            out += "~0";
        else if (c == '/')
            out += "~1";
        else
            out += c;
    }
    return out;
}

void validate_json(const boost::json::value& schema, const boost::json::value& value, const std::string& base,
                   std::vector<FieldError>& out) {
    std::string ptr = base;
    Validator(out).validate(schema, value, ptr, 0);
}

void check_schema(const boost::json::value& schema, const std::string& base, std::vector<FieldError>& out) {
    std::string ptr = base;
    SchemaChecker(out).check(schema, ptr, 0);
}

}  // namespace arclight::jsonschema
