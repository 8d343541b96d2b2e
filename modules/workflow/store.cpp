#include "modules/workflow/store.hpp"

#include "core/db/db.hpp"
#include "core/db/row.hpp"
#include "core/time/json.hpp"

#include <boost/json.hpp>
#include <soci/soci.h>

namespace arclight::workflow {
namespace json = boost::json;

namespace {

json::value text_or_null(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(json::string(s)); }
json::value parse_or_null(const std::string& s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    return ec ? json::value(nullptr) : v;
}

WorkflowRecord workflow_from(const soci::row& r) {
    WorkflowRecord w;
    w.id = r.get<std::string>(0);
    w.name = r.get<std::string>(1);
    w.version = static_cast<int>(row_int(r, 2));
    w.active = row_int(r, 3) != 0;
    w.definition = r.get<std::string>(4);
    w.created_at = row_int(r, 5);
    w.updated_at = row_int(r, 6);
    w.project_id = r.get<std::string>(7);
    return w;
}

#define ARCLIGHT_WORKFLOW_COLS "SELECT id, name, version, active, definition, created_at, updated_at, project_id FROM workflows"

// Filter values are inlined only after this check (ids and statuses are [a-z0-9-]).
std::string safe_literal(const std::string& v) {
    for (char c : v)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) throw std::invalid_argument("bad filter value");
    return "'" + v + "'";
}

// " AND <column> IN (...)" for a list of projects (nullopt: no condition; none: nothing matches).
std::string in_projects(const char* column, const std::optional<std::vector<std::string>>& projects) {
    if (!projects) return {};
    if (projects->empty()) return " AND 1 = 0";
    std::string out = std::string(" AND ") + column + " IN (";
    for (std::size_t i = 0; i < projects->size(); ++i) out += (i ? ", " : "") + safe_literal((*projects)[i]);
    return out + ")";
}

// A run's project: its workflow's while the workflow exists, else the one kept with the run.
// A decompose plan's run has no workflow row: its parent run's workflow's project.
#define ARCLIGHT_RUN_PROJECT "COALESCE(w.project_id, pw.project_id, r.project_id)"
#define ARCLIGHT_RUN_JOINS                                                                                   \
    " FROM workflow_runs r LEFT JOIN workflows w ON w.id = r.workflow_id LEFT JOIN workflow_runs p ON w.id IS NULL " \
    "AND r.parent_run_id <> '' AND p.id = r.parent_run_id LEFT JOIN workflows pw ON pw.id = p.workflow_id"

}  // namespace

std::vector<WorkflowRecord> Store::list_workflows(soci::session& s, bool active_only,
                                                  const std::optional<std::vector<std::string>>& projects) {
    std::vector<WorkflowRecord> out;
    std::string sql = ARCLIGHT_WORKFLOW_COLS " WHERE 1 = 1";
    if (active_only) sql += " AND active = 1";
    sql += in_projects("project_id", projects);
    sql += " ORDER BY name, id";
    soci::rowset<soci::row> rows = s.prepare << sql;
    for (const auto& r : rows) out.push_back(workflow_from(r));
    return out;
}

std::optional<WorkflowRecord> Store::get_workflow(soci::session& s, const std::string& id) {
    soci::rowset<soci::row> rows = (s.prepare << ARCLIGHT_WORKFLOW_COLS " WHERE id = :id", soci::use(id));
    for (const auto& r : rows) return workflow_from(r);
    return std::nullopt;
}

void Store::insert_workflow(soci::session& s, const WorkflowRecord& w, const InTransaction& also) {
    WriteTransaction tx(s, sqlite_);
    int active = w.active ? 1 : 0;
    long long c = w.created_at, u = w.updated_at;
    s << "INSERT INTO workflows (id, name, version, active, definition, created_at, updated_at, project_id) "
         "VALUES (:id, :n, 1, :a, :d, :c, :u, :p)",
        soci::use(w.id), soci::use(w.name), soci::use(active), soci::use(w.definition), soci::use(c), soci::use(u),
        soci::use(w.project_id);
    s << "INSERT INTO workflow_versions (workflow_id, version, definition, created_at, created_by) VALUES (:id, 1, :d, :c, :b)",
        soci::use(w.id), soci::use(w.definition), soci::use(c), soci::use(w.created_by);
    if (also) also(s);
    tx.commit();
}

