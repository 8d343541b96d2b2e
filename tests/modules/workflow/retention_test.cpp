// Retention (workflow.retention_days): which runs a sweep deletes, with their task rows, and which
// it must keep; driven by a ManualClock on rows written directly, on both databases.
#include "core/db/migrator.hpp"
#include "core/time/time.hpp"
#include "core/util/embedded.hpp"
#include "modules/workflow/outcomes.hpp"
#include "modules/workflow/retention.hpp"
#include "tests/support/client.hpp"
#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <soci/soci.h>

#include <set>
#include <string>

using namespace arclight;
using namespace arclight::workflow;

namespace {

constexpr std::int64_t kDay = 24LL * 3600 * 1000;
constexpr std::int64_t kNow = 1'800'000'000'000;

RetentionReport sweep(Retention& r) {
    boost::asio::io_context io;
    auto fut = boost::asio::co_spawn(io, r.sweep(), boost::asio::use_future);
    io.run();
    return fut.get();
}

struct Rows {
    Db& db;
    std::int64_t seq = 0;
    /// A run row; `finished` 0 = not finished. Final runs get the next outcome position.
    void run(const std::string& id, const std::string& status, std::int64_t created, std::int64_t finished,
             const std::string& parent = "", const std::string& input = "{}") {
        bool final = status == "succeeded" || status == "failed" || status == "cancelled";
        std::int64_t pos = final ? ++seq : 0;
        soci::indicator ind = final ? soci::i_ok : soci::i_null;
        db.with_session([&](soci::session& s) {
            s << "INSERT INTO workflow_runs (id, workflow_id, version, status, trigger_type, trigger_data, input, "
                 "parent_run_id, created_at, finished_at, updated_at, outcome_seq) VALUES (:id, 'wf', 1, :st, 'manual', "
                 "'{}', :in, :p, :c, :f, :u, :seq)",
                soci::use(id), soci::use(status), soci::use(input), soci::use(parent), soci::use(created), soci::use(finished),
                soci::use(created), soci::use(pos, ind);
        });
    }
    void task(const std::string& run_id, const std::string& task_id, const std::string& status = "succeeded") {
        std::int64_t pos = ++seq;
        db.with_session([&](soci::session& s) {
            s << "INSERT INTO workflow_tasks (run_id, task_id, type, status, outcome_seq) VALUES (:r, :t, 'set', :st, :seq)",
                soci::use(run_id), soci::use(task_id), soci::use(status), soci::use(pos);
        });
    }
    std::set<std::string> runs() {
        std::set<std::string> out;
        db.with_session([&](soci::session& s) {
            soci::rowset<std::string> rs = (s.prepare << "SELECT id FROM workflow_runs");
            for (const auto& id : rs) out.insert(id);
        });
        return out;
    }
    long long tasks_of(const std::string& run_id) {
        long long n = 0;
        db.with_session([&](soci::session& s) {
            s << "SELECT COUNT(*) FROM workflow_tasks WHERE run_id = :r", soci::into(n), soci::use(run_id);
        });
        return n;
    }
};

std::unique_ptr<Db> fresh(test::TestDatabase& tdb) {
    auto db = tdb.open();
    apply_migrations(*db, collect_migrations(embedded_schema()), {"workflow"});
    return db;
}

}  // namespace

