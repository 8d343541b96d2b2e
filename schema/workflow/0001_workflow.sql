-- The workflow module: definitions (versioned), runs, task states, cron trigger state.
-- Times are epoch milliseconds (UTC); 0 means "not set". JSON columns hold compact JSON text.

-- The current version of each workflow. `definition` is the JSON the user saved.
CREATE TABLE workflows (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Every version ever saved; a run keeps the version it started with, even after the workflow
-- is changed or deleted.
CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

-- One row per run. `owner` is the instance executing it and `lease_until` when that claim
-- lapses; a run whose lease lapsed is claimed again by any instance (crash recovery).
-- `wake_at` is when a waiting run must be resumed (delay, retry back-off), 0 = not timed.
CREATE TABLE workflow_runs (
    id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    trigger_type TEXT NOT NULL,
    trigger_data TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL DEFAULT 'null',
    error TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT,
    parent_run_id TEXT NOT NULL DEFAULT '',
    parent_task_id TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    wake_at BIGINT NOT NULL DEFAULT 0,
    deadline_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    started_at BIGINT NOT NULL DEFAULT 0,
    finished_at BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
CREATE INDEX workflow_runs_status ON workflow_runs (status, wake_at);
CREATE INDEX workflow_runs_created ON workflow_runs (created_at);
CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow_id, created_at);
CREATE UNIQUE INDEX workflow_runs_idempotency ON workflow_runs (workflow_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The state of each task of a run that has started. A task without a row has not started.
-- A row with status 'succeeded' is final: the engine's upsert never overwrites it, so a task
-- completion is recorded exactly once. `attempts` is the attempt number last started.
CREATE TABLE workflow_tasks (
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    input TEXT NOT NULL DEFAULT 'null',
    output TEXT NOT NULL DEFAULT 'null',
    error TEXT NOT NULL DEFAULT '',
    started_at BIGINT NOT NULL DEFAULT 0,
    finished_at BIGINT NOT NULL DEFAULT 0,
    due_at BIGINT NOT NULL DEFAULT 0,
    agent TEXT NOT NULL DEFAULT '',
    instance TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, task_id)
);

-- The last fire time of each cron trigger, so a restart neither fires twice nor forgets.
CREATE TABLE workflow_cron_state (
    workflow_id TEXT NOT NULL,
    trigger_index INTEGER NOT NULL,
    last_fire_at BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, trigger_index)
);
