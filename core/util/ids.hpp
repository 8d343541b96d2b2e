#pragma once
// Identifiers shared by every module (time: core/time/time.hpp).

#include <cstdint>
#include <string>

namespace arclight {

/// A random (version 4) UUID in canonical text form. Thread-safe.
std::string new_uuid();

/// A time-ordered (version 7, RFC 9562) UUID in canonical text form: 48 bits of Unix time in
/// milliseconds, then 74 random bits. Thread-safe. For the ids of rows written at a high rate
/// (runs): ids made one after another sort one after another, so a primary-key index takes them
/// at its end instead of at random leaf pages, and a group commit of many new rows writes a few
/// pages instead of one per row (bench/README.md has the figures). The time it carries is not
/// a secret: ids are not credentials.
std::string new_time_uuid();
/// The same for a given time (tests).
std::string new_time_uuid(std::int64_t unix_ms);

}  // namespace arclight
