#include "modules/auth/routes.hpp"

#include "core/time/json.hpp"
#include "core/util/crypto.hpp"
#include "modules/auth/permissions.hpp"

#include <boost/json.hpp>

namespace arclight::auth {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

json::object user_json(const User& u) {
    return {{"id", u.id},
            {"username", u.username},
            {"role", u.role},
            {"disabled", u.disabled},
            {"created_at", rfc3339_or_null(u.created_at)},
            {"last_login_at", rfc3339_or_null(u.last_login_at)}};
}

json::value text_or_null(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(json::string(s)); }

json::object key_json(const ApiKey& k) {
    json::array scopes;
    for (const auto& s : k.scopes) scopes.push_back(json::string(s));
    return {{"id", k.id},
            {"name", k.name},
            {"prefix", k.prefix},
            {"scopes", scopes},
            {"created_at", rfc3339_or_null(k.created_at)},
            {"expires_at", rfc3339_or_null(k.expires_at)},
            {"last_used_at", rfc3339_or_null(k.last_used_at)},
            {"revoked_at", rfc3339_or_null(k.revoked_at)},
            {"project_id", text_or_null(k.project_id)}};
}

const json::object& body_object(const HttpRequest& req) {
    if (!req.json.is_object()) throw Error(ErrorCode::validation_failed, "the body must be a JSON object", {{"", "expected an object"}});
    return req.json.as_object();
}

std::string required_string(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v || !v->is_string()) {
        throw Error(ErrorCode::validation_failed, fmt::format("\"{}\" is required (a string)", key),
                    {{"/" + std::string(key), "required string"}});
    }
    return std::string(v->as_string());
}

std::optional<std::string> optional_string(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) {
        throw Error(ErrorCode::validation_failed, fmt::format("\"{}\" must be a string", key), {{"/" + std::string(key), "must be a string"}});
    }
    return std::string(v->as_string());
}

// Secure when configured (auth.cookie_secure, TLS) or when the client used HTTPS to a trusted
// proxy (X-Forwarded-Proto / Forwarded proto=https).
const char* secure_attribute(const AuthService& svc, const HttpRequest& req) {
    return svc.config().cookie_secure || req.scheme == "https" ? "; Secure" : "";
}

std::string session_cookie(const AuthService& svc, const std::string& sid, const HttpRequest& req) {
    return fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", kSessionCookie, sid,
                       svc.config().session_absolute_ms / 1000, secure_attribute(svc, req));
}

std::string clear_cookie(const AuthService& svc, const HttpRequest& req) {
    return fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}", kSessionCookie, secure_attribute(svc, req));
}

HttpResponse logged_in(const AuthService& svc, const AuthService::LoginResult& r, int status, const HttpRequest& req) {
    auto res = HttpResponse::json(json::object{{"user", user_json(r.user)}, {"csrf_token", r.csrf_token}}, status);
    res.headers.emplace_back("Set-Cookie", session_cookie(svc, r.session_id, req));
    return res;
}

HttpResponse no_content() {
    HttpResponse r;
    r.status = 204;
    return r;
}

Actor actor_of(const HttpRequest& req) { return {req.principal->user_id, req.principal->username, req.remote_address}; }

bool unsafe_method(std::string_view m) { return m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE"; }

// The authority (host[:port]) of an Origin header value.
std::string_view origin_authority(std::string_view origin) {
    auto scheme = origin.find("://");
    return scheme == std::string_view::npos ? origin : origin.substr(scheme + 3);
}

}  // namespace

