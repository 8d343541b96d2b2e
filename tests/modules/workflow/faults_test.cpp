// The workflow module when its database or its stored data misbehave (issue "faults"): one pooled
// session, runs whose workflow version cannot be loaded.
#include <doctest/doctest.h>

#include "core/db/db.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/store.hpp"
#include "modules/workflow/writer.hpp"
#include "tests/modules/workflow/rig.hpp"
#include "tests/support/fake_http.hpp"

#include <soci/soci.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

using namespace arclight;
using namespace arclight::test;

namespace {
// A run row as a writer's first change of a manual run.
workflow::RunRow running_run() {
    workflow::RunRow run;
    run.id = new_uuid();
    run.workflow_id = "w";
    run.version = 1;
    run.status = "running";
    run.trigger_type = "manual";
    run.created_at = run.updated_at = now_ms();
    return run;
}
}  // namespace

TEST_CASE("workflow: a pool of one database session runs subworkflows and resumes released runs") {
    // Loading a workflow version used to take a second pooled session inside the first: with one
    // session (or enough concurrent misses) every database call waited for another.
    TestServer srv(std::map<std::string, std::string>{{"database.pool_size", "1"}, {"workflow.poll_ms", "100"}});
    Api api{srv};
    auto child = api.create(R"({"name":"child","tasks":[{"id":"a","type":"set","config":{"values":"{{ input.n }}"}}]})");
    auto parent = api.create(R"({"name":"parent","tasks":[
        {"id":"sub","type":"subworkflow","config":{"workflow_id":")" + child + R"(","input":{"n":3}}},
        {"id":"d","type":"delay","depends_on":["sub"],"config":{"seconds":0.2}},
        {"id":"out","type":"set","depends_on":["d"],"config":{"values":"{{ tasks.sub.output.output }}"}}]})");
    std::vector<std::string> runs;
    for (int i = 0; i < 4; ++i) runs.push_back(api.start(parent));
    for (const auto& id : runs) {
        auto r = api.wait(id, 20000);
        INFO(boost::json::serialize(r));
        CHECK(str(r.at("status")) == "succeeded");
        CHECK(r.at("output") == boost::json::value(3));
    }
}

TEST_CASE("workflow: a queued run whose workflow version no longer loads fails once, saying why") {
    TestServer srv(std::map<std::string, std::string>{{"workflow.poll_ms", "100"}});
    Api api{srv};
    auto& db = srv.app().db();
    bool sqlite = db.backend() == DbBackend::sqlite;
    // A version whose task type does not exist (as after a module that provided it was removed).
    workflow::Store store(sqlite);
    workflow::WorkflowRecord w;
    w.id = new_uuid();
    w.name = "orphan";
    w.version = 1;
    w.active = false;
    w.definition = R"({"name":"orphan","tasks":[{"id":"a","type":"gone_type","config":{}}]})";
    w.created_at = w.updated_at = now_ms();
    db.with_session([&](soci::session& s) { store.insert_workflow(s, w); });
    std::string run_id = new_uuid();
    std::int64_t now = now_ms();
    db.with_session([&](soci::session& s) {
        s << "INSERT INTO workflow_runs (id, workflow_id, version, status, trigger_type, trigger_data, input, created_at, "
             "updated_at) VALUES (:id, :wf, 1, 'queued', 'manual', '{}', '{}', :c, :u)",
            soci::use(run_id), soci::use(w.id), soci::use(now), soci::use(now);
    });
    auto r = api.wait(run_id, 10000);
    CHECK(str(r.at("status")) == "failed");
    CHECK(str(r.at("error")).find("version 1 is missing or no longer valid") != std::string::npos);
    // Failed for good: not claimed again.
    int owned = 1;
    db.with_session([&](soci::session& s) {
        s << "SELECT COUNT(*) FROM workflow_runs WHERE id = :id AND owner <> ''", soci::use(run_id), soci::into(owned);
    });
    CHECK(owned == 0);
}

