#pragma once
// The module contract. A module is one folder modules/<name>/ with one class implementing Module,
// described by a ModuleDescriptor. Core never names a module: the build generates the list of
// compiled-in modules (builtin_modules(), see modules/CMakeLists.txt). Phases: construct (config +
// declared dependencies, no I/O) -> core runs migrations -> register_routes + subscribe -> start()
// -> ... -> stop() in reverse order. A module contributes through its descriptor: config keys,
// permissions, command-line subcommands; and through its Module: routes, topics, services,
// background tasks. Its migrations are schema/<name>/.

#include "core/app/permissions.hpp"
#include "core/config/config.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeindex>
#include <unordered_map>
#include <vector>

namespace CLI {
class App;
}

namespace arclight {

class AccessControl;
class ComputePool;
class Db;
class EventBus;
class NotifyRelay;
class Router;
class Vault;
class WsHub;

/// A module's (or the database's) health, shown at /readyz and in the UI.
struct Health {
    enum class Status { ok, degraded, failed };
    Status status = Status::ok;
    std::string reason;

    static Health ok() { return {}; }
    static Health degraded(std::string why) { return {Status::degraded, std::move(why)}; }
    static Health failed(std::string why) { return {Status::failed, std::move(why)}; }
};
std::string_view to_string(Health::Status s);

/// Services modules offer each other, looked up by interface type. Thread-safe after start-up
/// (written only during construction).
class ServiceRegistry {
public:
    template <class T>
    void provide(T* service) {
        services_[std::type_index(typeid(T))] = service;
    }
    /// The service, or nullptr when no enabled module offers it.
    template <class T>
    T* find() const {
        auto it = services_.find(std::type_index(typeid(T)));
        return it == services_.end() ? nullptr : static_cast<T*>(it->second);
    }
    /// The service; throws std::logic_error when absent (a missing declared dependency).
    template <class T>
    T& require() const {
        if (auto* s = find<T>()) return *s;
        throw std::logic_error(std::string("required service not provided: ") + typeid(T).name());
    }

private:
    std::unordered_map<std::type_index, void*> services_;
};

/// Facts about the running process that modules may show.
struct AppInfo {
    std::string version;
    std::string instance_id;       ///< UUID of this process
    std::int64_t started_at_ms = 0;
    bool tls = false;              ///< the port speaks HTTPS (server.tls_cert / tls_key)
};

/// Everything a module gets from core. No globals: a module reaches the rest of the system only
/// through this context.
struct ModuleContext {
    ConfigSection config;                    ///< the module's own [<name>] table
    Db& db;
    EventBus& bus;
    WsHub& ws;
    AccessControl& access;                   ///< where the auth module installs its request check
    ServiceRegistry& services;
    const PermissionCatalog& permissions;    ///< every permission the enabled modules declared
    NotifyRelay& relay;                      ///< the instance's LISTEN/NOTIFY relay (core/db/notify.hpp),
                                             ///< running from before start() until after stop()
    boost::asio::any_io_executor io;         ///< for network I/O and background coroutines
    boost::asio::any_io_executor blocking;   ///< for blocking work (queries)
    ComputePool& compute;                    ///< for CPU-bound work (scripts; core/exec/compute_pool.hpp)
    const AppInfo& app;
    Vault& vault;                            ///< secrets at rest (core/vault/vault.hpp), opened before start()
};

class Module {
public:
    virtual ~Module() = default;
    /// Registers routes (each with method, pattern, permission and summary).
    virtual void register_routes(Router&) {}
    /// Subscribes to the bus events the module reacts to.
    virtual void subscribe(EventBus&) {}
    /// Starts background work and recovers unfinished work. Throwing aborts start-up.
    virtual void start() {}
    /// Stops background work; must return by `deadline` (cancel, wait, then force).
    virtual void stop(std::chrono::steady_clock::time_point /*deadline*/) {}
    /// Current health; cheap and non-blocking (called on I/O threads).
    virtual Health health() const { return Health::ok(); }
};

/// A subcommand of the `arclight` command line that a module adds, e.g. auth's `user add`.
/// The command line gives it `--config`; `run` is called with the enabled modules constructed and
/// the database migrated (no listener, no background work).
struct CliCommand {
    std::vector<std::string> path;            ///< {"user", "add"} for `arclight user add`
    std::string description;
    std::string group_description;            ///< for path[0] when this module introduces that group
    std::function<void(CLI::App&)> options;   ///< adds the command's arguments and flags
    std::function<int(ServiceRegistry&)> run; ///< the exit code
};

/// How core knows a module before constructing it: name, dependencies, config keys, factory,
/// and what it adds to the whole: permissions and command-line subcommands.
struct ModuleDescriptor {
    std::string name;                        ///< names the config table, schema folder and log channel
    std::vector<std::string> dependencies;   ///< modules that must start first
    std::string description;
    std::vector<ConfigKey> config;           ///< the module's keys (an `enabled` key is added by core)
    std::function<std::unique_ptr<Module>(ModuleContext&)> create;
    std::vector<Permission> permissions = {}; ///< every permission its routes and topics name
    std::vector<CliCommand> commands = {};
};

/// The compiled-in modules. Defined by the build (a generated file that lists every module under
/// modules/), so core depends on no module.
std::vector<ModuleDescriptor> builtin_modules();

/// Sorts descriptors so every module comes after its dependencies. Throws std::runtime_error
/// naming both modules on a missing dependency, and the cycle on a cycle.
std::vector<const ModuleDescriptor*> order_modules(const std::vector<const ModuleDescriptor*>& enabled);

}  // namespace arclight
