#pragma once
// The workflow module's use cases: definitions (create, update, delete, activate), runs (start,
// read, list, cancel, retry, rerun, decide), the outcome feed, task types and engine counters.
// Routes parse and map; every SQL statement is in a store (store.cpp, outcomes.cpp); the engine
// executes runs. Offered to other modules as WorkflowService (api.hpp).
#include "core/http/project_scope.hpp"
#include "modules/workflow/api.hpp"
#include "modules/workflow/current_versions.hpp"
#include "modules/workflow/engine.hpp"
#include "modules/workflow/executors.hpp"
#include "modules/workflow/outcomes.hpp"
#include "modules/workflow/project_index.hpp"
#include "modules/workflow/store.hpp"
#include "modules/workflow/triggers.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace arclight {
class Db;
class Vault;
}

namespace arclight::workflow {

/// One live trigger of an active workflow, for GET /api/v1/workflows/triggers: a webhook (method,
/// path as in the definition, served at /hooks/<path>) or a cron schedule and its next fire.
struct TriggerListing {
    std::string workflow_id, workflow_name;
    std::string type;              ///< webhook | cron
    std::string method, path;      ///< webhook
    std::string cron;              ///< cron: the schedule as written
    std::int64_t next_fire_ms = -1;  ///< cron: the first fire after now (UTC epoch ms); -1 when none within 8 years
};

/// Who does something, as runs and versions record it: "user:<id>" (a session), "api_key:<id>",
/// or "anonymous" (no principal: auth disabled, or an internal caller).
std::string created_by(const Principal* principal);

class Workflows final : public WorkflowService {
public:
    Workflows(Db& db, Store& store, OutcomeStore& outcomes, Engine& engine, Triggers& triggers, Versions& versions,
              const TaskTypeRegistry& types, const Vault& vault, ProjectIndex& projects);

    // ---- definitions ----
    /// Parses and validates a submitted definition; throws 422 listing every error.
    std::shared_ptr<const Definition> validate(const boost::json::value& doc) const;
    /// The webhook and cron triggers of the active workflows `scope` reads (of `project` only,
    /// when given), by workflow name; cron fires are computed after `now_ms`.
    boost::asio::awaitable<std::vector<TriggerListing>> active_triggers(const ProjectScope& scope, std::optional<std::string> project,
                                                                        std::int64_t now_ms);
    /// The workflows of the projects `scope` reaches (of `project` only, when given).
    boost::asio::awaitable<std::vector<WorkflowRecord>> list_workflows(const ProjectScope& scope,
                                                                       std::optional<std::string> project = std::nullopt);
    /// Any workflow, whatever its project (internal callers); 404 when absent.
    boost::asio::awaitable<WorkflowRecord> get_workflow(std::string id);
    /// Version 1 in `project` ("" = the default project); "active": true makes its triggers live
    /// (409 when a webhook is taken).
    /// `scope`: a 409 for a webhook path already served names the workflow serving it only when
    /// the scope reaches that workflow's project.
    boost::asio::awaitable<WorkflowRecord> create_workflow(boost::json::value doc, std::string project = {}, ProjectScope scope = {});

    // ---- projects: the caller's scope admits each workflow and run (404 for another project's) ----
    /// The workflow when `scope` holds `permission` in its project.
    boost::asio::awaitable<WorkflowRecord> workflow_in(const ProjectScope& scope, std::string id, std::string_view permission);
    /// Admits an action needing `permission` on run `id` (its workflow's project).
    boost::asio::awaitable<void> run_in(const ProjectScope& scope, std::string id, std::string_view permission);
    /// Moves a workflow (and its runs' visibility) to `project`: an admin of both projects.
    boost::asio::awaitable<void> move_workflow(const ProjectScope& scope, std::string id, std::string project);
    /// Reads every workflow's project into the index the engine publishes with (at start; blocking).
    void load_projects();

