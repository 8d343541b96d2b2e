// delay: waits `seconds` (durable: the run sleeps in the database and any instance wakes it).
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/tasks/control_task.hpp"

#include <boost/json.hpp>

#include <cstdlib>
#include <string_view>

namespace arclight::workflow {
namespace json = boost::json;

namespace {

class DelayTask final : public ControlTask {
public:
    std::string_view type() const override { return "delay"; }

    const json::value& config_schema() const override {
        static const json::value s = json::parse(R"j({"type":"object","required":["seconds"],
      "properties":{"seconds":{"type":["number","string"],"description":"How long to wait (a number, or a {{ }} expression giving one). Durable: survives restarts."}},
      "additionalProperties":false})j");
        return s;
    }

    // A literal that can never work is refused when the workflow is saved; only {{ }} expressions
    // are left for run time.
    void check(const json::value& config, const std::string& pointer, const TaskTypes&,
               std::vector<FieldError>& errors) const override {
        const auto* s = config.is_object() ? config.as_object().if_contains("seconds") : nullptr;
        if (!s) return;
        auto in_range = [](double v) { return v >= 0 && v <= 366.0 * 86400; };
        bool ok = true;
        if (s->is_number()) {
            ok = in_range(s->to_number<double>());
        } else if (s->is_string() && std::string_view(s->as_string()).find("{{") == std::string_view::npos) {
            std::string text(s->as_string());
            char* end = nullptr;
            double v = text.empty() ? -1 : std::strtod(text.c_str(), &end);
            ok = end && *end == '\0' && in_range(v);
        }
        if (!ok)
            errors.push_back({pointer + "/seconds", "must be a number of seconds between 0 and 31622400, or a {{ }} expression"});
    }

    void start(Engine::Impl& e, const RunPtr& r, int k) const override {
        auto& ts = r->tasks[k];
        const auto& cfg = ts.input.as_object();
        double seconds = 0;
        const auto& s = cfg.at("seconds");
        if (s.is_number()) seconds = s.to_number<double>();
        else if (s.is_string()) {
            try {
                seconds = std::stod(std::string(s.as_string()));
            } catch (...) {
                e.fail_task(r, k, "delay: seconds must be a number, got \"" + std::string(s.as_string()) + "\"", false);
                return;
            }
        }
        if (!(seconds >= 0) || seconds > 366.0 * 86400) {
            e.fail_task(r, k, "delay: seconds must be between 0 and 31622400", false);
            return;
        }
        ts.status = TS::waiting;
        ts.due_at = e.now() + static_cast<std::int64_t>(seconds * 1000);
        r->status = RS::waiting;
        recompute_wake(*r);
        e.promote(r);
        std::uint64_t token = ts.token;
        e.record_task(r, k, [&e, r, k, token](Run& run, bool) {
            e.publish_task(run, k);
            e.record_run(r, [&e, r, k, token](Run& run2, bool, const std::string&) {
                e.publish_run(run2);
                if (run2.tasks[k].token == token && run2.tasks[k].status == TS::waiting)
                    e.arm_wake(r, k, run2.tasks[k].due_at, token);
            });
        });
    }

    void resume_waiting(Engine::Impl& e, const RunPtr& r, int k) const override {
        e.arm_wake(r, k, r->tasks[k].due_at, r->tasks[k].token);
    }

    void on_due(Engine::Impl& e, const RunPtr& r, int k) const override {
        auto& run = *r;
        auto waited = e.now() - run.tasks[k].started_at;
        if (run.status == RS::waiting) {
            run.status = RS::running;
            run.wake_at = 0;
        }
        e.finish_task(r, k, TS::succeeded, json::object{{"waited_ms", waited}}, {});
    }
};

}  // namespace

const ControlTask& delay_task() {
    static const DelayTask t;
    return t;
}

}  // namespace arclight::workflow
