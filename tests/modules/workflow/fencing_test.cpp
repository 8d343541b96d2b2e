// Fencing of leases (issue "faults", item 9): an instance that stalls past its lease while
// another claims its runs has its writes refused when it wakes, and drops the runs — no second
// completion, no side effect beyond what recovery re-runs, no events as if it still owned them.
// Two engines on the test server's database, each with its own clock: the stall is the first
// engine's clock standing still while the second's passes the lease.
#include <doctest/doctest.h>

#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/db/row.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/current_versions.hpp"
#include "modules/workflow/definition.hpp"
#include "modules/workflow/engine.hpp"
#include "modules/workflow/executors.hpp"
#include "modules/workflow/store.hpp"
#include "modules/workflow/writer.hpp"
#include "tests/modules/workflow/engine_rig.hpp"
#include "tests/support/test_env.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <soci/soci.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

using namespace arclight;
using namespace arclight::test;
using namespace arclight::workflow;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

// 2100-01-01: the test server's own engine (system clock) never sees these leases lapse.
constexpr std::int64_t kT0 = 4102444800000LL;
constexpr std::int64_t kLease = 10000;

// Every attempt of a `gate` task, by engine.
struct Ledger {
    struct Call {
        std::string engine, task;
        int attempt;
    };
    std::mutex m;
    std::condition_variable cv;
    std::vector<Call> calls;
    void add(Call c) {
        std::lock_guard lk(m);
        calls.push_back(std::move(c));
        cv.notify_all();
    }
    int count(const std::string& engine, const std::string& task) {
        std::lock_guard lk(m);
        int n = 0;
        for (const auto& c : calls)
            if ((engine.empty() || c.engine == engine) && c.task == task) ++n;
        return n;
    }
    bool wait(const std::function<bool()>& pred) {
        std::unique_lock lk(m);
        return cv.wait_for(lk, std::chrono::seconds(20), [&] { return pred(); });
    }
};

// A task type with side effects that records each attempt; while `hold` is set, the first
// attempt of task "a" waits until release().
class Gate final : public TaskType {
public:
    Gate(std::string engine, Ledger& ledger, bool hold) : engine_(std::move(engine)), ledger_(ledger), hold_(hold) {}
    std::string name() const override { return "gate"; }
    std::string description() const override { return "test: records attempts, can hold one"; }
    json::value config_schema() const override { return json::object{{"type", "object"}}; }
    bool side_effects() const override { return true; }
    asio::awaitable<TaskOutcome> run(const TaskCall& call) override {
        std::string task(call.task_id);
        int attempt = call.attempt;
        if (hold_ && task == "a" && attempt == 1) {
            {
                std::lock_guard lk(m_);
                timer_ = std::make_shared<asio::steady_timer>(call.io, std::chrono::hours(1));
            }
            auto t = timer_;
            ledger_.add({engine_, task, attempt});
            boost::system::error_code ec;
            co_await t->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        } else {
            ledger_.add({engine_, task, attempt});
        }
        co_return TaskOutcome::success(json::object{{"by", engine_}, {"attempt", attempt}});
    }
    void release() {
        std::shared_ptr<asio::steady_timer> t;
        {
            std::lock_guard lk(m_);
            t = timer_;
        }
        REQUIRE(t);
        asio::post(t->get_executor(), [t] { t->cancel(); });
    }

private:
    std::string engine_;
    Ledger& ledger_;
    bool hold_;
    std::mutex m_;
    std::shared_ptr<asio::steady_timer> timer_;
};

// One engine instance ("process") on the server's database, with its own clock, bus and types.
struct Instance {
    TestServer& srv;
    std::string id = new_uuid();
    ManualClock clock{kT0};
    asio::thread_pool pool{2};
    EventBus bus{pool.get_executor()};
    TaskTypeRegistry types;
    std::shared_ptr<Gate> gate;
    Store store{srv.app().db().backend() == DbBackend::sqlite};
    Versions versions{srv.app().db(), store, types, std::chrono::milliseconds(0)};
    std::unique_ptr<Engine> engine;
    std::mutex events_m;
    std::vector<std::string> events;  // "topic task_id" of every workflow event published here
    Subscription sub;

