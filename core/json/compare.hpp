#pragma once
// JSON value helpers shared by the expression language, the JSON Schema validator and the engine.
#include <boost/json/value.hpp>
#include <compare>

namespace arclight {

/// Numeric comparison across int64/uint64/double, exact for all integers (x86-64 long double
/// has a 64-bit mantissa, and integer pairs are compared as integers). Both must be numbers.
std::partial_ordering compare_numbers(const boost::json::value& a, const boost::json::value& b) noexcept;

/// Deep JSON equality where numbers compare by value (1 == 1.0).
bool json_equal(const boost::json::value& a, const boost::json::value& b) noexcept;

}  // namespace arclight
