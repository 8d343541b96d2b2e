#pragma once
// The in-process event bus. Publishing never blocks on subscribers: the subscriber list is copied
// under a lock, then each delivery is posted to the subscriber's own strand. A subscriber that
// falls more than `max_pending` events behind loses events (counted in stats().dropped), so a
// stuck subscriber cannot grow memory without bound.

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace arclight {

/// One event. Immutable once published; shared between subscribers.
struct Event {
    std::string topic;       ///< dotted name, e.g. "workflow.run.started"
    std::string id;          ///< UUID
    std::int64_t time_ms;    ///< UTC epoch milliseconds
    boost::json::object data;
    std::string trace;       ///< trace context (W3C traceparent) or empty
    std::string project;     ///< the project it belongs to ("" = instance-wide); /ws delivers it only to its members
};
using EventPtr = std::shared_ptr<const Event>;

/// True when `topic` matches `pattern`: segments are dot-separated, `*` matches exactly one
/// segment, a final `**` matches any number (zero or more) of remaining segments.
bool topic_matches(std::string_view pattern, std::string_view topic);
/// True when a pattern is well formed (non-empty segments, `**` only last).
bool valid_topic_pattern(std::string_view pattern);

class EventBus;

/// Keeps a subscription alive; destroying or reset()ing it unsubscribes. Movable.
class Subscription {
public:
    Subscription() = default;
    Subscription(Subscription&&) noexcept = default;
    Subscription& operator=(Subscription&& o) noexcept {
        reset();
        state_ = std::move(o.state_);
        return *this;
    }
    ~Subscription() { reset(); }
    void reset();
    explicit operator bool() const noexcept { return state_ != nullptr; }

private:
    friend class EventBus;
    struct State;
    explicit Subscription(std::shared_ptr<State> s) : state_(std::move(s)) {}
    std::shared_ptr<State> state_;
};

struct BusStats {
    std::uint64_t published = 0;
    std::uint64_t delivered = 0;
    std::uint64_t dropped = 0;
    std::uint64_t subscribers = 0;
};

class EventBus {
public:
    using Handler = std::function<void(const EventPtr&)>;

    explicit EventBus(boost::asio::any_io_executor executor, std::size_t max_pending = 10000);
    ~EventBus();

    /// Subscribes `handler` to topics matching `pattern`. The handler runs on its own strand:
    /// never concurrently with itself, never on the publisher's stack. Thread-safe.
    Subscription subscribe(std::string pattern, Handler handler);
    /// Publishes an event built from topic and data (id and time are filled in). Thread-safe, non-blocking.
    /// `project`: the project the event belongs to ("" = instance-wide).
    EventPtr publish(std::string topic, boost::json::object data, std::string trace = {}, std::string project = {});
    void publish(EventPtr event);
    /// True when publishing `topic` would reach someone (a matching subscriber or the observer):
    /// lets hot paths skip building events nobody receives.
    bool has_subscribers(std::string_view topic) const;

    BusStats stats() const;
    /// Metrics hook: called synchronously on every publish (keep it cheap).
    void set_observer(std::function<void(const Event&)> observer);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace arclight
