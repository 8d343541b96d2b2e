#include "core/json/schema.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <string>

using namespace arclight;
using namespace arclight::jsonschema;
namespace json = boost::json;

namespace {

std::vector<FieldError> validate(const std::string& schema, const std::string& value, const std::string& base = "") {
    std::vector<FieldError> out;
    validate_json(json::parse(schema), json::parse(value), base, out);
    return out;
}

std::vector<FieldError> check(const std::string& schema, const std::string& base = "") {
    std::vector<FieldError> out;
    check_schema(json::parse(schema), base, out);
    return out;
}

/// "pointer: message" lines, for readable comparisons.
std::string show(const std::vector<FieldError>& errors) {
    std::string s;
    for (const auto& e : errors) s += e.pointer + ": " + e.message + "\n";
    return s;
}

const char* kTaskSchema = R"({
    "type": "object",
    "properties": {
        "url": {"type": "string", "minLength": 1, "maxLength": 10},
        "method": {"enum": ["GET", "POST"]},
        "retries": {"type": "integer", "minimum": 1, "maximum": 5},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 60},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
        "note": {"type": ["string", "null"]}
    },
    "required": ["url", "method"],
    "additionalProperties": false
})";

}  // namespace

TEST_CASE("jsonschema: a valid value has no errors") {
    CHECK(show(validate(kTaskSchema, R"({"url": "http://x", "method": "GET", "retries": 3, "timeout": 1.5,
                                         "headers": {"a": "b"}, "tags": ["t"], "note": null})")) == "");
    CHECK(validate("true", "[1, 2]").empty());
    CHECK(validate("{}", R"({"anything": [1]})").empty());
}

TEST_CASE("jsonschema: every error is collected with its pointer") {
    const auto errors = validate(kTaskSchema, R"({"urll": "x", "method": "PUT", "retries": 0, "timeout": 60,
                                                 "headers": {"a": 1}, "tags": [], "note": 5})",
                                 "/config");
    CHECK(show(errors) ==
          "/config/url: is required\n"
          "/config/urll: unknown property \"urll\"\n"
          "/config/method: must be one of: \"GET\", \"POST\"\n"
          "/config/retries: must be >= 1\n"
          "/config/timeout: must be < 60\n"
          "/config/headers/a: must be a string\n"
          "/config/tags: must have at least 1 item\n"
          "/config/note: must be a string or null\n");
}

TEST_CASE("jsonschema: type") {
    CHECK(show(validate(R"({"type": "string"})", "1")) == ": must be a string\n");
    CHECK(show(validate(R"({"type": "object"})", "[]")) == ": must be an object\n");
    CHECK(show(validate(R"({"type": "array"})", "{}")) == ": must be an array\n");
    CHECK(show(validate(R"({"type": "boolean"})", "0")) == ": must be a boolean\n");
    CHECK(show(validate(R"({"type": "null"})", "false")) == ": must be null\n");
    CHECK(show(validate(R"({"type": ["string", "number", "null"]})", "true")) ==
          ": must be a string, a number or null\n");
    CHECK(validate(R"({"type": "number"})", "1").empty());
    CHECK(validate(R"({"type": "number"})", "1.5").empty());
    CHECK(validate(R"({"type": "number"})", "18446744073709551615").empty());
    // "integer" accepts whole numbers, also written as 2.0.
    CHECK(validate(R"({"type": "integer"})", "2").empty());
    CHECK(validate(R"({"type": "integer"})", "2.0").empty());
    CHECK(validate(R"({"type": "integer"})", "-7").empty());
    CHECK(show(validate(R"({"type": "integer"})", "2.5")) == ": must be an integer\n");
    CHECK(show(validate(R"({"type": "integer"})", "\"2\"")) == ": must be an integer\n");
    // A type mismatch skips the value's other keywords.
    CHECK(show(validate(R"({"type": "string", "enum": ["a"], "minLength": 3})", "5")) == ": must be a string\n");
}

TEST_CASE("jsonschema: enum and const") {
    CHECK(validate(R"({"enum": [1, "a", null, {"x": [1]}]})", "1.0").empty());
    CHECK(validate(R"({"enum": [1, "a", null, {"x": [1]}]})", R"({"x": [1]})").empty());
    CHECK(validate(R"({"enum": [1, "a", null, {"x": [1]}]})", "null").empty());
    CHECK(show(validate(R"({"enum": [1, 2.5, "a"]})", "3")) == ": must be one of: 1, 2.5, \"a\"\n");
    CHECK(validate(R"({"const": "x"})", "\"x\"").empty());
    CHECK(show(validate(R"({"const": "x"})", "\"y\"")) == ": must be \"x\"\n");
    CHECK(show(validate(R"({"const": false})", "0")) == ": must be false\n");
}

