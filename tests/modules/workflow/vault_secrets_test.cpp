// Issue 19, item 11: webhook secrets live in the vault. A stored definition holds none; the
// triggers read them from the vault; a planted secret appears in no table of the database and in
// no log line; definitions saved before the vault are scrubbed at start; the server binary refuses
// to start without the key (or with a wrong one); `arclight vault init` / `rotate-key`. Both databases.
#include <doctest/doctest.h>

#include "core/db/migrator.hpp"
#include "core/log/log.hpp"
#include "core/util/ids.hpp"
#include "core/vault/vault.hpp"
#include "modules/workflow/webhook_secrets.hpp"
#include "test_paths.hpp"
#include "tests/modules/workflow/rig.hpp"
#include "tests/support/process.hpp"

#include <boost/json.hpp>
#include <soci/soci.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <mutex>
#include <sstream>

using namespace arclight;
using namespace arclight::test;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// The text of every row of every table of the database.
std::string dump_database(soci::session& s) {
    std::vector<std::string> tables;
    const bool pg = s.get_backend_name() == "postgresql";
    soci::rowset<std::string> names =
        (s.prepare << (pg ? "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                          : "SELECT name FROM sqlite_master WHERE type = 'table'"));
    for (const auto& n : names) tables.push_back(n);
    REQUIRE(tables.size() > 5);
    std::string out;
    for (const auto& t : tables) {
        std::string q;
        if (pg) {
            q = "SELECT CAST(t AS TEXT) FROM \"" + t + "\" t";
        } else {
            std::vector<std::string> cols;
            soci::rowset<std::string> cs = (s.prepare << "SELECT name FROM pragma_table_info('" + t + "')");
            for (const auto& c : cs) cols.push_back("COALESCE(CAST(\"" + c + "\" AS TEXT), '')");
            q = "SELECT ''";
            for (const auto& c : cols) q += " || " + c + " || '|'";
            q += " FROM \"" + t + "\"";
        }
        soci::rowset<std::string> rows = (s.prepare << q);
        for (const auto& r : rows) out += t + ": " + r + "\n";
    }
    return out;
}

void wait_live(TestServer& srv, const std::string& path) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (http(srv.port(), "POST", path, "{}", {{"Content-Type", "application/json"}}).status == 404 &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

int hook(unsigned short port, const std::string& path, const std::string& token) {
    return http(port, "POST", path, "{}", {{"Content-Type", "application/json"}, {"X-Token", token}}).status;
}

std::string def(const std::string& path, const std::string& secret, const std::string& value = "1") {
    return R"({"name":"vaulted","active":true,"triggers":[{"type":"webhook","path":")" + path +
           R"(","auth":{"type":"header","header":"X-Token","secret":")" + secret +
           R"("}}],"tasks":[{"id":"a","type":"set","config":{"values":)" + value + "}}]}";
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777;
}

// Runs the server binary with exactly `env` (ARCLIGHT_* from the test only); its exit code and output.
std::pair<int, std::string> run_binary(const std::string& args, const std::map<std::string, std::string>& env) {
    auto out = fs::temp_directory_path() / ("arclight-out-" + new_uuid());
    std::string cmd = "env -i PATH=/usr/bin:/bin";
    for (const auto& [k, v] : env) cmd += " " + k + "='" + v + "'";
    cmd += " ARCLIGHT_SERVER_HOST=127.0.0.1 ARCLIGHT_SERVER_PORT=" + std::to_string(free_port()) +
           " timeout 30 " ARCLIGHT_BINARY " " + args + " > " + out.string() + " 2>&1";
    int st = std::system(cmd.c_str());
    std::ifstream in(out);
    std::stringstream ss;
    ss << in.rdbuf();
    fs::remove(out);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, ss.str()};
}

void migrate(const std::string& url) {
    Application app(make_config({{"database.url", url}, {"log.level", "warn"}}));
    app.migrate();
}

}  // namespace

