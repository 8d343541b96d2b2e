#include "core/bus/bus.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <condition_variable>
#include <future>
#include <mutex>

using namespace arclight;

TEST_CASE("topic patterns") {
    CHECK(topic_matches("workflow.run.started", "workflow.run.started"));
    CHECK_FALSE(topic_matches("workflow.run.started", "workflow.run.failed"));
    CHECK(topic_matches("workflow.run.*", "workflow.run.failed"));
    CHECK_FALSE(topic_matches("workflow.*", "workflow.run.failed"));
    CHECK(topic_matches("workflow.**", "workflow.run.failed"));
    CHECK(topic_matches("workflow.**", "workflow"));
    CHECK(topic_matches("**", "anything.at.all"));
    CHECK(topic_matches("*.run.*", "workflow.run.x"));
    CHECK_FALSE(topic_matches("workflow.run", "workflow.run.started"));
    CHECK_FALSE(topic_matches("workflow.run.started.x", "workflow.run.started"));
    CHECK(valid_topic_pattern("a.*.c"));
    CHECK(valid_topic_pattern("a.**"));
    CHECK_FALSE(valid_topic_pattern("a.**.c"));
    CHECK_FALSE(valid_topic_pattern("a..c"));
    CHECK_FALSE(valid_topic_pattern(""));
    CHECK_FALSE(valid_topic_pattern("a b"));
}

namespace {
// Waits until `pred` holds or `timeout` passes (events are asynchronous; never sleep to synchronise).
template <class P>
bool eventually(P pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::yield();
    }
    return pred();
}
}  // namespace

TEST_CASE("events reach matching subscribers only, off the publisher's thread") {
    boost::asio::thread_pool pool(2);
    EventBus bus(pool.get_executor());
    std::atomic<int> runs{0}, all{0};
    std::atomic<bool> on_publisher_thread{false};
    auto publisher = std::this_thread::get_id();
    auto s1 = bus.subscribe("workflow.run.*", [&](const EventPtr& e) {
        if (std::this_thread::get_id() == publisher) on_publisher_thread = true;
        CHECK(e->topic.rfind("workflow.run.", 0) == 0);
        CHECK(e->id.size() == 36);
        ++runs;
    });
    auto s2 = bus.subscribe("**", [&](const EventPtr&) { ++all; });
    bus.publish("workflow.run.started", {{"run", "r1"}});
    bus.publish("workflow.task.completed", {});
    bus.publish("workflow.run.succeeded", {});
    CHECK(eventually([&] { return runs == 2 && all == 3; }));
    CHECK_FALSE(on_publisher_thread);
    CHECK(bus.stats().published == 3);
    s1.reset();
    bus.publish("workflow.run.failed", {});
    CHECK(eventually([&] { return all == 4; }));
    CHECK(runs == 2);
    pool.join();
}

TEST_CASE("a slow subscriber blocks neither the publisher nor other subscribers") {
    boost::asio::thread_pool pool(2);
    EventBus bus(pool.get_executor(), 150);
    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
    std::atomic<int> slow_seen{0}, fast_seen{0};
    auto slow = bus.subscribe("t.*", [&](const EventPtr&) {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return release; });
        ++slow_seen;
    });
    auto fast = bus.subscribe("t.*", [&](const EventPtr&) { ++fast_seen; });
    for (int batch = 0; batch < 10; ++batch) {
        auto started = std::chrono::steady_clock::now();
        for (int i = 0; i < 100; ++i) bus.publish("t.x", {{"i", i}});
        // Publishing returned while the slow subscriber is still stuck on its first event...
        CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
        // ...and the fast subscriber got every event meanwhile.
        CHECK(eventually([&] { return fast_seen == (batch + 1) * 100; }));
    }
    CHECK(slow_seen == 0);
    // The slow subscriber's backlog is bounded: what did not fit was dropped and counted.
    CHECK(bus.stats().dropped >= 1000 - 151);
    {
        std::lock_guard lk(mu);
        release = true;
    }
    cv.notify_all();
    CHECK(eventually([&] { return static_cast<std::uint64_t>(slow_seen) + bus.stats().dropped == 1000; }));
    pool.join();
}

TEST_CASE("a subscriber that throws does not break delivery") {
    boost::asio::thread_pool pool(1);
    EventBus bus(pool.get_executor());
    std::atomic<int> seen{0};
    auto bad = bus.subscribe("x", [](const EventPtr&) { throw std::runtime_error("boom"); });
    auto good = bus.subscribe("x", [&](const EventPtr&) { ++seen; });
    bus.publish("x", {});
    bus.publish("x", {});
    CHECK(eventually([&] { return seen == 2; }));
    pool.join();
}

TEST_CASE("the observer hook sees every publish") {
    boost::asio::thread_pool pool(1);
    EventBus bus(pool.get_executor());
    std::atomic<int> observed{0};
    bus.set_observer([&](const Event&) { ++observed; });
    bus.publish("a", {});
    bus.publish("b", {});
    CHECK(observed == 2);
    pool.join();
}
