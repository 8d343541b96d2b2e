#include "core/log/log.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <thread>

namespace arclight::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::mutex g_observer_mu;
std::function<void(std::string_view)> g_observer;

class Sink {
public:
    Sink() : flusher_([this] { run(); }) {}
    ~Sink() {
        {
            std::lock_guard lk(mu_);
            done_ = true;
        }
        cv_.notify_one();
        flusher_.join();
        flush_now();
    }
    void append(std::string_view line) {
        bool big;
        {
            std::lock_guard lk(mu_);
            buf_.append(line);
            big = buf_.size() > 64 * 1024;
        }
        if (big) cv_.notify_one();
    }
    void flush_now() {
        std::string out;
        {
            std::lock_guard lk(mu_);
            out.swap(buf_);
        }
        if (!out.empty()) {
            std::fwrite(out.data(), 1, out.size(), stderr);
            std::fflush(stderr);
        }
    }

private:
    void run() {
        std::unique_lock lk(mu_);
        while (!done_) {
            cv_.wait_for(lk, std::chrono::milliseconds(100));
            lk.unlock();
            flush_now();
            lk.lock();
        }
    }
    std::mutex mu_;
    std::condition_variable cv_;
    std::string buf_;
    bool done_ = false;
    std::thread flusher_;
};

Sink& sink() {
    static Sink s;
    return s;
}

constexpr std::string_view kNames[] = {"debug", "info", "warn", "error", "off"};

}  // namespace

bool parse_level(std::string_view text, Level& out) {
    for (int i = 0; i < 5; ++i) {
        if (text == kNames[i]) {
            out = static_cast<Level>(i);
            return true;
        }
    }
    return false;
}

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void write(Level lvl, std::string_view channel, std::string_view message) {
    auto now = std::chrono::system_clock::now();
    auto secs = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    auto line = fmt::format("{}.{:03}Z {:5} [{}] {}\n", ts, ms, kNames[static_cast<int>(lvl)], channel, message);
    {
        std::lock_guard lk(g_observer_mu);
        if (g_observer) g_observer(line);
    }
    if (lvl >= Level::warn) {
        flush();
        std::fwrite(line.data(), 1, line.size(), stderr);
        return;
    }
    sink().append(line);
}

void set_observer(std::function<void(std::string_view)> observer) {
    std::lock_guard lk(g_observer_mu);
    g_observer = std::move(observer);
}

void flush() { sink().flush_now(); }

}  // namespace arclight::log
