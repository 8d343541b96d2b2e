#include "modules/workflow/executors.hpp"

#include "core/bus/bus.hpp"
#include "core/db/db.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "core/util/redact.hpp"
#include "core/expr/expr.hpp"
#include "core/json/compare.hpp"
#include "core/util/text.hpp"
#include "modules/workflow/event_store.hpp"
#include "modules/workflow/events.hpp"
#include "modules/workflow/project_index.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>

namespace arclight::workflow {
namespace json = boost::json;
namespace asio = boost::asio;

void TaskTypeRegistry::add(std::shared_ptr<TaskType> type) {
    auto name = type->name();
    if (!types_.emplace(name, std::move(type)).second) throw std::logic_error("duplicate task type: " + name);
}

const TaskType* TaskTypeRegistry::find(std::string_view name) const {
    auto it = types_.find(name);
    return it == types_.end() ? nullptr : it->second.get();
}

std::vector<std::string> TaskTypeRegistry::names() const {
    std::vector<std::string> out;
    for (const auto& [n, t] : types_) out.push_back(n);
    return out;
}

namespace {

class ScriptType final : public TaskType {
public:
    ScriptType(lua::ScriptExecutor& r, ScriptDefaults d) : runner_(r), defaults_(d) {}
    std::string name() const override { return "script"; }
    std::string description() const override {
        return "Lua 5.4 in a sandbox: the global `input` holds trigger, tasks.<id>.output, input and run; "
               "the chunk's return value is the task's output.";
    }
    json::value config_schema() const override {
        return json::parse(R"j({"type":"object","required":["code"],"additionalProperties":false,
          "properties":{"code":{"type":"string","minLength":1,"maxLength":200000,"description":"Lua 5.4 source; `return` the output"}}})j");
    }
    std::vector<std::string> raw_keys() const override { return {"code"}; }
    void validate(const json::value& config, const std::string& base, std::vector<FieldError>& out) const override {
        auto* code = config.as_object().if_contains("code");
        if (!code || !code->is_string()) return;
        auto err = runner_.check_syntax(code->as_string());
        if (!err.empty()) out.push_back({base + "/code", "Lua syntax error: " + err});
    }
    bool side_effects() const override { return false; }
    bool synchronous() const override { return true; }
    bool cpu_bound() const override { return true; }
    TaskOutcome run_sync(const TaskCall& call) override {
        const auto& code = call.config.as_object().at("code").as_string();
        lua::ScriptLimits limits;
        if (auto early = limits_for(call, limits)) return std::move(*early);
        if (!call.offload_allowed) return outcome(runner_.run(code, call.context, limits), code, false);
        // On an I/O thread: slow code, or worker processes, go to the compute pool at once;
        // anything else gets a short slice here and moves there if it needs more.
        if (defaults_.always_offload || defaults_.inline_ms <= 0 || known_slow(code)) return TaskOutcome::to_compute_pool();
        auto slice = limits;
        slice.cpu_ms = std::min(limits.cpu_ms, defaults_.inline_ms);
        slice.wall_ms = std::min(limits.wall_ms, 2 * defaults_.inline_ms);
        auto r = runner_.run(code, call.context, slice);
        using St = lua::ScriptResult::Status;
        bool cut = (r.status == St::cpu_limit && slice.cpu_ms < limits.cpu_ms) ||
                   (r.status == St::wall_limit && slice.wall_ms < limits.wall_ms);
        if (cut) {
            mark_slow(code, true);
            return TaskOutcome::to_compute_pool();
        }
        return outcome(std::move(r), code, false);
    }
    std::vector<TaskOutcome> run_sync_batch(const std::vector<const TaskCall*>& calls) override {
        std::vector<TaskOutcome> out(calls.size());
        std::vector<lua::ScriptJob> jobs;
        std::vector<std::size_t> where;
        for (std::size_t i = 0; i < calls.size(); ++i) {
            lua::ScriptJob job;
            if (auto early = limits_for(*calls[i], job.limits)) {
                out[i] = std::move(*early);
                continue;
            }
            job.code = calls[i]->config.as_object().at("code").as_string();
            job.input = &calls[i]->context;
            jobs.push_back(job);
            where.push_back(i);
        }
        if (jobs.empty()) return out;
        auto t0 = std::chrono::steady_clock::now();
        auto results = jobs.size() == 1 ? std::vector<lua::ScriptResult>{} : runner_.run_batch(jobs);
        if (jobs.size() == 1) results.push_back(runner_.run(jobs[0].code, *jobs[0].input, jobs[0].limits));
        // Code that ran quickly on the pool may run inline again (one job: its own time).
        bool quick = jobs.size() == 1 && std::chrono::steady_clock::now() - t0 < std::chrono::microseconds(500 * defaults_.inline_ms);
        for (std::size_t n = 0; n < jobs.size() && n < results.size(); ++n)
            out[where[n]] = outcome(std::move(results[n]), jobs[n].code, quick);
        return out;
    }
private:
    /// The attempt's limits (the defaults, within its deadline), or its outcome when it has none left.
    std::optional<TaskOutcome> limits_for(const TaskCall& call, lua::ScriptLimits& limits) const {
        limits = defaults_.limits;
        if (call.deadline_ms > 0) {
            auto left = call.deadline_ms - now_ms();
            if (left <= 0) return TaskOutcome::failure("timed out before the script started");
            limits.wall_ms = static_cast<int>(std::min<std::int64_t>(limits.wall_ms, left));
            limits.cpu_ms = std::min(limits.cpu_ms, limits.wall_ms);
        }
        return std::nullopt;
    }
    TaskOutcome outcome(lua::ScriptResult r, std::string_view code, bool quick) {
        if (quick) mark_slow(code, false);
        if (r.ok()) return TaskOutcome::success(std::move(r.output));
        // A script's own error or a broken limit does not get better by retrying the same code,
        // but the user may still ask for retries; only syntax errors are final.
        return TaskOutcome::failure(std::string(lua::to_string(r.status)) + ": " + r.error,
                                    r.status != lua::ScriptResult::Status::syntax_error);
    }
    // Code known to need more than the inline slice: a small table of code hashes, one slot per
    // hash (a collision only sends some code to the pool, or inline for one slice, once more).
    static constexpr std::size_t kSlots = 1024;
    static std::size_t code_hash(std::string_view code) { return std::hash<std::string_view>{}(code) | 1; }
    bool known_slow(std::string_view code) const {
        auto h = code_hash(code);
        return slow_[h % kSlots].load(std::memory_order_relaxed) == h;
    }
    void mark_slow(std::string_view code, bool slow) {
        auto h = code_hash(code);
        auto& slot = slow_[h % kSlots];
        if (slow) slot.store(h, std::memory_order_relaxed);
        else if (slot.load(std::memory_order_relaxed) == h) slot.store(0, std::memory_order_relaxed);
    }

