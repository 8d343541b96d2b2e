#include "core/exec/compute_pool.hpp"

#include "core/log/log.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <exception>

namespace arclight {

namespace {
thread_local bool t_on_pool = false;
}

ComputePool::ComputePool(ComputePoolOptions options) : options_(options) {
    if (options_.threads == 0) options_.threads = 1;
    threads_.reserve(options_.threads);
    for (std::size_t i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { work(); });
}

ComputePool::~ComputePool() { stop(); }

bool ComputePool::on_pool_thread() noexcept { return t_on_pool; }

void ComputePool::post(std::function<void()> job) {
    {
        std::lock_guard lk(m_);
        if (stopping_) return;
        queue_.push_back(std::move(job));
        queued_.store(queue_.size(), std::memory_order_relaxed);
    }
    cv_.notify_one();
}

bool ComputePool::saturated() const { return queued_.load(std::memory_order_relaxed) >= options_.max_queued; }

std::size_t ComputePool::queued() const { return queued_.load(std::memory_order_relaxed); }

std::size_t ComputePool::completed() const {
    std::lock_guard lk(m_);
    return completed_;
}

void ComputePool::stop() {
    std::deque<std::function<void()>> dropped;
    {
        std::lock_guard lk(m_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
        dropped.swap(queue_);
        queued_.store(0, std::memory_order_relaxed);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    dropped.clear();  // destroyed here, after the threads: nothing they hold runs anymore
}

void ComputePool::work() {
    t_on_pool = true;
#ifdef __linux__
    if (options_.nice != 0) {
        // Per thread on Linux: setpriority on the thread id. Failing only costs latency.
        auto tid = static_cast<id_t>(::syscall(SYS_gettid));
        errno = 0;
        int cur = ::getpriority(PRIO_PROCESS, tid);
        if (errno == 0) ::setpriority(PRIO_PROCESS, tid, cur + options_.nice);
    }
#endif
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lk(m_);
            cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            job = std::move(queue_.front());
            queue_.pop_front();
            queued_.store(queue_.size(), std::memory_order_relaxed);
        }
        try {
            job();
        } catch (const std::exception& e) {
            log::error("compute", "a job failed: {}", e.what());
        }
        job = nullptr;
        std::lock_guard lk(m_);
        ++completed_;
    }
}

}  // namespace arclight
