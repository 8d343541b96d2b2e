#pragma once
// The JSON form of a stored time (core/time/time.hpp keeps Boost.JSON out of its own header).

#include "core/time/time.hpp"

#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <cstdint>

namespace arclight {

/// RFC 3339 text of an epoch-milliseconds time, or null for 0 (the "not set" of stored times).
inline boost::json::value rfc3339_or_null(std::int64_t epoch_ms) {
    if (epoch_ms == 0) return nullptr;
    return boost::json::string(format_rfc3339(epoch_ms));
}

}  // namespace arclight
