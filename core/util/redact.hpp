#pragma once
// Hiding credentials in what is recorded, shown or logged (issue 19): header values, URL user
// info and query parameters whose names say they carry a secret. What is sent is not changed:
// callers redact a copy.
#include <string>
#include <string_view>

namespace arclight {

/// What replaces a hidden value.
inline constexpr std::string_view kRedacted = "********";

/// True for a header or parameter name that carries a credential: it contains auth, cookie,
/// token, secret, password, passwd, signature, credential or session, or ends in "key"
/// (x-api-key, apikey, access_key), in any letter case.
bool sensitive_name(std::string_view name);

/// A header value as it may be shown: kRedacted for a sensitive name, keeping an Authorization
/// scheme ("Bearer ********").
std::string redact_header(std::string_view name, std::string_view value);

/// `url` with its user info ("user:pass@") and the values of sensitive query parameters
/// replaced by kRedacted; anything that does not look like a URL comes back unchanged.
std::string redact_url(std::string_view url);

/// A request target ("/path?query"): the values of sensitive query parameters hidden.
std::string redact_target(std::string_view target);

/// `text` (an error message) with every occurrence of `url` replaced by redact_url(url).
std::string redact_url_in(std::string text, std::string_view url);

}  // namespace arclight
