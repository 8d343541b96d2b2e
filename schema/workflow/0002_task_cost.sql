-- What a task attempt cost (agent and model tasks report it; USD from the models module's price
-- table; 0 for everything else). With `agent` and the task's timings this is the per-task record
-- the rl module learns from: which agent ran it, its outcome, latency and cost.
ALTER TABLE workflow_tasks ADD COLUMN cost DOUBLE PRECISION NOT NULL DEFAULT 0;
