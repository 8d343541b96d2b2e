-- What answered a synchronous webhook's caller (GET /api/v1/runs/{id} "response",
-- docs/workflows.md "Webhook answers"): the sent reply {"source": "run_end" | "timeout",
-- "status", "content_type", "headers", "body"}, written with the run's final row; '' otherwise,
-- and when a respond task answered (its own output, {"delivered": true, ...}, holds what it sent).
ALTER TABLE workflow_runs ADD COLUMN response TEXT NOT NULL DEFAULT '';
