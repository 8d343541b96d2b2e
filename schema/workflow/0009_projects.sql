-- Projects (schema/auth/0002_projects.sql): every workflow belongs to one project, and its runs,
-- tasks, triggers and versions with it. A run's project is its workflow's (moving a workflow moves
-- its runs' visibility); workflow_runs.project_id is read only once the workflow row is gone
-- (deleted workflows, whose runs stay readable) and is set when it is deleted.
-- Everything stored before projects is in the project "default" ("Default").
ALTER TABLE workflows ADD COLUMN project_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE workflow_runs ADD COLUMN project_id TEXT NOT NULL DEFAULT 'default';
CREATE INDEX workflows_project ON workflows (project_id);
