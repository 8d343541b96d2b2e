#pragma once
// What a role or an API key may do, derived from the permissions the enabled modules declared
// (core's PermissionCatalog: held_by(role) gives a role's). The roles themselves are core's (role_names()).

#include "core/app/permissions.hpp"
#include "core/http/principal.hpp"

#include <string>
#include <vector>

namespace arclight::auth {

/// What a key with `scopes` holds of what its owner holds (`held`): the intersection ("*" in
/// scopes, or in `held`, stands for everything of the other).
PermissionSet within_scopes(PermissionSet held, const std::vector<std::string>& scopes);

}  // namespace arclight::auth
