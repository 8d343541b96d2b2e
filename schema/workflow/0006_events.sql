-- Events emitted by workflows (the `emit` task), recorded before the task counts as succeeded,
-- so a wait_for_event task finds its event in the database as well as on the in-process bus:
-- when it starts waiting (the event came first), after the bus dropped it, after a restart and
-- on every instance (docs/workflows.md, "Waiting for people and events").
-- pos: the position in the instances' event feed. SQLite: one more than the largest so far
-- (writes are serialised, so positions follow commit order). PostgreSQL: the inserting
-- transaction's id, read below the oldest running transaction (as the outcome feed does).
-- Rows older than workflow.event_retention_days are deleted.
CREATE TABLE workflow_events (
    id TEXT PRIMARY KEY,
    pos BIGINT NOT NULL,
    topic TEXT NOT NULL,
    data TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    run_id TEXT NOT NULL DEFAULT '',
    task_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX workflow_events_pos ON workflow_events (pos);
CREATE INDEX workflow_events_topic ON workflow_events (topic, time_ms);
CREATE INDEX workflow_events_time ON workflow_events (time_ms);
