#pragma once
// The workflow module's tables (schema/workflow): definitions and their versions, the run list
// and run detail queries, cron state. Blocking; called through Db::run.
#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace soci {
class session;
}

namespace arclight::workflow {

struct WorkflowRecord {
    std::string id, name;
    int version = 0;
    bool active = false;
    std::string definition;  ///< JSON text
    long long created_at = 0, updated_at = 0;
    std::string project_id;  ///< the project it belongs to (core/http/project_scope.hpp)
    std::string created_by;  ///< who saves this version ("user:<id>", "api_key:<id>"; written, not read back)
};

/// One saved version of a workflow (workflow_versions).
struct VersionRecord {
    int version = 0;
    long long created_at = 0;
    std::string created_by;  ///< "" for versions saved before it was recorded
    std::string definition;  ///< JSON text (only from get_version)
};

/// A stored definition text: the workflows row (current) or a workflow_versions row.
struct StoredDefinition {
    std::string workflow_id;
    int version = 0;
    bool current = false;
    std::string definition;
};

/// Runs inside a store method's transaction, before its commit (e.g. vault writes).
using InTransaction = std::function<void(soci::session&)>;

struct RunFilter {
    std::string status, workflow_id;
    long long since = 0, until = 0;  ///< created_at bounds, epoch ms (0 = open)
    int limit = 50;
    std::string before_id;           ///< cursor: runs created before this run
    std::optional<std::vector<std::string>> projects;  ///< only runs of these projects (nullopt: every project)
};

struct RunRef {
    std::string id, status;
    std::string input;  ///< the run's input as stored (JSON text)
};

class Store {
public:
    explicit Store(bool sqlite) : sqlite_(sqlite) {}
    /// `projects`: only workflows of these (nullopt: every project).
    std::vector<WorkflowRecord> list_workflows(soci::session& s, bool active_only,
                                               const std::optional<std::vector<std::string>>& projects = std::nullopt);
    /// Moves a workflow to another project (its runs follow); false when it does not exist.
    bool move_workflow(soci::session& s, const std::string& id, const std::string& project);
    std::size_t count_workflows(soci::session& s, const std::string& project);
    /// (workflow id, project) of every workflow.
    std::vector<std::pair<std::string, std::string>> workflow_projects(soci::session& s);
    /// The project of a run (its workflow's, or the one kept after the workflow was deleted).
    std::optional<std::string> run_project(soci::session& s, const std::string& run_id);
    std::optional<WorkflowRecord> get_workflow(soci::session& s, const std::string& id);
    /// Inserts version 1.
    void insert_workflow(soci::session& s, const WorkflowRecord& w, const InTransaction& also = {});
    /// Saves a new version; returns it (0 when the workflow does not exist; `also` not run).
    int update_workflow(soci::session& s, const std::string& id, const std::string& name, const std::string& definition,
                        std::optional<bool> active, const std::string& created_by, const InTransaction& also = {});
    /// Every saved version of a workflow, newest first (no definition texts).
    std::vector<VersionRecord> list_versions(soci::session& s, const std::string& id);
    std::optional<VersionRecord> get_version(soci::session& s, const std::string& id, int version);
    bool delete_workflow(soci::session& s, const std::string& id, const InTransaction& also = {});
    /// Every stored definition (workflows and workflow_versions rows) that may hold a webhook
    /// "auth" (the text contains it), in the caller's transaction.
    std::vector<StoredDefinition> definitions_with_auth(soci::session& s);
    /// Rewrites one stored definition's text (same row: id, version, current or not).
    void replace_definition(soci::session& s, const StoredDefinition& d);
    bool set_active(soci::session& s, const std::string& id, bool active);
    std::optional<std::string> version_definition(soci::session& s, const std::string& id, int version);
    /// Count and newest update of the active workflows (cheap change detection across instances).
    std::pair<long long, long long> active_signature(soci::session& s);

    boost::json::array list_runs(soci::session& s, const RunFilter& f);
    /// The stored run with its task rows ("tasks_rows"), or nullopt.
    std::optional<boost::json::object> get_run(soci::session& s, const std::string& id);
    std::optional<RunRef> find_by_idempotency(soci::session& s, const std::string& workflow_id, const std::string& key);

    long long cron_last_fire(soci::session& s, const std::string& workflow_id, int trigger_index);
    void set_cron_last_fire(soci::session& s, const std::string& workflow_id, int trigger_index, long long at);

private:
    bool sqlite_;
};

}  // namespace arclight::workflow