TEST_CASE("jsonschema: objects") {
    CHECK(show(validate(R"({"required": ["a", "b/c", "d"]})", R"({"a": 1})", "/in")) ==
          "/in/b~1c: is required\n/in/d: is required\n");
    // required applies only to objects
    CHECK(validate(R"({"required": ["a"]})", "5").empty());
    CHECK(show(validate(R"({"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}})",
                        R"({"a": "s", "b": 1, "c~": "x"})")) == "/c~0: must be an integer\n");
    CHECK(show(validate(R"({"additionalProperties": false})", R"({"x": 1})")) == "/x: unknown property \"x\"\n");
    CHECK(validate(R"({"additionalProperties": true})", R"({"x": 1})").empty());
    CHECK(show(validate(R"({"properties": {"a": false}})", R"({"a": 1})")) == "/a: is not allowed\n");
    CHECK(show(validate(R"({"properties": {"a": {"properties": {"b": {"type": "string"}}}}})",
                        R"({"a": {"b": 1}})")) == "/a/b: must be a string\n");
}

TEST_CASE("jsonschema: arrays") {
    CHECK(show(validate(R"({"items": {"type": "integer"}})", R"([1, "x", 3, null])", "/list")) ==
          "/list/1: must be an integer\n/list/3: must be an integer\n");
    CHECK(show(validate(R"({"minItems": 2})", "[1]")) == ": must have at least 2 items\n");
    CHECK(show(validate(R"({"maxItems": 1})", "[1, 2]")) == ": must have at most 1 item\n");
    CHECK(validate(R"({"minItems": 1, "maxItems": 2})", "[1, 2]").empty());
    CHECK(show(validate(R"({"items": {"required": ["id"]}})", R"([{"id": 1}, {}])")) == "/1/id: is required\n");
}

TEST_CASE("jsonschema: strings count characters") {
    CHECK(show(validate(R"({"maxLength": 10})", "\"12345678901\"")) == ": must not be longer than 10 characters\n");
    CHECK(show(validate(R"({"minLength": 3})", "\"ab\"")) == ": must be at least 3 characters long\n");
    CHECK(show(validate(R"({"minLength": 1})", "\"\"")) == ": must be at least 1 character long\n");
    // Code points, not bytes: "héé" is 3 characters (5 bytes).
    CHECK(validate(R"({"maxLength": 3})", "\"h\u00e9\u00e9\"").empty());
    CHECK(validate(R"({"minLength": 1})", "5").empty());  // applies only to strings
}

TEST_CASE("jsonschema: numbers") {
    CHECK(show(validate(R"({"minimum": 1})", "0")) == ": must be >= 1\n");
    CHECK(show(validate(R"({"maximum": 10})", "10.5")) == ": must be <= 10\n");
    CHECK(show(validate(R"({"exclusiveMinimum": 0})", "0")) == ": must be > 0\n");
    CHECK(show(validate(R"({"exclusiveMaximum": 2.5})", "2.5")) == ": must be < 2.5\n");
    CHECK(validate(R"({"minimum": 1, "maximum": 1})", "1.0").empty());
    CHECK(validate(R"({"minimum": -5})", "-5").empty());
    CHECK(validate(R"({"maximum": 18446744073709551615})", "18446744073709551615").empty());
    CHECK(show(validate(R"({"maximum": 9223372036854775807})", "18446744073709551615")) ==
          ": must be <= 9223372036854775807\n");
    CHECK(validate(R"({"minimum": 0})", "\"x\"").empty());  // applies only to numbers
}

TEST_CASE("jsonschema: combinators") {
    const char* any = R"({"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]})";
    CHECK(validate(any, "\"x\"").empty());
    CHECK(validate(any, "3").empty());
    CHECK(show(validate(any, "-1", "/v")) == "/v: must match at least one of the schemas in anyOf\n");

    const char* one = R"({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 2}]})";
    CHECK(validate(one, "1").empty());
    CHECK(validate(one, "2.5").empty());
    CHECK(show(validate(one, "3")) == ": must match exactly one of the schemas in oneOf, but matches 2\n");
    CHECK(show(validate(one, "\"x\"")) == ": must match exactly one of the schemas in oneOf, but matches none\n");

    CHECK(show(validate(R"({"allOf": [{"type": "integer"}, {"minimum": 5}, {"maximum": 3}]})", "4")) ==
          ": must be >= 5\n: must be <= 3\n");
    CHECK(show(validate(R"({"not": {"type": "null"}})", "null")) == ": must not match the schema in not\n");
    CHECK(validate(R"({"not": {"type": "null"}})", "0").empty());
    CHECK(show(validate("false", "1", "/x")) == "/x: is not allowed\n");
}

