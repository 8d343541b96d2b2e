// GET /api/v1/workflows/triggers: the live webhooks and cron schedules (with their next fire) of
// the active workflows in the caller's projects. Another project's user sees none of them; a
// viewer of a project sees its triggers; the literal segment is not taken for a workflow id.
#include "core/time/time.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <map>
#include <set>
#include <string>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;

namespace {

using Headers = std::map<std::string, std::string>;
constexpr const char* kPassword = "a long enough passphrase";
constexpr const char* kTriggers = "/api/v1/workflows/triggers";

struct User {
    std::string id;
    Headers headers;
};

User make_user(TestServer& s, const std::string& name, const std::string& role) {
    auto r = http(s.port(), "POST", "/api/v1/auth/users",
                  json::serialize(json::object{{"username", name}, {"password", kPassword}, {"role", role}}), s.admin());
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return {std::string(r.json().at("id").as_string()), login_headers(s.port(), name, kPassword)};
}

std::string create(TestServer& s, const Headers& h, json::object def) {
    if (!def.contains("tasks"))
        def["tasks"] = json::array{json::object{{"id", "a"}, {"type", "set"}, {"config", {{"values", {{"x", 1}}}}}}};
    auto r = http(s.port(), "POST", "/api/v1/workflows", json::serialize(def), h);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return std::string(r.json().at("id").as_string());
}

// The items of `workflow_id` in the caller's trigger list.
std::vector<json::object> items_of(TestServer& s, const Headers& h, const std::string& workflow_id, const std::string& query = {}) {
    auto r = http(s.port(), "GET", std::string(kTriggers) + query, {}, h);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    std::vector<json::object> out;
    auto doc = r.json();
    for (const auto& v : doc.at("items").as_array())
        if (v.at("workflow_id").as_string() == workflow_id) out.push_back(v.as_object());
    return out;
}

}  // namespace

TEST_CASE("workflow triggers: an active workflow's webhooks and cron schedules, with the next fire in UTC") {
    TestServer s;
    auto ann = make_user(s, "ann", "editor");
    auto wf = create(s, ann.headers,
                     {{"name", "scheduled"},
                      {"active", true},
                      {"triggers", json::array{json::object{{"type", "manual"}},
                                               json::object{{"type", "webhook"}, {"method", "put"}, {"path", "/ann/in"}},
                                               json::object{{"type", "cron"}, {"schedule", "*/5 * * * *"}},
                                               json::object{{"type", "cron"}, {"schedule", "0 0 30 2 *"}},
                                               json::object{{"type", "event"}, {"topic", "ann.thing"}}}}});
    auto off = create(s, ann.headers,
                      {{"name", "switched off"}, {"triggers", json::array{json::object{{"type", "cron"}, {"schedule", "* * * * *"}}}}});

    auto before = now_ms();
    auto items = items_of(s, ann.headers, wf);
    auto after = now_ms();
    REQUIRE(items.size() == 3);  // manual and event triggers are not listed
    CHECK(items[0] == json::object{{"workflow_id", wf}, {"workflow_name", "scheduled"}, {"type", "webhook"}, {"method", "PUT"}, {"path", "ann/in"}});
    const auto& cron = items[1];
    CHECK(cron.at("type") == "cron");
    CHECK(cron.at("workflow_name") == "scheduled");
    CHECK(cron.at("cron") == "*/5 * * * *");
    CHECK(cron.at("timezone") == "UTC");
    REQUIRE(cron.at("next_fire_at").is_string());
    auto next = parse_rfc3339(cron.at("next_fire_at").as_string());
    REQUIRE(next);
    CHECK(*next > before);
    CHECK(*next <= after + 5 * 60 * 1000);
    CHECK(*next % (5 * 60 * 1000) == 0);  // on a whole fifth minute
    CHECK(std::string(cron.at("next_fire_at").as_string()).ends_with("Z"));
    // A schedule that never fires (30 February) has no next fire.
    CHECK(items[2].at("cron") == "0 0 30 2 *");
    CHECK(items[2].at("next_fire_at").is_null());

    // An inactive workflow's triggers are not live.
    CHECK(items_of(s, ann.headers, off).empty());
    // Deactivating removes them; activating brings them back.
    REQUIRE(http(s.port(), "POST", "/api/v1/workflows/" + wf + "/deactivate", {}, ann.headers).status == 200);
    CHECK(items_of(s, ann.headers, wf).empty());
    REQUIRE(http(s.port(), "POST", "/api/v1/workflows/" + wf + "/activate", {}, ann.headers).status == 200);
    CHECK(items_of(s, ann.headers, wf).size() == 3);

    // The literal segment wins over /api/v1/workflows/{id}; the route is in the OpenAPI document
    // and needs a login.
    CHECK(http(s.port(), "GET", kTriggers, {}, {}).status == 401);
    auto api = http(s.port(), "GET", "/api/v1/openapi.json", {}, s.admin());
    REQUIRE(api.status == 200);
    auto doc = api.json();
    auto* path = doc.at("paths").as_object().if_contains(kTriggers);
    REQUIRE(path);
    CHECK(path->as_object().contains("get"));
}

