// map: runs one inner task per item of a list (up to `concurrency` at once) and succeeds with
// the list of their outputs, or fails with the first item's error.
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/tasks/control_task.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>

#include <atomic>

namespace arclight::workflow {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// The run's context plus `item` and `index`, for the inner task's config.
class OverlayScope final : public expr::Scope {
public:
    OverlayScope(const json::object& base, const json::value& item, const json::value& index)
        : base_(base), item_(item), index_(index) {}
    const json::value* lookup(std::string_view root) const override {
        if (root == "item") return &item_;
        if (root == "index") return &index_;
        return base_.if_contains(root);
    }

private:
    const json::object& base_;
    const json::value& item_;
    const json::value& index_;
};

struct MapState {
    json::array items;
    std::vector<json::value> results;
    std::vector<std::string> errors;
    std::atomic<std::size_t> next{0};
    std::atomic<int> workers{0};
    json::value ctx;
};

class MapTask final : public ControlTask {
public:
    std::string_view type() const override { return "map"; }
    const json::value& config_schema() const override {
        static const json::value s = json::parse(R"j({"type":"object","required":["items","task"],
      "properties":{"items":{"description":"The list to fan out over: an array or a {{ }} expression giving one"},
                    "concurrency":{"type":"integer","minimum":1,"maximum":1000,"description":"Items run at once (default 10)"},
                    "task":{"type":"object","required":["type"],"properties":{"type":{"type":"string"},"config":{"type":"object"}},
                            "additionalProperties":false,"description":"The task run per item; its config may use {{ item }} and {{ index }}"}},
      "additionalProperties":false})j");
        return s;
    }
    std::vector<std::string> raw_keys() const override { return {"task"}; }  // compiled separately, evaluated per item

    void start(Engine::Impl& e, const RunPtr& r, int k) const override {
        const auto& td = r->def().tasks[k];
        auto& ts = r->tasks[k];
        const auto& cfg = ts.input.as_object();
        const auto& items_v = cfg.at("items");
        if (!items_v.is_array()) {
            e.fail_task(r, k, "map: items must evaluate to an array", false);
            return;
        }
        // A list longer than workflow.max_map_items fails the task rather than fanning out.
        if (items_v.as_array().size() > e.opt.max_map_items) {
            e.fail_task(r, k,
                        "map: " + std::to_string(items_v.as_array().size()) + " items, more than workflow.max_map_items (" +
                            std::to_string(e.opt.max_map_items) + ")",
                        false);
            return;
        }
        int conc = 10;  // a literal from 1 to 1000 (the schema; checked at save)
        if (auto* c = cfg.if_contains("concurrency"); c && c->is_int64()) conc = static_cast<int>(c->as_int64());
        auto st = std::make_shared<MapState>();
        st->items = items_v.as_array();
        st->results.resize(st->items.size());
        st->errors.resize(st->items.size());
        st->ctx = r->ctx;
        auto inner = td.map_task;
        std::uint64_t token = ts.token;
        ++r->in_flight;
        std::int64_t deadline = e.attempt_deadline(*r, k);
        if (deadline > 0) e.arm_timeout(r, k, token, deadline);
        auto self = e.shared_from_this();
        int n_workers = std::max(1, std::min<int>(conc, static_cast<int>(st->items.size())));
        if (st->items.empty()) {
            --r->in_flight;
            e.complete(r, k, TaskOutcome::success(json::array()));
            return;
        }
        st->workers = n_workers;
        for (int w = 0; w < n_workers; ++w) asio::co_spawn(e.io, worker(self, r, k, st, inner, token, deadline), asio::detached);
    }

private:
    static asio::awaitable<void> worker(std::shared_ptr<Engine::Impl> self, RunPtr r, int k, std::shared_ptr<MapState> st,
                                        std::shared_ptr<TaskDef> inner, std::uint64_t token, std::int64_t deadline) {
        for (;;) {
            std::size_t i = st->next.fetch_add(1);
            if (i >= st->items.size()) break;
            json::value index = static_cast<std::int64_t>(i);
            OverlayScope scope(st->ctx.as_object(), st->items[i], index);
            json::value config;
            try {
                config = inner->config_template.eval(scope);
            } catch (const expr::ExprError& e) {
                st->errors[i] = std::string("config: ") + e.what();
                continue;
            }
            std::string task_id = inner->id + "[" + std::to_string(i) + "]";
            json::value item_ctx = st->ctx;
            item_ctx.as_object()["item"] = st->items[i];
            item_ctx.as_object()["index"] = index;
            TaskCall call{r->id, task_id, 1, config, item_ctx, deadline, self->io};
            TaskType* impl = const_cast<TaskType*>(inner->impl);
            TaskOutcome out;
            try {
                if (impl->synchronous()) out = impl->run_sync(call);
                else out = co_await impl->run(call);
            } catch (const std::exception& e) {
                out = TaskOutcome::failure(std::string("executor error: ") + e.what());
            }
            if (out.ok) st->results[i] = std::move(out.output);
            else st->errors[i] = out.error;
        }
        if (--st->workers == 0) {
            self->notify(r, [self, r, k, st, token](Run& run) {
                --run.in_flight;
                if (run.tasks[k].token != token || run.tasks[k].status != TS::running) return;
                for (std::size_t i = 0; i < st->errors.size(); ++i)
                    if (!st->errors[i].empty()) {
                        self->complete(r, k, TaskOutcome::failure("item " + std::to_string(i) + ": " + st->errors[i]));
                        return;
                    }
                json::array out;
                for (auto& v : st->results) out.push_back(std::move(v));
                self->complete(r, k, TaskOutcome::success(std::move(out)));
            });
        }
    }
};

}  // namespace

const ControlTask& map_task() {
    static const MapTask t;
    return t;
}

}  // namespace arclight::workflow
