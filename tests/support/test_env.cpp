#include "tests/support/test_env.hpp"

#include "core/util/ids.hpp"
#include "core/vault/vault.hpp"
#include "modules/auth/api.hpp"
#include "tests/support/client.hpp"

#include <boost/json.hpp>

#include <soci/soci.h>
#include <soci/postgresql/soci-postgresql.h>

#include <cstdlib>
#include <iostream>

namespace arclight::test {
namespace {

std::string pg_base_url() {
    const char* u = std::getenv("ARCLIGHT_TEST_PG_URL");
    return u ? u : "postgresql://arclight@127.0.0.1:55432/postgres";
}

// Replaces the database name (the path) of a libpq URI.
std::string with_database(const std::string& url, const std::string& db) {
    auto scheme_end = url.find("://");
    auto slash = url.find('/', scheme_end + 3);
    auto query = url.find('?', scheme_end + 3);
    std::string base = url.substr(0, slash == std::string::npos ? query : slash);
    std::string rest = query == std::string::npos ? "" : url.substr(query);
    return base + "/" + db + rest;
}

}  // namespace

bool use_postgres() {
    const char* v = std::getenv("ARCLIGHT_TEST_DB");
    return v && std::string(v) == "postgres";
}

void print_backend_banner() {
    std::cerr << "[arclight tests] database backend: " << (use_postgres() ? "postgres (" + pg_base_url() + ")" : "sqlite")
              << "\n";
}

TestDatabase::TestDatabase() {
    if (use_postgres()) {
        pg_name_ = "t_" + new_uuid().substr(0, 8) + new_uuid().substr(0, 8);
        soci::session admin(soci::postgresql, parse_db_url(pg_base_url()).target);
        admin << "CREATE DATABASE " + pg_name_;
        url_ = with_database(pg_base_url(), pg_name_);
    } else {
        dir_ = std::filesystem::temp_directory_path() / ("arclight-test-" + new_uuid());
        std::filesystem::create_directories(dir_);
        url_ = "sqlite:" + (dir_ / "test.db").string();
    }
}

TestDatabase::~TestDatabase() {
    try {
        if (!pg_name_.empty()) {
            soci::session admin(soci::postgresql, parse_db_url(pg_base_url()).target);
            admin << "DROP DATABASE IF EXISTS " + pg_name_ + " WITH (FORCE)";
        } else {
            std::error_code ec;
            std::filesystem::remove_all(dir_, ec);
        }
    } catch (const std::exception& e) {
        std::cerr << "could not drop test database: " << e.what() << "\n";
    }
    pool_.join();
}

std::unique_ptr<Db> TestDatabase::open(std::size_t pool_size) {
    DbOptions o;
    o.url = url_;
    o.pool_size = pool_size;
    return std::make_unique<Db>(o, pool_.get_executor());
}

Config make_config(const std::map<std::string, std::string>& overrides, const std::vector<ModuleDescriptor>& modules) {
    std::map<std::string, std::string> env;
    for (const auto& [k, v] : overrides) {
        auto dot = k.find('.');
        env[env_name(k.substr(0, dot), k.substr(dot + 1))] = v;
    }
    return Config::load(Application::config_schema(modules), std::nullopt,
                        [env](const std::string& name) -> std::optional<std::string> {
                            auto it = env.find(name);
                            if (it == env.end()) return std::nullopt;
                            return it->second;
                        });
}

TestServer::TestServer(std::map<std::string, std::string> overrides, std::vector<ModuleDescriptor> extra_modules,
                       bool create_admin) {
    auto modules = builtin_modules();
    for (auto& m : extra_modules) modules.push_back(std::move(m));
    overrides.emplace("server.port", "0");
    overrides.emplace("server.host", "127.0.0.1");
    overrides.emplace("server.threads", "2");
    overrides.emplace("server.access_log", "false");
    overrides.emplace("database.url", db_.url());
    overrides.emplace("database.pool_size", "4");
    overrides.emplace("log.level", "warn");
    if (use_postgres() && !overrides.count("vault.key_file")) {
        key_dir_.path = std::filesystem::temp_directory_path() / ("arclight-key-" + new_uuid());
        create_key_file(key_dir_.path / "vault.key", new_vault_key());
        overrides["vault.key_file"] = (key_dir_.path / "vault.key").string();
    }
    app_ = std::make_unique<Application>(make_config(overrides, modules), modules);
    port_ = app_->start();
    auto* users = create_admin ? app_->services().find<auth::UserAdmin>() : nullptr;
    if (users) {
        users->create_user("admin", kAdminPassword, "admin");
        auto credentials = boost::json::serialize(boost::json::object{{"username", "admin"}, {"password", kAdminPassword}});
        auto login = http(port_, "POST", "/api/v1/auth/login", credentials);
        auto cookie = login.header("set-cookie");
        auto csrf = std::string(login.json().at("csrf_token").as_string());
        auto key = http(port_, "POST", "/api/v1/auth/api-keys", R"({"name":"tests","scopes":["*"]})",
                        {{"Cookie", cookie.substr(0, cookie.find(';'))}, {"X-CSRF-Token", csrf}});
        admin_key_ = std::string(key.json().at("key").as_string());
    }
}

TestServer::~TestServer() { stop(); }

TestServer::TempDir::~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
}

void TestServer::stop() {
    if (app_) app_->shutdown();
}

}  // namespace arclight::test
