// The workflow module's HTTP API (docs/api.md, OpenAPI at /api/v1/openapi.json) and the
// public webhook receiver /hooks/<path>: parse and check the request, call the service
// (service.hpp), map the answer. No SQL here.

#include "modules/workflow/routes.hpp"

#include <boost/algorithm/string/predicate.hpp>

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include "core/http/json_strict.hpp"
#include "core/http/principal.hpp"
#include "core/http/router.hpp"
#include "core/log/log.hpp"
#include "core/time/json.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/auth/api.hpp"
#include "modules/workflow/service.hpp"
#include "modules/workflow/webhook_auth.hpp"
#include "modules/workflow/webhook_reply.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <set>

namespace arclight::workflow {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;


json::array triggers_summary(const json::object& doc) {
    json::array out;
    if (auto* t = doc.if_contains("triggers"); t && t->is_array())
        for (const auto& v : t->as_array())
            if (v.is_object()) out.push_back(v);
    return out;
}

json::object workflow_view(const WorkflowRecord& w, bool full) {
    boost::system::error_code ec;
    auto doc = json::parse(w.definition, ec);
    json::object o = (!ec && doc.is_object()) ? doc.as_object() : json::object();
    hide_webhook_secrets(o);  // write-only
    json::object base{{"id", w.id},
                      {"name", w.name},
                      {"version", w.version},
                      {"active", w.active},
                      {"project_id", w.project_id},
                      {"created_at", rfc3339_or_null(w.created_at)},
                      {"updated_at", rfc3339_or_null(w.updated_at)}};
    if (!full) {
        base["triggers"] = triggers_summary(o);
        std::size_t n = 0;
        if (auto* t = o.if_contains("tasks"); t && t->is_array()) n = t->as_array().size();
        base["task_count"] = n;
        if (auto* d = o.if_contains("description"); d && d->is_string()) base["description"] = *d;
        if (auto* e = o.if_contains("execution_data"); e && e->is_string()) base["execution_data"] = *e;
        return base;
    }
    for (auto& [k, v] : base) o[k] = v;
    return o;
}

// A query-string time: epoch milliseconds or RFC 3339.
std::optional<std::int64_t> parse_time(const std::string& s) {
    if (!s.empty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), ::isdigit)) return std::stoll(s);
    return parse_rfc3339(s);
}

// The trigger data of a webhook call. Only the headers the trigger keeps (TriggerDef::keep_headers:
// content type, user agent, request id, signature headers, and the definition's own list) are
// recorded: others may carry credentials (a shared-secret header, a proxy's) and every run viewer
// would read them.
json::object request_trigger(const HttpRequest& req, const std::string& path, const TriggerDef& trig, json::value& body_out) {
    json::object headers;
    for (const auto& [k, v] : req.headers) {
        std::string lk = k;
        std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
        if (std::find(trig.keep_headers.begin(), trig.keep_headers.end(), lk) == trig.keep_headers.end()) continue;
        headers[lk] = v;
    }
    json::object query;
    std::string_view q = req.query;
    while (!q.empty()) {
        auto amp = q.find('&');
        auto part = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        if (part.empty()) continue;
        auto eq = part.find('=');
        auto k = url_decode(part.substr(0, eq), true);
        auto v = eq == std::string_view::npos ? std::optional<std::string>("") : url_decode(part.substr(eq + 1), true);
        if (!k || !v) throw Error(ErrorCode::bad_request, "the query string has a malformed %-escape");
        query[*k] = *v;
    }
    json::value body = nullptr;
    if (!req.body.empty()) {
        auto ct = req.header("content-type");
        if (ct.find("json") != std::string_view::npos) {
            body = parse_request_json(req.body);
        } else {
            body = json::string(req.body);
        }
    }
    body_out = body;
    return json::object{{"type", "webhook"},
                        {"method", req.method},
                        {"path", path},
                        {"body", std::move(body)},
                        {"query", std::move(query)},
                        {"headers", std::move(headers)},
                        {"params", json::object()}};
}

json::value schema_of(const char* text) { return json::parse(text); }

// The {version} of a path: a positive integer, or the version is not found.
int version_param(const HttpRequest& req, const std::string& id) {
    auto v = req.param("version");
    bool digits = !v.empty() && v.size() <= 9 && std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!digits || std::stoi(std::string(v)) < 1) throw Error(ErrorCode::not_found, "workflow " + id + " has no version " + std::string(v));
    return std::stoi(std::string(v));
}

