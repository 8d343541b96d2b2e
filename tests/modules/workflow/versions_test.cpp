// Issue 21, item 6: every save is a version; the versions of a workflow are listed, read and
// restored (as a new version) through the API, with who saved each.
#include <doctest/doctest.h>

#include "tests/modules/workflow/rig.hpp"

#include <boost/json.hpp>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;

namespace {

std::string def_with(const std::string& name, const std::string& value, bool active = false) {
    return R"({"name":")" + name + R"(","active":)" + (active ? "true" : "false") +
           R"(,"tasks":[{"id":"a","type":"set","config":{"values":{"v":")" + value + R"("}}}]})";
}

// A user with `role`, logged in: cookie and CSRF headers.
Headers login_as(TestServer& s, const std::string& name, const std::string& role) {
    const std::string password = "a long enough passphrase";
    auto r = http(s.port(), "POST", "/api/v1/auth/users",
                  json::serialize(json::object{{"username", name}, {"password", password}, {"role", role}}), s.admin());
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return login_headers(s.port(), name, password);
}

}  // namespace

TEST_CASE("versions: every save is listed newest first with its author; one is read and restored as a new version") {
    TestServer srv;
    Api api{srv};
    auto wf = api.create(def_with("versioned", "one", true));
    REQUIRE(api.call("PUT", "/api/v1/workflows/" + wf, def_with("versioned", "two", true)).status == 200);
    REQUIRE(api.call("PUT", "/api/v1/workflows/" + wf, def_with("renamed", "three", true)).status == 200);

    auto list = api.call("GET", "/api/v1/workflows/" + wf + "/versions");
    REQUIRE_MESSAGE(list.status == 200, list.body);
    auto items = list.json().at("items").as_array();
    REQUIRE(items.size() == 3);
    CHECK(items[0].at("version") == 3);
    CHECK(items[2].at("version") == 1);
    for (const auto& it : items) {
        CHECK(it.at("created_by").as_string().starts_with("api_key:"));
        CHECK(it.at("created_at").is_string());
        CHECK_FALSE(it.as_object().contains("definition"));
    }

    auto v1 = api.call("GET", "/api/v1/workflows/" + wf + "/versions/1");
    REQUIRE_MESSAGE(v1.status == 200, v1.body);
    auto one = v1.json().as_object();
    CHECK(one.at("workflow_id") == json::value(json::string(wf)));
    CHECK(one.at("version") == 1);
    CHECK(one.at("definition").at("name") == "versioned");
    CHECK(one.at("definition").at("tasks").at(0).at("config").at("values").at("v") == "one");

    // Deactivated since: restoring version 1 (saved active) does not switch the triggers back on.
    REQUIRE(api.call("POST", "/api/v1/workflows/" + wf + "/deactivate").status == 200);
    auto restored = api.call("POST", "/api/v1/workflows/" + wf + "/versions/1/restore");
    REQUIRE_MESSAGE(restored.status == 200, restored.body);
    CHECK(restored.json().at("id") == json::value(json::string(wf)));
    CHECK(restored.json().at("version") == 4);
    auto now = api.call("GET", "/api/v1/workflows/" + wf).json();
    CHECK(now.at("version") == 4);
    CHECK(now.at("name") == "versioned");
    CHECK(now.at("active") == false);
    CHECK(now.at("tasks").at(0).at("config").at("values").at("v") == "one");
    // A run starts from the restored definition.
    auto run = api.start(wf);
    auto r = api.wait(run);
    CHECK(r.at("version") == 4);
    // The audit log says what was restored.
    auto audit = api.call("GET", "/api/v1/auth/audit?limit=500");
    REQUIRE(audit.status == 200);
    auto log = audit.json();
    std::vector<json::value> entries;
    for (const auto& e : log.at("items").as_array())
        if (e.at("action") == "workflow.restore") entries.push_back(e);
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].at("target") == json::value(json::string(wf)));
    CHECK(entries[0].at("detail").at("from_version") == 1);
    CHECK(entries[0].at("detail").at("version") == 4);
}

