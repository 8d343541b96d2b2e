#include "modules/workflow/service.hpp"

#include "modules/workflow/run.hpp"

#include "modules/workflow/webhook_auth.hpp"
#include "modules/workflow/webhook_secrets.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include "core/db/db.hpp"
#include "core/json/compare.hpp"
#include "core/log/log.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "core/util/text.hpp"
#include "core/vault/vault.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <set>

namespace arclight::workflow {

std::string created_by(const Principal* p) {
    if (!p) return "anonymous";
    if (p->via == Principal::Via::api_key) return "api_key:" + p->credential_id;
    return "user:" + p->user_id;
}
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

Error definition_error(std::vector<FieldError> errors) {
    auto n = errors.size();
    return Error(ErrorCode::validation_failed,
                 "the workflow definition has " + std::to_string(n) + (n == 1 ? " error" : " errors"), std::move(errors));
}

// The API view of a stored run: every task of its definition version, in definition order.
json::object run_view(json::object run, const WorkflowVersion* wf) {
    json::object rows = run["tasks_rows"].as_object();
    run.erase("tasks_rows");
    run.erase("trigger_data");
    std::string run_status(run["status"].as_string());
    bool run_final = run_status == "succeeded" || run_status == "failed" || run_status == "cancelled";
    json::array tasks;
    // Runs of deleted workflows and of decompose plans have no workflows row: name them from
    // their definition.
    if (wf && run["workflow_name"].is_string() && run["workflow_name"].as_string().empty()) run["workflow_name"] = wf->def->name;
    if (wf) {
        for (const auto& td : wf->def->tasks) {
            json::array deps;
            for (const auto& d : td.depends_on) deps.push_back(json::string(d));
            if (auto* row = rows.if_contains(td.id)) {
                json::object t = row->as_object();
                t.erase("instance");
                t["depends_on"] = std::move(deps);
                tasks.push_back(std::move(t));
            } else {
                // No row: never started (or a pure task whose completion is still in flight).
                std::string st = run_final ? (run_status == "succeeded" ? "skipped" : "cancelled") : "pending";
                tasks.push_back(json::object{{"id", td.id},
                                             {"type", td.type},
                                             {"status", st},
                                             {"attempts", 0},
                                             {"input", nullptr},
                                             {"output", nullptr},
                                             {"error", nullptr},
                                             {"started_at", nullptr},
                                             {"finished_at", nullptr},
                                             {"depends_on", std::move(deps)},
                                             {"agent", nullptr},
                                             {"cost", 0}});
            }
        }
    } else {
        for (auto& [k, v] : rows) tasks.push_back(v);
    }
    run["tasks"] = std::move(tasks);
    fill_response(run);
    return run;
}

// A run held in memory, as the API shows it.
json::object live_view(json::object live) {
    live.erase("durable");
    live.erase("execution_data");
    return live;
}

}  // namespace

bool valid_id(std::string_view id) {
    return !id.empty() && id.size() <= 64 &&
           std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
}

Workflows::Workflows(Db& db, Store& store, OutcomeStore& outcomes, Engine& engine, Triggers& triggers, Versions& versions,
                     const TaskTypeRegistry& types, const Vault& vault, ProjectIndex& projects)
    : db_(db), vault_(vault), store_(store), outcomes_(outcomes), engine_(engine), triggers_(triggers), versions_(versions), types_(types),
      projects_(projects) {}

void Workflows::load_projects() {
    projects_.replace_all(db_.with_session([this](soci::session& s) { return store_.workflow_projects(s); }));
}

// ---- definitions ---------------------------------------------------------------------------

std::shared_ptr<const Definition> Workflows::validate(const json::value& doc) const {
    std::vector<FieldError> errors;
    auto def = parse_definition(doc, types_, errors);
    if (!def) throw definition_error(std::move(errors));
    return def;
}

