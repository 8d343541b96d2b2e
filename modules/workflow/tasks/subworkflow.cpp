// subworkflow: runs another workflow's current version as a child run (waiting for its end by
// default). Also the child-run machinery decompose shares (tasks/child_run.hpp), the parent's
// notice when a child ends, and the periodic check for ends whose notice was lost.
#include "core/db/db.hpp"
#include "core/log/log.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/run_store.hpp"
#include "modules/workflow/events.hpp"
#include "modules/workflow/tasks/child_run.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>

namespace arclight::workflow {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

struct Started {
    std::string child_id, child_status, error;
};

asio::awaitable<Started> launch_child(std::shared_ptr<Engine::Impl> self, ChildRun c, std::string key, json::object trigger) {
    Started out;
    try {
        std::shared_ptr<const WorkflowVersion> wf;
        if (c.plan) {
            // The plan is stored as a workflow version first, so the child run can be
            // reloaded after a restart like any other.
            std::int64_t now = self->now();
            auto store = [wf_id = c.workflow_id, text = c.plan_text, now](soci::session& s) {
                RunStore::save_plan(s, wf_id, text, now);
            };
            co_await self->db.run(std::move(store));
            wf = c.plan;
        } else {
            auto loader = self->current_loader;
            auto q = [loader, wf_id = c.workflow_id](soci::session& s) { return loader ? loader(s, wf_id) : nullptr; };
            wf = co_await self->db.run(std::move(q));
        }
        if (!wf) {
            out.error = "subworkflow: there is no workflow " + c.workflow_id;
            co_return out;
        }
        StartRequest req;
        req.wf = wf;
        req.input = std::move(c.input);
        req.trigger_type = "subworkflow";
        req.trigger = std::move(trigger);
        req.idempotency_key = key;
        bool exists = false;
        try {
            auto res = co_await self->start_child(std::move(req));
            out.child_id = res.id;
            out.child_status = res.status;
        } catch (const Error& e) {
            if (e.code() != ErrorCode::conflict) throw;
            exists = true;
        }
        if (exists) {
            // Started before (a restart re-launched the task): find that child.
            auto find = [wf_id = c.workflow_id, key](soci::session& s) { return RunStore::run_by_key(s, wf_id, key); };
            out.child_id = co_await self->db.run(std::move(find));
            if (out.child_id.empty()) out.error = "subworkflow: the child run could not be started";
        }
    } catch (const std::exception& e) {
        out.error = std::string("subworkflow: ") + e.what();
    }
    co_return out;
}

}  // namespace

void start_child_run(Engine::Impl& e, const RunPtr& r, int k, ChildRun c) {
    auto& ts = r->tasks[k];
    const auto& td = r->def().tasks[k];
    int depth = 1;
    const auto& trig = r->ctx.as_object().at("trigger");
    if (trig.is_object())
        if (auto* d = trig.as_object().if_contains("depth"); d && d->is_int64()) depth = static_cast<int>(d->as_int64()) + 1;
    if (depth > 8) {
        e.fail_task(r, k, td.type + ": nested deeper than 8 levels", false);
        return;
    }
    bool wait = c.wait;
    if (wait) {
        ts.status = TS::waiting;
        r->status = RS::waiting;
    }
    e.promote(r);  // the parent must survive a restart to receive the child's end
    ++r->in_flight;
    std::string key = "sub:" + r->id + ":" + td.id + ":" + std::to_string(ts.attempts);
    json::object trigger{{"type", "subworkflow"}, {"parent_run_id", r->id}, {"parent_task_id", td.id}, {"depth", depth}, {"wait", wait}};
    if (auto hops = events::event_hops(r->ctx)) trigger["event_hops"] = hops;  // the chain goes on in the child
    std::uint64_t token = ts.token;
    auto self = e.shared_from_this();
    auto body = [self, r, k, token, c = std::move(c), key, trigger, wait]() mutable -> asio::awaitable<void> {
        auto started = co_await launch_child(self, std::move(c), key, std::move(trigger));
        self->notify(r, [self, r, k, token, started, wait](Run& run) {
            --run.in_flight;
            auto& t = run.tasks[k];
            if (t.token != token || terminal(t.status)) return;
            if (!started.error.empty()) {
                if (t.status == TS::waiting) t.status = TS::running;
                self->fail_task(r, k, started.error, false);
                return;
            }
            if (!wait) {
                self->finish_task(r, k, TS::succeeded, json::object{{"run_id", started.child_id}, {"status", started.child_status}},
                                  {});
                return;
            }
            t.output = json::object{{"run_id", started.child_id}};
            self->record_task(r, k, [self, k](Run& run2, bool) { self->publish_task(run2, k); });
        });
    };
    asio::co_spawn(e.io, std::move(body), asio::detached);
}

