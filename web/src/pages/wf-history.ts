// A workflow's history on its editor page: every saved version (who, when), a side-by-side
// comparison of one with the current version, and restoring one as a new version
// (GET /api/v1/workflows/{id}/versions, .../versions/{v}, POST .../versions/{v}/restore).

import { api } from '../api';
import { authStore } from '../auth';
import { h, replace } from '../dom';
import { formatWhen } from '../format';
import { errorDialog, openDialog } from './forms';
import { workflowPath, type WorkflowDoc } from './wf-common';

interface VersionInfo {
  version: number;
  created_at: string | null;
  created_by: string;
}

interface VersionDoc extends VersionInfo {
  definition: Record<string, unknown>;
}

/** Who saved a version, in words. */
function author(createdBy: string): string {
  const me = authStore.user;
  if (me && createdBy === `user:${me.id}`) return 'you';
  if (createdBy.startsWith('api_key:')) return 'an API key';
  if (createdBy.startsWith('user:')) return 'another user';
  if (createdBy === 'anonymous') return 'without sign-in';
  return 'before authors were recorded';
}

type Row = { kind: 'same' | 'del' | 'add' | 'chg'; a?: number; b?: number };

/** A line diff (longest common subsequence), paired into rows for two columns. */
export function diffRows(a: string[], b: string[]): Row[] {
  const n = a.length;
  const m = b.length;
  // Suffix LCS lengths; definitions are at most a few thousand lines.
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const rows: Row[] = [];
  let dels: number[] = [];
  let adds: number[] = [];
  const flush = () => {
    const k = Math.max(dels.length, adds.length);
    for (let x = 0; x < k; x++) {
      const d = dels[x];
      const s = adds[x];
      rows.push({ kind: d !== undefined && s !== undefined ? 'chg' : d !== undefined ? 'del' : 'add', a: d, b: s });
    }
    dels = [];
    adds = [];
  };
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      flush();
      rows.push({ kind: 'same', a: i++, b: j++ });
    } else if (j < m && (i >= n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      adds.push(j++);
    } else {
      dels.push(i++);
    }
  }
  flush();
  return rows;
}

function diffTable(oldText: string, newText: string, oldLabel: string, newLabel: string): HTMLElement {
  const a = oldText.split('\n');
  const b = newText.split('\n');
  const rows = diffRows(a, b);
  const changed = rows.filter((r) => r.kind !== 'same').length;
  return h(
    'div',
    null,
    h('p', { class: 'muted small', 'data-testid': 'diff-summary' }, changed === 0 ? 'No differences.' : `${changed} ${changed === 1 ? 'line differs' : 'lines differ'}.`),
    h(
      'div',
      { class: 'diff-wrap' },
      h(
        'table',
        { class: 'diff', 'data-testid': 'version-diff' },
        h('colgroup', null, h('col', { style: 'width:3.5em' }), h('col'), h('col', { style: 'width:3.5em' }), h('col')),
        h('thead', null, h('tr', null, h('th', { colspan: 2 }, oldLabel), h('th', { colspan: 2 }, newLabel))),
        h(
          'tbody',
          null,
          rows.map((r) =>
            h(
              'tr',
              { class: r.kind === 'same' ? null : `diff-${r.kind}`, 'data-kind': r.kind },
              h('td', { class: 'ln' }, r.a !== undefined ? String(r.a + 1) : ''),
              h('td', { class: 'old' }, r.a !== undefined ? a[r.a] : ''),
              h('td', { class: 'ln' }, r.b !== undefined ? String(r.b + 1) : ''),
              h('td', { class: 'new' }, r.b !== undefined ? b[r.b] : ''),
            ),
          ),
        ),
      ),
    ),
  );
}

const text = (d: VersionDoc) => JSON.stringify(d.definition, null, 2);

/**
 * The History panel of a saved workflow. `isDirty`: the editor holds unsaved changes (a restore
 * discards them, and says so). `onRestored` is called with the new version's number after a
 * restore (the editor reloads).
 */
export function historyPanel(doc: WorkflowDoc, canWrite: boolean, isDirty: () => boolean, onRestored: (version: number) => void): HTMLElement {
  const body = h('div', { 'data-testid': 'workflow-history' }, h('p', { class: 'panel-pad muted small' }, 'Loading versions…'));
  const base = `${workflowPath(doc.id)}/versions`;

  const compare = async (v: VersionInfo) => {
    try {
      const [old, cur] = await Promise.all([
        api.get<VersionDoc>(`${base}/${v.version}`, { quiet: true }),
        api.get<VersionDoc>(`${base}/${doc.version}`, { quiet: true }),
      ]);
      await openDialog({
        title: `Version ${v.version} and version ${doc.version} (current)`,
        body: diffTable(text(old), text(cur), `Version ${v.version}`, `Version ${doc.version} (current)`),
        confirmLabel: 'Close',
        alert: true,
        wide: true,
      });
    } catch (err) {
      await errorDialog('Could not compare the versions', err);
    }
  };

  const restore = (v: VersionInfo) => {
    let restored = 0;
    void openDialog({
      title: `Restore version ${v.version}?`,
      body: h(
        'p',
        null,
        `Its definition is saved as version ${doc.version + 1}; version ${doc.version} stays in the history. `,
        doc.active ? 'The workflow stays active: its triggers use the restored definition at once.' : 'The workflow stays inactive.',
        isDirty() && h('strong', { 'data-testid': 'restore-discards' }, ' Your unsaved changes in the editor are discarded.'),
      ),
      confirmLabel: 'Restore',
      onConfirm: async () => {
        const r = await api.post<{ id: string; version: number }>(`${base}/${v.version}/restore`, {}, { quiet: true });
        restored = r.version;
      },
    }).then((ok) => {
      if (ok) onRestored(restored);
    });
  };

  api.get<{ items: VersionInfo[] }>(base, { quiet: true }).then(
    (r) => {
      const items = r.items ?? [];
      replace(
        body,
        h(
          'ul',
          { class: 'history-list' },
          items.map((v) => {
            const current = v.version === doc.version;
            return h(
              'li',
              { class: 'history-item', 'data-testid': 'history-version', 'data-version': String(v.version) },
              h(
                'span',
                { class: 'history-what' },
                h('strong', null, `Version ${v.version}`),
                current && h('span', { class: 'muted small' }, ' · current'),
                h('span', { class: 'history-who muted small' }, `${v.created_at ? formatWhen(v.created_at) : 'unknown time'} · ${author(v.created_by)}`),
              ),
              !current && h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'history-compare', onclick: () => void compare(v) }, 'Compare'),
              !current &&
                canWrite &&
                h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'history-restore', onclick: () => restore(v) }, 'Restore'),
            );
          }),
        ),
        items.length > 1 ? null : h('p', { class: 'panel-pad muted small' }, 'Every save adds a version here.'),
      );
    },
    (err: unknown) => {
      replace(body, h('p', { class: 'panel-pad muted small' }, `Could not load the versions: ${err instanceof Error ? err.message : String(err)}`));
    },
  );

  return h('section', { class: 'panel' }, h('div', { class: 'panel-title' }, 'History'), body);
}
