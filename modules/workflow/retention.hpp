#pragma once
// Retention: finished runs and their task rows are deleted `workflow.retention_days` after they
// finished (0 keeps everything), in the background, a batch at a time, each batch its own short
// transaction so the SQLite write lock (and the state writer behind it) never waits long. On
// SQLite the freed pages are then handed back to the file system (incremental auto-vacuum).
// Which runs are never deleted (not final, a parent still waiting, the outcome feed's last
// position): run_store.hpp. The SQL is in RunStore.
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace arclight {
class Clock;
class Db;
}  // namespace arclight

namespace arclight::workflow {

struct RetentionReport {
    std::size_t runs = 0, tasks = 0;
    std::int64_t pages_freed = 0;  ///< SQLite pages handed back to the file system
};

class Retention {
public:
    /// `days` 0 keeps every run (sweep() does nothing). `batch`: most rows one transaction deletes.
    Retention(Db& db, const Clock& clock, std::int64_t days, std::size_t batch = 500);

    std::int64_t days() const noexcept { return days_; }
    /// Deletes every run past the limit (batch by batch) and reclaims the space; what it did.
    boost::asio::awaitable<RetentionReport> sweep();
    /// A sweep in progress ends after its current batch.
    void stop() noexcept { stopping_ = true; }

private:
    Db& db_;
    const Clock& clock_;
    std::int64_t days_;
    std::size_t batch_;
    std::atomic<bool> stopping_{false};
};

}  // namespace arclight::workflow
