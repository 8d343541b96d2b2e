#pragma once
// The auth module's service interfaces, for other modules and the command line.

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <string>

namespace arclight::auth {

/// One security-relevant action: who did what to what, from where, with which outcome.
struct AuditEntry {
    std::string actor_id;   ///< user id, or empty for anonymous actors (failed logins)
    std::string actor;      ///< username as presented
    std::string action;     ///< dotted verb, e.g. "auth.login", "workflow.delete"
    std::string target;     ///< what was acted on (id or name), may be empty
    std::string outcome;    ///< "success" | "failure" | "denied"
    std::string ip;         ///< client address
    boost::json::object detail = {};
    std::string project_id = {};  ///< the project acted in ("" = instance-wide)
};

/// The audit log. Entries are durable once record() returns; readable by admins at
/// GET /api/v1/auth/audit. Thread-safe.
class AuditLog {
public:
    virtual ~AuditLog() = default;
    /// Writes one entry (on the blocking pool). Throws on a database failure.
    virtual boost::asio::awaitable<void> record(AuditEntry entry) = 0;
};

/// User administration for the command line (`arclight user add`). Blocking; call only before
/// the server starts or from a non-I/O thread.
class UserAdmin {
public:
    virtual ~UserAdmin() = default;
    /// Creates a user; returns its id. Throws arclight::Error (validation_failed, conflict) with a
    /// message that names the problem (password policy, duplicate name, unknown role).
    virtual std::string create_user(const std::string& username, const std::string& password,
                                    const std::string& role) = 0;
};

}  // namespace arclight::auth

#include <cstddef>
#include <functional>

namespace soci {
class session;
}

namespace arclight::auth {

/// Projects, for the modules that keep things in them. A project that still holds something
/// cannot be deleted (409 naming what it holds).
class ProjectRegistry {
public:
    virtual ~ProjectRegistry() = default;
    /// Registers a kind of resource a module keeps in projects (`what`, plural: "workflows") and
    /// how many of them a project holds, read in the deleting transaction's session (blocking).
    /// During start-up.
    virtual void add_holder(std::string what, std::function<std::size_t(soci::session&, const std::string& project)> count) = 0;
};

}  // namespace arclight::auth
