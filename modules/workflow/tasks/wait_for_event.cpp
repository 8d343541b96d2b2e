// wait_for_event: waits for an event matching a topic pattern (and optionally `match` paths
// and a `filter` expression). The waits (EventWaits, event_waits.hpp) live on every instance
// that sees them in the database and listen to the bus and to the durable record of the events
// workflows emit, so the event decides the task wherever the run is held.
#include "modules/workflow/definition.hpp"
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/tasks/external_wait.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include <boost/json.hpp>

namespace arclight::workflow {
namespace json = boost::json;

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
        e.waits.add(e, run.id, run.def().tasks[k].id, run.tasks[k].input, run.created_at, e.project_of(run));
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
