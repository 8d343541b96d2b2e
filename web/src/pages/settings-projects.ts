// Settings → Projects: the caller's projects (every project for an instance admin), creating a
// team project (instance admins), and one project at /settings/projects/{id}: rename, members and
// their roles (add, change, remove) and delete, for the project's admins.

import { api, ApiError } from '../api';
import { AUTH, ROLES, authStore, type User } from '../auth';
import { h, replace, type Child } from '../dom';
import { formatDateTime } from '../format';
import { PROJECTS, byKindAndName, projectPath, projectStore, type Member, type ProjectSummary } from '../projects';
import { navigate } from '../router';
import { notice } from './common';
import { busy, errorDialog, field, formError, input, markInvalid, openDialog } from './forms';

const BASE = '/settings/projects';

const ROLE_SUMMARY: Record<string, string> = {
  admin: 'everything in the project, including its members',
  editor: 'change and run the project’s workflows',
  operator: 'start and cancel runs',
  viewer: 'read only',
};

/** A message for the next page shown (e.g. after deleting a project). */
let flash: string | null = null;

function takeFlash(): HTMLElement | null {
  const msg = flash;
  flash = null;
  return msg ? h('div', { class: 'notice notice-ok', role: 'status', 'data-testid': 'flash' }, msg) : null;
}

function roleSelect(value: string, attrs: Record<string, string | boolean> = {}): HTMLSelectElement {
  return h(
    'select',
    { class: 'input', ...attrs },
    ROLES.map((r) => h('option', { value: r, selected: r === value }, r)),
  );
}

function kindTag(p: { id: string; kind: string }): HTMLElement {
  const own = p.kind === 'personal' && p.id === projectStore.personalId;
  return h('span', { class: 'tag', 'data-testid': 'project-kind' }, own ? 'personal · yours' : p.kind);
}

function membersPath(id: string): string {
  return `${projectPath(id)}/members`;
}

/** /me lists the caller's projects: read it again after a change so the header's switcher follows. */
function refreshMe(): Promise<void> {
  return authStore.refreshMe().catch(() => undefined);
}

export function renderProjects(root: HTMLElement, path: string): () => void {
  const rest = path.slice(BASE.length).replace(/^\//, '');
  if (rest === '') return renderList(root);
  if (rest.includes('/')) {
    replace(root, notice('info', `There is no settings page at ${path}. `, h('a', { href: BASE, 'data-link': true }, 'All projects')));
    return () => undefined;
  }
  return renderProject(root, decodeURIComponent(rest));
}

// ---- the list ----------------------------------------------------------------

function renderList(root: HTMLElement): () => void {
  let alive = true;
  const list = h('div', { class: 'panel-body' }, h('p', { class: 'muted pad' }, 'Loading projects…'));
  const count = h('span', { class: 'muted small' });
  const createHost = h('div');
  replace(
    root,
    takeFlash(),
    h('section', { class: 'panel' }, h('div', { class: 'panel-title panel-title-row' }, h('span', null, 'Projects'), count), list),
    createHost,
    h(
      'p',
      { class: 'muted' },
      'Every workflow and run belongs to one project; members see and change only their projects’ work, as their role there allows. ',
      'Each user has a personal project; instance admins create team projects and see every project.',
    ),
  );

  const row = (p: ProjectSummary) => {
    const href = `${BASE}/${encodeURIComponent(p.id)}`;
    return h(
      'tr',
      { 'data-testid': 'project-row', 'data-id': p.id, 'data-name': p.name },
      h('td', null, h('a', { href, 'data-link': true, class: 'strong-link', 'data-testid': 'project-name' }, p.name), kindTag(p)),
      h('td', null, h('span', { class: 'badge badge-role', 'data-testid': 'project-role' }, p.role)),
      h('td', { class: 'nowrap' }, p.created_at ? formatDateTime(p.created_at) : h('span', { class: 'muted' }, '—')),
      h(
        'td',
        { class: 'actions' },
        h('a', { href, 'data-link': true, class: 'btn btn-small', 'data-testid': 'project-open' }, p.role === 'admin' ? 'Manage' : 'Members'),
      ),
    );
  };

  const load = async () => {
    try {
      const r = await api.get<{ items: ProjectSummary[] }>(PROJECTS, { quiet: true });
      if (!alive) return;
      const items = [...(r.items ?? [])].sort(byKindAndName);
      for (const p of items) projectStore.noteName(p.id, p.name);
      replace(count, `${items.length} ${items.length === 1 ? 'project' : 'projects'}`);
      replace(
        list,
        h(
          'table',
          { class: 'table', 'data-testid': 'projects-table' },
          h('thead', null, h('tr', null, ['Project', 'Your role', 'Created', ''].map((t) => h('th', null, t)))),
          h('tbody', null, items.length === 0 && h('tr', null, h('td', { colspan: '4', class: 'muted' }, 'You are not a member of any project.')), items.map(row)),
        ),
      );
    } catch (err) {
      if (!alive) return;
      const e = formError();
      e.show(err);
      replace(list, h('div', { class: 'pad' }, notice('error', 'Could not load the projects: ', e.el)));
    }
  };

  if (projectStore.instanceAdmin) {
    const name = input({ name: 'name', type: 'text', required: true, autocomplete: 'off', maxlength: 100, 'data-testid': 'project-new-name' });
    const error = formError('project-error');
    const form = h(
      'form',
      { class: 'form form-inline', 'data-testid': 'project-form', novalidate: true },
      field('Name', name, 'Shown in the project switcher; you can rename it later.'),
      error.el,
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'project-create' }, 'Create project')),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      error.clear();
      if (!name.value.trim()) {
        error.text('Enter a name.');
        name.focus();
        return;
      }
      void busy(form, () => api.post<ProjectSummary>(PROJECTS, { name: name.value.trim() }, { quiet: true })).then(
        async (p) => {
          projectStore.noteName(p.id, p.name);
          await refreshMe();
          flash = `Created ${p.name}. Add its members below.`;
          navigate(`${BASE}/${encodeURIComponent(p.id)}`);
        },
        (err: unknown) => {
          error.show(err);
          markInvalid(form, err);
        },
      );
    });
    replace(createHost, h('section', { class: 'panel' }, h('div', { class: 'panel-title' }, 'Create a team project'), h('div', { class: 'panel-pad' }, form)));
  }

  void load();
  return () => {
    alive = false;
  };
}

