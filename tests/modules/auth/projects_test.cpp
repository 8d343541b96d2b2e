// Projects: two teams share one server. A member of another project gets 404 on every route with
// a resource id and changes nothing; lists show only the caller's projects; /ws delivers a
// project's events only to its members; a key limited to one project reaches no other; moving a
// workflow moves its runs' visibility.
#include "core/http/router.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <map>
#include <set>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;

namespace {

using Headers = std::map<std::string, std::string>;
constexpr const char* kPassword = "a long enough passphrase";

struct User {
    std::string id, cookie, csrf;
    Headers h() const { return {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}; }
};

User make_user(TestServer& s, const std::string& name, const std::string& role) {
    auto r = http(s.port(), "POST", "/api/v1/auth/users",
                  json::serialize(json::object{{"username", name}, {"password", kPassword}, {"role", role}}), s.admin());
    REQUIRE_MESSAGE(r.status == 201, r.body);
    User u;
    u.id = std::string(r.json().at("id").as_string());
    auto session = login_headers(s.port(), name, kPassword);
    u.cookie = session["Cookie"];
    u.csrf = session["X-CSRF-Token"];
    return u;
}

std::string create_workflow(TestServer& s, const Headers& h, const std::string& name, const std::string& project = {}) {
    json::object def{{"name", name},
                     {"tasks", json::array{json::object{{"id", "a"}, {"type", "script"}, {"config", {{"code", "return {ok = true}"}}}}}}};
    if (!project.empty()) def["project_id"] = project;
    auto r = http(s.port(), "POST", "/api/v1/workflows", json::serialize(def), h);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return std::string(r.json().at("id").as_string());
}

// A team project (created by the instance admin) with one member.
std::string team_project(TestServer& s, const std::string& name, const std::string& member, const std::string& role) {
    auto t = http(s.port(), "POST", "/api/v1/projects", json::serialize(json::object{{"name", name}}), s.admin());
    REQUIRE_MESSAGE(t.status == 201, t.body);
    std::string team(t.json().at("id").as_string());
    auto m = http(s.port(), "POST", "/api/v1/projects/" + team + "/members",
                  json::serialize(json::object{{"user_id", member}, {"role", role}}), s.admin());
    REQUIRE_MESSAGE(m.status == 201, m.body);
    return team;
}

std::string start_run(TestServer& s, const Headers& h, const std::string& wf) {
    auto r = http(s.port(), "POST", "/api/v1/workflows/" + wf + "/runs", R"({"input":{}})", h);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return std::string(r.json().at("id").as_string());
}

std::set<std::string> ids_of(const HttpResult& r) {
    std::set<std::string> out;
    auto doc = r.json();
    for (const auto& v : doc.at("items").as_array()) out.insert(std::string(v.at("id").as_string()));
    return out;
}

// Reads events until one of `run_id` with a final status; every run id seen is added to `seen`.
bool finished(WsClient& ws, const std::string& run_id, std::set<std::string>& seen) {
    for (int i = 0; i < 200; ++i) {
        auto ev = ws.read_type("event", std::chrono::seconds(10));
        if (!ev) return false;
        const auto& data = ev->at("data").as_object();
        if (auto* r = data.if_contains("run_id")) seen.insert(std::string(r->as_string()));
        if (ev->at("topic").as_string() == "workflow.run.succeeded" && data.at("run_id").as_string() == run_id) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("projects: a member of another project gets 404 on every route with a resource id, and nothing changes") {
    TestServer s;
    auto ann = make_user(s, "ann", "editor");
    auto bob = make_user(s, "bob", "editor");
    // Bob is also the admin of a team project: he holds every project permission somewhere.
    auto team = team_project(s, "Team B", bob.id, "admin");

    auto wf = create_workflow(s, ann.h(), "ann's");
    auto run = start_run(s, ann.h(), wf);
    auto before_wf = http(s.port(), "GET", "/api/v1/workflows/" + wf, {}, ann.h());
    REQUIRE(before_wf.status == 200);
    CHECK(before_wf.json().at("project_id").as_string() == "personal-" + ann.id);
    auto key = http(s.port(), "POST", "/api/v1/auth/api-keys", R"({"name":"k","scopes":["*"]})", ann.h());
    REQUIRE(key.status == 201);
    std::string ann_key(key.json().at("id").as_string());
    std::string ann_project = "personal-" + ann.id;

    // Each kind of resource id a route may name, as one of ann's.
    auto id_for = [&](const std::string& pattern, const std::string& param) -> std::optional<std::string> {
        if (param == "task") return std::string("a");
        if (param == "user_id") return ann.id;
        if (param == "version") return std::string("1");
        if (param != "id") return std::nullopt;
        if (pattern.starts_with("/api/v1/workflows/")) return wf;
        if (pattern.starts_with("/api/v1/runs/")) return run;
        if (pattern.starts_with("/api/v1/projects/")) return ann_project;
        if (pattern.starts_with("/api/v1/auth/api-keys/")) return ann_key;
        if (pattern.starts_with("/api/v1/auth/users/")) return ann.id;
        return std::nullopt;
    };
    std::size_t walked = 0;
    for (const auto& route : s.app().router().routes()) {
        if (route.permission == kPublic || route.pattern.find('{') == std::string::npos) continue;
        std::string path;
        bool known = true;
        for (std::size_t i = 0; i < route.pattern.size();) {
            if (route.pattern[i] != '{') {
                path += route.pattern[i++];
                continue;
            }
            auto end = route.pattern.find('}', i);
            auto name = route.pattern.substr(i + 1, end - i - 1);
            auto v = id_for(route.pattern, name);
            if (!v) known = false;
            else path += *v;
            i = end + 1;
        }
        REQUIRE_MESSAGE(known, route.method << " " << route.pattern
                                            << " names a resource this walk does not know: teach id_for() which of ann's it is");
        std::string body = route.json_body ? R"({"name":"x","input":{},"approved":true,"project_id":")" + team +
                                                 R"(","user_id":")" + bob.id + R"(","role":"admin","tasks":[]})"
                                           : std::string();
        auto r = http(s.port(), route.method, path, body, bob.h());
        // Users are instance administration (403 for bob at any id); everything else is 404.
        int want = route.pattern.starts_with("/api/v1/auth/users/") ? 403 : 404;
        CHECK_MESSAGE(r.status == want, route.method << " " << path << " answered " << r.status << ": " << r.body);
        ++walked;
    }
    CHECK(walked >= 12);