TEST_CASE("workflow: bytes that are not UTF-8 at a webhook are refused naming the field; persistence carries on") {
    TestServer srv;
    Api api{srv};
    // X-Bad is one of the headers this trigger keeps in its runs' trigger data (others are not kept).
    api.create(R"({"name":"bad","active":true,"triggers":[{"type":"webhook","method":"GET","path":"bad","headers":["X-Bad"]}],
        "tasks":[{"id":"a","type":"set","config":{"values":"{{ input }}"}}]})");
    api.create(R"({"name":"good","active":true,"triggers":[{"type":"webhook","method":"POST","path":"good"}],
        "tasks":[{"id":"a","type":"set","config":{"values":"{{ input }}"}}]})");
    // Wait until both webhooks are live.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (http(srv.port(), "POST", "/hooks/good", "{}", {{"Content-Type", "application/json"}}).status != 202 &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto raw = [&](const std::string& head) {
        RawConnection c(srv.port());
        c.send(head);
        return c.read_all(std::chrono::seconds(10));
    };
    auto header = raw("GET /hooks/bad HTTP/1.1\r\nHost: x\r\nX-Bad: \xff\xfe\xc3\x28\r\nConnection: close\r\n\r\n");
    CHECK(header.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(header.find("/trigger/headers/x-bad") != std::string::npos);
    auto query = raw("GET /hooks/bad?q=%FF%FE HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(query.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(query.find("/trigger/query/q") != std::string::npos);
    auto body = http(srv.port(), "POST", "/hooks/good", std::string("caf\xe9"), {{"Content-Type", "text/plain"}});
    CHECK(body.status == 400);
    CHECK(body.body.find("/trigger/body") != std::string::npos);
    // Every ordinary call after them is answered and its run recorded.
    std::vector<std::string> runs;
    for (int i = 0; i < 40; ++i) {
        auto r = http(srv.port(), "POST", "/hooks/good", R"({"i":)" + std::to_string(i) + "}", {{"Content-Type", "application/json"}});
        REQUIRE(r.status == 202);
        runs.push_back(str(r.json().at("id")));
    }
    for (const auto& id : runs) CHECK(str(api.wait(id).at("status")) == "succeeded");
}

TEST_CASE("workflow: an http task's binary or Latin-1 answer is kept as base64; a script's binary string fails its task") {
    FakeHttpServer far([](const FakeRequest& req) {
        if (req.target == "/latin1") return FakeResponse{200, "caf\xe9", "text/plain; charset=\xe9", 0};
        return FakeResponse{200, std::string("\x89PNG\r\n\x1a\n\0\xff", 10), "image/png", 0};
    });
    TestServer srv(std::map<std::string, std::string>{{"workflow.http_allow", "127.0.0.1"}});
    Api api{srv};
    auto wf = api.create(R"({"name":"fetch","tasks":[
        {"id":"png","type":"http","config":{"url":")" + far.url("/png") + R"("}},
        {"id":"latin","type":"http","config":{"url":")" + far.url("/latin1") + R"("}}]})");
    auto run = api.wait(api.start(wf));
    INFO(boost::json::serialize(run));
    REQUIRE(str(run.at("status")) == "succeeded");
    const auto& png = task(run, "png").at("output").as_object();
    CHECK(str(png.at("body_encoding")) == "base64");
    CHECK(str(png.at("body")) == "iVBORw0KGgoA/w==");
    const auto& latin = task(run, "latin").at("output").as_object();
    CHECK(str(latin.at("body")) == "Y2Fm6Q==");
    CHECK(str(latin.at("headers").at("content-type")) == "text/plain; charset=\xc3\xa9");

    auto script = api.create(R"({"name":"bytes","tasks":[{"id":"s","type":"script","config":{"code":"return {b = string.char(255, 254)}"}}]})");
    auto failed = api.wait(api.start(script));
    CHECK(str(failed.at("status")) == "failed");
    CHECK(str(task(failed, "s").at("error")).find("not valid UTF-8") != std::string::npos);
    // The next run is not held up by it.
    auto ok = api.create(R"({"name":"ok","tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
    CHECK(str(api.wait(api.start(ok)).at("status")) == "succeeded");
}

