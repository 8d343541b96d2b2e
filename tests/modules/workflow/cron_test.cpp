#include "modules/workflow/cron.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace arclight::workflow;

namespace {

/// UTC epoch milliseconds of a civil time (std::chrono's calendar, independent of cron.cpp).
std::int64_t utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
    using namespace std::chrono;
    const sys_days date = year{y} / month{mo} / day{d};
    return duration_cast<milliseconds>(date.time_since_epoch() + hours{h} + minutes{mi} + seconds{s}).count();
}

std::int64_t next(std::string_view cron, std::int64_t after) { return CronSchedule::parse(cron).next_after(after); }

std::string error_of(std::string_view cron) {
    try {
        (void)CronSchedule::parse(cron);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("cron: the test clock is right") {
    CHECK(utc(2026, 11, 26, 12, 3, 10) == 1795694590000);  // date -u -d 2026-11-26T12:03:10Z +%s
    CHECK(utc(2028, 2, 29) == 1835395200000);
    CHECK(utc(1970, 1, 1) == 0);
}

TEST_CASE("cron: every five minutes") {
    const auto s = CronSchedule::parse("*/5 * * * *");
    CHECK(s.next_after(utc(2026, 11, 26, 12, 3, 10)) == utc(2026, 11, 26, 12, 5));
    CHECK(s.next_after(utc(2026, 11, 26, 12, 3, 10)) == 1795694700000);
    // Strictly after: at a fire time, the next one.
    CHECK(s.next_after(utc(2026, 11, 26, 12, 5)) == utc(2026, 11, 26, 12, 10));
    CHECK(s.next_after(utc(2026, 11, 26, 12, 5) - 1) == utc(2026, 11, 26, 12, 5));
    CHECK(s.next_after(utc(2026, 12, 31, 23, 57)) == utc(2027, 1, 1, 0, 0));
    CHECK(s.text() == "*/5 * * * *");
}

TEST_CASE("cron: daily at midnight") {
    CHECK(next("0 0 * * *", utc(2026, 11, 26, 12, 3, 10)) == utc(2026, 11, 27));
    CHECK(next("0 0 * * *", utc(2026, 11, 27)) == utc(2026, 11, 28));
    CHECK(next("0 0 * * *", utc(2026, 12, 31, 0, 0, 1)) == utc(2027, 1, 1));
    CHECK(next("@daily", utc(2026, 11, 26, 12)) == utc(2026, 11, 27));
    CHECK(next("@midnight", utc(2026, 11, 26, 12)) == utc(2026, 11, 27));
}

TEST_CASE("cron: weekdays skip the weekend") {
    const auto s = CronSchedule::parse("0 9 * * mon-fri");
    // 2026-11-26 is a Thursday.
    CHECK(s.next_after(utc(2026, 11, 26, 8, 59)) == utc(2026, 11, 26, 9));
    CHECK(s.next_after(utc(2026, 11, 26, 9)) == utc(2026, 11, 27, 9));        // Friday
    CHECK(s.next_after(utc(2026, 11, 27, 9, 0, 1)) == utc(2026, 11, 30, 9));  // Monday
    CHECK(s.next_after(utc(2026, 11, 28, 12)) == utc(2026, 11, 30, 9));       // from Saturday
    CHECK(next("0 9 * * MON-Fri", utc(2026, 11, 28)) == utc(2026, 11, 30, 9));  // names ignore case
    CHECK(next("0 9 * * 1-5", utc(2026, 11, 28)) == utc(2026, 11, 30, 9));
}

TEST_CASE("cron: February 29th and impossible dates") {
    CHECK(next("0 0 29 2 *", utc(2026, 11, 26)) == utc(2028, 2, 29));
    CHECK(next("0 0 29 2 *", utc(2026, 11, 26)) == 1835395200000);
    CHECK(next("0 0 29 2 *", utc(2028, 2, 29)) == utc(2032, 2, 29));
    // 2100 is not a leap year: 2097 -> 2104, 7 years later, still within the horizon.
    CHECK(next("0 0 29 2 *", utc(2097, 3, 1)) == utc(2104, 2, 29));
    CHECK(next("0 0 30 2 *", utc(2026, 11, 26)) == -1);
    CHECK(next("0 0 31 4,6,9,11 *", utc(2026, 1, 1)) == -1);
    CHECK(next("0 0 31 * *", utc(2026, 4, 1)) == utc(2026, 5, 31));
}

TEST_CASE("cron: day-of-month and day-of-week are ORed when both are restricted") {
    const auto s = CronSchedule::parse("0 0 1,15 * 0");
    // Thursday 2026-11-26: Sunday the 29th, then Tuesday December 1st, then Sunday the 6th.
    CHECK(s.next_after(utc(2026, 11, 26)) == utc(2026, 11, 29));
    CHECK(s.next_after(utc(2026, 11, 29)) == utc(2026, 12, 1));
    CHECK(s.next_after(utc(2026, 12, 1)) == utc(2026, 12, 6));
    CHECK(s.next_after(utc(2026, 12, 13)) == utc(2026, 12, 15));  // a Tuesday
    // Only one restricted: plain AND.
    CHECK(next("0 0 1,15 * *", utc(2026, 11, 26)) == utc(2026, 12, 1));
    CHECK(next("0 0 * * 0", utc(2026, 11, 26)) == utc(2026, 11, 29));
    // A field starting with "*" counts as unrestricted (Vixie): odd days that are Mondays.
    CHECK(next("0 0 */2 * 1", utc(2026, 11, 26)) == utc(2026, 12, 7));
}

TEST_CASE("cron: macros") {
    CHECK(next("@hourly", utc(2026, 11, 26, 12, 3, 10)) == utc(2026, 11, 26, 13));
    CHECK(next("@HOURLY", utc(2026, 11, 26, 12, 59, 59)) == utc(2026, 11, 26, 13));
    CHECK(next("@weekly", utc(2026, 11, 26)) == utc(2026, 11, 29));
    CHECK(next("@monthly", utc(2026, 11, 26)) == utc(2026, 12, 1));
    CHECK(next("@yearly", utc(2026, 11, 26)) == utc(2027, 1, 1));
    CHECK(next("@annually", utc(2026, 11, 26)) == utc(2027, 1, 1));
    CHECK(CronSchedule::parse("  @hourly ").text() == "@hourly");
}

TEST_CASE("cron: names, Sunday as 0 or 7, ranges, lists and steps") {
    CHECK(next("0 0 1 jan *", utc(2026, 11, 26)) == utc(2027, 1, 1));
    CHECK(next("0 0 1 JAN-mar *", utc(2027, 1, 1)) == utc(2027, 2, 1));
    CHECK(next("0 12 * * sun", utc(2026, 11, 26)) == utc(2026, 11, 29, 12));
    CHECK(next("0 12 * * 7", utc(2026, 11, 26)) == utc(2026, 11, 29, 12));
    CHECK(next("0 12 * * 0", utc(2026, 11, 26)) == utc(2026, 11, 29, 12));
    CHECK(next("0 12 * * fri-7", utc(2026, 11, 26)) == utc(2026, 11, 27, 12));  // Fri, Sat, Sun
    CHECK(next("0 12 * * 6-7", utc(2026, 11, 29, 13)) == utc(2026, 12, 5, 12));
    CHECK(next("1-3,10 * * * *", utc(2026, 11, 26, 12, 3)) == utc(2026, 11, 26, 12, 10));
    CHECK(next("0-30/10 * * * *", utc(2026, 11, 26, 12, 21)) == utc(2026, 11, 26, 12, 30));
    CHECK(next("0-30/10 * * * *", utc(2026, 11, 26, 12, 30)) == utc(2026, 11, 26, 13, 0));
    CHECK(next("5/15 * * * *", utc(2026, 11, 26, 12, 36)) == utc(2026, 11, 26, 12, 50));
    CHECK(next("30 */6 * * *", utc(2026, 11, 26, 12, 31)) == utc(2026, 11, 26, 18, 30));
    CHECK(next("59 23 31 12 *", utc(2026, 11, 26)) == utc(2026, 12, 31, 23, 59));
    CHECK(next("  0\t0  * *   * ", utc(2026, 11, 26)) == utc(2026, 11, 27));
}

TEST_CASE("cron: times before 1970 and at the edges") {
    CHECK(next("0 0 1 1 *", -1) == 0);
    CHECK(next("* * * * *", -1) == 0);
    CHECK(next("* * * * *", -60001) == -60000);
    CHECK(next("0 0 * * *", utc(1969, 12, 31, 12)) == 0);
    CHECK(next("* * * * *", INT64_MAX) == -1);
    CHECK(next("* * * * *", INT64_MIN) == -1);
}

TEST_CASE("cron: rare schedules are found quickly") {
    // Would be ~4 million minute steps per call if searched minute by minute.
    const auto never = CronSchedule::parse("0 0 30 2 *");
    const auto leap = CronSchedule::parse("59 23 29 2 *");
    const std::int64_t start = utc(2026, 1, 1);
    for (std::int64_t i = 0; i < 2000; ++i) {
        const std::int64_t t = start + i * 3'600'000;
        CHECK(never.next_after(t) == -1);
        CHECK(leap.next_after(t) == utc(2028, 2, 29, 23, 59));
    }
}

TEST_CASE("cron: errors name the field") {
    CHECK(error_of("61 * * * *") == "minute: 61 is out of range 0-59");
    CHECK(error_of("* 24 * * *") == "hour: 24 is out of range 0-23");
    CHECK(error_of("* * 0 * *") == "day-of-month: 0 is out of range 1-31");
    CHECK(error_of("* * * 13 *") == "month: 13 is out of range 1-12");
    CHECK(error_of("* * * * 8") == "day-of-week: 8 is out of range 0-7");
    CHECK(error_of("* * *") == "month: missing (a schedule has 5 fields: minute hour day-of-month month day-of-week)");
    CHECK(error_of("").starts_with("minute: missing"));
    CHECK(error_of("* * * * * *").starts_with("too many fields"));
    CHECK(error_of("*/0 * * * *") == "minute: step must be at least 1");
    CHECK(error_of("*/x * * * *") == "minute: step \"x\" is not a number");
    CHECK(error_of("5-1 * * * *").starts_with("minute: range 5-1 is backwards"));
    CHECK(error_of("foo * * * *") == "minute: \"foo\" is not a number");
    CHECK(error_of("* * * foo *") == "month: \"foo\" is not a number or a name (jan-dec)");
    CHECK(error_of("* * * * monday") == "day-of-week: \"monday\" is not a number or a name (sun-sat)");
    CHECK(error_of("* * * mon *").starts_with("month: \"mon\""));
    CHECK(error_of("* * jan * *").starts_with("day-of-month: \"jan\""));
    CHECK(error_of("1,,2 * * * *").starts_with("minute: empty item"));
    CHECK(error_of("-5 * * * *") == "minute: a value is missing");
    CHECK(error_of("99999999999 * * * *") == "minute: 99999999999 is out of range 0-59");
    CHECK(error_of("@reboot").starts_with("unknown macro \"@reboot\""));
    CHECK_THROWS_AS(CronSchedule::parse("61 * * * *"), std::invalid_argument);
}
