// approval: waits for a person's decision (POST /api/v1/runs/{id}/tasks/{task}/approve | reject).
// Also the shared waiting logic of approval and wait_for_event (ExternalWait).
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/tasks/external_wait.hpp"

#include <boost/json.hpp>

namespace arclight::workflow {
namespace json = boost::json;

void ExternalWait::start(Engine::Impl& e, const RunPtr& r, int k) const {
    auto& ts = r->tasks[k];
    const auto& cfg = ts.input.as_object();
    double timeout = 0;
    if (auto* t = cfg.if_contains("timeout_seconds"); t && !t->is_null()) {
        if (t->is_number()) timeout = t->to_number<double>();
        else if (t->is_string()) {
            try {
                timeout = std::stod(std::string(t->as_string()));
            } catch (...) {
                timeout = -1;
            }
        }
        if (!(timeout > 0) || timeout > 366.0 * 86400) {
            e.fail_task(r, k, std::string(type()) + ": timeout_seconds must be a number between 0 and 31622400", false);
            return;
        }
    }
    if (auto error = check_input(cfg); !error.empty()) {
        e.fail_task(r, k, std::move(error), false);
        return;
    }
    ts.status = TS::waiting;
    ts.due_at = timeout > 0 ? e.now() + static_cast<std::int64_t>(timeout * 1000) : 0;
    r->status = RS::waiting;
    recompute_wake(*r);
    e.promote(r);
    std::uint64_t token = ts.token;
    e.record_task(r, k, [this, &e, r, k, token](Run& run, bool) {
        auto& t = run.tasks[k];
        if (t.token != token || t.status != TS::waiting) return;
        e.publish_task(run, k);
        listen(e, run, k);
        if (t.due_at > 0) e.arm_wake(r, k, t.due_at, token);
    });
}

void ExternalWait::resume_waiting(Engine::Impl& e, const RunPtr& r, int k) const {
    auto& ts = r->tasks[k];
    if (ts.due_at > 0) e.arm_wake(r, k, ts.due_at, ts.token);
    listen(e, *r, k);
}

void ExternalWait::on_due(Engine::Impl& e, const RunPtr& r, int k) const {
    unlisten(e, *r, k);
    e.fail_task(r, k, std::string("timed out waiting for ") + awaited(), false);
    if (r->status == RS::waiting && !r->any_waiting()) r->status = RS::running;
}

namespace {

class ApprovalTask final : public ExternalWait {
public:
    std::string_view type() const override { return "approval"; }
    const json::value& config_schema() const override {
        static const json::value s = json::parse(R"j({"type":"object",
      "properties":{"message":{"type":"string","description":"What the approver is asked (shown in the run view)"},
                    "timeout_seconds":{"type":["number","string"],"description":"Fail the task when nobody decided by then (default: wait forever)"}},
      "additionalProperties":false})j");
        return s;
    }

protected:
    const char* awaited() const override { return "an approval"; }
};

}  // namespace

const ControlTask& approval_task() {
    static const ApprovalTask t;
    return t;
}

}  // namespace arclight::workflow