// A webhook another active workflow already serves -> 409.
void Workflows::check_hooks(const Definition& def, const std::string& self_id, const ProjectScope& scope) const {
    auto others = triggers_.hooks_of_others(self_id);
    for (std::size_t i = 0; i < def.triggers.size(); ++i) {
        const auto& t = def.triggers[i];
        if (t.type != "webhook") continue;
        auto it = others.find(t.method + " " + t.path);
        if (it == others.end()) continue;
        // Webhook paths are unique per instance; which workflow (and so which project) holds one
        // is said only to those who reach that workflow's project.
        if (scope.reaches(projects_.of(it->second)))
            throw Error(ErrorCode::conflict, "active workflow " + it->second + " already serves " + t.method + " /hooks/" + t.path,
                        {{"/triggers/" + std::to_string(i) + "/path", "already served by workflow " + it->second}});
        throw Error(ErrorCode::conflict, "another active workflow already serves " + t.method + " /hooks/" + t.path,
                    {{"/triggers/" + std::to_string(i) + "/path", "already served by another workflow"}});
    }
}

asio::awaitable<void> Workflows::changed_here(const std::string& id) {
    versions_.forget(id);
    engine_.announce_workflow_change(id);
    co_await triggers_.reload();
}

void Workflows::changed_elsewhere(const std::string& id) {
    versions_.forget(id);
    // Triggers follow at once instead of at the next refresh (and the index of projects: it may have moved).
    auto body = [this, id]() -> asio::awaitable<void> {
        try {
            auto q = [this, id](soci::session& s) { return store_.get_workflow(s, id); };
            if (auto rec = co_await db_.run(std::move(q))) projects_.set(rec->id, rec->project_id);
            co_await triggers_.reload();
        } catch (const std::exception& e) {
            log::warn("workflow", "reloading triggers failed: {}", e.what());
        }
    };
    asio::co_spawn(engine_.executor(), std::move(body), asio::detached);
}

asio::awaitable<std::vector<WorkflowRecord>> Workflows::list_workflows(const ProjectScope& scope,
                                                                      std::optional<std::string> project) {
    auto projects = scope.listable("flows.read", project);
    auto q = [this, projects](soci::session& s) { return store_.list_workflows(s, false, projects); };
    co_return co_await db_.run(std::move(q));
}

asio::awaitable<std::vector<TriggerListing>> Workflows::active_triggers(const ProjectScope& scope,
                                                                        std::optional<std::string> project, std::int64_t now_ms) {
    auto projects = scope.listable("flows.read", project);
    auto q = [this, projects, now_ms](soci::session& s) {
        std::vector<TriggerListing> out;
        for (const auto& rec : store_.list_workflows(s, true, projects)) {
            // Compiled as the trigger set compiles it (cached per version): methods and paths normalized.
            auto wf = versions_.compile(rec.id, rec.version, rec.definition);
            if (!wf) continue;  // no longer validates: its triggers are not live either
            for (const auto& t : wf->def->triggers) {
                TriggerListing l;
                l.workflow_id = rec.id;
                l.workflow_name = rec.name;
                l.type = t.type;
                if (t.type == "webhook") {
                    l.method = t.method;
                    l.path = t.path;
                } else if (t.type == "cron" && t.schedule) {
                    l.cron = t.schedule->text();
                    l.next_fire_ms = t.schedule->next_after(now_ms);
                } else {
                    continue;
                }
                out.push_back(std::move(l));
            }
        }
        return out;
    };
    co_return co_await db_.run(std::move(q));
}

// ---- projects ------------------------------------------------------------------------------
// Every workflow is looked up through the caller's scope: another project's answers 404.

asio::awaitable<WorkflowRecord> Workflows::workflow_in(const ProjectScope& scope, std::string id, std::string_view permission) {
    auto rec = co_await get_workflow(id);
    scope.require(rec.project_id, permission, "no workflow " + id);
    co_return rec;
}

asio::awaitable<void> Workflows::run_in(const ProjectScope& scope, std::string id, std::string_view permission) {
    if (scope.unrestricted()) co_return;
    if (!valid_id(id)) throw Error(ErrorCode::not_found, "no run " + id);
    auto q = [this, id](soci::session& s) { return store_.run_project(s, id); };
    auto project = co_await db_.run(std::move(q));
    if (!project) {
        // A run not recorded (execution data "none", or not committed yet): its workflow's project.
        // A run leaves memory only once its last state is committed: not in memory now, it may
        // have been committed since the read above, so the database is asked again.
        auto live = co_await engine_.live_run(id);
        if (live) {
            project = projects_.of(std::string((*live)["workflow_id"].as_string()));
            if (project->empty()) project = std::string(kDefaultProject);
        } else {
            auto again = [this, id](soci::session& s) { return store_.run_project(s, id); };
            project = co_await db_.run(std::move(again));
        }
        if (!project) throw Error(ErrorCode::not_found, "no run " + id);
    }
    scope.require(*project, permission, "no run " + id);
}

