-- The claim poll (modules/workflow/run_store.cpp) looks for active runs whose lease has run out.
-- Through the index on (status, wake_at) it read every 'running' entry, and on PostgreSQL those
-- include the entries of runs that have finished since the last vacuum (their update to a final
-- status leaves the old entry behind): 40,000-50,000 entries and 70-110 ms per poll, once a
-- second, under load (autovacuum visits a database once a minute by default). This index holds
-- active runs only, by lease end: a poll reads the leases that have run out (and the unowned
-- runs, whose lease_until is 0), never a run that finished within its lease. Lease renewals go
-- by id. The runs list filtered by a final status walks the created_at index instead.
DROP INDEX workflow_runs_status;
CREATE INDEX workflow_runs_active ON workflow_runs (lease_until) WHERE status IN ('queued', 'running', 'waiting');
