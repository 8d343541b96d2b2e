// GCC 12 at -O2 reports false -Warray-bounds on std::string concatenation chains (a known
// libstdc++/GCC 12 issue); this test builds many such strings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
#include "core/expr/expr.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <string>

using namespace arclight::expr;
namespace json = boost::json;

namespace {

const json::object& scope_object() {
    static const json::object o = json::parse(R"({
        "input": {"name": "Ada", "count": 3, "ratio": 0.5, "tags": ["a", "b", "c"], "empty": "",
                  "nothing": null, "nested": {"deep": {"value": 42}}, "flag": true, "big": 18446744073709551615,
                  "key": "name", "idx": 1, "num_text": " 12.5 ", "raw": "{\"a\": [1, 2]}"},
        "tasks": {"fetch": {"output": {"status": 200, "content-type": "text/html", "items": [{"id": 1}, {"id": 2}],
                                       "data": null}},
                  "fetch-data": {"output": 7}},
        "trigger": {"body": {"x": 1}}
    })").as_object();
    return o;
}

json::value ev(const std::string& text) {
    ObjectScope scope(scope_object());
    return Expr::parse(text).eval(scope);
}

bool truthy(const std::string& text) {
    ObjectScope scope(scope_object());
    return Expr::parse(text).truthy(scope);
}

