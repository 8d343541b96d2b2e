-- What answered a synchronous webhook's caller (GET /api/v1/runs/{id} "response",
-- docs/workflows.md "Webhook answers"): {"source": "task", "task_id"} when a respond task
-- answered (its output holds what it sent), or the sent reply {"source": "run_end" | "timeout",
-- "status", "content_type", "headers", "body"}. Written with the run's final row; '' otherwise.
ALTER TABLE workflow_runs ADD COLUMN response TEXT NOT NULL DEFAULT '';
