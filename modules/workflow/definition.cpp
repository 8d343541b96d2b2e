#include "modules/workflow/definition.hpp"
#include "modules/workflow/definition_errors.hpp"

#include "modules/workflow/events.hpp"
#include "modules/workflow/tasks/control_task.hpp"

#include "core/bus/bus.hpp"
#include "core/json/schema.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_set>

namespace arclight::workflow {
namespace json = boost::json;

const char* to_string(ExecutionData d) {
    switch (d) {
        case ExecutionData::full: return "full";
        case ExecutionData::errors: return "errors";
        case ExecutionData::none: return "none";
    }
    return "full";
}

std::int64_t RetryPolicy::delay_before(int next_attempt, double random01) const {
    double d = static_cast<double>(backoff_ms) * std::pow(factor, std::max(0, next_attempt - 2));
    d = std::min(d, static_cast<double>(max_backoff_ms));
    if (jitter) d = d / 2 + d / 2 * random01;
    return static_cast<std::int64_t>(d);
}

namespace {

bool valid_task_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    if (!(std::isalpha(static_cast<unsigned char>(id[0])) || id[0] == '_')) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

bool valid_hook_path(std::string_view p) {
    if (p.empty() || p.size() > 200) return false;
    return std::all_of(p.begin(), p.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/' || c == '~';
    }) && p.find("//") == std::string_view::npos && p.back() != '/';
}

struct Ctx {
    const TaskTypes& types;
    std::vector<FieldError>& errors;
    bool stored = false;  ///< a stored definition: webhook secrets are in the vault (kHiddenSecret here)
    void err(std::string pointer, std::string message) { errors.push_back({std::move(pointer), std::move(message)}); }
};

std::optional<std::int64_t> get_int(const json::value& v) {
    if (v.is_int64()) return v.as_int64();
    if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v.as_uint64());
    if (v.is_double() && std::floor(v.as_double()) == v.as_double() && std::abs(v.as_double()) < 9e15)
        return static_cast<std::int64_t>(v.as_double());
    return std::nullopt;
}

std::optional<double> get_number(const json::value& v) {
    if (v.is_int64()) return static_cast<double>(v.as_int64());
    if (v.is_uint64()) return static_cast<double>(v.as_uint64());
    if (v.is_double()) return v.as_double();
    return std::nullopt;
}