asio::awaitable<void> Workflows::move_workflow(const ProjectScope& scope, std::string id, std::string project) {
    if (project.empty()) throw Error(ErrorCode::validation_failed, "\"project_id\" is required", {{"/project_id", "required"}});
    // An admin of both projects (or an instance admin).
    auto rec = co_await workflow_in(scope, id, "projects.manage");
    if (!scope.reaches(project))
        throw Error(ErrorCode::validation_failed, "no project " + project, {{"/project_id", "is not a project of yours"}});
    if (!scope.can(project, "projects.manage"))
        throw Error(ErrorCode::forbidden, "moving needs the permission \"projects.manage\" in both projects");
    auto q = [this, id, project](soci::session& s) { return store_.move_workflow(s, id, project); };
    if (!co_await db_.run(std::move(q))) throw Error(ErrorCode::not_found, "no workflow " + id);
    projects_.set(id, project);
    co_await changed_here(id);
}

asio::awaitable<WorkflowRecord> Workflows::get_workflow(std::string id) {
    if (!valid_id(id)) throw Error(ErrorCode::not_found, "no workflow " + id);
    auto q = [this, id](soci::session& s) { return store_.get_workflow(s, id); };
    auto rec = co_await db_.run(std::move(q));
    if (!rec) throw Error(ErrorCode::not_found, "no workflow " + id);
    co_return *rec;
}

asio::awaitable<WorkflowRecord> Workflows::create_workflow(json::value doc, std::string project, ProjectScope scope) {
    auto def = validate(doc);
    if (def->active_requested) check_hooks(*def, "", scope);
    WorkflowRecord w;
    w.id = new_uuid();
    w.name = def->name;
    w.version = 1;
    w.active = def->active_requested;
    w.project_id = project.empty() ? std::string(kDefaultProject) : std::move(project);
    // Webhook secrets go into the vault, in the same transaction; the stored text holds none.
    auto stored = stored_document(doc.as_object());
    auto secrets = take_webhook_secrets(stored);
    w.definition = json::serialize(stored);
    w.created_at = w.updated_at = now_ms();
    w.created_by = created_by(scope.principal());
    auto q = [this, w, secrets](soci::session& s) {
        store_.insert_workflow(s, w, [&](soci::session& tx) { save_webhook_secrets(tx, vault_, w.id, secrets); });
    };
    co_await db_.run(std::move(q));
    projects_.set(w.id, w.project_id);
    engine_.announce_workflow_change(w.id);  // other instances learn its project
    if (w.active) co_await triggers_.reload();
    co_return w;
}

asio::awaitable<int> Workflows::update_workflow(std::string id, json::value doc, ProjectScope scope) {
    auto rec = co_await get_workflow(id);
    // Webhook secrets are write-only: one sent back as the API showed it keeps the stored one
    // (read from the vault).
    if (doc.is_object()) {
        boost::system::error_code ec;
        auto previous = json::parse(rec.definition, ec);
        if (!ec && previous.is_object()) {
            auto keep = [this, id, &doc, &previous](soci::session& s) {
                keep_webhook_secrets(doc.as_object(), previous.as_object(),
                                     [&](const std::string& method, const std::string& path) {
                                         return vault_.get(s, kVaultOwner, webhook_secret_name(id, method, path));
                                     });
            };
            co_await db_.run(std::move(keep));
        }
    }
    auto def = validate(doc);
    std::optional<bool> active;
    if (doc.as_object().contains("active")) active = def->active_requested;
    if (active.value_or(rec.active)) check_hooks(*def, id, scope);
    auto stored = stored_document(doc.as_object());
    auto secrets = take_webhook_secrets(stored);
    auto text = json::serialize(stored);
    auto name = def->name;
    auto author = created_by(scope.principal());
    auto q = [this, id, name, text, active, secrets, author](soci::session& s) {
        return store_.update_workflow(s, id, name, text, active, author,
                                      [&](soci::session& tx) { save_webhook_secrets(tx, vault_, id, secrets); });
    };
    int version = co_await db_.run(std::move(q));
    if (version == 0) throw Error(ErrorCode::not_found, "no workflow " + id);
    co_await changed_here(id);
    co_return version;
}