TEST_CASE("workflow writer: a change PostgreSQL refuses is stored as failed, never retried, and blocks nothing") {
    if (!use_postgres()) return;
    TestServer srv;
    auto& db = srv.app().db();
    workflow::Writer writer(db, 64);
    writer.start();
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::string> answers;
    auto done = [&](const workflow::WriteResult& res) {
        std::lock_guard lk(m);
        answers.push_back(res.error);
        cv.notify_all();
    };
    workflow::RunRow run = running_run();
    std::string run_id = run.id;
    writer.insert_run(run, done);
    workflow::TaskRow bad;
    bad.run_id = run_id;
    bad.task_id = "bad";
    bad.type = "script";
    bad.status = "succeeded";
    bad.attempts = 1;
    bad.output = std::string("\"\xff\xfe\"");  // not UTF-8: PostgreSQL refuses the text
    writer.put_task(bad, done);
    workflow::TaskRow good = bad;
    good.task_id = "good";
    good.output = "1";
    writer.put_task(good, done);
    {
        std::unique_lock lk(m);
        REQUIRE(cv.wait_for(lk, std::chrono::seconds(10), [&] { return answers.size() == 3; }));
    }
    CHECK(answers[0].empty());
    CHECK(!answers[1].empty());
    CHECK(answers[2].empty());
    writer.stop();
    std::string status, error, output;
    db.with_session([&](soci::session& s) {
        s << "SELECT status, error, output FROM workflow_tasks WHERE run_id = :r AND task_id = 'bad'", soci::use(run_id),
            soci::into(status), soci::into(error), soci::into(output);
    });
    CHECK(status == "failed");
    CHECK(error.find("could not be stored") != std::string::npos);
    CHECK(output == "null");
}

TEST_CASE("workflow: input that could only fail later is refused when saved, with a pointer") {
    TestServer srv;
    Api api{srv};
    auto refused = [&](const std::string& body, const std::string& pointer, int status) {
        auto r = api.call("POST", "/api/v1/workflows", body);
        INFO(body << " -> " << r.body);
        CHECK(r.status == status);
        CHECK(r.body.find("\"pointer\":\"" + pointer + "\"") != std::string::npos);
    };
    // Not JSON as Arclight keeps it: a number beyond a double, a key given twice.
    refused(R"({"name":"n","tasks":[{"id":"a","type":"set","config":{"values":1e999999}}]})", "/tasks/0/config/values", 400);
    refused(R"({"name":"n","name":"m","tasks":[]})", "/name", 400);
    refused(R"({"name":"n","tasks":[{"id":"a","type":"set","config":{"values":{"x":1,"x":2}}}]})", "/tasks/0/config/values/x", 400);
    // Literals that can never work.
    for (std::string seconds : {"-1", "1e308", "9223372036854775808", "\"abc\"", "\"\""}) {
        refused(R"({"name":"d","tasks":[{"id":"w","type":"delay","config":{"seconds":)" + seconds + "}}]}", "/tasks/0/config/seconds", 422);
    }
    refused(R"({"name":"r","tasks":[{"id":"r","type":"respond","config":{"status":"x"}}]})", "/tasks/0/config/status", 422);
    refused(R"({"name":"r","tasks":[{"id":"r","type":"respond","config":{"status":700}}]})", "/tasks/0/config/status", 422);
    // What can work still saves: expressions are left for run time.
    CHECK(api.call("POST", "/api/v1/workflows", R"({"name":"ok","tasks":[{"id":"w","type":"delay","config":{"seconds":"{{ input.s }}"}},
        {"id":"w2","type":"delay","config":{"seconds":"0.5"}},{"id":"r","type":"respond","config":{"status":"{{ 201 }}"}}]})").status == 201);
    // Every definition saved is readable and runnable afterwards.
    auto list = api.call("GET", "/api/v1/workflows");
    CHECK(list.status == 200);
}

