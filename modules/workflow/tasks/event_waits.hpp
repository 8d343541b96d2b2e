#pragma once
// What waiting wait_for_event tasks listen to. Any instance may hold a wait: a matching event
// decides the task through Engine::Impl::decide, wherever the run is. Two paths:
//  - the bus (fast): a subscription per wait; it sees only events published on this instance
//    after it subscribed, and loses those the bus drops for a subscriber far behind;
//  - the durable record of the events workflows emit (EventStore): when a wait is added, the
//    events recorded since its run was created ("catch-up": an event that came before the wait,
//    or while no instance listened); then, every sweep, the events recorded since the last one
//    (the feed), on every instance.
#include "core/bus/bus.hpp"
#include "modules/workflow/engine.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace arclight::expr {
class Expr;
}

namespace arclight::workflow {

/// A wait's condition: topic pattern, `match` paths and `filter` over the event.
struct EventMatcher {
    std::string pattern;
    boost::json::object match;
    std::shared_ptr<const expr::Expr> filter;
    /// Parses a wait's evaluated config; nullopt when it cannot describe a wait.
    static std::optional<EventMatcher> from_input(const boost::json::value& input);
    /// The event as the task's output ({"topic","id","time","data"}) when it matches.
    std::optional<boost::json::object> accept(const std::string& topic, const std::string& id, std::int64_t time_ms,
                                              const boost::json::object& data) const;
};

class EventWaits {
public:
    /// Subscribes to the wait's topic and looks for an event recorded since `since_ms` (the run's
    /// creation) (idempotent: an existing wait is left as it is). Only events of the run's
    /// `project` (or of none: published by a module) decide it.
    void add(Engine::Impl& e, const std::string& run_id, const std::string& task_id, const boost::json::value& input,
             std::int64_t since_ms, std::string project);
    void remove(const std::string& run_id, const std::string& task_id);
    /// The claim loop's sweep: loads every event wait in the database (start-up, waits created by
    /// other instances, or decided elsewhere; drops the ones no longer waiting), reads the events
    /// recorded since the last sweep, and now and then deletes events older than the retention.
    boost::asio::awaitable<void> refresh(Engine::Impl& e);
    void clear();
    /// The wait could not be decided now: the next sweep looks through the recorded events again.
    void look_again(const std::string& run_id, const std::string& task_id);

private:
    enum class CatchUp { running, done, failed };
    struct Watch {
        std::string run_id, task_id;
        std::shared_ptr<const EventMatcher> matcher;
        std::int64_t since_ms = 0;
        std::string project;    ///< the waiting run's
        std::uint64_t gen = 0;  ///< when it was added (refresh drops only waits older than its read)
        CatchUp catch_up = CatchUp::running;
        std::unique_ptr<Subscription> sub;
    };
    void catch_up(Engine::Impl& e, const std::string& run_id, const std::string& task_id,
                  std::shared_ptr<const EventMatcher> matcher, std::int64_t since_ms, std::string project);
    boost::asio::awaitable<void> read_feed(Engine::Impl& e);
    boost::asio::awaitable<void> purge(Engine::Impl& e);

    std::mutex m_;
    std::map<std::string, Watch> subs_;  // "<run id>/<task id>"
    std::uint64_t gen_ = 0;
    // The feed position and the purge time: used by refresh only (one sweep at a time).
    std::optional<std::int64_t> cursor_;
    std::int64_t next_purge_ = 0;
};

/// Decides a waiting wait_for_event task with `event` (from the bus, or `recorded` in the
/// database); the wait is forgotten unless the run is held by another live instance (then a
/// recorded event is looked for again at the next sweep).
void deliver_event(Engine::Impl& e, const std::string& run_id, const std::string& task_id, boost::json::object event,
                   bool recorded);

}  // namespace arclight::workflow
