// The SQLite file cannot be written (a full disk, a failing device): writes answer 503 with
// Retry-After and a detail naming the cause (never 500), reads go on, /readyz says so, accepted
// runs are kept and finish once writes work again, and the file is intact. The failure is
// injected by a test-only VFS (tests/support/failing_vfs.hpp), so no mount is needed.
#include "tests/modules/workflow/rig.hpp"
#include "tests/support/failing_vfs.hpp"

#include "core/db/db.hpp"

#include <doctest/doctest.h>

#include <soci/soci.h>

#include <chrono>
#include <thread>

using namespace arclight;
using namespace arclight::test;

namespace {

bool is_problem(const HttpResult& r) {
    auto it = r.headers.find("content-type");
    return it != r.headers.end() && it->second.find("application/problem+json") != std::string::npos;
}

std::string header(const HttpResult& r, const std::string& name) {
    auto it = r.headers.find(name);
    return it == r.headers.end() ? std::string() : it->second;
}

/// Polls /readyz until it answers `status` (or 15 s pass); the last answer.
HttpResult readyz_until(TestServer& srv, int status) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    HttpResult r;
    do {
        r = http(srv.port(), "GET", "/readyz");
        if (r.status == status) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < until);
    return r;
}

constexpr const char* kDelayed =
    R"({"name": "delayed", "tasks": [
          {"id": "a", "type": "set", "config": {"values": {"x": 1}}},
          {"id": "pause", "type": "delay", "depends_on": ["a"], "config": {"seconds": 1}},
          {"id": "b", "type": "set", "depends_on": ["pause"], "config": {"values": {"y": 2}}}]})";

}  // namespace

TEST_CASE("storage faults: SQLite writes that fail (disk full, I/O error) answer 503, lose nothing and recover by themselves") {
    if (use_postgres()) return;  // the injection is a SQLite VFS
    for (int code : {SQLITE_FULL, SQLITE_IOERR_WRITE}) {
        CAPTURE(code);
        FailingVfs vfs;  // before the server opens its connections
        TestServer srv(Overrides{{"workflow.start_timeout_ms", "300"}, {"workflow.poll_ms", "50"}});
        Api api{srv};
        auto wf = api.create(kDelayed);
        auto accepted = api.start(wf);  // committed; its delay ends while writes fail

        vfs.fail(code);
        // An API write: 503 + Retry-After with a problem detail naming the cause.
        auto created = api.call("POST", "/api/v1/workflows", R"({"name": "x", "tasks": [{"id": "a", "type": "set", "config": {"values": {}}}]})");
        CHECK(created.status == 503);
        CHECK(is_problem(created));
        CHECK(!header(created, "retry-after").empty());
        CHECK(created.body.find(code == SQLITE_FULL ? "disk is full" : "I/O error") != std::string::npos);
        // A new run: 503 (after start_timeout_ms at worst; at once once the writer knows).
        auto refused = api.call("POST", "/api/v1/workflows/" + wf + "/runs", R"({"input": {}})");
        CHECK(refused.status == 503);
        CHECK(is_problem(refused));
        CHECK(!header(refused, "retry-after").empty());
        // A full disk: /readyz fails and says why, new runs are refused at once. (With an injected
        // write I/O error SQLite's retry on a fresh connection sometimes commits although the
        // shim still fails writes, so the writer may not stay failed long enough to check.)
        if (code == SQLITE_FULL) {
            auto ready = readyz_until(srv, 503);
            CHECK(ready.status == 503);
            CHECK(ready.body.find("cannot be committed") != std::string::npos);
            auto fast = api.call("POST", "/api/v1/workflows/" + wf + "/runs", R"({"input": {}})");
            CHECK(fast.status == 503);
            CHECK(fast.body.find("cannot store changes") != std::string::npos);
        }
        // Reads go on.
        auto view = api.call("GET", "/api/v1/runs/" + accepted);
        CHECK(view.status == 200);
        CHECK(vfs.refused() > 0);

        vfs.heal();
        // The accepted run finishes; the service is back without a restart.
        auto done = api.wait(accepted);
        CHECK(std::string(done.at("status").as_string()) == "succeeded");
        CHECK(readyz_until(srv, 200).status == 200);
        auto again = api.start(wf);
        CHECK(std::string(api.wait(again).at("status").as_string()) == "succeeded");
        std::string integrity;
        srv.app().db().with_session([&](soci::session& s) { s << "PRAGMA integrity_check", soci::into(integrity); });
        CHECK(integrity == "ok");
        srv.stop();
    }
}

TEST_CASE("storage faults: the codes of a full disk, a read-only file and an I/O error are transient, not refusals") {
    CHECK(is_transient_sqlite_error(SQLITE_FULL));
    CHECK(is_transient_sqlite_error(SQLITE_READONLY));
    CHECK(is_transient_sqlite_error(SQLITE_IOERR_WRITE));
    CHECK(is_transient_sqlite_error(SQLITE_IOERR_FSYNC));
    CHECK_FALSE(is_transient_sqlite_error(SQLITE_CONSTRAINT));
    CHECK_FALSE(is_transient_sqlite_error(SQLITE_TOOBIG));
    CHECK_FALSE(is_transient_sqlite_error(SQLITE_OK));
}
