#include "modules/workflow/webhook_auth.hpp"

#include "core/errors/error.hpp"
#include "core/http/message.hpp"

#include <boost/json.hpp>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace arclight::workflow {
namespace json = boost::json;

namespace {

[[noreturn]] void refuse(const std::string& why) { throw Error(ErrorCode::unauthorized, "webhook authentication failed: " + why); }

bool same(std::string_view a, std::string_view b) {
    // Constant time for a given length; the length of a digest or token is not a secret.
    return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()), message.size());
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return std::string(hex, sizeof hex - 1);
}

void check_webhook_auth(const TriggerDef::Auth& auth, const HttpRequest& req, std::int64_t now_s) {
    // A secret the vault could not give (webhook_secrets.hpp): refuse rather than check against nothing.
    if (auth.secret.empty()) refuse("the webhook's secret is not available on this server");
    std::string_view given = req.header(auth.header);
    if (given.empty()) refuse("the " + auth.header + " header is missing");
    if (auth.type == "header") {
        if (!same(given, auth.secret)) refuse("the " + auth.header + " header does not match");
        return;
    }
    std::string message;
    if (!auth.timestamp_header.empty()) {
        std::string_view ts = req.header(auth.timestamp_header);
        std::int64_t t = 0;
        auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
        if (ts.empty() || ec != std::errc() || end != ts.data() + ts.size())
            refuse("the " + auth.timestamp_header + " header must be the time in epoch seconds");
        if (t < now_s - auth.tolerance_s || t > now_s + auth.tolerance_s)
            refuse("the " + auth.timestamp_header + " header is more than " + std::to_string(auth.tolerance_s) +
                   " s from the server's time (a replay, or a clock that is off)");
        message.append(ts).push_back('.');
    }
    message += req.body;
    if (given.size() < auth.prefix.size() || given.substr(0, auth.prefix.size()) != auth.prefix)
        refuse("the " + auth.header + " header must start with \"" + auth.prefix + "\"");
    std::string digest(given.substr(auth.prefix.size()));
    std::transform(digest.begin(), digest.end(), digest.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!same(digest, hmac_sha256_hex(auth.secret, message))) refuse("the signature in " + auth.header + " does not match");
}

void hide_webhook_secrets(json::object& definition) {
    for_each_webhook_auth(definition, [](json::object&, json::object& auth) {
        if (auth.contains("secret")) auth["secret"] = json::string(kHiddenSecret);
    });
}

void for_each_webhook_auth(json::object& definition,
                           const std::function<void(json::object& trigger, json::object& auth)>& f) {
    auto* triggers = definition.if_contains("triggers");
    if (!triggers || !triggers->is_array()) return;
    for (auto& t : triggers->as_array()) {
        auto* o = t.if_object();
        if (!o || !o->contains("type") || o->at("type") != "webhook") continue;
        auto* a = o->if_contains("auth");
        if (!a || !a->is_object()) continue;
        f(*o, a->as_object());
    }
}

}  // namespace arclight::workflow