asio::awaitable<void> Workflows::delete_workflow(std::string id) {
    if (!valid_id(id)) throw Error(ErrorCode::not_found, "no workflow " + id);
    auto q = [this, id](soci::session& s) {
        return store_.delete_workflow(s, id, [&](soci::session& tx) {
            vault_.remove_prefix(tx, kVaultOwner, webhook_secret_prefix(id));
        });
    };
    bool ok = co_await db_.run(std::move(q));
    if (!ok) throw Error(ErrorCode::not_found, "no workflow " + id);
    co_await changed_here(id);
}

asio::awaitable<std::vector<VersionRecord>> Workflows::versions(const ProjectScope& scope, std::string id) {
    co_await workflow_in(scope, id, "flows.read");
    auto q = [this, id](soci::session& s) { return store_.list_versions(s, id); };
    co_return co_await db_.run(std::move(q));
}

asio::awaitable<VersionRecord> Workflows::version(const ProjectScope& scope, std::string id, int version) {
    co_await workflow_in(scope, id, "flows.read");
    co_return co_await stored_version(std::move(id), version);
}

asio::awaitable<VersionRecord> Workflows::stored_version(std::string id, int version) {
    auto q = [this, id, version](soci::session& s) { return store_.get_version(s, id, version); };
    auto found = co_await db_.run(std::move(q));
    if (!found) throw Error(ErrorCode::not_found, "workflow " + id + " has no version " + std::to_string(version));
    co_return std::move(*found);
}

asio::awaitable<int> Workflows::restore_version(ProjectScope scope, std::string id, int version) {
    auto rec = co_await workflow_in(scope, id, "flows.write");
    auto old = co_await stored_version(id, version);  // admitted above: no second look at the workflow
    boost::system::error_code ec;
    auto doc = json::parse(old.definition, ec);
    if (ec || !doc.is_object())
        throw Error(ErrorCode::validation_failed, "version " + std::to_string(version) + " is not a stored definition");
    doc.as_object().erase("active");  // restoring changes what runs, not whether it runs
    auto current = json::parse(rec.definition, ec);
    auto unkept = unkept_webhook_secrets(doc.as_object(), !ec && current.is_object() ? current.as_object() : json::object());
    if (!unkept.empty()) {
        std::string list;
        for (const auto& w : unkept) list += (list.empty() ? "" : ", ") + w;
        throw Error(ErrorCode::validation_failed,
                    "version " + std::to_string(version) + " has webhook secrets that are no longer kept (" + list +
                        "): open it, set them and save it instead");
    }
    co_return co_await update_workflow(std::move(id), std::move(doc), std::move(scope));
}

asio::awaitable<void> Workflows::set_active(std::string id, bool active, ProjectScope scope) {
    auto rec = co_await get_workflow(id);
    if (active) {
        auto q0 = [this, rec](soci::session&) { return versions_.compile(rec.id, rec.version, rec.definition); };
        auto wf = co_await db_.run(std::move(q0));
        if (!wf) throw Error(ErrorCode::validation_failed, "the workflow's definition does not validate any more");
        check_hooks(*wf->def, id, scope);
    }
    auto q = [this, id, active](soci::session& s) { return store_.set_active(s, id, active); };
    co_await db_.run(std::move(q));
    co_await changed_here(id);
}

// ---- runs ----------------------------------------------------------------------------------

asio::awaitable<std::optional<RunRef>> Workflows::find_by_key(std::string workflow_id, std::string key) {
    auto q = [this, workflow_id, key](soci::session& s) { return store_.find_by_idempotency(s, workflow_id, key); };
    co_return co_await db_.run(std::move(q));
}

// A repeated request with an Idempotency-Key gets the first run; the key with another input is a
// client error (as Stripe answers), never silently the first run.
StartedRun Workflows::same_request(const RunRef& existing, const json::value& input) {
    boost::system::error_code ec;
    auto first = json::parse(existing.input, ec);
    if (ec || !json_equal(first, input))
        throw Error(ErrorCode::idempotency_key_reused,
                    "this Idempotency-Key was used for a different request (run " + existing.id + "); use a new key");
    return StartedRun{existing.id, existing.status, true};
}

