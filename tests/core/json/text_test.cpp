// What can be stored as text: UTF-8 validation (its eight-bytes-at-a-time ASCII path included) and
// the JSON walk that names the first value that cannot be stored (its allocation-free first pass
// and the pointer-building second pass agree).
#include "core/json/text.hpp"
#include "core/util/text.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

using namespace arclight;
namespace json = boost::json;

TEST_CASE("valid_utf8: ASCII of every length and a bad byte at every offset") {
    for (std::size_t len = 0; len <= 40; ++len) {
        std::string ok(len, 'a');
        CHECK(valid_utf8(ok));
        for (std::size_t at = 0; at < len; ++at) {
            std::string bad = ok;
            bad[at] = static_cast<char>(0xFF);
            CAPTURE(len);
            CAPTURE(at);
            CHECK(!valid_utf8(bad));
        }
    }
}

TEST_CASE("valid_utf8: multi-byte sequences, after ASCII runs too") {
    const std::string prefix(13, 'x');  // past one 8-byte step
    for (const std::string& good : {std::string("\xC3\xA9"), std::string("\xE2\x82\xAC"), std::string("\xF0\x9F\x98\x80"),
                                    std::string("\xED\x9F\xBF"), std::string("\xF4\x8F\xBF\xBF")}) {
        CHECK(valid_utf8(good));
        CHECK(valid_utf8(prefix + good + prefix));
    }
    for (const std::string& bad : {std::string("\xC0\xAF"),          // overlong
                                   std::string("\xE0\x80\xAF"),      // overlong
                                   std::string("\xED\xA0\x80"),      // surrogate
                                   std::string("\xF4\x90\x80\x80"),  // above U+10FFFF
                                   std::string("\xC3"),              // cut short
                                   std::string("\xE2\x82"),          // cut short
                                   std::string("\x80"),              // continuation alone
                                   std::string("\xC3\x28")}) {       // bad continuation
        CHECK(!valid_utf8(bad));
        CHECK(!valid_utf8(prefix + bad));
        CHECK(!valid_utf8(bad + prefix));
    }
    CHECK(!storable_text(std::string("ab\0cd", 5)));
    CHECK(storable_text("abcd"));
}

TEST_CASE("find_unstorable: names the first value that cannot be stored, with its pointer") {
    CHECK(!find_unstorable(json::parse(R"({"a":[1,2.5,"x",{"b":null,"c":true}],"d~/e":"é"})")));
    json::object o;
    o["headers"] = json::object{{"x-ok", "fine"}, {"x-bad", std::string("\xFF\xFE")}};
    auto bad = find_unstorable(o, "/trigger");
    REQUIRE(bad);
    CHECK(bad->pointer == "/trigger/headers/x-bad");
    CHECK(bad->problem == "is not valid UTF-8 text");

    json::object key;
    key[std::string("k\xFF")] = 1;
    auto bad_key = find_unstorable(json::object{{"a/b", key}});
    REQUIRE(bad_key);
    CHECK(bad_key->pointer == "/a~1b/k\xFF");
    CHECK(bad_key->problem.find("has a key that") == 0);

    auto nul = find_unstorable(json::array{"ok", std::string("a\0b", 3)});
    REQUIRE(nul);
    CHECK(nul->pointer == "/1");
    CHECK(nul->problem == "contains a NUL character");

    auto inf = find_unstorable(json::array{1, std::numeric_limits<double>::infinity()});
    REQUIRE(inf);
    CHECK(inf->pointer == "/1");
    CHECK(inf->problem == "is not a finite number");
}

TEST_CASE("find_unstorable: nesting deeper than the fast pass's stack is still walked whole") {
    for (bool with_bad : {false, true}) {
        json::value v = with_bad ? json::value(std::string("\xFF")) : json::value("fine");
        std::string pointer;
        for (int i = 0; i < 200; ++i) {
            v = json::array{1, std::move(v)};
            pointer = "/1" + pointer;
        }
        auto bad = find_unstorable(v);
        CAPTURE(with_bad);
        CHECK(bad.has_value() == with_bad);
        if (bad) CHECK(bad->pointer == pointer);
    }
    // Wide, not deep: many siblings at one level.
    json::array wide;
    for (int i = 0; i < 500; ++i) wide.push_back(json::object{{"n", i}, {"s", "text"}});
    CHECK(!find_unstorable(wide));
    wide[499].as_object()["s"] = std::string("\xC3");
    auto bad = find_unstorable(wide);
    REQUIRE(bad);
    CHECK(bad->pointer == "/499/s");
}
