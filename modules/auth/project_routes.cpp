// /api/v1/projects: projects and their members (thin: parse -> Projects -> JSON).
#include "core/errors/error.hpp"
#include "core/time/json.hpp"
#include "modules/auth/routes.hpp"

#include <boost/json.hpp>

namespace arclight::auth {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

json::object project_json(const Projects::View& v) {
    return {{"id", v.project.id},
            {"name", v.project.name},
            {"kind", v.project.kind},
            {"role", v.role},
            {"created_at", rfc3339_or_null(v.project.created_at)}};
}

json::object member_json(const Member& m) { return {{"user_id", m.user_id}, {"username", m.username}, {"role", m.role}}; }

std::string string_field(const HttpRequest& req, std::string_view key) {
    if (!req.json.is_object()) throw Error(ErrorCode::validation_failed, "the body must be a JSON object");
    const auto* v = req.json.as_object().if_contains(key);
    if (!v || !v->is_string())
        throw Error(ErrorCode::validation_failed, fmt::format("\"{}\" is required", key), {{"/" + std::string(key), "required string"}});
    return std::string(v->as_string());
}

HttpResponse no_content() {
    HttpResponse r;
    r.status = 204;
    r.content_type.clear();
    return r;
}

const json::object kProject = json::parse(R"j({"type":"object","properties":{"id":{"type":"string"},"name":{"type":"string"},
    "kind":{"enum":["personal","team"]},"role":{"enum":["admin","editor","operator","viewer"]},"created_at":{"type":["string","null"]}}})j").as_object();
const json::object kMember = json::parse(R"j({"type":"object","properties":{"user_id":{"type":"string"},"username":{"type":"string"},
    "role":{"enum":["admin","editor","operator","viewer"]}}})j").as_object();

}  // namespace

void add_project_routes(Router& r, Projects& projects) {
    auto* p = &projects;
    auto route = [&r](std::string method, std::string pattern, std::string permission, std::string summary, Handler h,
                      bool json_body, int status, json::object request = {}, json::object response = {}) {
        Route rt{std::move(method), std::move(pattern), std::move(permission), std::move(summary), std::move(h), json_body, "projects"};
        rt.success_status = status;
        rt.request_schema = std::move(request);
        rt.response_schema = std::move(response);
        r.add(std::move(rt));
    };
    const json::object name_body = json::parse(R"j({"type":"object","required":["name"],"properties":{"name":{"type":"string"}}})j").as_object();
    const json::object list = {{"type", "object"}, {"properties", {{"items", {{"type", "array"}, {"items", kProject}}}}}};

    route("GET", "/api/v1/projects", "projects.read", "Your projects (every project for an instance admin), with your role in each.",
          [p](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              auto caller = ProjectScope::of(req);
              auto all = co_await p->list(caller);
              json::array items;
              for (const auto& v : all) items.push_back(project_json(v));
              co_return HttpResponse::json(json::object{{"items", std::move(items)}});
          },
          false, 200, {}, list);
    route("POST", "/api/v1/projects", "projects.admin", "Create a team project {\"name\"} (instance admins).",
          [p](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              auto name = string_field(req, "name");
              auto caller = ProjectScope::of(req);
              auto v = co_await p->create(caller, std::move(name), req.remote_address);
              co_return HttpResponse::json(project_json(v), 201);
          },
          true, 201, name_body, kProject);
    route("GET", "/api/v1/projects/{id}", "projects.read", "One of your projects.",
          [p](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              auto caller = ProjectScope::of(req);
              auto v = co_await p->get(caller, req.param("id"));
              co_return HttpResponse::json(project_json(v));
          },
          false, 200, {}, kProject);
    route("PATCH", "/api/v1/projects/{id}", "projects.manage", "Rename a project {\"name\"} (its admins).",
          [p](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              auto name = string_field(req, "name");
              auto caller = ProjectScope::of(req);
              auto v = co_await p->rename(caller, req.param("id"), std::move(name), req.remote_address);
              co_return HttpResponse::json(project_json(v));
          },
          true, 200, name_body, kProject);
    route("DELETE", "/api/v1/projects/{id}", "projects.manage",
          "Delete a team project that holds nothing (409 naming what it still holds).",
          [p](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              auto caller = ProjectScope::of(req);
              co_await p->remove(caller, req.param("id"), req.remote_address);
              co_return no_content();
          },
          false, 204);
    route("GET", "/api/v1/projects/{id}/members", "projects.read", "A project's members and their roles.",
          [p](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              auto caller = ProjectScope::of(req);
              auto all = co_await p->members(caller, req.param("id"));
              json::array items;
              for (const auto& m : all) items.push_back(member_json(m));
              co_return HttpResponse::json(json::object{{"items", std::move(items)}});
          },
          false, 200, {}, {{"type", "object"}, {"properties", {{"items", {{"type", "array"}, {"items", kMember}}}}}});
    route("POST", "/api/v1/projects/{id}/members", "projects.manage",
          "Add a member {\"user_id\" (or \"username\"),\"role\"}, or change a member's role (the project's admins).",
          [p](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              // The user by id, or by name ("username") for project admins who cannot list users.
              std::string user;
              if (req.json.is_object() && req.json.as_object().contains("username") && !req.json.as_object().contains("user_id"))
                  user = "name:" + string_field(req, "username");
              else
                  user = string_field(req, "user_id");
              auto role = string_field(req, "role");
              auto caller = ProjectScope::of(req);
              auto m = co_await p->put_member(caller, req.param("id"), std::move(user), std::move(role), req.remote_address);
              co_return HttpResponse::json(member_json(m), 201);
          },
          true, 201,
          json::parse(R"j({"type":"object","required":["role"],"properties":{"user_id":{"type":"string"},"username":{"type":"string"},
              "role":{"enum":["admin","editor","operator","viewer"]}}})j").as_object(),
          kMember);
    route("DELETE", "/api/v1/projects/{id}/members/{user_id}", "projects.manage", "Remove a member (the project's admins).",
          [p](HttpRequest& req) -> asio::awaitable<HttpResponse> {
              auto caller = ProjectScope::of(req);
              co_await p->remove_member(caller, req.param("id"), req.param("user_id"), req.remote_address);
              co_return no_content();
          },
          false, 204);
}

}  // namespace arclight::auth