AccessControl::Check make_access_check(AuthService& service) {
    return [&service](const Route* route, HttpRequest& req) -> asio::awaitable<std::optional<HttpResponse>> {
        std::shared_ptr<const Principal> p;
        std::string failure;
        try {
            p = co_await service.authenticate(req);
        } catch (const Error& e) {
            // Only a credential that is wrong is a 401; the database away is the caller's 503
            // (with Retry-After), not a reason to log in again.
            if (e.code() != ErrorCode::unauthorized) throw;
            failure = e.detail();
        }
        if (!p) {
            auto r = HttpResponse::problem(
                ErrorCode::unauthorized,
                failure.empty() ? "authentication required: log in, or send Authorization: Bearer <API key>" : failure, req);
            r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"arclight\"");
            co_return r;
        }
        if (!route) {
            // A WebSocket from another site would carry the cookie of a logged-in user: refuse
            // upgrades whose Origin is not this server.
            auto origin = req.header("Origin");
            if (p->via == Principal::Via::session && !origin.empty() && origin_authority(origin) != req.header("Host")) {
                co_return HttpResponse::problem(ErrorCode::forbidden, "cross-origin WebSocket refused", req);
            }
            req.principal = std::move(p);
            co_return std::nullopt;
        }
        if (p->via == Principal::Via::session && unsafe_method(req.method)) {
            auto token = req.header("X-CSRF-Token");
            if (token.empty() || !constant_time_equal(token, p->csrf_token)) {
                co_return HttpResponse::problem(ErrorCode::csrf_failed,
                                                "send the session's CSRF token in the X-CSRF-Token header", req);
            }
        }
        if (!p->has(route->permission)) {
            co_return HttpResponse::problem(ErrorCode::forbidden,
                                            fmt::format("this needs the permission \"{}\"", route->permission), req);
        }
        req.principal = std::move(p);
        co_return std::nullopt;
    };
}

