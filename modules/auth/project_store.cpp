#include "modules/auth/project_store.hpp"

#include "core/db/row.hpp"

#include <soci/soci.h>

namespace arclight::auth {
namespace {

constexpr const char* kColumns = "p.id, p.name, p.kind, p.owner_id, p.created_at, p.updated_at";

Project project_from(const soci::row& r, std::size_t col) {
    Project p;
    p.id = r.get<std::string>(col);
    p.name = r.get<std::string>(col + 1);
    p.kind = r.get<std::string>(col + 2);
    p.owner_id = r.get<std::string>(col + 3);
    p.created_at = row_int(r, col + 4);
    p.updated_at = row_int(r, col + 5);
    return p;
}

}  // namespace

std::string personal_project_id(const std::string& user_id) { return "personal-" + user_id; }

std::vector<Project> ProjectStore::list(soci::session& s) {
    std::vector<Project> out;
    soci::rowset<soci::row> rows = (s.prepare << std::string("SELECT ") + kColumns + " FROM auth_projects p ORDER BY p.kind DESC, p.name, p.id");
    for (const auto& r : rows) out.push_back(project_from(r, 0));
    return out;
}

std::optional<Project> ProjectStore::find(soci::session& s, const std::string& id) {
    soci::rowset<soci::row> rows = (s.prepare << std::string("SELECT ") + kColumns + " FROM auth_projects p WHERE p.id = :id", soci::use(id));
    for (const auto& r : rows) return project_from(r, 0);
    return std::nullopt;
}

std::vector<Membership> ProjectStore::memberships(soci::session& s, const std::string& user_id) {
    std::vector<Membership> out;
    soci::rowset<soci::row> rows =
        (s.prepare << std::string("SELECT ") + kColumns +
                          ", m.role FROM auth_project_members m JOIN auth_projects p ON p.id = m.project_id "
                          "WHERE m.user_id = :u ORDER BY p.kind DESC, p.name, p.id",
         soci::use(user_id));
    for (const auto& r : rows) out.push_back({project_from(r, 0), r.get<std::string>(6)});
    return out;
}

void ProjectStore::insert(soci::session& s, const Project& p) {
    long long c = p.created_at, u = p.updated_at;
    s << "INSERT INTO auth_projects (id, name, kind, owner_id, created_at, updated_at) VALUES (:id, :n, :k, :o, :c, :u)",
        soci::use(p.id), soci::use(p.name), soci::use(p.kind), soci::use(p.owner_id), soci::use(c), soci::use(u);
}

void ProjectStore::rename(soci::session& s, const std::string& id, const std::string& name, std::int64_t at) {
    long long t = at;
    s << "UPDATE auth_projects SET name = :n, updated_at = :t WHERE id = :id", soci::use(name), soci::use(t), soci::use(id);
}

void ProjectStore::remove(soci::session& s, const std::string& id) {
    s << "DELETE FROM auth_project_members WHERE project_id = :id", soci::use(id);
    s << "DELETE FROM auth_projects WHERE id = :id", soci::use(id);
}

std::vector<Member> ProjectStore::members(soci::session& s, const std::string& project_id) {
    std::vector<Member> out;
    soci::rowset<soci::row> rows =
        (s.prepare << "SELECT m.user_id, u.username, m.role FROM auth_project_members m JOIN auth_users u ON u.id = m.user_id "
                      "WHERE m.project_id = :p ORDER BY u.username",
         soci::use(project_id));
    for (const auto& r : rows) out.push_back({r.get<std::string>(0), r.get<std::string>(1), r.get<std::string>(2)});
    return out;
}

void ProjectStore::put_member(soci::session& s, const std::string& project_id, const std::string& user_id,
                              const std::string& role, std::int64_t at) {
    long long t = at;
    s << "INSERT INTO auth_project_members (project_id, user_id, role, created_at) VALUES (:p, :u, :r, :t) "
         "ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
        soci::use(project_id), soci::use(user_id), soci::use(role), soci::use(t);
}

bool ProjectStore::remove_member(soci::session& s, const std::string& project_id, const std::string& user_id) {
    soci::statement st = (s.prepare << "DELETE FROM auth_project_members WHERE project_id = :p AND user_id = :u",
                          soci::use(project_id), soci::use(user_id));
    st.execute(true);
    return st.get_affected_rows() > 0;
}

int ProjectStore::count_admins(soci::session& s, const std::string& project_id) {
    int n = 0;
    s << "SELECT COUNT(*) FROM auth_project_members WHERE project_id = :p AND role = 'admin'", soci::use(project_id), soci::into(n);
    return n;
}

}  // namespace arclight::auth
