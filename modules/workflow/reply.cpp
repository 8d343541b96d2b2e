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

bool Responder::deliver(WebhookReply r) {
    std::function<void()> w;
    {
        std::lock_guard lk(m_);
        if (value_ || taken_) return false;
        value_ = std::move(r);
        w = std::move(waiter_);
        waiter_ = nullptr;
    }
    if (w) w();
    return true;
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
        if (!ec) self->deliver(std::move(*timeout_reply));
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
