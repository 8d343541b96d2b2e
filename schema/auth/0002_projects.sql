-- Projects (workspaces): every resource any module stores belongs to one project. Each user has a
-- personal project (kind 'personal', owned by that user); instance admins create team projects
-- and add members with a project role (admin, editor, operator, viewer).
CREATE TABLE auth_projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    owner_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE auth_project_members (
    project_id TEXT NOT NULL REFERENCES auth_projects (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX auth_project_members_user ON auth_project_members (user_id);

-- An API key may be limited to one project ('' = every project of its owner).
ALTER TABLE auth_api_keys ADD COLUMN project_id TEXT NOT NULL DEFAULT '';
-- Every audit entry names its project ('' = instance-wide: users, logins, projects themselves).
ALTER TABLE auth_audit ADD COLUMN project_id TEXT NOT NULL DEFAULT '';

-- Upgrading: everything stored so far is in the project "Default", which every existing user
-- joins with their current role; each existing user gets a personal project.
INSERT INTO auth_projects (id, name, kind, owner_id, created_at, updated_at)
SELECT 'default', 'Default', 'team', '', 0, 0 WHERE EXISTS (SELECT 1 FROM auth_users);
INSERT INTO auth_project_members (project_id, user_id, role, created_at)
SELECT 'default', id, role, 0 FROM auth_users;
INSERT INTO auth_projects (id, name, kind, owner_id, created_at, updated_at)
SELECT 'personal-' || id, username, 'personal', id, created_at, created_at FROM auth_users;
INSERT INTO auth_project_members (project_id, user_id, role, created_at)
SELECT 'personal-' || id, id, role, created_at FROM auth_users;
