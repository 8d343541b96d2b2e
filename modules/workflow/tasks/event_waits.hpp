#pragma once
// The bus subscriptions of waiting wait_for_event tasks. Any instance may hold them: a matching
// event decides the task through Engine::Impl::decide, wherever the run is.
#include "core/bus/bus.hpp"
#include "modules/workflow/engine.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace arclight::workflow {

class EventWaits {
public:
    /// Subscribes to the wait's topic (idempotent).
    void add(Engine::Impl& e, const std::string& run_id, const std::string& task_id, const boost::json::value& input);
    void remove(const std::string& run_id, const std::string& task_id);
    /// Loads every event wait in the database (start-up, and now and then: waits created by
    /// other instances, or decided elsewhere); drops the ones no longer waiting.
    boost::asio::awaitable<void> refresh(Engine::Impl& e);
    void clear();

private:
    std::mutex m_;
    std::map<std::string, std::unique_ptr<Subscription>> subs_;  // "<run id>/<task id>"
};

}  // namespace arclight::workflow