TEST_CASE("workflow: while the database holds writes back, starts answer 503 with Retry-After in bounded time") {
    TestServer srv(std::map<std::string, std::string>{{"workflow.start_timeout_ms", "300"}});
    Api api{srv};
    auto wf = api.create(R"({"name":"held","tasks":[{"id":"a","type":"set","config":{"values":1}}]})");
    auto& db = srv.app().db();
    bool sqlite = db.backend() == DbBackend::sqlite;
    auto blocker = db.open_dedicated();
    // Another connection holds the tables' write lock: the state writer's commit waits.
    if (sqlite) {
        *blocker << "BEGIN IMMEDIATE";
    } else {
        *blocker << "BEGIN";
        *blocker << "LOCK TABLE workflow_runs IN EXCLUSIVE MODE";
    }
    std::vector<std::thread> callers;
    std::vector<int> status(8, 0);
    std::vector<std::string> retry_after(8);
    std::vector<std::int64_t> took_ms(8, 0);
    for (int i = 0; i < 8; ++i)
        callers.emplace_back([&, i] {
            auto t0 = std::chrono::steady_clock::now();
            auto r = api.call("POST", "/api/v1/workflows/" + wf + "/runs", R"({"input":{}})");
            took_ms[i] = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
            status[i] = r.status;
            retry_after[i] = r.header("retry-after");
        });
    for (auto& t : callers) t.join();
    *blocker << "ROLLBACK";
    for (int i = 0; i < 8; ++i) {
        CAPTURE(i);
        CHECK(status[i] == 503);
        CHECK(retry_after[i] == "2");
        CHECK(took_ms[i] < 5000);  // the start timeout (300 ms) bounds it, not the database
    }
    // Once the database takes writes again, starting works at once.
    CHECK(str(api.wait(api.start(wf)).at("status")) == "succeeded");
    // The starts that timed out were kept, as their answer said they might be: recorded late, they
    // run to their end (none is left holding its lease without being driven).
    int succeeded = 0;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < end) {
        auto list = api.call("GET", "/api/v1/runs?workflow_id=" + wf + "&limit=100");
        REQUIRE(list.status == 200);
        succeeded = 0;
        auto page = list.json();
        for (const auto& it : page.at("items").as_array())
            if (str(it.at("status")) == "succeeded") ++succeeded;
        if (succeeded == 9) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(succeeded == 9);
}