asio::awaitable<StartedRun> Workflows::start(std::shared_ptr<const WorkflowVersion> wf, json::value input,
                                             std::optional<std::string> key, std::string created_by) {
    if (key) {
        if (key->empty() || key->size() > 200 || !storable_text(*key))
            throw Error(ErrorCode::bad_request, "Idempotency-Key must be 1 to 200 characters of UTF-8 text");
        auto existing = co_await find_by_key(wf->id, *key);
        if (existing) co_return same_request(*existing, input);
    }
    json::value kept_input = key ? input : json::value();
    StartRequest sr;
    sr.wf = wf;
    sr.trigger = json::object{{"type", "manual"}, {"body", input}};
    sr.input = std::move(input);
    sr.trigger_type = "manual";
    sr.idempotency_key = key;
    sr.created_by = std::move(created_by);
    try {
        auto res = co_await engine_.start_run(std::move(sr));
        co_return StartedRun{res.id, res.status, res.existing};
    } catch (const Error& e) {
        if (e.code() != ErrorCode::conflict || !key) throw;
    }
    // Started concurrently with the same key: that run.
    auto existing = co_await find_by_key(wf->id, *key);
    if (!existing) throw Error(ErrorCode::conflict, "a run with this Idempotency-Key could not be created");
    co_return same_request(*existing, kept_input);
}

asio::awaitable<StartedRun> Workflows::start_run(RunStart request) {
    if (!valid_id(request.workflow_id)) throw Error(ErrorCode::not_found, "no workflow " + request.workflow_id);
    // The current version from memory, or once per workflow and ttl from the database.
    auto wf = co_await versions_.current(request.workflow_id);
    co_return co_await start(std::move(wf), std::move(request.input), std::move(request.idempotency_key),
                             std::move(request.created_by));
}

asio::awaitable<json::object> Workflows::get_run(std::string id) {
    if (!valid_id(id)) throw Error(ErrorCode::not_found, "no run " + id);
    auto live = co_await engine_.live_run(id);
    if (live && !(*live)["durable"].as_bool()) co_return live_view(std::move(*live));
    auto q = [this, id](soci::session& s) -> std::optional<json::object> {
        auto run = store_.get_run(s, id);
        if (!run) return std::nullopt;
        std::string wf_id((*run)["workflow_id"].as_string());
        int version = static_cast<int>((*run)["version"].to_number<long long>());
        auto wf = versions_.load(s, wf_id, version);
        return run_view(std::move(*run), wf.get());
    };
    auto run = co_await db_.run(std::move(q));
    if (!run && live) co_return live_view(std::move(*live));  // made durable a moment ago; its first row is not committed yet
    if (!run) throw Error(ErrorCode::not_found, "no run " + id);
    co_return std::move(*run);
}

asio::awaitable<RunPage> Workflows::list_runs(RunQuery query) {
    static const std::set<std::string> statuses{"queued", "running", "waiting", "succeeded", "failed", "cancelled"};
    std::vector<FieldError> errs;
    RunFilter f;
    if (!query.status.empty() && !statuses.count(query.status))
        errs.push_back({"/status", "must be one of queued, running, waiting, succeeded, failed, cancelled"});
    if (!query.workflow_id.empty() && !valid_id(query.workflow_id)) errs.push_back({"/workflow_id", "is not a workflow id"});
    if (query.limit < 1 || query.limit > 500) errs.push_back({"/limit", "must be an integer between 1 and 500"});
    if (!query.cursor.empty() && !valid_id(query.cursor)) errs.push_back({"/before", "is not a run id"});
    if (!errs.empty()) throw Error(ErrorCode::bad_request, "invalid query parameters", errs);
    f.status = query.status;
    f.workflow_id = query.workflow_id;
    f.since = query.since_ms;
    f.until = query.until_ms;
    f.limit = query.limit;
    f.before_id = query.cursor;
    f.projects = query.projects;
    auto q = [this, f](soci::session& s) { return store_.list_runs(s, f); };
    RunPage page;
    page.items = co_await db_.run(std::move(q));
    if (static_cast<int>(page.items.size()) == f.limit) page.next_cursor = std::string(page.items.back().as_object().at("id").as_string());
    co_return page;
}

asio::awaitable<void> Workflows::cancel_run(std::string id) {
    auto before = co_await get_run(id);
    bool ok = co_await engine_.cancel(id);
    if (!ok) throw Error(ErrorCode::conflict, "run " + id + " has already finished (" + std::string(before["status"].as_string()) + ")");
}

