// Home (/): getting started (a new workflow, or the README's example in one click), recent runs
// and failures, the live webhooks and cron schedules, and the server's status in a System box.

import { api, ApiError } from '../api';
import { authStore } from '../auth';
import { h, replace } from '../dom';
import type { NavEntry } from '../nav';
import { projectStore } from '../projects';
import { navigate } from '../router';
import { pageHeader, readOnlyNotice } from './common';
import { errorLines } from './forms';
import { runsPanels, triggersPanel } from './home-activity';
import { systemBox } from './home-system';
import { WORKFLOWS, moduleGate, type WorkflowSummary } from './wf-common';
import { setFlash } from './wf-actions';

/** The README's first workflow ("A first workflow"): POST /hooks/echo answers with its body plus "echoed": true. */
export const README_EXAMPLE = {
  name: 'echo',
  active: true,
  triggers: [{ type: 'webhook', method: 'POST', path: 'echo', respond: 'sync' }],
  tasks: [
    { id: 'add', type: 'script', config: { code: 'local b = input.trigger.body; b.echoed = true; return b' } },
    { id: 'reply', type: 'respond', depends_on: ['add'], config: { status: 200, body: '{{ tasks.add.output }}' } },
  ],
};

function gettingStarted(): HTMLElement {
  const canWrite = authStore.can('flows.write');
  const result = h('div', { 'data-testid': 'home-example-result', 'aria-live': 'polite' });
  const exampleBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'home-create-example' }, 'Create the README example');

  const createExample = async () => {
    exampleBtn.disabled = true;
    replace(result, h('p', { class: 'muted small' }, 'Creating…'));
    try {
      // Names need not be unique, but a second "echo" is a confusing start: open the first instead.
      const list = await api.get<{ items: WorkflowSummary[] }>(WORKFLOWS, { quiet: true });
      const same = (list.items ?? []).find((w) => w.name === README_EXAMPLE.name);
      if (same) {
        replace(
          result,
          h(
            'div',
            { class: 'notice notice-warn', 'data-testid': 'home-example-exists' },
            `A workflow named "${README_EXAMPLE.name}" already exists, so none was created. `,
            h('a', { href: `/workflows/${encodeURIComponent(same.id)}`, 'data-link': true }, `Open ${same.name}`),
          ),
        );
        return;
      }
      const body: Record<string, unknown> = { ...README_EXAMPLE };
      if (projectStore.current) body.project_id = projectStore.current;
      const r = await api.post<{ id: string }>(WORKFLOWS, body, { quiet: true });
      setFlash(`Created ${README_EXAMPLE.name}, the README example: it is active and answers POST ${location.origin}/hooks/echo.`);
      navigate(`/workflows/${encodeURIComponent(r.id)}`);
    } catch (err) {
      const { message, fields } = errorLines(err);
      const taken = err instanceof ApiError && err.status === 409;
      replace(
        result,
        h(
          'div',
          { class: 'notice notice-error', role: 'alert', 'data-testid': 'home-example-error' },
          taken
            ? `Not created: ${message.replace(/\.?$/, '.')} The example needs POST /hooks/echo for itself: deactivate the workflow serving it, or create the example in the editor with another path.`
            : `Not created: ${message}`,
          fields.length > 0 && h('ul', null, fields.map((f) => h('li', null, f))),
        ),
      );
    } finally {
      exampleBtn.disabled = false;
    }
  };
  exampleBtn.addEventListener('click', () => void createExample());

  return h(
    'section',
    { class: 'panel', 'data-testid': 'getting-started' },
    h('div', { class: 'panel-title' }, 'Getting started'),
    h(
      'div',
      { class: 'panel-pad getting-started' },
      canWrite
        ? [
            h(
              'p',
              null,
              'A workflow is a set of tasks started by a trigger: a webhook, a schedule, an event, or a click on Run. ',
              'Each time it runs, the run and its tasks are listed under Runs.',
            ),
            h(
              'div',
              { class: 'start-actions' },
              h('a', { href: '/workflows/new', 'data-link': true, class: 'btn btn-primary', 'data-testid': 'home-new-workflow' }, 'Create a workflow'),
              exampleBtn,
            ),
            h(
              'p',
              { class: 'muted small' },
              'The README example is a workflow named ',
              h('code', null, 'echo'),
              ' that answers ',
              h('code', null, `POST ${location.origin}/hooks/echo`),
              ' with the JSON it was sent plus ',
              h('code', null, '"echoed": true'),
              '.',
            ),
            result,
          ]
        : [readOnlyNotice('workflows and runs'), h('p', null, h('a', { href: '/workflows', 'data-link': true }, 'See the workflows'), ' · ', h('a', { href: '/runs', 'data-link': true }, 'See the runs'))],
    ),
  );
}

export function renderHome(root: HTMLElement, entry: NavEntry): () => void {
  const user = authStore.user;
  const work = h('div');
  const system = systemBox();
  replace(root, pageHeader(entry.label, user ? `Welcome, ${user.username}.` : entry.about), work, system.el);

  const stopGate = moduleGate(work, 'workflow', (el) => {
    const runs = runsPanels();
    const triggers = triggersPanel();
    replace(el, gettingStarted(), h('div', { class: 'home-grid' }, h('div', null, runs.recent, runs.failures), h('div', null, triggers.el)));
    return () => {
      runs.stop();
      triggers.stop();
    };
  });
  return () => {
    stopGate();
    system.stop();
  };
}
