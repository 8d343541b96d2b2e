#pragma once
// What the workflow module's route handlers share (module.cpp builds it, routes.cpp uses it).
#include "modules/workflow/engine.hpp"
#include "modules/workflow/executors.hpp"
#include "modules/workflow/store.hpp"
#include "modules/workflow/triggers.hpp"
#include <boost/asio/awaitable.hpp>

namespace arclight {
class Db;
class Router;
}  // namespace arclight

namespace arclight::workflow {

struct Shared {
    Db& db;
    Store& store;
    Engine& engine;
    Triggers& triggers;
    TaskTypeRegistry& types;
    /// Compiles a stored definition (cached per id+version); nullptr when it no longer parses.
    std::function<std::shared_ptr<const WorkflowVersion>(const std::string&, int, const std::string&)> compile;
    /// The version by id and number (cache, then store); nullptr when absent.
    std::function<std::shared_ptr<const WorkflowVersion>(const std::string&, int)> load_version;
};

void register_routes(Router& router, Shared& shared);

}  // namespace arclight::workflow
