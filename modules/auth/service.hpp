#pragma once
// AuthService: authentication (sessions, API keys), login with throttling, users, API keys and
// the audit log. No HTTP types beyond HttpRequest for reading credentials.

#include "core/app/permissions.hpp"
#include "core/errors/error.hpp"
#include "core/http/message.hpp"
#include "core/http/principal.hpp"
#include "core/time/time.hpp"
#include "modules/auth/api.hpp"
#include "modules/auth/project_store.hpp"
#include "modules/auth/store.hpp"
#include "modules/auth/throttle.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <semaphore>
#include <string>
#include <vector>

namespace arclight::auth {

struct AuthConfig {
    std::size_t min_password_length = 10;
    std::int64_t session_idle_ms = 12LL * 3600 * 1000;
    std::int64_t session_absolute_ms = 7LL * 24 * 3600 * 1000;
    bool cookie_secure = false;
    int login_free_attempts = 5;
    int address_free_attempts = 20;
    std::chrono::seconds max_delay{900};
    bool setup_page = true;
    /// How long a verified API key's principal is reused without a database lookup (0 = never).
    /// Changes made on this instance (revoke, disable, role, delete) apply at once; on other
    /// instances within this time.
    std::int64_t api_key_cache_ms = 1000;
    /// Audit entries older than this many days are deleted by purge_audit (0 = kept forever).
    std::int64_t audit_retention_days = 365;
};

/// Who acts and from where, for audit entries.
struct Actor {
    std::string id;
    std::string name;
    std::string ip;
};

inline constexpr std::string_view kSessionCookie = "arclight_session";

class AuthService final : public AuditLog, public UserAdmin {
public:
    /// `clock` gives the time of every expiry check and stored time (sessions, API keys, audit);
    /// tests pass a ManualClock. It must outlive the service.
    AuthService(Db& db, AuthConfig config, const PermissionCatalog& permissions, const Clock& clock = system_clock());

    /// Establishes the principal of a request from `Authorization: Bearer ak_...` or the session
    /// cookie. Null when the request carries no credentials; throws Error(unauthorized) when it
    /// carries invalid, expired or revoked ones.
    boost::asio::awaitable<std::shared_ptr<const Principal>> authenticate(const HttpRequest& req);

    struct LoginResult {
        User user;
        std::string session_id;  ///< the cookie value (only its hash is stored)
        std::string csrf_token;
    };
    /// Throws Error(too_many_requests) with Retry-After, or Error(unauthorized).
    boost::asio::awaitable<LoginResult> login(std::string username, std::string password, const HttpRequest& req);
    boost::asio::awaitable<void> logout(const Principal& who, const HttpRequest& req);
    /// Verifies the current password, stores the new one, revokes every session of the user and
    /// returns a fresh session for this client.
    boost::asio::awaitable<LoginResult> change_password(const Principal& who, std::string current,
                                                        std::string next, const HttpRequest& req);
    boost::asio::awaitable<bool> setup_needed();
    /// Creates the first admin (only while there is no user, only from loopback) and logs in.
    boost::asio::awaitable<LoginResult> setup(std::string username, std::string password, const HttpRequest& req);

    boost::asio::awaitable<std::vector<User>> list_users();
    boost::asio::awaitable<User> add_user(Actor actor, std::string username, std::string password, std::string role);
    boost::asio::awaitable<User> patch_user(Actor actor, std::string id, std::optional<std::string> role,
                                            std::optional<bool> disabled, std::optional<std::string> password);
    boost::asio::awaitable<void> delete_user(Actor actor, std::string id);

    struct NewKey {
        ApiKey key;
        std::string secret;  ///< "ak_...", shown once
    };
    /// `project_id`: the one project the key is limited to ("" = every project of the caller).
    boost::asio::awaitable<NewKey> create_key(const Principal& who, std::string name, std::vector<std::string> scopes,
                                              std::int64_t expires_at, std::string project_id, const HttpRequest& req);
    boost::asio::awaitable<std::vector<ApiKey>> list_keys(const Principal& who);
    boost::asio::awaitable<ApiKey> get_key(const Principal& who, std::string id);
    boost::asio::awaitable<void> revoke_key(const Principal& who, std::string id, const HttpRequest& req);

    struct AuditPage {
        std::vector<AuditRow> items;
        std::optional<std::string> next_cursor;
    };
    boost::asio::awaitable<AuditPage> list_audit(std::size_t limit, std::optional<std::string> cursor);

    boost::asio::awaitable<void> record(AuditEntry entry) override;
    std::string create_user(const std::string& username, const std::string& password, const std::string& role) override;

    /// Deletes expired sessions (called periodically by the module).
    boost::asio::awaitable<void> purge_sessions();
    /// Deletes audit entries older than config().audit_retention_days, `batch` rows per
    /// transaction, then hands the freed space back (SQLite); the number deleted.
    boost::asio::awaitable<std::size_t> purge_audit(std::size_t batch = 500);
    const AuthConfig& config() const noexcept { return config_; }
    const PermissionCatalog& permissions() const noexcept { return permissions_; }
    /// Drops every cached API-key principal (after any change to users, keys or projects).
    void forget_keys();

private:
    std::string hash_slowly(const std::string& password);
    bool verify_slowly(const std::string& password, const std::string* encoded);
    User validate_new_user(const std::string& username, const std::string& password, const std::string& role);
    LoginResult open_session(soci::session& s, const User& u, const HttpRequest& req);
    /// The principal of a user (through `key` when given): instance permissions from the user's
    /// role, project permissions from each membership (every project for an admin), each within
    /// the key's scopes and project.
    std::shared_ptr<Principal> principal_for(soci::session& s, const User& user, const ApiKey* key);

    struct CachedKey {
        std::shared_ptr<const Principal> principal;
        std::int64_t expires_at = 0;  ///< the key's own expiry (0 = none), epoch ms
        std::chrono::steady_clock::time_point until;
    };
    std::mutex key_cache_m_;
    std::unordered_map<std::string, CachedKey> key_cache_;  ///< by key hash
    std::uint64_t key_generation_ = 0;                       ///< bumped by forget_keys()

    Db& db_;
    const Clock& clock_;
    AuthStore store_;
    ProjectStore project_store_;
    AuthConfig config_;
    const PermissionCatalog& permissions_;
    LoginThrottle accounts_, addresses_;
    // Argon2id takes 64 MiB per hash: at most two run at once, whatever the login rate.
    std::counting_semaphore<2> hashing_{2};
};

/// True for 127.0.0.0/8, ::1 and their IPv4-mapped forms.
bool is_loopback(std::string_view address);

}  // namespace arclight::auth
