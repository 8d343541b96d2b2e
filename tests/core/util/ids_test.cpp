// core/util/ids: random (v4) and time-ordered (v7) UUIDs.
#include <doctest/doctest.h>

#include "core/util/ids.hpp"

#include <regex>
#include <set>
#include <string>

using arclight::new_time_uuid;
using arclight::new_uuid;

TEST_CASE("ids: a v4 UUID is random, a v7 UUID carries its millisecond and sorts by it") {
    const std::regex v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    const std::regex v7("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    for (int i = 0; i < 100; ++i) {
        CHECK(std::regex_match(new_uuid(), v4));
        CHECK(std::regex_match(new_time_uuid(), v7));
    }
    // 2026-12-07T00:00:00Z = 1796601600000 ms = 0x01a2_4dcc_d800: the first 48 bits, in hex.
    auto id = new_time_uuid(1796601600000LL);
    CHECK(id.substr(0, 8) == "01a24dcc");
    CHECK(id.substr(9, 4) == "d800");
    // Ids of later milliseconds sort after earlier ones, as text too (what an index orders by).
    std::string prev;
    for (std::int64_t ms = 1796601600000LL; ms < 1796601600000LL + 2000; ms += 7) {
        auto next = new_time_uuid(ms);
        CHECK(next > prev);
        prev = next;
    }
    // Ids of one millisecond still differ (74 random bits).
    std::set<std::string> same_ms;
    for (int i = 0; i < 1000; ++i) same_ms.insert(new_time_uuid(1796601600000LL));
    CHECK(same_ms.size() == 1000);
    // Negative times (a clock before 1970) clamp to 0 instead of wrapping to the far future.
    CHECK(new_time_uuid(-5).substr(0, 13) == "00000000-0000");
}

TEST_CASE("ids: v7 UUIDs made one after another sort one after another, also within a millisecond") {
    // Audit entries are listed by (time, id): two made in one millisecond kept a random order.
    std::string prev = new_time_uuid();
    for (int i = 0; i < 20000; ++i) {  // more than 4,096 in some millisecond: the count carries
        auto next = new_time_uuid();
        REQUIRE(next > prev);
        prev = next;
    }
}
