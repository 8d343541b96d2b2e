#include "core/app/periodic.hpp"

#include "core/log/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <future>

namespace arclight {

namespace asio = boost::asio;

struct PeriodicTask::State {
    State(asio::any_io_executor ex, std::string n) : timer(std::move(ex)), name(std::move(n)) {}
    asio::steady_timer timer;
    std::string name;
    std::atomic<bool> stopping{false};
    bool started = false, stopped = false;
    std::promise<void> done;
};

PeriodicTask::PeriodicTask(asio::any_io_executor executor, std::string name)
    : state_(std::make_shared<State>(std::move(executor), std::move(name))) {}

PeriodicTask::~PeriodicTask() { stop(std::chrono::steady_clock::now() + std::chrono::seconds(5)); }

void PeriodicTask::start(std::chrono::milliseconds interval, Body body, bool run_first) {
    auto st = state_;
    st->started = true;
    auto loop = [st, interval, body = std::move(body), run_first]() -> asio::awaitable<void> {
        bool wait = !run_first;
        while (!st->stopping) {
            if (wait) {
                st->timer.expires_after(interval);
                boost::system::error_code ec;
                co_await st->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                if (st->stopping) break;
            }
            wait = true;
            try {
                co_await body();
            } catch (const std::exception& e) {
                log::warn(st->name, "periodic task failed: {}", e.what());
            }
        }
    };
    asio::co_spawn(st->timer.get_executor(), std::move(loop), [st](std::exception_ptr) { st->done.set_value(); });
}

void PeriodicTask::stop(std::chrono::steady_clock::time_point deadline) {
    auto st = state_;
    if (!st->started || st->stopped) return;
    st->stopped = true;
    st->stopping = true;
    asio::post(st->timer.get_executor(), [st] { st->timer.cancel(); });
    if (st->done.get_future().wait_until(deadline) != std::future_status::ready) {
        log::warn(st->name, "background loop did not stop by the deadline");
    }
}

}  // namespace arclight
