#pragma once
// The auth module: users with roles, Argon2id passwords, browser sessions with CSRF tokens, API
// keys with scopes, login throttling and the audit log. It installs core's access check, so every
// non-public route is enforced against the permission it declares, and WebSocket subscriptions
// against the permission of their topic.

#include "core/app/module.hpp"

namespace arclight::auth {

/// Descriptor listed in core/app/module_list.cpp.
ModuleDescriptor descriptor();

}  // namespace arclight::auth