// Reads an optional integer member in [lo, hi]; reports a type/range error.
std::int64_t int_member(Ctx& c, const json::object& o, std::string_view key, const std::string& base, std::int64_t dflt,
                        std::int64_t lo, std::int64_t hi) {
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return dflt;
    auto i = get_int(*v);
    if (!i) {
        c.err(base + "/" + std::string(key), "must be an integer");
        return dflt;
    }
    if (*i < lo || *i > hi) {
        c.err(base + "/" + std::string(key), "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return dflt;
    }
    return *i;
}

bool header_name_ok(std::string_view h) {
    if (h.empty() || h.size() > 100) return false;
    for (char ch : h)
        if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_')) return false;
    return true;
}

std::string lower(std::string_view v) {
    std::string out(v);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return out;
}

// A webhook trigger's "auth" and "headers" (docs/workflows.md, "Authenticating webhooks").
void parse_webhook_auth(Ctx& c, const json::object& o, const std::string& base, TriggerDef& t) {
    t.keep_headers = {"content-type", "user-agent", "x-request-id"};
    if (auto* a = o.if_contains("auth"); a && !a->is_null()) {
        const std::string ab = base + "/auth";
        if (!a->is_object()) {
            c.err(ab, "must be an object: {\"type\": \"header\" or \"hmac\", \"header\", \"secret\", ...}");
        } else {
            const auto& ao = a->as_object();
            TriggerDef::Auth auth;
            auto text = [&](const char* key, bool required) -> std::string {
                auto* v = ao.if_contains(key);
                if (!v || v->is_null()) {
                    if (required) c.err(ab + "/" + key, "is required");
                    return {};
                }
                if (!v->is_string()) {
                    c.err(ab + "/" + key, "must be a string");
                    return {};
                }
                return std::string(v->as_string());
            };
            auth.type = text("type", true);
            if (!auth.type.empty() && auth.type != "header" && auth.type != "hmac")
                c.err(ab + "/type", "must be one of: \"header\", \"hmac\"");
            auth.header = lower(text("header", true));
            if (ao.contains("header") && !header_name_ok(auth.header)) c.err(ab + "/header", "must be a header name");
            auth.secret = text("secret", true);
            if (ao.contains("secret") && (auth.secret.empty() || auth.secret.size() > 1024))
                c.err(ab + "/secret", "must be 1 to 1024 characters");
            else if (auth.secret == "********" && c.stored)
                auth.secret.clear();  // stored in the vault; the triggers read it from there
            else if (auth.secret == "********")
                c.err(ab + "/secret", "is the placeholder the API shows for a secret: give the secret itself");
            if (auth.type == "hmac") {
                auth.prefix = text("prefix", false);
                auth.timestamp_header = lower(text("timestamp_header", false));
                if (!auth.timestamp_header.empty() && !header_name_ok(auth.timestamp_header))
                    c.err(ab + "/timestamp_header", "must be a header name");
                auth.tolerance_s = int_member(c, ao, "tolerance_s", ab, 300, 1, 86400);
                // The signature headers are not secrets: kept, so a run shows what was checked.
                t.keep_headers.push_back(auth.header);
                if (!auth.timestamp_header.empty()) t.keep_headers.push_back(auth.timestamp_header);
            } else {
                for (const char* k : {"prefix", "timestamp_header", "tolerance_s"})
                    if (ao.contains(k)) c.err(ab + "/" + k, "applies to \"hmac\" only");
            }
            for (const auto& [k, v] : ao)
                if (k != "type" && k != "header" && k != "secret" && k != "prefix" && k != "timestamp_header" &&
                    k != "tolerance_s")
                    c.err(ab + "/" + std::string(k), "unknown field");
            t.auth = std::move(auth);
        }
    }
    if (auto* h = o.if_contains("headers"); h && !h->is_null()) {
        if (!h->is_array()) {
            c.err(base + "/headers", "must be an array of header names to keep in the run's trigger data");
        } else {
            for (std::size_t i = 0; i < h->as_array().size(); ++i) {
                const auto& v = h->as_array()[i];
                std::string name = v.is_string() ? lower(v.as_string()) : std::string();
                if (!header_name_ok(name) || name == "authorization" || name == "cookie" || name == "proxy-authorization" ||
                    (t.auth && t.auth->type == "header" && name == t.auth->header))
                    c.err(base + "/headers/" + std::to_string(i), "must be a header name that carries no credential");
                else
                    t.keep_headers.push_back(name);
            }
        }
    }
}

// The names a task's expressions read, each checked where its string is: `tasks.<id>` must name a
// task, a root must be one the scope has.
void check_references(Ctx& c, const Definition& d, const std::vector<expr::ValueTemplate::StringReferences>& strings,
                      const std::string& prefix) {
    static const std::vector<std::string> known_roots{"input", "trigger", "tasks", "run", "item", "index"};
    std::vector<std::string> ids;
    for (const auto& [id, k] : d.index) ids.push_back(id);
    for (const auto& s : strings) {
        std::unordered_set<std::string> told;
        for (const auto& t : s.task_ids)
            if (!d.index.count(t) && told.insert("tasks." + t).second)
                c.err(prefix + s.pointer, "reads tasks." + t + ", but there is no task `" + t + "`" + did_you_mean(t, ids));
        for (const auto& r : s.roots)
            if (std::find(known_roots.begin(), known_roots.end(), r) == known_roots.end() && told.insert(r).second)
                c.err(prefix + s.pointer, "unknown name `" + r + "` in an expression" + did_you_mean(r, known_roots) +
                                              " (known: input, trigger, tasks, run, item, index)");
    }
}

std::optional<std::string_view> condition_text(std::string_view text);

void parse_triggers(Ctx& c, const json::value* v, Definition& d) {
    if (!v || v->is_null()) return;
    if (!v->is_array()) {
        c.err("/triggers", "must be an array");
        return;
    }
    std::unordered_set<std::string> hooks;
    std::size_t i = 0;
    for (const auto& tv : v->as_array()) {
        std::string base = "/triggers/" + std::to_string(i++);
        if (!tv.is_object()) {
            c.err(base, "must be an object");
            continue;
        }
        const auto& o = tv.as_object();
        TriggerDef t;
        auto* type = o.if_contains("type");
        if (!type || !type->is_string()) {
            c.err(base + "/type", "is required: one of \"manual\", \"webhook\", \"cron\", \"event\"");
            continue;
        }
        t.type = std::string(type->as_string());
        if (t.type == "manual") {
        } else if (t.type == "webhook") {
            t.method = "POST";
            if (auto* m = o.if_contains("method")) {
                if (!m->is_string()) {
                    c.err(base + "/method", "must be a string");
                } else {
                    t.method = std::string(m->as_string());
                    std::transform(t.method.begin(), t.method.end(), t.method.begin(), ::toupper);
                    static const std::vector<std::string> ok{"GET", "POST", "PUT", "PATCH", "DELETE"};
                    if (std::find(ok.begin(), ok.end(), t.method) == ok.end())
                        c.err(base + "/method", "must be one of: GET, POST, PUT, PATCH, DELETE");
                }
            }
            auto* p = o.if_contains("path");
            if (!p || !p->is_string()) {
                c.err(base + "/path", "is required: the webhook is served at /hooks/<path>");
            } else {
                std::string path(p->as_string());
                while (!path.empty() && path.front() == '/') path.erase(0, 1);
                if (!valid_hook_path(path))
                    c.err(base + "/path", "must be letters, digits, '-', '_', '.', '~' and '/' separated segments");
                t.path = path;
                if (!hooks.insert(t.method + " " + path).second)
                    c.err(base + "/path", "the same method and path appear twice");
            }
            if (auto* r = o.if_contains("respond")) {
                if (r->is_string() && (r->as_string() == "sync" || r->as_string() == "async"))
                    t.respond_sync = r->as_string() == "sync";
                else
                    c.err(base + "/respond", "must be one of: \"async\", \"sync\"");
            }
            t.respond_timeout_ms = int_member(c, o, "timeout_ms", base, 30000, 1, 3600000);
            parse_webhook_auth(c, o, base, t);
        } else if (t.type == "cron") {
            auto* s = o.if_contains("schedule");
            if (!s || !s->is_string()) {
                c.err(base + "/schedule", "is required: a 5-field cron expression (UTC), e.g. \"*/5 * * * *\"");
            } else {
                try {
                    t.schedule = CronSchedule::parse(s->as_string());
                } catch (const std::exception& e) {
                    c.err(base + "/schedule", e.what());
                }
            }
            if (auto* m = o.if_contains("missed")) {
                if (m->is_string() && (m->as_string() == "skip" || m->as_string() == "run_once"))
                    t.missed_run_once = m->as_string() == "run_once";
                else
                    c.err(base + "/missed", "must be one of: \"skip\", \"run_once\"");
            }
        } else if (t.type == "event") {
            auto* s = o.if_contains("topic");
            if (!s || !s->is_string() || !valid_topic_pattern(s->as_string())) {
                c.err(base + "/topic", "is required: a topic pattern such as \"hub.event.received\" or \"hub.**\"");
            } else {
                t.topic = std::string(s->as_string());
                if (events::is_own_topic(t.topic))
                    c.err(base + "/topic", "workflow.* events cannot trigger workflows (a run would trigger runs)");
            }
            if (auto* f = o.if_contains("filter"); f && !f->is_null()) {
                if (!f->is_string()) {
                    c.err(base + "/filter", "must be an expression string");
                } else {
                    try {
                        auto text = condition_text(f->as_string());
                        if (!text) throw expr::ExprError(std::string(f->as_string()), "a filter must be one expression");
                        t.filter = expr::Expr::parse(*text);
                    } catch (const expr::ExprError& e) {
                        c.err(base + "/filter", e.what());
                    }
                }
            }
        } else {
            c.err(base + "/type", "unknown trigger type \"" + t.type + "\": one of \"manual\", \"webhook\", \"cron\", \"event\"");
            continue;
        }
        d.triggers.push_back(std::move(t));
    }
}

// A condition is one expression: "{{ expr }}" or a bare "expr".
std::optional<std::string_view> condition_text(std::string_view text) {
    auto b = text.find_first_not_of(" \t\n\r");
    auto e = text.find_last_not_of(" \t\n\r");
    if (b == std::string_view::npos) return text;
    text = text.substr(b, e - b + 1);
    if (text.find("{{") == std::string_view::npos) return text;
    if (text.size() >= 4 && text.starts_with("{{") && text.ends_with("}}") && text.find("{{", 2) == std::string_view::npos)
        return text.substr(2, text.size() - 4);
    return std::nullopt;
}

std::optional<expr::Expr> parse_condition(Ctx& c, const json::value& v, const std::string& pointer) {
    if (!v.is_string()) {
        c.err(pointer, "must be an expression string, e.g. \"{{ tasks.check.output.ok }}\"");
        return std::nullopt;
    }
    auto text = condition_text(v.as_string());
    if (!text) {
        c.err(pointer, "must be one expression: \"{{ ... }}\" or a bare expression");
        return std::nullopt;
    }
    try {
        return expr::Expr::parse(*text);
    } catch (const expr::ExprError& e) {
        c.err(pointer, e.what());
        return std::nullopt;
    }
}

// Validates and compiles a task's type + config (also used for map's inner task).
void compile_config(Ctx& c, TaskDef& t, const std::string& base, bool inner) {
    json::value schema;
    std::vector<std::string> raw;
    if (const auto* control = find_control_task(t.type)) {
        if (inner) {
            c.err(base + "/type", "\"" + t.type + "\" cannot run inside a map");
            return;
        }
        t.control = control;
        schema = control->config_schema();
        raw = control->raw_keys();
        control->check(t.config, base + "/config", c.types, c.errors);
    } else if (auto* impl = c.types.find(t.type)) {
        t.impl = impl;
        schema = impl->config_schema();
        raw = impl->raw_keys();
    } else {
        auto names = builtin_type_names();
        for (auto& n : c.types.names()) names.push_back(std::move(n));
        std::sort(names.begin(), names.end());
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
        c.err(base + "/type", "unknown task type \"" + t.type + "\"" + did_you_mean(t.type, names) + " (known: " + known + ")");
        return;
    }
    if (!t.config.is_object()) {
        c.err(base + "/config", "must be an object");
        return;
    }
    std::size_t before = c.errors.size();
    jsonschema::validate_json(schema, t.config, base + "/config", c.errors);
    if (c.errors.size() == before && t.impl) t.impl->validate(t.config, base + "/config", c.errors);
    std::string ptr;
    try {
        t.config_template = expr::ValueTemplate::compile(t.config, raw, &ptr);
    } catch (const expr::ExprError& e) {
        c.err(base + "/config" + ptr, e.what());  // the string itself
    }
}

}  // namespace

