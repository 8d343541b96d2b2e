#include "modules/workflow/triggers.hpp"

#include "modules/workflow/events.hpp"
#include "modules/workflow/project_index.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/log/log.hpp"
#include "core/time/time.hpp"
#include "modules/workflow/store.hpp"
#include "modules/workflow/webhook_secrets.hpp"
#include "core/vault/vault.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>

namespace arclight::workflow {
namespace asio = boost::asio;
namespace json = boost::json;

Triggers::Triggers(Db& db, Store& store, EventBus& bus, Engine& engine, Parser parser, const Vault& vault)
    : db_(db), store_(store), bus_(bus), engine_(engine), parser_(std::move(parser)), vault_(vault) {}

Triggers::~Triggers() = default;

void Triggers::install(std::vector<std::shared_ptr<const WorkflowVersion>> active,
                       const std::map<std::string, std::string>& secrets) {
    std::map<std::string, HookTarget> hooks;
    std::vector<Cron> crons;
    std::vector<std::unique_ptr<Subscription>> subs;
    for (const auto& wf : active) {
        const auto& def = *wf->def;
        for (std::size_t i = 0; i < def.triggers.size(); ++i) {
            const auto& t = def.triggers[i];
            if (t.type == "webhook") {
                auto key = t.method + " " + t.path;
                if (hooks.count(key)) {
                    log::warn("workflow", "webhook {} is declared by two active workflows; {} keeps it", key,
                              hooks[key].wf->id);
                    continue;
                }
                std::shared_ptr<const TriggerDef::Auth> auth;
                if (t.auth) {
                    auto a = std::make_shared<TriggerDef::Auth>(*t.auth);
                    if (a->secret.empty()) {
                        auto it = secrets.find(webhook_secret_name(wf->id, t.method, t.path));
                        if (it != secrets.end()) a->secret = it->second;
                        else log::warn("workflow", "webhook {} of workflow {}: its secret is not in the vault; calls are refused",
                                       key, wf->id);
                    }
                    auth = std::move(a);
                }
                hooks[key] = HookTarget{wf, static_cast<int>(i), t.respond_sync, t.respond_timeout_ms, std::move(auth)};
            } else if (t.type == "cron") {
                Cron c;
                c.wf = wf;
                c.index = static_cast<int>(i);
                crons.push_back(std::move(c));
            } else if (t.type == "event") {
                Engine* engine = &engine_;
                auto index = static_cast<int>(i);
                const ProjectIndex* projects = projects_;
                auto handler = [engine, wf, index, projects](const EventPtr& ev) {
                    if (projects && !ev->project.empty() && projects->of(wf->id) != ev->project) return;
                    const auto& trig = wf->def->triggers[index];
                    json::object event{{"topic", ev->topic}, {"id", ev->id}, {"time", format_rfc3339(ev->time_ms)}, {"data", ev->data}};
                    if (auto hops = events::hops_in(ev->data)) event["event_hops"] = hops;
                    if (trig.filter) {
                        json::object root{{"event", event}};
                        try {
                            if (!trig.filter->truthy(expr::ObjectScope(root))) return;
                        } catch (const std::exception& e) {
                            log::warn("workflow", "workflow {}: event filter failed on {}: {}", wf->id, ev->topic, e.what());
                            return;
                        }
                    }
                    StartRequest req;
                    req.wf = wf;
                    req.input = ev->data;
                    req.trigger_type = "event";
                    req.created_by = "trigger:event:" + ev->topic;
                    req.trigger = std::move(event);
                    auto body = [engine, req = std::move(req)]() mutable -> asio::awaitable<void> {
                        try {
                            co_await engine->start_run(std::move(req));
                        } catch (const std::exception& e) {
                            log::warn("workflow", "event trigger could not start a run: {}", e.what());
                        }
                    };
                    asio::co_spawn(engine->executor(), std::move(body), asio::detached);
                };
                subs.push_back(std::make_unique<Subscription>(bus_.subscribe(t.topic, std::move(handler))));
            }
        }
    }
    std::unique_lock lk(m_);
    // Keep the computed next fire of cron triggers whose workflow version did not change.
    for (auto& c : crons)
        for (const auto& old : crons_)
            if (old.wf->id == c.wf->id && old.wf->version == c.wf->version && old.index == c.index) {
                c.next = old.next;
                c.initialized = old.initialized;
            }
    hooks_ = std::move(hooks);
    crons_ = std::move(crons);
    subscriptions_ = std::move(subs);
}

struct Triggers::ActiveSet {
    std::vector<WorkflowRecord> records;
    std::pair<long long, long long> signature;
    std::map<std::string, std::string> secrets;  ///< vault name -> webhook secret of the active workflows
};

namespace {
Triggers::ActiveSet load_active(Store& store, const Vault& vault, soci::session& s) {
    Triggers::ActiveSet a;
    a.signature = store.active_signature(s);
    a.records = store.list_workflows(s, true);
    for (const auto& w : a.records)
        for (const auto& name : vault.names(s, kVaultOwner, webhook_secret_prefix(w.id)))
            if (auto v = vault.get(s, kVaultOwner, name)) a.secrets[name] = std::move(*v);
    return a;
}
}  // namespace

void Triggers::apply(const ActiveSet& set) {
    std::vector<std::shared_ptr<const WorkflowVersion>> active;
    for (const auto& w : set.records)
        if (auto v = parser_(w.id, w.version, w.definition)) active.push_back(v);
    install(std::move(active), set.secrets);
    std::unique_lock lk(m_);
    signature_ = set.signature;
}

void Triggers::reload_now() {
    apply(db_.with_session([&](soci::session& s) { return load_active(store_, vault_, s); }));
}

asio::awaitable<void> Triggers::reload() {
    Store* store = &store_;
    const Vault* vault = &vault_;
    auto q = [store, vault](soci::session& s) { return load_active(*store, *vault, s); };
    auto set = co_await db_.run(std::move(q));
    apply(set);
}

asio::awaitable<void> Triggers::refresh_if_changed() {
    Store* store = &store_;
    auto q = [store](soci::session& s) { return store->active_signature(s); };
    auto sig = co_await db_.run(std::move(q));
    bool changed;
    {
        std::shared_lock lk(m_);
        changed = sig != signature_;
    }
    if (changed) co_await reload();
}

std::optional<HookTarget> Triggers::find_hook(std::string_view method, std::string_view path) const {
    std::string key;
    key.reserve(method.size() + 1 + path.size());
    key.append(method).append(" ").append(path);
    std::shared_lock lk(m_);
    auto it = hooks_.find(key);
    if (it == hooks_.end()) return std::nullopt;
    return it->second;
}

std::map<std::string, std::string> Triggers::hooks_of_others(const std::string& except_id) const {
    std::map<std::string, std::string> out;
    std::shared_lock lk(m_);
    for (const auto& [k, h] : hooks_)
        if (h.wf->id != except_id) out[k] = h.wf->id;
    return out;
}

asio::awaitable<int> Triggers::tick(std::int64_t now) {
    std::vector<Cron> crons;
    {
        std::shared_lock lk(m_);
        crons = crons_;
    }
    int fired = 0;
    for (auto& c : crons) {
        const auto& trig = c.wf->def->triggers[c.index];
        if (!trig.schedule) continue;
        std::vector<std::int64_t> fires;
        if (!c.initialized) {
            Store* store = &store_;
            auto id = c.wf->id;
            int index = c.index;
            auto q = [store, id, index](soci::session& s) { return store->cron_last_fire(s, id, index); };
            long long last = co_await db_.run(std::move(q));
            c.initialized = true;
            if (trig.missed_run_once && last > 0) {
                auto missed = trig.schedule->next_after(last);
                if (missed > 0 && missed <= now) fires.push_back(missed);
            }
            c.next = trig.schedule->next_after(now - 1);
            if (last > 0 && c.next <= last) c.next = trig.schedule->next_after(last);
        }
        if (c.next > 0 && c.next <= now) {
            // Several missed fires while this process was busy collapse into the latest one.
            std::int64_t fire = c.next;
            while (true) {
                auto n = trig.schedule->next_after(fire);
                if (n <= 0 || n > now) break;
                fire = n;
            }
            fires.push_back(fire);
            c.next = trig.schedule->next_after(now);
        }
        for (auto fire : fires) {
            StartRequest req;
            req.wf = c.wf;
            req.input = json::object{{"scheduled_at", format_rfc3339(fire)}};
            req.trigger_type = "cron";
            req.trigger = json::object{{"type", "cron"}, {"schedule", trig.schedule->text()}, {"scheduled_at", format_rfc3339(fire)}};
            req.idempotency_key = "cron:" + std::to_string(c.index) + ":" + std::to_string(fire);
            req.created_by = "trigger:cron:" + std::to_string(c.index);
            try {
                auto res = co_await engine_.start_run(std::move(req));
                if (!res.existing) ++fired;
            } catch (const Error& e) {
                // conflict: another instance started this fire; anything else is logged.
                if (e.code() != ErrorCode::conflict) log::warn("workflow", "cron fire of {} failed: {}", c.wf->id, e.detail());
            } catch (const std::exception& e) {
                log::warn("workflow", "cron fire of {} failed: {}", c.wf->id, e.what());
            }
            Store* store = &store_;
            auto id = c.wf->id;
            int index = c.index;
            auto q = [store, id, index, fire](soci::session& s) { store->set_cron_last_fire(s, id, index, fire); };
            co_await db_.run(std::move(q));
        }
    }
    // Write back computed schedule state (the set may have been reloaded meanwhile).
    std::unique_lock lk(m_);
    for (auto& c : crons_)
        for (const auto& u : crons)
            if (u.wf == c.wf && u.index == c.index) {
                c.next = u.next;
                c.initialized = u.initialized;
            }
    co_return fired;
}

}  // namespace arclight::workflow
