#pragma once
// Authenticating a webhook call before any run starts (issue 19): a shared secret in a header, or
// an HMAC-SHA256 signature of the raw body (with an optional signed timestamp and a replay
// window), compared in constant time. docs/workflows.md, "Authenticating webhooks".
#include "modules/workflow/definition.hpp"

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace arclight {
struct HttpRequest;
}

namespace arclight::workflow {

/// Throws Error(unauthorized) saying what is missing or wrong (never the expected value) unless
/// `req` satisfies `auth`; `now_s` is the current time in epoch seconds.
void check_webhook_auth(const TriggerDef::Auth& auth, const HttpRequest& req, std::int64_t now_s);

/// The lower-case hex HMAC-SHA256 of `message` under `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

/// What the API shows for a webhook secret: it is write-only. A definition saved with this value
/// keeps the secret the same trigger (method and path) had.
inline constexpr std::string_view kHiddenSecret = "********";

/// Replaces every webhook trigger's auth secret in a definition document with kHiddenSecret.
void hide_webhook_secrets(boost::json::object& definition);

/// In a definition about to be saved: every webhook secret given as kHiddenSecret takes the
/// secret of the trigger with the same method and path in `previous` (when there is one).
void keep_webhook_secrets(boost::json::object& definition, const boost::json::object& previous);

}  // namespace arclight::workflow
