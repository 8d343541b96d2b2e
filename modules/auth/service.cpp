#include "modules/auth/service.hpp"

#include "core/log/log.hpp"
#include "core/util/crypto.hpp"
#include "core/util/ids.hpp"
#include "modules/auth/passwords.hpp"
#include "modules/auth/permissions.hpp"

#include <boost/json.hpp>
#include <soci/soci.h>

#include <algorithm>

namespace arclight::auth {

namespace {
// Recording when a key or session was last used is a hint: when the database cannot take the
// write (a full disk, a read-only file), the request is still served; it is tried again next time.
template <class F>
void touch(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        log::warn("auth", "could not record a credential's last use: {}", e.what());
    }
}
}  // namespace

namespace {

bool unsafe_username(const std::string& u) {
    if (u.empty() || u.size() > 64) return true;
    return !std::all_of(u.begin(), u.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '@';
    });
}

std::string cookie_value(const HttpRequest& req, std::string_view name) {
    std::string_view cookies = req.header("Cookie");
    while (!cookies.empty()) {
        auto semi = cookies.find(';');
        auto part = cookies.substr(0, semi);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=') {
            return std::string(part.substr(name.size() + 1));
        }
        if (semi == std::string_view::npos) break;
        cookies.remove_prefix(semi + 1);
    }
    return {};
}

AuditEntry entry(const Actor& a, std::string action, std::string target, std::string outcome,
                 boost::json::object detail = {}) {
    return {a.id, a.name, std::move(action), std::move(target), std::move(outcome), a.ip, std::move(detail)};
}

Actor actor_of(const Principal& p, const HttpRequest& req) { return {p.user_id, p.username, req.remote_address}; }

}  // namespace

bool is_loopback(std::string_view a) {
    if (a.rfind("::ffff:", 0) == 0) a.remove_prefix(7);
    return a.rfind("127.", 0) == 0 || a == "::1";
}

AuthService::AuthService(Db& db, AuthConfig config, const PermissionCatalog& permissions, const Clock& clock)
    : db_(db),
      clock_(clock),
      store_(db),
      config_(config),
      permissions_(permissions),
      accounts_(config.login_free_attempts, config.max_delay),
      addresses_(config.address_free_attempts, config.max_delay) {}

std::string AuthService::hash_slowly(const std::string& password) {
    hashing_.acquire();
    try {
        auto h = hash_password(password);
        hashing_.release();
        return h;
    } catch (...) {
        hashing_.release();
        throw;
    }
}

bool AuthService::verify_slowly(const std::string& password, const std::string* encoded) {
    hashing_.acquire();
    bool ok = false;
    try {
        if (encoded) ok = verify_password(password, *encoded);
        else burn_verify_time(password);
    } catch (...) {
        hashing_.release();
        throw;
    }
    hashing_.release();
    return ok;
}

void AuthService::forget_keys() {
    std::lock_guard lk(key_cache_m_);
    key_cache_.clear();
    ++key_generation_;
}

