#include "modules/workflow/module.hpp"

#include "modules/auth/api.hpp"

// The workflow module: wiring only. Stores, compiled versions, the engine, the triggers and the
// service (service.hpp) are built here, the routes registered and the services offered.
#include "core/app/periodic.hpp"
#include "core/db/db.hpp"
#include "core/log/log.hpp"
#include "core/lua/process_runner.hpp"
#include "core/time/time.hpp"
#include "core/ws/ws_hub.hpp"
#include "modules/workflow/agent_task.hpp"
#include "modules/workflow/current_versions.hpp"
#include "modules/workflow/outcomes.hpp"
#include "modules/workflow/project_index.hpp"
#include "modules/workflow/retention.hpp"
#include "modules/workflow/routes.hpp"
#include "modules/workflow/service.hpp"
#include "modules/workflow/webhook_secrets.hpp"

namespace arclight::workflow {
namespace {

namespace asio = boost::asio;

class WorkflowModule final : public Module {
public:
    explicit WorkflowModule(ModuleContext& ctx)
        : ctx_(ctx),
          store_(ctx.db.backend() == DbBackend::sqlite),
          outcomes_(ctx.db.backend() == DbBackend::sqlite),
          scripts_(make_scripts(ctx.config)),
          http_(ctx.io, outbound_policy(ctx.config)),
          versions_(ctx.db, store_, types_, std::chrono::milliseconds(ctx.config.get_int("trigger_refresh_ms"))),
          engine_(ctx.db, ctx.bus, ctx.io, ctx.blocking, engine_options(ctx, &types_, &projects_), versions_.loader()),
          triggers_(ctx.db, store_, ctx.bus, engine_, versions_.parser(), ctx.vault),
          service_(ctx.db, store_, outcomes_, engine_, triggers_, versions_, types_, ctx.vault, projects_),
          cron_task_(ctx.io, "workflow-cron"),
          refresh_task_(ctx.io, "workflow-triggers"),
          retention_(ctx.db, system_clock(), ctx.config.get_int("retention_days")),
          retention_task_(ctx.io, "workflow-retention"),
          refresh_ms_(ctx.config.get_int("trigger_refresh_ms")) {
        add_builtin_types(types_, *scripts_, script_defaults(ctx.config), http_, ctx.bus, ctx.db,
                          static_cast<int>(ctx.config.get_int("max_event_chain")));
        engine_.set_current_loader(versions_.current_loader());
        engine_.set_workflow_changed_handler([this](const std::string& id) { service_.changed_elsewhere(id); });
        service_.set_retention_days(retention_.days());
        ctx.services.provide<TaskTypes>(&types_);
        ctx.services.provide<WorkflowService>(&service_);
        ctx.ws.declare_topic("workflow", "runs.read", true);
    }

    void register_routes(Router& r) override {
        workflow::register_routes(r, service_, ctx_.services.find<auth::AuditLog>());
        // A project that still holds workflows is not deleted.
        if (auto* projects = ctx_.services.find<auth::ProjectRegistry>())
            projects->add_holder("workflows", [this](soci::session& s, const std::string& project) {
                return store_.count_workflows(s, project);
            });
    }

    void start() override {
        // The `agent` task exists when a module runs agents (every module is constructed by now).
        if (auto* runner = ctx_.services.find<AgentRunner>(); runner && !types_.find("agent"))
            types_.add(make_agent_task_type(*runner, ctx_.services.find<AgentSelector>()));
        // Definitions saved before the vault kept their webhook secrets in plain text.
        ctx_.db.with_session([this](soci::session& s) {
            move_plaintext_webhook_secrets(s, store_, ctx_.vault, ctx_.db.backend() == DbBackend::sqlite);
        });
        service_.load_projects();
        triggers_.reload_now();
        engine_.start();
        cron_task_.start(std::chrono::milliseconds(1000), [this]() -> asio::awaitable<void> {
            co_await triggers_.tick(now_ms());
        }, false);
        refresh_task_.start(std::chrono::milliseconds(refresh_ms_),
                            [this]() { return triggers_.refresh_if_changed(); }, false);
        if (retention_.days() > 0)
            retention_task_.start(std::chrono::minutes(10), [this]() -> asio::awaitable<void> {
                co_await retention_.sweep();
            }, true);
    }

