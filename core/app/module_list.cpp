// The single, explicit list of compiled-in modules. Add a module here (and to modules/CMakeLists.txt).
#include "core/app/module.hpp"
#include "modules/auth/module.hpp"
#include "modules/system/module.hpp"
#include "modules/workflow/module.hpp"

namespace arclight {

std::vector<ModuleDescriptor> builtin_modules() {
    return {
        auth::descriptor(),
        system::descriptor(),
        workflow::descriptor(),
    };
}

}  // namespace arclight
