#pragma once
// The Application owns the runtime: I/O threads, the blocking pool, database, bus, router,
// WebSocket hub, HTTP server and the modules, and runs the phases of the module contract.

#include "core/app/directory.hpp"
#include "core/app/module.hpp"
#include "core/config/config.hpp"
#include "core/db/migrator.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace arclight {

class EventBus;
class Router;
class WsHub;
class HttpServer;
class StaticFiles;
class Db;
class Vault;

/// The version compiled into the binary.
std::string_view arclight_version();

class Application : public ModuleDirectory {
public:
    /// Every config table: core's and each compiled-in module's.
    static std::vector<ConfigTable> config_schema(const std::vector<ModuleDescriptor>& modules = builtin_modules());

    /// Builds the runtime and constructs enabled modules (opens the database; no listening yet).
    explicit Application(const Config& config, std::vector<ModuleDescriptor> modules = builtin_modules());
    ~Application() override;

    /// Applies pending migrations of core and every enabled module.
    MigrationReport migrate();
    /// Resolves the vault's key and checks it against the database (after migrate()); throws
    /// VaultError when start-up must be refused (core/vault/vault.hpp). Called by start().
    void open_vault();
    /// Migrates (when database.migrate_on_start), registers routes and subscriptions, starts
    /// modules, then opens the listener. Returns the bound port.
    unsigned short start();
    /// Blocks until SIGINT/SIGTERM (when `handle_signals`) or request_stop().
    void wait();
    void request_stop();
    /// Graceful stop: stop accepting, drain in-flight requests within server.shutdown_timeout_ms,
    /// stop modules in reverse order, stop the threads. Idempotent.
    void shutdown();
    /// start() + wait() + shutdown(); returns the process exit code.
    int run(bool handle_signals = true);

    unsigned short port() const noexcept { return port_; }
    EventBus& bus();
    Db& db();
    Router& router();
    WsHub& ws();
    ServiceRegistry& services();
    Vault& vault();
    /// Every permission the enabled modules declared.
    const PermissionCatalog& permissions() const;
    const AppInfo& info() const noexcept { return info_; }
    std::vector<ModuleStatus> modules() const override;

private:
    struct Runtime;
    void register_core_routes();
    /// Throws std::logic_error when a route or WebSocket topic names an undeclared permission.
    void check_permissions() const;
    std::unique_ptr<Runtime> rt_;
    AppInfo info_;
    unsigned short port_ = 0;
    std::mutex stop_mu_;
    std::condition_variable stop_cv_;
    bool stop_requested_ = false;
    bool started_ = false, shut_down_ = false;
};

}  // namespace arclight
