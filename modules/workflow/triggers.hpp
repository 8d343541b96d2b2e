#pragma once
// Triggers of active workflows: webhooks (/hooks/<path>), cron schedules and bus events. The
// set is rebuilt from the database when a workflow changes here, and when another instance
// changed one (a cheap signature query every few seconds).
#include "modules/workflow/engine.hpp"
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

namespace arclight {
class Db;
class EventBus;
class Subscription;
class Vault;
}  // namespace arclight

namespace arclight::workflow {

class ProjectIndex;

class Store;
struct WorkflowRecord;

struct HookTarget {
    std::shared_ptr<const WorkflowVersion> wf;
    int trigger_index = 0;
    bool sync = false;
    std::int64_t timeout_ms = 30000;
    /// The trigger's auth with its secret from the vault (read when the triggers were loaded, so
    /// a call reads nothing); null when the webhook is open.
    std::shared_ptr<const TriggerDef::Auth> auth;
};

class Triggers {
public:
    using Parser = std::function<std::shared_ptr<const WorkflowVersion>(const std::string& id, int version,
                                                                        const std::string& definition)>;
    Triggers(Db& db, Store& store, EventBus& bus, Engine& engine, Parser parser, const Vault& vault);
    /// Each workflow's project: an event emitted by a run starts event-triggered workflows of
    /// that project only (one of no project, published by a module, starts any).
    void set_projects(const ProjectIndex* projects) { projects_ = projects; }
    ~Triggers();

    /// Reloads every active workflow's triggers (blocking; start-up and tests).
    void reload_now();
    /// Reloads on the blocking pool.
    boost::asio::awaitable<void> reload();
    /// Reloads when another instance changed the active set.
    boost::asio::awaitable<void> refresh_if_changed();

    /// The active workflow serving METHOD /hooks/<path>, if any.
    std::optional<HookTarget> find_hook(std::string_view method, std::string_view path) const;
    /// "METHOD path" of every webhook an active workflow other than `except_id` serves.
    std::map<std::string, std::string> hooks_of_others(const std::string& except_id) const;

    /// Fires the cron triggers due at `now_ms` (called every second by the module; tests pass a
    /// fake clock). Each fire starts a run with idempotency key "cron:<index>:<fire time>", so
    /// the same fire never starts two runs (restart, several instances).
    boost::asio::awaitable<int> tick(std::int64_t now_ms);

    /// What a reload reads (triggers.cpp).
    struct ActiveSet;

private:
    const ProjectIndex* projects_ = nullptr;
    struct Cron {
        std::shared_ptr<const WorkflowVersion> wf;
        int index = 0;
        std::int64_t next = 0;
        bool initialized = false;
    };
    void install(std::vector<std::shared_ptr<const WorkflowVersion>> active, const std::map<std::string, std::string>& secrets);
    void apply(const ActiveSet& records);

    Db& db_;
    Store& store_;
    EventBus& bus_;
    Engine& engine_;
    Parser parser_;
    const Vault& vault_;
    mutable std::shared_mutex m_;
    std::map<std::string, HookTarget> hooks_;
    std::vector<Cron> crons_;
    std::vector<std::unique_ptr<Subscription>> subscriptions_;
    std::pair<long long, long long> signature_{-1, -1};
};

}  // namespace arclight::workflow