    lua::ScriptExecutor& runner_;
    ScriptDefaults defaults_;
    std::array<std::atomic<std::size_t>, kSlots> slow_{};
};

class HttpType final : public TaskType {
public:
    explicit HttpType(net::HttpClient& c) : client_(c) {}
    std::string name() const override { return "http"; }
    std::string description() const override {
        return "An outbound HTTP(S) request through the shared client (timeouts, SSRF guard). Output: "
               "{status, headers, body, url} with a JSON body parsed; a body that is not UTF-8 text comes as base64 with "
               "\"body_encoding\": \"base64\".";
    }
    json::value config_schema() const override {
        return json::parse(R"j({"type":"object","required":["url"],"additionalProperties":false,
          "properties":{"method":{"type":"string","enum":["GET","POST","PUT","PATCH","DELETE","HEAD","OPTIONS"]},
                        "url":{"type":"string","minLength":1},
                        "headers":{"type":["object","string"]},
                        "body":{},
                        "timeout_ms":{"type":["integer","string"],"minimum":1,"maximum":600000},
                        "fail_on_status":{"type":"boolean","description":"fail the task on a 4xx/5xx answer (default true)"}}})j");
    }
    bool redacts_input() const override { return true; }
    void redact_input(json::value& input) const override {
        auto* cfg = input.if_object();
        if (!cfg) return;
        if (auto* url = cfg->if_contains("url"); url && url->is_string()) *url = redact_url(url->as_string());
        if (auto* h = cfg->if_contains("headers"); h && h->is_object())
            for (auto& [k, v] : h->as_object())
                if (sensitive_name(k)) v = redact_header(k, v.is_string() ? std::string_view(v.as_string()) : std::string_view());
    }
    asio::awaitable<TaskOutcome> run(const TaskCall& call) override {
        const auto& cfg = call.config.as_object();
        net::FetchRequest req;
        if (auto* m = cfg.if_contains("method"); m && m->is_string()) req.method = std::string(m->as_string());
        auto* url = cfg.if_contains("url");
        if (!url || !url->is_string()) co_return TaskOutcome::failure("config.url must evaluate to a string", false);
        req.url = std::string(url->as_string());
        bool has_ct = false;
        if (auto* h = cfg.if_contains("headers"); h && h->is_object()) {
            for (const auto& [k, v] : h->as_object()) {
                std::string value = v.is_string() ? std::string(v.as_string()) : json::serialize(v);
                std::string key(k);
                if (key.size() == 12 && std::equal(key.begin(), key.end(), "content-type", [](char a, char b) {
                        return std::tolower(static_cast<unsigned char>(a)) == b;
                    }))
                    has_ct = true;
                req.headers.emplace_back(std::move(key), std::move(value));
            }
        }
        if (auto* b = cfg.if_contains("body"); b && !b->is_null()) {
            if (b->is_string()) {
                req.body = std::string(b->as_string());
            } else {
                req.body = json::serialize(*b);
                if (!has_ct) req.headers.emplace_back("Content-Type", "application/json");
            }
        }
        if (auto* t = cfg.if_contains("timeout_ms"); t && t->is_int64()) req.timeout_ms = static_cast<int>(t->as_int64());
        if (call.deadline_ms > 0) {
            auto left = static_cast<int>(std::max<std::int64_t>(1, call.deadline_ms - now_ms()));
            req.timeout_ms = req.timeout_ms > 0 ? std::min(req.timeout_ms, left) : left;
        }
        bool fail_on_status = true;
        if (auto* f = cfg.if_contains("fail_on_status"); f && f->is_bool()) fail_on_status = f->as_bool();
        // Named before co_await (GCC 12 and temporaries in co_await expressions).
        std::string method = req.method;
        std::string url_given = req.url;  // errors show it with its credentials hidden
        try {
            auto resp = co_await client_.fetch(std::move(req));
            json::object headers;
            std::string content_type;
            for (auto& [k, v] : resp.headers) {
                std::string lk = k;
                std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
                if (lk == "content-type") content_type = v;
                // Header values outside ASCII are ISO-8859-1 by HTTP's history: kept as such.
                headers[lk] = storable_text(v) ? v : latin1_to_utf8(v);
            }
            // A body that is not text (an image, Latin-1 text, a NUL byte) is kept exactly, as
            // base64, with "body_encoding": "base64"; text is a string, JSON is parsed.
            bool binary = !storable_text(resp.body);
            json::value body = binary ? json::string(base64_encode(resp.body)) : json::string(resp.body);
            if (!binary && content_type.find("json") != std::string::npos) {
                boost::system::error_code ec;
                auto parsed = json::parse(resp.body, ec);
                if (!ec) body = std::move(parsed);
            }
            std::string shown_url = redact_url(resp.url);
            json::object out{{"status", resp.status}, {"headers", std::move(headers)}, {"body", std::move(body)},
                             {"url", shown_url}};
            if (binary) out["body_encoding"] = "base64";
            if (fail_on_status && resp.status >= 400) {
                auto o = TaskOutcome::failure(method + " " + shown_url + " answered " + std::to_string(resp.status),
                                              resp.status >= 500 || resp.status == 429 || resp.status == 408);
                o.output = std::move(out);
                co_return o;
            }
            co_return TaskOutcome::success(std::move(out));
        } catch (const net::OutboundError& e) {
            bool retry = e.kind() == net::OutboundError::Kind::timeout || e.kind() == net::OutboundError::Kind::connect ||
                         e.kind() == net::OutboundError::Kind::dns || e.kind() == net::OutboundError::Kind::tls ||
                         e.kind() == net::OutboundError::Kind::protocol;
            co_return TaskOutcome::failure(redact_url_in(std::string(to_string(e.kind())) + ": " + e.what(), url_given), retry);
        }
    }
private:
    net::HttpClient& client_;
};