/// The message of the ExprError thrown by parsing (or else evaluating) `text`, "" if none.
std::string error_of(const std::string& text) {
    try {
        ObjectScope scope(scope_object());
        (void)Expr::parse(text).eval(scope);
    } catch (const ExprError& e) {
        return e.what();
    }
    return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("expr: literals") {
    CHECK(ev("42") == json::value(42));
    CHECK(ev("-1.5") == json::value(-1.5));
    CHECK(ev("\"text\"") == json::value("text"));
    CHECK(ev("'text'") == json::value("text"));
    CHECK(ev("'it\\'s \"q\" \\n\\u00e9\\ud83d\\ude00'") == json::value("it's \"q\" \n\xc3\xa9\xf0\x9f\x98\x80"));
    CHECK(ev("true") == json::value(true));
    CHECK(ev("false") == json::value(false));
    CHECK(ev("null").is_null());
    CHECK(ev("1e3") == json::value(1000.0));
    CHECK(ev("-9223372036854775808").as_int64() == INT64_MIN);
    CHECK(ev("18446744073709551615").as_uint64() == UINT64_MAX);
    CHECK(ev("  ( 1 )  ") == json::value(1));
}

TEST_CASE("expr: paths") {
    CHECK(ev("input.name") == json::value("Ada"));
    CHECK(ev("input.tags[0]") == json::value("a"));
    CHECK(ev("input.tags[ 2 ]") == json::value("c"));
    CHECK(ev("input.tags[5]").is_null());
    CHECK(ev("input[\"name\"]") == json::value("Ada"));
    CHECK(ev("tasks.fetch.output[\"content-type\"]") == json::value("text/html"));
    CHECK(ev("tasks['fetch-data'].output") == json::value(7));
    CHECK(ev("tasks.fetch.output.items[1].id") == json::value(2));
    CHECK(ev("input.nested.deep") == json::parse(R"({"value": 42})"));
    CHECK(ev("input.missing").is_null());
    CHECK(ev("input[input.key]") == json::value("Ada"));
    CHECK(ev("input.tags[input.idx + 1]") == json::value("c"));
    CHECK(ev("input . nested . deep . value") == json::value(42));
    CHECK(ev("json(input.raw).a[1]") == json::value(2));
    CHECK(ev("(input.nested).deep.value") == json::value(42));
    CHECK(ev("trigger.body") == json::parse(R"({"x": 1})"));
}

TEST_CASE("expr: path errors") {
    CHECK(contains(error_of("tasks.fetch.output.data.items"), "cannot read \"items\" of null"));
    CHECK(contains(error_of("tasks.fetch.output.data.items"), "tasks.fetch.output.data is null"));
    CHECK(contains(error_of("input.count[0]"), "cannot read [0] of number"));
    CHECK(contains(error_of("input.name.first"), "cannot read \"first\" of string"));
    CHECK(contains(error_of("input.tags.x"), "cannot read \"x\" of array"));
    CHECK(contains(error_of("input.nested[0]"), "cannot read [0] of object"));
    CHECK(contains(error_of("inptu.name"), "unknown name \"inptu\""));
    CHECK(contains(error_of("input.tags[-1]"), "negative index -1 is not supported"));
    CHECK(contains(error_of("input.tags[0 - 1]"), "negative index -1 is not supported"));
    CHECK(contains(error_of("input.tags[1.5]"), "not a whole number"));
    CHECK(contains(error_of("input.tags[true]"), "an index must be a string or a number"));
    CHECK(contains(error_of("5.x"), "cannot read \"x\" of number"));
    // The message names the expression.
    CHECK(error_of("inptu.name") == "in {{ inptu.name }}: unknown name \"inptu\"");
}

TEST_CASE("expr: comparison and equality") {
    CHECK(ev("1 == 1.0") == json::value(true));
    CHECK(ev("input.big == 18446744073709551615") == json::value(true));
    CHECK(ev("input.big > 9223372036854775807") == json::value(true));
    CHECK(ev("-1 < input.big") == json::value(true));
    CHECK(ev("0.5 < 1") == json::value(true));
    CHECK(ev("2 <= 2") == json::value(true));
    CHECK(ev("3 >= 4") == json::value(false));
    CHECK(ev("\"abc\" < \"abd\"") == json::value(true));
    CHECK(ev("\"b\" > \"abc\"") == json::value(true));
    CHECK(contains(error_of("input.tags == [\"a\"]"), "unexpected \"[\" at column 15"));  // no array literals
}

TEST_CASE("expr: deep equality") {
    CHECK(ev("tasks.fetch.output.items[0] == json('{\"id\": 1.0}')") == json::value(true));
    CHECK(ev("input.tags == json('[\"a\",\"b\",\"c\"]')") == json::value(true));
    CHECK(ev("input.tags != json('[\"a\",\"b\"]')") == json::value(true));
    CHECK(ev("null == input.missing") == json::value(true));
    CHECK(ev("0 == false") == json::value(false));
    CHECK(ev("\"1\" == 1") == json::value(false));
    CHECK(ev("input.nested == json('{\"deep\": {\"value\": 42}}')") == json::value(true));
}

TEST_CASE("expr: comparison type errors") {
    CHECK(contains(error_of("1 < \"2\""), "< needs two numbers or two strings, got number and string"));
    CHECK(contains(error_of("null >= 1"), ">= needs two numbers or two strings"));
    CHECK(contains(error_of("input.tags < input.tags"), "got array and array"));
}

TEST_CASE("expr: arithmetic") {
    CHECK(ev("1 + 2 * 3") == json::value(7));
    CHECK(ev("(1 + 2) * 3") == json::value(9));
    CHECK(ev("7 / 2") == json::value(3.5));
    CHECK(ev("6 / 3").is_int64());
    CHECK(ev("6 / 3") == json::value(2));
    CHECK(ev("7 % 3") == json::value(1));
    CHECK(ev("-7 % 3") == json::value(-1));
    CHECK(ev("7.5 % 2") == json::value(1.5));
    CHECK(ev("10 - 4 - 3") == json::value(3));
    CHECK(ev("input.count * input.ratio") == json::value(1.5));
    CHECK(ev("-input.count") == json::value(-3));
    CHECK(ev("- -2") == json::value(2));
    CHECK(ev("9223372036854775807 + 1").as_uint64() == 9223372036854775808ull);
    CHECK(ev("input.big + 1").is_double());
    CHECK(ev("\"a\" + \"b\" + input.name") == json::value("abAda"));
    CHECK(contains(error_of("1 / 0"), "division by zero"));
    CHECK(contains(error_of("1 % 0"), "division by zero"));
    CHECK(contains(error_of("1.5 / 0"), "division by zero"));
    CHECK(contains(error_of("\"a\" + 1"), "+ needs two numbers or two strings, got string and number"));
    CHECK(contains(error_of("\"a\" - \"b\""), "- needs two numbers, got string and string"));
    CHECK(contains(error_of("null * 2"), "* needs two numbers, got null and number"));
    CHECK(contains(error_of("-input.name"), "- needs a number, got string"));
    CHECK(contains(error_of("1e308 * 10"), "too large"));
}

TEST_CASE("expr: logic and truthiness") {
    CHECK(ev("true && 1") == json::value(true));
    CHECK(ev("0 || \"\"") == json::value(false));
    CHECK(ev("input.name || false") == json::value(true));
    CHECK(ev("!input.empty") == json::value(true));
    CHECK(ev("!!input.tags") == json::value(true));
    // Short circuit: the right side would fail.
    CHECK(ev("false && input.nothing.x") == json::value(false));
    CHECK(ev("true || input.nothing.x") == json::value(true));
    CHECK(contains(error_of("true && input.nothing.x"), "cannot read \"x\" of null"));
    // Precedence: && binds tighter than ||; comparison tighter than &&.
    CHECK(ev("true || false && false") == json::value(true));
    CHECK(ev("1 < 2 && 2 < 3") == json::value(true));
    CHECK(ev("!1 == false") == json::value(true));

    CHECK_FALSE(truthy("false"));
    CHECK_FALSE(truthy("null"));
    CHECK_FALSE(truthy("0"));
    CHECK_FALSE(truthy("0.0"));
    CHECK_FALSE(truthy("\"\""));
    CHECK_FALSE(truthy("json('[]')"));
    CHECK_FALSE(truthy("json('{}')"));
    CHECK_FALSE(truthy("input.missing"));
    CHECK(truthy("input.tags"));
    CHECK(truthy("input.nested"));
    CHECK(truthy("\"0\""));
    CHECK(truthy("-1"));
    CHECK(truthy("tasks.fetch.output.status == 200"));
}

TEST_CASE("expr: functions") {
    CHECK(ev("len(input.name)") == json::value(3));
    CHECK(ev("len(\"\xc3\xa9\")") == json::value(2));  // bytes
    CHECK(ev("len(input.tags)") == json::value(3));
    CHECK(ev("len(input.nested.deep)") == json::value(1));
    CHECK(contains(error_of("len(input.count)"), "len() needs a string, an array or an object, got number"));
    CHECK(contains(error_of("len(input.missing)"), "got null"));

    CHECK(ev("string(input.name)") == json::value("Ada"));
    CHECK(ev("string(input.count)") == json::value("3"));
    CHECK(ev("string(input.ratio)") == json::value("0.5"));
    CHECK(ev("string(7 / 2)") == json::value("3.5"));
    CHECK(ev("string(null)") == json::value("null"));
    CHECK(ev("string(input.nested)") == json::value("{\"deep\":{\"value\":42}}"));
    CHECK(ev("string(json('[\"a\\\\\"b\"]'))") == json::value("[\"a\\\"b\"]"));

    CHECK(ev("number(\"42\")") == json::value(42));
    CHECK(ev("number(input.num_text)") == json::value(12.5));
    CHECK(ev("number(\"-1e2\")") == json::value(-100.0));
    CHECK(ev("number(3)") == json::value(3));
    CHECK(contains(error_of("number(\"abc\")"), "number() cannot convert \"abc\" to a number"));
    CHECK(contains(error_of("number(\"\")"), "cannot convert"));
    CHECK(contains(error_of("number(true)"), "number() needs a string or a number, got boolean"));

    CHECK(ev("exists(input.name)") == json::value(true));
    CHECK(ev("exists(input.missing)") == json::value(false));
    CHECK(ev("exists(input.nothing)") == json::value(false));
    CHECK(ev("exists(input.missing.deeper[0].x)") == json::value(false));
    CHECK(ev("exists(tasks.fetch.output.data.items)") == json::value(false));
    CHECK(ev("exists(input.empty)") == json::value(true));
    CHECK(ev("exists(0)") == json::value(true));
    CHECK(contains(error_of("exists(inptu.x)"), "unknown name \"inptu\""));
    CHECK(contains(error_of("exists(input.count.x)"), "cannot read \"x\" of number"));

    CHECK(ev("lower(\"HeLLo\")") == json::value("hello"));
    CHECK(ev("upper(input.name)") == json::value("ADA"));
    CHECK(contains(error_of("lower(1)"), "lower() needs a string, got number"));

    CHECK(ev("json(input.raw)") == json::parse(R"({"a": [1, 2]})"));
    CHECK(ev("json('\"s\"')") == json::value("s"));
    CHECK(contains(error_of("json('{')"), "json() cannot parse its argument"));
    CHECK(contains(error_of("json(1)"), "json() needs a string, got number"));
}

TEST_CASE("expr: syntax errors") {
    CHECK(error_of("a.b + }") == "in {{ a.b + } }}: unexpected \"}\" at column 7");
    CHECK(contains(error_of("1 +"), "unexpected end of expression"));
    CHECK(contains(error_of(""), "empty expression"));
    CHECK(contains(error_of("   "), "empty expression"));
    CHECK(contains(error_of("(1 + 2"), "unexpected end of expression, expected \")\""));
    CHECK(contains(error_of("a b"), "unexpected \"b\" at column 3"));
    CHECK(contains(error_of("a = 1"), "unexpected \"=\" at column 3 (use == to compare)"));
    CHECK(contains(error_of("a & b"), "unexpected \"&\" at column 3"));
    CHECK(contains(error_of("a.5"), "expected a name after \".\""));
    CHECK(contains(error_of("a[1"), "expected \"]\""));
    CHECK(contains(error_of("'abc"), "unterminated string at column 1"));
    CHECK(contains(error_of("'\\q'"), "invalid escape \"\\q\" at column 2"));
    CHECK(contains(error_of("12abc"), "invalid number \"12abc\" at column 1"));
    CHECK(contains(error_of("1e"), "invalid number \"1e\""));
    CHECK(contains(error_of("foo(1)"), "unknown function \"foo\" at column 1"));
    CHECK(contains(error_of("len(1, 2)"), "len() takes exactly one argument, got 2"));
    CHECK(contains(error_of("len()"), "len() takes exactly one argument, got 0"));
    CHECK(contains(error_of("input.tags[-1]"), "at column"));
    CHECK(contains(error_of("a + @"), "unexpected \"@\" at column 5"));
    CHECK(contains(error_of("()"), "unexpected \")\" at column 2"));
    // Syntax errors are found by parse(), before any evaluation.
    CHECK_THROWS_AS(Expr::parse("a +"), ExprError);
}

TEST_CASE("expr: nesting depth limit") {
    std::string ok = std::string(60, '(') + "1" + std::string(60, ')');
    CHECK(ev(ok) == json::value(1));
    std::string deep = std::string(100, '(') + "1" + std::string(100, ')');
    CHECK(contains(error_of(deep), "nested too deeply"));
    std::string nots(1000, '!');
    CHECK(contains(error_of(nots + "true"), "nested too deeply"));
    std::string chain = "1";
    for (int i = 0; i < 100; ++i) chain += " + 1";
    CHECK(contains(error_of(chain), "nested too deeply"));
    std::string calls;
    for (int i = 0; i < 100; ++i) calls += "len(";
    CHECK(contains(error_of(calls + "'x'" + std::string(100, ')')), "nested too deeply"));
    std::string brackets = "input";
    for (int i = 0; i < 100; ++i) brackets += "[input.idx";
    CHECK(contains(error_of(brackets + std::string(100, ']')), "nested too deeply"));
}

TEST_CASE("expr: references") {
    std::vector<std::string> roots, tasks;
    Expr::parse("tasks.fetch.output.x == input.a && tasks[\"other-one\"].ok || len(trigger.body[item.k]) > index")
        .references(roots, tasks);
    CHECK(roots == std::vector<std::string>{"tasks", "input", "trigger", "item", "index"});
    CHECK(tasks == std::vector<std::string>{"fetch", "other-one"});

    roots.clear();
    tasks.clear();
    Expr::parse("tasks[input.which].output + tasks.fetch.a + tasks.fetch.b").references(roots, tasks);
    CHECK(roots == std::vector<std::string>{"tasks", "input"});
    CHECK(tasks == std::vector<std::string>{"fetch"});

    roots.clear();
    tasks.clear();
    Expr::parse("1 + 2").references(roots, tasks);
    CHECK(roots.empty());
    CHECK(tasks.empty());
}

TEST_CASE("expr: ObjectScope") {
    json::object o{{"a", 1}};
    ObjectScope scope(o);
    REQUIRE(scope.lookup("a") != nullptr);
    CHECK(scope.lookup("a") == o.if_contains("a"));
    CHECK(scope.lookup("b") == nullptr);
}

TEST_CASE("expr: Template") {
    ObjectScope scope(scope_object());
    auto t = Template::parse("Hello {{ input.name }}, you have {{input.count}} items{{ input.nothing }}.");
    CHECK_FALSE(t.is_literal());
    CHECK(t.eval(scope) == json::value("Hello Ada, you have 3 items."));

    // A single expression keeps its JSON type.
    CHECK(Template::parse("{{ input.count }}").eval(scope) == json::value(3));
    CHECK(Template::parse("  {{ input.tags }}\n").eval(scope) == json::parse(R"(["a","b","c"])"));
    CHECK(Template::parse("{{ input.nothing }}").eval(scope).is_null());
    // Several parts: a string, non-strings as compact JSON.
    CHECK(Template::parse("{{ input.count }}{{ input.count }}").eval(scope) == json::value("33"));
    CHECK(Template::parse("tags={{ input.tags }} r={{ input.ratio }} f={{ input.flag }}").eval(scope) ==
          json::value("tags=[\"a\",\"b\",\"c\"] r=0.5 f=true"));

    auto lit = Template::parse("no templates here } {");
    CHECK(lit.is_literal());
    CHECK(lit.eval(scope) == json::value("no templates here } {"));
    CHECK(Template::parse("").eval(scope) == json::value(""));

    // }} inside a string literal does not close the part.
    CHECK(Template::parse("{{ \"}}\" + 'x' }}!").eval(scope) == json::value("}}x!"));
    CHECK(Template::parse("{{ \"{{\" }}").eval(scope) == json::value("{{"));

    CHECK_THROWS_WITH_AS(Template::parse("a {{ input.name "), doctest::Contains("without a closing"), ExprError);
    CHECK_THROWS_WITH_AS(Template::parse("{{ }}"), doctest::Contains("empty expression"), ExprError);
    CHECK_THROWS_WITH_AS(Template::parse("x {{ a + }} y"), doctest::Contains("in {{ a + }}"), ExprError);
    CHECK_THROWS_WITH_AS(Template::parse("{{ 'abc }}"), doctest::Contains("unterminated string"), ExprError);
    CHECK_THROWS_WITH_AS(Template::parse("{{ nope }}").eval(scope), doctest::Contains("unknown name \"nope\""),
                         ExprError);

    std::vector<std::string> roots, tasks;
    Template::parse("{{ input.a }} and {{ tasks.fetch.output }}").references(roots, tasks);
    CHECK(roots == std::vector<std::string>{"input", "tasks"});
    CHECK(tasks == std::vector<std::string>{"fetch"});
}

TEST_CASE("expr: ValueTemplate") {
    ObjectScope scope(scope_object());
    const auto config = json::parse(R"({
        "url": "https://example.com/{{ input.name }}",
        "headers": {"Authorization": "Bearer {{ input.key }}", "X-Plain": "plain"},
        "body": {"items": ["{{ input.tags }}", 1, true, null, "{{ input.count + 1 }}"], "static": {"a": [1, 2]}},
        "code": "return '{{ not a template'",
        "nested": {"code": "{{ input.name }}"},
        "{{ key }}": "key names are not templated"
    })");
    auto t = ValueTemplate::compile(config, {"code"});
    CHECK_FALSE(t.is_literal());
    CHECK(t.eval(scope) == json::parse(R"({
        "url": "https://example.com/Ada",
        "headers": {"Authorization": "Bearer name", "X-Plain": "plain"},
        "body": {"items": [["a", "b", "c"], 1, true, null, 4], "static": {"a": [1, 2]}},
        "code": "return '{{ not a template'",
        "nested": {"code": "Ada"},
        "{{ key }}": "key names are not templated"
    })"));
    // Key order is kept.
    const auto out = t.eval(scope).as_object();
    CHECK(out.begin()->key() == "url");
    CHECK((out.end() - 1)->key() == "{{ key }}");

    std::vector<std::string> roots, tasks;
    t.references(roots, tasks);
    CHECK(roots == std::vector<std::string>{"input"});
    CHECK(tasks.empty());

    auto literal = ValueTemplate::compile(json::parse(R"({"a": [1, "x"], "b": "y"})"), {});
    CHECK(literal.is_literal());
    CHECK(literal.eval(scope) == json::parse(R"({"a": [1, "x"], "b": "y"})"));
    CHECK(ValueTemplate::compile(json::value("{{ input.count }}"), {}).eval(scope) == json::value(3));
    CHECK(ValueTemplate::compile(json::value(5), {}).eval(scope) == json::value(5));

    // raw_keys only apply to top-level keys of an object.
    CHECK(ValueTemplate::compile(json::parse(R"({"code": "{{ 1 }}"})"), {"code"}).is_literal());
    CHECK(ValueTemplate::compile(json::parse(R"(["{{ 1 }}"])"), {"code"}).eval(scope) == json::parse("[1]"));
}

