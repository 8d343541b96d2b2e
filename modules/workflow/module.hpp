#pragma once
// The workflow module: durable DAG engine, definitions API, runs API, webhooks, cron and event
// triggers, task types (extension point: workflow::TaskTypes). docs/workflows.md describes it.
#include "core/app/module.hpp"

namespace arclight::workflow {

ModuleDescriptor descriptor();

}  // namespace arclight::workflow
