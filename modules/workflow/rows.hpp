#pragma once
// Persistence rows: a run's in-memory state as the writer's rows, and a run rebuilt from its rows.
#include "modules/workflow/run.hpp"
#include "modules/workflow/writer.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace arclight {
class Clock;
}

namespace arclight::workflow {

/// A new run of `wf` (tasks pending, nothing else set).
RunPtr make_run(std::shared_ptr<const WorkflowVersion> wf);
/// The expression context {"input", "trigger", "tasks", "run"}.
void init_context(Run& r, const boost::json::value& input, const boost::json::object& trigger);

/// The run row; a live run is owned by `instance` for `lease_ms`, a final or released one by nobody.
RunRow run_row(const Run& r, const std::string& instance, std::int64_t lease_ms, const Clock& clock);
TaskRow task_row(const Run& r, int k, const std::string& instance);
/// Task k's input as it is recorded (JSON text) and shown: credentials hidden by its type
/// (TaskType::redact_input).
std::string recorded_input(const Run& r, int k);
boost::json::value shown_input(const Run& r, int k);

/// A run rebuilt from its stored rows (durable; tasks as recorded, unknown task ids ignored).
RunPtr run_from_rows(std::shared_ptr<const WorkflowVersion> wf, const RunRow& row, const std::vector<TaskRow>& tasks);

/// The entry of a finished task in the context's "tasks" object.
boost::json::object task_context_entry(const TaskState& t);

}  // namespace arclight::workflow
