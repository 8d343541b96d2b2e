// The compute pool (core/exec/compute_pool.hpp): its own threads, at a lower priority, with a
// queue whose length callers use for admission.
#include <doctest/doctest.h>

#include "core/exec/compute_pool.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

using arclight::ComputePool;
using arclight::ComputePoolOptions;

TEST_CASE("compute pool: jobs run on its threads, at a lower priority") {
    ComputePoolOptions o;
    o.threads = 2;
    o.nice = 5;
    ComputePool pool(o);
    CHECK_FALSE(ComputePool::on_pool_thread());
    errno = 0;
    int base = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
    REQUIRE(errno == 0);
    std::promise<std::pair<bool, int>> seen;
    pool.post([&] {
        int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
        seen.set_value({ComputePool::on_pool_thread(), nice});
    });
    auto [on_pool, nice] = seen.get_future().get();
    CHECK(on_pool);
    CHECK(nice == std::min(19, base + 5));
}

TEST_CASE("compute pool: saturated from max_queued waiting jobs; stop finishes running jobs and drops the rest") {
    ComputePoolOptions o;
    o.threads = 1;
    o.max_queued = 2;
    ComputePool pool(o);
    std::mutex m;
    std::condition_variable cv;
    bool started = false, release = false;
    std::atomic<int> ran{0};
    pool.post([&] {
        std::unique_lock lk(m);
        started = true;
        cv.notify_all();
        cv.wait(lk, [&] { return release; });
        ++ran;
    });
    {
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return started; });
    }
    // The one thread is busy: what comes now waits.
    CHECK_FALSE(pool.saturated());
    pool.post([&] { ++ran; });
    CHECK_FALSE(pool.saturated());
    pool.post([&] { ++ran; });
    CHECK(pool.saturated());
    CHECK(pool.queued() == 2);
    // stop() waits for the running job; let it end once stop has begun dropping the queue.
    auto stopper = std::async(std::launch::async, [&] { pool.stop(); });
    while (pool.queued() != 0) std::this_thread::yield();
    {
        std::lock_guard lk(m);
        release = true;
    }
    cv.notify_all();
    stopper.get();
    CHECK(ran == 1);
    pool.post([&] { ++ran; });  // after stop: dropped
    CHECK(pool.queued() == 0);
    CHECK(ran == 1);
}
