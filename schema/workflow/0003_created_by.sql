-- Who started each run (docs/workflows.md, "Who started a run"): "user:<user id>" or
-- "api_key:<key id>" for starts through the API, "trigger:webhook", "trigger:cron:<trigger index>",
-- "trigger:event:<topic>" for triggers, "run:<parent run id>" for child runs (subworkflow,
-- decompose), or what another module passes to WorkflowService. Empty for older runs.
ALTER TABLE workflow_runs ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