// Who starts a run through the API: "user:<id>" (session) or "api_key:<id>"; "anonymous" when
// auth is disabled.
std::string created_by(const HttpRequest& req) { return workflow::created_by(req.principal.get()); }

json::value outcome_json(const Outcome& o) {
    bool task = o.kind == Outcome::Kind::task;
    auto text = [](const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(json::string(s)); };
    return json::object{{"kind", task ? "task" : "run"},
                        {"id", task ? o.task_id : o.run_id},
                        {"run_id", o.run_id},
                        {"workflow_id", o.workflow_id},
                        {"version", o.version},
                        {"type", text(o.type)},
                        {"status", o.status},
                        {"attempts", task ? json::value(o.attempts) : json::value(nullptr)},
                        {"latency_ms", o.latency_ms ? json::value(*o.latency_ms) : json::value(nullptr)},
                        {"cost", o.cost},
                        {"agent", text(o.agent)},
                        {"error", text(o.error)},
                        {"created_by", o.created_by},
                        {"finished_at", rfc3339_or_null(o.finished_at)}};
}

HttpResponse run_ref(const StartedRun& r, int created_status) {
    return HttpResponse::json(json::object{{"id", r.id}, {"status", r.status}}, r.existing ? 200 : created_status);
}


// Changes to workflows and runs go to the audit log (auth::AuditLog, GET /api/v1/auth/audit):
// who, what, from where, and the outcome; a refusal (not found, conflict, invalid) as
// "failure" with its error. `body` makes the change and may name its target and add detail.
struct Audit {
    std::string target;
    json::object detail;
    ProjectScope scope = {};  ///< the caller's; names the audit entry's project once it admitted one
};

template <class Body>
asio::awaitable<HttpResponse> audited(auth::AuditLog* log, const HttpRequest& req, const char* action, Audit a, Body body) {
    HttpResponse resp;
    std::exception_ptr failure;
    std::string outcome = "success";
    a.scope = ProjectScope::of(req);
    try {
        resp = co_await body(a);
    } catch (const Error& e) {
        failure = std::current_exception();
        outcome = "failure";
        a.detail["error"] = std::string(error_info(e.code()).slug);
    } catch (...) {
        failure = std::current_exception();
        outcome = "failure";
    }
    if (log) {
        auth::AuditEntry entry{req.principal ? req.principal->user_id : "", req.principal ? req.principal->username : "",
                               action, a.target, outcome, req.remote_address, std::move(a.detail), a.scope.touched()};
        try {
            co_await log->record(std::move(entry));
        } catch (const std::exception& e) {
            // The change is made (or refused) already; its answer stands.
            log::error("workflow", "could not record {} of {} in the audit log: {}", action, a.target, e.what());
        }
    }
    if (failure) std::rethrow_exception(failure);
    co_return resp;
}

}  // namespace

