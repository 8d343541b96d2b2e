// wait_for_event gets events that workflows emit from their durable record, not only from the
// in-process bus (issue 18, item 15): when the bus drops the event, when the event came before
// the wait listened, and when it was emitted while the waiting instance was down. Each
// "instance" is an Engine with its own bus on one test database; a run's end is awaited on the
// bus's observer (which sees every publish, even the ones dropped for subscribers).
#include <doctest/doctest.h>

#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/db/migrator.hpp"
#include "core/time/time.hpp"
#include "core/util/embedded.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/current_versions.hpp"
#include "modules/workflow/definition.hpp"
#include "modules/workflow/engine.hpp"
#include "modules/workflow/event_store.hpp"
#include "modules/workflow/executors.hpp"
#include "modules/workflow/store.hpp"
#include "tests/modules/workflow/engine_rig.hpp"
#include "tests/support/test_env.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <soci/soci.h>

#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>

using namespace arclight;
using namespace arclight::test;
using namespace arclight::workflow;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

constexpr auto kTimeout = std::chrono::seconds(20);

struct Database {
    TestDatabase tdb;
    std::unique_ptr<Db> db = tdb.open(8);
    Database() { apply_migrations(*db, collect_migrations(embedded_schema()), {"workflow"}); }
    bool sqlite() const { return db->backend() == DbBackend::sqlite; }
    std::string add_workflow(const std::string& definition) { return insert_workflow(*db, definition); }
    std::string task_status(const std::string& run_id, const std::string& task_id) { return task_column("status", run_id, task_id); }
    std::string task_output(const std::string& run_id, const std::string& task_id) { return task_column("output", run_id, task_id); }
    std::string task_column(const std::string& column, const std::string& run_id, const std::string& task_id) {
        std::string v;
        db->with_session([&](soci::session& s) {
            s << "SELECT " + column + " FROM workflow_tasks WHERE run_id = :r AND task_id = :t", soci::into(v), soci::use(run_id),
                soci::use(task_id);
        });
        return v;
    }
};

/// One server's workflow engine: its own bus (`max_pending` deliveries per subscriber before
/// the bus drops) and task types, on the shared database.
struct Instance {
    Database& d;
    asio::thread_pool pool{2};
    EventBus bus;
    lua::ScriptRunner scripts{1};
    net::HttpClient http{pool.get_executor(), net::OutboundPolicy{}};
    TaskTypeRegistry types;
    Store store;
    std::unique_ptr<Versions> versions;
    std::unique_ptr<Engine> engine;
    std::mutex m;
    std::condition_variable cv;
    std::map<std::string, std::string> seen;  // "<run>" -> run status, "<run>/<task>" -> task status

    explicit Instance(Database& db, std::size_t max_pending = 10000)
        : d(db), bus(pool.get_executor(), max_pending), store(db.sqlite()) {
        add_builtin_types(types, scripts, ScriptDefaults{}, http, bus, *d.db);
        versions = std::make_unique<Versions>(*d.db, store, types, std::chrono::milliseconds(0));
        bus.set_observer([this](const Event& ev) {
            auto* run = ev.data.if_contains("run_id");
            auto* status = ev.data.if_contains("status");
            if (!run || !status || !run->is_string() || !status->is_string() || ev.topic.rfind("workflow.", 0) != 0) return;
            std::string key(run->as_string());
            if (auto* task = ev.data.if_contains("task_id"); task && task->is_string()) key += "/" + std::string(task->as_string());
            std::lock_guard lk(m);
            seen[key] = std::string(status->as_string());
            cv.notify_all();
        });
        EngineOptions o;
        o.instance_id = new_uuid();
        o.sqlite_single_instance = false;
        o.poll_ms = 50;
        o.types = &types;
        engine = std::make_unique<Engine>(*d.db, bus, pool.get_executor(), pool.get_executor(), o,
                                          [this](soci::session& s, const std::string& id, int v) { return version(s, id, v); });
        engine->start();
    }
    ~Instance() { stop_engine(engine, pool); }
    std::shared_ptr<const WorkflowVersion> version(soci::session& s, const std::string& id, int v) {
        return versions->load(s, id, v);
    }
    std::string start(const std::string& workflow_id, const std::string& input = "{}") {
        auto wf = d.db->with_session([&](soci::session& s) { return version(s, workflow_id, 1); });
        return start_run(*engine, pool, wf, json::parse(input));
    }
    /// Waits until the run (or "<run>/<task>") was announced with `status`; false at the deadline.
    bool wait_for(const std::string& key, const std::string& status) {
        std::unique_lock lk(m);
        return cv.wait_for(lk, kTimeout, [&] {
            auto it = seen.find(key);
            return it != seen.end() && it->second == status;
        });
    }
    /// Waits for the run's end; its final status ("" at the deadline).
    std::string wait_end(const std::string& run_id) {
        std::unique_lock lk(m);
        std::string st;
        cv.wait_for(lk, kTimeout, [&] {
            auto it = seen.find(run_id);
            if (it == seen.end()) return false;
            st = it->second;
            return st == "succeeded" || st == "failed" || st == "cancelled";
        });
        return st;
    }
};

const char* kWaiter = R"({"name":"waiter","tasks":[
    {"id":"paid","type":"wait_for_event","config":{"topic":"shop.paid","match":{"order":"{{ input.order }}"}}},
    {"id":"done","type":"set","depends_on":["paid"],"config":{"values":"{{ tasks.paid.output.data.amount }}"}}]})";
const char* kPayer = R"({"name":"payer","tasks":[{"id":"e","type":"emit","config":{"topic":"shop.paid","data":"{{ input }}"}}]})";

}  // namespace

