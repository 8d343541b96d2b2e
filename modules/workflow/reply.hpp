#pragma once
// The answer of a synchronous webhook, neutral of HTTP types: the engine (a respond task, the
// run's end) produces it, the webhook route turns it into its HTTP response
// (webhook_reply.hpp).
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace arclight::workflow {

struct WebhookReply {
    int status = 200;
    /// Unset: chosen by the body (JSON: application/json; text or none: text/plain; charset=utf-8).
    std::optional<std::string> content_type;
    std::vector<std::pair<std::string, std::string>> headers;
    /// No body, a text body (sent as is) or a JSON value (serialized).
    std::variant<std::monostate, std::string, boost::json::value> body;
};

/// The content type a reply goes out with: its own, else by its body (JSON: application/json;
/// text or none: text/plain; charset=utf-8).
std::string sent_content_type(const WebhookReply& r);

/// A reply as it is recorded (a respond task's output, a run's `response`): {"status",
/// "content_type" (as sent), "headers" {name: value}, "body" (the JSON value, the text, or null)}.
boost::json::object reply_record(const WebhookReply& r);

/// Where a synchronous webhook's answer is delivered: the first respond task (or the run's end,
/// or the timeout) delivers it; the waiting HTTP handler takes it.
class Responder {
public:
    /// First delivery wins; returns false when an answer was already delivered (or the run's end
    /// reserved the answer, see reserve). `by` says who answers: "task:<id>", "timeout"; for
    /// "timeout" the reply is also kept as a record (answer()).
    bool deliver(WebhookReply r, std::string by);
    /// The answer if one was delivered (moves it out).
    std::optional<WebhookReply> take();
    /// Waits (without blocking a thread) until an answer is delivered or `timeout_ms` passes;
    /// on timeout returns `on_timeout`. A reserved answer is waited for past the timeout.
    boost::asio::awaitable<WebhookReply> wait(std::int64_t timeout_ms, WebhookReply on_timeout);

    /// At the run's end: true when nobody has answered yet. The answer is then the run's end
    /// (deliver_reserved, once the end is recorded) and the timeout no longer answers, so what
    /// the run records as its response is what the caller gets.
    bool reserve();
    /// Delivers the answer reserve() kept for the run's end.
    void deliver_reserved(WebhookReply r);
    /// What answered, for the run's record: {"source": "task", "task_id"} or the timeout's
    /// reply_record with "source": "timeout"; empty when nobody has answered.
    boost::json::object answer();

private:
    bool put(WebhookReply r, bool reserved_call, std::string by, boost::json::object record);
    std::mutex m_;
    std::optional<WebhookReply> value_;
    std::function<void()> waiter_;
    bool taken_ = false;
    bool reserved_ = false;
    std::string by_;
    boost::json::object timeout_record_;
};

}  // namespace arclight::workflow
