#pragma once
// Identifiers shared by every module (time: core/time/time.hpp).

#include <cstdint>
#include <string>

namespace arclight {

/// A random (version 4) UUID in canonical text form. Thread-safe.
std::string new_uuid();

/// A time-ordered (version 7, RFC 9562) UUID in canonical text form: 48 bits of Unix time in
/// milliseconds, a 12-bit count, then 62 random bits. Thread-safe. Ids made one after another in
/// a process sort one after another, also within a millisecond (the count goes up). For the ids
/// of rows written at a high rate (runs), and of rows listed in the order they were made (audit
/// entries, ordered by time and id): ids made one after another sort one after another, so a primary-key index takes them
/// at its end instead of at random leaf pages, and a group commit of many new rows writes a few
/// pages instead of one per row (bench/README.md has the figures). The time it carries is not
/// a secret: ids are not credentials.
std::string new_time_uuid();
/// The same for a given time (tests): its 12 bits after the time are random.
std::string new_time_uuid(std::int64_t unix_ms);

}  // namespace arclight
