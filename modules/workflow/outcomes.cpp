#include "modules/workflow/outcomes.hpp"

#include "core/db/row.hpp"
#include "modules/workflow/positions.hpp"

#include <soci/soci.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace arclight::workflow {
namespace {

// CAST rather than "::": the writer turns ":name" into libpq's "$n".
constexpr const char* kPgNext = ARCLIGHT_PG_POSITION;
// The largest position of either table: the last entry of each partial index.
#define ARCLIGHT_SQLITE_LAST_SEQ                                                                                  \
    "(SELECT COALESCE(MAX(m), 0) + 1 FROM (SELECT (SELECT outcome_seq FROM workflow_runs WHERE outcome_seq IS NOT " \
    "NULL ORDER BY outcome_seq DESC LIMIT 1) AS m UNION ALL SELECT (SELECT outcome_seq FROM workflow_tasks WHERE "  \
    "outcome_seq IS NOT NULL ORDER BY outcome_seq DESC LIMIT 1)))"
constexpr const char* kSqliteNext = ARCLIGHT_SQLITE_LAST_SEQ;

// Every transaction below this id has ended; every one that commits later is at or above it.
constexpr const char* kPgHorizon = ARCLIGHT_PG_HORIZON;
// Positions follow commit order: everything up to the largest committed one is there.
constexpr const char* kSqliteHorizon = "SELECT " ARCLIGHT_SQLITE_LAST_SEQ;
#undef ARCLIGHT_SQLITE_LAST_SEQ

constexpr const char* kRunOutcomes =
    "SELECT r.outcome_seq, r.id, r.workflow_id, r.version, r.status, r.started_at, r.finished_at, r.error, r.created_by, "
    "(SELECT COALESCE(SUM(t.cost), 0) FROM workflow_tasks t WHERE t.run_id = r.id) "
    "FROM workflow_runs r WHERE r.outcome_seq IS NOT NULL AND r.status IN ('succeeded', 'failed', 'cancelled') "
    "AND r.outcome_seq < {horizon} {after} ORDER BY r.outcome_seq, r.id LIMIT {limit}";

constexpr const char* kTaskOutcomes =
    "SELECT t.outcome_seq, t.run_id, t.task_id, COALESCE(r.workflow_id, ''), COALESCE(r.version, 0), t.type, t.status, "
    "t.attempts, t.started_at, t.finished_at, t.cost, t.agent, t.error, COALESCE(r.created_by, '') "
    "FROM workflow_tasks t LEFT JOIN workflow_runs r ON r.id = t.run_id WHERE t.outcome_seq IS NOT NULL "
    "AND t.status IN ('succeeded', 'failed', 'skipped', 'cancelled') AND t.outcome_seq < {horizon} {after} "
    "ORDER BY t.outcome_seq, t.run_id, t.task_id LIMIT {limit}";

bool id_chars(std::string_view s) {
    return !s.empty() && s.size() <= 128 &&
           std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; });
}

std::string with_value(std::string sql, std::string_view key, const std::string& value) {
    auto at = sql.find(key);
    sql.replace(at, key.size(), value);
    return sql;
}

// Cursor values are inlined only after parse_outcome_cursor checked them ([A-Za-z0-9_-]).
std::string lit(const std::string& v) { return "'" + v + "'"; }

std::optional<std::int64_t> latency(long long started, long long finished) {
    if (started <= 0 || finished <= 0) return std::nullopt;
    return finished - started;
}

bool before(const Outcome& a, std::int64_t seq_a, const Outcome& b, std::int64_t seq_b) {
    if (seq_a != seq_b) return seq_a < seq_b;
    return a.kind == Outcome::Kind::run && b.kind == Outcome::Kind::task;
}

}  // namespace

std::string next_outcome_seq_sql(bool sqlite) { return sqlite ? kSqliteNext : kPgNext; }

const char* sqlite_next_outcome_seq_query() { return kSqliteHorizon; }

std::optional<OutcomeCursor> parse_outcome_cursor(std::string_view text) {
    OutcomeCursor c;
    if (text.empty()) return c;
    c.start = false;
    std::vector<std::string_view> parts;
    while (true) {
        auto dot = text.find('.');
        parts.push_back(text.substr(0, dot));
        if (dot == std::string_view::npos) break;
        text.remove_prefix(dot + 1);
    }
    if (parts.size() < 3 || parts.size() > 4) return std::nullopt;
    const auto& n = parts[0];
    if (n.empty() || n.size() > 19) return std::nullopt;
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), c.seq);
    if (ec != std::errc() || end != n.data() + n.size() || c.seq < 0) return std::nullopt;
    if (parts[1] == "r" && parts.size() == 3) c.kind = Outcome::Kind::run;
    else if (parts[1] == "t" && parts.size() == 4) c.kind = Outcome::Kind::task;
    else return std::nullopt;
    if (!id_chars(parts[2])) return std::nullopt;
    c.run_id = std::string(parts[2]);
    if (c.kind == Outcome::Kind::task) {
        if (!id_chars(parts[3])) return std::nullopt;
        c.task_id = std::string(parts[3]);
    }
    return c;
}