    // Nothing changed.
    auto after_wf = http(s.port(), "GET", "/api/v1/workflows/" + wf, {}, ann.h());
    REQUIRE(after_wf.status == 200);
    CHECK(after_wf.json().at("version") == before_wf.json().at("version"));
    CHECK(after_wf.json().at("project_id") == before_wf.json().at("project_id"));
    CHECK(http(s.port(), "GET", "/api/v1/runs/" + run, {}, ann.h()).status == 200);
    CHECK(http(s.port(), "GET", "/api/v1/auth/api-keys/" + ann_key, {}, ann.h()).json().at("revoked_at").is_null());
    auto members = http(s.port(), "GET", "/api/v1/projects/" + ann_project + "/members", {}, ann.h());
    REQUIRE(members.status == 200);
    CHECK(members.json().at("items").as_array().size() == 1);

    // Lists show only the caller's projects.
    CHECK(ids_of(http(s.port(), "GET", "/api/v1/workflows", {}, bob.h())).count(wf) == 0);
    CHECK(ids_of(http(s.port(), "GET", "/api/v1/workflows", {}, ann.h())).count(wf) == 1);
    CHECK(ids_of(http(s.port(), "GET", "/api/v1/runs", {}, bob.h())).count(run) == 0);
    CHECK(ids_of(http(s.port(), "GET", "/api/v1/runs?project_id=" + ann_project, {}, bob.h())).empty());
    CHECK(ids_of(http(s.port(), "GET", "/api/v1/projects", {}, bob.h())).count(ann_project) == 0);
    // Bob cannot create in ann's project either.
    json::object def{{"name", "intruder"}, {"project_id", ann_project}, {"tasks", json::array{}}};
    CHECK(http(s.port(), "POST", "/api/v1/workflows", json::serialize(def), bob.h()).status == 404);
    // The instance admin sees both.
    CHECK(ids_of(http(s.port(), "GET", "/api/v1/workflows", {}, s.admin())).count(wf) == 1);
}

