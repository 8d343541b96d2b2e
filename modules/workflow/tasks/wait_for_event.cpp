// wait_for_event: waits for a bus event matching a topic pattern (and optionally `match` paths
// and a `filter` expression). The subscriptions (EventWaits) live on every instance that sees
// the wait in the database, so the event decides the task wherever the run is held.
#include "core/db/db.hpp"
#include "core/json/compare.hpp"
#include "core/log/log.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/run_store.hpp"
#include "modules/workflow/tasks/external_wait.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>

#include <set>

namespace arclight::workflow {
namespace asio = boost::asio;
namespace json = boost::json;

void EventWaits::add(Engine::Impl& e, const std::string& run_id, const std::string& task_id, const json::value& input) {
    auto key = run_id + "/" + task_id;
    {
        std::lock_guard lk(m_);
        if (subs_.count(key)) return;
    }
    if (!input.is_object()) return;
    const auto& cfg = input.as_object();
    auto* topic = cfg.if_contains("topic");
    if (!topic || !topic->is_string() || !valid_topic_pattern(topic->as_string())) return;
    std::shared_ptr<expr::Expr> filter;
    if (auto* f = cfg.if_contains("filter"); f && f->is_string()) {
        try {
            filter = std::make_shared<expr::Expr>(parse_condition_text(f->as_string()));
        } catch (const std::exception&) {
            return;
        }
    }
    json::object match;
    if (auto* m = cfg.if_contains("match"); m && m->is_object()) match = m->as_object();
    std::weak_ptr<Engine::Impl> weak = e.shared_from_this();
    auto handler = [weak, run_id, task_id, filter, match](const EventPtr& ev) {
        auto self = weak.lock();
        if (!self || self->stopping) return;
        for (const auto& [path, expected] : match) {
            const json::value* v = nullptr;
            json::value data_v = ev->data;
            v = &data_v;
            std::string_view rest = path;
            while (v && !rest.empty()) {
                auto dot = rest.find('.');
                auto part = rest.substr(0, dot);
                rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
                v = v->is_object() ? v->as_object().if_contains(part) : nullptr;
            }
            if (!v || !json_equal(*v, expected)) return;
        }
        json::object event{{"topic", ev->topic}, {"id", ev->id}, {"time", format_rfc3339(ev->time_ms)}, {"data", ev->data}};
        if (filter) {
            json::object root{{"event", event}};
            try {
                if (!filter->truthy(expr::ObjectScope(root))) return;
            } catch (const std::exception&) {
                return;
            }
        }
        auto body = [self, run_id, task_id, event]() -> asio::awaitable<void> {
            try {
                int r = co_await self->decide(run_id, task_id, "wait_for_event", true, event, {});
                if (r != 2) self->waits.remove(run_id, task_id);
            } catch (const std::exception& e) {
                log::warn("workflow", "run {}: event for task {} not applied: {}", run_id, task_id, e.what());
            }
        };
        asio::co_spawn(self->io, std::move(body), asio::detached);
    };
    auto sub = std::make_unique<Subscription>(e.bus.subscribe(std::string(topic->as_string()), std::move(handler)));
    std::lock_guard lk(m_);
    subs_[key] = std::move(sub);
}

void EventWaits::remove(const std::string& run_id, const std::string& task_id) {
    std::unique_ptr<Subscription> old;
    std::lock_guard lk(m_);
    auto it = subs_.find(run_id + "/" + task_id);
    if (it == subs_.end()) return;
    old = std::move(it->second);
    subs_.erase(it);
}

void EventWaits::clear() {
    std::map<std::string, std::unique_ptr<Subscription>> old;
    std::lock_guard lk(m_);
    old.swap(subs_);
}

asio::awaitable<void> EventWaits::refresh(Engine::Impl& e) {
    auto q = [](soci::session& s) { return RunStore::event_waits(s); };
    auto rows = co_await e.db.run(std::move(q));
    std::set<std::string> live;
    for (const auto& [run_id, task_id, input] : rows) {
        live.insert(run_id + "/" + task_id);
        boost::system::error_code ec;
        auto v = json::parse(input, ec);
        if (!ec) add(e, run_id, task_id, v);
    }
    std::vector<std::unique_ptr<Subscription>> dropped;
    std::lock_guard lk(m_);
    for (auto it = subs_.begin(); it != subs_.end();) {
        if (!live.count(it->first)) {
            dropped.push_back(std::move(it->second));
            it = subs_.erase(it);
        } else {
            ++it;
        }
    }
}

namespace {

class WaitForEventTask final : public ExternalWait {
public:
    std::string_view type() const override { return "wait_for_event"; }
    const json::value& config_schema() const override {
        static const json::value s = json::parse(R"j({"type":"object","required":["topic"],
      "properties":{"topic":{"type":"string","minLength":1,"description":"Bus topic pattern to wait for (may use {{ }})"},
                    "match":{"type":"object","description":"Paths into the event data and the values they must equal, e.g. {\"order_id\": \"{{ input.id }}\"}"},
                    "filter":{"type":"string","description":"An expression over `event` (topic, id, time, data) that must be true"},
                    "timeout_seconds":{"type":["number","string"],"description":"Fail the task when no event came by then (default: wait forever)"}},
      "additionalProperties":false})j");
        return s;
    }
    std::vector<std::string> raw_keys() const override { return {"filter"}; }  // evaluated against the event

    void check(const json::value& config, const std::string& pointer, const TaskTypes&,
               std::vector<FieldError>& errors) const override {
        if (!config.is_object()) return;
        auto* f = config.as_object().if_contains("filter");
        if (!f || !f->is_string()) return;
        try {
            parse_filter_text(f->as_string());
        } catch (const expr::ExprError& e) {
            errors.push_back({pointer + "/filter", e.what()});
        }
    }

    boost::asio::awaitable<void> sweep(Engine::Impl& e) const override { co_await e.waits.refresh(e); }

protected:
    std::string check_input(const json::object& cfg) const override {
        auto* topic = cfg.if_contains("topic");
        if (!topic || !topic->is_string() || !valid_topic_pattern(topic->as_string()))
            return "wait_for_event: topic must evaluate to a topic pattern";
        return {};
    }
    void listen(Engine::Impl& e, const Run& run, int k) const override {
        e.waits.add(e, run.id, run.def().tasks[k].id, run.tasks[k].input);
    }
    void unlisten(Engine::Impl& e, const Run& run, int k) const override { e.waits.remove(run.id, run.def().tasks[k].id); }
    const char* awaited() const override { return "the event"; }
};

}  // namespace

const ControlTask& wait_for_event_task() {
    static const WaitForEventTask t;
    return t;
}

}  // namespace arclight::workflow