boost::asio::awaitable<std::shared_ptr<const Principal>> AuthService::authenticate(const HttpRequest& req) {
    auto authz = req.header("Authorization");
    if (!authz.empty()) {
        if (authz.size() < 8 || authz.substr(0, 7) != "Bearer " || authz.substr(7, 3) != "ak_") {
            throw Error(ErrorCode::unauthorized, "the Authorization header must be \"Bearer ak_...\"");
        }
        auto hash = sha256_hex(authz.substr(7));
        auto now = clock_.now_ms();
        auto mono = std::chrono::steady_clock::now();
        if (config_.api_key_cache_ms > 0) {
            std::lock_guard lk(key_cache_m_);
            auto it = key_cache_.find(hash);
            if (it != key_cache_.end()) {
                if (it->second.until > mono && (it->second.expires_at == 0 || it->second.expires_at > now))
                    co_return it->second.principal;
                key_cache_.erase(it);
            }
        }
        std::int64_t key_expires = 0;
        auto lookup = [this, hash, now, &key_expires](soci::session& s) -> std::shared_ptr<const Principal> {
            auto found = store_.find_api_key_by_hash(s, hash);
            if (!found) return nullptr;
            auto& [key, user] = *found;
            if (key.revoked_at != 0 || (key.expires_at != 0 && key.expires_at <= now) || user.disabled) return nullptr;
            if (now - key.last_used_at > 60'000) touch([&] { store_.touch_api_key(s, key.id, now); });
            key_expires = key.expires_at;
            auto p = principal_for(s, user, &key);
            p->via = Principal::Via::api_key;
            p->credential_id = key.id;
            return p;
        };
        // A change to users or keys while the lookup ran must not be undone by caching its result.
        std::uint64_t generation;
        {
            std::lock_guard lk(key_cache_m_);
            generation = key_generation_;
        }
        auto p = co_await db_.run(std::move(lookup));
        if (!p) throw Error(ErrorCode::unauthorized, "the API key is unknown, expired or revoked");
        if (config_.api_key_cache_ms > 0) {
            std::lock_guard lk(key_cache_m_);
            if (generation == key_generation_) {
                if (key_cache_.size() >= 10'000) key_cache_.clear();
                key_cache_[hash] = {p, key_expires, mono + std::chrono::milliseconds(config_.api_key_cache_ms)};
            }
        }
        co_return p;
    }
    auto sid = cookie_value(req, kSessionCookie);
    if (sid.empty()) co_return nullptr;
    auto hash = sha256_hex(sid);
    auto now = clock_.now_ms();
    auto lookup = [this, hash, now](soci::session& s) -> std::shared_ptr<const Principal> {
        auto found = store_.find_session(s, hash);
        if (!found) return nullptr;
        auto& [sess, user] = *found;
        if (sess.expires_at <= now || sess.last_seen_at + config_.session_idle_ms <= now || user.disabled) {
            store_.delete_session(s, hash);
            return nullptr;
        }
        if (now - sess.last_seen_at > 60'000) touch([&] { store_.touch_session(s, hash, now); });
        auto p = principal_for(s, user, nullptr);
        p->via = Principal::Via::session;
        p->credential_id = hash;
        p->csrf_token = sess.csrf_token;
        return p;
    };
    auto p = co_await db_.run(std::move(lookup));
    if (!p) throw Error(ErrorCode::unauthorized, "the session has expired; log in again");
    co_return p;
}

std::shared_ptr<Principal> AuthService::principal_for(soci::session& s, const User& user, const ApiKey* key) {
    auto p = std::make_shared<Principal>();
    p->user_id = user.id;
    p->username = user.username;
    p->role = user.role;
    p->personal_project = personal_project_id(user.id);
    static const std::vector<std::string> every{"*"};
    const auto& scopes = key ? key->scopes : every;
    // A key holds its scopes within what its user holds.
    auto narrow = [&scopes](PermissionSet held) { return within_scopes(std::move(held), scopes); };
    p->key_project = key ? key->project_id : std::string();
    bool unlimited = p->key_project.empty();
    p->instance_admin = user.role == "admin" && unlimited;
    p->permissions = narrow(permissions_.instance_held_by(user.role, unlimited));
    auto add = [&](const std::string& project, const std::string& role) {
        if (!unlimited && project != p->key_project) return;
        auto held = narrow(permissions_.held_in_project(role));
        p->permissions.insert(held.begin(), held.end());
        p->projects[project] = std::move(held);
    };
    if (user.role == "admin") {
        for (const auto& pr : project_store_.list(s)) add(pr.id, "admin");
    } else {
        for (const auto& m : project_store_.memberships(s, user.id)) add(m.project.id, m.role);
    }
    return p;
}

AuthService::LoginResult AuthService::open_session(soci::session& s, const User& u, const HttpRequest& req) {
    LoginResult r{u, random_token(32), random_token(32)};
    auto now = clock_.now_ms();
    Session sess{sha256_hex(r.session_id), u.id, r.csrf_token, now, now, now + config_.session_absolute_ms};
    store_.insert_session(s, sess, req.remote_address, std::string(req.header("User-Agent").substr(0, 256)));
    store_.touch_login(s, u.id, now);
    r.user.last_login_at = now;
    return r;
}

boost::asio::awaitable<AuthService::LoginResult> AuthService::login(std::string username, std::string password,
                                                                    const HttpRequest& req) {
    auto now = std::chrono::steady_clock::now();
    std::string account_key = "user:" + username, address_key = "ip:" + req.remote_address;
    Actor anon{"", username.substr(0, 64), req.remote_address};
    auto wait = std::max(accounts_.retry_after(account_key, now).value_or(0), addresses_.retry_after(address_key, now).value_or(0));
    if (wait > 0) {
        auto q1 = entry(anon, "auth.login", username.substr(0, 64), "denied", {{"reason", "throttled"}});
        co_await record(std::move(q1));
        throw Error(ErrorCode::too_many_requests, fmt::format("too many failed logins; try again in {} s", wait))
            .with_header("Retry-After", std::to_string(wait));
    }
    auto old_sid = cookie_value(req, kSessionCookie);
    auto attempt = [this, username, password, old_sid, &req](soci::session& s) -> std::optional<LoginResult> {
        auto user = store_.find_user_by_name(s, username);
        bool ok = verify_slowly(password, user ? &user->password_hash : nullptr);
        if (!ok || !user || user->disabled) return std::nullopt;
        // Session fixation: whatever session the client had is dropped; a new id is issued.
        if (!old_sid.empty()) store_.delete_session(s, sha256_hex(old_sid));
        return open_session(s, *user, req);
    };
    auto result = co_await db_.run(std::move(attempt));
    if (!result) {
        accounts_.failure(account_key, now);
        addresses_.failure(address_key, now);
        auto q2 = entry(anon, "auth.login", username.substr(0, 64), "failure");
        co_await record(std::move(q2));
        throw Error(ErrorCode::unauthorized, "invalid username or password");
    }
    accounts_.success(account_key);
    addresses_.success(address_key);
    auto q3 = entry({result->user.id, result->user.username, req.remote_address}, "auth.login",
                          result->user.username, "success");
    co_await record(std::move(q3));
    co_return std::move(*result);
}

boost::asio::awaitable<void> AuthService::logout(const Principal& who, const HttpRequest& req) {
    if (who.via == Principal::Via::session) {
        auto hash = who.credential_id;
        auto q1 = [this, hash](soci::session& s) { store_.delete_session(s, hash); };
        co_await db_.run(std::move(q1));
    }
    auto q4 = entry(actor_of(who, req), "auth.logout", who.username, "success");
    co_await record(std::move(q4));
}

boost::asio::awaitable<AuthService::LoginResult> AuthService::change_password(const Principal& who, std::string current,
                                                                              std::string next, const HttpRequest& req) {
    if (auto why = password_problem(next, who.username, config_.min_password_length); !why.empty()) {
        throw Error(ErrorCode::validation_failed, "the new password " + why, {{"/new_password", why}});
    }
    auto id = who.user_id;
    auto work = [this, id, current, next, &req](soci::session& s) -> std::optional<LoginResult> {
        auto user = store_.find_user(s, id);
        if (!user || !verify_slowly(current, &user->password_hash)) return std::nullopt;
        user->password_hash = hash_slowly(next);
        user->updated_at = clock_.now_ms();
        WriteTransaction tx(s, db_.backend() == DbBackend::sqlite);
        store_.update_user(s, *user);
        store_.delete_user_sessions(s, id);
        auto r = open_session(s, *user, req);
        tx.commit();
        return r;
    };
    auto r = co_await db_.run(std::move(work));
    if (!r) {
        auto q5 = entry(actor_of(who, req), "auth.password.change", who.username, "failure");
        co_await record(std::move(q5));
        throw Error(ErrorCode::validation_failed, "the current password is wrong",
                    {{"/current_password", "does not match"}});
    }
    auto q6 = entry(actor_of(who, req), "auth.password.change", who.username, "success");
    co_await record(std::move(q6));
    co_return std::move(*r);
}

boost::asio::awaitable<bool> AuthService::setup_needed() {
    if (!config_.setup_page) co_return false;
    auto q2 = [this](soci::session& s) { return store_.count_users(s) == 0; };
    co_return co_await db_.run(std::move(q2));
}

User AuthService::validate_new_user(const std::string& username, const std::string& password, const std::string& role) {
    std::vector<FieldError> errors;
    if (unsafe_username(username)) errors.push_back({"/username", "1-64 characters: letters, digits, . _ - @"});
    if (!valid_role(role)) errors.push_back({"/role", "must be one of admin, editor, operator, viewer"});
    if (auto why = password_problem(password, username, config_.min_password_length); !why.empty()) {
        errors.push_back({"/password", why});
    }
    if (!errors.empty()) {
        throw Error(ErrorCode::validation_failed,
                    errors.size() == 1 ? errors[0].pointer.substr(1) + " " + errors[0].message : "the user is invalid",
                    errors);
    }
    auto now = clock_.now_ms();
    return User{new_uuid(), username, "", role, false, now, now, 0};
}

boost::asio::awaitable<AuthService::LoginResult> AuthService::setup(std::string username, std::string password,
                                                                    const HttpRequest& req) {
    if (!config_.setup_page) throw Error(ErrorCode::not_found, "the setup page is disabled (auth.setup_page)");
    if (!is_loopback(req.remote_address)) {
        // The real client: behind a trusted proxy, the address the proxy forwarded (server.trusted_proxies).
        throw Error(ErrorCode::forbidden,
                    fmt::format("the first admin can only be created from the server's own machine (loopback); this "
                                "request came from {}. Use `arclight user add --admin NAME` on the server instead",
                                req.remote_address));
    }
    auto user = validate_new_user(username, password, "admin");
    auto work = [this, user, password, &req](soci::session& s) mutable -> std::optional<LoginResult> {
        if (store_.count_users(s) != 0) return std::nullopt;
        user.password_hash = hash_slowly(password);
        if (!store_.insert_first_user(s, user)) return std::nullopt;
        return open_session(s, user, req);
    };
    auto r = co_await db_.run(std::move(work));
    if (!r) throw Error(ErrorCode::conflict, "setup is done: a user already exists");
    auto q7 = entry({r->user.id, r->user.username, req.remote_address}, "auth.setup", r->user.username, "success");
    co_await record(std::move(q7));
    co_return std::move(*r);
}

boost::asio::awaitable<std::vector<User>> AuthService::list_users() {
    auto q3 = [this](soci::session& s) { return store_.list_users(s); };
    co_return co_await db_.run(std::move(q3));
}

boost::asio::awaitable<User> AuthService::add_user(Actor actor, std::string username, std::string password,
                                                   std::string role) {
    auto user = validate_new_user(username, password, role);
    auto work = [this, user, password](soci::session& s) mutable -> std::optional<User> {
        user.password_hash = hash_slowly(password);
        if (!store_.insert_user(s, user)) return std::nullopt;
        return user;
    };
    auto created = co_await db_.run(std::move(work));
    if (!created) throw Error(ErrorCode::conflict, "a user named " + username + " already exists", {{"/username", "taken"}});
    auto q8 = entry(actor, "auth.user.create", created->username, "success", {{"role", created->role}});
    co_await record(std::move(q8));
    co_return std::move(*created);
}

boost::asio::awaitable<User> AuthService::patch_user(Actor actor, std::string id, std::optional<std::string> role,
                                                     std::optional<bool> disabled, std::optional<std::string> password) {
    if (role && !valid_role(*role)) {
        throw Error(ErrorCode::validation_failed, "unknown role", {{"/role", "must be one of admin, editor, operator, viewer"}});
    }
    enum class Outcome { ok, missing, last_admin, bad_password };
    struct Result {
        Outcome outcome = Outcome::ok;
        User user;
        std::string why;
    };
    auto work = [this, id, role, disabled, password](soci::session& s) -> Result {
        WriteTransaction tx(s, db_.backend() == DbBackend::sqlite);
        auto user = store_.find_user(s, id);
        if (!user) return {Outcome::missing, {}, {}};
        bool was_active_admin = user->role == "admin" && !user->disabled;
        if (role) user->role = *role;
        if (disabled) user->disabled = *disabled;
        bool revoke = (disabled && *disabled) || password.has_value();
        if (password) {
            if (auto why = password_problem(*password, user->username, config_.min_password_length); !why.empty()) {
                return {Outcome::bad_password, {}, why};
            }
            user->password_hash = hash_slowly(*password);
        }
        if (was_active_admin && (user->role != "admin" || user->disabled) && store_.count_active_admins(s) <= 1) {
            return {Outcome::last_admin, {}, {}};
        }
        user->updated_at = clock_.now_ms();
        store_.update_user(s, *user);
        if (revoke) store_.delete_user_sessions(s, user->id);
        tx.commit();
        return {Outcome::ok, *user, {}};
    };
    auto r = co_await db_.run(std::move(work));
    forget_keys();
    if (r.outcome == Outcome::missing) throw Error(ErrorCode::not_found, "no such user");
    if (r.outcome == Outcome::bad_password) {
        throw Error(ErrorCode::validation_failed, "the password " + r.why, {{"/password", r.why}});
    }
    if (r.outcome == Outcome::last_admin) {
        throw Error(ErrorCode::conflict, "this is the last active admin; make another admin first");
    }
    boost::json::object detail;
    if (role) detail["role"] = *role;
    if (disabled) detail["disabled"] = *disabled;
    if (password) detail["password_reset"] = true;
    auto q9 = entry(actor, "auth.user.update", r.user.username, "success", detail);
    co_await record(std::move(q9));
    co_return r.user;
}

boost::asio::awaitable<void> AuthService::delete_user(Actor actor, std::string id) {
    if (id == actor.id) throw Error(ErrorCode::conflict, "you cannot delete yourself");
    auto work = [this, id](soci::session& s) -> std::pair<int, std::string> {
        WriteTransaction tx(s, db_.backend() == DbBackend::sqlite);
        auto user = store_.find_user(s, id);
        if (!user) return {1, {}};
        if (user->role == "admin" && !user->disabled && store_.count_active_admins(s) <= 1) return {2, {}};
        store_.delete_user(s, id);
        tx.commit();
        return {0, user->username};
    };
    auto [code, name] = co_await db_.run(std::move(work));
    forget_keys();
    if (code == 1) throw Error(ErrorCode::not_found, "no such user");
    if (code == 2) throw Error(ErrorCode::conflict, "this is the last active admin; make another admin first");
    auto q10 = entry(actor, "auth.user.delete", name, "success");
    co_await record(std::move(q10));
}

boost::asio::awaitable<AuthService::NewKey> AuthService::create_key(const Principal& who, std::string name,
                                                                    std::vector<std::string> scopes,
                                                                    std::int64_t expires_at, std::string project_id,
                                                                    const HttpRequest& req) {
    std::vector<FieldError> errors;
    if (name.empty() || name.size() > 100) errors.push_back({"/name", "1-100 characters"});
    if (scopes.empty()) errors.push_back({"/scopes", "at least one scope (\"*\" for all of your permissions)"});
    // Within the minting credential's own powers, never its user's: `who.permissions` is a
    // session's role permissions, or an API key's scopes within them, so a narrow key cannot mint a
    // wider one. "*" stands for every permission of the user's role when the key is used, so only
    // a credential holding all of them may ask for it.
    auto role = permissions_.held_by(who.role);
    bool holds_role = who.has("*") || std::all_of(role.begin(), role.end(), [&](const std::string& p) { return who.has(p); });
    for (std::size_t i = 0; i < scopes.size(); ++i) {
        const auto& sc = scopes[i];
        bool known = sc == "*" || permissions_.known(sc) || who.has("*");
        if (!known || !(sc == "*" ? holds_role : who.has(sc))) {
            errors.push_back({fmt::format("/scopes/{}", i),
                              sc == "*" ? "\"*\" needs every permission of your role; this credential holds fewer"
                                        : "not one of this credential's permissions: " + sc});
        }
    }
    if (expires_at != 0 && expires_at <= clock_.now_ms()) errors.push_back({"/expires_at", "must be in the future"});
    // A key limited to a project mints only keys limited to it.
    if (!who.key_project.empty()) {
        if (project_id.empty()) project_id = who.key_project;
        else if (project_id != who.key_project) errors.push_back({"/project_id", "this key is limited to project " + who.key_project});
    }
    if (!project_id.empty() && !who.member(project_id)) errors.push_back({"/project_id", "not a project of yours"});
    if (!errors.empty()) throw Error(ErrorCode::validation_failed, "the API key request is invalid", errors);
    NewKey k;
    k.secret = "ak_" + random_token(32);
    k.key = ApiKey{new_uuid(), who.user_id, name, k.secret.substr(0, 11), scopes, clock_.now_ms(), expires_at, 0, 0, project_id};
    auto hash = sha256_hex(k.secret);
    auto key = k.key;
    auto q4 = [this, key, hash](soci::session& s) { store_.insert_api_key(s, key, hash); };
    co_await db_.run(std::move(q4));
    boost::json::array sc;
    for (const auto& s : scopes) sc.push_back(boost::json::string(s));
    auto q11 = entry(actor_of(who, req), "auth.api_key.create", k.key.id, "success", {{"name", name}, {"scopes", sc}});
    co_await record(std::move(q11));
    co_return k;
}

boost::asio::awaitable<std::vector<ApiKey>> AuthService::list_keys(const Principal& who) {
    auto id = who.user_id;
    auto q5 = [this, id](soci::session& s) { return store_.list_api_keys(s, id); };
    co_return co_await db_.run(std::move(q5));
}

boost::asio::awaitable<ApiKey> AuthService::get_key(const Principal& who, std::string id) {
    auto q6 = [this, id](soci::session& s) { return store_.find_api_key(s, id); };
    auto key = co_await db_.run(std::move(q6));
    if (!key || key->user_id != who.user_id) throw Error(ErrorCode::not_found, "no such API key");
    co_return std::move(*key);
}

boost::asio::awaitable<void> AuthService::revoke_key(const Principal& who, std::string id, const HttpRequest& req) {
    auto key = co_await get_key(who, id);
    auto now = clock_.now_ms();
    auto q7 = [this, id, now](soci::session& s) { store_.revoke_api_key(s, id, now); };
    co_await db_.run(std::move(q7));
    forget_keys();
    auto q12 = entry(actor_of(who, req), "auth.api_key.revoke", id, "success", {{"name", key.name}});
    co_await record(std::move(q12));
}

boost::asio::awaitable<AuthService::AuditPage> AuthService::list_audit(std::size_t limit,
                                                                       std::optional<std::string> cursor) {
    std::optional<std::pair<std::int64_t, std::string>> before;
    if (cursor) {
        auto colon = cursor->find(':');
        try {
            if (colon == std::string::npos) throw std::invalid_argument("cursor");
            before = std::make_pair(std::stoll(cursor->substr(0, colon)), cursor->substr(colon + 1));
        } catch (const std::exception&) {
            throw Error(ErrorCode::bad_request, "the cursor is not one this server issued");
        }
    }
    auto q8 = [this, limit, before](soci::session& s) { return store_.list_audit(s, limit + 1, before); };
    auto rows = co_await db_.run(std::move(q8));
    AuditPage page;
    if (rows.size() > limit) {
        rows.resize(limit);
        page.next_cursor = fmt::format("{}:{}", rows.back().at, rows.back().id);
    }
    page.items = std::move(rows);
    co_return page;
}

boost::asio::awaitable<void> AuthService::record(AuditEntry e) {
    AuditRow row{new_time_uuid(), clock_.now_ms(), std::move(e)};
    auto q9 = [this, row](soci::session& s) { store_.insert_audit(s, row); };
    co_await db_.run(std::move(q9));
}

std::string AuthService::create_user(const std::string& username, const std::string& password, const std::string& role) {
    auto user = validate_new_user(username, password, role);
    user.password_hash = hash_password(password);
    bool ok = db_.with_session([&](soci::session& s) { return store_.insert_user(s, user); });
    if (!ok) throw Error(ErrorCode::conflict, "a user named " + username + " already exists");
    db_.with_session([&](soci::session& s) {
        store_.insert_audit(s, AuditRow{new_time_uuid(), clock_.now_ms(),
                                        AuditEntry{"", "command line", "auth.user.create", username, "success", "",
                                                   {{"role", role}}}});
    });
    return user.id;
}

boost::asio::awaitable<void> AuthService::purge_sessions() {
    auto now = clock_.now_ms();
    auto idle = now - config_.session_idle_ms;
    auto q10 = [this, now, idle](soci::session& s) { store_.delete_expired_sessions(s, now, idle); };
    co_await db_.run(std::move(q10));
}

boost::asio::awaitable<std::size_t> AuthService::purge_audit(std::size_t batch) {
    std::size_t total = 0;
    if (config_.audit_retention_days <= 0) co_return total;
    if (batch == 0) batch = 1;
    const std::int64_t before = clock_.now_ms() - config_.audit_retention_days * 24LL * 3600 * 1000;
    // One short transaction per batch: the write lock is never held long.
    for (;;) {
        auto del = [this, before, batch](soci::session& s) { return store_.delete_audit_before(s, before, batch); };
        std::size_t n = co_await db_.run(std::move(del));
        total += n;
        if (n < batch) break;
    }
    if (total > 0) {
        Db* db = &db_;
        for (;;) {
            auto reclaim = [db](soci::session& s) { return db->reclaim_space(s, 1000); };
            if (co_await db_.run(std::move(reclaim)) < 1000) break;
        }
        log::info("auth", "deleted {} audit entries older than {} days", total, config_.audit_retention_days);
    }
    co_return total;
}

}  // namespace arclight::auth