TEST_CASE("projects: /ws delivers a run's events only to members of its project") {
    TestServer s;
    auto ann = make_user(s, "ann", "editor");
    auto bob = make_user(s, "bob", "editor");
    auto ann_wf = create_workflow(s, ann.h(), "ann's");
    auto bob_wf = create_workflow(s, bob.h(), "bob's");
    WsClient ann_ws(s.port(), {{"Cookie", ann.cookie}});
    WsClient bob_ws(s.port(), {{"Cookie", bob.cookie}});
    for (auto* ws : {&ann_ws, &bob_ws}) {
        ws->send_text(R"({"type":"subscribe","topics":["workflow.**"]})");
        REQUIRE(ws->read_type("subscribed"));
    }
    auto ann_run = start_run(s, ann.h(), ann_wf);
    std::set<std::string> ann_saw, bob_saw;
    REQUIRE(finished(ann_ws, ann_run, ann_saw));
    // Ann's events were published before bob's run started: had they reached bob, they would come
    // before his own run's end.
    auto bob_run = start_run(s, bob.h(), bob_wf);
    REQUIRE(finished(bob_ws, bob_run, bob_saw));
    CHECK(bob_saw.count(ann_run) == 0);
    CHECK(bob_saw.count(bob_run) == 1);
}

TEST_CASE("projects: a key limited to one project reaches no other, and mints no wider key") {
    TestServer s;
    auto ann = make_user(s, "ann", "editor");
    auto team = team_project(s, "Team", ann.id, "editor");
    auto team_wf = create_workflow(s, ann.h(), "team's", team);
    auto own_wf = create_workflow(s, ann.h(), "own");
    std::string personal = "personal-" + ann.id;
    auto k = http(s.port(), "POST", "/api/v1/auth/api-keys",
                  json::serialize(json::object{{"name", "narrow"}, {"scopes", json::array{"*"}}, {"project_id", personal}}), ann.h());
    REQUIRE_MESSAGE(k.status == 201, k.body);
    CHECK(k.json().at("project_id").as_string() == personal);
    Headers key{{"Authorization", "Bearer " + std::string(k.json().at("key").as_string())}};
    CHECK(http(s.port(), "GET", "/api/v1/workflows/" + own_wf, {}, key).status == 200);
    CHECK(http(s.port(), "GET", "/api/v1/workflows/" + team_wf, {}, key).status == 404);
    CHECK(http(s.port(), "POST", "/api/v1/workflows/" + team_wf + "/runs", R"({"input":{}})", key).status == 404);
    CHECK(ids_of(http(s.port(), "GET", "/api/v1/workflows", {}, key)) == std::set<std::string>{own_wf});
    json::object def{{"name", "x"}, {"project_id", team}, {"tasks", json::array{}}};
    CHECK(http(s.port(), "POST", "/api/v1/workflows", json::serialize(def), key).status == 404);
    // A key it mints is limited to the same project.
    auto wider = http(s.port(), "POST", "/api/v1/auth/api-keys",
                      json::serialize(json::object{{"name", "w"}, {"scopes", json::array{"*"}}, {"project_id", team}}), key);
    CHECK(wider.status == 422);
    auto same = http(s.port(), "POST", "/api/v1/auth/api-keys", R"({"name":"s","scopes":["*"]})", key);
    REQUIRE(same.status == 201);
    CHECK(same.json().at("project_id").as_string() == personal);
    // Ann's own session still reaches both.
    CHECK(http(s.port(), "GET", "/api/v1/workflows/" + team_wf, {}, ann.h()).status == 200);
}

