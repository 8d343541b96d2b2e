#pragma once
// A core service: which modules this process has and how healthy they are. Offered by the
// Application to modules (the system module shows it).

#include "core/app/module.hpp"

#include <string>
#include <vector>

namespace arclight {

struct ModuleStatus {
    std::string name;
    std::string description;
    bool enabled = true;
    Health health;  ///< Health::failed("disabled") never appears: disabled modules have enabled=false
};

class ModuleDirectory {
public:
    virtual ~ModuleDirectory() = default;
    /// Every compiled-in module in start order, disabled ones included. Thread-safe, non-blocking.
    virtual std::vector<ModuleStatus> modules() const = 0;
};

}  // namespace arclight
