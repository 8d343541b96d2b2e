#include "core/http/router.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

using namespace arclight;

namespace {
Handler ok() {
    return [](HttpRequest&) -> boost::asio::awaitable<HttpResponse> { co_return HttpResponse{}; };
}
Route route(std::string method, std::string pattern, std::string permission = "flows.read") {
    return Route{std::move(method), std::move(pattern), std::move(permission), "a route", ok()};
}
}  // namespace

TEST_CASE("router matches literal paths and extracts parameters") {
    Router r;
    r.add(route("GET", "/api/v1/flows"));
    r.add(route("GET", "/api/v1/flows/{id}"));
    r.add(route("GET", "/api/v1/flows/{id}/runs/{run}"));
    r.add(route("POST", "/hooks/{path*}", std::string(kPublic)));

    auto m = r.match("GET", "/api/v1/flows");
    REQUIRE(m.route);
    CHECK(m.route->pattern == "/api/v1/flows");
    CHECK(m.params.empty());

    m = r.match("GET", "/api/v1/flows/abc");
    REQUIRE(m.route);
    CHECK(m.route->pattern == "/api/v1/flows/{id}");
    CHECK(m.params.at("id") == "abc");

    m = r.match("GET", "/api/v1/flows/f1/runs/r9");
    REQUIRE(m.route);
    CHECK(m.params.at("id") == "f1");
    CHECK(m.params.at("run") == "r9");

    m = r.match("POST", "/hooks/github/push/main");
    REQUIRE(m.route);
    CHECK(m.params.at("path") == "github/push/main");

    CHECK_FALSE(r.match("GET", "/api/v1/flows/").route);  // empty parameter
    CHECK_FALSE(r.match("GET", "/api/v1/flow").route);
    CHECK_FALSE(r.match("POST", "/hooks").route);          // rest parameter needs a segment
    CHECK_FALSE(r.match("GET", "/api/v1/flows/a/b").route);
}

TEST_CASE("literal segments beat parameters") {
    Router r;
    r.add(route("GET", "/api/v1/flows/{id}"));
    r.add(route("GET", "/api/v1/flows/templates"));
    auto m = r.match("GET", "/api/v1/flows/templates");
    REQUIRE(m.route);
    CHECK(m.route->pattern == "/api/v1/flows/templates");
}

TEST_CASE("a known path with another method reports the allowed methods") {
    Router r;
    r.add(route("GET", "/api/v1/flows/{id}"));
    r.add(route("DELETE", "/api/v1/flows/{id}", "flows.write"));
    auto m = r.match("POST", "/api/v1/flows/x");
    CHECK_FALSE(m.route);
    CHECK(m.path_known);
    CHECK(m.allowed.size() == 2);
    auto none = r.match("POST", "/nothing/here");
    CHECK_FALSE(none.path_known);
}

TEST_CASE("every route must declare a permission, a summary and a well-formed pattern") {
    Router r;
    CHECK_THROWS_AS(r.add(route("GET", "/x", "")), std::logic_error);
    Route no_summary = route("GET", "/y");
    no_summary.summary.clear();
    CHECK_THROWS_AS(r.add(no_summary), std::logic_error);
    CHECK_THROWS_AS(r.add(route("GET", "no-slash")), std::logic_error);
    CHECK_THROWS_AS(r.add(route("GET", "/a/{rest*}/b")), std::logic_error);
    CHECK_THROWS_AS(r.add(route("GET", "/a/x{id}")), std::logic_error);
    r.add(route("GET", "/z"));
    CHECK_THROWS_AS(r.add(route("GET", "/z")), std::logic_error);
}

TEST_CASE("the OpenAPI document is generated from the route table") {
    Router r;
    Route post = route("POST", "/api/v1/flows/{id}/runs", "runs.start");
    post.json_body = true;
    post.tag = "workflow";
    post.success_status = 201;
    r.add(post);
    r.add(route("GET", "/healthz", std::string(kPublic)));
    auto doc = r.openapi("1.2.3");
    CHECK(doc.at("openapi").as_string() == "3.1.0");
    CHECK(doc.at("info").at("version").as_string() == "1.2.3");
    auto& op = doc.at("paths").at("/api/v1/flows/{id}/runs").at("post").as_object();
    CHECK(op.at("x-permission").as_string() == "runs.start");
    CHECK(op.at("parameters").as_array().at(0).at("name").as_string() == "id");
    CHECK(op.contains("requestBody"));
    CHECK(op.at("responses").as_object().contains("201"));
    CHECK(doc.at("paths").at("/healthz").at("get").at("x-permission").as_string() == "public");
}

TEST_CASE("synchronous handlers are only for public routes without a body") {
    Router r;
    Route guarded = route("GET", "/a", "flows.read");
    guarded.handler = {};
    guarded.sync_handler = [](HttpRequest&) { return HttpResponse{}; };
    CHECK_THROWS_AS(r.add(guarded), std::logic_error);
    Route open = guarded;
    open.permission = std::string(kPublic);
    CHECK_NOTHROW(r.add(open));
}