// ---- one project -------------------------------------------------------------

function renderProject(root: HTMLElement, id: string): () => void {
  let alive = true;
  let project: ProjectSummary | null = null;
  let members: Member[] = [];
  const flashEl = h('div', null, takeFlash());
  const head = h('div', { class: 'project-head' });
  const details = h('div');
  const memberList = h('div', { class: 'panel-body' }, h('p', { class: 'muted pad' }, 'Loading members…'));
  const memberCount = h('span', { class: 'muted small' });
  const addHost = h('div');
  const dangerHost = h('div');
  const back = h('a', { href: BASE, 'data-link': true }, '← All projects');
  replace(root, h('p', { class: 'muted' }, 'Loading the project…'));

  const canManage = () => !!project && (project.role === 'admin' || projectStore.instanceAdmin);
  /** A personal project has only its owner: no members to add, change or remove. */
  const canManageMembers = () => canManage() && project?.kind !== 'personal';
  const selfId = authStore.user?.id;

  const layout = () =>
    replace(
      root,
      flashEl,
      head,
      details,
      h('section', { class: 'panel' }, h('div', { class: 'panel-title panel-title-row' }, h('span', null, 'Members'), memberCount), memberList, addHost),
      dangerHost,
    );

  const drawHead = (p: ProjectSummary) =>
    replace(
      head,
      h('div', { class: 'project-head-row' }, back),
      h('h2', { class: 'project-title', 'data-testid': 'project-title' }, p.name, kindTag(p)),
    );

  // ---- details and rename ----
  const drawDetails = (p: ProjectSummary) => {
    const rows: [string, Child][] = [
      ['Kind', p.kind === 'personal' ? 'personal (one per user)' : 'team'],
      ['Your role', h('span', { class: 'badge badge-role', 'data-testid': 'project-your-role' }, p.role)],
      ['Created', p.created_at ? formatDateTime(p.created_at) : h('span', { class: 'muted' }, '—')],
      ['Id', h('code', { 'data-testid': 'project-id' }, p.id)],
    ];
    let rename: HTMLElement | null = null;
    if (canManage()) {
      const name = input({ name: 'name', type: 'text', required: true, value: p.name, autocomplete: 'off', maxlength: 100, 'aria-label': 'Project name', 'data-testid': 'project-rename-name' });
      const error = formError('project-rename-error');
      const saved = h('span', { class: 'muted small', role: 'status' });
      const form = h(
        'form',
        { class: 'form-row', 'data-testid': 'project-rename', novalidate: true },
        name,
        h('button', { type: 'submit', class: 'btn', 'data-testid': 'project-rename-save' }, 'Rename'),
        saved,
        error.el,
      );
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        error.clear();
        replace(saved);
        const value = name.value.trim();
        if (!value) {
          error.text('Enter a name.');
          return;
        }
        if (value === p.name) return;
        void busy(form, () => api.patch<ProjectSummary>(projectPath(p.id), { name: value }, { quiet: true })).then(
          async (updated) => {
            if (!alive) return;
            p.name = updated?.name ?? value;
            projectStore.noteName(p.id, p.name);
            drawHead(p);
            replace(saved, 'Renamed.');
            await refreshMe();
          },
          (err: unknown) => {
            error.show(err);
            markInvalid(form, err);
          },
        );
      });
      rename = form;
    }
    replace(
      details,
      h(
        'section',
        { class: 'panel' },
        h('div', { class: 'panel-title' }, 'Project'),
        h('dl', { class: 'kv', 'data-testid': 'project-details' }, rename && [h('dt', null, 'Name'), h('dd', null, rename)], rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
      ),
    );
  };

  // ---- members ----
  const memberRow = (m: Member) => {
    const self = m.user_id === selfId;
    const manage = canManageMembers();
    // A project admin who is not an instance admin would lock themselves out: another admin changes their role.
    const lockSelf = self && !projectStore.instanceAdmin;
    const can = h('td', { class: 'muted small', 'data-testid': 'member-can' }, ROLE_SUMMARY[m.role] ?? '');
    let roleCell: Child;
    if (manage) {
      const select = roleSelect(m.role, { 'aria-label': `Role of ${m.username}`, 'data-testid': 'member-role', disabled: lockSelf });
      if (lockSelf) select.title = 'You cannot change your own role here; ask another admin of the project.';
      select.addEventListener('change', () => {
        const role = select.value;
        select.disabled = true;
        void api.post<Member>(membersPath(id), { user_id: m.user_id, role }, { quiet: true }).then(
          () => {
            m.role = role;
            select.disabled = false;
            replace(can, ROLE_SUMMARY[role] ?? '');
            if (self) void refreshMe();
          },
          (err: unknown) => {
            select.value = m.role;
            select.disabled = false;
            void errorDialog(`Could not change the role of ${m.username}`, err).then(() => loadMembers());
          },
        );
      });
      roleCell = select;
    } else {
      roleCell = h('span', { class: 'badge badge-role', 'data-testid': 'member-role-text' }, m.role);
    }
    return h(
      'tr',
      { 'data-testid': 'member-row', 'data-user-id': m.user_id, 'data-username': m.username },
      h('td', null, h('strong', { 'data-testid': 'member-name' }, m.username || m.user_id), self && h('span', { class: 'tag' }, 'you')),
      h('td', null, roleCell),
      can,
      h(
        'td',
        { class: 'actions' },
        manage &&
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-small btn-danger-quiet',
              'data-testid': 'member-remove',
              disabled: lockSelf,
              title: lockSelf ? 'Ask another admin of the project to remove you.' : `Remove ${m.username} from the project`,
              onclick: () => removeMember(m),
            },
            'Remove',
          ),
      ),
    );
  };

  const removeMember = (m: Member) =>
    void openDialog({
      title: 'Remove member',
      body: h('p', null, 'Remove ', h('strong', null, m.username || m.user_id), ' from ', h('strong', null, project?.name ?? id), '? They no longer see its workflows and runs.'),
      confirmLabel: 'Remove',
      danger: true,
      onConfirm: async () => {
        await api.delete(`${membersPath(id)}/${encodeURIComponent(m.user_id)}`, { quiet: true });
      },
    }).then((ok) => {
      if (!ok) return;
      if (m.user_id === selfId) void refreshMe();
      void loadMembers();
    });

  const drawMembers = () => {
    replace(memberCount, `${members.length}`);
    replace(
      memberList,
      h(
        'table',
        { class: 'table', 'data-testid': 'members-table' },
        h('thead', null, h('tr', null, ['User', 'Role', 'Can', ''].map((t) => h('th', null, t)))),
        h(
          'tbody',
          null,
          members.length === 0 && h('tr', null, h('td', { colspan: '4', class: 'muted' }, 'No members.')),
          [...members].sort((a, b) => (a.username || a.user_id).localeCompare(b.username || b.user_id)).map(memberRow),
        ),
      ),
    );
    void drawAdd();
  };

  const loadMembers = async () => {
    try {
      const r = await api.get<{ items: Member[] }>(membersPath(id), { quiet: true });
      if (!alive) return;
      members = r.items ?? [];
      drawMembers();
    } catch (err) {
      if (!alive) return;
      const e = formError();
      e.show(err);
      replace(memberList, h('div', { class: 'pad' }, notice('error', 'Could not load the members: ', e.el)));
    }
  };

  // ---- adding a member: instance admins pick a user; a project admin types an id or username ----
  let users: User[] | null = null;
  let usersAsked = false;
  let addSeq = 0;
  const drawAdd = async () => {
    if (!canManageMembers()) {
      replace(addHost, project?.kind === 'personal' && h('div', { class: 'panel-foot muted small' }, 'A personal project has only its owner. Share work in a team project.'));
      return;
    }
    const mine = ++addSeq;
    if (authStore.can('users.admin') && !usersAsked) {
      usersAsked = true;
      try {
        users = (await api.get<{ items: User[] }>(`${AUTH}/users`, { quiet: true })).items ?? [];
      } catch {
        users = null; // fall back to typing
      }
    }
    if (!alive || mine !== addSeq) return;
    const present = new Set(members.map((m) => m.user_id));
    const role = roleSelect('editor', { name: 'role', 'data-testid': 'member-add-role', 'aria-label': 'Role' });
    const roleHelp = h('span', null, ROLE_SUMMARY.editor);
    role.addEventListener('change', () => replace(roleHelp, ROLE_SUMMARY[role.value] ?? ''));
    const error = formError('member-error');
    let who: HTMLInputElement | HTMLSelectElement;
    if (users) {
      const candidates = users.filter((u) => !present.has(u.id)).sort((a, b) => a.username.localeCompare(b.username));
      who = h(
        'select',
        { class: 'input', name: 'user_id', 'data-testid': 'member-add-user', required: true },
        h('option', { value: '' }, candidates.length ? 'Choose a user…' : 'Every user is a member'),
        candidates.map((u) => h('option', { value: u.id }, u.disabled ? `${u.username} (disabled)` : u.username)),
      );
    } else {
      who = input({ name: 'user_id', type: 'text', required: true, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', 'data-testid': 'member-add-user' });
    }
    const form = h(
      'form',
      { class: 'form form-inline', 'data-testid': 'member-form', novalidate: true },
      field('User', who, users ? undefined : 'Their user id (an instance admin can look it up under Settings → Users).'),
      field('Role', role, roleHelp),
      error.el,
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'member-add' }, 'Add member')),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      error.clear();
      const value = who.value.trim();
      if (!value) {
        error.text(users ? 'Choose a user.' : 'Enter a user id.');
        who.focus();
        return;
      }
      void busy(form, () => api.post<Member>(membersPath(id), { user_id: value, role: role.value }, { quiet: true })).then(
        () => {
          if (!alive) return;
          if (value === selfId) void refreshMe();
          void loadMembers();
        },
        (err: unknown) => {
          error.show(err);
          markInvalid(form, err);
        },
      );
    });
    replace(addHost, h('div', { class: 'panel-foot panel-foot-form' }, h('div', { class: 'form-head' }, 'Add a member'), form));
  };

  // ---- delete ----
  const drawDanger = (p: ProjectSummary) => {
    // A personal project goes only with its user: nothing to offer.
    if (!canManage() || p.kind === 'personal') {
      replace(dangerHost);
      return;
    }
    replace(
      dangerHost,
      h(
        'section',
        { class: 'panel panel-danger' },
        h('div', { class: 'panel-title' }, 'Delete the project'),
        h(
          'div',
          { class: 'panel-pad danger-row' },
          h('p', { class: 'muted' }, 'Only an empty project can be deleted: move or delete its workflows first.'),
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-danger-quiet',
              'data-testid': 'project-delete',
              onclick: () =>
                void openDialog({
                  title: 'Delete project',
                  body: h('p', null, 'Delete ', h('strong', null, p.name), '? This cannot be undone.'),
                  confirmLabel: 'Delete',
                  danger: true,
                  onConfirm: async () => {
                    // A refusal (409: it still holds workflows, or it is a personal project) stays in the dialog with the server's reason.
                    await api.delete(projectPath(p.id), { quiet: true });
                  },
                }).then(async (ok) => {
                  if (!ok) return;
                  await refreshMe();
                  flash = `Deleted ${p.name}.`;
                  navigate(BASE);
                }),
            },
            'Delete project…',
          ),
        ),
      ),
    );
  };

  const load = async () => {
    try {
      const p = await api.get<ProjectSummary>(projectPath(id), { quiet: true });
      if (!alive) return;
      // The caller's role: the project's answer, else what /me says.
      project = { ...p, role: p.role ?? projectStore.find(id)?.role ?? '' };
      projectStore.noteName(p.id, p.name);
      document.title = `${p.name} · Projects · Arclight`;
      layout();
      drawHead(project);
      drawDetails(project);
      drawDanger(project);
      await loadMembers();
    } catch (err) {
      if (!alive) return;
      if (err instanceof ApiError && err.status === 404) {
        replace(root, notice('info', 'There is no project with this id, or you are not a member of it. ', h('a', { href: BASE, 'data-link': true }, 'All projects')));
        return;
      }
      const e = formError();
      e.show(err);
      replace(root, notice('error', 'Could not load the project: ', e.el));
    }
  };

  void load();
  return () => {
    alive = false;
  };
}