int Store::update_workflow(soci::session& s, const std::string& id, const std::string& name, const std::string& definition,
                           std::optional<bool> active, const std::string& created_by, const InTransaction& also) {
    WriteTransaction tx(s, sqlite_);
    int version = 0;
    soci::indicator ind = soci::i_null;
    s << "SELECT version FROM workflows WHERE id = :id", soci::into(version, ind), soci::use(id);
    if (ind == soci::i_null || !s.got_data()) return 0;
    ++version;
    long long now = now_ms();
    s << "UPDATE workflows SET name = :n, version = :v, definition = :d, updated_at = :u WHERE id = :id", soci::use(name),
        soci::use(version), soci::use(definition), soci::use(now), soci::use(id);
    if (active) {
        int a = *active ? 1 : 0;
        s << "UPDATE workflows SET active = :a WHERE id = :id", soci::use(a), soci::use(id);
    }
    s << "INSERT INTO workflow_versions (workflow_id, version, definition, created_at, created_by) VALUES (:id, :v, :d, :c, :b)",
        soci::use(id), soci::use(version), soci::use(definition), soci::use(now), soci::use(created_by);
    if (also) also(s);
    tx.commit();
    return version;
}

bool Store::delete_workflow(soci::session& s, const std::string& id, const InTransaction& also) {
    WriteTransaction tx(s, sqlite_);
    // Its runs stay readable, in the workflow's project.
    s << "UPDATE workflow_runs SET project_id = (SELECT project_id FROM workflows WHERE id = :id) WHERE workflow_id = :w "
         "AND EXISTS (SELECT 1 FROM workflows WHERE id = :id2)",
        soci::use(id), soci::use(id), soci::use(id);
    soci::statement st = (s.prepare << "DELETE FROM workflows WHERE id = :id", soci::use(id));
    st.execute(true);
    bool ok = st.get_affected_rows() > 0;
    s << "DELETE FROM workflow_cron_state WHERE workflow_id = :id", soci::use(id);
    if (ok && also) also(s);
    tx.commit();
    return ok;
}

std::vector<StoredDefinition> Store::definitions_with_auth(soci::session& s) {
    std::vector<StoredDefinition> out;
    soci::rowset<soci::row> current =
        (s.prepare << "SELECT id, version, definition FROM workflows WHERE definition LIKE '%\"auth\"%'");
    for (const auto& r : current) out.push_back({r.get<std::string>(0), static_cast<int>(row_int(r, 1)), true, r.get<std::string>(2)});
    soci::rowset<soci::row> versions =
        (s.prepare << "SELECT workflow_id, version, definition FROM workflow_versions WHERE definition LIKE '%\"auth\"%'");
    for (const auto& r : versions) out.push_back({r.get<std::string>(0), static_cast<int>(row_int(r, 1)), false, r.get<std::string>(2)});
    return out;
}

void Store::replace_definition(soci::session& s, const StoredDefinition& d) {
    if (d.current)
        s << "UPDATE workflows SET definition = :d WHERE id = :id", soci::use(d.definition), soci::use(d.workflow_id);
    else
        s << "UPDATE workflow_versions SET definition = :d WHERE workflow_id = :id AND version = :v", soci::use(d.definition),
            soci::use(d.workflow_id), soci::use(d.version);
}

bool Store::set_active(soci::session& s, const std::string& id, bool active) {
    int a = active ? 1 : 0;
    long long now = now_ms();
    soci::statement st =
        (s.prepare << "UPDATE workflows SET active = :a, updated_at = :u WHERE id = :id", soci::use(a), soci::use(now), soci::use(id));
    st.execute(true);
    return st.get_affected_rows() > 0;
}

std::optional<std::string> Store::version_definition(soci::session& s, const std::string& id, int version) {
    auto v = get_version(s, id, version);
    if (!v) return std::nullopt;
    return std::move(v->definition);
}

std::vector<VersionRecord> Store::list_versions(soci::session& s, const std::string& id) {
    std::vector<VersionRecord> out;
    soci::rowset<soci::row> rows = (s.prepare << "SELECT version, created_at, created_by FROM workflow_versions "
                                                 "WHERE workflow_id = :id ORDER BY version DESC",
                                    soci::use(id));
    for (const auto& r : rows) out.push_back({static_cast<int>(row_int(r, 0)), row_int(r, 1), row_text(r, 2), {}});
    return out;
}