TEST_CASE("projects: moving a workflow moves its runs' visibility; a project that holds workflows is not deleted") {
    TestServer s;
    auto ann = make_user(s, "ann", "editor");
    auto bob = make_user(s, "bob", "viewer");
    auto team = team_project(s, "Shared", bob.id, "viewer");
    auto wf = create_workflow(s, ann.h(), "moving");
    auto run = start_run(s, ann.h(), wf);
    CHECK(http(s.port(), "GET", "/api/v1/runs/" + run, {}, bob.h()).status == 404);
    // Ann is no admin of the team project: she cannot move it there.
    auto refused = http(s.port(), "POST", "/api/v1/workflows/" + wf + "/move", json::serialize(json::object{{"project_id", team}}), ann.h());
    CHECK(refused.status != 200);
    auto moved = http(s.port(), "POST", "/api/v1/workflows/" + wf + "/move", json::serialize(json::object{{"project_id", team}}), s.admin());
    REQUIRE_MESSAGE(moved.status == 200, moved.body);
    CHECK(http(s.port(), "GET", "/api/v1/runs/" + run, {}, bob.h()).status == 200);
    CHECK(http(s.port(), "GET", "/api/v1/workflows/" + wf, {}, bob.h()).json().at("project_id").as_string() == team);
    CHECK(http(s.port(), "GET", "/api/v1/workflows/" + wf, {}, ann.h()).status == 404);
    // A viewer reads but does not change.
    CHECK(http(s.port(), "DELETE", "/api/v1/workflows/" + wf, {}, bob.h()).status == 403);
    auto del = http(s.port(), "DELETE", "/api/v1/projects/" + team, {}, s.admin());
    CHECK(del.status == 409);
    CHECK(del.body.find("1 workflows") != std::string::npos);
    REQUIRE(http(s.port(), "DELETE", "/api/v1/workflows/" + wf, {}, s.admin()).status == 204);
    CHECK(http(s.port(), "DELETE", "/api/v1/projects/" + team, {}, s.admin()).status == 204);
    // The audit log names the project of each change.
    auto audit = http(s.port(), "GET", "/api/v1/auth/audit?limit=50", {}, s.admin());
    bool named = false;
    auto entries = audit.json();
    for (const auto& e : entries.at("items").as_array())
        if (e.at("action").as_string() == "workflow.move" && e.at("project_id").is_string()) named = true;
    CHECK(named);
}

TEST_CASE("projects: an event a run emits starts event-triggered workflows of its own project only") {
    TestServer s;
    auto ann = make_user(s, "ann", "editor");
    auto bob = make_user(s, "bob", "editor");
    auto triggered = [&](const User& u, const std::string& name) {
        json::object def{{"name", name},
                         {"active", true},
                         {"triggers", json::array{json::object{{"type", "event"}, {"topic", "orders.new"}}}},
                         {"tasks", json::array{json::object{{"id", "a"}, {"type", "script"}, {"config", {{"code", "return 1"}}}}}}};
        auto r = http(s.port(), "POST", "/api/v1/workflows", json::serialize(def), u.h());
        REQUIRE_MESSAGE(r.status == 201, r.body);
        return std::string(r.json().at("id").as_string());
    };
    auto ann_listener = triggered(ann, "ann listens");
    auto bob_listener = triggered(bob, "bob listens");
    json::object emitter{{"name", "bob emits"},
                         {"tasks", json::array{json::object{{"id", "e"}, {"type", "emit"}, {"config", {{"topic", "orders.new"}, {"data", {{"n", 1}}}}}}}}};
    auto e = http(s.port(), "POST", "/api/v1/workflows", json::serialize(emitter), bob.h());
    REQUIRE_MESSAGE(e.status == 201, e.body);
    std::string emitter_id(e.json().at("id").as_string());
    WsClient ws(s.port(), {{"Cookie", bob.cookie}});
    ws.send_text(R"({"type":"subscribe","topics":["workflow.run.succeeded"]})");
    REQUIRE(ws.read_type("subscribed"));
    start_run(s, bob.h(), emitter_id);
    // Wait for bob's listener to have run: the event was delivered to every trigger by then.
    bool bob_heard = false;
    for (int i = 0; i < 20 && !bob_heard; ++i) {
        auto ev = ws.read_type("event", std::chrono::seconds(10));
        REQUIRE(ev);
        bob_heard = ev->at("data").at("workflow_id").as_string() == bob_listener;
    }
    REQUIRE(bob_heard);
    auto runs = http(s.port(), "GET", "/api/v1/runs?workflow_id=" + ann_listener, {}, s.admin());
    REQUIRE(runs.status == 200);
    CHECK(runs.json().at("items").as_array().empty());
}

