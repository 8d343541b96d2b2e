#pragma once
// Identifiers and UTC time helpers shared by every module.

#include <cstdint>
#include <string>

namespace arclight {

/// A random (version 4) UUID in canonical text form. Thread-safe.
std::string new_uuid();
/// Milliseconds since the Unix epoch, UTC.
std::int64_t now_ms();
/// RFC 3339 text of an epoch-milliseconds time, e.g. "2026-11-26T09:00:00.123Z".
std::string iso8601(std::int64_t epoch_ms);

}  // namespace arclight