std::string format_outcome_cursor(const OutcomeCursor& c) {
    if (c.start) return {};
    auto s = std::to_string(c.seq) + (c.kind == Outcome::Kind::run ? ".r." : ".t.") + c.run_id;
    if (c.kind == Outcome::Kind::task) s += "." + c.task_id;
    return s;
}

OutcomePage OutcomeStore::read(soci::session& s, const OutcomeCursor& after, int limit) {
    limit = std::clamp(limit, 1, 1000);
    // One horizon for both tables: a row below it cannot be committed later (see outcomes.hpp),
    // so merging the two reads and continuing after the last item taken skips nothing.
    long long horizon = 0;
    s << (sqlite_ ? kSqliteHorizon : kPgHorizon), soci::into(horizon);
    std::string run_after, task_after;
    if (!after.start) {
        auto seq = std::to_string(after.seq);
        if (after.kind == Outcome::Kind::run) {
            run_after = "AND r.outcome_seq >= " + seq + " AND (r.outcome_seq > " + seq + " OR r.id > " + lit(after.run_id) + ")";
            task_after = "AND t.outcome_seq >= " + seq;
        } else {
            run_after = "AND r.outcome_seq > " + seq;
            task_after = "AND t.outcome_seq >= " + seq + " AND (t.outcome_seq > " + seq + " OR t.run_id > " + lit(after.run_id) +
                         " OR (t.run_id = " + lit(after.run_id) + " AND t.task_id > " + lit(after.task_id) + "))";
        }
    }
    auto h = std::to_string(horizon);
    auto n = std::to_string(limit);
    std::vector<std::pair<std::int64_t, Outcome>> runs, tasks;
    {
        auto sql = with_value(with_value(with_value(kRunOutcomes, "{horizon}", h), "{after}", run_after), "{limit}", n);
        soci::rowset<soci::row> rows = s.prepare << sql;
        for (const auto& r : rows) {
            Outcome o;
            o.kind = Outcome::Kind::run;
            o.run_id = r.get<std::string>(1);
            o.workflow_id = r.get<std::string>(2);
            o.version = static_cast<int>(row_int(r, 3));
            o.status = r.get<std::string>(4);
            o.latency_ms = latency(row_int(r, 5), row_int(r, 6));
            o.finished_at = row_int(r, 6);
            o.error = row_text(r, 7);
            o.created_by = row_text(r, 8);
            o.cost = row_double(r, 9);
            runs.emplace_back(row_int(r, 0), std::move(o));
        }
    }
    {
        auto sql = with_value(with_value(with_value(kTaskOutcomes, "{horizon}", h), "{after}", task_after), "{limit}", n);
        soci::rowset<soci::row> rows = s.prepare << sql;
        for (const auto& r : rows) {
            Outcome o;
            o.kind = Outcome::Kind::task;
            o.run_id = r.get<std::string>(1);
            o.task_id = r.get<std::string>(2);
            o.workflow_id = row_text(r, 3);
            o.version = static_cast<int>(row_int(r, 4));
            o.type = r.get<std::string>(5);
            o.status = r.get<std::string>(6);
            o.attempts = static_cast<int>(row_int(r, 7));
            o.latency_ms = latency(row_int(r, 8), row_int(r, 9));
            o.finished_at = row_int(r, 9);
            o.cost = row_double(r, 10);
            o.agent = row_text(r, 11);
            o.error = row_text(r, 12);
            o.created_by = row_text(r, 13);
            tasks.emplace_back(row_int(r, 0), std::move(o));
        }
    }
    // Merge: each list is in the database's order; runs come before tasks of the same position.
    OutcomePage page;
    OutcomeCursor last = after;
    std::size_t i = 0, j = 0;
    while (static_cast<int>(page.items.size()) < limit && (i < runs.size() || j < tasks.size())) {
        bool take_run = j >= tasks.size() || (i < runs.size() && before(runs[i].second, runs[i].first, tasks[j].second, tasks[j].first));
        auto& [seq, o] = take_run ? runs[i++] : tasks[j++];
        last.start = false;
        last.seq = seq;
        last.kind = o.kind;
        last.run_id = o.run_id;
        last.task_id = o.task_id;
        page.items.push_back(std::move(o));
    }
    page.next_cursor = format_outcome_cursor(last);
    return page;
}

}  // namespace arclight::workflow
