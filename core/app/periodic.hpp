#pragma once
// PeriodicTask: the background loop modules start in start() and stop in stop() (heartbeats,
// purges, later the scheduler and the lease reaper). One body runs at a time; stop() cancels the
// wait and waits for a body in flight until the deadline.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace arclight {

class PeriodicTask {
public:
    using Body = std::function<boost::asio::awaitable<void>()>;

    /// `name` appears in log lines (a body that throws is logged and the loop goes on).
    PeriodicTask(boost::asio::any_io_executor executor, std::string name);
    ~PeriodicTask();
    PeriodicTask(const PeriodicTask&) = delete;
    PeriodicTask& operator=(const PeriodicTask&) = delete;

    /// Runs `body` every `interval` (first run immediately when `run_first`, else after one interval).
    void start(std::chrono::milliseconds interval, Body body, bool run_first);
    /// Stops the loop; returns when it ended or at `deadline` (then logs a warning). Idempotent.
    void stop(std::chrono::steady_clock::time_point deadline);

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace arclight