class SetType final : public TaskType {
public:
    std::string name() const override { return "set"; }
    std::string description() const override { return "Data mapping: the output is `values` with every {{ }} evaluated."; }
    json::value config_schema() const override {
        return json::parse(R"j({"type":"object","required":["values"],"additionalProperties":false,
          "properties":{"values":{"description":"any JSON; strings may contain {{ }} expressions"}}})j");
    }
    bool side_effects() const override { return false; }
    bool synchronous() const override { return true; }
    TaskOutcome run_sync(const TaskCall& call) override {
        return TaskOutcome::success(call.config.as_object().at("values"));
    }
};

bool truthy(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null: return false;
        case json::kind::bool_: return v.get_bool();
        case json::kind::int64: return v.get_int64() != 0;
        case json::kind::uint64: return v.get_uint64() != 0;
        case json::kind::double_: return v.get_double() != 0;
        case json::kind::string: return !v.get_string().empty();
        case json::kind::array: return !v.get_array().empty();
        case json::kind::object: return !v.get_object().empty();
    }
    return false;
}

class ConditionType final : public TaskType {
public:
    std::string name() const override { return "condition"; }
    std::string description() const override {
        return "Evaluates `if` (a {{ }} expression); output {\"result\": true|false}. Gate branches with "
               "`when: \"{{ tasks.<id>.output.result }}\"`.";
    }
    json::value config_schema() const override {
        return json::parse(R"j({"type":"object","required":["if"],"additionalProperties":false,"properties":{"if":{}}})j");
    }
    bool side_effects() const override { return false; }
    bool synchronous() const override { return true; }
    TaskOutcome run_sync(const TaskCall& call) override {
        return TaskOutcome::success(json::object{{"result", truthy(call.config.as_object().at("if"))}});
    }
};

