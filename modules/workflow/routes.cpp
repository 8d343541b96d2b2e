// The workflow module's HTTP API (docs/api.md, OpenAPI at /api/v1/openapi.json) and the
// public webhook receiver /hooks/<path>.

#include "core/util/suppress_coroutine_frame_warning.hpp"
#include "core/db/db.hpp"
#include "core/http/router.hpp"
#include "core/time/json.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/internal.hpp"
#include "modules/workflow/webhook_reply.hpp"

#include <boost/json.hpp>
#include <soci/soci.h>

#include <algorithm>
#include <set>

namespace arclight::workflow {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

bool valid_id(std::string_view id) {
    return !id.empty() && id.size() <= 64 &&
           std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
}

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
    json::object base{{"id", w.id},
                      {"name", w.name},
                      {"version", w.version},
                      {"active", w.active},
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
    return run;
}

// A query-string time: epoch milliseconds or RFC 3339.
std::optional<std::int64_t> parse_time(const std::string& s) {
    if (!s.empty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), ::isdigit)) return std::stoll(s);
    return parse_rfc3339(s);
}

Error definition_error(std::vector<FieldError> errors) {
    auto n = errors.size();
    return Error(ErrorCode::validation_failed,
                 "the workflow definition has " + std::to_string(n) + (n == 1 ? " error" : " errors"), std::move(errors));
}