TEST_CASE("projects: an open WebSocket stops getting a project's events once its user leaves the project") {
    TestServer s(std::map<std::string, std::string>{{"server.ws_recheck_ms", "100"}});
    auto bob = make_user(s, "bob", "editor");
    auto team = team_project(s, "Team", bob.id, "viewer");
    auto team_wf = create_workflow(s, s.admin(), "team's", team);
    auto own_wf = create_workflow(s, bob.h(), "bob's");
    WsClient ws(s.port(), {{"Cookie", bob.cookie}});
    ws.send_text(R"({"type":"subscribe","topics":["workflow.run.succeeded"]})");
    REQUIRE(ws.read_type("subscribed"));
    // A member gets the team's events.
    auto first = start_run(s, s.admin(), team_wf);
    std::set<std::string> seen;
    REQUIRE(finished(ws, first, seen));
    REQUIRE(http(s.port(), "DELETE", "/api/v1/projects/" + team + "/members/" + bob.id, {}, s.admin()).status == 204);
    // Within a few credential checks the socket knows: a team run's end no longer comes before
    // the end of bob's own run started after it.
    bool stopped = false;
    for (int i = 0; i < 100 && !stopped; ++i) {
        auto team_run = start_run(s, s.admin(), team_wf);
        std::set<std::string> got;
        auto own_run = start_run(s, bob.h(), own_wf);
        REQUIRE(finished(ws, own_run, got));
        stopped = got.count(team_run) == 0;
    }
    CHECK(stopped);
}

TEST_CASE("projects: a run starts no subworkflow of another project; members can be added by name") {
    TestServer s;
    auto ann = make_user(s, "ann", "editor");
    auto bob = make_user(s, "bob", "editor");
    auto bobs = create_workflow(s, bob.h(), "bob's");
    auto anns_own = create_workflow(s, ann.h(), "ann's child");
    auto parent = [&](const std::string& child) {
        json::object def{{"name", "parent"},
                         {"tasks", json::array{json::object{{"id", "c"}, {"type", "subworkflow"}, {"config", {{"workflow_id", child}}}}}}};
        auto r = http(s.port(), "POST", "/api/v1/workflows", json::serialize(def), ann.h());
        REQUIRE_MESSAGE(r.status == 201, r.body);
        return std::string(r.json().at("id").as_string());
    };
    WsClient ws(s.port(), {{"Cookie", ann.cookie}});
    ws.send_text(R"({"type":"subscribe","topics":["workflow.run.*"]})");
    REQUIRE(ws.read_type("subscribed"));
    auto wait_end = [&](const std::string& run) -> std::string {
        for (int i = 0; i < 50; ++i) {
            auto ev = ws.read_type("event", std::chrono::seconds(10));
            if (!ev) break;
            const auto& topic = ev->at("topic").as_string();
            if (ev->at("data").at("run_id").as_string() == run && (topic == "workflow.run.succeeded" || topic == "workflow.run.failed"))
                return std::string(topic);
        }
        return {};
    };
    auto bad = start_run(s, ann.h(), parent(bobs));
    CHECK(wait_end(bad) == "workflow.run.failed");
    auto run = http(s.port(), "GET", "/api/v1/runs/" + bad, {}, ann.h()).json();
    CHECK(json::serialize(run).find("there is no workflow") != std::string::npos);
    auto good = start_run(s, ann.h(), parent(anns_own));
    CHECK(wait_end(good) == "workflow.run.succeeded");

    auto t = http(s.port(), "POST", "/api/v1/projects", R"({"name":"Team"})", s.admin());
    REQUIRE(t.status == 201);
    std::string team(t.json().at("id").as_string());
    auto added = http(s.port(), "POST", "/api/v1/projects/" + team + "/members", R"({"username":"ann","role":"admin"})", s.admin());
    REQUIRE_MESSAGE(added.status == 201, added.body);
    CHECK(added.json().at("user_id").as_string() == ann.id);
    // Ann, admin of the team project, adds bob by name.
    auto by_ann = http(s.port(), "POST", "/api/v1/projects/" + team + "/members", R"({"username":"bob","role":"viewer"})", ann.h());
    CHECK(by_ann.status == 201);
    CHECK(http(s.port(), "POST", "/api/v1/projects/" + team + "/members", R"({"username":"nobody","role":"viewer"})", ann.h()).status == 422);
}

