#pragma once
// The workflow module's HTTP routes (thin: parse, call the service, map).

namespace arclight {
class Router;
}

namespace arclight::workflow {

class Workflows;

void register_routes(Router& router, Workflows& service);

}  // namespace arclight::workflow