void register_routes(Router& r, Workflows& service, auth::AuditLog* audit) {
    Workflows* s = &service;
    auto obj = [](const char* text) { return schema_of(text).as_object(); };
    const auto id_version = obj(R"j({"type":"object","properties":{"id":{"type":"string"},"version":{"type":"integer"}}})j");
    const auto definition_schema = obj(R"j({"type":"object","required":["name","tasks"],"properties":{
        "name":{"type":"string"},"description":{"type":"string"},"active":{"type":"boolean"},
        "execution_data":{"enum":["full","errors","none"]},"timeout_ms":{"type":"integer"},"concurrency":{"type":"integer"},
        "input_schema":{"type":"object"},
        "triggers":{"type":"array","items":{"type":"object","required":["type"],"properties":{"type":{"enum":["manual","webhook","cron","event"]},
           "method":{"type":"string"},"path":{"type":"string"},"respond":{"enum":["async","sync"]},"timeout_ms":{"type":"integer"},
           "schedule":{"type":"string"},"missed":{"enum":["skip","run_once"]},"topic":{"type":"string"},"filter":{"type":"string"},
           "auth":{"type":"object","description":"webhook: who may call it; the secret is write-only (shown as ********, which keeps it when sent back)",
             "required":["type","header","secret"],"properties":{"type":{"enum":["header","hmac"]},"header":{"type":"string"},
             "secret":{"type":"string","writeOnly":true},"prefix":{"type":"string"},"timestamp_header":{"type":"string"},
             "tolerance_s":{"type":"integer","minimum":1,"maximum":86400}}},
           "headers":{"type":"array","items":{"type":"string"},"description":"webhook: request headers kept in the trigger data besides content-type, user-agent, x-request-id and the signature headers"}}}},
        "tasks":{"type":"array","items":{"type":"object","required":["id","type"],"properties":{"id":{"type":"string"},"type":{"type":"string"},
           "config":{"type":"object"},"depends_on":{"type":"array","items":{"type":"string"}},"when":{"type":"string"},
           "retry":{"type":"object","properties":{"max_attempts":{"type":"integer"},"backoff_ms":{"type":"integer"},"factor":{"type":"number"},
              "max_backoff_ms":{"type":"integer"},"jitter":{"type":"boolean"}}},
           "timeout_ms":{"type":"integer"},"on_error":{"type":"string"},"join":{"enum":["all","any"]}}}}}})j");
    const auto run_ref_schema = obj(R"j({"type":"object","properties":{"id":{"type":"string"},"status":{"type":"string"}}})j");
    const auto run_schema = obj(R"j({"type":"object","properties":{"id":{"type":"string"},"workflow_id":{"type":"string"},
        "workflow_name":{"type":"string"},"version":{"type":"integer"},
        "status":{"enum":["queued","running","waiting","succeeded","failed","cancelled"]},"trigger":{"type":"string"},
        "created_by":{"type":"string"},
        "input":{},"output":{},"error":{"type":["string","null"]},"created_at":{"type":["string","null"]},
        "started_at":{"type":["string","null"]},"finished_at":{"type":["string","null"]},
        "tasks":{"type":"array","items":{"type":"object","properties":{"id":{"type":"string"},"type":{"type":"string"},
          "status":{"enum":["pending","running","waiting","retrying","succeeded","failed","skipped","cancelled"]},
          "attempts":{"type":"integer"},"input":{},"output":{},"error":{"type":["string","null"]},
          "started_at":{"type":["string","null"]},"finished_at":{"type":["string","null"]},
          "depends_on":{"type":"array","items":{"type":"string"}},"agent":{"type":["string","null"]},"cost":{"type":"number"}}}},
        "response":{"type":["object","null"],"description":"what answered a synchronous webhook's caller: source (task, run_end or timeout), task_id (source task), status, content_type, headers, body; null for other runs and until it is known",
          "properties":{"source":{"enum":["task","run_end","timeout"]},"task_id":{"type":"string"},"status":{"type":"integer"},
          "content_type":{"type":"string"},"headers":{"type":"object"},"body":{}}}}})j");


    r.add({"GET", "/api/v1/workflows", "flows.read", "List workflows (current versions).",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto scope = ProjectScope::of(req);
               auto recs = co_await s->list_workflows(scope, req.query_param("project_id"));
               json::array items;
               for (const auto& w : recs) items.push_back(workflow_view(w, false));
               co_return HttpResponse::json(json::object{{"items", std::move(items)}});
           },
           false, "workflow", {}, obj(R"j({"type":"object","properties":{"items":{"type":"array"}}})j")});

    r.add({"GET", "/api/v1/workflows/triggers", "flows.read",
           "The live webhooks (method, path: served at /hooks/<path>) and cron schedules (with their next fire, UTC) of the "
           "active workflows in the caller's projects (?project_id= narrows to one).",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto scope = ProjectScope::of(req);
               auto list = co_await s->active_triggers(scope, req.query_param("project_id"), now_ms());
               json::array items;
               for (const auto& t : list) {
                   json::object o{{"workflow_id", t.workflow_id}, {"workflow_name", t.workflow_name}, {"type", t.type}};
                   if (t.type == "webhook") {
                       o["method"] = t.method;
                       o["path"] = t.path;
                   } else {
                       o["cron"] = t.cron;
                       o["timezone"] = "UTC";  // cron.hpp: schedules are evaluated in UTC
                       o["next_fire_at"] = t.next_fire_ms > 0 ? json::value(json::string(format_rfc3339(t.next_fire_ms))) : json::value(nullptr);
                   }
                   items.push_back(std::move(o));
               }
               co_return HttpResponse::json(json::object{{"items", std::move(items)}});
           },
           false, "workflow", {},
           obj(R"j({"type":"object","properties":{"items":{"type":"array","items":{"type":"object",
               "required":["workflow_id","workflow_name","type"],"properties":{
               "workflow_id":{"type":"string"},"workflow_name":{"type":"string"},"type":{"enum":["webhook","cron"]},
               "method":{"type":"string","description":"webhook"},"path":{"type":"string","description":"webhook: served at /hooks/<path>"},
               "cron":{"type":"string","description":"cron: the schedule as written"},"timezone":{"type":"string","description":"cron: always UTC"},
               "next_fire_at":{"type":["string","null"],"description":"cron: RFC 3339; null when it never fires again"}}}}}})j")});

    r.add({"POST", "/api/v1/workflows/validate", "flows.read",
           "Validate a workflow definition: 200 {valid:true}, or 422 listing every error with a JSON pointer.",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               s->validate(req.json);
               co_return HttpResponse::json(json::object{{"valid", true}});
           },
           true, "workflow", definition_schema, obj(R"j({"type":"object","properties":{"valid":{"type":"boolean"}}})j")});

    r.add({"POST", "/api/v1/workflows", "flows.write",
           "Create a workflow (version 1). \"active\": true makes its triggers live.",
           [s, audit](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               return audited(audit, req, "workflow.create", {}, [s, &req](Audit& a) -> asio::awaitable<HttpResponse> {
                   if (auto* n = req.json.is_object() ? req.json.as_object().if_contains("name") : nullptr; n && n->is_string())
                       a.detail["name"] = *n;
                   // "project_id" (default: the caller's personal project) is not part of the definition.
                   std::optional<std::string> wanted;
                   if (auto* o = req.json.if_object(); o && o->contains("project_id")) {
                       const auto& v = o->at("project_id");
                       if (!v.is_string()) throw Error(ErrorCode::validation_failed, "invalid workflow", {{"/project_id", "must be a string"}});
                       wanted = std::string(v.as_string());
                       o->erase("project_id");
                   }
                   auto project = a.scope.for_create(wanted, "flows.write");
                   auto w = co_await s->create_workflow(req.json, std::move(project), a.scope);
                   a.target = w.id;
                   co_return HttpResponse::json(json::object{{"id", w.id}, {"version", 1}}, 201);
               });
           },
           true, "workflow", definition_schema, id_version, 201});

    r.add({"GET", "/api/v1/workflows/outcomes", "runs.read",
           "Finished tasks and runs in commit order, from the database: ?cursor= (next_cursor of the previous page) "
           "&limit= (1-1000, default 100). Every committed outcome of the caller's projects exactly once (a page may hold fewer than limit).",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               int limit = 100;
               if (auto v = req.query_param("limit"); v && !v->empty()) {
                   if (v->size() > 4 || !std::all_of(v->begin(), v->end(), ::isdigit) || std::stoi(*v) < 1 || std::stoi(*v) > 1000)
                       throw Error(ErrorCode::bad_request, "invalid query parameters", {{"/limit", "must be an integer between 1 and 1000"}});
                   limit = std::stoi(*v);
               }
               auto caller = ProjectScope::of(req);
               auto page = co_await s->outcomes_in(caller, req.query_param("cursor").value_or(""), limit);
               json::array items;
               for (const auto& o : page.items) items.push_back(outcome_json(o));
               co_return HttpResponse::json(json::object{{"items", std::move(items)}, {"next_cursor", page.next_cursor}});
           },
           false, "workflow", {},
           obj(R"j({"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{
               "kind":{"enum":["task","run"]},"id":{"type":"string"},"run_id":{"type":"string"},"workflow_id":{"type":"string"},
               "version":{"type":"integer"},"type":{"type":["string","null"]},"status":{"type":"string"},
               "attempts":{"type":["integer","null"]},"latency_ms":{"type":["integer","null"]},"cost":{"type":"number"},
               "agent":{"type":["string","null"]},"error":{"type":["string","null"]},"created_by":{"type":"string"},
               "finished_at":{"type":["string","null"]}}}},"next_cursor":{"type":"string"}}})j")});

    r.add({"GET", "/api/v1/workflows/{id}", "flows.read", "A workflow's current definition with id, version and active.",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto caller = ProjectScope::of(req);
               auto rec = co_await s->workflow_in(caller, req.param("id"), "flows.read");
               co_return HttpResponse::json(workflow_view(rec, true));
           },
           false, "workflow", {}, definition_schema});

    // ---- versions: every save is one; list, read, restore (as a new version) ----
    r.add({"GET", "/api/v1/workflows/{id}/versions", "flows.read", "A workflow's saved versions, newest first.",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto caller = ProjectScope::of(req);
               auto list = co_await s->versions(caller, req.param("id"));
               json::array items;
               for (const auto& v : list)
                   items.push_back(json::object{{"version", v.version},
                                                {"created_at", rfc3339_or_null(v.created_at)},
                                                {"created_by", v.created_by}});
               co_return HttpResponse::json(json::object{{"items", std::move(items)}});
           },
           false, "workflow", {},
           obj(R"j({"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{
               "version":{"type":"integer"},"created_at":{"type":["string","null"]},"created_by":{"type":"string"}}}}}})j")});

    r.add({"GET", "/api/v1/workflows/{id}/versions/{version}", "flows.read",
           "One saved version: its definition as it was saved (webhook secrets hidden).",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto caller = ProjectScope::of(req);
               auto id = req.param("id");
               auto v = co_await s->version(caller, id, version_param(req, id));
               boost::system::error_code ec;
               auto doc = json::parse(v.definition, ec);
               json::object def = (!ec && doc.is_object()) ? doc.as_object() : json::object();
               hide_webhook_secrets(def);  // write-only
               co_return HttpResponse::json(json::object{{"workflow_id", id},
                                                         {"version", v.version},
                                                         {"created_at", rfc3339_or_null(v.created_at)},
                                                         {"created_by", v.created_by},
                                                         {"definition", std::move(def)}});
           },
           false, "workflow", {},
           obj(R"j({"type":"object","properties":{"workflow_id":{"type":"string"},"version":{"type":"integer"},
               "created_at":{"type":["string","null"]},"created_by":{"type":"string"},"definition":{"type":"object"}}})j")});

    r.add({"POST", "/api/v1/workflows/{id}/versions/{version}/restore", "flows.write",
           "Save an earlier version's definition as a new version (whether the workflow is active stays as it is).",
           [s, audit](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               return audited(audit, req, "workflow.restore", {req.param("id"), {}}, [s, &req](Audit& a) -> asio::awaitable<HttpResponse> {
                   int from = version_param(req, a.target);
                   a.detail["from_version"] = from;
                   int version = co_await s->restore_version(a.scope, a.target, from);
                   a.detail["version"] = version;
                   co_return HttpResponse::json(json::object{{"id", a.target}, {"version", version}});
               });
           },
           false, "workflow", {}, id_version});

    r.add({"PUT", "/api/v1/workflows/{id}", "flows.write",
           "Save a new version of a workflow (runs in flight keep theirs). \"active\" switches triggers.",
           [s, audit](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               return audited(audit, req, "workflow.update", {req.param("id"), {}}, [s, &req](Audit& a) -> asio::awaitable<HttpResponse> {
                   auto rec = co_await s->workflow_in(a.scope, a.target, "flows.write");
                   if (auto* o = req.json.if_object(); o && o->contains("project_id")) {
                       if (o->at("project_id") != json::value(json::string(rec.project_id)))
                           throw Error(ErrorCode::validation_failed, "invalid workflow",
                                       {{"/project_id", "a workflow changes project by POST /api/v1/workflows/{id}/move"}});
                       o->erase("project_id");
                   }
                   int version = co_await s->update_workflow(a.target, req.json, a.scope);
                   a.detail["version"] = version;
                   co_return HttpResponse::json(json::object{{"id", a.target}, {"version", version}});
               });
           },
           true, "workflow", definition_schema, id_version});

    r.add({"DELETE", "/api/v1/workflows/{id}", "flows.write",
           "Delete a workflow and stop its triggers; its runs and versions stay readable.",
           [s, audit](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               return audited(audit, req, "workflow.delete", {req.param("id"), {}}, [s](Audit& a) -> asio::awaitable<HttpResponse> {
                   co_await s->workflow_in(a.scope, a.target, "flows.write");
                   co_await s->delete_workflow(a.target);
                   HttpResponse resp;
                   resp.status = 204;
                   resp.content_type.clear();
                   co_return resp;
               });
           },
           false, "workflow", {}, {}, 204});

    for (bool on : {true, false}) {
        r.add({"POST", on ? "/api/v1/workflows/{id}/activate" : "/api/v1/workflows/{id}/deactivate", "flows.write",
               on ? "Make a workflow's triggers (webhook, cron, event) live." : "Stop a workflow's triggers.",
               [s, on, audit](HttpRequest& req) -> asio::awaitable<HttpResponse> {
                   return audited(audit, req, on ? "workflow.activate" : "workflow.deactivate", {req.param("id"), {}},
                                  [s, on](Audit& a) -> asio::awaitable<HttpResponse> {
                                      co_await s->workflow_in(a.scope, a.target, "flows.write");
                                      co_await s->set_active(a.target, on, a.scope);
                                      co_return HttpResponse::json(json::object{{"id", a.target}, {"active", on}});
                                  });
               },
               false, "workflow", {}, obj(R"j({"type":"object","properties":{"id":{"type":"string"},"active":{"type":"boolean"}}})j")});
    }

    r.add({"POST", "/api/v1/workflows/{id}/move", "flows.write",
           "Move a workflow to another project {\"project_id\"} (an admin of both projects); its runs' visibility moves with it.",
           [s, audit](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               return audited(audit, req, "workflow.move", {req.param("id"), {}}, [s, &req](Audit& a) -> asio::awaitable<HttpResponse> {
                   std::string project;
                   if (auto* o = req.json.if_object(); o && o->contains("project_id") && o->at("project_id").is_string())
                       project = std::string(o->at("project_id").as_string());
                   a.detail["project_id"] = project;
                   co_await s->move_workflow(a.scope, a.target, project);
                   co_return HttpResponse::json(json::object{{"id", a.target}, {"project_id", project}});
               });
           },
           true, "workflow", obj(R"j({"type":"object","required":["project_id"],"properties":{"project_id":{"type":"string"}}})j"),
           obj(R"j({"type":"object","properties":{"id":{"type":"string"},"project_id":{"type":"string"}}})j")});

    r.add({"GET", "/api/v1/workflow/stats", "runs.read",
           "Engine counters of this instance: runs started/finished/claimed, tasks run, state-change batches and rows (write_batches_split: batches the database refused as a whole, written again change by change), changes waiting for the database and how long it has been failing.",
           [s](HttpRequest&) -> asio::awaitable<HttpResponse> {
               auto st = s->stats();
               co_return HttpResponse::json(json::object{{"runs_started", st.runs_started},
                                                         {"runs_finished", st.runs_finished},
                                                         {"runs_claimed", st.runs_claimed},
                                                         {"runs_lost", st.runs_lost},
                                                         {"tasks_run", st.tasks_run},
                                                         {"active_runs", st.active_runs},
                                                         {"write_batches", st.batches},
                                                         {"write_batches_split", st.split},
                                                         {"rows_written", st.rows},
                                                         {"rows_unchanged", st.ignored},
                                                         {"rows_fenced", st.fenced},
                                                         {"write_time_us", st.commit_us},
                                                         {"queued_changes", st.queued_changes},
                                                         {"db_failing_ms", st.db_failing_ms}});
           },
           false, "workflow"});

    r.add({"GET", "/api/v1/task-types", "flows.read", "Task types with their config JSON Schemas.",
           [s](HttpRequest&) -> asio::awaitable<HttpResponse> {
               co_return HttpResponse::json(json::object{{"items", s->task_types()}});
           },
           false, "workflow"});

    r.add({"POST", "/api/v1/workflows/{id}/runs", "runs.start",
           "Start a run with {\"input\": ...}. With an Idempotency-Key header a repeated request returns the first run (200).",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               if (!req.json.is_object()) throw Error(ErrorCode::validation_failed, "the body must be an object: {\"input\": ...}");
               RunStart start;
               start.workflow_id = req.param("id");
               if (auto* in = req.json.as_object().if_contains("input")) start.input = *in;
               if (auto k = req.header("idempotency-key"); !k.empty()) start.idempotency_key = std::string(k);
               start.created_by = created_by(req);
               auto caller = ProjectScope::of(req);
               co_await s->workflow_in(caller, start.workflow_id, "runs.start");
               auto res = co_await s->start_run(std::move(start));
               co_return run_ref(res, 201);
           },
           true, "workflow", obj(R"j({"type":"object","properties":{"input":{}}})j"), run_ref_schema, 201});

    r.add({"GET", "/api/v1/runs", "runs.read",
           "List runs, newest first. Filters: status, workflow_id, since, until (ISO 8601 or epoch ms), limit, before (run id cursor).",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               // Only the text is read here; Workflows::list_runs checks the values.
               RunQuery q;
               std::vector<FieldError> errs;
               if (auto v = req.query_param("status")) q.status = *v;
               if (auto v = req.query_param("workflow_id")) q.workflow_id = *v;
               for (auto [name, target] : {std::pair{"since", &q.since_ms}, std::pair{"until", &q.until_ms}}) {
                   if (auto v = req.query_param(name); v && !v->empty()) {
                       auto t = parse_time(*v);
                       if (!t) errs.push_back({std::string("/") + name, "must be RFC 3339 (2026-11-26T12:00:00Z) or epoch milliseconds"});
                       else *target = *t;
                   }
               }
               if (auto v = req.query_param("limit"); v && !v->empty()) {
                   if (v->size() > 4 || !std::all_of(v->begin(), v->end(), ::isdigit) || std::stoi(*v) < 1 || std::stoi(*v) > 500)
                       errs.push_back({"/limit", "must be an integer between 1 and 500"});
                   else q.limit = std::stoi(*v);
               }
               if (auto v = req.query_param("before")) q.cursor = *v;
               q.projects = ProjectScope::of(req).listable("runs.read", req.query_param("project_id"));
               if (!errs.empty()) throw Error(ErrorCode::bad_request, "invalid query parameters", errs);
               auto page = co_await s->list_runs(std::move(q));
               json::object out{{"items", std::move(page.items)}};
               if (page.next_cursor) out["next"] = *page.next_cursor;
               out["retention_days"] = s->retention_days();
               co_return HttpResponse::json(out);
           },
           false, "workflow", {},
           obj(R"j({"type":"object","properties":{"items":{"type":"array"},"next":{"type":"string"},"retention_days":{"type":"integer","description":"finished runs are deleted this many days after they finished; 0 = kept"}}})j")});

    r.add({"GET", "/api/v1/runs/{id}", "runs.read",
           "A run with every task's status, attempts, input (its evaluated config), output, error and timings, and for a "
           "synchronous webhook run the response its caller got (\"response\"). The data that flowed into a task is its "
           "dependencies' outputs (the run input for a task without dependencies).",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto caller = ProjectScope::of(req);
               co_await s->run_in(caller, req.param("id"), "runs.read");
               auto run = co_await s->get_run(req.param("id"));
               co_return HttpResponse::json(run);
           },
           false, "workflow", {}, run_schema});

    r.add({"POST", "/api/v1/runs/{id}/cancel", "runs.cancel", "Cancel a run that has not finished (409 when it has).",
           [s, audit](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               return audited(audit, req, "run.cancel", {req.param("id"), {}}, [s](Audit& a) -> asio::awaitable<HttpResponse> {
                   co_await s->run_in(a.scope, a.target, "runs.cancel");
                   co_await s->cancel_run(a.target);
                   co_return HttpResponse::json(json::object{{"id", a.target}, {"status", "cancelled"}});
               });
           },
           false, "workflow", {}, run_ref_schema});

    r.add({"POST", "/api/v1/runs/{id}/retry", "runs.start",
           "Retry a failed or cancelled run: its succeeded tasks are kept, the others run again (same version, same input).",
           [s, audit](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               return audited(audit, req, "run.retry", {req.param("id"), {}}, [s](Audit& a) -> asio::awaitable<HttpResponse> {
                   co_await s->run_in(a.scope, a.target, "runs.start");
                   co_await s->retry_run(a.target);
                   co_return HttpResponse::json(json::object{{"id", a.target}, {"status", "queued"}});
               });
           },
           false, "workflow", {}, run_ref_schema});

    r.add({"POST", "/api/v1/runs/{id}/tasks/{task}/approve", "runs.start",
           "Decide a waiting approval task: {\"approved\": true|false, \"comment\"?}. A rejection fails the task.",
           [s, audit](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               return audited(audit, req, "run.approval", {req.param("id") + "/" + req.param("task"), {}},
                              [s, &req](Audit& a) -> asio::awaitable<HttpResponse> {
               auto id = req.param("id");
               auto task = req.param("task");
               if (!req.json.is_object()) throw Error(ErrorCode::validation_failed, "the body must be {\"approved\": true|false}");
               const auto& body = req.json.as_object();
               auto* approved = body.if_contains("approved");
               std::vector<FieldError> errs;
               if (!approved || !approved->is_bool()) errs.push_back({"/approved", "is required: true or false"});
               std::string comment;
               if (auto* c = body.if_contains("comment"); c && !c->is_null()) {
                   if (!c->is_string() || c->as_string().size() > 2000) errs.push_back({"/comment", "must be a string of at most 2000 characters"});
                   else comment = std::string(c->as_string());
               }
               if (!errs.empty()) throw Error(ErrorCode::validation_failed, "invalid decision", errs);
               bool ok = approved->as_bool();
               a.detail["approved"] = ok;
               if (!comment.empty()) a.detail["comment"] = comment;
               std::string by = req.principal ? req.principal->username : "";
               co_await s->run_in(a.scope, id, "runs.start");
               co_await s->decide_approval(id, task, ok, std::move(comment), std::move(by));
               co_return HttpResponse::json(json::object{{"run_id", id}, {"task_id", task}, {"approved", ok}});
                              });
           },
           true, "workflow", obj(R"j({"type":"object","required":["approved"],"properties":{"approved":{"type":"boolean"},"comment":{"type":"string"}}})j"),
           obj(R"j({"type":"object","properties":{"run_id":{"type":"string"},"task_id":{"type":"string"},"approved":{"type":"boolean"}}})j")});

    r.add({"POST", "/api/v1/runs/{id}/rerun", "runs.start", "Start a new run of the workflow's current version with this run's input.",
           [s, audit](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               return audited(audit, req, "run.rerun", {req.param("id"), {}}, [s, &req](Audit& a) -> asio::awaitable<HttpResponse> {
                   co_await s->run_in(a.scope, a.target, "runs.start");
                   auto res = co_await s->rerun(a.target, created_by(req));
                   a.detail["run_id"] = res.id;
                   co_return run_ref(res, 201);
               });
           },
           false, "workflow", {}, run_ref_schema, 201});

    // Webhooks: public; the workflow's trigger decides async (202 + run id) or sync (respond task).
    // Every answer from a run names it in X-Arclight-Run-Id (the UI's "Send test request" links
    // the run it started); a workflow's own header of that name is replaced.
    auto with_run_id = [](HttpResponse resp, const std::string& run_id) {
        std::erase_if(resp.headers, [](const auto& h) { return boost::algorithm::iequals(h.first, "x-arclight-run-id"); });
        resp.headers.emplace_back("X-Arclight-Run-Id", run_id);
        return resp;
    };
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
        r.add({method, "/hooks/{path*}", std::string(kPublic),
               "Webhook trigger of an active workflow: 202 {id, status} (async) or the respond task's answer (sync). "
               "Every answer from a run carries its id in the X-Arclight-Run-Id header.",
               [s, with_run_id](HttpRequest& req) -> asio::awaitable<HttpResponse> {
                   const auto& path = req.param("path");
                   auto hook = s->find_hook(req.method, path);
                   if (!hook) throw Error(ErrorCode::not_found, "no active workflow serves " + req.method + " /hooks/" + path);
                   const auto& trig = hook->wf->def->triggers[static_cast<std::size_t>(hook->trigger_index)];
                   if (hook->auth) check_webhook_auth(*hook->auth, req, now_ms() / 1000);  // before anything else
                   json::value body;
                   auto trigger = request_trigger(req, path, trig, body);
                   std::shared_ptr<Responder> responder;
                   if (hook->sync) responder = std::make_shared<Responder>();
                   auto res = co_await s->start_hook(*hook, std::move(body), std::move(trigger), responder);
                   if (!responder) co_return with_run_id(HttpResponse::json(json::object{{"id", res.id}, {"status", res.status}}, 202), res.id);
                   if (auto v = responder->take()) co_return with_run_id(to_http_response(std::move(*v)), res.id);
                   WebhookReply timeout;
                   timeout.status = 504;
                   timeout.content_type = "application/problem+json";
                   timeout.body = problem_json(ErrorCode::gateway_timeout,
                                               "the workflow did not respond within " + std::to_string(hook->timeout_ms) +
                                                   " ms; run " + res.id + " goes on",
                                               req.path, req.request_id);
                   auto answer = co_await responder->wait(hook->timeout_ms, std::move(timeout));
                   co_return with_run_id(to_http_response(std::move(answer)), res.id);
               },
               false, "workflow"});
    }
}

}  // namespace arclight::workflow
