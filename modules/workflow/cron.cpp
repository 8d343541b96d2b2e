#include "modules/workflow/cron.hpp"

// Cron schedules as bit sets, searched field by field: a month that does not match is skipped
// whole, then days, then hours, and the minute is found with one bit scan. Finding the next
// fire time costs at most a few thousand steps even for schedules that fire once in years.
// Calendar arithmetic is proleptic Gregorian in UTC (Howard Hinnant's days/civil algorithms).

#include <array>
#include <bit>
#include <limits>
#include <vector>

namespace arclight::workflow {

namespace {

struct FieldSpec {
    const char* name;
    int min;
    int max;
    const char* names_hint;  ///< for the "not a value" message, nullptr for numeric fields
};

constexpr std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, nullptr},
    {"hour", 0, 23, nullptr},
    {"day-of-month", 1, 31, nullptr},
    {"month", 1, 12, "jan-dec"},
    {"day-of-week", 0, 7, "sun-sat"},  // 7 is Sunday too
}};

constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                      "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kWeekdays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

constexpr std::string_view kFieldList = "minute hour day-of-month month day-of-week";

[[noreturn]] void fail(const FieldSpec& f, const std::string& message) {
    throw std::invalid_argument(std::string(f.name) + ": " + message);
}

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != b[i]) return false;
    return true;
}

bool all_digits(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

/// A decimal number, saturating (so "99999999999" is reported as out of range, not wrapped).
int to_int(std::string_view s) noexcept {
    int v = 0;
    for (char c : s) {
        v = v * 10 + (c - '0');
        if (v > 100000) return 100000;
    }
    return v;
}

/// One value of a field: a number in range, or a month/weekday name.
int parse_value(const FieldSpec& f, std::size_t field, std::string_view s) {
    if (all_digits(s)) {
        const int v = to_int(s);
        if (v < f.min || v > f.max)
            fail(f, std::string(s) + " is out of range " + std::to_string(f.min) + "-" + std::to_string(f.max));
        return v;
    }
    if (field == 3)
        for (std::size_t i = 0; i < kMonths.size(); ++i)
            if (iequals(s, kMonths[i])) return static_cast<int>(i) + 1;
    if (field == 4)
        for (std::size_t i = 0; i < kWeekdays.size(); ++i)
            if (iequals(s, kWeekdays[i])) return static_cast<int>(i);
    if (s.empty()) fail(f, "a value is missing");
    if (f.names_hint)
        fail(f, "\"" + std::string(s) + "\" is not a number or a name (" + f.names_hint + ")");
    fail(f, "\"" + std::string(s) + "\" is not a number");
}

/// The bits of one field. `*`, n, a-b, lists, and steps (*/n, a-b/n, a/n = a-max/n).
std::uint64_t parse_field(std::size_t field, std::string_view text) {
    const FieldSpec& f = kFields[field];
    std::uint64_t bits = 0;
    std::size_t start = 0;
    while (true) {
        const auto comma = text.find(',', start);
        const auto item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (item.empty()) fail(f, "empty item in list \"" + std::string(text) + "\"");

        auto range = item;
        int step = 1;
        const auto slash = item.find('/');
        if (slash != std::string_view::npos) {
            range = item.substr(0, slash);
            const auto step_text = item.substr(slash + 1);
            if (!all_digits(step_text)) fail(f, "step \"" + std::string(step_text) + "\" is not a number");
            step = to_int(step_text);
            if (step < 1) fail(f, "step must be at least 1");
        }
        int lo = f.min;
        int hi = f.max;
        if (range != "*") {
            const auto dash = range.find('-');
            if (dash != std::string_view::npos) {
                lo = parse_value(f, field, range.substr(0, dash));
                hi = parse_value(f, field, range.substr(dash + 1));
                if (lo > hi)
                    fail(f, "range " + std::string(range) + " is backwards (the start must not be after the end)");
            } else {
                lo = parse_value(f, field, range);
                hi = slash == std::string_view::npos ? lo : field == 4 ? 6 : f.max;
            }
        } else if (field == 4) {
            hi = 6;  // "*" is every weekday once
        }
        for (int v = lo; v <= hi; v += step) bits |= std::uint64_t{1} << v;

        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    if (field == 4 && (bits & (1u << 7))) bits = (bits | 1u) & 0x7Fu;  // 7 -> Sunday
    return bits;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<std::string_view> split_fields(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) ++i;
        const std::size_t begin = i;
        while (i < s.size() && !is_space(s[i])) ++i;
        if (i > begin) out.push_back(s.substr(begin, i - begin));
    }
    return out;
}

std::string_view expand_macro(std::string_view text) {
    struct Macro {
        std::string_view name;
        std::string_view expansion;
    };
    static constexpr Macro kMacros[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
        {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
    };
    for (const auto& m : kMacros)
        if (iequals(text, m.name)) return m.expansion;
    throw std::invalid_argument("unknown macro \"" + std::string(text) +
                                "\" (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)");
}

// --- calendar (UTC, proleptic Gregorian)

constexpr std::int64_t kMinutesPerDay = 24 * 60;
constexpr std::int64_t kMsPerMinute = 60'000;

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

/// Days since 1970-01-01 of y-m-d.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
    std::int64_t year;
    unsigned month;  ///< 1..12
    unsigned day;    ///< 1..31
};

constexpr Civil civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11017).year == 2000 && civil_from_days(11017).month == 3);

