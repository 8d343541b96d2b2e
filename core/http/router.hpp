#pragma once
// The route table. Every route declares method, path pattern, the permission it needs and a
// summary; the OpenAPI document is generated from these declarations so docs cannot drift, and a
// route without a permission cannot be added (kPublic must be said explicitly).

#include "core/http/message.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace arclight {

using Handler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;
/// For public routes that answer without waiting on anything (health probes, documents): called
/// directly on the I/O thread, without a coroutine frame.
using SyncHandler = std::function<HttpResponse(HttpRequest&)>;

/// The permission of routes anyone may call (health probes, login, webhook receivers).
inline constexpr std::string_view kPublic = "public";

struct Route {
    std::string method = {};   ///< "GET", "POST", "PUT", "PATCH", "DELETE"
    std::string pattern = {};  ///< "/api/v1/flows/{id}"; a last segment "{name*}" matches the rest of the path
    std::string permission = {};  ///< e.g. "flows.write", or kPublic
    std::string summary = {};  ///< one line for the OpenAPI document
    Handler handler = {};
    bool json_body = false;    ///< parse the body as JSON first (415 on another content type, 400 when malformed)
    std::string tag = {};      ///< OpenAPI tag, normally the module name
    boost::json::object request_schema = {};   ///< optional JSON Schema of the body
    boost::json::object response_schema = {};  ///< optional JSON Schema of the 2xx body
    int success_status = 200;
    SyncHandler sync_handler = {};  ///< used instead of `handler` when set (public routes without a body only)
};

struct RouteMatch {
    const Route* route = nullptr;  ///< null when nothing matched
    std::map<std::string, std::string, std::less<>> params;
    bool path_known = false;       ///< some route matched the path with another method (405)
    std::vector<std::string> allowed;  ///< methods that would match (for the Allow header)
};

class Router {
public:
    /// Adds a route. Throws std::logic_error on an empty permission or summary, a malformed
    /// pattern, or a duplicate (method, pattern).
    void add(Route route);
    /// Finds the most specific route (literal segments beat parameters). Thread-safe after start-up.
    RouteMatch match(std::string_view method, std::string_view path) const;
    const std::vector<Route>& routes() const noexcept { return routes_; }
    /// The OpenAPI 3.1 document of every route.
    boost::json::object openapi(std::string_view version) const;

private:
    struct Compiled {
        std::vector<std::string> segments;  ///< literal text, or "{name}" / "{name*}"
        std::size_t literal_count = 0;
    };
    std::vector<Route> routes_;
    std::vector<Compiled> compiled_;
};

}  // namespace arclight
