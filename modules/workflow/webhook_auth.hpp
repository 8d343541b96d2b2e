#pragma once
// Authenticating a webhook call before any run starts (issue 19): a shared secret in a header, or
// an HMAC-SHA256 signature of the raw body (with an optional signed timestamp and a replay
// window), compared in constant time. docs/workflows.md, "Authenticating webhooks".
#include "modules/workflow/definition.hpp"

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <functional>
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
/// keeps the secret the same trigger (method and path) had. Stored definitions hold it too: the
/// secrets are in the vault (webhook_secrets.hpp).
inline constexpr std::string_view kHiddenSecret = "********";

/// Replaces every webhook trigger's auth secret in a definition document with kHiddenSecret.
void hide_webhook_secrets(boost::json::object& definition);

/// Calls f(trigger, auth) for each webhook trigger of a definition document that has an `auth` object.
void for_each_webhook_auth(boost::json::object& definition,
                           const std::function<void(boost::json::object& trigger, boost::json::object& auth)>& f);

/// Taking secrets out of a definition and keeping them on update: webhook_secrets.hpp.

}  // namespace arclight::workflow