    Instance(TestServer& s, const std::string& name, Ledger& ledger, bool hold) : srv(s) {
        gate = std::make_shared<Gate>(name, ledger, hold);
        types.add(gate);
        EngineOptions o;
        o.instance_id = id;
        o.sqlite_single_instance = false;
        o.lease_ms = kLease;
        o.poll_ms = 20;
        o.clock = &clock;
        engine = std::make_unique<Engine>(srv.app().db(), bus, pool.get_executor(), pool.get_executor(), o,
                                          [this](soci::session& ss, const std::string& wf, int v) { return load(ss, wf, v); });
        sub = bus.subscribe("workflow.**", [this](const EventPtr& e) {
            std::lock_guard lk(events_m);
            auto* t = e->data.if_contains("task_id");
            events.push_back(e->topic + " " + (t && t->is_string() ? std::string(t->as_string()) : std::string()));
        });
        engine->start();
    }
    ~Instance() { stop(); }
    void stop() { stop_engine(engine, pool); }  // what was posted has run (every event delivered)
    std::shared_ptr<const WorkflowVersion> load(soci::session& s, const std::string& wf, int v) { return versions.load(s, wf, v); }
    std::string start(const std::string& wf) {
        return start_run(*engine, pool, srv.app().db().with_session([&](soci::session& s) { return load(s, wf, 1); }));
    }
    std::vector<std::string> published() {
        std::lock_guard lk(events_m);
        return events;
    }
};

// A running run of instance "A" at generation 0, as the writer's first write of it.
RunRow owned_run(const std::string& id) {
    RunRow run;
    run.id = id;
    run.workflow_id = "w";
    run.version = 1;
    run.status = "running";
    run.trigger_type = "manual";
    run.owner = "A";
    run.created_at = run.updated_at = now_ms();
    return run;
}

// The writer's answers, in the order its callbacks ran (on its thread).
struct Answers {
    std::mutex m;
    std::condition_variable cv;
    std::vector<WriteResult> list;
    Writer::Done done() {
        return [this](const WriteResult& res) {
            std::lock_guard lk(m);
            list.push_back(res);
            cv.notify_all();
        };
    }
    void wait(std::size_t n) {
        std::unique_lock lk(m);
        REQUIRE(cv.wait_for(lk, std::chrono::seconds(10), [&] { return list.size() == n; }));
    }
    // An answer that then keeps the writer's thread (and so its next batch) waiting until
    // release(): what the test queues meanwhile goes into one batch.
    bool holding = true;
    Writer::Done done_then_hold() {
        return [this](const WriteResult& res) {
            std::unique_lock lk(m);
            list.push_back(res);
            cv.notify_all();
            cv.wait(lk, [&] { return !holding; });
        };
    }
    void release() {
        {
            std::lock_guard lk(m);
            holding = false;
        }
        cv.notify_all();
    }
};

TaskRow succeeded_task(const std::string& run_id, const std::string& task_id) {
    TaskRow task;
    task.run_id = run_id;
    task.task_id = task_id;
    task.type = "set";
    task.status = "succeeded";
    task.attempts = 1;
    task.output = "1";
    return task;
}

// Another instance claims the run: its generation goes up by one.
void claim_elsewhere(Db& db, const std::string& run_id) {
    db.with_session([&](soci::session& s) {
        s << "UPDATE workflow_runs SET owner = 'B', lease_gen = lease_gen + 1 WHERE id = :id", soci::use(run_id);
    });
}

std::string insert_workflow(TestServer& srv, const std::string& definition) {
    return arclight::test::insert_workflow(srv.app().db(), definition, "fence");
}

struct TaskView {
    std::string status, output, instance;
    long long attempts = 0;
};