asio::awaitable<void> Workflows::retry_run(std::string id) {
    auto before = co_await get_run(id);
    bool ok = co_await engine_.retry(id);
    if (!ok)
        throw Error(ErrorCode::conflict, "only a failed or cancelled run that was recorded can be retried; run " + id + " is " +
                                             std::string(before["status"].as_string()));
}

asio::awaitable<StartedRun> Workflows::rerun(std::string id, std::string created_by) {
    auto run = co_await get_run(id);
    std::string wf_id(run["workflow_id"].as_string());
    auto rec = co_await get_workflow(wf_id);
    auto q = [this, rec](soci::session&) { return versions_.compile(rec.id, rec.version, rec.definition); };
    auto wf = co_await db_.run(std::move(q));
    if (!wf) throw Error(ErrorCode::validation_failed, "the workflow's definition does not validate any more");
    co_return co_await start(std::move(wf), run["input"], std::nullopt, std::move(created_by));
}

asio::awaitable<void> Workflows::decide_approval(std::string id, std::string task, bool approved, std::string comment,
                                                 std::string by) {
    co_await get_run(id);  // 404 for an unknown run
    json::object out{{"approved", approved}, {"by", by}, {"comment", comment}, {"decided_at", format_rfc3339(now_ms())}};
    std::string error = approved ? "" : "rejected by " + by + (comment.empty() ? "" : ": " + comment);
    // Every argument named (GCC 12 mishandles temporaries in a co_await expression).
    json::value output = std::move(out);
    std::string run_id = id, task_id = task, type = "approval";
    int res = co_await engine_.decide(std::move(run_id), std::move(task_id), std::move(type), approved, std::move(output),
                                      std::move(error));
    if (res == 0) throw Error(ErrorCode::conflict, "task " + task + " of run " + id + " is not waiting for an approval");
    if (res == 2) throw Error(ErrorCode::conflict, "run " + id + " is busy on another instance; try again in a moment");
}

asio::awaitable<OutcomePage> Workflows::outcomes(std::string cursor, int limit) {
    auto after = parse_outcome_cursor(cursor);
    if (!after) throw Error(ErrorCode::bad_request, "the cursor is not one this feed handed out", {{"/cursor", "malformed cursor"}});
    if (limit < 1 || limit > 1000) throw Error(ErrorCode::bad_request, "invalid query parameters", {{"/limit", "must be an integer between 1 and 1000"}});
    auto q = [this, a = *after, limit](soci::session& s) { return outcomes_.read(s, a, limit); };
    co_return co_await db_.run(std::move(q));
}

asio::awaitable<OutcomePage> Workflows::outcomes_in(const ProjectScope& scope, std::string cursor, int limit) {
    auto page = co_await outcomes(std::move(cursor), limit);
    if (scope.unrestricted() || scope.principal()->instance_admin) co_return page;
    // The caller's projects only; the cursor still moves past the others.
    std::erase_if(page.items, [&](const Outcome& o) { return !scope.can(projects_.of(o.workflow_id), "runs.read"); });
    co_return page;
}

// ---- webhooks ------------------------------------------------------------------------------

std::optional<HookTarget> Workflows::find_hook(std::string_view method, std::string_view path) const {
    return triggers_.find_hook(method, path);
}

asio::awaitable<StartResult> Workflows::start_hook(const HookTarget& hook, json::value input, json::object trigger,
                                                   std::shared_ptr<Responder> responder) {
    StartRequest sr;
    sr.wf = hook.wf;
    sr.input = std::move(input);
    sr.trigger_type = "webhook";
    sr.trigger = std::move(trigger);
    sr.responder = std::move(responder);
    sr.created_by = "trigger:webhook";
    co_return co_await engine_.start_run(std::move(sr));
}

// ---- task types and counters ---------------------------------------------------------------

json::array Workflows::task_types() const {
    json::array items;
    for (const auto& n : builtin_type_names())
        items.push_back(json::object{{"name", n}, {"builtin", true}, {"config_schema", builtin_schema(n)}});
    for (const auto& [n, t] : types_.all())
        items.push_back(
            json::object{{"name", n}, {"builtin", false}, {"description", t->description()}, {"config_schema", t->config_schema()}});
    return items;
}

EngineStats Workflows::stats() const { return engine_.stats(); }

}  // namespace arclight::workflow
