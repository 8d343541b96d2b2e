#include "core/util/ids.hpp"

#include "core/time/time.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>

#include <fmt/format.h>

namespace arclight {
namespace {

std::mt19937_64& rng() {
    thread_local std::mt19937_64 r{std::random_device{}() ^ (static_cast<std::uint64_t>(std::random_device{}()) << 32)};
    return r;
}

std::string format_uuid(std::uint64_t hi, std::uint64_t lo) {
    return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                       lo & 0xffffffffffffULL);
}

}  // namespace

std::string new_uuid() {
    std::uint64_t hi = rng()(), lo = rng()();
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    return format_uuid(hi, lo);
}

std::string new_time_uuid(std::int64_t unix_ms) {
    std::uint64_t ms = static_cast<std::uint64_t>(unix_ms < 0 ? 0 : unix_ms) & 0xffffffffffffULL;
    std::uint64_t hi = (ms << 16) | 0x7000ULL | (rng()() & 0x0fffULL);
    std::uint64_t lo = (rng()() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    return format_uuid(hi, lo);
}

// Ids made one after another in this process sort one after another, also within a
// millisecond: the 12 bits after the time count up from the last id's (RFC 9562 section 6.2,
// method 1), carrying into the time when a millisecond has more than 4,096 ids.
std::string new_time_uuid() {
    static std::atomic<std::uint64_t> last{0};  // (ms << 12) | count of the last id
    std::uint64_t ms = static_cast<std::uint64_t>(std::max<std::int64_t>(now_ms(), 0)) & 0xffffffffffffULL;
    std::uint64_t prev = last.load(std::memory_order_relaxed), next;
    do {
        next = std::max(ms << 12, prev + 1);
    } while (!last.compare_exchange_weak(prev, next, std::memory_order_relaxed));
    std::uint64_t hi = ((next >> 12) << 16) | 0x7000ULL | (next & 0x0fffULL);
    std::uint64_t lo = (rng()() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    return format_uuid(hi, lo);
}

}  // namespace arclight