TEST_CASE("projects: a taken webhook path names its workflow only to those who reach its project; the outcome feed shows the caller's projects") {
    TestServer s;
    auto ann = make_user(s, "ann", "editor");
    auto bob = make_user(s, "bob", "editor");
    auto hooked = [](const std::string& name) {
        return json::serialize(json::object{
            {"name", name},
            {"active", true},
            {"triggers", json::array{json::object{{"type", "webhook"}, {"method", "POST"}, {"path", "shared-path"}}}},
            {"tasks", json::array{json::object{{"id", "a"}, {"type", "script"}, {"config", {{"code", "return 1"}}}}}}});
    };
    auto a = http(s.port(), "POST", "/api/v1/workflows", hooked("ann's hook"), ann.h());
    REQUIRE_MESSAGE(a.status == 201, a.body);
    std::string ann_wf(a.json().at("id").as_string());
    auto b = http(s.port(), "POST", "/api/v1/workflows", hooked("bob's hook"), bob.h());
    CHECK(b.status == 409);
    CHECK(b.body.find(ann_wf) == std::string::npos);
    auto again = http(s.port(), "POST", "/api/v1/workflows", hooked("ann's second"), ann.h());
    CHECK(again.status == 409);
    CHECK(again.body.find(ann_wf) != std::string::npos);

    auto run = start_run(s, ann.h(), ann_wf);
    // The feed: ann sees her run's outcome once it is committed; bob never does.
    bool ann_saw = false;
    std::string cursor;
    for (int i = 0; i < 200 && !ann_saw; ++i) {
        auto page = http(s.port(), "GET", "/api/v1/workflows/outcomes?cursor=" + cursor, {}, ann.h());
        REQUIRE(page.status == 200);
        auto doc = page.json();
        for (const auto& o : doc.at("items").as_array())
            if (o.at("kind").as_string() == "run" && o.at("run_id").as_string() == run) ann_saw = true;
        cursor = std::string(doc.at("next_cursor").as_string());
        if (!ann_saw) {
            // Wait for the run's end on its own page of the API, not by sleeping.
            auto r = http(s.port(), "GET", "/api/v1/runs/" + run, {}, ann.h());
            REQUIRE(r.status == 200);
        }
    }
    CHECK(ann_saw);
    auto bobs = http(s.port(), "GET", "/api/v1/workflows/outcomes", {}, bob.h());
    REQUIRE(bobs.status == 200);
    // (The cursor moves past other projects' outcomes; it is opaque, but names the last one read.)
    auto bob_items = json::serialize(bobs.json().at("items"));
    CHECK_MESSAGE(bob_items.find(run) == std::string::npos, bobs.body);
}
