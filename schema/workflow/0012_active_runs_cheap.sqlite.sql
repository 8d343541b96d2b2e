-- The partial index of active runs (0008_active_runs.sql), with a condition SQLite evaluates
-- without building a table. SQLite tests every row it inserts or updates against a partial
-- index's condition, and codes `status IN ('queued', 'running', 'waiting')` (three constants or
-- more) with a temporary b-tree built for each statement run: the state writer built one per run
-- row written, a quarter of its time. Comparisons joined by OR cost nothing of the kind. The
-- claim poll's condition (modules/workflow/run_store.cpp, kClaimSqlite) is written the same way:
-- SQLite uses a partial index only when the query's condition is this one.
DROP INDEX workflow_runs_active;
CREATE INDEX workflow_runs_active ON workflow_runs (lease_until) WHERE status = 'queued' OR status = 'running' OR status = 'waiting';
