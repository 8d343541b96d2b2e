#include "modules/workflow/module.hpp"

#include "core/app/periodic.hpp"
#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/log/log.hpp"
#include "core/time/time.hpp"
#include "core/ws/ws_hub.hpp"
#include "modules/workflow/agent_task.hpp"
#include "modules/workflow/internal.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>
#include <soci/soci.h>

#include <map>
#include <mutex>

namespace arclight::workflow {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

class WorkflowModule final : public Module {
public:
    explicit WorkflowModule(ModuleContext& ctx)
        : ctx_(ctx),
          store_(ctx.db.backend() == DbBackend::sqlite),
          scripts_(8),
          http_(ctx.io, outbound_policy(ctx.config)),
          current_(std::chrono::milliseconds(ctx.config.get_int("trigger_refresh_ms"))),
          engine_(ctx.db, ctx.bus, ctx.io, ctx.blocking, engine_options(ctx, &types_), [this](const std::string& id, int v) {
              return load_version(id, v);
          }),
          triggers_(ctx.db, store_, ctx.bus, engine_,
                    [this](const std::string& id, int v, const std::string& d) { return compile(id, v, d); }),
          shared_{ctx.db, store_, engine_, triggers_, types_,
                  [this](const std::string& id, int v, const std::string& d) { return compile(id, v, d); },
                  [this](const std::string& id, int v) { return load_version(id, v); }, current_},
          cron_task_(ctx.io, "workflow-cron"),
          refresh_task_(ctx.io, "workflow-triggers"),
          refresh_ms_(ctx.config.get_int("trigger_refresh_ms")) {
        ScriptDefaults sd;
        sd.limits.max_instructions = ctx.config.get_int("script_max_instructions");
        sd.limits.cpu_ms = static_cast<int>(ctx.config.get_int("script_cpu_ms"));
        sd.limits.wall_ms = static_cast<int>(ctx.config.get_int("script_wall_ms"));
        sd.limits.memory_bytes = static_cast<std::size_t>(ctx.config.get_int("script_memory_mb")) << 20;
        add_builtin_types(types_, scripts_, sd, http_, ctx.bus);
        ctx.services.provide<TaskTypes>(&types_);
        engine_.set_current_loader([this](const std::string& id) -> std::shared_ptr<const WorkflowVersion> {
            auto rec = ctx_.db.with_session([&](soci::session& s) { return store_.get_workflow(s, id); });
            return rec ? compile(rec->id, rec->version, rec->definition) : nullptr;
        });
        engine_.set_workflow_changed_handler([this](const std::string& id) {
            current_.forget(id);
            // Triggers follow at once instead of at the next refresh.
            auto body = [this]() -> asio::awaitable<void> {
                try {
                    co_await triggers_.reload();
                } catch (const std::exception& e) {
                    log::warn("workflow", "reloading triggers failed: {}", e.what());
                }
            };
            asio::co_spawn(ctx_.io, std::move(body), asio::detached);
        });
        ctx.ws.declare_topic("workflow", "runs.read");
    }

    void register_routes(Router& r) override { workflow::register_routes(r, shared_); }

    void start() override {
        // The `agent` task exists when a module runs agents (every module is constructed by now).
        if (auto* runner = ctx_.services.find<AgentRunner>(); runner && !types_.find("agent"))
            types_.add(make_agent_task_type(*runner, ctx_.services.find<AgentSelector>()));
        triggers_.reload_now();
        engine_.start();
        cron_task_.start(std::chrono::milliseconds(1000), [this]() -> asio::awaitable<void> {
            co_await triggers_.tick(now_ms());
        }, false);
        refresh_task_.start(std::chrono::milliseconds(refresh_ms_),
                            [this]() { return triggers_.refresh_if_changed(); }, false);
    }

    void stop(std::chrono::steady_clock::time_point deadline) override {
        cron_task_.stop(deadline);
        refresh_task_.stop(deadline);
        engine_.stop(deadline);
    }

    Health health() const override { return Health::ok(); }

private:
    static net::OutboundPolicy outbound_policy(const ConfigSection& c) {
        net::OutboundPolicy p;
        p.allow = c.get_list("http_allow");
        p.default_timeout_ms = static_cast<int>(c.get_int("http_timeout_ms"));
        p.max_redirects = static_cast<int>(c.get_int("http_max_redirects"));
        p.max_response_bytes = static_cast<std::size_t>(c.get_int("http_max_response_mb")) << 20;
        return p;
    }
    static EngineOptions engine_options(ModuleContext& ctx, const TaskTypes* types) {
        EngineOptions o;
        o.types = types;
        o.instance_id = ctx.app.instance_id;
        o.lease_ms = ctx.config.get_int("lease_ms");
        o.poll_ms = ctx.config.get_int("poll_ms");
        o.max_batch = static_cast<std::size_t>(ctx.config.get_int("max_batch"));
        o.pg_writers = static_cast<std::size_t>(ctx.config.get_int("pg_writers"));
        o.max_active_runs = static_cast<std::size_t>(ctx.config.get_int("max_active_runs"));
        return o;
    }

