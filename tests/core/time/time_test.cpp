#include <doctest/doctest.h>

#include "core/time/json.hpp"
#include "core/time/time.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using arclight::format_rfc3339;
using arclight::parse_rfc3339;

namespace {
constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t k20261126T09 = 1795683600000;  // 2026-11-26T09:00:00Z
}  // namespace

TEST_SUITE("time") {

TEST_CASE("format_rfc3339 writes UTC with milliseconds") {
    CHECK(format_rfc3339(0) == "1970-01-01T00:00:00.000Z");
    CHECK(format_rfc3339(k20261126T09 + 123) == "2026-11-26T09:00:00.123Z");
    CHECK(format_rfc3339(951782400000) == "2000-02-29T00:00:00.000Z");  // leap day of a century leap year
    CHECK(format_rfc3339(253402300799999) == "9999-12-31T23:59:59.999Z");
    // Before 1970: floor, not truncation toward zero.
    CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59.999Z");
    CHECK(format_rfc3339(-kDay) == "1969-12-31T00:00:00.000Z");
    CHECK(format_rfc3339(-62167219200000) == "0000-01-01T00:00:00.000Z");
}

TEST_CASE("parse_rfc3339 reads what format_rfc3339 writes") {
    for (std::int64_t t : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, std::int64_t{999}, k20261126T09 + 123,
                           std::int64_t{951782400000}, std::int64_t{253402300799999}, std::int64_t{-62167219200000},
                           arclight::now_ms()}) {
        CAPTURE(t);
        CHECK(parse_rfc3339(format_rfc3339(t)) == t);
    }
    // Every day of a leap year and of a common year, at a time with milliseconds.
    for (std::int64_t t = 1704067200000 + 45'296'789; t < 1767225600000; t += kDay) {  // 2024-01-01 .. 2025-12-31
        REQUIRE(parse_rfc3339(format_rfc3339(t)) == t);
    }
}

TEST_CASE("parse_rfc3339 accepts Z, offsets and fractions") {
    CHECK(parse_rfc3339("2026-11-26T09:00:00Z") == k20261126T09);
    CHECK(parse_rfc3339("2026-11-26t09:00:00z") == k20261126T09);  // RFC 3339 allows lower case t and z
    CHECK(parse_rfc3339("2026-11-26T11:00:00+02:00") == k20261126T09);
    CHECK(parse_rfc3339("2026-11-26T04:30:00-04:30") == k20261126T09);
    CHECK(parse_rfc3339("2026-11-26T09:00:00+00:00") == k20261126T09);
    CHECK(parse_rfc3339("2026-11-26T09:00:00-00:00") == k20261126T09);
    CHECK(parse_rfc3339("2026-11-27T08:59:00+23:59") == k20261126T09);  // crosses the day
    CHECK(parse_rfc3339("2026-11-26T09:00:00.5Z") == k20261126T09 + 500);
    CHECK(parse_rfc3339("2026-11-26T09:00:00.12Z") == k20261126T09 + 120);
    CHECK(parse_rfc3339("2026-11-26T09:00:00.123Z") == k20261126T09 + 123);
    CHECK(parse_rfc3339("2026-11-26T09:00:00.123999999Z") == k20261126T09 + 123);  // truncated to ms
    CHECK(parse_rfc3339("2026-11-26T11:00:00.250+02:00") == k20261126T09 + 250);
    CHECK(parse_rfc3339("2024-02-29T00:00:00Z") == 1709164800000);
    CHECK(parse_rfc3339("2000-02-29T00:00:00Z") == 951782400000);
    CHECK(parse_rfc3339("1969-12-31T23:59:59.999Z") == -1);
    // A leap second counts as the next second.
    CHECK(parse_rfc3339("2016-12-31T23:59:60Z") == parse_rfc3339("2017-01-01T00:00:00Z"));
    // What the two replaced parsers accepted: auth's expiry and the runs list filter.
    CHECK(parse_rfc3339("2027-01-31T00:00:00Z") == 1801353600000);
    CHECK(parse_rfc3339("2001-01-01T00:00:00Z") == 978307200000);
    CHECK(parse_rfc3339("2020-01-01T00:00:00Z") == 1577836800000);
}