TaskView task_view(Db& db, const std::string& run, const std::string& task) {
    TaskView v;
    db.with_session([&](soci::session& s) {
        soci::rowset<soci::row> rows =
            (s.prepare << "SELECT status, output, instance, attempts FROM workflow_tasks WHERE run_id = :r AND task_id = :t",
             soci::use(run), soci::use(task));
        for (const auto& r : rows) v = {r.get<std::string>(0), r.get<std::string>(1), r.get<std::string>(2), row_int(r, 3)};
    });
    return v;
}

std::string run_status(Db& db, const std::string& run) {
    std::string st;
    db.with_session([&](soci::session& s) { s << "SELECT status FROM workflow_runs WHERE id = :id", soci::use(run), soci::into(st); });
    return st;
}

// Polls a condition of an engine that has no event of its own (a dropped run), up to 20 s.
bool eventually(const std::function<bool()>& pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

}  // namespace

TEST_CASE("workflow fencing: an instance that stalled past its lease has its writes refused and drops the run") {
    TestServer srv;
    auto& db = srv.app().db();
    Ledger ledger;
    auto wf = insert_workflow(srv, R"({"name":"fence","tasks":[
        {"id":"a","type":"gate","config":{}},
        {"id":"b","type":"gate","depends_on":["a"],"config":{}}]})");
    Instance a(srv, "A", ledger, true);
    Instance b(srv, "B", ledger, false);

    // A starts the run; its side-effect task `a` is in flight (attempt 1 recorded) when A stalls.
    std::string run = a.start(wf);
    REQUIRE(ledger.wait([&] { return ledger.calls.size() == 1; }));
    CHECK(task_view(db, run, "a").status == "running");

    // A stands still (its clock, hence its lease renewals) while B's time passes A's lease: B
    // claims the run, runs `a` again (attempt 2: recovery's at-least-once) and then `b`.
    b.clock.advance(2 * kLease);
    REQUIRE(eventually([&] { return run_status(db, run) == "succeeded"; }));
    CHECK(b.engine->stats().runs_claimed == 1);

    // A wakes up: its attempt of `a` ends. Its write is refused and it drops the run.
    auto events_before = a.published();
    a.gate->release();
    // (Both counters are read on this thread while A's driver updates them: wait for both.)
    CHECK(eventually([&] {
        auto st = a.engine->stats();
        return st.runs_lost == 1 && st.active_runs == 0;
    }));
    CHECK(a.engine->stats().fenced >= 1);
    a.stop();
    b.stop();

    // The run finished once, by B; each completion is B's, recorded once.
    CHECK(run_status(db, run) == "succeeded");
    auto ta = task_view(db, run, "a");
    auto tb = task_view(db, run, "b");
    CHECK(ta.status == "succeeded");
    CHECK(ta.instance == b.id);
    CHECK(ta.attempts == 2);
    CHECK(json::parse(ta.output) == json::parse(R"({"by":"B","attempt":2})"));
    CHECK(tb.status == "succeeded");
    CHECK(tb.instance == b.id);
    CHECK(tb.attempts == 1);
    // Side effects: `a` once per attempt (A's stalled one, B's re-run), `b` exactly once, by B.
    CHECK(ledger.count("A", "a") == 1);
    CHECK(ledger.count("B", "a") == 1);
    CHECK(ledger.count("", "b") == 1);
    CHECK(ledger.count("B", "b") == 1);
    // A published nothing for the run after it woke (no task or run event as if it owned it).
    CHECK(a.published() == events_before);
    int outcomes = 0;
    db.with_session([&](soci::session& s) {
        s << "SELECT COUNT(*) FROM workflow_tasks WHERE run_id = :r AND outcome_seq IS NOT NULL", soci::use(run),
            soci::into(outcomes);
    });
    CHECK(outcomes == 2);
}

