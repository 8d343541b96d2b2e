#pragma once
// The compute pool: threads for CPU-bound work (script tasks today), apart from the I/O threads
// that answer HTTP and WebSocket. Its threads run at a lower priority (nice), so a request that
// needs an I/O thread gets a core even while every compute thread is busy.
//
// Admission: post() always queues (work already accepted, e.g. a started run, waits its turn);
// saturated() says the queue holds max_queued jobs or more, and callers that may refuse new work
// (a webhook whose caller waits for the run) answer 503 with Retry-After retry_after_s.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace arclight {

struct ComputePoolOptions {
    std::size_t threads = 2;
    std::size_t max_queued = 256;  ///< saturated() from this many queued jobs
    int nice = 10;                 ///< added to each pool thread's nice value (Linux); 0 keeps it
    int retry_after_s = 1;         ///< what a refusal tells the caller to wait
};

class ComputePool {
public:
    explicit ComputePool(ComputePoolOptions options);
    ~ComputePool();
    ComputePool(const ComputePool&) = delete;
    ComputePool& operator=(const ComputePool&) = delete;

    /// Queues `job`; after stop() it is dropped (destroyed without running).
    void post(std::function<void()> job);
    /// The queue (jobs not yet started) holds max_queued jobs or more.
    bool saturated() const;
    std::size_t queued() const;
    /// Jobs that ran to the end, since start.
    std::size_t completed() const;
    const ComputePoolOptions& options() const { return options_; }
    /// True on one of any pool's threads.
    static bool on_pool_thread() noexcept;

    /// Jobs running now finish; queued ones are dropped; the threads are joined. Idempotent.
    void stop();

private:
    void work();

    ComputePoolOptions options_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    std::atomic<std::size_t> queued_{0};  // queue_.size(), read without the lock
    std::size_t completed_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace arclight
