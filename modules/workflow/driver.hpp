#pragma once
// The run driver: one thread at a time runs a run's state machine; work for a run that is being
// driven waits in its inbox and the driving thread takes it before it lets go. Timers put their
// work on the driver too. Private to the workflow module.
#include "modules/workflow/run.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace arclight {
class Clock;
class ComputePool;
}

namespace arclight::workflow {

/// What the driver calls back into (the state machine).
class DriverHooks {
public:
    /// After every batch of steps (the state machine schedules what became ready).
    virtual void after_steps(const RunPtr& r) = 0;
    /// A step threw: the run fails with `error`.
    virtual void step_failed(const RunPtr& r, std::string error) = 0;
    /// A write of the run was fenced (another instance owns it now): the run is dropped here.
    virtual void run_lost(const RunPtr& r) = 0;

protected:
    ~DriverHooks() = default;
};

class Driver {
public:
    using Step = std::function<void(Run&)>;

    /// With a compute pool, a run whose `wants_pool` is set is driven on the pool from its next
    /// steps on (it moves there in one hop, with everything in its inbox, and stays until its
    /// inbox is empty).
    Driver(boost::asio::any_io_executor io, const Clock& clock, ComputePool* pool = nullptr)
        : io_(std::move(io)), clock_(clock), pool_(pool) {}
    ComputePool* pool() const { return pool_; }

    /// The state machine; work posted to the executor or a timer keeps it alive. Set once, before
    /// any run is driven.
    void bind(std::weak_ptr<DriverHooks> hooks);

    /// Leaves `fn` for the run's driver; drives now on this thread when nobody else is.
    void notify(const RunPtr& r, Step fn);
    /// Same, but never drives on the calling thread (writer thread, timers of other runs).
    void notify_async(const RunPtr& r, Step fn);
    /// Runs `fn` on the run's driver and resumes the caller with its result.
    template <class T>
    boost::asio::awaitable<T> on_driver(RunPtr r, std::function<T(Run&)> fn);

    /// At epoch ms `at` (by the engine's clock), `fn` runs on the run's driver, unless the returned
    /// timer is cancelled first.
    std::shared_ptr<boost::asio::steady_timer> at(const RunPtr& r, std::int64_t at, Step fn);

    const Clock& clock() const { return clock_; }

    /// On the run's driver: the run fails with `error` (the state machine's step_failed).
    void fail(const RunPtr& r, std::string error) { raw_hooks_->step_failed(r, std::move(error)); }
    /// On the run's driver: the run is no longer this instance's (the state machine's run_lost).
    void lost(const RunPtr& r) { raw_hooks_->run_lost(r); }

private:
    /// True when the caller is now the run's driver.
    static bool enqueue(const RunPtr& r, Step fn);
    void drive(const RunPtr& r, DriverHooks& hooks);

    boost::asio::any_io_executor io_;
    const Clock& clock_;
    ComputePool* pool_ = nullptr;
    std::weak_ptr<DriverHooks> hooks_;
    DriverHooks* raw_hooks_ = nullptr;  // for notify(): its caller keeps the engine alive
};

template <class T>
boost::asio::awaitable<T> Driver::on_driver(RunPtr r, std::function<T(Run&)> fn) {
    namespace asio = boost::asio;
    auto init = [this, r, fn = std::move(fn)](auto handler) mutable {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        notify_async(r, [h, fn = std::move(fn)](Run& run) {
            auto result = std::make_shared<T>(fn(run));
            auto ex = asio::get_associated_executor(*h);
            asio::post(ex, [h, result]() mutable { (*h)(std::move(*result)); });
        });
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>, void(T)>(std::move(init), asio::use_awaitable);
}

}  // namespace arclight::workflow