TEST_CASE("workflow leases: an instance renews the leases of the runs it holds, and only those") {
    TestServer srv;
    auto& db = srv.app().db();
    Ledger ledger;
    auto wf = insert_workflow(srv, R"({"name":"renew","tasks":[{"id":"a","type":"gate","config":{}}]})");
    Instance a(srv, "A", ledger, true);
    Instance b(srv, "B", ledger, false);
    auto lease_of = [&](const std::string& id) {
        std::int64_t until = 0;
        std::string owner;
        db.with_session([&](soci::session& s) {
            s << "SELECT lease_until, owner FROM workflow_runs WHERE id = :id", soci::into(until), soci::into(owner),
                soci::use(id);
        });
        return std::make_pair(owner, until);
    };

    // A holds `held` (its task in flight). `orphan` is A's in the database only: A does not hold
    // it (as after a crash of an earlier A with the same id), so its lease must run out.
    std::string held = a.start(wf);
    REQUIRE(ledger.wait([&] { return ledger.calls.size() == 1; }));
    std::string orphan = new_uuid();
    db.with_session([&](soci::session& s) {
        s << "INSERT INTO workflow_runs (id, workflow_id, version, status, trigger_type, trigger_data, input, owner, "
             "lease_until, created_at, updated_at) VALUES (:id, :wf, 1, 'running', 'manual', '{}', '{}', :owner, :lease, :c, :u)",
            soci::use(orphan), soci::use(wf), soci::use(a.id), soci::use(kT0 + kLease), soci::use(kT0), soci::use(kT0);
    });

    // Half a lease later A renews: `held` runs to a full lease from A's now, `orphan` keeps its own.
    a.clock.advance(kLease / 2);
    REQUIRE(eventually([&] { return lease_of(held).second == kT0 + kLease / 2 + kLease; }));
    CHECK(lease_of(held).first == a.id);
    CHECK(lease_of(orphan) == std::make_pair(a.id, kT0 + kLease));

    // Past the orphan's lease but within the renewed one, B claims the orphan and runs it; in
    // the same claim it passed `held` over, which stays A's.
    b.clock.advance(kLease + kLease / 4);
    REQUIRE(eventually([&] { return run_status(db, orphan) == "succeeded"; }));
    CHECK(b.engine->stats().runs_claimed == 1);
    CHECK(lease_of(held).first == a.id);
    CHECK(run_status(db, held) == "running");
    a.gate->release();
    REQUIRE(eventually([&] { return run_status(db, held) == "succeeded"; }));
    a.stop();
    b.stop();
}

TEST_CASE("workflow writer: run and task writes with a stale lease generation are refused as fenced") {
    TestServer srv;
    auto& db = srv.app().db();
    Writer writer(db, 64);
    writer.start();
    Answers got;
    auto done = got.done();
    auto& answers = got.list;
    auto wait_answers = [&](std::size_t n) { got.wait(n); };
    RunRow run = owned_run(new_uuid());
    writer.insert_run(run, done);
    wait_answers(1);
    CHECK(answers[0].applied);
    // Another instance claims the run: generation 1.
    db.with_session([&](soci::session& s) {
        s << "UPDATE workflow_runs SET owner = 'B', lease_gen = lease_gen + 1 WHERE id = :id", soci::use(run.id);
    });
    TaskRow task;
    task.run_id = run.id;
    task.task_id = "t";
    task.type = "gate";
    task.status = "succeeded";
    task.attempts = 1;
    task.output = "\"A\"";
    writer.put_task(task, done);   // A's, generation 0
    RunRow finished = run;
    finished.status = "succeeded";
    writer.put_run(finished, done);  // A's, generation 0
    wait_answers(3);
    for (std::size_t i = 1; i < 3; ++i) {
        CAPTURE(i);
        CHECK(!answers[i].applied);
        CHECK(answers[i].fenced);
        CHECK(answers[i].error.empty());
    }
    // B's writes (generation 1) apply.
    task.lease_gen = 1;
    task.output = "\"B\"";
    writer.put_task(task, done);
    finished.lease_gen = 1;
    finished.owner = "";
    writer.put_run(finished, done);
    wait_answers(5);
    for (std::size_t i = 3; i < 5; ++i) {
        CAPTURE(i);
        CHECK(answers[i].applied);
        CHECK(!answers[i].fenced);
    }
    // A final row stays as it is, for either generation, and that is not fencing.
    task.output = "\"B again\"";
    writer.put_task(task, done);
    wait_answers(6);
    CHECK(!answers[5].applied);
    CHECK(!answers[5].fenced);
    writer.stop();
    CHECK(writer.stats().fenced == 2);
    std::string status, owner, output;
    db.with_session([&](soci::session& s) {
        s << "SELECT status, owner FROM workflow_runs WHERE id = :id", soci::use(run.id), soci::into(status), soci::into(owner);
        s << "SELECT output FROM workflow_tasks WHERE run_id = :id", soci::use(run.id), soci::into(output);
    });
    CHECK(status == "succeeded");
    CHECK(owner.empty());
    CHECK(output == "\"B\"");
}

