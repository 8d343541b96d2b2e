#include "core/time/time.hpp"

#include <chrono>

#include <fmt/format.h>

namespace arclight {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string format_rfc3339(std::int64_t epoch_ms) {
    using namespace std::chrono;
    sys_time<milliseconds> tp{milliseconds{epoch_ms}};
    auto day = floor<days>(tp);  // floor, so times before 1970 are right too
    year_month_day ymd{day};
    hh_mm_ss<milliseconds> hms{tp - day};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), hms.hours().count(),
                       hms.minutes().count(), hms.seconds().count(), hms.subseconds().count());
}

namespace {

// Reads exactly `n` ASCII digits at `pos` (no sign, no space); advances `pos`.
bool digits(std::string_view s, std::size_t& pos, int n, int& out) {
    if (s.size() - pos < static_cast<std::size_t>(n)) return false;
    int v = 0;
    for (int i = 0; i < n; ++i) {
        char c = s[pos + i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    pos += n;
    out = v;
    return true;
}

bool expect(std::string_view s, std::size_t& pos, char a, char b = 0) {
    if (pos >= s.size() || (s[pos] != a && (b == 0 || s[pos] != b))) return false;
    ++pos;
    return true;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
    using namespace std::chrono;
    std::size_t p = 0;
    int y, mo, d, h, mi, sec;
    if (!digits(s, p, 4, y) || !expect(s, p, '-') || !digits(s, p, 2, mo) || !expect(s, p, '-') || !digits(s, p, 2, d) ||
        !expect(s, p, 'T', 't') || !digits(s, p, 2, h) || !expect(s, p, ':') || !digits(s, p, 2, mi) ||
        !expect(s, p, ':') || !digits(s, p, 2, sec)) {
        return std::nullopt;
    }
    year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    int ms = 0;
    if (p < s.size() && s[p] == '.') {
        ++p;
        int n = 0;
        for (; p < s.size() && s[p] >= '0' && s[p] <= '9'; ++p, ++n)
            if (n < 3) ms = ms * 10 + (s[p] - '0');
        if (n == 0) return std::nullopt;
        for (; n < 3; ++n) ms *= 10;
    }
    std::int64_t offset_min = 0;
    if (expect(s, p, 'Z', 'z')) {
    } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
        int sign = s[p++] == '-' ? -1 : 1, oh, om;
        if (!digits(s, p, 2, oh) || !expect(s, p, ':') || !digits(s, p, 2, om) || oh > 23 || om > 59) return std::nullopt;
        offset_min = sign * (oh * 60 + om);
    } else {
        return std::nullopt;
    }
    if (p != s.size()) return std::nullopt;
    std::int64_t days_since_epoch = sys_days{ymd}.time_since_epoch().count();
    std::int64_t secs = days_since_epoch * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    return secs * 1000 + ms;
}

Clock::~Clock() = default;

namespace {
class SystemClock final : public Clock {
public:
    std::int64_t now_ms() const override { return arclight::now_ms(); }
};
}  // namespace

Clock& system_clock() {
    static SystemClock clock;
    return clock;
}

}  // namespace arclight
