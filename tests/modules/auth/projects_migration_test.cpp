// Upgrading to projects: a single-team server's database from before projects (every migration up
// to auth 0001 and workflow 0008) keeps working unchanged: its workflows and runs are in the
// Default project, which every existing user joins with their role.
#include "core/db/db.hpp"
#include "core/db/migrator.hpp"
#include "core/util/embedded.hpp"
#include "modules/auth/passwords.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <soci/soci.h>

#include <chrono>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;

namespace {

constexpr const char* kPassword = "a long enough passphrase";

std::map<std::string, std::string> login(unsigned short port, const std::string& name) { return login_headers(port, name, kPassword); }

}  // namespace

TEST_CASE("projects: upgrading a single-team server keeps it working unchanged") {
    TestDatabase tdb;
    {
        // The schema as it was before projects.
        auto db = tdb.open();
        std::vector<Migration> before;
        for (auto& m : collect_migrations(embedded_schema()))
            if (!(m.module == "auth" && m.version >= 2) && !(m.module == "workflow" && m.version >= 9)) before.push_back(m);
        apply_migrations(*db, before, {"system", "auth", "workflow"});
        auto hash = auth::hash_password(kPassword);
        db->with_session([&](soci::session& s) {
            for (auto [id, name, role] : {std::tuple{"u-ada", "ada", "admin"}, std::tuple{"u-ed", "ed", "editor"},
                                          std::tuple{"u-vi", "vi", "viewer"}}) {
                std::string i = id, n = name, r = role;
                s << "INSERT INTO auth_users (id, username, password_hash, role, disabled, created_at, updated_at, last_login_at) "
                     "VALUES (:i, :n, :p, :r, 0, 1, 1, 0)",
                    soci::use(i), soci::use(n), soci::use(hash), soci::use(r);
            }
            std::string def = R"({"name":"old","tasks":[{"id":"a","type":"script","config":{"code":"return 1"}}]})";
            s << "INSERT INTO workflows (id, name, version, active, definition, created_at, updated_at) "
                 "VALUES ('wf-old', 'old', 1, 0, :d, 1, 1)", soci::use(def);
            s << "INSERT INTO workflow_versions (workflow_id, version, definition, created_at) VALUES ('wf-old', 1, :d, 1)",
                soci::use(def);
            // Finished a moment ago (older runs are retention's: workflow.retention_days).
            long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
            s << "INSERT INTO workflow_runs (id, workflow_id, version, status, trigger_type, trigger_data, input, created_at, "
                 "updated_at, finished_at) VALUES ('run-old', 'wf-old', 1, 'succeeded', 'manual', '{}', '{}', :c, :u, :f)",
                soci::use(now), soci::use(now), soci::use(now);
        });
    }
    TestServer s({{"database.url", tdb.url()}}, {}, false);
    auto ed = login(s.port(), "ed");
    auto vi = login(s.port(), "vi");
    auto ada = login(s.port(), "ada");

    auto me = http(s.port(), "GET", "/api/v1/auth/me", {}, ed).json();
    bool in_default = false;
    for (const auto& p : me.at("projects").as_array())
        if (p.at("id").as_string() == "default" && p.at("role").as_string() == "editor") in_default = true;
    CHECK(in_default);
    CHECK(me.at("personal_project_id").as_string() == "personal-u-ed");

    // Everyone sees what was there, with the rights they had.
    for (const auto* who : {&ed, &vi, &ada}) {
        auto list = http(s.port(), "GET", "/api/v1/workflows", {}, *who);
        REQUIRE(list.status == 200);
        auto items = list.json().at("items").as_array();
        REQUIRE(items.size() == 1);
        CHECK(items[0].at("project_id").as_string() == "default");
        CHECK(http(s.port(), "GET", "/api/v1/runs/run-old", {}, *who).status == 200);
    }
    std::string def = R"({"name":"old, changed","tasks":[{"id":"a","type":"script","config":{"code":"return 2"}}]})";
    CHECK(http(s.port(), "PUT", "/api/v1/workflows/wf-old", def, vi).status == 403);
    CHECK(http(s.port(), "PUT", "/api/v1/workflows/wf-old", def, ed).status == 200);
    auto run = http(s.port(), "POST", "/api/v1/workflows/wf-old/runs", R"({"input":{}})", ed);
    CHECK(run.status == 201);
    CHECK(http(s.port(), "POST", "/api/v1/workflows/wf-old/runs", R"({"input":{}})", vi).status == 403);
    // A new user is in no project but their own until added.
    auto nu = http(s.port(), "POST", "/api/v1/auth/users",
                   json::serialize(json::object{{"username", "newbie"}, {"password", kPassword}, {"role", "editor"}}), ada);
    REQUIRE_MESSAGE(nu.status == 201, nu.body);
    auto newbie = login(s.port(), "newbie");
    CHECK(http(s.port(), "GET", "/api/v1/workflows/wf-old", {}, newbie).status == 404);
}
