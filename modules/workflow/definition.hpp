#pragma once
// Workflow definitions: parsing and validation (every error at once, each with a JSON pointer)
// into an immutable, compiled form the engine runs (templates compiled once, dependency indexes
// resolved). Format documented in docs/workflows.md.
#include "modules/workflow/api.hpp"
#include "modules/workflow/cron.hpp"
#include "core/expr/expr.hpp"
#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace arclight::workflow {

class ControlTask;

enum class ExecutionData { full, errors, none };
const char* to_string(ExecutionData);

struct RetryPolicy {
    int max_attempts = 1;             ///< 1 = no retry
    std::int64_t backoff_ms = 1000;   ///< first delay
    double factor = 2.0;
    std::int64_t max_backoff_ms = 60000;
    bool jitter = true;               ///< "full jitter" in [delay/2, delay]
    /// The wait before attempt `next_attempt` (2, 3, ...).
    std::int64_t delay_before(int next_attempt, double random01) const;
};

enum class OnError { fail, cont, branch };

struct TaskDef {
    std::string id;
    std::string type;
    boost::json::value config;            ///< as written
    expr::ValueTemplate config_template;        ///< compiled
    std::vector<std::string> depends_on;
    std::optional<expr::Expr> when;
    RetryPolicy retry;
    std::int64_t timeout_ms = 0;          ///< per attempt, 0 = the type's default
    OnError on_error = OnError::fail;
    std::string error_task;               ///< on_error = branch: the task that handles the failure
    bool join_any = false;                ///< run when any dependency succeeded (all finished)
    const TaskType* impl = nullptr;       ///< null for engine built-ins (delay, map, respond, ...)
    const ControlTask* control = nullptr; ///< the engine built-in (tasks/control_task.hpp), else null
    // Resolved indexes.
    std::vector<int> deps;
    std::vector<int> dependents;
    int handles_errors_of = -1;           ///< this task is the error branch of that task
    // map: the inner task.
    std::shared_ptr<TaskDef> map_task;
};

struct TriggerDef {
    std::string type;                     ///< manual | webhook | cron | event
    // webhook
    std::string method;                   ///< GET, POST, ...
    std::string path;                     ///< without leading slash
    bool respond_sync = false;
    std::int64_t respond_timeout_ms = 30000;
    /// Who may call it: a shared secret in a header ("header"), or an HMAC-SHA256 signature of the
    /// raw body, optionally with a signed timestamp and a replay window ("hmac"). Checked before a
    /// run starts (webhook_auth.hpp).
    struct Auth {
        std::string type;              ///< header | hmac
        std::string header;            ///< lower case
        std::string prefix;            ///< hmac: before the hex digest, e.g. "sha256="
        std::string secret;            ///< empty in a stored definition: the secret is in the vault
        std::string timestamp_header;  ///< hmac: lower case; signed as "<timestamp>.<body>"
        std::int64_t tolerance_s = 300;
    };
    std::optional<Auth> auth;
    /// Request headers kept in the run's trigger data (lower case): the default ones, the
    /// signature headers and the definition's "headers".
    std::vector<std::string> keep_headers;
    // cron
    std::optional<CronSchedule> schedule;
    bool missed_run_once = false;         ///< missed fires: "skip" (default) or "run_once"
    // event
    std::string topic;
    std::optional<expr::Expr> filter;
};

struct Definition {
    std::string name;
    std::string description;
    ExecutionData execution_data = ExecutionData::full;
    std::int64_t timeout_ms = 0;          ///< run timeout, 0 = none
    int concurrency = 0;                  ///< max parallel tasks in a run, 0 = unlimited
    boost::json::value input_schema;      ///< null = anything
    std::vector<TriggerDef> triggers;
    std::vector<TaskDef> tasks;           ///< topologically ordered as written
    std::unordered_map<std::string, int> index;
    bool active_requested = false;        ///< "active": true in the body
    bool has_respond = false;
    int find(std::string_view id) const {
        auto it = index.find(std::string(id));
        return it == index.end() ? -1 : it->second;
    }
};

/// Engine built-in task types (control tasks, not in the TaskTypes registry): their config schemas.
bool is_builtin_type(std::string_view type);
boost::json::value builtin_schema(std::string_view type);
std::vector<std::string> builtin_type_names();

/// A condition ("{{ expr }}" or a bare "expr") compiled; throws ExprError.
expr::Expr parse_condition_text(std::string_view text);
/// The same for a filter (an event trigger's or a wait's); its own error message.
expr::Expr parse_filter_text(std::string_view text);

/// Parses and validates. On success returns the definition; otherwise nullptr with every error
/// appended to `errors` (pointers into the submitted document, e.g. "/tasks/2/depends_on/0").
/// `stored`: a definition as saved, whose webhook secrets are in the vault (the placeholder
/// "********" stands in their place and leaves TriggerDef::Auth::secret empty); a submitted one
/// may not use the placeholder.
std::shared_ptr<const Definition> parse_definition(const boost::json::value& doc, const TaskTypes& types,
                                                   std::vector<FieldError>& errors, bool stored = false);

/// The definition document as stored (the submitted object minus server-owned keys).
boost::json::object stored_document(const boost::json::object& submitted);

}  // namespace arclight::workflow
