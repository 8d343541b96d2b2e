// Small pieces that show projects on pages: a resource's project and the project a list is
// limited to.

import { h, replace } from '../dom';
import { projectStore } from '../projects';

/** The name of the project `id` as a tag (the id when the caller does not know the project); null without an id. */
export function projectTag(id: string | null | undefined, testid = 'resource-project'): HTMLElement | null {
  if (!id) return null;
  const p = projectStore.find(id);
  return h(
    'span',
    {
      class: `project-tag${p?.kind === 'personal' ? ' project-tag-personal' : ''}`,
      'data-testid': testid,
      'data-project-id': id,
      title: p ? `Project ${p.name} (${p.kind}; your role: ${p.role})` : `Project ${id}`,
    },
    p?.kind === 'personal' ? `${p.name} (personal)` : projectStore.name(id),
  );
}

/**
 * "Project: X · Show all projects" while the header's switcher limits the lists to one project;
 * empty otherwise. Kept current; returns the element and a cleanup.
 */
export function projectScopeNote(): { el: HTMLElement; stop: () => void } {
  const el = h('span', { class: 'filter-chip', 'data-testid': 'project-scope' });
  const draw = () => {
    const cur = projectStore.current;
    el.hidden = !cur;
    replace(
      el,
      cur && [
        'Project ',
        projectTag(cur, 'project-scope-name'),
        h('button', { type: 'button', class: 'btn-link', 'data-testid': 'project-scope-clear', onclick: () => projectStore.select('') }, 'show all projects'),
      ],
    );
  };
  draw();
  return { el, stop: projectStore.listen(draw) };
}
