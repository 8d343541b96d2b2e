#pragma once
// Request and response as handlers see them: plain strings and Boost.JSON, no Beast types, so a
// module's routes and services compile without the HTTP stack's headers.

#include "core/errors/error.hpp"
#include "core/http/principal.hpp"

#include <boost/json/value.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arclight {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
    std::string method;          ///< "GET", "POST", ...
    std::string target;          ///< raw request target
    std::string path;            ///< decoded path, without the query
    std::string query;           ///< raw query string (after '?')
    HeaderList headers;
    std::string body;
    boost::json::value json;     ///< parsed body for routes declared with json_body
    std::map<std::string, std::string, std::less<>> params;  ///< path parameters
    std::string remote_address;  ///< the client: the TCP peer, or the address a trusted proxy forwarded
    std::string peer_address;    ///< the TCP peer (the proxy, when a trusted proxy forwarded the request)
    std::string scheme = "http";  ///< "https" over TLS, or when a trusted proxy says the client used it
    std::string request_id;
    std::shared_ptr<const Principal> principal;  ///< set by the auth module for non-public routes

    /// Case-insensitive header lookup; empty when absent.
    std::string_view header(std::string_view name) const;
    /// Decoded query parameter; nullopt when absent.
    std::optional<std::string> query_param(std::string_view name) const;
    /// A path parameter declared in the route pattern (std::out_of_range otherwise).
    const std::string& param(std::string_view name) const;
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    HeaderList headers;
    std::string body;

    static HttpResponse json(const boost::json::value& value, int status = 200);
    static HttpResponse problem(ErrorCode code, std::string_view detail, const HttpRequest& req,
                                const std::vector<FieldError>& errors = {});
};

/// Percent-decodes a URL component ('+' as space when `plus_is_space`). Returns nullopt on bad escapes.
std::optional<std::string> url_decode(std::string_view in, bool plus_is_space);

}  // namespace arclight
