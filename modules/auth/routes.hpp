#pragma once
// The auth module's HTTP routes (thin: parse -> AuthService -> JSON) and its access check.

#include "core/http/access.hpp"
#include "core/http/router.hpp"
#include "modules/auth/projects.hpp"
#include "modules/auth/service.hpp"

namespace arclight::auth {

void add_routes(Router& router, AuthService& service, Projects& projects);
/// /api/v1/projects and its members (project_routes.cpp).
void add_project_routes(Router& router, Projects& projects);
/// The check core runs before every non-public route and every WebSocket upgrade.
AccessControl::Check make_access_check(AuthService& service);

}  // namespace arclight::auth