class SwitchType final : public TaskType {
public:
    std::string name() const override { return "switch"; }
    std::string description() const override {
        return "Matches `value` against `cases` (a list of values); output {\"case\": <the matching value or "
               "\"default\">, \"index\": <position or -1>}.";
    }
    json::value config_schema() const override {
        return json::parse(R"j({"type":"object","required":["value","cases"],"additionalProperties":false,
          "properties":{"value":{},"cases":{"type":"array","minItems":1}}})j");
    }
    bool side_effects() const override { return false; }
    bool synchronous() const override { return true; }
    TaskOutcome run_sync(const TaskCall& call) override {
        const auto& cfg = call.config.as_object();
        const auto& value = cfg.at("value");
        const auto& cases = cfg.at("cases").as_array();
        for (std::size_t i = 0; i < cases.size(); ++i)
            if (json_equal(cases[i], value)) return TaskOutcome::success(json::object{{"case", cases[i]}, {"index", i}});
        return TaskOutcome::success(json::object{{"case", "default"}, {"index", -1}});
    }
};

class EmitType final : public TaskType {
public:
    EmitType(EventBus& bus, Db& db, int max_chain, const ProjectIndex* projects)
        : bus_(bus), db_(db), max_chain_(max_chain), projects_(projects) {}
    std::string name() const override { return "emit"; }
    std::string description() const override {
        return "Publishes an event on the bus: topic (not workflow.*, system.* or auth.*), data (an object). The event is recorded "
               "first, so waiting wait_for_event tasks get it on every instance, even later.";
    }
    json::value config_schema() const override {
        return json::parse(R"j({"type":"object","required":["topic"],"additionalProperties":false,
          "properties":{"topic":{"type":"string","minLength":1,"maxLength":200},"data":{}}})j");
    }
    void validate(const json::value& config, const std::string& base, std::vector<FieldError>& out) const override {
        const auto& t = config.as_object().at("topic").as_string();
        if (t.find("{{") == json::string::npos && !valid_topic_pattern(t))
            out.push_back({base + "/topic", "must be a dotted topic name"});
        if (events::is_reserved_topic(t))
            out.push_back({base + "/topic", "workflow.*, system.* and auth.* topics are reserved for the server's own events"});
    }
    // Recorded in the database before it counts as succeeded (and before the bus has it), so a
    // wait never misses it: the completion is committed only after the event is.
    asio::awaitable<TaskOutcome> run(const TaskCall& call) override {
        const auto& cfg = call.config.as_object();
        auto* t = cfg.if_contains("topic");
        if (!t || !t->is_string() || !valid_topic_pattern(t->as_string()) || t->as_string().find('*') != json::string::npos ||
            events::is_reserved_topic(t->as_string()))
            co_return TaskOutcome::failure("emit: topic must evaluate to a dotted topic name outside the reserved workflow.*, "
                                           "system.* and auth.*",
                                           false);
        // The event's place in a chain of event-triggered runs: one more than the emitting run's
        // (events::event_hops). A workflow that triggers itself, or two that trigger each other,
        // stop here instead of running forever.
        std::int64_t hops = events::event_hops(call.context) + 1;
        if (hops > max_chain_)
            co_return TaskOutcome::failure(fmt::format("emit: event chain too deep: this run is the last of {} runs started by "
                                                       "events one after another (workflow.max_event_chain); the event "
                                                       "is not published",
                                                       max_chain_),
                                           false);
        json::object data;
        if (auto* d = cfg.if_contains("data"); d && d->is_object()) data = d->as_object();
        else if (d && !d->is_null()) data["value"] = *d;
        std::string run_id(call.run_id), task_id(call.task_id);
        data["run_id"] = run_id;
        data["task_id"] = task_id;
        data["event_hops"] = hops;
        // The event belongs to the emitting run's project: it reaches that project's triggers and waits.
        std::string project;
        if (projects_) {
            const auto* run = call.context.is_object() ? call.context.as_object().if_contains("run") : nullptr;
            const auto* wf = run && run->is_object() ? run->as_object().if_contains("workflow_id") : nullptr;
            if (wf && wf->is_string()) project = projects_->of(std::string(wf->as_string()));
        }
        auto ev = std::make_shared<Event>(Event{std::string(t->as_string()), new_time_uuid(), now_ms(), std::move(data), {}, project});
        StoredEvent stored{ev->id, ev->topic, json::serialize(ev->data), ev->time_ms, 0, project};
        bool sqlite = db_.backend() == DbBackend::sqlite;
        auto q = [stored = std::move(stored), run_id, task_id, sqlite](soci::session& s) {
            EventStore::record(s, sqlite, stored, run_id, task_id);
        };
        std::string error;
        try {
            co_await db_.run(std::move(q));
        } catch (const std::exception& e) {
            error = e.what();
        }
        if (!error.empty()) co_return TaskOutcome::failure("emit: the event could not be recorded: " + error, true);
        bus_.publish(ev);
        co_return TaskOutcome::success(json::object{{"topic", ev->topic}, {"event_id", ev->id}});
    }
private:
    EventBus& bus_;
    Db& db_;
    int max_chain_;
    const ProjectIndex* projects_;
};

}  // namespace

void add_builtin_types(TaskTypeRegistry& registry, lua::ScriptExecutor& scripts, ScriptDefaults script_defaults,
                       net::HttpClient& http, EventBus& bus, Db& db, int max_event_chain, const ProjectIndex* projects) {
    registry.add(std::make_shared<ScriptType>(scripts, script_defaults));
    registry.add(std::make_shared<HttpType>(http));
    registry.add(std::make_shared<SetType>());
    registry.add(std::make_shared<ConditionType>());
    registry.add(std::make_shared<SwitchType>());
    registry.add(std::make_shared<EmitType>(bus, db, max_event_chain, projects));
}

}  // namespace arclight::workflow