TEST_CASE("workflow triggers: another project's user sees none of them; a viewer sees their project's") {
    TestServer s;
    auto ann = make_user(s, "ann", "editor");
    auto bob = make_user(s, "bob", "editor");
    auto carol = make_user(s, "carol", "viewer");
    auto t = http(s.port(), "POST", "/api/v1/projects", R"({"name":"Team"})", s.admin());
    REQUIRE_MESSAGE(t.status == 201, t.body);
    std::string team(t.json().at("id").as_string());
    for (const auto& [id, role] : {std::pair{ann.id, "editor"}, std::pair{carol.id, "viewer"}}) {
        auto m = http(s.port(), "POST", "/api/v1/projects/" + team + "/members",
                      json::serialize(json::object{{"user_id", id}, {"role", role}}), s.admin());
        REQUIRE_MESSAGE(m.status == 201, m.body);
    }
    auto cron = json::array{json::object{{"type", "cron"}, {"schedule", "0 * * * *"}}};
    auto mine = create(s, ann.headers, {{"name", "ann's own"}, {"active", true}, {"triggers", cron}});
    auto shared = create(s, ann.headers,
                         {{"name", "team's"},
                          {"active", true},
                          {"project_id", team},
                          {"triggers", json::array{json::object{{"type", "webhook"}, {"path", "team-hook"}}}}});
    auto bobs = create(s, bob.headers, {{"name", "bob's"}, {"active", true}, {"triggers", cron}});

    // Ann sees her personal project's and the team's; not bob's.
    CHECK(items_of(s, ann.headers, mine).size() == 1);
    CHECK(items_of(s, ann.headers, shared).size() == 1);
    CHECK(items_of(s, ann.headers, bobs).empty());
    // Bob, of another project, sees nothing of them, also when he names their project.
    auto all = http(s.port(), "GET", kTriggers, {}, bob.headers);
    REQUIRE(all.status == 200);
    std::set<std::string> seen;
    auto doc = all.json();
    for (const auto& v : doc.at("items").as_array()) seen.insert(std::string(v.at("workflow_id").as_string()));
    CHECK(seen == std::set<std::string>{bobs});
    auto named = http(s.port(), "GET", std::string(kTriggers) + "?project_id=" + team, {}, bob.headers);
    REQUIRE(named.status == 200);
    CHECK(named.json().at("items").as_array().empty());
    CHECK(items_of(s, bob.headers, mine, "?project_id=personal-" + ann.id).empty());
    // Carol, a viewer of the team, reads the team's webhook (and nothing of ann's personal project).
    auto carols = items_of(s, carol.headers, shared);
    REQUIRE(carols.size() == 1);
    CHECK(carols[0] == json::object{{"workflow_id", shared}, {"workflow_name", "team's"}, {"type", "webhook"}, {"method", "POST"}, {"path", "team-hook"}});
    CHECK(items_of(s, carol.headers, mine).empty());
    CHECK(items_of(s, carol.headers, shared, "?project_id=" + team).size() == 1);
    // The instance admin sees every project's.
    CHECK(items_of(s, s.admin(), mine).size() == 1);
    CHECK(items_of(s, s.admin(), bobs).size() == 1);
}