TEST_CASE("workflow writer: on SQLite the write-ahead log starts over under a steady stream of commits") {
    // A checkpoint on another connection never reaches the end of a log that the writer keeps
    // extending, and SQLite starts a log over only once all of it is checkpointed: the log grew
    // by every page ever written (1 GB a minute under webhooks). The writer now finishes the
    // checkpoint between its batches (Writer::Session::after_batch).
    if (use_postgres()) return;
    TestServer srv;
    auto& db = srv.app().db();
    std::string file;
    db.with_session([&](soci::session& s) { s << "SELECT file FROM pragma_database_list WHERE name = 'main'", soci::into(file); });
    REQUIRE(!file.empty());
    workflow::Writer writer(db, 64);
    writer.start();
    std::mutex m;
    std::condition_variable cv;
    std::size_t answered = 0, failed = 0;
    auto done = [&](const workflow::WriteResult& res) {
        std::lock_guard lk(m);
        ++answered;
        if (!res.error.empty()) ++failed;
        cv.notify_all();
    };
    // Checkpoints from another connection all along, as the engine's claim loop makes them.
    std::atomic<bool> stop{false};
    std::thread checkpointer([&] {
        auto own = db.open_dedicated();
        while (!stop) {
            *own << "PRAGMA wal_checkpoint(PASSIVE)";
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    });
    workflow::RunRow run = running_run();
    writer.insert_run(run, done);
    // About 40 MiB of pages, all queued at once: the writer never waits for work.
    constexpr std::size_t kRows = 5000;
    const std::string output = "\"" + std::string(8000, 'x') + "\"";
    for (std::size_t i = 0; i < kRows; ++i) {
        workflow::TaskRow t;
        t.run_id = run.id;
        t.task_id = "t" + std::to_string(i);
        t.type = "script";
        t.status = "succeeded";
        t.attempts = 1;
        t.output = output;
        writer.put_task(t, done);
    }
    {
        std::unique_lock lk(m);
        REQUIRE(cv.wait_for(lk, std::chrono::seconds(60), [&] { return answered == kRows + 1; }));
    }
    stop = true;
    checkpointer.join();
    writer.stop();
    CHECK(failed == 0);
    auto wal = std::filesystem::file_size(file + "-wal");
    INFO("WAL bytes: " << wal);
    CHECK(wal < 16u * 1024 * 1024);
}

TEST_CASE("workflow writer: a batch's task rows are stored exactly and told applied or not, with quotes, backslashes and braces") {
    // On PostgreSQL a batch's plain task rows go as one statement of arrays (kUpsertTasksPg):
    // every text is quoted into an array literal. Changes queued before the writer starts make
    // its first batch, so the rows go together.
    TestServer srv;
    auto& db = srv.app().db();
    struct Answers {
        std::mutex m;
        std::condition_variable cv;
        std::vector<workflow::WriteResult> got;
        workflow::Writer::Done done() {
            return [this](const workflow::WriteResult& r) {
                std::lock_guard lk(m);
                got.push_back(r);
                cv.notify_all();
            };
        }
        bool wait(std::size_t n) {
            std::unique_lock lk(m);
            return cv.wait_for(lk, std::chrono::seconds(20), [&] { return got.size() == n; });
        }
    };
    const std::vector<std::string> outputs = {R"({"a":"x\"y","b":"c\\d","e":"{,}","f":"NULL"})", R"("NULL")",
                                              "\"\\u00e9 \xc3\xbc \xe2\x9c\x93\"", R"([1,{"k":[]},"\\\""])"};
    workflow::RunRow run = running_run();
    auto task = [&](std::size_t i, const std::string& status) {
        workflow::TaskRow t;
        t.run_id = run.id;
        t.task_id = "t" + std::to_string(i) + "\"\\{}";
        t.type = "script";
        t.status = status;
        t.attempts = 1;
        t.output = i < outputs.size() ? outputs[i] : "1";
        t.error = i == 1 ? "said \"no\" \\ twice" : "";
        t.cost = 0.25;
        return t;
    };
    Answers first;
    {
        workflow::Writer writer(db, 64);
        writer.insert_run(run, first.done());
        for (std::size_t i = 0; i < outputs.size(); ++i) writer.put_task(task(i, "succeeded"), first.done());
        writer.start();
        REQUIRE(first.wait(outputs.size() + 1));
        CHECK(writer.stats().split == 0);  // one statement for the rows, not a refusal and a retry
        writer.stop();
    }
    for (const auto& r : first.got) {
        CHECK(r.error.empty());
        CHECK(r.applied);
    }
    // Again, with one row more: a succeeded row is never overwritten.
    Answers second;
    {
        workflow::Writer writer(db, 64);
        for (std::size_t i = 0; i <= outputs.size(); ++i) writer.put_task(task(i, "running"), second.done());
        writer.start();
        REQUIRE(second.wait(outputs.size() + 1));
        CHECK(writer.stats().split == 0);
        writer.stop();
    }
    for (std::size_t i = 0; i < second.got.size(); ++i) {
        INFO("row " << i);
        CHECK(second.got[i].error.empty());
        CHECK(second.got[i].applied == (i == outputs.size()));
    }
    for (std::size_t i = 0; i <= outputs.size(); ++i) {
        auto want = task(i, i < outputs.size() ? "succeeded" : "running");
        std::string status, output, error;
        double cost = 0;
        soci::indicator seq_ind = soci::i_null;
        long long seq = 0;
        db.with_session([&](soci::session& s) {
            s << "SELECT status, output, error, cost, outcome_seq FROM workflow_tasks WHERE run_id = :r AND task_id = :t",
                soci::use(run.id), soci::use(want.task_id), soci::into(status), soci::into(output), soci::into(error),
                soci::into(cost), soci::into(seq, seq_ind);
        });
        INFO("row " << i);
        CHECK(status == want.status);
        CHECK(output == want.output);
        CHECK(error == want.error);
        CHECK(cost == 0.25);
        CHECK((seq_ind == soci::i_ok) == (want.status == "succeeded"));
    }
}
