-- The durable outcome feed (GET /api/v1/workflows/outcomes, WorkflowService::outcomes): finished
-- tasks and runs in the order their final state was committed. `outcome_seq` is set in the same
-- upsert that writes a final status (NULL otherwise):
--   SQLite: one more than the largest outcome_seq of either table (writes are serialised, so the
--           numbers follow commit order);
--   PostgreSQL: the writing transaction's id (pg_current_xact_id()), so the reader can return
--           exactly the rows of transactions older than the oldest one still running.
-- See docs/workflows.md ("Outcome feed").
ALTER TABLE workflow_runs ADD COLUMN outcome_seq BIGINT;
ALTER TABLE workflow_tasks ADD COLUMN outcome_seq BIGINT;
-- Partial indexes: rows not finished are not in them, so the writes before a row's end cost no
-- index entry; the largest position is the last entry (ORDER BY outcome_seq DESC LIMIT 1).
CREATE INDEX workflow_runs_outcome ON workflow_runs (outcome_seq) WHERE outcome_seq IS NOT NULL;
CREATE INDEX workflow_tasks_outcome ON workflow_tasks (outcome_seq) WHERE outcome_seq IS NOT NULL;
