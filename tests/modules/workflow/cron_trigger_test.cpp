// Cron triggers against a fake clock: the module's Triggers with its own Engine on the test
// server's database. The workflow's schedule (1 January, 00:00) never comes due in real time
// while the test runs, so only the fake clock fires it.
#include <doctest/doctest.h>

#include "core/vault/vault.hpp"

#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/current_versions.hpp"
#include "modules/workflow/definition.hpp"
#include "modules/workflow/engine.hpp"
#include "modules/workflow/executors.hpp"
#include "modules/workflow/store.hpp"
#include "modules/workflow/triggers.hpp"
#include "tests/modules/workflow/engine_rig.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <soci/soci.h>

using namespace arclight;
using namespace arclight::test;
using namespace arclight::workflow;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

struct Rig {
    TestServer& srv;
    asio::thread_pool pool{2};
    EventBus bus{pool.get_executor()};
    TaskTypeRegistry types;
    Store store{srv.app().db().backend() == DbBackend::sqlite};
    Versions versions{srv.app().db(), store, types, std::chrono::milliseconds(0)};
    std::unique_ptr<Engine> engine;
    std::unique_ptr<Triggers> triggers;
    explicit Rig(TestServer& s) : srv(s) {
        EngineOptions o;
        o.instance_id = new_uuid();
        o.sqlite_single_instance = false;
        auto& db = srv.app().db();
        engine = std::make_unique<Engine>(db, bus, pool.get_executor(), pool.get_executor(), o,
                                          [this](soci::session& s, const std::string& id, int v) { return versions.load(s, id, v); });
        triggers = std::make_unique<Triggers>(db, store, bus, *engine, [this](const std::string& id, int v, const std::string& d) {
            return versions.compile(id, v, d);
        }, srv.app().vault());
        triggers->reload_now();
        engine->start();
    }
    ~Rig() {
        triggers.reset();
        stop_engine(engine, pool);
    }
    int tick(long long now) {
        auto fut = asio::co_spawn(pool.get_executor(), triggers->tick(now), asio::use_future);
        return fut.get();
    }
};

long long count_runs(TestServer& srv, const std::string& wf) {
    auto r = http(srv.port(), "GET", "/api/v1/runs?limit=500&workflow_id=" + wf, {}, srv.admin());
    return static_cast<long long>(r.json().at("items").as_array().size());
}

// 2027-01-01T00:00:00Z
constexpr long long kNewYear = 1798761600000LL;

}  // namespace

TEST_CASE("workflow: cron trigger fires on schedule, once per fire time, across restarts") {
    TestServer srv;
    auto def = R"({"name":"cron","active":true,"triggers":[{"type":"cron","schedule":"0 0 1 1 *"}],
                   "tasks":[{"id":"a","type":"delay","config":{"seconds":0}}]})";
    auto created = http(srv.port(), "POST", "/api/v1/workflows", def, {{"Authorization", "Bearer " + srv.admin_key()}, {"Content-Type", "application/json"}});
    REQUIRE(created.status == 201);
    std::string wf(created.json().at("id").as_string());
    {
        Rig rig(srv);
        CHECK(rig.tick(kNewYear - 60000) == 0);  // a minute before: nothing
        CHECK(rig.tick(kNewYear + 500) == 1);    // due
        CHECK(rig.tick(kNewYear + 1500) == 0);   // the same fire does not repeat
    }
    {
        Rig restarted(srv);  // a new process: reads the last fire from the database
        CHECK(restarted.tick(kNewYear + 2000) == 0);
    }
    CHECK(count_runs(srv, wf) == 1);
}

TEST_CASE("workflow: cron missed fires: skip by default, run_once fires the latest missed one") {
    TestServer srv;
    auto admin = std::map<std::string, std::string>{{"Authorization", "Bearer " + srv.admin_key()}, {"Content-Type", "application/json"}};
    auto skip = http(srv.port(), "POST", "/api/v1/workflows",
                     R"({"name":"skip","active":true,"triggers":[{"type":"cron","schedule":"0 0 1 1 *"}],"tasks":[{"id":"a","type":"delay","config":{"seconds":0}}]})",
                     admin);
    auto once = http(srv.port(), "POST", "/api/v1/workflows",
                     R"({"name":"once","active":true,"triggers":[{"type":"cron","schedule":"0 0 1 1 *","missed":"run_once"}],"tasks":[{"id":"a","type":"delay","config":{"seconds":0}}]})",
                     admin);
    std::string skip_id(skip.json().at("id").as_string()), once_id(once.json().at("id").as_string());
    {
        Rig rig(srv);
        rig.tick(kNewYear - 1000);
        CHECK(rig.tick(kNewYear + 100) == 2);  // both fire at 2027-01-01
    }
    // Down for two years: 2028-01-01 and 2029-01-01 were missed.
    long long later = kNewYear + 2LL * 366 * 86400 * 1000 + 3600 * 1000;
    {
        Rig rig(srv);
        CHECK(rig.tick(later) == 1);  // only run_once fires (once)
        CHECK(rig.tick(later + 1000) == 0);
    }
    CHECK(count_runs(srv, skip_id) == 1);
    CHECK(count_runs(srv, once_id) == 2);
}
