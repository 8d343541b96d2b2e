#pragma once
// What the workflow module's route handlers share (module.cpp builds it, routes.cpp uses it).
#include "modules/workflow/engine.hpp"
#include "modules/workflow/executors.hpp"
#include "modules/workflow/store.hpp"
#include "modules/workflow/triggers.hpp"
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace arclight {
class Db;
class Router;
}  // namespace arclight

namespace arclight::workflow {

/// The current version of each workflow, compiled, for starting runs without reading the
/// definition again. Entries live `ttl` at most; a change made here drops the entry at once,
/// one made on another instance when its NOTIFY arrives (PostgreSQL), else after `ttl`.
class CurrentVersions {
public:
    using Clock = std::chrono::steady_clock;
    explicit CurrentVersions(std::chrono::milliseconds ttl) : ttl_(ttl) {}
    std::shared_ptr<const WorkflowVersion> find(const std::string& id) {
        std::lock_guard lk(m_);
        auto it = map_.find(id);
        if (it == map_.end()) return nullptr;
        if (it->second.until <= Clock::now()) {
            map_.erase(it);
            return nullptr;
        }
        return it->second.wf;
    }
    /// Read before loading from the database; put() ignores the load when a forget() came between.
    std::uint64_t generation() {
        std::lock_guard lk(m_);
        return generation_;
    }
    void put(const std::string& id, std::shared_ptr<const WorkflowVersion> wf, std::uint64_t loaded_at_generation) {
        std::lock_guard lk(m_);
        if (loaded_at_generation != generation_) return;
        if (map_.size() >= 10'000) map_.clear();
        map_[id] = {std::move(wf), Clock::now() + ttl_};
    }
    void forget(const std::string& id) {
        std::lock_guard lk(m_);
        map_.erase(id);
        ++generation_;
    }

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

struct Shared {
    Db& db;
    Store& store;
    Engine& engine;
    Triggers& triggers;
    TaskTypeRegistry& types;
    /// Compiles a stored definition (cached per id+version); nullptr when it no longer parses.
    std::function<std::shared_ptr<const WorkflowVersion>(const std::string&, int, const std::string&)> compile;
    /// The version by id and number (cache, then store); nullptr when absent.
    std::function<std::shared_ptr<const WorkflowVersion>(const std::string&, int)> load_version;
    CurrentVersions& current;
    /// After a definition changed here: drop the cached current version, tell other instances.
    void changed(const std::string& id) {
        current.forget(id);
        engine.announce_workflow_change(id);
    }
};

void register_routes(Router& router, Shared& shared);

}  // namespace arclight::workflow