    std::shared_ptr<const WorkflowVersion> compile(const std::string& id, int version, const std::string& definition) {
        {
            std::lock_guard lk(cache_m_);
            auto it = cache_.find({id, version});
            if (it != cache_.end()) return it->second;
        }
        boost::system::error_code ec;
        auto doc = json::parse(definition, ec);
        if (ec) return nullptr;
        std::vector<FieldError> errors;
        auto def = parse_definition(doc, types_, errors);
        if (!def) {
            log::warn("workflow", "workflow {} version {} no longer validates: {}", id, version,
                      errors.empty() ? "" : errors.front().pointer + " " + errors.front().message);
            return nullptr;
        }
        auto wf = std::make_shared<WorkflowVersion>();
        wf->id = id;
        wf->version = version;
        wf->def = std::move(def);
        std::lock_guard lk(cache_m_);
        if (cache_.size() > 2000) cache_.clear();
        cache_[{id, version}] = wf;
        return wf;
    }

    // Blocking (engine claim path and routes through Db::run).
    std::shared_ptr<const WorkflowVersion> load_version(const std::string& id, int version) {
        {
            std::lock_guard lk(cache_m_);
            auto it = cache_.find({id, version});
            if (it != cache_.end()) return it->second;
        }
        auto def = ctx_.db.with_session([&](soci::session& s) { return store_.version_definition(s, id, version); });
        if (!def) return nullptr;
        return compile(id, version, *def);
    }

    ModuleContext& ctx_;
    Store store_;
    TaskTypeRegistry types_;
    lua::ScriptRunner scripts_;
    net::HttpClient http_;
    CurrentVersions current_;
    Engine engine_;
    Triggers triggers_;
    Shared shared_;
    PeriodicTask cron_task_;
    PeriodicTask refresh_task_;
    std::int64_t refresh_ms_;
    std::mutex cache_m_;
    std::map<std::pair<std::string, int>, std::shared_ptr<const WorkflowVersion>> cache_;
};

}  // namespace

ModuleDescriptor descriptor() {
    ModuleDescriptor d{"workflow",
            {},
            "Durable DAG workflows: definitions, runs, webhooks, cron and event triggers, script/http/map/delay tasks.",
            {
                {"lease_ms", std::int64_t{30000},
                 "How long an instance's claim on a run lasts without renewal. A run whose owner died is resumed by "
                 "another instance (or this one after a restart) once its lease lapses; on SQLite a restart resumes at "
                 "once.",
                 int_range(500, 3600000)},
                {"poll_ms", std::int64_t{1000}, "How often an instance looks for runs to claim (queued, lapsed, timers due).",
                 int_range(10, 60000)},
                {"max_batch", std::int64_t{512}, "Most state changes committed in one transaction (group commit).",
                 int_range(1, 100000)},
                {"pg_writers", std::int64_t{4},
                 "On PostgreSQL: state writers, each with its own connection, committing batches in parallel (a run "
                 "always uses the same one). SQLite always uses one.",
                 int_range(1, 64)},
                {"max_active_runs", std::int64_t{10000},
                 "Runs this instance executes at once before leaving queued runs to other instances.", int_range(1, 10000000)},
                {"trigger_refresh_ms", std::int64_t{2000},
                 "How often an instance checks whether another instance changed the active workflows.",
                 int_range(100, 3600000)},
                {"script_max_instructions", std::int64_t{50000000}, "Lua instructions a script task may execute per attempt.",
                 int_range(1000, 10000000000)},
                {"script_cpu_ms", std::int64_t{1000}, "CPU time a script task may use per attempt.", int_range(1, 600000)},
                {"script_wall_ms", std::int64_t{2000}, "Wall-clock time a script task may take per attempt.",
                 int_range(1, 600000)},
                {"script_memory_mb", std::int64_t{32}, "Lua heap a script task may allocate.", int_range(1, 4096)},
                {"http_allow", std::vector<std::string>{},
                 "Addresses (CIDR or single) and host names the http task may reach although the SSRF guard refuses "
                 "them (loopback, private, link-local, metadata). Example: [\"10.20.0.0/16\", \"localhost\"]."},
                {"http_timeout_ms", std::int64_t{30000}, "Default timeout of an http task request.", int_range(1, 3600000)},
                {"http_max_redirects", std::int64_t{5}, "Redirects an http task follows.", int_range(0, 20)},
                {"http_max_response_mb", std::int64_t{10}, "Largest response body an http task accepts.", int_range(1, 1024)},
            },
            [](ModuleContext& ctx) { return std::make_unique<WorkflowModule>(ctx); }};
    d.permissions = {
        {"flows.read", "See workflows, their versions and task types.", {"editor", "operator", "viewer"}},
        {"flows.write", "Create, change, activate and delete workflows.", {"editor"}},
        {"runs.read", "See runs, their tasks and their live events.", {"editor", "operator", "viewer"}},
        {"runs.start", "Start, retry and re-run runs; approve or reject their approval tasks.", {"editor", "operator"}},
        {"runs.cancel", "Cancel runs that have not finished.", {"editor", "operator"}},
    };
    return d;
}

}  // namespace arclight::workflow
