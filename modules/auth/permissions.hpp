#pragma once
// Roles and the permissions each one holds. Permissions are named strings that routes declare.

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace arclight::auth {

/// The roles, from most to least privileged.
const std::vector<std::string>& roles();
bool valid_role(std::string_view role);
/// Every permission name the built-in modules use (for the API-key scope picker).
const std::vector<std::string>& known_permissions();
/// Permissions of a role. admin holds "*" (every permission, including future modules').
std::set<std::string, std::less<>> role_permissions(std::string_view role);
/// The permissions a key with `scopes` gets from an owner with `role`: the intersection
/// ("*" in scopes means all of the owner's permissions).
std::set<std::string, std::less<>> scoped_permissions(std::string_view role, const std::vector<std::string>& scopes);

}  // namespace arclight::auth