TEST_CASE("vault: a webhook secret lives in the vault, in no table in plain text and in no log line") {
    std::mutex mu;
    std::string logged;
    log::set_observer([&](std::string_view line) {
        std::lock_guard lk(mu);
        logged.append(line).push_back('\n');
    });
    {
        TestServer srv(Overrides{{"log.level", "debug"}, {"server.access_log", "true"}});
        Api api{srv};
        auto wf = api.create(def("vaulted", "PLANTED-vault-one"));
        wait_live(srv, "/hooks/vaulted");
        CHECK(hook(srv.port(), "/hooks/vaulted", "PLANTED-vault-one") == 202);
        CHECK(hook(srv.port(), "/hooks/vaulted", "PLANTED-vault-two") == 401);
        // The stored definition holds the placeholder; the vault holds the secret under the trigger's name.
        srv.app().db().with_session([&](soci::session& s) {
            std::string d;
            s << "SELECT definition FROM workflows WHERE id = :id", soci::into(d), soci::use(wf);
            CHECK(d.find("********") != std::string::npos);
            CHECK(srv.app().vault().names(s, "workflow", wf + "/") ==
                  std::vector<std::string>{workflow::webhook_secret_name(wf, "POST", "vaulted")});
        });
        // Sent back as the API shows it, the secret is kept (read from the vault).
        auto shown = api.call("GET", "/api/v1/workflows/" + wf).json().as_object();
        CHECK(shown.at("triggers").at(0).at("auth").at("secret") == "********");
        auto r = api.call("PUT", "/api/v1/workflows/" + wf, def("vaulted", "********", "2"));
        INFO(r.body);
        REQUIRE(r.status == 200);
        CHECK(hook(srv.port(), "/hooks/vaulted", "PLANTED-vault-one") == 202);
        // A new secret replaces it; a new path moves it to a new name (the old one removed).
        REQUIRE(api.call("PUT", "/api/v1/workflows/" + wf, def("vaulted", "PLANTED-vault-two", "3")).status == 200);
        CHECK(hook(srv.port(), "/hooks/vaulted", "PLANTED-vault-one") == 401);
        CHECK(hook(srv.port(), "/hooks/vaulted", "PLANTED-vault-two") == 202);
        REQUIRE(api.call("PUT", "/api/v1/workflows/" + wf, def("moved", "PLANTED-vault-three", "4")).status == 200);
        CHECK(hook(srv.port(), "/hooks/moved", "PLANTED-vault-three") == 202);
        srv.app().db().with_session([&](soci::session& s) {
            CHECK(srv.app().vault().names(s, "workflow", wf + "/") ==
                  std::vector<std::string>{workflow::webhook_secret_name(wf, "POST", "moved")});
            auto all = dump_database(s);
            CHECK(all.find("vault_secrets: ") != std::string::npos);
            CHECK(all.find("workflow_versions: ") != std::string::npos);
            CHECK(all.find("PLANTED") == std::string::npos);
        });
        CHECK(api.call("GET", "/api/v1/workflows/" + wf).body.find("PLANTED") == std::string::npos);
        // Deleting the workflow deletes its secrets.
        CHECK(api.call("DELETE", "/api/v1/workflows/" + wf).status == 204);
        srv.app().db().with_session([&](soci::session& s) {
            CHECK(srv.app().vault().names(s, "workflow", wf + "/").empty());
            CHECK(Vault::count(s) == 0);
        });
    }
    log::set_observer({});
    log::set_level(log::Level::warn);
    CHECK(logged.find("POST /hooks/vaulted") != std::string::npos);  // the log was captured
    CHECK(logged.find("PLANTED") == std::string::npos);
}

TEST_CASE("vault: without a key on PostgreSQL, saving a webhook secret answers 503 problem+json saying what to do") {
    if (!use_postgres()) {
        MESSAGE("PostgreSQL only: SQLite creates its key file at start");
        return;
    }
    TestServer srv(Overrides{{"vault.key_file", ""}});
    Api api{srv};
    auto r = api.call("POST", "/api/v1/workflows", def("nokey", "PLANTED-nokey"));
    CHECK(r.status == 503);
    CHECK(r.header("content-type") == "application/problem+json");
    CHECK(r.body.find("arclight vault init") != std::string::npos);
    CHECK(r.body.find("PLANTED") == std::string::npos);
    CHECK(api.call("GET", "/api/v1/workflows").json().at("items").as_array().empty());  // nothing saved
    // Workflows without secrets are not affected.
    CHECK(api.call("POST", "/api/v1/workflows", R"({"name":"open","tasks":[{"id":"a","type":"set","config":{"values":1}}]})")
              .status == 201);
}