/// 0 = Sunday; 1970-01-01 was a Thursday.
constexpr unsigned weekday(std::int64_t days) noexcept {
    return static_cast<unsigned>(days + 4 - floor_div(days + 4, 7) * 7);
}

}  // namespace

CronSchedule CronSchedule::parse(std::string_view text) {
    std::size_t b = 0;
    std::size_t e = text.size();
    while (b < e && is_space(text[b])) ++b;
    while (e > b && is_space(text[e - 1])) --e;
    const auto trimmed = text.substr(b, e - b);

    CronSchedule s;
    s.text_ = std::string(trimmed);
    const auto spec = !trimmed.empty() && trimmed.front() == '@' ? expand_macro(trimmed) : trimmed;
    const auto fields = split_fields(spec);
    if (fields.size() < kFields.size())
        throw std::invalid_argument(std::string(kFields[fields.size()].name) + ": missing (a schedule has 5 fields: " +
                                    std::string(kFieldList) + ")");
    if (fields.size() > kFields.size())
        throw std::invalid_argument("too many fields: expected 5 (" + std::string(kFieldList) + "), got " +
                                    std::to_string(fields.size()));
    s.minutes_ = parse_field(0, fields[0]);
    s.hours_ = static_cast<std::uint32_t>(parse_field(1, fields[1]));
    s.days_ = static_cast<std::uint32_t>(parse_field(2, fields[2]));
    s.months_ = static_cast<std::uint16_t>(parse_field(3, fields[3]));
    s.weekdays_ = static_cast<std::uint8_t>(parse_field(4, fields[4]));
    // Like Vixie cron: a day field counts as restricted unless it starts with "*" (so "*/2" does not).
    s.dom_restricted_ = fields[2].front() != '*';
    s.dow_restricted_ = fields[4].front() != '*';
    return s;
}

std::int64_t CronSchedule::next_after(std::int64_t after_ms) const {
    constexpr std::int64_t kHorizonDays = 8 * 366;  // "within the next 8 years", rounded up
    // Far enough from the int64 edges that no minute or millisecond value below can overflow.
    constexpr std::int64_t kLimit = std::numeric_limits<std::int64_t>::max() / 2;
    if (after_ms > kLimit || after_ms < -kLimit || minutes_ == 0 || hours_ == 0 || days_ == 0 || months_ == 0 ||
        weekdays_ == 0)
        return -1;

    std::int64_t t = floor_div(after_ms, kMsPerMinute) + 1;  // minutes since the epoch
    const std::int64_t end = t + kHorizonDays * kMinutesPerDay;
    while (t <= end) {
        const std::int64_t days = floor_div(t, kMinutesPerDay);
        const auto minute_of_day = static_cast<unsigned>(t - days * kMinutesPerDay);
        const Civil c = civil_from_days(days);

        if (!(months_ & (1u << c.month))) {  // on to the 1st of the next month
            const bool december = c.month == 12;
            t = days_from_civil(december ? c.year + 1 : c.year, december ? 1 : c.month + 1, 1) * kMinutesPerDay;
            continue;
        }
        const bool dom = (days_ >> c.day) & 1u;
        const bool dow = (weekdays_ >> weekday(days)) & 1u;
        const bool day_ok = dom_restricted_ && dow_restricted_ ? (dom || dow) : (dom && dow);
        if (!day_ok) {
            t = (days + 1) * kMinutesPerDay;
            continue;
        }
        const unsigned hour = minute_of_day / 60;
        const unsigned minute = minute_of_day % 60;
        const std::uint32_t hours_left = hours_ & (~std::uint32_t{0} << hour);
        if (hours_left == 0) {
            t = (days + 1) * kMinutesPerDay;
            continue;
        }
        const auto h = static_cast<unsigned>(std::countr_zero(hours_left));
        const std::uint64_t minutes_left = minutes_ & (~std::uint64_t{0} << (h == hour ? minute : 0));
        if (minutes_left == 0) {
            t = days * kMinutesPerDay + (h + 1) * 60;
            continue;
        }
        const auto m = static_cast<unsigned>(std::countr_zero(minutes_left));
        return (days * kMinutesPerDay + h * 60 + m) * kMsPerMinute;
    }
    return -1;
}

}  // namespace arclight::workflow