TEST_CASE("expr: ValueTemplate compile errors name the JSON pointer") {
    std::string pointer = "unset";
    const auto bad = json::parse(R"({"headers": {"a/b~c": "ok", "Authorization": "Bearer {{ input.key + }}"}})");
    CHECK_THROWS_AS(ValueTemplate::compile(bad, {}, &pointer), ExprError);
    CHECK(pointer == "/headers/Authorization");

    const auto bad2 = json::parse(R"({"body": {"items": ["ok", "{{ oops"]}, "x/y": 1})");
    CHECK_THROWS_AS(ValueTemplate::compile(bad2, {}, &pointer), ExprError);
    CHECK(pointer == "/body/items/1");

    const auto bad3 = json::parse(R"({"a/b~c": "{{ ) }}"})");
    CHECK_THROWS_AS(ValueTemplate::compile(bad3, {}, &pointer), ExprError);
    CHECK(pointer == "/a~1b~0c");

    CHECK_THROWS_AS(ValueTemplate::compile(json::value("{{"), {}, &pointer), ExprError);
    CHECK(pointer == "");
    CHECK_THROWS_AS(ValueTemplate::compile(bad, {}), ExprError);  // no pointer wanted
}

TEST_CASE("expr: evaluation errors from templates") {
    ObjectScope scope(scope_object());
    auto t = ValueTemplate::compile(json::parse(R"({"a": "{{ tasks.fetch.output.data.items }}"})"), {});
    CHECK_THROWS_WITH_AS(t.eval(scope), doctest::Contains("cannot read \"items\" of null"), ExprError);
    try {
        t.eval(scope);
    } catch (const ExprError& e) {
        CHECK(e.expression() == "tasks.fetch.output.data.items");
    }
}

TEST_CASE("expr: compiled expressions are reusable across scopes") {
    auto e = Expr::parse("input.n * 2");
    for (int i = 0; i < 5; ++i) {
        json::object o{{"input", json::object{{"n", i}}}};
        ObjectScope scope(o);
        CHECK(e.eval(scope) == json::value(i * 2));
    }
    Expr copy = e;  // copies share the compiled tree
    json::object o{{"input", json::object{{"n", 21}}}};
    CHECK(copy.eval(ObjectScope(o)) == json::value(42));
    CHECK(copy.text() == "input.n * 2");
}