TEST_CASE("workflow retention: finished runs past the limit go with their tasks; newer, unfinished and still-needed runs stay") {
    test::TestDatabase tdb;
    auto db = fresh(tdb);
    ManualClock clock(kNow);
    Rows rows{*db};
    // Deleted: final and finished more than 30 days ago.
    rows.run("old-ok", "succeeded", kNow - 32 * kDay, kNow - 31 * kDay);
    rows.task("old-ok", "a");
    rows.task("old-ok", "b");
    rows.task("old-ok", "c");
    rows.run("old-failed", "failed", kNow - 41 * kDay, kNow - 40 * kDay);
    rows.task("old-failed", "a", "failed");
    rows.run("old-cancelled", "cancelled", kNow - 90 * kDay, kNow - 90 * kDay);
    // A child whose parent is final (here deleted in the same sweep) is not needed any more.
    rows.run("child-of-done", "succeeded", kNow - 41 * kDay, kNow - 40 * kDay, "old-failed");
    rows.task("child-of-done", "a");
    // Kept: finished within 30 days, although created long before ("older than" is the end).
    rows.run("new-ok", "succeeded", kNow - 29 * kDay, kNow - 29 * kDay);
    rows.task("new-ok", "a");
    rows.run("long-run", "succeeded", kNow - 60 * kDay, kNow - 1 * kDay);
    // Kept: not final, however old.
    rows.run("old-running", "running", kNow - 60 * kDay, 0);
    rows.task("old-running", "a");
    rows.run("old-waiting", "waiting", kNow - 60 * kDay, 0);
    rows.run("old-queued", "queued", kNow - 60 * kDay, 0);
    // Kept: the waiting parent's subworkflow task still reads this child's end.
    rows.run("child-of-waiting", "succeeded", kNow - 50 * kDay, kNow - 40 * kDay, "old-waiting");
    rows.task("child-of-waiting", "a");
    // The latest outcome belongs to a recent run (the SQLite position rule is tested below).
    rows.run("latest", "succeeded", kNow - kDay, kNow - kDay);

    SUBCASE("0 keeps everything") {
        Retention keep(*db, clock, 0, 2);
        clock.advance(3650 * kDay);
        auto rep = sweep(keep);
        CHECK(rep.runs == 0);
        CHECK(rep.tasks == 0);
        CHECK(rows.runs().size() == 11);
    }
    SUBCASE("30 days, in batches of 2") {
        Retention retention(*db, clock, 30, 2);
        auto rep = sweep(retention);
        CHECK(rep.runs == 4);
        CHECK(rep.tasks == 5);
        CHECK(rows.runs() == std::set<std::string>{"new-ok", "long-run", "old-running", "old-waiting", "old-queued",
                                                   "child-of-waiting", "latest"});
        CHECK(rows.tasks_of("old-ok") == 0);
        CHECK(rows.tasks_of("old-failed") == 0);
        CHECK(rows.tasks_of("new-ok") == 1);
        CHECK(rows.tasks_of("old-running") == 1);
        CHECK(rows.tasks_of("child-of-waiting") == 1);
        // A second sweep at the same time finds nothing more.
        auto again = sweep(retention);
        CHECK(again.runs + again.tasks == 0);
        // Two days later new-ok is 31 days old.
        clock.advance(2 * kDay);
        auto later = sweep(retention);
        CHECK(later.runs == 1);
        CHECK(later.tasks == 1);
        CHECK(rows.runs().count("new-ok") == 0);
        // The parent ends: its child is no longer needed.
        db->with_session([](soci::session& s) {
            s << "UPDATE workflow_runs SET status = 'succeeded', finished_at = 1 WHERE id = 'old-waiting'";
        });
        auto parent_done = sweep(retention);
        CHECK(parent_done.runs == 2);
        CHECK(rows.runs().count("child-of-waiting") == 0);
        CHECK(rows.runs().count("old-running") == 1);
    }
}

TEST_CASE("workflow retention: on SQLite the run holding the last outcome position stays, so positions never go back") {
    if (test::use_postgres()) return;  // PostgreSQL positions are transaction ids, not a maximum
    test::TestDatabase tdb;
    auto db = fresh(tdb);
    ManualClock clock(kNow);
    Rows rows{*db};
    rows.run("a", "succeeded", kNow - 100 * kDay, kNow - 100 * kDay);
    rows.task("a", "t");
    rows.run("b", "failed", kNow - 90 * kDay, kNow - 90 * kDay);
    rows.task("b", "t", "failed");  // the largest position of either table
    auto next = [&] {
        std::int64_t n = 0;
        db->with_session([&](soci::session& s) { s << sqlite_next_outcome_seq_query(), soci::into(n); });
        return n;
    };
    auto before = next();
    Retention retention(*db, clock, 30, 500);
    auto rep = sweep(retention);
    CHECK(rep.runs == 1);
    CHECK(rows.runs() == std::set<std::string>{"b"});
    CHECK(rows.tasks_of("b") == 1);
    CHECK(next() == before);
}

TEST_CASE("workflow retention: on SQLite the freed space goes back to the file system") {
    if (test::use_postgres()) return;
    test::TestDatabase tdb;
    auto db = fresh(tdb);
    auto pragma = [&](const char* name) {
        long long v = 0;
        db->with_session([&](soci::session& s) { s << std::string("PRAGMA ") + name, soci::into(v); });
        return v;
    };
    CHECK(pragma("auto_vacuum") == 2);  // a new file is created incremental
    ManualClock clock(kNow);
    Rows rows{*db};
    std::string big = "\"" + std::string(4000, 'x') + "\"";
    for (int i = 0; i < 300; ++i) rows.run("r" + std::to_string(i), "succeeded", kNow - 40 * kDay, kNow - 40 * kDay, "", big);
    rows.run("keep", "succeeded", kNow, kNow);
    auto pages_before = pragma("page_count");
    Retention retention(*db, clock, 30, 100);
    auto rep = sweep(retention);
    CHECK(rep.runs == 300);
    CHECK(rep.pages_freed > 250);
    CHECK(pragma("freelist_count") == 0);
    CHECK(pragma("page_count") < pages_before - 250);
}

TEST_CASE("workflow retention: the setting is validated and shown with the run list") {
    CHECK_THROWS(test::make_config({{"workflow.retention_days", "-1"}}));
    CHECK_THROWS(test::make_config({{"workflow.retention_days", "forever"}}));
    test::TestServer srv(test::Overrides{{"workflow.retention_days", "7"}});
    auto r = test::http(srv.port(), "GET", "/api/v1/runs", {}, srv.admin());
    REQUIRE(r.status == 200);
    CHECK(r.json().at("retention_days").as_int64() == 7);
    test::TestServer keep(test::Overrides{{"workflow.retention_days", "0"}});
    auto k = test::http(keep.port(), "GET", "/api/v1/runs", {}, keep.admin());
    CHECK(k.json().at("retention_days").as_int64() == 0);
}
