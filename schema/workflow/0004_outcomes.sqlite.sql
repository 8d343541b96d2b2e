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
-- SQLite: whole-column indexes, so MAX(outcome_seq) is one index lookup.
CREATE INDEX workflow_runs_outcome ON workflow_runs (outcome_seq);
CREATE INDEX workflow_tasks_outcome ON workflow_tasks (outcome_seq);