    void stop(std::chrono::steady_clock::time_point deadline) override {
        retention_.stop();
        retention_task_.stop(deadline);
        cron_task_.stop(deadline);
        refresh_task_.stop(deadline);
        engine_.stop(deadline);
    }

    Health health() const override {
        // A writer that cannot commit keeps every change and retries; meanwhile new runs get 503.
        // A full disk or read-only SQLite file fails readiness (/readyz 503) until writes work again.
        auto st = engine_.stats();
        if (st.write_failure.empty()) return Health::ok();
        auto why = "state changes cannot be committed (retrying): " + st.write_failure;
        return st.storage_failure ? Health::failed(why) : Health::degraded(why);
    }

private:
    static net::OutboundPolicy outbound_policy(const ConfigSection& c) {
        net::OutboundPolicy p;
        p.allow = c.get_list("http_allow");
        p.default_timeout_ms = static_cast<int>(c.get_int("http_timeout_ms"));
        p.max_redirects = static_cast<int>(c.get_int("http_max_redirects"));
        p.max_response_bytes = static_cast<std::size_t>(c.get_int("http_max_response_mb")) << 20;
        return p;
    }
    static ScriptDefaults script_defaults(const ConfigSection& c) {
        ScriptDefaults sd;
        sd.limits.max_instructions = c.get_int("script_max_instructions");
        sd.limits.cpu_ms = static_cast<int>(c.get_int("script_cpu_ms"));
        sd.limits.wall_ms = static_cast<int>(c.get_int("script_wall_ms"));
        sd.limits.memory_bytes = static_cast<std::size_t>(c.get_int("script_memory_mb")) << 20;
        sd.inline_ms = static_cast<int>(c.get_int("script_inline_ms"));
        // A worker round trip would hold an I/O thread: in process mode every script goes to the
        // compute pool, whose threads wait for the workers.
        sd.always_offload = c.get_string("script_isolation") == "process";
        return sd;
    }
    // workflow.script_isolation: "thread" runs scripts in this process, "process" in a pool of
    // sandboxed worker processes (core/lua/process_runner.hpp).
    static std::unique_ptr<lua::ScriptExecutor> make_scripts(const ConfigSection& c) {
        if (c.get_string("script_isolation") != "process") return std::make_unique<lua::ScriptRunner>(8);
        lua::ProcessRunnerOptions o;
        o.workers = static_cast<std::size_t>(c.get_int("script_workers"));
        o.memory_bytes = static_cast<std::size_t>(c.get_int("script_memory_mb")) << 20;
        o.on_warning = [](const std::string& w) { log::warn("workflow", "{}", w); };
        return std::make_unique<lua::ProcessScriptRunner>(std::move(o));
    }
    static EngineOptions engine_options(ModuleContext& ctx, const TaskTypes* types, const ProjectIndex* projects) {
        EngineOptions o;
        o.types = types;
        o.instance_id = ctx.app.instance_id;
        o.lease_ms = ctx.config.get_int("lease_ms");
        o.poll_ms = ctx.config.get_int("poll_ms");
        o.max_batch = static_cast<std::size_t>(ctx.config.get_int("max_batch"));
        o.pg_writers = static_cast<std::size_t>(ctx.config.get_int("pg_writers"));
        o.relay = &ctx.relay;
        o.max_active_runs = static_cast<std::size_t>(ctx.config.get_int("max_active_runs"));
        o.max_queued_changes = static_cast<std::size_t>(ctx.config.get_int("max_queued_changes"));
        o.start_timeout_ms = ctx.config.get_int("start_timeout_ms");
        o.event_retention_ms = ctx.config.get_int("event_retention_days") * 86400000LL;
        o.max_context_bytes = static_cast<std::size_t>(ctx.config.get_int("max_context_mb")) << 20;
        o.max_map_items = static_cast<std::size_t>(ctx.config.get_int("max_map_items"));
        o.compute = &ctx.compute;
        o.projects = projects;
        return o;
    }

