#include "core/util/ids.hpp"

#include "core/time/time.hpp"

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

std::string new_time_uuid() { return new_time_uuid(now_ms()); }

}  // namespace arclight