std::optional<VersionRecord> Store::get_version(soci::session& s, const std::string& id, int version) {
    soci::rowset<soci::row> rows = (s.prepare << "SELECT version, created_at, created_by, definition FROM workflow_versions "
                                                 "WHERE workflow_id = :id AND version = :v",
                                    soci::use(id), soci::use(version));
    for (const auto& r : rows) return VersionRecord{static_cast<int>(row_int(r, 0)), row_int(r, 1), row_text(r, 2), row_text(r, 3)};
    return std::nullopt;
}

std::pair<long long, long long> Store::active_signature(soci::session& s) {
    soci::rowset<soci::row> rows = s.prepare << "SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM workflows WHERE active = 1";
    for (const auto& r : rows) return {row_int(r, 0), row_int(r, 1)};
    return {0, 0};
}

bool Store::move_workflow(soci::session& s, const std::string& id, const std::string& project) {
    long long now = now_ms();
    soci::statement st = (s.prepare << "UPDATE workflows SET project_id = :p, updated_at = :u WHERE id = :id", soci::use(project),
                          soci::use(now), soci::use(id));
    st.execute(true);
    return st.get_affected_rows() > 0;
}

std::size_t Store::count_workflows(soci::session& s, const std::string& project) {
    long long n = 0;
    s << "SELECT COUNT(*) FROM workflows WHERE project_id = :p", soci::into(n), soci::use(project);
    return static_cast<std::size_t>(n);
}

std::vector<std::pair<std::string, std::string>> Store::workflow_projects(soci::session& s) {
    std::vector<std::pair<std::string, std::string>> out;
    soci::rowset<soci::row> rows = s.prepare << "SELECT id, project_id FROM workflows";
    for (const auto& r : rows) out.emplace_back(r.get<std::string>(0), r.get<std::string>(1));
    return out;
}

std::optional<std::string> Store::run_project(soci::session& s, const std::string& run_id) {
    soci::rowset<soci::row> rows =
        (s.prepare << "SELECT " ARCLIGHT_RUN_PROJECT ARCLIGHT_RUN_JOINS " WHERE r.id = :id",
         soci::use(run_id));
    for (const auto& r : rows) return r.get<std::string>(0);
    return std::nullopt;
}

json::array Store::list_runs(soci::session& s, const RunFilter& f) {
    std::string sql =
        "SELECT r.id, r.workflow_id, COALESCE(w.name, ''), r.version, r.status, r.trigger_type, r.created_at, "
        "r.started_at, r.finished_at, r.error, r.created_by, " ARCLIGHT_RUN_PROJECT ARCLIGHT_RUN_JOINS " WHERE 1 = 1";
    sql += in_projects(ARCLIGHT_RUN_PROJECT, f.projects);
    if (!f.status.empty()) sql += " AND r.status = " + safe_literal(f.status);
    if (!f.workflow_id.empty()) sql += " AND r.workflow_id = " + safe_literal(f.workflow_id);
    if (f.since > 0) sql += " AND r.created_at >= " + std::to_string(f.since);
    if (f.until > 0) sql += " AND r.created_at < " + std::to_string(f.until);
    if (!f.before_id.empty()) {
        long long before = 0;
        soci::indicator ind = soci::i_null;
        s << "SELECT created_at FROM workflow_runs WHERE id = :id", soci::into(before, ind), soci::use(f.before_id);
        if (s.got_data() && ind == soci::i_ok) {
            auto b = std::to_string(before);
            sql += " AND (r.created_at < " + b + " OR (r.created_at = " + b + " AND r.id < " + safe_literal(f.before_id) + "))";
        }
    }
    sql += " ORDER BY r.created_at DESC, r.id DESC LIMIT " + std::to_string(std::max(1, f.limit));
    json::array out;
    soci::rowset<soci::row> rows = s.prepare << sql;
    for (const auto& row : rows) {
        out.push_back(json::object{{"id", row.get<std::string>(0)},
                                   {"workflow_id", row.get<std::string>(1)},
                                   {"workflow_name", row.get<std::string>(2)},
                                   {"version", row_int(row, 3)},
                                   {"status", row.get<std::string>(4)},
                                   {"trigger", row.get<std::string>(5)},
                                   {"created_by", row_text(row, 10)},
                                   {"project_id", row_text(row, 11)},
                                   {"created_at", rfc3339_or_null(row_int(row, 6))},
                                   {"started_at", rfc3339_or_null(row_int(row, 7))},
                                   {"finished_at", rfc3339_or_null(row_int(row, 8))},
                                   {"error", text_or_null(row_text(row, 9))}});
    }
    return out;
}

