// The header's project switcher: "All projects" or one of the caller's projects. The choice
// filters every list and is where new workflows go (projects.ts keeps and remembers it).

import { h, replace } from './dom';
import { projectStore, type Project } from './projects';

export interface ProjectSwitcher {
  el: HTMLElement;
}

function label(p: Project): string {
  return p.kind === 'personal' && p.id === projectStore.personalId ? `${p.name} (personal)` : p.name;
}

export function createProjectSwitcher(): ProjectSwitcher {
  const select = h('select', {
    class: 'project-select',
    'data-testid': 'project-switcher',
    'aria-label': 'Project',
    title: 'The project whose workflows and runs the lists show; new workflows are created in it.',
  });
  const el = h(
    'label',
    { class: 'project-switch', hidden: true, 'data-testid': 'project-switch' },
    h('span', { class: 'project-switch-label' }, 'Project'),
    select,
  );

  const draw = () => {
    const all = projectStore.all;
    el.hidden = !projectStore.enabled;
    const personal = all.filter((p) => p.kind === 'personal');
    const team = all.filter((p) => p.kind !== 'personal');
    // An instance admin sees everyone's personal project: the own one first.
    personal.sort((a, b) => Number(b.id === projectStore.personalId) - Number(a.id === projectStore.personalId) || a.name.localeCompare(b.name));
    const option = (p: Project) => h('option', { value: p.id, selected: p.id === projectStore.current }, label(p));
    const group = (title: string, list: Project[]) => list.length > 0 && h('optgroup', { label: title }, list.map(option));
    replace(
      select,
      h('option', { value: '', selected: projectStore.current === '' }, 'All projects'),
      group(personal.length === 1 ? 'Personal' : 'Personal projects', personal),
      group('Team projects', team),
    );
    select.value = projectStore.current;
    const cur = projectStore.currentProject;
    el.classList.toggle('project-switch-on', !!cur);
    select.title = cur
      ? `Showing the workflows and runs of ${cur.name} (your role: ${cur.role}); new workflows are created in it.`
      : 'Showing the workflows and runs of all your projects; new workflows go to your personal project.';
  };

  select.addEventListener('change', () => projectStore.select(select.value));
  projectStore.listen(draw);
  draw();
  return { el };
}