void ChildRunTask::resume_waiting(Engine::Impl& e, const RunPtr& r, int k) const {
    auto& ts = r->tasks[k];
    bool has_child = ts.output.is_object() && ts.output.as_object().contains("run_id");
    if (!has_child) {
        // Crashed while starting the child: start it again (same attempt, same idempotency
        // key, so an already started child is found, not doubled).
        ++ts.token;
        start(e, r, k);
    }
}

void notify_parent(Engine::Impl& e, const Run& child) {
    const auto& trig = child.ctx.as_object().at("trigger");
    if (!trig.is_object()) return;
    const auto& t = trig.as_object();
    auto* type = t.if_contains("type");
    auto* pr = t.if_contains("parent_run_id");
    auto* pt = t.if_contains("parent_task_id");
    if (!type || *type != "subworkflow" || !pr || !pr->is_string() || !pt || !pt->is_string()) return;
    bool ok = child.status == RS::succeeded;
    json::object out{{"run_id", child.id}, {"status", name(child.status)}, {"output", child.output}};
    std::string error = ok ? "" : "subworkflow run " + child.id + " " + name(child.status) + ": " + child.error;
    auto self = e.shared_from_this();
    std::string parent(pr->as_string()), task(pt->as_string());
    auto body = [self, parent, task, ok, out, error]() -> asio::awaitable<void> {
        try {
            // Every argument named (GCC 12 mishandles temporaries in a co_await expression).
            std::string run_id = parent, task_id = task, type = "subworkflow", err = error;
            json::value output = out;
            co_await self->decide(std::move(run_id), std::move(task_id), std::move(type), ok, std::move(output),
                                  std::move(err));
        } catch (const std::exception& e) {
            log::warn("workflow", "run {}: subworkflow result not applied yet: {}", parent, e.what());
        }
    };
    asio::co_spawn(e.io, std::move(body), asio::detached);
}

namespace {

class SubworkflowTask final : public ChildRunTask {
public:
    std::string_view type() const override { return "subworkflow"; }
    const json::value& config_schema() const override {
        static const json::value s = json::parse(R"j({"type":"object","required":["workflow_id"],
      "properties":{"workflow_id":{"type":"string","minLength":1,"description":"The workflow to run (its current version)"},
                    "input":{"description":"The child run's input (templated); default {}"},
                    "wait":{"type":"boolean","description":"Wait for the child run and take its output (default true); false: start it and go on"}},
      "additionalProperties":false})j");
        return s;
    }

    void start(Engine::Impl& e, const RunPtr& r, int k) const override {
        const auto& cfg = r->tasks[k].input.as_object();
        ChildRun c;
        c.input = json::object();
        auto* wid = cfg.if_contains("workflow_id");
        if (!wid || !wid->is_string() || wid->as_string().empty()) {
            e.fail_task(r, k, "subworkflow: workflow_id must evaluate to a workflow id", false);
            return;
        }
        c.workflow_id = std::string(wid->as_string());
        // A run starts only workflows of its own project (another project's is not there for it).
        if (e.project_of(c.workflow_id) != e.project_of(*r)) {
            e.fail_task(r, k, "subworkflow: there is no workflow " + c.workflow_id, false);
            return;
        }
        if (auto* w = cfg.if_contains("wait"); w && w->is_bool()) c.wait = w->as_bool();
        if (auto* in = cfg.if_contains("input"); in && !in->is_null()) c.input = *in;
        start_child_run(e, r, k, std::move(c));
    }

    // Subworkflow / decompose tasks still waiting although their child has ended (a notice
    // lost to a crash, or the parent was busy elsewhere): decide them now.
    asio::awaitable<void> sweep(Engine::Impl& e) const override {
        auto q = [](soci::session& s) { return RunStore::ended_children(s); };
        auto rows = co_await e.db.run(std::move(q));
        for (auto& c : rows) {
            boost::system::error_code ec;
            auto out_v = json::parse(c.output, ec);
            bool ok = c.status == "succeeded";
            // Every argument named (GCC 12 mishandles temporaries in a co_await expression).
            json::value out = json::object{{"run_id", c.child}, {"status", c.status}, {"output", ec ? json::value(nullptr) : out_v}};
            std::string error = ok ? "" : "subworkflow run " + c.child + " " + c.status + ": " + c.error;
            std::string run_id = c.parent, task_id = c.task, type = "subworkflow";
            co_await e.decide(std::move(run_id), std::move(task_id), std::move(type), ok, std::move(out), std::move(error));
        }
    }
};

}  // namespace

const ControlTask& subworkflow_task() {
    static const SubworkflowTask t;
    return t;
}

}  // namespace arclight::workflow
