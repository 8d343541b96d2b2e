#pragma once
// AuthStore: every table of the auth module (users, sessions, API keys, audit). Blocking
// methods; the service calls them through Db::run on the blocking pool.

#include "core/db/db.hpp"
#include "modules/auth/api.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace soci {
class session;
}

namespace arclight::auth {

struct User {
    std::string id;
    std::string username;
    std::string password_hash;
    std::string role;
    bool disabled = false;
    std::int64_t created_at = 0, updated_at = 0, last_login_at = 0;
};

struct Session {
    std::string id_hash;
    std::string user_id;
    std::string csrf_token;
    std::int64_t created_at = 0, last_seen_at = 0, expires_at = 0;
};

struct ApiKey {
    std::string id;
    std::string user_id;
    std::string name;
    std::string prefix;
    std::vector<std::string> scopes;
    std::int64_t created_at = 0, expires_at = 0, last_used_at = 0, revoked_at = 0;
    std::string project_id;  ///< the one project the key is limited to ("" = every project of its owner)
};

struct AuditRow {
    std::string id;
    std::int64_t at = 0;
    AuditEntry entry;
};

class AuthStore {
public:
    explicit AuthStore(Db& db) : db_(db) {}
    Db& db() { return db_; }

    int count_users(soci::session& s);
    std::optional<User> find_user_by_name(soci::session& s, const std::string& username);
    std::optional<User> find_user(soci::session& s, const std::string& id);
    std::vector<User> list_users(soci::session& s);
    /// Inserts; false when the username is taken.
    bool insert_user(soci::session& s, const User& u);
    /// Inserts the first user only while there is none (atomic across instances); false otherwise.
    bool insert_first_user(soci::session& s, const User& u);
    void update_user(soci::session& s, const User& u);
    void delete_user(soci::session& s, const std::string& id);
    void touch_login(soci::session& s, const std::string& id, std::int64_t at);
    int count_active_admins(soci::session& s);

    void insert_session(soci::session& s, const Session& sess, const std::string& ip, const std::string& user_agent);
    /// The session and its user, when the session exists (expiry is checked by the caller).
    std::optional<std::pair<Session, User>> find_session(soci::session& s, const std::string& id_hash);
    void touch_session(soci::session& s, const std::string& id_hash, std::int64_t at);
    void delete_session(soci::session& s, const std::string& id_hash);
    void delete_user_sessions(soci::session& s, const std::string& user_id);
    void delete_expired_sessions(soci::session& s, std::int64_t now, std::int64_t idle_before);
    /// Deletes up to `limit` audit entries recorded before `before`; the number deleted.
    std::size_t delete_audit_before(soci::session& s, std::int64_t before, std::size_t limit);

    void insert_api_key(soci::session& s, const ApiKey& k, const std::string& key_hash);
    std::optional<std::pair<ApiKey, User>> find_api_key_by_hash(soci::session& s, const std::string& key_hash);
    std::vector<ApiKey> list_api_keys(soci::session& s, const std::string& user_id);
    std::optional<ApiKey> find_api_key(soci::session& s, const std::string& id);
    void revoke_api_key(soci::session& s, const std::string& id, std::int64_t at);
    void touch_api_key(soci::session& s, const std::string& id, std::int64_t at);

    void insert_audit(soci::session& s, const AuditRow& row);
    /// Newest first; `before` = (at, id) of the last row of the previous page.
    std::vector<AuditRow> list_audit(soci::session& s, std::size_t limit,
                                     const std::optional<std::pair<std::int64_t, std::string>>& before);

private:
    Db& db_;
};

}  // namespace arclight::auth
