#pragma once
// The auth module's command-line subcommands (`arclight user add`).
#include "core/app/module.hpp"

#include <vector>

namespace arclight::auth {

std::vector<CliCommand> cli_commands();

}  // namespace arclight::auth
