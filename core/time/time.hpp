#pragma once
// Time for every module: the current time, RFC 3339 text, and a clock that tests can set.
//
// Times are epoch milliseconds (UTC) everywhere: in rows (BIGINT), in memory and in events.
// They become RFC 3339 text only at the edges (JSON, logs); core/time/json.hpp has the JSON
// helper. This header is the whole interface and stays light (no Boost, no fmt).

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace arclight {

/// Milliseconds since the Unix epoch, from the system clock (UTC). Thread-safe.
std::int64_t now_ms();

/// RFC 3339 text of an epoch-milliseconds time, always UTC with three fraction digits:
/// 1795683600123 → "2026-11-26T09:00:00.123Z". Defined for the years 0000–9999 (a time outside
/// them gets a longer or signed year, which is not RFC 3339 and parse_rfc3339 rejects).
std::string format_rfc3339(std::int64_t epoch_ms);

/// Parses an RFC 3339 date-time into epoch milliseconds:
///   YYYY-MM-DD ("T"|"t") hh:mm:ss [.fraction] ("Z"|"z"|("+"|"-") hh:mm)
/// The offset is applied ("…T11:00:00+02:00" is 09:00Z); the fraction may have any number of
/// digits and is truncated to milliseconds; a leap second (ss = 60) counts as the next second.
/// nullopt for anything else: a missing zone, out-of-range fields (month 13, Feb 30 outside leap
/// years, hour 24, offset +24:00), signs or spaces inside fields, trailing bytes, non-ASCII.
/// format_rfc3339 → parse_rfc3339 round-trips exactly.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

/// A source of the current time, injectable so tests can control timers, leases and expiry.
/// Implementations are thread-safe.
class Clock {
public:
    virtual ~Clock();
    /// Epoch milliseconds, UTC.
    virtual std::int64_t now_ms() const = 0;
};

/// The process-wide clock backed by arclight::now_ms() (the system clock).
Clock& system_clock();

/// A clock that moves only when told to (tests). Thread-safe.
class ManualClock final : public Clock {
public:
    explicit ManualClock(std::int64_t start_ms = 0) noexcept : ms_(start_ms) {}
    std::int64_t now_ms() const override { return ms_.load(std::memory_order_acquire); }
    void set(std::int64_t ms) noexcept { ms_.store(ms, std::memory_order_release); }
    void advance(std::int64_t ms) noexcept { ms_.fetch_add(ms, std::memory_order_acq_rel); }

private:
    std::atomic<std::int64_t> ms_;
};

}  // namespace arclight
