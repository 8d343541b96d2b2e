#include "modules/auth/permissions.hpp"

#include <algorithm>

namespace arclight::auth {

PermissionSet scoped_permissions(const PermissionCatalog& catalog, std::string_view role,
                                 const std::vector<std::string>& scopes) {
    auto owner = catalog.held_by(role);
    if (std::find(scopes.begin(), scopes.end(), "*") != scopes.end()) return owner;
    PermissionSet out;
    bool all = owner.count("*") > 0;
    for (const auto& s : scopes) {
        if (all || owner.count(s)) out.insert(s);
    }
    return out;
}

}  // namespace arclight::auth
