#pragma once
// Login throttling per account and per client address: after `free_attempts` failures each
// further attempt must wait 2^(n - free) seconds (capped), answered with 429 + Retry-After.
// In memory, per instance: with several instances each keeps its own counts.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace arclight::auth {

class LoginThrottle {
public:
    LoginThrottle(int free_attempts, std::chrono::seconds max_delay) : free_(free_attempts), max_delay_(max_delay) {}

    /// Seconds to wait before `key` may try again, or nullopt when it may try now.
    std::optional<long> retry_after(const std::string& key, std::chrono::steady_clock::time_point now) {
        std::lock_guard lk(mu_);
        auto it = entries_.find(key);
        if (it == entries_.end() || now >= it->second.blocked_until) return std::nullopt;
        return std::chrono::ceil<std::chrono::seconds>(it->second.blocked_until - now).count();
    }
    void failure(const std::string& key, std::chrono::steady_clock::time_point now) {
        std::lock_guard lk(mu_);
        if (entries_.size() > 100000) prune(now);
        auto& e = entries_[key];
        e.failures++;
        e.last = now;
        if (e.failures > free_) {
            int exp = std::min(e.failures - free_ - 1, 20);
            auto delay = std::min<std::chrono::seconds>(std::chrono::seconds(1L << exp), max_delay_);
            e.blocked_until = now + delay;
        }
    }
    void success(const std::string& key) {
        std::lock_guard lk(mu_);
        entries_.erase(key);
    }

private:
    struct Entry {
        int failures = 0;
        std::chrono::steady_clock::time_point blocked_until{};
        std::chrono::steady_clock::time_point last{};
    };
    void prune(std::chrono::steady_clock::time_point now) {
        for (auto it = entries_.begin(); it != entries_.end();) {
            if (now - it->second.last > std::chrono::hours(1)) it = entries_.erase(it);
            else ++it;
        }
    }
    int free_;
    std::chrono::seconds max_delay_;
    std::mutex mu_;
    std::map<std::string, Entry> entries_;
};

}  // namespace arclight::auth
