#include "modules/workflow/driver.hpp"

#include "core/exec/compute_pool.hpp"
#include "core/log/log.hpp"
#include "core/time/time.hpp"

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <deque>

namespace arclight::workflow {
namespace asio = boost::asio;

void Driver::bind(std::weak_ptr<DriverHooks> hooks) {
    raw_hooks_ = hooks.lock().get();
    hooks_ = std::move(hooks);
}

bool Driver::enqueue(const RunPtr& r, Step fn) {
    std::lock_guard lk(r->m);
    r->inbox.push_back(std::move(fn));
    if (r->driving) return false;
    r->driving = true;
    return true;
}

void Driver::notify(const RunPtr& r, Step fn) {
    if (enqueue(r, std::move(fn))) drive(r, *raw_hooks_);
}

void Driver::notify_async(const RunPtr& r, Step fn) {
    if (!enqueue(r, std::move(fn))) return;
    auto hooks = hooks_.lock();
    if (!hooks) return;  // the engine is gone
    asio::post(io_, [this, hooks, r] { drive(r, *hooks); });
}

void Driver::drive(const RunPtr& r, DriverHooks& hooks) {
    for (;;) {
        std::deque<Step> work;
        {
            std::lock_guard lk(r->m);
            if (r->wants_pool && pool_) {
                if (!ComputePool::on_pool_thread()) {
                    // The run moves to the compute pool, still driven (others keep leaving work
                    // in its inbox), with everything it has to do.
                    auto owner = hooks_.lock();
                    if (!owner) return;  // the engine is gone
                    pool_->post([this, owner = std::move(owner), r] { drive(r, *owner); });
                    return;
                }
                r->wants_pool = false;
            }
            if (r->inbox.empty()) {
                r->driving = false;
                return;
            }
            work.swap(r->inbox);
        }
        for (auto& fn : work) {
            try {
                fn(*r);
            } catch (const std::exception& e) {
                log::error("workflow", "run {}: internal error: {}", r->id, e.what());
                hooks.step_failed(r, std::string("internal error: ") + e.what());
            }
        }
        try {
            hooks.after_steps(r);
        } catch (const std::exception& e) {
            log::error("workflow", "run {}: internal error: {}", r->id, e.what());
            hooks.step_failed(r, std::string("internal error: ") + e.what());
        }
    }
}

std::shared_ptr<asio::steady_timer> Driver::at(const RunPtr& r, std::int64_t at, Step fn) {
    auto wait = std::chrono::milliseconds(std::max<std::int64_t>(0, at - clock_.now_ms()));
    auto timer = std::make_shared<asio::steady_timer>(io_, wait);
    timer->async_wait([this, hooks = hooks_.lock(), r, timer, fn = std::move(fn)](boost::system::error_code ec) mutable {
        if (ec || !hooks) return;
        notify(r, std::move(fn));
    });
    return timer;
}

}  // namespace arclight::workflow
