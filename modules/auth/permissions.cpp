#include "modules/auth/permissions.hpp"

#include <algorithm>

namespace arclight::auth {

PermissionSet within_scopes(PermissionSet held, const std::vector<std::string>& scopes) {
    if (std::find(scopes.begin(), scopes.end(), "*") != scopes.end()) return held;
    PermissionSet out;
    bool everything = held.count("*") > 0;
    for (const auto& s : scopes)
        if (everything || held.count(s)) out.insert(s);
    return out;
}

}  // namespace arclight::auth