TEST_CASE("jsonschema: malformed schemas are treated leniently") {
    CHECK(validate("5", "1").empty());
    CHECK(validate(R"({"type": 5, "enum": "x", "required": "a", "properties": [], "items": 3,
                       "minLength": "2", "minimum": "0", "anyOf": {}, "not": 1, "pattern": "^a$"})",
                   R"({"a": 1})")
              .empty());
    CHECK(validate(R"({"type": "strng"})", "1").empty());
    CHECK(show(validate(R"({"type": ["strng", "integer"]})", "\"x\"")) == ": must be an integer\n");
    CHECK(validate(R"({"required": [1, "a"]})", R"({"a": 1})").empty());
    // Unknown keywords are annotations.
    CHECK(validate(R"({"title": "T", "description": "D", "default": 1, "examples": [2], "x-ui": {}})", "3").empty());
}

TEST_CASE("jsonschema: deep nesting does not overflow") {
    json::value schema = json::object{};
    json::value value = 1;
    for (int i = 0; i < 200; ++i) {
        schema = json::object{{"items", std::move(schema)}};
        value = json::array{std::move(value)};
    }
    std::vector<FieldError> out;
    validate_json(schema, value, "", out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].message == "is nested too deeply");
    out.clear();
    check_schema(schema, "", out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].message == "is nested too deeply");
}

TEST_CASE("jsonschema: check_schema accepts the supported subset") {
    CHECK(show(check(kTaskSchema)) == "");
    CHECK(check("true").empty());
    CHECK(check(R"({"title": "x", "description": "y", "default": 3, "$schema": "s", "$comment": "c"})").empty());
    CHECK(check(R"({"anyOf": [true, {"const": 1}], "allOf": [{}], "oneOf": [{"not": {"type": "null"}}]})").empty());
}

TEST_CASE("jsonschema: check_schema reports problems with pointers") {
    CHECK(show(check("5", "/input")) == "/input: must be a schema (an object or a boolean)\n");
    CHECK(show(check(R"({"type": "strng"})", "/s")) ==
          "/s/type: unknown type \"strng\" (expected string, number, integer, boolean, object, array or null)\n");
    CHECK(show(check(R"({"type": ["string", 5]})")) ==
          "/type/1: must be a type name (expected string, number, integer, boolean, object, array or null)\n");
    CHECK(show(check(R"({"type": []})")) == "/type: must be a type name or a non-empty array of type names\n");
    CHECK(show(check(R"({"required": "a"})")) == "/required: must be an array of property names\n");
    CHECK(show(check(R"({"required": ["a", 1]})")) == "/required/1: must be a string\n");
    CHECK(show(check(R"({"minimum": "1", "maxLength": -1, "minItems": 1.5})")) ==
          "/minimum: must be a number\n/maxLength: must be a non-negative integer\n"
          "/minItems: must be a non-negative integer\n");
    CHECK(show(check(R"({"enum": 1})")) == "/enum: must be an array\n");
    CHECK(show(check(R"({"enum": []})")) == "/enum: must not be empty\n");
    CHECK(show(check(R"({"properties": {"a/b": {"type": "nope"}, "c": 3}})")) ==
          "/properties/a~1b/type: unknown type \"nope\" (expected string, number, integer, boolean, object, array "
          "or null)\n/properties/c: must be a schema (an object or a boolean)\n");
    CHECK(show(check(R"({"properties": []})")) == "/properties: must be an object\n");
    CHECK(show(check(R"({"items": [{}], "additionalProperties": 1, "not": "x"})")) ==
          "/items: must be a schema (an object or a boolean)\n"
          "/additionalProperties: must be a schema (an object or a boolean)\n"
          "/not: must be a schema (an object or a boolean)\n");
    CHECK(show(check(R"({"anyOf": [], "oneOf": {}, "allOf": [{"pattern": "x"}]})")) ==
          "/anyOf: must be a non-empty array of schemas\n/oneOf: must be a non-empty array of schemas\n"
          "/allOf/0/pattern: keyword \"pattern\" is not supported\n");
    CHECK(show(check(R"({"$ref": "#/x", "properties": {"a": {"patternProperties": {}}}})", "/config")) ==
          "/config/$ref: keyword \"$ref\" is not supported\n"
          "/config/properties/a/patternProperties: keyword \"patternProperties\" is not supported\n");
}

TEST_CASE("jsonschema: pointer_escape") {
    CHECK(pointer_escape("a/b~c") == "a~1b~0c");
    CHECK(pointer_escape("~1") == "~01");
    CHECK(pointer_escape("") == "");
    CHECK(pointer_escape("plain") == "plain");
}