// A writer on the test server's database, not started, and the answers it gives.
struct WriterRig {
    TestServer srv;
    Db& db = srv.app().db();
    Writer writer{db, 64};
    Answers got;
};

// The writer checks a run's generation once per batch (PostgreSQL: one fence statement per run;
// SQLite: a remembered generation, valid while no other connection committed). A claim between
// two batches of the same writer session must still fence the next batch's rows of that run,
// and only those.
TEST_CASE("workflow writer: a claim between two batches fences the next batch's rows of that run only") {
    WriterRig rig;
    auto& db = rig.db;
    auto& writer = rig.writer;
    auto& got = rig.got;
    auto done = got.done();
    auto& answers = got.list;
    auto wait_answers = [&](std::size_t n) { got.wait(n); };
    auto task_row = succeeded_task;
    std::string r1 = new_uuid(), r2 = new_uuid();
    // Batch 1, queued before the writer starts: two new runs and a task row of each.
    writer.insert_run(owned_run(r1), done);
    writer.insert_run(owned_run(r2), done);
    writer.put_task(task_row(r1, "a"), done);
    writer.put_task(task_row(r2, "a"), got.done_then_hold());  // then waits (same session, next batch)
    writer.start();
    wait_answers(4);
    for (std::size_t i = 0; i < 4; ++i) {
        CAPTURE(i);
        CHECK(answers[i].applied);
        CHECK(!answers[i].fenced);
    }
    // Another instance claims r1 while the writer waits between batches.
    claim_elsewhere(db, r1);
    // Batch 2: A's rows of both runs, generation 0: two of each run (PostgreSQL: one fence per
    // run for them, which trips for r1) and one more of r1 alone in batch 3 (the row's own fence).
    writer.put_task(task_row(r1, "b"), done);
    writer.put_task(task_row(r1, "b2"), done);
    writer.put_task(task_row(r2, "b"), done);
    writer.put_task(task_row(r2, "b2"), done);
    RunRow r2_done = owned_run(r2);
    r2_done.status = "succeeded";
    writer.put_run(r2_done, done);
    got.release();
    wait_answers(9);
    for (std::size_t i = 4; i < 9; ++i) {
        bool stale = i < 6;  // r1's
        CAPTURE(i);
        CHECK(answers[i].applied == !stale);
        CHECK(answers[i].fenced == stale);
        CHECK(answers[i].error.empty());
    }
    // Batch 3: the claim's new generation applies; the stale one is still refused.
    TaskRow c_new = task_row(r1, "c");
    c_new.lease_gen = 1;
    writer.put_task(c_new, done);
    writer.put_task(task_row(r1, "d"), done);
    wait_answers(11);
    CHECK(answers[9].applied);
    CHECK(answers[10].fenced);
    writer.stop();
    CHECK(writer.stats().fenced == 3);
    int r1_rows = 0, r2_rows = 0;
    std::string r2_status;
    db.with_session([&](soci::session& s) {
        s << "SELECT COUNT(*) FROM workflow_tasks WHERE run_id = :id", soci::use(r1), soci::into(r1_rows);
        s << "SELECT COUNT(*) FROM workflow_tasks WHERE run_id = :id", soci::use(r2), soci::into(r2_rows);
        s << "SELECT status FROM workflow_runs WHERE id = :id", soci::use(r2), soci::into(r2_status);
    });
    CHECK(r1_rows == 2);  // a (before the claim) and c (the new owner's)
    CHECK(r2_rows == 3);
    CHECK(r2_status == "succeeded");
}