bool is_builtin_type(std::string_view type) { return find_control_task(type) != nullptr; }

json::value builtin_schema(std::string_view type) {
    const auto* t = find_control_task(type);
    return t ? t->config_schema() : json::value(nullptr);
}

expr::Expr parse_condition_text(std::string_view text) {
    auto t = condition_text(text);
    if (!t) throw expr::ExprError(std::string(text), "must be one expression: \"{{ ... }}\" or a bare expression");
    return expr::Expr::parse(*t);
}

std::vector<std::string> builtin_type_names() { return control_task_names(); }

expr::Expr parse_filter_text(std::string_view text) {
    auto t = condition_text(text);
    if (!t) throw expr::ExprError(std::string(text), "a filter must be one expression");
    return expr::Expr::parse(*t);
}

json::object stored_document(const json::object& submitted) {
    json::object o = submitted;
    for (auto k : {"id", "version", "active", "created_at", "updated_at"}) o.erase(k);
    return o;
}

std::shared_ptr<const Definition> parse_definition(const json::value& doc, const TaskTypes& types,
                                                   std::vector<FieldError>& errors, bool stored) {
    Ctx c{types, errors, stored};
    std::size_t start = errors.size();
    if (!doc.is_object()) {
        c.err("", "a workflow definition must be a JSON object");
        return nullptr;
    }
    const auto& o = doc.as_object();
    auto d = std::make_shared<Definition>();
    if (auto* n = o.if_contains("name"); !n || !n->is_string() || n->as_string().empty() || n->as_string().size() > 200)
        c.err("/name", "is required: a non-empty string of at most 200 characters");
    else
        d->name = std::string(n->as_string());
    if (auto* v = o.if_contains("description"); v && !v->is_null()) {
        if (!v->is_string()) c.err("/description", "must be a string");
        else d->description = std::string(v->as_string());
    }
    if (auto* v = o.if_contains("execution_data"); v && !v->is_null()) {
        if (v->is_string() && v->as_string() == "full") d->execution_data = ExecutionData::full;
        else if (v->is_string() && v->as_string() == "errors") d->execution_data = ExecutionData::errors;
        else if (v->is_string() && v->as_string() == "none") d->execution_data = ExecutionData::none;
        else c.err("/execution_data", "must be one of: \"full\", \"errors\", \"none\"");
    }
    if (auto* v = o.if_contains("active"); v && !v->is_null()) {
        if (!v->is_bool()) c.err("/active", "must be true or false");
        else d->active_requested = v->as_bool();
    }
    d->timeout_ms = int_member(c, o, "timeout_ms", "", 0, 0, 366LL * 24 * 3600 * 1000);
    d->concurrency = static_cast<int>(int_member(c, o, "concurrency", "", 0, 0, 100000));
    if (auto* v = o.if_contains("input_schema"); v && !v->is_null()) {
        jsonschema::check_schema(*v, "/input_schema", errors);
        d->input_schema = *v;
    }
    parse_triggers(c, o.if_contains("triggers"), *d);

    auto* tv = o.if_contains("tasks");
    if (!tv || !tv->is_array() || tv->as_array().empty()) {
        c.err("/tasks", "is required: a non-empty array of tasks");
        name_error_places(doc, errors, start);
        return nullptr;
    }
    const auto& arr = tv->as_array();
    if (arr.size() > 1000) c.err("/tasks", "at most 1000 tasks");
    // First pass: ids, so references can be checked regardless of order.
    for (std::size_t i = 0; i < arr.size(); ++i) {
        std::string base = "/tasks/" + std::to_string(i);
        TaskDef t;
        if (arr[i].is_object()) {
            auto* id = arr[i].as_object().if_contains("id");
            if (!id || !id->is_string() || !valid_task_id(id->as_string()))
                c.err(base + "/id", "is required: letters, digits, '_' and '-', starting with a letter or '_', at most 64");
            else
                t.id = std::string(id->as_string());
            if (!t.id.empty() && !d->index.emplace(t.id, static_cast<int>(i)).second)
                c.err(base + "/id", "duplicate task id \"" + t.id + "\"");
        } else {
            c.err(base, "must be an object");
        }
        d->tasks.push_back(std::move(t));
    }
    std::vector<std::string> task_ids;  // for "did you mean"
    for (const auto& t : d->tasks)
        if (!t.id.empty()) task_ids.push_back(t.id);
    for (std::size_t i = 0; i < arr.size(); ++i) {
        if (!arr[i].is_object()) continue;
        std::string base = "/tasks/" + std::to_string(i);
        const auto& to = arr[i].as_object();
        auto& t = d->tasks[i];
        // A missing or unknown type stops only the config's checks: the task's other errors are
        // reported with it.
        auto* type = to.if_contains("type");
        if (!type || !type->is_string()) c.err(base + "/type", "is required: a task type (GET /api/v1/task-types lists them)");
        else t.type = std::string(type->as_string());
        if (auto* cfg = to.if_contains("config"); cfg && !cfg->is_null()) t.config = *cfg;
        else t.config = json::object();
        if (!t.type.empty()) compile_config(c, t, base, false);
        if (t.type == "respond") d->has_respond = true;
        if (t.type == "map" && t.config.is_object()) {
            if (auto* inner = t.config.as_object().if_contains("task"); inner && inner->is_object()) {
                auto mt = std::make_shared<TaskDef>();
                mt->id = t.id;
                if (auto* it = inner->as_object().if_contains("type"); it && it->is_string()) mt->type = std::string(it->as_string());
                if (auto* ic = inner->as_object().if_contains("config"); ic && !ic->is_null()) mt->config = *ic;
                else mt->config = json::object();
                compile_config(c, *mt, base + "/config/task", true);
                t.map_task = mt;
            }
        }
        if (auto* deps = to.if_contains("depends_on"); deps && !deps->is_null()) {
            if (!deps->is_array()) {
                c.err(base + "/depends_on", "must be an array of task ids");
            } else {
                std::size_t j = 0;
                for (const auto& dv : deps->as_array()) {
                    std::string p = base + "/depends_on/" + std::to_string(j++);
                    if (!dv.is_string()) {
                        c.err(p, "must be a task id");
                        continue;
                    }
                    std::string dep(dv.as_string());
                    int k = d->find(dep);
                    if (k < 0) c.err(p, "no task `" + dep + "`" + did_you_mean(dep, task_ids));
                    else if (dep == t.id) c.err(p, "a task cannot depend on itself");
                    else if (std::find(t.deps.begin(), t.deps.end(), k) != t.deps.end()) c.err(p, "listed twice");
                    else {
                        t.deps.push_back(k);
                        t.depends_on.push_back(dep);
                    }
                }
            }
        }
        if (auto* w = to.if_contains("when"); w && !w->is_null()) t.when = parse_condition(c, *w, base + "/when");
        if (auto* r = to.if_contains("retry"); r && !r->is_null()) {
            if (!r->is_object()) {
                c.err(base + "/retry", "must be an object: {\"max_attempts\", \"backoff_ms\", \"factor\", \"max_backoff_ms\", \"jitter\"}");
            } else {
                const auto& ro = r->as_object();
                std::string rb = base + "/retry";
                t.retry.max_attempts = static_cast<int>(int_member(c, ro, "max_attempts", rb, 1, 1, 100));
                t.retry.backoff_ms = int_member(c, ro, "backoff_ms", rb, 1000, 0, 86400000);
                t.retry.max_backoff_ms = int_member(c, ro, "max_backoff_ms", rb, 60000, 0, 86400000);
                if (auto* f = ro.if_contains("factor"); f && !f->is_null()) {
                    auto n = get_number(*f);
                    if (!n || *n < 1 || *n > 10) c.err(rb + "/factor", "must be a number between 1 and 10");
                    else t.retry.factor = *n;
                }
                if (auto* j = ro.if_contains("jitter"); j && !j->is_null()) {
                    if (!j->is_bool()) c.err(rb + "/jitter", "must be true or false");
                    else t.retry.jitter = j->as_bool();
                }
            }
        }
        t.timeout_ms = int_member(c, to, "timeout_ms", base, 0, 0, 366LL * 24 * 3600 * 1000);
        if (auto* oe = to.if_contains("on_error"); oe && !oe->is_null()) {
            if (!oe->is_string()) {
                c.err(base + "/on_error", "must be \"fail\", \"continue\" or the id of an error-handling task");
            } else if (oe->as_string() == "fail") {
                t.on_error = OnError::fail;
            } else if (oe->as_string() == "continue") {
                t.on_error = OnError::cont;
            } else {
                t.on_error = OnError::branch;
                t.error_task = std::string(oe->as_string());
            }
        }
        if (auto* j = to.if_contains("join"); j && !j->is_null()) {
            if (j->is_string() && (j->as_string() == "all" || j->as_string() == "any")) t.join_any = j->as_string() == "any";
            else c.err(base + "/join", "must be \"all\" or \"any\"");
        }
    }
    // Error branches, dependents, expression references.
    for (std::size_t i = 0; i < d->tasks.size(); ++i) {
        auto& t = d->tasks[i];
        std::string base = "/tasks/" + std::to_string(i);
        for (int k : t.deps) d->tasks[k].dependents.push_back(static_cast<int>(i));
        if (t.on_error == OnError::branch) {
            int h = d->find(t.error_task);
            if (h < 0) {
                c.err(base + "/on_error", "must be \"fail\", \"continue\" or a task id; there is no task `" + t.error_task + "`" +
                                              did_you_mean(t.error_task, task_ids));
            } else if (std::find(d->tasks[h].deps.begin(), d->tasks[h].deps.end(), static_cast<int>(i)) == d->tasks[h].deps.end()) {
                c.err(base + "/on_error", "the error-handling task \"" + t.error_task + "\" must list \"" + t.id + "\" in its depends_on");
            } else if (d->tasks[h].handles_errors_of >= 0) {
                c.err(base + "/on_error", "task \"" + t.error_task + "\" already handles the errors of another task");
            } else {
                d->tasks[h].handles_errors_of = static_cast<int>(i);
            }
        }
        check_references(c, *d, t.config_template.references_by_string(), base + "/config");
        if (t.map_task) check_references(c, *d, t.map_task->config_template.references_by_string(), base + "/config/task/config");
        if (t.when) {
            expr::ValueTemplate::StringReferences w{"", {}, {}};
            t.when->references(w.roots, w.task_ids);
            check_references(c, *d, {w}, base + "/when");
        }
    }
    // Cycles (Kahn's algorithm); every task left over is on or behind a cycle.
    if (errors.size() == start) {
        std::vector<int> indeg(d->tasks.size());
        for (std::size_t i = 0; i < d->tasks.size(); ++i) indeg[i] = static_cast<int>(d->tasks[i].deps.size());
        std::vector<int> q;
        for (std::size_t i = 0; i < indeg.size(); ++i)
            if (indeg[i] == 0) q.push_back(static_cast<int>(i));
        std::size_t seen = 0;
        while (!q.empty()) {
            int k = q.back();
            q.pop_back();
            ++seen;
            for (int dep : d->tasks[k].dependents)
                if (--indeg[dep] == 0) q.push_back(dep);
        }
        if (seen != d->tasks.size()) {
            std::string members;
            for (std::size_t i = 0; i < indeg.size(); ++i)
                if (indeg[i] > 0) members += (members.empty() ? "" : ", ") + d->tasks[i].id;
            for (std::size_t i = 0; i < indeg.size(); ++i)
                if (indeg[i] > 0) {
                    c.err("/tasks/" + std::to_string(i) + "/depends_on", "cycle: tasks " + members + " depend on each other");
                    break;
                }
        }
    }
    if (errors.size() != start) {
        name_error_places(doc, errors, start);
        return nullptr;
    }
    return d;
}

}  // namespace arclight::workflow
