#pragma once
// The system module: GET /api/v1/system/info (version, uptime, database, modules and their
// health, live instances) and a `system.heartbeat` event with the same payload every
// `system.heartbeat_seconds`. It proves the module contract end to end: config, migration
// (system_instances), routes, bus, background loop, health.

#include "core/app/module.hpp"

namespace arclight::system {

/// Descriptor listed in core/app/module_list.cpp.
ModuleDescriptor descriptor();

}  // namespace arclight::system
