#pragma once
// Small cryptographic helpers (libsodium): hashes, random tokens, constant-time comparison.

#include <cstddef>
#include <string>
#include <string_view>

namespace arclight {

/// Lower-case hex SHA-256 of a text.
std::string sha256_hex(std::string_view text);
/// `bytes` random bytes from the OS CSPRNG, base64url-encoded without padding.
std::string random_token(std::size_t bytes);
/// Compares two strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace arclight
