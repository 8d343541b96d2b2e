#include "modules/workflow/retention.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include "core/db/db.hpp"
#include "core/log/log.hpp"
#include "core/time/time.hpp"
#include "modules/workflow/run_store.hpp"

#include <soci/soci.h>

namespace arclight::workflow {

namespace {
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
constexpr int kVacuumPages = 1000;  // 4 MiB with 4 KiB pages per short write transaction
}  // namespace

Retention::Retention(Db& db, const Clock& clock, std::int64_t days, std::size_t batch)
    : db_(db), clock_(clock), days_(days), batch_(batch == 0 ? 1 : batch) {}

boost::asio::awaitable<RetentionReport> Retention::sweep() {
    RetentionReport rep;
    if (days_ <= 0) co_return rep;
    const std::int64_t cutoff = clock_.now_ms() - days_ * kDayMs;
    const bool sqlite = db_.backend() == DbBackend::sqlite;
    const std::size_t n = batch_;
    // Task rows first, then the runs left without any: a run never loses its row while it still
    // has tasks, and every statement deletes at most `batch_` rows.
    while (!stopping_) {
        auto del_tasks = [sqlite, cutoff, n](soci::session& s) { return RunStore::delete_expired_tasks(s, sqlite, cutoff, n); };
        std::size_t tasks = co_await db_.run(std::move(del_tasks));
        auto del_runs = [sqlite, cutoff, n](soci::session& s) { return RunStore::delete_expired_runs(s, sqlite, cutoff, n); };
        std::size_t runs = co_await db_.run(std::move(del_runs));
        rep.tasks += tasks;
        rep.runs += runs;
        if (tasks < n && runs < n) break;
    }
    if (rep.runs + rep.tasks > 0 && sqlite) {
        Db* db = &db_;
        while (!stopping_) {
            auto reclaim = [db](soci::session& s) { return db->reclaim_space(s, kVacuumPages); };
            auto freed = co_await db_.run(std::move(reclaim));
            rep.pages_freed += freed;
            if (freed < kVacuumPages) break;
        }
    }
    if (rep.runs + rep.tasks > 0)
        log::info("workflow", "retention: deleted {} runs and {} task rows finished more than {} days ago{}", rep.runs,
                  rep.tasks, days_, sqlite ? fmt::format(" ({} pages freed)", rep.pages_freed) : std::string());
    co_return rep;
}

}  // namespace arclight::workflow
