-- Who saved each version of a workflow (GET /api/v1/workflows/{id}/versions): the same text as a
-- run's created_by ("user:<id>" or "key:<id>"); '' for versions saved before it was recorded.
ALTER TABLE workflow_versions ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
