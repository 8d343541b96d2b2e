#include "modules/auth/store.hpp"

#include "core/db/row.hpp"
#include "modules/auth/project_store.hpp"

#include <boost/json.hpp>
#include <soci/soci.h>

namespace arclight::auth {
namespace {

constexpr const char* kUserByName = "SELECT id, username, password_hash, role, disabled, created_at, updated_at, last_login_at FROM auth_users WHERE username = :u";
constexpr const char* kUserById = "SELECT id, username, password_hash, role, disabled, created_at, updated_at, last_login_at FROM auth_users WHERE id = :id";
constexpr const char* kListUsers = "SELECT id, username, password_hash, role, disabled, created_at, updated_at, last_login_at FROM auth_users ORDER BY username";
constexpr const char* kCountUsers = "SELECT COUNT(*) FROM auth_users";
constexpr const char* kInsertUser =
    "INSERT INTO auth_users (id, username, password_hash, role, disabled, created_at, updated_at, last_login_at) "
    "VALUES (:id, :u, :p, :r, :d, :c, :up, :l)";
constexpr const char* kUpdateUser =
    "UPDATE auth_users SET password_hash = :p, role = :r, disabled = :d, updated_at = :up WHERE id = :id";
constexpr const char* kDeleteUser = "DELETE FROM auth_users WHERE id = :id";
constexpr const char* kTouchLogin = "UPDATE auth_users SET last_login_at = :t WHERE id = :id";
constexpr const char* kCountAdmins = "SELECT COUNT(*) FROM auth_users WHERE role = 'admin' AND disabled = 0";

constexpr const char* kInsertSession =
    "INSERT INTO auth_sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, ip, user_agent) "
    "VALUES (:h, :u, :c, :cr, :ls, :ex, :ip, :ua)";
constexpr const char* kFindSession =
    "SELECT s.id_hash, s.user_id, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, "
    "u.id, u.username, u.password_hash, u.role, u.disabled, u.created_at, u.updated_at, u.last_login_at "
    "FROM auth_sessions s JOIN auth_users u ON u.id = s.user_id WHERE s.id_hash = :h";
constexpr const char* kTouchSession = "UPDATE auth_sessions SET last_seen_at = :t WHERE id_hash = :h";
constexpr const char* kDeleteSession = "DELETE FROM auth_sessions WHERE id_hash = :h";
constexpr const char* kDeleteUserSessions = "DELETE FROM auth_sessions WHERE user_id = :u";
constexpr const char* kDeleteOldAudit =
    "DELETE FROM auth_audit WHERE id IN (SELECT id FROM auth_audit WHERE at < :before ORDER BY at LIMIT :n)";
constexpr const char* kDeleteExpired = "DELETE FROM auth_sessions WHERE expires_at < :now OR last_seen_at < :idle";

constexpr const char* kKeyByHash =
    "SELECT k.id, k.user_id, k.name, k.prefix, k.scopes, k.created_at, k.expires_at, k.last_used_at, k.revoked_at, k.project_id, u.id, u.username, u.password_hash, u.role, u.disabled, u.created_at, u.updated_at, "
    "u.last_login_at FROM auth_api_keys k JOIN auth_users u ON u.id = k.user_id WHERE k.key_hash = :h";
constexpr const char* kListKeys =
    "SELECT k.id, k.user_id, k.name, k.prefix, k.scopes, k.created_at, k.expires_at, k.last_used_at, k.revoked_at, k.project_id FROM auth_api_keys k WHERE k.user_id = :u ORDER BY k.created_at DESC, k.id";
constexpr const char* kKeyById = "SELECT k.id, k.user_id, k.name, k.prefix, k.scopes, k.created_at, k.expires_at, k.last_used_at, k.revoked_at, k.project_id FROM auth_api_keys k WHERE k.id = :id";
constexpr const char* kAuditFirstPage =
    "SELECT id, at, actor_id, actor, action, target, outcome, ip, detail, project_id FROM auth_audit "
    "ORDER BY at DESC, id DESC LIMIT :n";
constexpr const char* kAuditNextPage =
    "SELECT id, at, actor_id, actor, action, target, outcome, ip, detail, project_id FROM auth_audit "
    "WHERE at < :a1 OR (at = :a2 AND id < :id) ORDER BY at DESC, id DESC LIMIT :n";
constexpr const char* kInsertKey =
    "INSERT INTO auth_api_keys (id, user_id, name, prefix, key_hash, scopes, created_at, expires_at, last_used_at, "
    "revoked_at, project_id) VALUES (:id, :u, :n, :p, :h, :s, :c, :e, 0, 0, :pr)";
constexpr const char* kRevokeKey = "UPDATE auth_api_keys SET revoked_at = :t WHERE id = :id AND revoked_at = 0";
constexpr const char* kTouchKey = "UPDATE auth_api_keys SET last_used_at = :t WHERE id = :id";

constexpr const char* kInsertAudit =
    "INSERT INTO auth_audit (id, at, actor_id, actor, action, target, outcome, ip, detail, project_id) "
    "VALUES (:id, :at, :aid, :a, :ac, :t, :o, :ip, :d, :pr)";

// Reads the 8 user columns starting at `col` of a row.
User user_from(const soci::row& r, std::size_t col) {
    User u;
    u.id = r.get<std::string>(col);
    u.username = r.get<std::string>(col + 1);
    u.password_hash = r.get<std::string>(col + 2);
    u.role = r.get<std::string>(col + 3);
    u.disabled = row_int(r, col + 4) != 0;
    u.created_at = row_int(r, col + 5);
    u.updated_at = row_int(r, col + 6);
    u.last_login_at = row_int(r, col + 7);
    return u;
}

ApiKey key_from(const soci::row& r, std::size_t col) {
    ApiKey k;
    k.id = r.get<std::string>(col);
    k.user_id = r.get<std::string>(col + 1);
    k.name = r.get<std::string>(col + 2);
    k.prefix = r.get<std::string>(col + 3);
    auto scopes = boost::json::parse(r.get<std::string>(col + 4));
    for (const auto& s : scopes.as_array()) k.scopes.emplace_back(s.as_string());
    k.created_at = row_int(r, col + 5);
    k.expires_at = row_int(r, col + 6);
    k.last_used_at = row_int(r, col + 7);
    k.revoked_at = row_int(r, col + 8);
    k.project_id = r.get<std::string>(col + 9);
    return k;
}

std::string scopes_json(const std::vector<std::string>& scopes) {
    boost::json::array a;
    for (const auto& s : scopes) a.push_back(boost::json::string(s));
    return boost::json::serialize(a);
}


}  // namespace

int AuthStore::count_users(soci::session& s) {
    int n = 0;
    s << kCountUsers, soci::into(n);
    return n;
}

std::optional<User> AuthStore::find_user_by_name(soci::session& s, const std::string& username) {
    soci::rowset<soci::row> rows = (s.prepare << kUserByName, soci::use(username));
    for (const auto& r : rows) return user_from(r, 0);
    return std::nullopt;
}

std::optional<User> AuthStore::find_user(soci::session& s, const std::string& id) {
    soci::rowset<soci::row> rows = (s.prepare << kUserById, soci::use(id));
    for (const auto& r : rows) return user_from(r, 0);
    return std::nullopt;
}

std::vector<User> AuthStore::list_users(soci::session& s) {
    std::vector<User> out;
    soci::rowset<soci::row> rows = (s.prepare << kListUsers);
    for (const auto& r : rows) out.push_back(user_from(r, 0));
    return out;
}

bool AuthStore::insert_user(soci::session& s, const User& u) {
    if (find_user_by_name(s, u.username)) return false;
    int disabled = u.disabled ? 1 : 0;
    long long c = u.created_at, up = u.updated_at, l = u.last_login_at;
    s << kInsertUser, soci::use(u.id), soci::use(u.username), soci::use(u.password_hash), soci::use(u.role),
        soci::use(disabled), soci::use(c), soci::use(up), soci::use(l);
    // Every user has a personal project, where their own role applies.
    ProjectStore projects;
    projects.insert(s, Project{personal_project_id(u.id), u.username, "personal", u.id, u.created_at, u.created_at});
    projects.put_member(s, personal_project_id(u.id), u.id, u.role, u.created_at);
    return true;
}

bool AuthStore::insert_first_user(soci::session& s, const User& u) {
    WriteTransaction tx(s, db_.backend() == DbBackend::sqlite);
    if (db_.backend() == DbBackend::postgres) s << "LOCK TABLE auth_users IN EXCLUSIVE MODE";
    if (count_users(s) != 0) return false;
    insert_user(s, u);
    tx.commit();
    return true;
}

void AuthStore::update_user(soci::session& s, const User& u) {
    int disabled = u.disabled ? 1 : 0;
    long long up = u.updated_at;
    s << kUpdateUser, soci::use(u.password_hash), soci::use(u.role), soci::use(disabled), soci::use(up), soci::use(u.id);
    auto personal = personal_project_id(u.id);
    s << "UPDATE auth_project_members SET role = :r WHERE project_id = :p AND user_id = :u", soci::use(u.role),
        soci::use(personal), soci::use(u.id);
}

void AuthStore::delete_user(soci::session& s, const std::string& id) {
    // The personal project stays (what it holds stays reachable to instance admins).
    s << "DELETE FROM auth_project_members WHERE user_id = :u", soci::use(id);
    s << kDeleteUser, soci::use(id);
}

void AuthStore::touch_login(soci::session& s, const std::string& id, std::int64_t at) {
    long long t = at;
    s << kTouchLogin, soci::use(t), soci::use(id);
}

int AuthStore::count_active_admins(soci::session& s) {
    int n = 0;
    s << kCountAdmins, soci::into(n);
    return n;
}

void AuthStore::insert_session(soci::session& s, const Session& sess, const std::string& ip,
                               const std::string& user_agent) {
    long long c = sess.created_at, l = sess.last_seen_at, e = sess.expires_at;
    s << kInsertSession, soci::use(sess.id_hash), soci::use(sess.user_id), soci::use(sess.csrf_token), soci::use(c),
        soci::use(l), soci::use(e), soci::use(ip), soci::use(user_agent);
}

std::optional<std::pair<Session, User>> AuthStore::find_session(soci::session& s, const std::string& id_hash) {
    std::string q = kFindSession;
    q.replace(q.find("u.disabled"), 10, "u.disabled");
    soci::rowset<soci::row> rows = (s.prepare << q, soci::use(id_hash));
    for (const auto& r : rows) {
        Session sess;
        sess.id_hash = r.get<std::string>(0);
        sess.user_id = r.get<std::string>(1);
        sess.csrf_token = r.get<std::string>(2);
        sess.created_at = row_int(r, 3);
        sess.last_seen_at = row_int(r, 4);
        sess.expires_at = row_int(r, 5);
        return std::make_pair(sess, user_from(r, 6));
    }
    return std::nullopt;
}

void AuthStore::touch_session(soci::session& s, const std::string& id_hash, std::int64_t at) {
    long long t = at;
    s << kTouchSession, soci::use(t), soci::use(id_hash);
}

void AuthStore::delete_session(soci::session& s, const std::string& id_hash) { s << kDeleteSession, soci::use(id_hash); }

void AuthStore::delete_user_sessions(soci::session& s, const std::string& user_id) {
    s << kDeleteUserSessions, soci::use(user_id);
}

void AuthStore::delete_expired_sessions(soci::session& s, std::int64_t now, std::int64_t idle_before) {
    long long n = now, i = idle_before;
    s << kDeleteExpired, soci::use(n), soci::use(i);
}

std::size_t AuthStore::delete_audit_before(soci::session& s, std::int64_t before, std::size_t limit) {
    long long b = before, n = static_cast<long long>(limit);
    soci::statement st = (s.prepare << kDeleteOldAudit, soci::use(b), soci::use(n));
    st.execute(true);
    return static_cast<std::size_t>(st.get_affected_rows());
}

void AuthStore::insert_api_key(soci::session& s, const ApiKey& k, const std::string& key_hash) {
    long long c = k.created_at, e = k.expires_at;
    auto scopes = scopes_json(k.scopes);
    s << kInsertKey, soci::use(k.id), soci::use(k.user_id), soci::use(k.name), soci::use(k.prefix), soci::use(key_hash),
        soci::use(scopes), soci::use(c), soci::use(e), soci::use(k.project_id);
}

std::optional<std::pair<ApiKey, User>> AuthStore::find_api_key_by_hash(soci::session& s, const std::string& key_hash) {
    soci::rowset<soci::row> rows = (s.prepare << kKeyByHash, soci::use(key_hash));
    for (const auto& r : rows) return std::make_pair(key_from(r, 0), user_from(r, 10));
    return std::nullopt;
}

std::vector<ApiKey> AuthStore::list_api_keys(soci::session& s, const std::string& user_id) {
    std::vector<ApiKey> out;
    soci::rowset<soci::row> rows = (s.prepare << kListKeys, soci::use(user_id));
    for (const auto& r : rows) out.push_back(key_from(r, 0));
    return out;
}

std::optional<ApiKey> AuthStore::find_api_key(soci::session& s, const std::string& id) {
    soci::rowset<soci::row> rows = (s.prepare << kKeyById, soci::use(id));
    for (const auto& r : rows) return key_from(r, 0);
    return std::nullopt;
}

void AuthStore::revoke_api_key(soci::session& s, const std::string& id, std::int64_t at) {
    long long t = at;
    s << kRevokeKey, soci::use(t), soci::use(id);
}

void AuthStore::touch_api_key(soci::session& s, const std::string& id, std::int64_t at) {
    long long t = at;
    s << kTouchKey, soci::use(t), soci::use(id);
}

void AuthStore::insert_audit(soci::session& s, const AuditRow& row) {
    long long at = row.at;
    auto detail = boost::json::serialize(row.entry.detail);
    s << kInsertAudit, soci::use(row.id), soci::use(at), soci::use(row.entry.actor_id), soci::use(row.entry.actor),
        soci::use(row.entry.action), soci::use(row.entry.target), soci::use(row.entry.outcome), soci::use(row.entry.ip),
        soci::use(detail), soci::use(row.entry.project_id);
}

std::vector<AuditRow> AuthStore::list_audit(soci::session& s, std::size_t limit,
                                            const std::optional<std::pair<std::int64_t, std::string>>& before) {
    std::vector<AuditRow> out;
    int n = static_cast<int>(limit);
    auto read = [&](soci::rowset<soci::row>& rows) {
        for (const auto& r : rows) {
            AuditRow a;
            a.id = r.get<std::string>(0);
            a.at = row_int(r, 1);
            a.entry.actor_id = r.get<std::string>(2);
            a.entry.actor = r.get<std::string>(3);
            a.entry.action = r.get<std::string>(4);
            a.entry.target = r.get<std::string>(5);
            a.entry.outcome = r.get<std::string>(6);
            a.entry.ip = r.get<std::string>(7);
            auto d = boost::json::parse(r.get<std::string>(8));
            if (d.is_object()) a.entry.detail = d.as_object();
            a.entry.project_id = r.get<std::string>(9);
            out.push_back(std::move(a));
        }
    };
    if (before) {
        long long at = before->first;
        soci::rowset<soci::row> rows =
            (s.prepare << kAuditNextPage, soci::use(at), soci::use(at), soci::use(before->second), soci::use(n));
        read(rows);
    } else {
        soci::rowset<soci::row> rows = (s.prepare << kAuditFirstPage, soci::use(n));
        read(rows);
    }
    return out;
}

}  // namespace arclight::auth