TEST_CASE("versions: unknown workflows and versions are 404, a viewer reads but cannot restore") {
    TestServer srv;
    Api api{srv};
    auto wf = api.create(def_with("v", "one"));
    for (const char* path : {"/versions/2", "/versions/0", "/versions/-1", "/versions/abc", "/versions/99999999999"}) {
        CAPTURE(path);
        auto r = api.call("GET", "/api/v1/workflows/" + wf + path);
        CHECK(r.status == 404);
        CHECK(r.header("content-type").starts_with("application/problem+json"));
        CHECK(api.call("POST", "/api/v1/workflows/" + wf + path + "/restore").status == 404);
    }
    CHECK(api.call("GET", "/api/v1/workflows/" + wf + "/versions/1%00").status == 400);
    CHECK(api.call("GET", "/api/v1/workflows/no-such-workflow/versions").status == 404);
    CHECK(api.call("POST", "/api/v1/workflows/no-such-workflow/versions/1/restore").status == 404);

    // A viewer of the workflow's project (a team project it moves to).
    auto viewer = login_as(srv, "vera", "viewer");
    auto me = api.call_as(viewer, "GET", "/api/v1/auth/me").json();
    auto team = api.call("POST", "/api/v1/projects", R"({"name":"Team V"})");
    REQUIRE_MESSAGE(team.status == 201, team.body);
    std::string project(team.json().at("id").as_string());
    auto member = api.call("POST", "/api/v1/projects/" + project + "/members",
                           json::serialize(json::object{{"user_id", me.at("user").at("id")}, {"role", "viewer"}}));
    REQUIRE_MESSAGE(member.status == 201, member.body);
    REQUIRE(api.call("POST", "/api/v1/workflows/" + wf + "/move", json::serialize(json::object{{"project_id", project}})).status == 200);
    CHECK(api.call_as(viewer, "GET", "/api/v1/workflows/" + wf + "/versions").status == 200);
    CHECK(api.call_as(viewer, "GET", "/api/v1/workflows/" + wf + "/versions/1").status == 200);
    auto denied = api.call_as(viewer, "POST", "/api/v1/workflows/" + wf + "/versions/1/restore");
    CHECK(denied.status == 403);
    CHECK(api.call("GET", "/api/v1/workflows/" + wf).json().at("version") == 1);
}

TEST_CASE("versions: a version whose webhook secret is no longer kept is not restored; one still kept stays kept") {
    TestServer srv;
    Api api{srv};
    auto with_hook = [](const std::string& path) {
        return R"({"name":"hooked","triggers":[{"type":"webhook","path":")" + path +
               R"(","auth":{"type":"header","header":"X-Token","secret":"kept-secret-value"}}],)"
               R"("tasks":[{"id":"a","type":"set","config":{"values":{"n":1}}}]})";
    };
    auto wf = api.create(with_hook("first-hook"));
    REQUIRE(api.call("PUT", "/api/v1/workflows/" + wf, with_hook("second-hook")).status == 200);
    // Version 1's webhook (first-hook) is gone from the current version, and its secret with it.
    auto refused = api.call("POST", "/api/v1/workflows/" + wf + "/versions/1/restore");
    CHECK(refused.status == 422);
    CHECK(refused.body.find("POST /first-hook") != std::string::npos);
    CHECK(api.call("GET", "/api/v1/workflows/" + wf).json().at("version") == 2);
    // The secret is never shown by a version either.
    auto v2 = api.call("GET", "/api/v1/workflows/" + wf + "/versions/2");
    REQUIRE(v2.status == 200);
    CHECK(v2.body.find("kept-secret-value") == std::string::npos);
    // Version 3 = version 2 again: its webhook's secret is the current one, kept.
    REQUIRE(api.call("PUT", "/api/v1/workflows/" + wf, def_with("hooked", "no hook")).status == 200);
    auto back = api.call("POST", "/api/v1/workflows/" + wf + "/versions/2/restore");
    CHECK(back.status == 422);  // version 3 has no webhook: nothing to keep the secret from
    REQUIRE(api.call("PUT", "/api/v1/workflows/" + wf, with_hook("second-hook")).status == 200);  // v4, a new secret
    auto ok = api.call("POST", "/api/v1/workflows/" + wf + "/versions/2/restore");
    REQUIRE_MESSAGE(ok.status == 200, ok.body);
    CHECK(ok.json().at("version") == 5);
}
