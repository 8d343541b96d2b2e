-- Indexes for what every instance polls (modules/workflow/run_store.cpp), so a poll reads the
-- few rows it is about instead of every run ever kept: finding waiting tasks scanned every task
-- row (PostgreSQL: 90 ms at 100,000 finished runs, every 2 s on every instance), and finding
-- their ended child runs walked every finished run (SQLite). Both are partial: a task that is
-- not waiting, or a run without a parent, costs no entry.
-- Child runs (subworkflow, decompose) by the parent task that waits for them.
CREATE INDEX workflow_runs_parent ON workflow_runs (parent_run_id, parent_task_id) WHERE parent_run_id <> '';
-- Tasks waiting for a child run or an event.
CREATE INDEX workflow_tasks_waiting ON workflow_tasks (type) WHERE status = 'waiting';
