#pragma once
// What a role or an API key may do, derived from the permissions the enabled modules declared
// (core's PermissionCatalog: held_by(role) gives a role's). The roles themselves are core's (role_names()).

#include "core/app/permissions.hpp"

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace arclight::auth {

using PermissionSet = std::set<std::string, std::less<>>;

/// The permissions a key with `scopes` gets from an owner with `role`: the intersection
/// ("*" in scopes means all of the owner's permissions).
PermissionSet scoped_permissions(const PermissionCatalog& catalog, std::string_view role,
                                 const std::vector<std::string>& scopes);

}  // namespace arclight::auth