TEST_CASE("parse_rfc3339 rejects everything else") {
    const std::vector<std::string> bad{
        "",
        "garbage",
        "2026-11-26",                       // a date alone
        "2026-11-26T09:00:00",              // no zone
        "2026-11-26T09:00Z",                // no seconds
        "2026-11-26 09:00:00Z",             // space instead of T
        "2026-13-01T00:00:00Z",             // month 13
        "2026-00-01T00:00:00Z",             // month 0
        "2026-02-29T00:00:00Z",             // not a leap year
        "2026-02-30T00:00:00Z",             // Feb 30
        "1900-02-29T00:00:00Z",             // century, not a leap year
        "2026-04-31T00:00:00Z",             // April has 30 days
        "2026-11-00T00:00:00Z",             // day 0
        "2026-11-26T24:00:00Z",             // hour 24
        "2026-11-26T09:60:00Z",             // minute 60
        "2026-11-26T09:00:61Z",             // second 61
        "2026-11-26T09:00:00+24:00",        // offset hour 24
        "2026-11-26T09:00:00+02:60",        // offset minute 60
        "2026-11-26T09:00:00+0200",         // offset without colon
        "2026-11-26T09:00:00+02",           // offset without minutes
        "2026-11-26T09:00:00.Z",            // empty fraction
        "2026-11-26T09:00:00,5Z",           // comma fraction
        "2026-11-26T09:00:00ZZ",            // trailing bytes
        "2026-11-26T09:00:00Z ",            // trailing space
        " 2026-11-26T09:00:00Z",            // leading space
        "2026-11-26T09:00:00Zjunk",         // trailing garbage
        "2026-11-26T09:00:00+02:00x",       // trailing after offset
        "+2026-11-26T09:00:00Z",            // signed year
        "20261-11-26T09:00:00Z",            // five-digit year
        "2026-1-26T09:00:00Z",              // one-digit month
        "2026-11-26T9:00:00Z",              // one-digit hour
        "2026-+1-26T09:00:00Z",             // sign inside a field
        "2026-11-26T09:00:00\xef\xbc\xba",  // a full-width Z (valid UTF-8, not ASCII)
        "2026-11-26T09:00:00\xff",          // invalid UTF-8
        "\xc3\x28",                         // invalid UTF-8
        "２０２６-11-26T09:00:00Z",         // full-width digits
    };
    for (const auto& s : bad) {
        CAPTURE(s);
        CHECK_FALSE(parse_rfc3339(s).has_value());
    }
    // An embedded NUL is a trailing byte, not the end of the text.
    CHECK_FALSE(parse_rfc3339(std::string_view("2026-11-26T09:00:00Z\0", 21)).has_value());
    CHECK(parse_rfc3339(std::string_view("2026-11-26T09:00:00Zxx", 20)) == k20261126T09);
    // Times outside 0000–9999 format to text parse_rfc3339 does not take.
    CHECK_FALSE(parse_rfc3339(format_rfc3339(253402300800000)).has_value());
}

TEST_CASE("rfc3339_or_null: 0 means not set") {
    CHECK(arclight::rfc3339_or_null(0).is_null());
    CHECK(arclight::rfc3339_or_null(k20261126T09).as_string() == "2026-11-26T09:00:00.000Z");
}

TEST_CASE("now_ms and system_clock follow the system clock") {
    auto before = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto a = arclight::now_ms();
    auto b = arclight::system_clock().now_ms();
    auto after = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    CHECK(before <= a);
    CHECK(a <= b);
    CHECK(b <= after);
    CHECK(&arclight::system_clock() == &arclight::system_clock());
}

TEST_CASE("ManualClock moves only when told, from any thread") {
    arclight::ManualClock clock(k20261126T09);
    const arclight::Clock& c = clock;
    CHECK(c.now_ms() == k20261126T09);
    CHECK(c.now_ms() == k20261126T09);
    clock.advance(1500);
    CHECK(c.now_ms() == k20261126T09 + 1500);
    clock.set(42);
    CHECK(c.now_ms() == 42);
    clock.advance(-42);
    CHECK(c.now_ms() == 0);
    CHECK(arclight::ManualClock().now_ms() == 0);

    // Concurrent advances all count; readers see a value that only grows.
    constexpr int kThreads = 4, kSteps = 10'000;
    std::vector<std::thread> threads;
    std::atomic<bool> monotonic{true};
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&] {
            std::int64_t last = 0;
            for (int k = 0; k < kSteps; ++k) {
                clock.advance(1);
                auto now = c.now_ms();
                if (now < last) monotonic = false;
                last = now;
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(monotonic);
    CHECK(c.now_ms() == kThreads * kSteps);
}

}  // TEST_SUITE