json::object request_trigger(const HttpRequest& req, const std::string& path, json::value& body_out) {
    json::object headers;
    for (const auto& [k, v] : req.headers) {
        std::string lk = k;
        std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
        if (lk == "authorization" || lk == "cookie") continue;  // never copied into run data
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
            boost::system::error_code ec;
            body = json::parse(req.body, ec);
            if (ec) throw Error(ErrorCode::invalid_json, "the request body is not valid JSON: " + ec.message());
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

}  // namespace

void register_routes(Router& r, Shared& S) {
    Shared* s = &S;
    auto obj = [](const char* text) { return schema_of(text).as_object(); };
    const auto id_version = obj(R"j({"type":"object","properties":{"id":{"type":"string"},"version":{"type":"integer"}}})j");
    const auto definition_schema = obj(R"j({"type":"object","required":["name","tasks"],"properties":{
        "name":{"type":"string"},"description":{"type":"string"},"active":{"type":"boolean"},
        "execution_data":{"enum":["full","errors","none"]},"timeout_ms":{"type":"integer"},"concurrency":{"type":"integer"},
        "input_schema":{"type":"object"},
        "triggers":{"type":"array","items":{"type":"object","required":["type"],"properties":{"type":{"enum":["manual","webhook","cron","event"]},
           "method":{"type":"string"},"path":{"type":"string"},"respond":{"enum":["async","sync"]},"timeout_ms":{"type":"integer"},
           "schedule":{"type":"string"},"missed":{"enum":["skip","run_once"]},"topic":{"type":"string"},"filter":{"type":"string"}}}},
        "tasks":{"type":"array","items":{"type":"object","required":["id","type"],"properties":{"id":{"type":"string"},"type":{"type":"string"},
           "config":{"type":"object"},"depends_on":{"type":"array","items":{"type":"string"}},"when":{"type":"string"},
           "retry":{"type":"object","properties":{"max_attempts":{"type":"integer"},"backoff_ms":{"type":"integer"},"factor":{"type":"number"},
              "max_backoff_ms":{"type":"integer"},"jitter":{"type":"boolean"}}},
           "timeout_ms":{"type":"integer"},"on_error":{"type":"string"},"join":{"enum":["all","any"]}}}}}})j");
    const auto run_ref = obj(R"j({"type":"object","properties":{"id":{"type":"string"},"status":{"type":"string"}}})j");
    const auto run_schema = obj(R"j({"type":"object","properties":{"id":{"type":"string"},"workflow_id":{"type":"string"},
        "workflow_name":{"type":"string"},"version":{"type":"integer"},
        "status":{"enum":["queued","running","waiting","succeeded","failed","cancelled"]},"trigger":{"type":"string"},
        "input":{},"output":{},"error":{"type":["string","null"]},"created_at":{"type":["string","null"]},
        "started_at":{"type":["string","null"]},"finished_at":{"type":["string","null"]},
        "tasks":{"type":"array","items":{"type":"object","properties":{"id":{"type":"string"},"type":{"type":"string"},
          "status":{"enum":["pending","running","waiting","retrying","succeeded","failed","skipped","cancelled"]},
          "attempts":{"type":"integer"},"input":{},"output":{},"error":{"type":["string","null"]},
          "started_at":{"type":["string","null"]},"finished_at":{"type":["string","null"]},
          "depends_on":{"type":"array","items":{"type":"string"}},"agent":{"type":["string","null"]},"cost":{"type":"number"}}}}}})j");

    // Validates a submitted definition; throws 422 with every error.
    auto validate = [s](const json::value& body) {
        std::vector<FieldError> errors;
        auto def = parse_definition(body, s->types, errors);
        if (!def) throw definition_error(std::move(errors));
        return def;
    };
    // A webhook another active workflow already serves -> 409.
    auto check_hooks = [s](const Definition& def, const std::string& self_id) {
        auto others = s->triggers.hooks_of_others(self_id);
        for (std::size_t i = 0; i < def.triggers.size(); ++i) {
            const auto& t = def.triggers[i];
            if (t.type != "webhook") continue;
            auto it = others.find(t.method + " " + t.path);
            if (it != others.end())
                throw Error(ErrorCode::conflict, "active workflow " + it->second + " already serves " + t.method + " /hooks/" + t.path,
                            {{"/triggers/" + std::to_string(i) + "/path", "already served by workflow " + it->second}});
        }
    };
    auto get_record = [s](const std::string& id) -> asio::awaitable<WorkflowRecord> {
        if (!valid_id(id)) throw Error(ErrorCode::not_found, "no workflow " + id);
        auto q = [s, id](soci::session& ss) { return s->store.get_workflow(ss, id); };
        auto rec = co_await s->db.run(std::move(q));
        if (!rec) throw Error(ErrorCode::not_found, "no workflow " + id);
        co_return *rec;
    };

    r.add({"GET", "/api/v1/workflows", "flows.read", "List workflows (current versions).",
           [s](HttpRequest&) -> asio::awaitable<HttpResponse> {
               auto q = [s](soci::session& ss) { return s->store.list_workflows(ss, false); };
               auto recs = co_await s->db.run(std::move(q));
               json::array items;
               for (const auto& w : recs) items.push_back(workflow_view(w, false));
               co_return HttpResponse::json(json::object{{"items", std::move(items)}});
           },
           false, "workflow", {}, obj(R"j({"type":"object","properties":{"items":{"type":"array"}}})j")});

    r.add({"POST", "/api/v1/workflows/validate", "flows.read",
           "Validate a workflow definition: 200 {valid:true}, or 422 listing every error with a JSON pointer.",
           [validate](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               validate(req.json);
               co_return HttpResponse::json(json::object{{"valid", true}});
           },
           true, "workflow", definition_schema, obj(R"j({"type":"object","properties":{"valid":{"type":"boolean"}}})j")});

    r.add({"POST", "/api/v1/workflows", "flows.write",
           "Create a workflow (version 1). \"active\": true makes its triggers live.",
           [s, validate, check_hooks](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto def = validate(req.json);
               if (def->active_requested) check_hooks(*def, "");
               WorkflowRecord w;
               w.id = new_uuid();
               w.name = def->name;
               w.version = 1;
               w.active = def->active_requested;
               w.definition = json::serialize(stored_document(req.json.as_object()));
               w.created_at = w.updated_at = now_ms();
               auto q = [s, w](soci::session& ss) { s->store.insert_workflow(ss, w); };
               co_await s->db.run(std::move(q));
               if (w.active) co_await s->triggers.reload();
               co_return HttpResponse::json(json::object{{"id", w.id}, {"version", 1}}, 201);
           },
           true, "workflow", definition_schema, id_version, 201});

    r.add({"GET", "/api/v1/workflows/{id}", "flows.read", "A workflow's current definition with id, version and active.",
           [get_record](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto id = req.param("id");
               auto rec = co_await get_record(id);
               co_return HttpResponse::json(workflow_view(rec, true));
           },
           false, "workflow", {}, definition_schema});

    r.add({"PUT", "/api/v1/workflows/{id}", "flows.write",
           "Save a new version of a workflow (runs in flight keep theirs). \"active\" switches triggers.",
           [s, validate, check_hooks, get_record](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto id = req.param("id");
               auto def = validate(req.json);
               auto rec = co_await get_record(id);
               std::optional<bool> active;
               if (req.json.as_object().contains("active")) active = def->active_requested;
               if (active.value_or(rec.active)) check_hooks(*def, id);
               auto doc = json::serialize(stored_document(req.json.as_object()));
               auto name = def->name;
               auto q = [s, id, name, doc, active](soci::session& ss) { return s->store.update_workflow(ss, id, name, doc, active); };
               int version = co_await s->db.run(std::move(q));
               if (version == 0) throw Error(ErrorCode::not_found, "no workflow " + id);
               s->changed(id);
               co_await s->triggers.reload();
               co_return HttpResponse::json(json::object{{"id", id}, {"version", version}});
           },
           true, "workflow", definition_schema, id_version});

    r.add({"DELETE", "/api/v1/workflows/{id}", "flows.write",
           "Delete a workflow and stop its triggers; its runs and versions stay readable.",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto id = req.param("id");
               if (!valid_id(id)) throw Error(ErrorCode::not_found, "no workflow " + id);
               auto q = [s, id](soci::session& ss) { return s->store.delete_workflow(ss, id); };
               bool ok = co_await s->db.run(std::move(q));
               if (!ok) throw Error(ErrorCode::not_found, "no workflow " + id);
               s->changed(id);
               co_await s->triggers.reload();
               HttpResponse resp;
               resp.status = 204;
               resp.content_type.clear();
               co_return resp;
           },
           false, "workflow", {}, {}, 204});

    for (bool on : {true, false}) {
        r.add({"POST", on ? "/api/v1/workflows/{id}/activate" : "/api/v1/workflows/{id}/deactivate", "flows.write",
               on ? "Make a workflow's triggers (webhook, cron, event) live." : "Stop a workflow's triggers.",
               [s, on, check_hooks, get_record](HttpRequest& req) -> asio::awaitable<HttpResponse> {
                   auto id = req.param("id");
                   auto rec = co_await get_record(id);
                   if (on) {
                       auto q0 = [s, rec](soci::session&) { return s->compile(rec.id, rec.version, rec.definition); };
                       auto wf = co_await s->db.run(std::move(q0));
                       if (!wf) throw Error(ErrorCode::validation_failed, "the workflow's definition does not validate any more");
                       check_hooks(*wf->def, id);
                   }
                   auto q = [s, id, on](soci::session& ss) { return s->store.set_active(ss, id, on); };
                   co_await s->db.run(std::move(q));
                   s->changed(id);
                   co_await s->triggers.reload();
                   co_return HttpResponse::json(json::object{{"id", id}, {"active", on}});
               },
               false, "workflow", {}, obj(R"j({"type":"object","properties":{"id":{"type":"string"},"active":{"type":"boolean"}}})j")});
    }

    r.add({"GET", "/api/v1/workflow/stats", "runs.read",
           "Engine counters of this instance: runs started/finished/claimed, tasks run, state-change batches and rows.",
           [s](HttpRequest&) -> asio::awaitable<HttpResponse> {
               auto st = s->engine.stats();
               co_return HttpResponse::json(json::object{{"runs_started", st.runs_started},
                                                         {"runs_finished", st.runs_finished},
                                                         {"runs_claimed", st.runs_claimed},
                                                         {"tasks_run", st.tasks_run},
                                                         {"active_runs", st.active_runs},
                                                         {"write_batches", st.batches},
                                                         {"rows_written", st.rows},
                                                         {"rows_unchanged", st.ignored},
                                                         {"write_time_us", st.commit_us}});
           },
           false, "workflow"});

    r.add({"GET", "/api/v1/task-types", "flows.read", "Task types with their config JSON Schemas.",
           [s](HttpRequest&) -> asio::awaitable<HttpResponse> {
               json::array items;
               for (const auto& n : builtin_type_names())
                   items.push_back(json::object{{"name", n}, {"builtin", true}, {"config_schema", builtin_schema(n)}});
               for (const auto& [n, t] : s->types.all())
                   items.push_back(json::object{{"name", n}, {"builtin", false}, {"description", t->description()},
                                                {"config_schema", t->config_schema()}});
               co_return HttpResponse::json(json::object{{"items", std::move(items)}});
           },
           false, "workflow"});

    // Starting runs.
    auto start = [s](std::shared_ptr<const WorkflowVersion> wf, json::value input, std::string trigger_type,
                     std::optional<std::string> key) -> asio::awaitable<HttpResponse> {
        if (key) {
            if (key->empty() || key->size() > 200) throw Error(ErrorCode::bad_request, "Idempotency-Key must be 1 to 200 characters");
            auto wid = wf->id;
            auto k = *key;
            auto q = [s, wid, k](soci::session& ss) { return s->store.find_by_idempotency(ss, wid, k); };
            auto existing = co_await s->db.run(std::move(q));
            if (existing) co_return HttpResponse::json(json::object{{"id", existing->id}, {"status", existing->status}}, 200);
        }
        StartRequest sr;
        sr.wf = wf;
        sr.trigger = json::object{{"type", trigger_type}, {"body", input}};
        sr.input = std::move(input);
        sr.trigger_type = trigger_type;
        sr.idempotency_key = key;
        try {
            auto res = co_await s->engine.start_run(std::move(sr));
            co_return HttpResponse::json(json::object{{"id", res.id}, {"status", res.status}}, 201);
        } catch (const Error& e) {
            if (e.code() != ErrorCode::conflict || !key) throw;
        }
        auto wid = wf->id;
        auto k = *key;
        auto q = [s, wid, k](soci::session& ss) { return s->store.find_by_idempotency(ss, wid, k); };
        auto existing = co_await s->db.run(std::move(q));
        if (!existing) throw Error(ErrorCode::conflict, "a run with this Idempotency-Key could not be created");
        co_return HttpResponse::json(json::object{{"id", existing->id}, {"status", existing->status}}, 200);
    };

    r.add({"POST", "/api/v1/workflows/{id}/runs", "runs.start",
           "Start a run with {\"input\": ...}. With an Idempotency-Key header a repeated request returns the first run (200).",
           [s, start, get_record](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto id = req.param("id");
               if (!req.json.is_object()) throw Error(ErrorCode::validation_failed, "the body must be an object: {\"input\": ...}");
               json::value input = json::object();
               if (auto* in = req.json.as_object().if_contains("input")) input = *in;
               // The current version from memory (CurrentVersions) or, once per workflow and
               // ttl, from the database.
               auto wf = s->current.find(id);
               if (!wf) {
                   auto generation = s->current.generation();
                   auto rec = co_await get_record(id);
                   auto q = [s, rec](soci::session&) { return s->compile(rec.id, rec.version, rec.definition); };
                   wf = co_await s->db.run(std::move(q));
                   if (!wf) throw Error(ErrorCode::validation_failed, "the workflow's definition does not validate any more");
                   s->current.put(id, wf, generation);
               }
               std::optional<std::string> key;
               if (auto k = req.header("idempotency-key"); !k.empty()) key = std::string(k);
               co_return co_await start(wf, std::move(input), "manual", key);
           },
           true, "workflow", obj(R"j({"type":"object","properties":{"input":{}}})j"), run_ref, 201});

    r.add({"GET", "/api/v1/runs", "runs.read",
           "List runs, newest first. Filters: status, workflow_id, since, until (ISO 8601 or epoch ms), limit, before (run id cursor).",
           [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               RunFilter f;
               std::vector<FieldError> errs;
               if (auto v = req.query_param("status"); v && !v->empty()) {
                   static const std::set<std::string> ok{"queued", "running", "waiting", "succeeded", "failed", "cancelled"};
                   if (!ok.count(*v)) errs.push_back({"/status", "must be one of queued, running, waiting, succeeded, failed, cancelled"});
                   else f.status = *v;
               }
               if (auto v = req.query_param("workflow_id"); v && !v->empty()) {
                   if (!valid_id(*v)) errs.push_back({"/workflow_id", "is not a workflow id"});
                   else f.workflow_id = *v;
               }
               for (auto [name, target] : {std::pair{"since", &f.since}, std::pair{"until", &f.until}}) {
                   if (auto v = req.query_param(name); v && !v->empty()) {
                       auto t = parse_time(*v);
                       if (!t) errs.push_back({std::string("/") + name, "must be RFC 3339 (2026-11-26T12:00:00Z) or epoch milliseconds"});
                       else *target = *t;
                   }
               }
               if (auto v = req.query_param("limit"); v && !v->empty()) {
                   if (v->size() > 4 || !std::all_of(v->begin(), v->end(), ::isdigit) || std::stoi(*v) < 1 || std::stoi(*v) > 500)
                       errs.push_back({"/limit", "must be an integer between 1 and 500"});
                   else f.limit = std::stoi(*v);
               }
               if (auto v = req.query_param("before"); v && !v->empty()) {
                   if (!valid_id(*v)) errs.push_back({"/before", "is not a run id"});
                   else f.before_id = *v;
               }
               if (!errs.empty()) throw Error(ErrorCode::bad_request, "invalid query parameters", errs);
               auto q = [s, f](soci::session& ss) { return s->store.list_runs(ss, f); };
               auto items = co_await s->db.run(std::move(q));
               json::object out{{"items", items}};
               if (static_cast<int>(items.size()) == f.limit) out["next"] = items.back().as_object().at("id");
               co_return HttpResponse::json(out);
           },
           false, "workflow", {}, obj(R"j({"type":"object","properties":{"items":{"type":"array"},"next":{"type":"string"}}})j")});

    auto load_run = [s](const std::string& id) -> asio::awaitable<json::object> {
        if (!valid_id(id)) throw Error(ErrorCode::not_found, "no run " + id);
        auto live = co_await s->engine.live_run(id);
        if (live && !(*live)["durable"].as_bool()) {
            live->erase("durable");
            live->erase("execution_data");
            co_return *live;
        }
        auto q = [s, id](soci::session& ss) -> std::optional<json::object> {
            auto run = s->store.get_run(ss, id);
            if (!run) return std::nullopt;
            std::string wf_id((*run)["workflow_id"].as_string());
            int version = static_cast<int>((*run)["version"].to_number<long long>());
            auto wf = s->load_version(wf_id, version);
            return run_view(std::move(*run), wf.get());
        };
        auto run = co_await s->db.run(std::move(q));
        if (!run && live) {  // made durable a moment ago; its first row is not committed yet
            live->erase("durable");
            live->erase("execution_data");
            co_return *live;
        }
        if (!run) throw Error(ErrorCode::not_found, "no run " + id);
        co_return *run;
    };

    r.add({"GET", "/api/v1/runs/{id}", "runs.read", "A run with every task's status, attempts, input, output, error and timings.",
           [load_run](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto id = req.param("id");
               auto run = co_await load_run(id);
               co_return HttpResponse::json(run);
           },
           false, "workflow", {}, run_schema});

    r.add({"POST", "/api/v1/runs/{id}/cancel", "runs.cancel", "Cancel a run that has not finished (409 when it has).",
           [s, load_run](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto id = req.param("id");
               auto before = co_await load_run(id);
               bool ok = co_await s->engine.cancel(id);
               if (!ok) throw Error(ErrorCode::conflict, "run " + id + " has already finished (" + std::string(before["status"].as_string()) + ")");
               co_return HttpResponse::json(json::object{{"id", id}, {"status", "cancelled"}});
           },
           false, "workflow", {}, run_ref});

    r.add({"POST", "/api/v1/runs/{id}/retry", "runs.start",
           "Retry a failed or cancelled run: its succeeded tasks are kept, the others run again (same version, same input).",
           [s, load_run](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto id = req.param("id");
               auto before = co_await load_run(id);
               bool ok = co_await s->engine.retry(id);
               if (!ok)
                   throw Error(ErrorCode::conflict, "only a failed or cancelled run that was recorded can be retried; run " + id + " is " +
                                                        std::string(before["status"].as_string()));
               co_return HttpResponse::json(json::object{{"id", id}, {"status", "queued"}});
           },
           false, "workflow", {}, run_ref});

    r.add({"POST", "/api/v1/runs/{id}/tasks/{task}/approve", "runs.start",
           "Decide a waiting approval task: {\"approved\": true|false, \"comment\"?}. A rejection fails the task.",
           [s, load_run](HttpRequest& req) -> asio::awaitable<HttpResponse> {
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
               co_await load_run(id);  // 404 for an unknown run
               bool ok = approved->as_bool();
               std::string by = req.principal ? req.principal->username : "";
               json::object out{{"approved", ok}, {"by", by}, {"comment", comment}, {"decided_at", format_rfc3339(now_ms())}};
               std::string error = ok ? "" : "rejected by " + by + (comment.empty() ? "" : ": " + comment);
               int res = co_await s->engine.decide(id, task, "approval", ok, out, error);
               if (res == 0) throw Error(ErrorCode::conflict, "task " + task + " of run " + id + " is not waiting for an approval");
               if (res == 2) throw Error(ErrorCode::conflict, "run " + id + " is busy on another instance; try again in a moment");
               co_return HttpResponse::json(json::object{{"run_id", id}, {"task_id", task}, {"approved", ok}});
           },
           true, "workflow", obj(R"j({"type":"object","required":["approved"],"properties":{"approved":{"type":"boolean"},"comment":{"type":"string"}}})j"),
           obj(R"j({"type":"object","properties":{"run_id":{"type":"string"},"task_id":{"type":"string"},"approved":{"type":"boolean"}}})j")});

    r.add({"POST", "/api/v1/runs/{id}/rerun", "runs.start", "Start a new run of the workflow's current version with this run's input.",
           [s, start, load_run, get_record](HttpRequest& req) -> asio::awaitable<HttpResponse> {
               auto id = req.param("id");
               auto run = co_await load_run(id);
               std::string wf_id(run["workflow_id"].as_string());
               auto rec = co_await get_record(wf_id);
               auto q = [s, rec](soci::session&) { return s->compile(rec.id, rec.version, rec.definition); };
               auto wf = co_await s->db.run(std::move(q));
               if (!wf) throw Error(ErrorCode::validation_failed, "the workflow's definition does not validate any more");
               co_return co_await start(wf, run["input"], "manual", std::nullopt);
           },
           false, "workflow", {}, run_ref, 201});

    // Webhooks: public; the workflow's trigger decides async (202 + run id) or sync (respond task).
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
        r.add({method, "/hooks/{path*}", std::string(kPublic),
               "Webhook trigger of an active workflow: 202 {id, status} (async) or the respond task's answer (sync).",
               [s](HttpRequest& req) -> asio::awaitable<HttpResponse> {
                   const auto& path = req.param("path");
                   auto hook = s->triggers.find_hook(req.method, path);
                   if (!hook) throw Error(ErrorCode::not_found, "no active workflow serves " + req.method + " /hooks/" + path);
                   json::value body;
                   auto trigger = request_trigger(req, path, body);
                   StartRequest sr;
                   sr.wf = hook->wf;
                   sr.input = std::move(body);
                   sr.trigger_type = "webhook";
                   sr.trigger = std::move(trigger);
                   std::shared_ptr<Responder> responder;
                   if (hook->sync) {
                       responder = std::make_shared<Responder>();
                       sr.responder = responder;
                   }
                   auto res = co_await s->engine.start_run(std::move(sr));
                   if (!responder) co_return HttpResponse::json(json::object{{"id", res.id}, {"status", res.status}}, 202);
                   if (auto v = responder->take()) co_return to_http_response(std::move(*v));
                   WebhookReply timeout;
                   timeout.status = 504;
                   timeout.content_type = "application/problem+json";
                   timeout.body = problem_json(ErrorCode::gateway_timeout,
                                               "the workflow did not respond within " + std::to_string(hook->timeout_ms) +
                                                   " ms; run " + res.id + " goes on",
                                               req.path, req.request_id);
                   co_return to_http_response(co_await responder->wait(hook->timeout_ms, std::move(timeout)));
               },
               false, "workflow"});
    }
}

}  // namespace arclight::workflow