    ModuleContext& ctx_;
    Store store_;
    OutcomeStore outcomes_;
    TaskTypeRegistry types_;
    ProjectIndex projects_;
    std::unique_ptr<lua::ScriptExecutor> scripts_;
    net::HttpClient http_;
    Versions versions_;
    Engine engine_;
    Triggers triggers_;
    Workflows service_;
    PeriodicTask cron_task_;
    PeriodicTask refresh_task_;
    Retention retention_;
    PeriodicTask retention_task_;
    std::int64_t refresh_ms_;
};

}  // namespace

ModuleDescriptor descriptor() {
    ModuleDescriptor d{"workflow",
            {"auth"},  // its audit log
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
                {"max_queued_changes", std::int64_t{100000},
                 "State changes a writer may have waiting for the database (its batch being committed included); "
                 "beyond it new runs answer 503 with Retry-After at once (the database is away or slow), so memory "
                 "stays bounded.",
                 int_range(1, 100000000)},
                {"start_timeout_ms", std::int64_t{10000},
                 "How long starting a durable run waits for its first commit before answering 503 with Retry-After "
                 "(the run may still be recorded: retry with an Idempotency-Key). Once the database has been failing "
                 "commits for longer than this, new runs answer 503 at once.",
                 int_range(100, 600000)},
                {"retention_days", std::int64_t{30},
                 "Finished runs (succeeded, failed, cancelled) and their tasks are deleted this many days after they "
                 "finished; 0 keeps every run. Runs not finished, and child runs a waiting parent still needs, are "
                 "never deleted. Deletion runs in the background in small batches (every 10 minutes); on SQLite the "
                 "space goes back to the file system.",
                 int_range(0, 36500)},
                {"event_retention_days", std::int64_t{7},
                 "How long the events workflows emit stay recorded in the database, where waiting wait_for_event "
                 "tasks find them (after a restart, on another instance, when the bus dropped them). Older ones are "
                 "deleted in small batches.",
                 int_range(1, 3650)},
                {"max_event_chain", std::int64_t{8},
                 "Runs that may start one another through events (an emit starting an event-triggered run, whose "
                 "emit starts the next...). The emit of the last one fails its run with a clear error instead of "
                 "publishing, so a workflow that triggers itself stops. Child runs continue their parent's chain.",
                 int_range(1, 1000)},
                {"max_context_mb", std::int64_t{16},
                 "Largest context a run may build up (its input, trigger and the outputs of its tasks, counted as "
                 "JSON text). A task whose output would pass it fails, saying so, instead of the server running out "
                 "of memory.",
                 int_range(1, 4096)},
                {"max_map_items", std::int64_t{10000},
                 "Most items one map task may fan out over; a longer list fails the task, saying so.",
                 int_range(1, 10000000)},
                {"trigger_refresh_ms", std::int64_t{2000},
                 "How often an instance checks whether another instance changed the active workflows.",
                 int_range(100, 3600000)},
                {"script_max_instructions", std::int64_t{50000000}, "Lua instructions a script task may execute per attempt.",
                 int_range(1000, 10000000000)},
                {"script_cpu_ms", std::int64_t{1000}, "CPU time a script task may use per attempt.", int_range(1, 600000)},
                {"script_wall_ms", std::int64_t{2000}, "Wall-clock time a script task may take per attempt.",
                 int_range(1, 600000)},
                {"script_memory_mb", std::int64_t{32}, "Lua heap a script task may allocate.", int_range(1, 4096)},
                {"script_inline_ms", std::int64_t{1},
                 "Script tasks run on the compute threads (server.compute_threads), never holding up an I/O thread "
                 "for long: a script first gets this much CPU time inline (most finish in microseconds, without a "
                 "thread hop); one that needs more runs again from the start on a compute thread, and its code goes "
                 "there directly from then on. 0 sends every script to the compute threads.",
                 int_range(0, 100)},
                {"script_isolation", std::string("thread"),
                 "Where script tasks run: \"thread\" in the server process; \"process\" in a pool of sandboxed "
                 "worker processes (rlimits, no descriptors but a pipe, seccomp where the kernel has it), for "
                 "scripts you do not trust. Costs a round trip per run's batch of scripts.",
                 one_of({"thread", "process"})},
                {"script_workers", std::int64_t{0},
                 "Worker processes when script_isolation = \"process\"; 0 means one per CPU core.", int_range(0, 256)},
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
        {"runs.read", "See runs, their tasks, their live events and the outcome feed.", {"editor", "operator", "viewer"}},
        {"runs.start", "Start, retry and re-run runs; approve or reject their approval tasks.", {"editor", "operator"}},
        {"runs.cancel", "Cancel runs that have not finished.", {"editor", "operator"}},
    };
    return d;
}

}  // namespace arclight::workflow
