// respond: answers a synchronous webhook (status, headers, body) while the run goes on. Pure:
// its result is not awaited from the database, and it is not part of the run's output. Its
// output records what it sent: {"status", "content_type", "headers", "body", "delivered"}
// ("delivered": false when the caller had an answer already, or the run has no caller).
#include "modules/workflow/engine_impl.hpp"
#include "modules/workflow/tasks/control_task.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace arclight::workflow {
namespace json = boost::json;

namespace {

class RespondTask final : public ControlTask {
public:
    std::string_view type() const override { return "respond"; }
    const json::value& config_schema() const override {
        static const json::value s = json::parse(R"j({"type":"object",
      "properties":{"status":{"type":["integer","string"],"description":"HTTP status (100-599), default 200"},
                    "headers":{"type":["object","string"],"description":"Response headers"},
                    "body":{"description":"Response body: a string is sent as text/plain unless a content-type header says otherwise; other JSON values as application/json"}},
      "additionalProperties":false})j");
        return s;
    }
    bool pure() const override { return true; }
    bool excluded_from_output() const override { return true; }

    void check(const json::value& config, const std::string& pointer, const TaskTypes&,
               std::vector<FieldError>& errors) const override {
        const auto* st = config.is_object() ? config.as_object().if_contains("status") : nullptr;
        if (!st) return;
        bool ok = true;
        if (st->is_int64()) ok = st->as_int64() >= 100 && st->as_int64() <= 599;
        else if (st->is_uint64()) ok = false;
        else if (st->is_string() && std::string_view(st->as_string()).find("{{") == std::string_view::npos) {
            std::string text(st->as_string());
            ok = text.size() == 3 && std::all_of(text.begin(), text.end(), ::isdigit) && text >= "100" && text <= "599";
        }
        if (!ok) errors.push_back({pointer + "/status", "must be an HTTP status between 100 and 599, or a {{ }} expression"});
    }

    void start(Engine::Impl& e, const RunPtr& r, int k) const override {
        auto& ts = r->tasks[k];
        const auto& cfg = ts.input.as_object();
        WebhookReply reply;
        if (auto* st = cfg.if_contains("status")) {
            std::int64_t code = 0;
            if (st->is_int64()) code = st->as_int64();
            else if (st->is_uint64()) code = static_cast<std::int64_t>(st->as_uint64());
            else if (st->is_string()) {
                try {
                    code = std::stoll(std::string(st->as_string()));
                } catch (...) {
                    code = 0;
                }
            }
            if (code < 100 || code > 599) {
                e.fail_task(r, k, "respond: status must be an HTTP status between 100 and 599", false);
                return;
            }
            reply.status = static_cast<int>(code);
        }
        if (auto* h = cfg.if_contains("headers"); h && h->is_object()) {
            for (const auto& [key, v] : h->as_object()) {
                std::string value = v.is_string() ? std::string(v.as_string()) : json::serialize(v);
                if (value.find_first_of("\r\n") != std::string::npos || key.empty()) {
                    e.fail_task(r, k, "respond: header \"" + std::string(key) + "\" has an invalid value", false);
                    return;
                }
                std::string lk(key);
                std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
                if (lk == "content-type") {
                    reply.content_type = value;
                } else if (lk != "content-length" && lk != "connection" && lk != "transfer-encoding") {
                    reply.headers.emplace_back(std::string(key), std::move(value));
                }
            }
        }
        // No body: empty text; a string: as is; any other JSON value: serialized (the content
        // type defaults by kind, see WebhookReply).
        const json::value* body = cfg.if_contains("body");
        if (body && body->is_string()) reply.body = std::string(body->as_string());
        else if (body && !body->is_null()) reply.body = *body;
        json::object sent = reply_record(reply);
        bool delivered = r->responder && r->responder->deliver(std::move(reply), "task:" + r->def().tasks[k].id);
        sent["delivered"] = delivered;
        e.finish_task(r, k, TS::succeeded, std::move(sent), {});
    }
};

}  // namespace

const ControlTask& respond_task() {
    static const RespondTask t;
    return t;
}

}  // namespace arclight::workflow
