#pragma once
// Who is making a request, as established by the auth module and checked against each route's
// declared permission.

#include <set>
#include <string>
#include <string_view>

namespace arclight {

struct Principal {
    enum class Via { session, api_key };
    std::string user_id;
    std::string username;
    std::string role;
    std::set<std::string, std::less<>> permissions;  ///< effective permissions; "*" holds every permission
    Via via = Via::session;
    std::string credential_id;  ///< session hash or API key id
    std::string csrf_token;     ///< for session principals

    bool has(std::string_view permission) const {
        return permissions.count("*") > 0 || permissions.count(permission) > 0;
    }
};

}  // namespace arclight
