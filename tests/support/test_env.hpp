#pragma once
// Test environment: which database backend the suite runs against (ARCLIGHT_TEST_DB=sqlite|postgres,
// ARCLIGHT_TEST_PG_URL for the cluster the test script started), fresh databases per test, and an
// in-process server on an ephemeral port.

#include "core/app/application.hpp"
#include "core/db/db.hpp"

#include <boost/asio/thread_pool.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace arclight::test {

using Overrides = std::map<std::string, std::string>;

bool use_postgres();
void print_backend_banner();

/// A fresh, empty database of the selected backend; dropped/deleted on destruction.
class TestDatabase {
public:
    TestDatabase();
    ~TestDatabase();
    const std::string& url() const { return url_; }
    /// Opens a Db on it (pool of `pool_size` sessions).
    std::unique_ptr<Db> open(std::size_t pool_size = 2);

private:
    std::string url_;
    std::string pg_name_;
    std::filesystem::path dir_;
    boost::asio::thread_pool pool_{2};
};

/// Builds a Config from built-in defaults plus overrides keyed "table.key" (values as text, as
/// an environment variable would give them).
Config make_config(const std::map<std::string, std::string>& overrides,
                   const std::vector<ModuleDescriptor>& modules = builtin_modules());

/// The real Application, started on 127.0.0.1:0 with a fresh database. On PostgreSQL, which has
/// no default vault key, it gets a key file of its own unless the overrides name vault.key_file
/// ("" for none).
class TestServer {
public:
    explicit TestServer(std::map<std::string, std::string> overrides = {},
                        std::vector<ModuleDescriptor> extra_modules = {}, bool create_admin = true);
    ~TestServer();
    unsigned short port() const { return port_; }
    /// An API key with scope "*" of the admin user "admin" (empty when auth is disabled).
    const std::string& admin_key() const { return admin_key_; }
    /// {"Authorization": "Bearer <admin key>"}.
    std::map<std::string, std::string> admin() const { return {{"Authorization", "Bearer " + admin_key_}}; }
    static constexpr const char* kAdminPassword = "correct horse battery staple";
    Application& app() { return *app_; }
    /// Graceful shutdown (idempotent).
    void stop();

private:
    TestDatabase db_;
    /// A directory removed with the server, also when its constructor throws.
    struct TempDir {
        std::filesystem::path path;
        ~TempDir();
    };
    TempDir key_dir_;  ///< PostgreSQL: a vault key file of its own (SQLite makes one beside the database)
    std::unique_ptr<Application> app_;
    unsigned short port_ = 0;
    std::string admin_key_;
};

}  // namespace arclight::test
