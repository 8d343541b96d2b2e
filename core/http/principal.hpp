#pragma once
// Who is making a request, as established by the auth module and checked against each route's
// declared permission, and per project by ProjectScope (core/http/project_scope.hpp).

#include <map>
#include <set>
#include <string>
#include <string_view>

namespace arclight {

using PermissionSet = std::set<std::string, std::less<>>;

struct Principal {
    enum class Via { session, api_key };
    std::string user_id;
    std::string username;
    std::string role;  ///< the user's own role; "admin" is the instance admin
    /// Effective permissions anywhere: the instance ones and those held in any project (what a
    /// route admits on); "*" holds every permission.
    PermissionSet permissions;
    /// The projects the caller reaches, with the permissions held in each ("*": every one). An
    /// instance admin reaches every project.
    std::map<std::string, PermissionSet, std::less<>> projects;
    bool instance_admin = false;   ///< sees and manages every project, users and instance settings
    std::string personal_project;  ///< the user's own project
    std::string key_project;       ///< an API key limited to this project ("" = not limited)
    Via via = Via::session;
    std::string credential_id;  ///< session hash or API key id
    std::string csrf_token;     ///< for session principals

    bool has(std::string_view permission) const {
        return permissions.count("*") > 0 || permissions.count(permission) > 0;
    }
    /// Whether the caller reaches `project` at all (a member, or an instance admin: every
    /// project, also what belongs to none that exists any more).
    bool member(std::string_view project) const { return instance_admin || projects.find(project) != projects.end(); }
    /// Whether the caller holds `permission` in `project`.
    bool can(std::string_view project, std::string_view permission) const {
        if (instance_admin) return has(permission);
        auto it = projects.find(project);
        return it != projects.end() && (it->second.count("*") > 0 || it->second.count(permission) > 0);
    }
};

}  // namespace arclight
