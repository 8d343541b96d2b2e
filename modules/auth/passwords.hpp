#pragma once
// Password hashing (Argon2id through libsodium's crypto_pwhash_str, interactive limits) and the
// password policy. Hashing is deliberately slow and memory-hard: call these on the blocking pool.

#include <string>
#include <string_view>

namespace arclight::auth {

/// The encoded Argon2id hash ("$argon2id$v=19$m=...") of a password.
std::string hash_password(std::string_view password);
/// True when `password` matches `encoded`. Constant time with respect to the password.
bool verify_password(std::string_view password, const std::string& encoded);
/// Spends the same time as a verify, for unknown users (no user-enumeration by timing).
void burn_verify_time(std::string_view password);
/// Empty when acceptable, else why not (length, common password, equal to the username).
std::string password_problem(std::string_view password, std::string_view username, std::size_t min_length);

}  // namespace arclight::auth
