#pragma once
// Compiled workflow versions: every (id, version) compiled once and cached, and the current
// version of each workflow kept in memory so starting a run reads nothing from the database.
// The engine, the triggers and the service get their version lookups from here.
#include "modules/workflow/engine.hpp"
#include "modules/workflow/triggers.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace arclight {
class Db;
}

namespace arclight::workflow {

class Store;

/// The current version of each workflow, compiled, for starting runs without reading the
/// definition again. Entries live `ttl` at most; a change made here drops the entry at once,
/// one made on another instance when its NOTIFY arrives (PostgreSQL), else after `ttl`.
class CurrentVersions {
public:
    using Clock = std::chrono::steady_clock;
    explicit CurrentVersions(std::chrono::milliseconds ttl) : ttl_(ttl) {}
    std::shared_ptr<const WorkflowVersion> find(const std::string& id);
    /// Read before loading from the database; put() ignores the load when a forget() came between.
    std::uint64_t generation();
    void put(const std::string& id, std::shared_ptr<const WorkflowVersion> wf, std::uint64_t loaded_at_generation);
    void forget(const std::string& id);

private:
    struct Entry {
        std::shared_ptr<const WorkflowVersion> wf;
        Clock::time_point until;
    };
    std::chrono::milliseconds ttl_;
    std::mutex m_;
    std::unordered_map<std::string, Entry> map_;
    std::uint64_t generation_ = 0;
};

class Versions {
public:
    Versions(Db& db, Store& store, const TaskTypes& types, std::chrono::milliseconds current_ttl);

    /// Compiles a stored definition (cached per id + version); nullptr when it no longer validates.
    std::shared_ptr<const WorkflowVersion> compile(const std::string& id, int version, const std::string& definition);
    /// A saved version by id and number (cache, then store; blocking); nullptr when absent.
    std::shared_ptr<const WorkflowVersion> load(soci::session& s, const std::string& id, int version);
    /// The current version (store; blocking); nullptr when the workflow does not exist.
    std::shared_ptr<const WorkflowVersion> load_current(soci::session& s, const std::string& id);
    /// The current version from memory, or once per workflow and ttl from the database. Throws
    /// Error not_found, or validation_failed when the stored definition no longer validates.
    boost::asio::awaitable<std::shared_ptr<const WorkflowVersion>> current(const std::string& id);
    /// Drops the cached current version of `id` (after a change).
    void forget(const std::string& id) { current_.forget(id); }

    /// The lookups the engine and the triggers take.
    Engine::VersionLoader loader();
    Engine::CurrentLoader current_loader();
    Triggers::Parser parser();

private:
    Db& db_;
    Store& store_;
    const TaskTypes& types_;
    CurrentVersions current_;
    std::mutex m_;
    std::map<std::pair<std::string, int>, std::shared_ptr<const WorkflowVersion>> compiled_;
};

}  // namespace arclight::workflow
