-- Fencing of leases (docs/workflows.md, "Leases and recovery"): every claim of a run increments
-- `lease_gen`, and the claiming instance keeps the generation it got. Each state write of the
-- owner carries that generation and applies only while the run's row still has it, so an
-- instance that stalled past its lease (its runs claimed by another meanwhile) has its writes
-- refused and drops the runs instead of driving them on. A run's first write (its start) has 0.
ALTER TABLE workflow_runs ADD COLUMN lease_gen BIGINT NOT NULL DEFAULT 0;
