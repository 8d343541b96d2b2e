#include "modules/workflow/event_store.hpp"

#include "core/db/row.hpp"
#include "modules/workflow/positions.hpp"

#include <soci/soci.h>

#include <algorithm>

namespace arclight::workflow {
namespace {

// SQLite serialises writes, so one more than the largest position follows commit order.
constexpr const char* kInsertSqlite =
    "INSERT INTO workflow_events (id, pos, topic, data, time_ms, run_id, task_id, project_id) VALUES (:id, "
    "(SELECT COALESCE(MAX(pos), 0) + 1 FROM workflow_events), :t, :d, :tm, :r, :k, :p)";
// PostgreSQL: the transaction's id; readers stay below the oldest running transaction.
constexpr const char* kInsertPg =
    "INSERT INTO workflow_events (id, pos, topic, data, time_ms, run_id, task_id, project_id) VALUES (:id, "
    ARCLIGHT_PG_POSITION ", :t, :d, :tm, :r, :k, :p)";
// Every position below the horizon is complete: nothing can be committed there later.
constexpr const char* kHorizonSqlite = "SELECT COALESCE(MAX(pos), 0) + 1 FROM workflow_events";
constexpr const char* kHorizonPg = ARCLIGHT_PG_HORIZON;

constexpr const char* kColumns = "SELECT id, pos, topic, data, time_ms, project_id FROM workflow_events ";

StoredEvent read(const soci::row& row) {
    StoredEvent ev;
    ev.id = row.get<std::string>(0);
    ev.pos = row_int(row, 1);
    ev.topic = row.get<std::string>(2);
    ev.data = row_text(row, 3);
    ev.time_ms = row_int(row, 4);
    ev.project = row_text(row, 5);
    return ev;
}

}  // namespace

void EventStore::record(soci::session& s, bool sqlite, const StoredEvent& ev, const std::string& run_id,
                        const std::string& task_id) {
    s << (sqlite ? kInsertSqlite : kInsertPg), soci::use(ev.id), soci::use(ev.topic), soci::use(ev.data),
        soci::use(ev.time_ms), soci::use(run_id), soci::use(task_id), soci::use(ev.project);
}

std::int64_t EventStore::feed_start(soci::session& s, bool sqlite) {
    long long horizon = 0;
    s << (sqlite ? kHorizonSqlite : kHorizonPg), soci::into(horizon);
    return horizon;
}

std::vector<StoredEvent> EventStore::feed(soci::session& s, bool sqlite, std::int64_t from, std::size_t limit,
                                          std::int64_t& next, bool& more) {
    std::int64_t horizon = feed_start(s, sqlite);
    auto n = static_cast<long long>(limit);
    std::vector<StoredEvent> out;
    soci::rowset<soci::row> rows =
        (s.prepare << std::string(kColumns) + "WHERE pos >= :f AND pos < :h ORDER BY pos, id LIMIT :n", soci::use(from),
         soci::use(horizon), soci::use(n));
    for (const auto& row : rows) out.push_back(read(row));
    more = out.size() >= limit;
    if (!more) {
        next = std::max(from, horizon);
        return out;
    }
    // A full page may end inside one position: leave that position for the next read, unless
    // the page holds nothing else (one event per transaction makes that impossible in practice).
    std::int64_t last = out.back().pos;
    if (out.front().pos == last) {
        next = last + 1;
        return out;
    }
    while (!out.empty() && out.back().pos == last) out.pop_back();
    next = last;
    return out;
}

std::vector<StoredEvent> EventStore::since(soci::session& s, const std::string& topic, std::int64_t since_ms,
                                           std::int64_t after_pos, const std::string& after_id, std::size_t limit) {
    auto n = static_cast<long long>(limit);
    std::vector<StoredEvent> out;
    const std::string order = " AND (pos > :p OR (pos = :p2 AND id > :i)) ORDER BY pos, id LIMIT :n";
    if (!topic.empty()) {
        soci::rowset<soci::row> rows =
            (s.prepare << std::string(kColumns) + "WHERE topic = :t AND time_ms >= :s" + order, soci::use(topic),
             soci::use(since_ms), soci::use(after_pos), soci::use(after_pos), soci::use(after_id), soci::use(n));
        for (const auto& row : rows) out.push_back(read(row));
    } else {
        soci::rowset<soci::row> rows = (s.prepare << std::string(kColumns) + "WHERE time_ms >= :s" + order,
                                        soci::use(since_ms), soci::use(after_pos), soci::use(after_pos),
                                        soci::use(after_id), soci::use(n));
        for (const auto& row : rows) out.push_back(read(row));
    }
    return out;
}

std::size_t EventStore::purge(soci::session& s, std::int64_t before_ms, std::size_t limit) {
    auto n = static_cast<long long>(limit);
    soci::statement st = (s.prepare << "DELETE FROM workflow_events WHERE id IN (SELECT id FROM workflow_events "
                                       "WHERE time_ms < :t ORDER BY time_ms LIMIT :n)",
                          soci::use(before_ms), soci::use(n));
    st.execute(true);
    return static_cast<std::size_t>(st.get_affected_rows());
}

}  // namespace arclight::workflow