TEST_CASE("durable waits: the bus drops the event for the wait and the wait still gets it from the database") {
    Database d;
    auto waiter = d.add_workflow(kWaiter);
    auto payer = d.add_workflow(kPayer);
    Instance one(d, 0);  // no subscriber ever gets an event from this bus
    auto run_id = one.start(waiter, R"({"order":"A-1"})");
    REQUIRE(one.wait_for(run_id + "/paid", "waiting"));
    auto dropped_before = one.bus.stats().dropped;
    auto pay = one.start(payer, R"({"order":"A-1","amount":7})");
    CHECK(one.wait_end(pay) == "succeeded");
    CHECK(one.bus.stats().dropped > dropped_before);  // the wait's subscriber lost it
    CHECK(one.wait_end(run_id) == "succeeded");
    CHECK(d.task_status(run_id, "paid") == "succeeded");
    auto out = json::parse(d.task_output(run_id, "paid"));
    CHECK(out.at("topic") == "shop.paid");
    CHECK(out.at("data").at("amount") == 7);
}

TEST_CASE("durable waits: an event emitted before the wait listens still resumes it") {
    Database d;
    // The run emits its own event, then waits for it: the bus delivered it before the wait subscribed.
    auto wf = d.add_workflow(R"({"name":"self","tasks":[
        {"id":"e","type":"emit","config":{"topic":"orders.created","data":{"order":"{{ input.order }}","n":3}}},
        {"id":"w","type":"wait_for_event","depends_on":["e"],"config":{"topic":"orders.*","match":{"order":"{{ input.order }}"}}},
        {"id":"out","type":"set","depends_on":["w"],"config":{"values":"{{ tasks.w.output.data.n }}"}}]})");
    Instance one(d);
    auto run_id = one.start(wf, R"({"order":"X"})");
    CHECK(one.wait_end(run_id) == "succeeded");
    auto out = json::parse(d.task_output(run_id, "w"));
    CHECK(out.at("data").at("order") == "X");
    CHECK(out.at("data").at("run_id") == json::value(run_id));
}

TEST_CASE("durable waits: an event emitted while the waiting instance was down resumes the wait after its restart") {
    Database d;
    auto waiter = d.add_workflow(kWaiter);
    std::string run_id;
    {
        Instance first(d);
        run_id = first.start(waiter, R"({"order":"B-2"})");
        REQUIRE(first.wait_for(run_id + "/paid", "waiting"));
    }  // stopped: nobody listens to any bus
    CHECK(d.task_status(run_id, "paid") == "waiting");
    {
        // Another instance's emit task, with nobody on its bus.
        asio::thread_pool pool{1};
        EventBus bus(pool.get_executor());
        lua::ScriptRunner scripts{1};
        net::HttpClient http{pool.get_executor(), net::OutboundPolicy{}};
        TaskTypeRegistry types;
        add_builtin_types(types, scripts, ScriptDefaults{}, http, bus, *d.db);
        auto emit = types.all().at("emit");
        json::value config = json::parse(R"({"topic":"shop.paid","data":{"order":"B-2","amount":9}})");
        json::value context = json::object();
        auto call = [&]() -> asio::awaitable<TaskOutcome> {
            TaskCall c{"other-run", "e", 1, config, context, 0, pool.get_executor()};
            auto out = co_await emit->run(c);
            co_return out;
        };
        auto outcome = asio::co_spawn(pool.get_executor(), call, asio::use_future).get();
        CHECK(outcome.ok);
        pool.join();
    }
    CHECK(d.task_status(run_id, "paid") == "waiting");
    Instance restarted(d);
    CHECK(restarted.wait_end(run_id) == "succeeded");
    auto out = json::parse(d.task_output(run_id, "paid"));
    CHECK(out.at("data").at("amount") == 9);
}

TEST_CASE("durable waits: recorded events older than the retention are deleted in batches") {
    Database d;
    auto now = now_ms();
    d.db->with_session([&](soci::session& s) {
        for (int i = 0; i < 5; ++i) {
            StoredEvent ev{new_uuid(), "old.topic", "{}", now - 10 * 86400000LL - i, 0, ""};
            EventStore::record(s, d.sqlite(), ev, "r", "t");
        }
        StoredEvent fresh{new_uuid(), "new.topic", "{}", now, 0, ""};
        EventStore::record(s, d.sqlite(), fresh, "r", "t");
        CHECK(EventStore::purge(s, now - 7 * 86400000LL, 2) == 2);
        CHECK(EventStore::purge(s, now - 7 * 86400000LL, 2) == 2);
        CHECK(EventStore::purge(s, now - 7 * 86400000LL, 2) == 1);
        CHECK(EventStore::purge(s, now - 7 * 86400000LL, 2) == 0);
        auto left = EventStore::since(s, "", 0, std::numeric_limits<std::int64_t>::min(), "", 10);
        REQUIRE(left.size() == 1);
        CHECK(left[0].topic == "new.topic");
        // The feed starts after everything recorded so far and reads what comes next, in order.
        auto from = EventStore::feed_start(s, d.sqlite());
        StoredEvent a{new_uuid(), "feed.a", "{}", now, 0, ""}, b{new_uuid(), "feed.b", "{}", now, 0, ""};
        EventStore::record(s, d.sqlite(), a, "r", "t");
        EventStore::record(s, d.sqlite(), b, "r", "t");
        std::int64_t next = 0;
        bool more = true;
        auto got = EventStore::feed(s, d.sqlite(), from, 10, next, more);
        REQUIRE(got.size() == 2);
        CHECK(got[0].topic == "feed.a");
        CHECK(got[1].topic == "feed.b");
        CHECK_FALSE(more);
        CHECK(EventStore::feed(s, d.sqlite(), next, 10, next, more).empty());
    });
}
