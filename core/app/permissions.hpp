#pragma once
// Permissions are declared by the modules that use them (ModuleDescriptor::permissions): a name,
// what it allows, and which roles hold it. Core collects them into one catalog before any module
// is constructed; the auth module derives each role's permissions from it, and start-up refuses a
// route or WebSocket topic that names a permission no enabled module declared.

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace arclight {

/// The roles, from most to least privileged. admin holds every permission ("*").
const std::vector<std::string>& role_names();
bool valid_role(std::string_view role);

/// One permission as a module declares it.
struct Permission {
    std::string name;                ///< "<area>.<verb>", e.g. "flows.read"
    std::string description;         ///< what it allows, for people choosing API-key scopes
    std::vector<std::string> roles;  ///< the roles below admin that hold it ("editor", "operator", "viewer")
    /// Instance-wide (users, the audit log, server information, creating projects) rather than
    /// held per project. A project permission is held through a role in a project (a project's
    /// admin holds every project permission there); an instance permission through the user's
    /// own role (an instance admin holds all of them).
    bool instance = false;
};

class PermissionCatalog {
public:
    struct Entry {
        std::string module;
        Permission permission;
    };
    /// Adds a module's permission. Throws std::logic_error on a malformed name, an unknown role,
    /// or a name another module already declared.
    void add(const std::string& module, Permission p);
    bool known(std::string_view name) const;
    /// Every declared permission, sorted by name.
    const std::vector<Entry>& all() const noexcept { return entries_; }
    /// The permissions a role holds: {"*"} for admin, the declared ones for the other roles.
    std::set<std::string, std::less<>> held_by(std::string_view role) const;
    /// The instance permissions a user of this role holds: {"*"} for admin. With
    /// `admin_powers` false (an admin's key limited to one project) an admin holds what the
    /// other roles hold.
    std::set<std::string, std::less<>> instance_held_by(std::string_view role, bool admin_powers = true) const;
    /// The project permissions a member with this project role holds there (every one for admin).
    std::set<std::string, std::less<>> held_in_project(std::string_view role) const;

private:
    std::vector<Entry> entries_;
};

}  // namespace arclight
