#include "modules/auth/passwords.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

namespace arclight::auth {
namespace {

// Passwords that top every published list of leaked passwords. The check is case-insensitive.
constexpr std::array<std::string_view, 64> kCommon = {
    "password",       "password1",     "password123",  "passw0rd",      "p@ssw0rd",       "123456",
    "1234567",        "12345678",      "123456789",    "1234567890",    "12345678910",    "0123456789",
    "qwerty",         "qwerty123",     "qwertyuiop",   "qwerty12345",   "asdfghjkl",      "zxcvbnm",
    "1q2w3e4r",       "1q2w3e4r5t",    "1qaz2wsx",     "abc123",        "abcdef",         "abcd1234",
    "letmein",        "letmein123",    "welcome",      "welcome1",      "welcome123",     "iloveyou",
    "admin",          "admin123",      "administrator", "root",         "toor",           "changeme",
    "changeme123",    "default",       "secret",       "secret123",     "monkey",         "dragon",
    "football",       "baseball",      "superman",     "batman",        "trustno1",       "sunshine",
    "princess",       "master",        "shadow",       "michael",       "starwars",       "whatever",
    "111111111",      "000000000",     "987654321",    "11111111",      "00000000",       "88888888",
    "arclight",       "arclight123",   "password1234", "1234512345",
};

void init_sodium() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
    });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::string hash_password(std::string_view password) {
    init_sodium();
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        throw std::runtime_error("password hashing ran out of memory");
    }
    return out;
}

bool verify_password(std::string_view password, const std::string& encoded) {
    init_sodium();
    return crypto_pwhash_str_verify(encoded.c_str(), password.data(), password.size()) == 0;
}

void burn_verify_time(std::string_view password) {
    static const std::string reference_hash = hash_password("arclight-timing-equaliser");
    verify_password(password, reference_hash);
}

std::string password_problem(std::string_view password, std::string_view username, std::size_t min_length) {
    if (password.size() < min_length) return fmt::format("must be at least {} characters long", min_length);
    if (password.size() > 1024) return "must be at most 1024 characters long";
    auto l = lower(password);
    if (std::find(kCommon.begin(), kCommon.end(), l) != kCommon.end()) return "is too common; choose another";
    if (!username.empty() && l == lower(username)) return "must not be the username";
    if (std::all_of(l.begin(), l.end(), [&](char c) { return c == l[0]; })) return "must not repeat one character";
    return {};
}

}  // namespace arclight::auth
