#pragma once
// The answer of a synchronous webhook, neutral of HTTP types: the engine (a respond task, the
// run's end) produces it, the webhook route turns it into its HTTP response
// (webhook_reply.hpp).
#include <boost/asio/awaitable.hpp>
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

/// Where a synchronous webhook's answer is delivered: the first respond task (or the run's end,
/// or the timeout) delivers it; the waiting HTTP handler takes it.
class Responder {
public:
    /// First delivery wins; returns false when an answer was already delivered.
    bool deliver(WebhookReply r);
    /// The answer if one was delivered (moves it out).
    std::optional<WebhookReply> take();
    /// Waits (without blocking a thread) until an answer is delivered or `timeout_ms` passes;
    /// on timeout returns `on_timeout`.
    boost::asio::awaitable<WebhookReply> wait(std::int64_t timeout_ms, WebhookReply on_timeout);

private:
    std::mutex m_;
    std::optional<WebhookReply> value_;
    std::function<void()> waiter_;
    bool taken_ = false;
};

}  // namespace arclight::workflow
