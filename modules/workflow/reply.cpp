#include "modules/workflow/reply.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>

namespace arclight::workflow {
namespace asio = boost::asio;

std::string sent_content_type(const WebhookReply& r) {
    if (r.content_type) return *r.content_type;
    return std::holds_alternative<boost::json::value>(r.body) ? "application/json" : "text/plain; charset=utf-8";
}

boost::json::object reply_record(const WebhookReply& r) {
    boost::json::object headers;
    for (const auto& [k, v] : r.headers) headers[k] = v;
    boost::json::value body = nullptr;
    if (auto* text = std::get_if<std::string>(&r.body)) body = boost::json::string(*text);
    else if (auto* v = std::get_if<boost::json::value>(&r.body)) body = *v;
    return boost::json::object{{"status", r.status},
                               {"content_type", sent_content_type(r)},
                               {"headers", std::move(headers)},
                               {"body", std::move(body)}};
}

bool Responder::put(WebhookReply r, bool reserved_call, std::string by, boost::json::object record) {
    std::function<void()> w;
    {
        std::lock_guard lk(m_);
        if (value_ || taken_ || reserved_ != reserved_call) return false;
        reserved_ = false;
        value_ = std::move(r);
        if (!reserved_call) {
            by_ = std::move(by);
            timeout_record_ = std::move(record);
        }
        w = std::move(waiter_);
        waiter_ = nullptr;
    }
    if (w) w();
    return true;
}

bool Responder::deliver(WebhookReply r, std::string by) {
    boost::json::object record;
    if (by == "timeout") record = reply_record(r);
    return put(std::move(r), false, std::move(by), std::move(record));
}

bool Responder::reserve() {
    std::lock_guard lk(m_);
    if (value_ || taken_ || reserved_) return false;
    reserved_ = true;
    by_ = "run_end";
    return true;
}

void Responder::deliver_reserved(WebhookReply r) { put(std::move(r), true, {}, {}); }

boost::json::object Responder::answer() {
    std::lock_guard lk(m_);
    if (by_.rfind("task:", 0) == 0) return boost::json::object{{"source", "task"}, {"task_id", by_.substr(5)}};
    if (by_ == "timeout") {
        auto o = timeout_record_;
        o["source"] = "timeout";
        return o;
    }
    return {};
}

std::optional<WebhookReply> Responder::take() {
    std::lock_guard lk(m_);
    if (!value_) return std::nullopt;
    taken_ = true;
    auto v = std::move(value_);
    value_.reset();
    return v;
}

asio::awaitable<WebhookReply> Responder::wait(std::int64_t timeout_ms, WebhookReply on_timeout) {
    if (auto v = take()) co_return std::move(*v);
    auto ex = co_await asio::this_coro::executor;
    auto timer = std::make_shared<asio::steady_timer>(ex, std::chrono::milliseconds(timeout_ms));
    auto self = this;
    auto timeout_reply = std::make_shared<WebhookReply>(std::move(on_timeout));
    timer->async_wait([self, timeout_reply](boost::system::error_code ec) {
        if (!ec) self->deliver(std::move(*timeout_reply), "timeout");
    });
    auto init = [this, ex](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto fire = [h, ex]() { asio::post(ex, [h]() mutable { (*h)(); }); };
        std::unique_lock lk(m_);
        if (value_) {
            lk.unlock();
            fire();
        } else {
            waiter_ = fire;
        }
    };
    co_await asio::async_initiate<const asio::use_awaitable_t<>, void()>(init, asio::use_awaitable);
    timer->cancel();
    auto v = take();
    co_return v ? std::move(*v) : WebhookReply{};
}

}  // namespace arclight::workflow