// PostgreSQL: when a batch writes a run's row as well as its task rows, the run's write is their
// fence (a stale generation trips it, and the batch is written again row by row). A stale
// generation is refused for the run and its task rows alike, also when the claiming instance has
// finished the run since; a run that is already final keeps its state while the writer's task rows
// of it (its generation) still apply, as they would row by row.
TEST_CASE("workflow writer: a batch writing a run's row and its task rows is fenced by the run's write") {
    WriterRig rig;
    auto& db = rig.db;
    auto& writer = rig.writer;
    auto& got = rig.got;
    auto done = got.done();
    auto& answers = got.list;
    std::string r1 = new_uuid(), r2 = new_uuid(), r3 = new_uuid(), r4 = new_uuid();
    writer.insert_run(owned_run(r1), done);
    writer.insert_run(owned_run(r2), done);
    writer.insert_run(owned_run(r3), done);
    writer.insert_run(owned_run(r4), got.done_then_hold());
    writer.start();
    got.wait(4);
    claim_elsewhere(db, r1);
    claim_elsewhere(db, r4);
    db.with_session([&](soci::session& s) {
        s << "UPDATE workflow_runs SET status = 'cancelled' WHERE id = :id", soci::use(r3);
        s << "UPDATE workflow_runs SET status = 'succeeded' WHERE id = :id", soci::use(r4);  // by its new owner
    });
    // One batch: r1 (stale) a task row and its run; r2 two task rows and its run; r3 (cancelled
    // meanwhile) a task row and its run; r4 (stale, finished by its new owner) the same.
    auto finished = [](const std::string& id) {
        RunRow run = owned_run(id);
        run.status = "succeeded";
        return run;
    };
    writer.put_task(succeeded_task(r1, "a"), done);
    writer.put_run(finished(r1), done);
    writer.put_task(succeeded_task(r2, "a"), done);
    writer.put_task(succeeded_task(r2, "b"), done);
    writer.put_run(finished(r2), done);
    writer.put_task(succeeded_task(r3, "a"), done);
    writer.put_run(finished(r3), done);
    writer.put_task(succeeded_task(r4, "a"), done);
    writer.put_run(finished(r4), done);
    got.release();
    got.wait(13);
    for (std::size_t i = 4; i < 13; ++i) {
        CAPTURE(i);
        CHECK(answers[i].error.empty());
        CHECK(answers[i].fenced == (i < 6 || i >= 11));            // r1's and r4's
        CHECK(answers[i].applied == (i >= 6 && i != 10 && i < 11));  // r2's and r3's task row
    }
    writer.stop();
    CHECK(writer.stats().fenced == 4);
    CHECK(writer.stats().ignored == 1);
    std::map<std::string, std::pair<std::string, int>> stored;  // run -> (status, task rows)
    db.with_session([&](soci::session& s) {
        for (const auto& id : {r1, r2, r3, r4}) {
            auto& [status, rows] = stored[id];
            s << "SELECT status FROM workflow_runs WHERE id = :id", soci::use(id), soci::into(status);
            s << "SELECT COUNT(*) FROM workflow_tasks WHERE run_id = :id", soci::use(id), soci::into(rows);
        }
    });
    CHECK(stored[r1] == std::make_pair(std::string("running"), 0));
    CHECK(stored[r2] == std::make_pair(std::string("succeeded"), 2));
    CHECK(stored[r3] == std::make_pair(std::string("cancelled"), 1));
    CHECK(stored[r4] == std::make_pair(std::string("succeeded"), 0));
}
