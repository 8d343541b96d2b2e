#pragma once
// 5-field cron schedules (minute hour day-of-month month day-of-week), evaluated in UTC.
// Fields: `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n`, month names
// jan..dec, weekday names sun..sat (0 and 7 are Sunday), and the macros @yearly @annually
// @monthly @weekly @daily @midnight @hourly. Like Vixie cron, when both day-of-month and
// day-of-week are restricted a day matches if either matches.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace arclight::workflow {

class CronSchedule {
public:
    /// Throws std::invalid_argument with a message naming the field ("minute: 61 is out of range 0-59").
    static CronSchedule parse(std::string_view text);
    /// The first fire time strictly after `after_ms` (UTC epoch milliseconds), at a whole minute.
    /// -1 when there is none within the next 8 years (e.g. "0 0 30 2 *").
    std::int64_t next_after(std::int64_t after_ms) const;
    const std::string& text() const noexcept { return text_; }
private:
    std::string text_;
    std::uint64_t minutes_ = 0;  ///< bit i = minute i
    std::uint32_t hours_ = 0;
    std::uint32_t days_ = 0;     ///< bit 1..31
    std::uint16_t months_ = 0;   ///< bit 1..12
    std::uint8_t weekdays_ = 0;  ///< bit 0..6, 0 = Sunday
    bool dom_restricted_ = false;
    bool dow_restricted_ = false;
};

}  // namespace arclight::workflow