std::optional<json::object> Store::get_run(soci::session& s, const std::string& id) {
    soci::rowset<soci::row> rows =
        (s.prepare << "SELECT r.id, r.workflow_id, COALESCE(w.name, ''), r.version, r.status, r.trigger_type, r.input, "
                      "r.output, r.error, r.created_at, r.started_at, r.finished_at, r.trigger_data, r.created_by, "
                      ARCLIGHT_RUN_PROJECT ", r.response" ARCLIGHT_RUN_JOINS " WHERE r.id = :id",
         soci::use(id));
    std::optional<json::object> run;
    for (const auto& r : rows) {
        run = json::object{{"id", r.get<std::string>(0)},
                           {"workflow_id", r.get<std::string>(1)},
                           {"workflow_name", r.get<std::string>(2)},
                           {"version", row_int(r, 3)},
                           {"status", r.get<std::string>(4)},
                           {"trigger", r.get<std::string>(5)},
                           {"created_by", row_text(r, 13)},
                           {"project_id", row_text(r, 14)},
                           {"input", parse_or_null(row_text(r, 6))},
                           {"output", parse_or_null(row_text(r, 7))},
                           {"error", text_or_null(row_text(r, 8))},
                           {"created_at", rfc3339_or_null(row_int(r, 9))},
                           {"started_at", rfc3339_or_null(row_int(r, 10))},
                           {"finished_at", rfc3339_or_null(row_int(r, 11))},
                           {"trigger_data", parse_or_null(row_text(r, 12))},
                           {"response", parse_or_null(row_text(r, 15))}};
        break;
    }
    if (!run) return std::nullopt;
    json::object task_rows;
    soci::rowset<soci::row> trows =
        (s.prepare << "SELECT task_id, type, status, attempts, input, output, error, started_at, finished_at, agent, instance, cost "
                      "FROM workflow_tasks WHERE run_id = :id",
         soci::use(id));
    for (const auto& t : trows) {
        task_rows[t.get<std::string>(0)] = json::object{{"id", t.get<std::string>(0)},
                                                        {"type", t.get<std::string>(1)},
                                                        {"status", t.get<std::string>(2)},
                                                        {"attempts", row_int(t, 3)},
                                                        {"input", parse_or_null(row_text(t, 4))},
                                                        {"output", parse_or_null(row_text(t, 5))},
                                                        {"error", text_or_null(row_text(t, 6))},
                                                        {"started_at", rfc3339_or_null(row_int(t, 7))},
                                                        {"finished_at", rfc3339_or_null(row_int(t, 8))},
                                                        {"agent", text_or_null(row_text(t, 9))},
                                                        {"cost", row_double(t, 11)},
                                                        {"instance", text_or_null(row_text(t, 10))}};
    }
    (*run)["tasks_rows"] = std::move(task_rows);
    return run;
}

std::optional<RunRef> Store::find_by_idempotency(soci::session& s, const std::string& workflow_id, const std::string& key) {
    soci::rowset<soci::row> rows =
        (s.prepare << "SELECT id, status, input FROM workflow_runs WHERE workflow_id = :w AND idempotency_key = :k",
         soci::use(workflow_id), soci::use(key));
    for (const auto& r : rows) return RunRef{r.get<std::string>(0), r.get<std::string>(1), row_text(r, 2)};
    return std::nullopt;
}

long long Store::cron_last_fire(soci::session& s, const std::string& workflow_id, int trigger_index) {
    long long at = 0;
    soci::indicator ind = soci::i_null;
    s << "SELECT last_fire_at FROM workflow_cron_state WHERE workflow_id = :w AND trigger_index = :i", soci::into(at, ind),
        soci::use(workflow_id), soci::use(trigger_index);
    return (s.got_data() && ind == soci::i_ok) ? at : 0;
}

void Store::set_cron_last_fire(soci::session& s, const std::string& workflow_id, int trigger_index, long long at) {
    s << "INSERT INTO workflow_cron_state (workflow_id, trigger_index, last_fire_at) VALUES (:w, :i, :a) "
         "ON CONFLICT (workflow_id, trigger_index) DO UPDATE SET last_fire_at = excluded.last_fire_at "
         "WHERE workflow_cron_state.last_fire_at < excluded.last_fire_at",
        soci::use(workflow_id), soci::use(trigger_index), soci::use(at);
}

}  // namespace arclight::workflow