    /// A new version; returns its number.
    boost::asio::awaitable<int> update_workflow(std::string id, boost::json::value doc, ProjectScope scope = {});
    boost::asio::awaitable<void> delete_workflow(std::string id);
    /// The saved versions of a workflow `scope` reads ("flows.read"), newest first.
    boost::asio::awaitable<std::vector<VersionRecord>> versions(const ProjectScope& scope, std::string id);
    /// One saved version with its definition (404 when the workflow or the version is absent).
    boost::asio::awaitable<VersionRecord> version(const ProjectScope& scope, std::string id, int version);
    /// Saves version `version`'s definition as a new version ("flows.write"); whether the workflow
    /// is active stays as it is. 422 when it no longer validates, or names a webhook secret that is
    /// no longer kept. Returns the new version's number.
    boost::asio::awaitable<int> restore_version(ProjectScope scope, std::string id, int version);
    boost::asio::awaitable<void> set_active(std::string id, bool active, ProjectScope scope = {});

    // ---- runs (WorkflowService) ----
    boost::asio::awaitable<StartedRun> start_run(RunStart request) override;
    boost::asio::awaitable<boost::json::object> get_run(std::string run_id) override;
    boost::asio::awaitable<RunPage> list_runs(RunQuery query) override;
    boost::asio::awaitable<void> cancel_run(std::string run_id) override;
    boost::asio::awaitable<OutcomePage> outcomes(std::string cursor, int limit) override;

    /// The feed limited to the projects `scope` reads runs in (a page may hold fewer than `limit`).
    boost::asio::awaitable<OutcomePage> outcomes_in(const ProjectScope& scope, std::string cursor, int limit);
    // ---- more on runs ----
    /// Back in the queue: a failed or cancelled recorded run (409 otherwise).
    boost::asio::awaitable<void> retry_run(std::string run_id);
    /// A new run of the workflow's current version with this run's input.
    boost::asio::awaitable<StartedRun> rerun(std::string run_id, std::string created_by);
    /// Decides a waiting approval task; `by` names the person deciding.
    boost::asio::awaitable<void> decide_approval(std::string run_id, std::string task_id, bool approved, std::string comment,
                                                 std::string by);

    // ---- webhooks ----
    std::optional<HookTarget> find_hook(std::string_view method, std::string_view path) const;
    /// Starts a run of the hook's workflow with what the request brought.
    boost::asio::awaitable<StartResult> start_hook(const HookTarget& hook, boost::json::value input, boost::json::object trigger,
                                                   std::shared_ptr<Responder> responder);

    // ---- task types and counters ----
    boost::json::array task_types() const;
    EngineStats stats() const;

    /// `workflow.retention_days` (0 = runs are kept): shown with the run list.
    void set_retention_days(std::int64_t days) noexcept { retention_days_ = days; }
    std::int64_t retention_days() const noexcept { return retention_days_; }

    /// Another instance changed workflow `id` (NOTIFY): forget its current version, reload triggers.
    void changed_elsewhere(const std::string& id);

private:
    /// Version `version` of workflow `id` as stored (404 when absent); the caller admitted it.
    boost::asio::awaitable<VersionRecord> stored_version(std::string id, int version);
    void check_hooks(const Definition& def, const std::string& self_id, const ProjectScope& scope) const;
    /// After a definition changed here: forget the current version, tell other instances, reload triggers.
    boost::asio::awaitable<void> changed_here(const std::string& id);
    boost::asio::awaitable<std::optional<RunRef>> find_by_key(std::string workflow_id, std::string key);
    static StartedRun same_request(const RunRef& existing, const boost::json::value& input);
    boost::asio::awaitable<StartedRun> start(std::shared_ptr<const WorkflowVersion> wf, boost::json::value input,
                                             std::optional<std::string> key, std::string created_by);

    Db& db_;
    const Vault& vault_;
    Store& store_;
    OutcomeStore& outcomes_;
    Engine& engine_;
    Triggers& triggers_;
    Versions& versions_;
    const TaskTypeRegistry& types_;
    ProjectIndex& projects_;
    std::int64_t retention_days_ = 0;
};

/// Ids in paths and filters: 1-64 of [A-Za-z0-9-].
bool valid_id(std::string_view id);

}  // namespace arclight::workflow