void add_routes(Router& r, AuthService& svc, Projects& projects) {
    auto* s = &svc;
    auto route = [&r](std::string method, std::string pattern, std::string permission, std::string summary, Handler h,
                      bool json_body = false, int status = 200) {
        Route rt{std::move(method), std::move(pattern), std::move(permission), std::move(summary), std::move(h), json_body, "auth"};
        rt.success_status = status;
        r.add(std::move(rt));
    };

    route("POST", "/api/v1/auth/login", std::string(kPublic), "Log in with username and password; sets the session cookie.",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              const auto& o = body_object(req);
              auto username = required_string(o, "username");
              auto password = required_string(o, "password");
              auto result = co_await s->login(std::move(username), std::move(password), req);
              co_return logged_in(*s, result, 200, req);
          },
          true);
    route("POST", "/api/v1/auth/logout", "auth.self", "End this session.",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              co_await s->logout(*req.principal, req);
              auto res = no_content();
              res.headers.emplace_back("Set-Cookie", clear_cookie(*s, req));
              co_return res;
          });
    route("GET", "/api/v1/auth/me", "auth.self", "The caller: user, effective permissions, CSRF token.",
          [pr = &projects](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              const auto& p = *req.principal;
              auto caller = ProjectScope::of(req);
              auto mine = co_await pr->list(caller);
              json::array projects;
              for (const auto& v : mine)
                  projects.push_back(json::object{{"id", v.project.id}, {"name", v.project.name}, {"kind", v.project.kind}, {"role", v.role}});
              json::array perms;
              for (const auto& x : p.permissions) perms.push_back(json::string(x));
              json::object user{{"id", p.user_id}, {"username", p.username}, {"role", p.role}, {"disabled", false}};
              json::value csrf = nullptr;
              if (p.via == Principal::Via::session) csrf = json::string(p.csrf_token);
              co_return HttpResponse::json(json::object{{"user", user},
                                                        {"permissions", perms},
                                                        {"csrf_token", csrf},
                                                        {"projects", std::move(projects)},
                                                        {"personal_project_id", p.personal_project},
                                                        {"instance_admin", p.instance_admin},
                                                        {"via", p.via == Principal::Via::session ? "session" : "api_key"}});
          });
    route("GET", "/api/v1/auth/setup", std::string(kPublic), "Whether the first admin still has to be created.",
          [s](HttpRequest&) -> asio::awaitable<HttpResponse> {
              bool needed = co_await s->setup_needed();
              co_return HttpResponse::json(json::object{{"needed", needed}});
          });
    route("POST", "/api/v1/auth/setup", std::string(kPublic),
          "Create the first admin (only while no user exists, only from a client on the server's own machine) and log in.",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              const auto& o = body_object(req);
              auto username = required_string(o, "username");
              auto password = required_string(o, "password");
              auto result = co_await s->setup(std::move(username), std::move(password), req);
              co_return logged_in(*s, result, 201, req);
          },
          true, 201);
    route("POST", "/api/v1/auth/password", "auth.self",
          "Change your password; every session is revoked and this client gets a new one.",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              const auto& o = body_object(req);
              auto current = required_string(o, "current_password");
              auto next = required_string(o, "new_password");
              auto result = co_await s->change_password(*req.principal, std::move(current), std::move(next), req);
              auto res = HttpResponse::json(json::object{{"csrf_token", result.csrf_token}});
              res.headers.emplace_back("Set-Cookie", session_cookie(*s, result.session_id, req));
              co_return res;
          },
          true);
    route("GET", "/api/v1/auth/permissions", "auth.self",
          "Roles, the permissions each holds, and every permission the enabled modules declare.",
          [s](HttpRequest&) -> asio::awaitable<HttpResponse> {
              const auto& catalog = s->permissions();
              json::object roles_json;
              for (const auto& role : role_names()) {
                  json::array a;
                  for (const auto& p : catalog.held_by(role)) a.push_back(json::string(p));
                  roles_json[role] = a;
              }
              json::array all, described;
              for (const auto& e : catalog.all()) {
                  all.push_back(json::string(e.permission.name));
                  json::array held{"admin"};
                  for (const auto& r : e.permission.roles) held.push_back(json::string(r));
                  described.push_back({{"name", e.permission.name},
                                       {"description", e.permission.description},
                                       {"module", e.module},
                                       {"roles", std::move(held)}});
              }
              co_return HttpResponse::json(
                  json::object{{"roles", roles_json}, {"permissions", all}, {"declared", std::move(described)}});
          });

    route("GET", "/api/v1/auth/users", "users.admin", "List users.",
          [s](HttpRequest&) -> asio::awaitable<HttpResponse> {
              auto users = co_await s->list_users();
              json::array items;
              for (const auto& u : users) items.push_back(user_json(u));
              co_return HttpResponse::json(json::object{{"items", items}});
          });
    route("POST", "/api/v1/auth/users", "users.admin", "Create a user with a role.",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              const auto& o = body_object(req);
              auto username = required_string(o, "username");
              auto password = required_string(o, "password");
              auto role = optional_string(o, "role").value_or("viewer");
              auto actor = actor_of(req);
              auto u = co_await s->add_user(std::move(actor), std::move(username), std::move(password), std::move(role));
              co_return HttpResponse::json(user_json(u), 201);
          },
          true, 201);
    route("PATCH", "/api/v1/auth/users/{id}", "users.admin", "Change a user's role, disable or enable, reset the password.",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              const auto& o = body_object(req);
              auto role = optional_string(o, "role");
              std::optional<bool> disabled;
              if (auto* d = o.if_contains("disabled"); d && !d->is_null()) {
                  if (!d->is_bool()) throw Error(ErrorCode::validation_failed, "\"disabled\" must be a boolean", {{"/disabled", "must be a boolean"}});
                  disabled = d->as_bool();
              }
              auto password = optional_string(o, "password");
              auto actor = actor_of(req);
              std::string id = req.param("id");
              auto u = co_await s->patch_user(std::move(actor), std::move(id), std::move(role), disabled, std::move(password));
              co_return HttpResponse::json(user_json(u));
          },
          true);
    route("DELETE", "/api/v1/auth/users/{id}", "users.admin", "Delete a user (their sessions and API keys go with them).",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              auto actor = actor_of(req);
              std::string id = req.param("id");
              co_await s->delete_user(std::move(actor), std::move(id));
              co_return no_content();
          },
          false, 204);

    route("GET", "/api/v1/auth/api-keys", "auth.self", "Your API keys (never the secrets).",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              auto keys = co_await s->list_keys(*req.principal);
              json::array items;
              for (const auto& k : keys) items.push_back(key_json(k));
              co_return HttpResponse::json(json::object{{"items", items}});
          });
    route("POST", "/api/v1/auth/api-keys", "auth.self",
          "Create an API key with scopes (a subset of your permissions; \"*\" = all of them). The key is shown once.",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              const auto& o = body_object(req);
              auto name = required_string(o, "name");
              std::vector<std::string> scopes;
              auto* sc = o.if_contains("scopes");
              if (!sc || !sc->is_array()) {
                  throw Error(ErrorCode::validation_failed, "\"scopes\" is required (an array of permission names)",
                              {{"/scopes", "required array"}});
              }
              for (std::size_t i = 0; i < sc->as_array().size(); ++i) {
                  const auto& v = sc->as_array()[i];
                  if (!v.is_string()) {
                      throw Error(ErrorCode::validation_failed, "scopes must be strings", {{fmt::format("/scopes/{}", i), "must be a string"}});
                  }
                  scopes.emplace_back(v.as_string());
              }
              std::int64_t expires = 0;
              if (auto e = optional_string(o, "expires_at")) {
                  auto t = parse_rfc3339(*e);
                  if (!t) {
                      throw Error(ErrorCode::validation_failed, "\"expires_at\" must be an RFC 3339 time",
                                  {{"/expires_at", "e.g. 2027-01-31T00:00:00Z"}});
                  }
                  expires = *t;
              }
              auto project = optional_string(o, "project_id").value_or("");
              auto k = co_await s->create_key(*req.principal, std::move(name), std::move(scopes), expires, std::move(project), req);
              auto body = key_json(k.key);
              body["key"] = k.secret;
              co_return HttpResponse::json(body, 201);
          },
          true, 201);
    route("GET", "/api/v1/auth/api-keys/{id}", "auth.self", "One of your API keys.",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              std::string id = req.param("id");
              auto k = co_await s->get_key(*req.principal, std::move(id));
              co_return HttpResponse::json(key_json(k));
          });
    route("DELETE", "/api/v1/auth/api-keys/{id}", "auth.self", "Revoke one of your API keys.",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              std::string id = req.param("id");
              co_await s->revoke_key(*req.principal, std::move(id), req);
              co_return no_content();
          },
          false, 204);

    route("GET", "/api/v1/auth/audit", "audit.read", "The audit log, newest first (limit, cursor).",
          [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              std::size_t limit = 50;
              if (auto l = req.query_param("limit")) {
                  try {
                      limit = static_cast<std::size_t>(std::stoul(*l));
                  } catch (const std::exception&) {
                      throw Error(ErrorCode::bad_request, "limit must be a number between 1 and 500");
                  }
                  if (limit < 1 || limit > 500) throw Error(ErrorCode::bad_request, "limit must be a number between 1 and 500");
              }
              auto cursor = req.query_param("cursor");
              auto page = co_await s->list_audit(limit, std::move(cursor));
              json::array items;
              for (const auto& a : page.items) {
                  items.push_back({{"id", a.id},
                                   {"at", format_rfc3339(a.at)},
                                   {"actor", a.entry.actor},
                                   {"actor_id", a.entry.actor_id},
                                   {"action", a.entry.action},
                                   {"target", a.entry.target},
                                   {"outcome", a.entry.outcome},
                                   {"ip", a.entry.ip},
                                   {"detail", a.entry.detail},
                                   {"project_id", text_or_null(a.entry.project_id)}});
              }
              json::value next = nullptr;
              if (page.next_cursor) next = json::string(*page.next_cursor);
              co_return HttpResponse::json(json::object{
                  {"items", items}, {"next_cursor", next}, {"retention_days", s->config().audit_retention_days}});
          });
}

}  // namespace arclight::auth
