#include "modules/system/module.hpp"

#include "core/app/directory.hpp"
#include "core/app/periodic.hpp"
#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/http/router.hpp"
#include "core/log/log.hpp"
#include "core/time/time.hpp"
#include "core/ws/ws_hub.hpp"
#include "modules/system/store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <atomic>

namespace arclight::system {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

class SystemModule final : public Module {
public:
    explicit SystemModule(ModuleContext& ctx)
        : ctx_(ctx),
          store_(ctx.db),
          directory_(ctx.services.require<ModuleDirectory>()),
          heartbeat_(std::chrono::seconds(ctx.config.get_int("heartbeat_seconds"))),
          heartbeat_task_(ctx.io, "system") {
        ctx.ws.declare_topic("system", "system.read");
    }

    void register_routes(Router& r) override {
        r.add({"GET", "/api/v1/system/info", "system.read",
               "Version, uptime, database, modules with their health, and the live instances.",
               [this](HttpRequest&) -> asio::awaitable<HttpResponse> {
                   auto body = co_await info();
                   co_return HttpResponse::json(body);
               },
               false, "system", {}, info_schema()});
    }

    void start() override {
        char host[256] = {};
        gethostname(host, sizeof host - 1);
        auto now = now_ms();
        store_.register_self({ctx_.app.instance_id, host, ctx_.app.version, ctx_.app.started_at_ms, now},
                             now - 24 * 3600 * 1000);
        heartbeat_task_.start(heartbeat_, [this]() { return beat(); }, false);
    }

    void stop(std::chrono::steady_clock::time_point deadline) override {
        heartbeat_task_.stop(deadline);
        try {
            store_.remove(ctx_.app.instance_id);
        } catch (const std::exception& e) {
            log::warn("system", "could not remove instance record: {}", e.what());
        }
    }

    Health health() const override {
        if (db_ok_.load()) return Health::ok();
        return Health::degraded("the last heartbeat could not reach the database");
    }

private:
    asio::awaitable<json::object> info() {
        bool db_ok = co_await ctx_.db.ping_async();
        json::array mods;
        for (const auto& m : directory_.modules()) {
            mods.push_back({{"name", m.name},
                            {"description", m.description},
                            {"enabled", m.enabled},
                            {"health", {{"status", to_string(m.health.status)}, {"reason", m.health.reason}}}});
        }
        json::array instances;
        if (db_ok) {
            auto since = now_ms() - 3 * std::chrono::duration_cast<std::chrono::milliseconds>(heartbeat_).count();
            auto live = co_await store_.list_live(since);
            for (const auto& i : live) {
                instances.push_back({{"id", i.id},
                                     {"hostname", i.hostname},
                                     {"version", i.version},
                                     {"started_at", format_rfc3339(i.started_at_ms)},
                                     {"last_seen_at", format_rfc3339(i.last_seen_at_ms)},
                                     {"self", i.id == ctx_.app.instance_id}});
            }
        }
        auto now = now_ms();
        co_return json::object{{"name", "arclight"},
                               {"version", ctx_.app.version},
                               {"instance_id", ctx_.app.instance_id},
                               {"started_at", format_rfc3339(ctx_.app.started_at_ms)},
                               {"uptime_seconds", (now - ctx_.app.started_at_ms) / 1000},
                               {"database", {{"backend", ctx_.db.backend_name()}, {"ok", db_ok}}},
                               {"modules", std::move(mods)},
                               {"instances", std::move(instances)}};
    }

    asio::awaitable<void> beat() {
        try {
            co_await store_.touch(ctx_.app.instance_id, now_ms());
            db_ok_ = true;
        } catch (const std::exception& e) {
            db_ok_ = false;
            log::warn("system", "heartbeat could not update the instance record: {}", e.what());
        }
        auto payload = co_await info();
        ctx_.bus.publish("system.heartbeat", std::move(payload));
    }

    static json::object info_schema() {
        return {{"type", "object"},
                {"required", json::array{"name", "version", "uptime_seconds", "database", "modules"}},
                {"properties",
                 {{"name", {{"type", "string"}}},
                  {"version", {{"type", "string"}}},
                  {"instance_id", {{"type", "string"}}},
                  {"started_at", {{"type", "string"}, {"format", "date-time"}}},
                  {"uptime_seconds", {{"type", "integer"}}},
                  {"database", {{"type", "object"}}},
                  {"modules", {{"type", "array"}}},
                  {"instances", {{"type", "array"}}}}}};
    }

    ModuleContext& ctx_;
    InstanceStore store_;
    ModuleDirectory& directory_;
    std::chrono::milliseconds heartbeat_;
    PeriodicTask heartbeat_task_;
    std::atomic<bool> db_ok_{true};
};

}  // namespace

ModuleDescriptor descriptor() {
    ModuleDescriptor d{"system",
            {},
            "Server information, module health and the instance heartbeat.",
            {{"heartbeat_seconds", std::int64_t{5},
              "Seconds between system.heartbeat events (and instance liveness updates).", int_range(1, 3600)}},
            [](ModuleContext& ctx) { return std::make_unique<SystemModule>(ctx); }};
    d.permissions = {
        {"system.read", "See server information, module health, instances and the heartbeat.", {"editor", "operator", "viewer"}, true},
    };
    return d;
}

}  // namespace arclight::system
