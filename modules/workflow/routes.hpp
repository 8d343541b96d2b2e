#pragma once
// The workflow module's HTTP routes (thin: parse, call the service, map).

namespace arclight {
class Router;
}
namespace arclight::auth {
class AuditLog;
}

namespace arclight::workflow {

class Workflows;

/// `audit`: where changes to workflows and runs are recorded (null: nowhere).
void register_routes(Router& router, Workflows& service, auth::AuditLog* audit);

}  // namespace arclight::workflow