TEST_CASE("vault: plaintext webhook secrets of an older database move into the vault at start (server binary)") {
    TestDatabase tdb;
    migrate(tdb.url());
    // Saved the way item 4 did: the secret in plain text in the workflows row and every version.
    auto v1 = def("legacy", "PLANTED-legacy-old"), v2 = def("legacy", "PLANTED-legacy");
    auto id = new_uuid();
    {
        auto db = tdb.open(1);
        db->with_session([&](soci::session& s) {
            s << "INSERT INTO workflows (id, name, version, active, definition, created_at, updated_at) "
                 "VALUES (:id, 'vaulted', 2, 1, :d, 1, 2)",
                soci::use(id), soci::use(v2);
            s << "INSERT INTO workflow_versions (workflow_id, version, definition, created_at) VALUES (:id, 1, :d, 1)",
                soci::use(id), soci::use(v1);
            s << "INSERT INTO workflow_versions (workflow_id, version, definition, created_at) VALUES (:id, 2, :d, 2)",
                soci::use(id), soci::use(v2);
        });
    }
    std::map<std::string, std::string> env{{"ARCLIGHT_DATABASE_URL", tdb.url()}};
    if (use_postgres()) {
        // PostgreSQL without a key: the secrets cannot move, so the server does not start (and
        // leaves them as they are).
        auto refused = run_binary("serve", env);
        CHECK(refused.first == 1);
        CHECK(refused.second.find("has webhook secrets stored in plain text, which move into the vault at start") !=
              std::string::npos);
        CHECK(refused.second.find("arclight vault init") != std::string::npos);
        CHECK(refused.second.find("PLANTED") == std::string::npos);
        env["ARCLIGHT_VAULT_KEY"] = new_vault_key();
    }
    {
        ServerProcess srv(env);
        CHECK(hook(srv.port(), "/hooks/legacy", "PLANTED-legacy") == 202);
        CHECK(hook(srv.port(), "/hooks/legacy", "PLANTED-legacy-old") == 401);
        CHECK(hook(srv.port(), "/hooks/legacy", "") == 401);
        CHECK(srv.terminate() == 0);
    }
    auto db = tdb.open(1);
    db->with_session([&](soci::session& s) {
        auto all = dump_database(s);
        CHECK(all.find("PLANTED") == std::string::npos);
        CHECK(Vault::count(s) == 1);
        long long placeholders = 0;
        s << "SELECT COUNT(*) FROM workflow_versions WHERE definition LIKE '%********%'", soci::into(placeholders);
        CHECK(placeholders == 2);
    });
    if (!use_postgres()) {
        auto key = default_key_file(tdb.url());
        CHECK(fs::exists(key));
        CHECK(mode_of(key) == 0600);
    }
    // Started again: still authenticates (the secret from the vault), nothing left to move.
    ServerProcess again(env);
    CHECK(hook(again.port(), "/hooks/legacy", "PLANTED-legacy") == 202);
}

TEST_CASE("vault: the server binary refuses to start without its key or with a wrong one; vault init and rotate-key") {
    TestDatabase tdb;
    migrate(tdb.url());
    auto dir = fs::temp_directory_path() / ("arclight-vault-cli-" + new_uuid());
    fs::create_directories(dir);
    auto key = dir / "vault.key", wrong = dir / "wrong.key";
    std::map<std::string, std::string> base{{"ARCLIGHT_DATABASE_URL", tdb.url()}, {"ARCLIGHT_LOG_LEVEL", "info"}};

    auto init = run_binary("vault init --key-file " + key.string(), base);
    CHECK(init.first == 0);
    CHECK(init.second.find("wrote a new vault key to " + key.string()) != std::string::npos);
    CHECK(mode_of(key) == 0600);
    auto again = run_binary("vault init --key-file " + key.string(), base);
    CHECK(again.first != 0);
    CHECK(again.second.find("already exists") != std::string::npos);
    REQUIRE(run_binary("vault init --key-file " + wrong.string(), base).first == 0);

    auto with_key = base;
    with_key["ARCLIGHT_VAULT_KEY_FILE"] = key.string();
    {
        auto db = tdb.open(1);
        Vault v;
        v.open(*db, {key.string(), std::nullopt, tdb.url()});
        db->with_session([&](soci::session& s) { v.put(s, "workflow", "x/webhook/POST/x", "PLANTED-cli"); });
    }
    auto none = run_binary("serve", base);
    CHECK(none.first == 1);
    CHECK(none.second.find("1 secrets are stored; give vault.key_file or ARCLIGHT_VAULT_KEY") != std::string::npos);
    auto bad = base;
    bad["ARCLIGHT_VAULT_KEY_FILE"] = wrong.string();
    auto refused = run_binary("serve", bad);
    CHECK(refused.first == 1);
    CHECK(refused.second.find("does not open the stored secrets") != std::string::npos);
    auto garbage = base;
    garbage["ARCLIGHT_VAULT_KEY"] = "not-a-key";
    auto text = run_binary("serve", garbage);
    CHECK(text.first == 1);
    CHECK(text.second.find("ARCLIGHT_VAULT_KEY is not base64 of 32 bytes") != std::string::npos);

    auto rotated = run_binary("vault rotate-key", with_key);
    INFO(rotated.second);
    CHECK(rotated.first == 0);
    CHECK(rotated.second.find("re-encrypted 1 secrets") != std::string::npos);
    CHECK(fs::exists(key.string() + ".old"));
    CHECK(mode_of(key) == 0600);
    auto old_key = with_key;
    old_key["ARCLIGHT_VAULT_KEY_FILE"] = key.string() + ".old";
    CHECK(run_binary("serve", old_key).first == 1);
    {
        ServerProcess srv(with_key);  // the new key: starts
        CHECK(http(srv.port(), "GET", "/readyz").status == 200);
    }
    auto db = tdb.open(1);
    Vault v;
    v.open(*db, {key.string(), std::nullopt, tdb.url()});
    db->with_session([&](soci::session& s) { CHECK(v.get(s, "workflow", "x/webhook/POST/x") == "PLANTED-cli"); });
    CHECK(none.second.find("PLANTED") == std::string::npos);
    CHECK(rotated.second.find("PLANTED") == std::string::npos);
    std::error_code ec;
    fs::remove_all(dir, ec);
}
