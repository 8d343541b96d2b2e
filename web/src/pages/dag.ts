// A run's tasks as a graph: layered left to right by depends_on depth,
// nodes coloured by status, edges as curves. Plain SVG, no library.

import { svg } from '../dom';
import { statusClass } from './wf-common';

export interface DagTask {
  id: string;
  type: string;
  status: string;
  attempts: number;
  depends_on: string[];
}

export interface DagLayout {
  /** Task ids per layer, in drawing order. */
  layers: string[][];
  /** Layer and index within the layer of each task. */
  pos: Map<string, { layer: number; index: number }>;
}

/**
 * Layers: a task without (known) dependencies is in layer 0, any other one
 * layer after its deepest dependency. Within a layer, tasks are ordered by
 * the mean position of their neighbours (a few barycenter sweeps) to keep
 * edges from crossing. Cycles (which a valid definition has not) are cut.
 */
export function layoutDag(tasks: { id: string; depends_on: string[] }[]): DagLayout {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    let d = 0;
    for (const dep of byId.get(id)?.depends_on ?? []) if (byId.has(dep) && dep !== id) d = Math.max(d, depthOf(dep) + 1);
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  const layers: string[][] = [];
  for (const t of tasks) {
    const d = depthOf(t.id);
    (layers[d] ??= []).push(t.id);
  }
  for (let i = 0; i < layers.length; i++) layers[i] ??= [];

  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  for (const t of tasks) {
    const ps = (t.depends_on ?? []).filter((p) => byId.has(p) && p !== t.id);
    parents.set(t.id, ps);
    for (const p of ps) {
      const c = children.get(p) ?? [];
      c.push(t.id);
      children.set(p, c);
    }
  }
  const index = new Map<string, number>();
  const reindex = () => layers.forEach((l) => l.forEach((id, i) => index.set(id, i)));
  reindex();
  const sweep = (layer: string[], neighbours: Map<string, string[]>) => {
    const key = new Map<string, number>();
    for (const id of layer) {
      const ns = (neighbours.get(id) ?? []).map((n) => index.get(n) ?? 0);
      key.set(id, ns.length ? ns.reduce((a, b) => a + b, 0) / ns.length : (index.get(id) ?? 0));
    }
    layer.sort((a, b) => (key.get(a) ?? 0) - (key.get(b) ?? 0));
    layer.forEach((id, i) => index.set(id, i));
  };
  for (let iter = 0; iter < 4; iter++) {
    for (let l = 1; l < layers.length; l++) sweep(layers[l] ?? [], parents);
    for (let l = layers.length - 2; l >= 0; l--) sweep(layers[l] ?? [], children);
  }
  reindex();
  const pos = new Map<string, { layer: number; index: number }>();
  layers.forEach((l, li) => l.forEach((id, i) => pos.set(id, { layer: li, index: i })));
  return { layers, pos };
}

const W = 160;
const H = 50;
const GAP_X = 52;
/** A wide graph shrinks to fit its panel, down to this scale; below it, the panel scrolls. */
const MIN_SCALE = 0.72;
const GAP_Y = 18;
const PAD = 16;

function fit(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}

function nodeClass(t: DagTask, selected: string | null): string {
  return `dag-node ${statusClass(t.status)}${selected === t.id ? ' selected' : ''}`;
}

function nodeLabel(t: DagTask): string {
  return `Task ${t.id} (${t.type}): ${t.status}`;
}

function nodeTitle(t: DagTask): string {
  return `${t.id} (${t.type}): ${t.status}${t.attempts ? `, ${t.attempts} attempt${t.attempts === 1 ? '' : 's'}` : ''}`;
}

function nodeSub(t: DagTask): string {
  return fit(`${t.type} · ${t.status}${t.attempts > 1 ? ` ×${t.attempts}` : ''}`, 24);
}

/** The shape of the graph: when it is unchanged, updateDag() can restyle the drawn one in place. */
export function dagShape(tasks: DagTask[]): string {
  return JSON.stringify(tasks.map((t) => [t.id, t.depends_on ?? []]));
}

/**
 * Restyles the nodes and edges of a graph drawn by renderDag() for the same
 * shape (statuses, attempts, selection), keeping running animations and focus.
 */
export function updateDag(el: SVGSVGElement, tasks: DagTask[], selected: string | null): void {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  for (const g of Array.from(el.querySelectorAll<SVGGElement>('g.dag-node'))) {
    const t = byId.get(g.dataset.taskId ?? '');
    if (!t) continue;
    const cls = nodeClass(t, selected);
    if (g.getAttribute('class') !== cls) g.setAttribute('class', cls);
    if (g.dataset.status !== t.status) g.dataset.status = t.status;
    g.setAttribute('aria-label', nodeLabel(t));
    g.setAttribute('aria-pressed', selected === t.id ? 'true' : 'false');
    const title = g.querySelector('title');
    if (title && title.textContent !== nodeTitle(t)) title.textContent = nodeTitle(t);
    const sub = g.querySelector('.dag-sub');
    if (sub && sub.textContent !== nodeSub(t)) sub.textContent = nodeSub(t);
  }
  for (const p of Array.from(el.querySelectorAll<SVGPathElement>('path.dag-edge'))) {
    const from = byId.get(p.dataset.from ?? '')?.status ?? '';
    p.setAttribute('class', `dag-edge dag-edge-${/^[a-z]+$/.test(from) ? from : 'unknown'}`);
  }
}

export interface DagOptions {
  selected: string | null;
  onSelect: (taskId: string) => void;
}

/** The graph as an <svg> sized to its content (the caller scrolls it when it is large). */
export function renderDag(tasks: DagTask[], opts: DagOptions): SVGSVGElement {
  const { layers, pos } = layoutDag(tasks);
  const rows = Math.max(1, ...layers.map((l) => l.length));
  const width = PAD * 2 + layers.length * W + Math.max(0, layers.length - 1) * GAP_X;
  const height = PAD * 2 + rows * H + (rows - 1) * GAP_Y;
  const at = (id: string) => {
    const p = pos.get(id) ?? { layer: 0, index: 0 };
    const size = layers[p.layer]?.length ?? 1;
    return { x: PAD + p.layer * (W + GAP_X), y: PAD + (p.index + (rows - size) / 2) * (H + GAP_Y) };
  };
  const byId = new Map(tasks.map((t) => [t.id, t]));

  const edges = tasks.flatMap((t) =>
    (t.depends_on ?? [])
      .filter((d) => byId.has(d) && d !== t.id)
      .map((d) => {
        const a = at(d);
        const b = at(t.id);
        const x1 = a.x + W;
        const y1 = a.y + H / 2;
        const x2 = b.x - 2;
        const y2 = b.y + H / 2;
        const dx = Math.max(28, (x2 - x1) / 2);
        const from = byId.get(d)?.status ?? '';
        return svg('path', {
          class: `dag-edge dag-edge-${/^[a-z]+$/.test(from) ? from : 'unknown'}`,
          d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`,
          'marker-end': 'url(#dag-arrow)',
          'data-from': d,
          'data-to': t.id,
        });
      }),
  );

  const nodes = tasks.map((t) => {
    const { x, y } = at(t.id);
    const g = svg(
      'g',
      {
        class: nodeClass(t, opts.selected),
        transform: `translate(${x},${y})`,
        'data-task-id': t.id,
        'data-status': t.status,
        tabindex: '0',
        role: 'button',
        'aria-label': nodeLabel(t),
        'aria-pressed': opts.selected === t.id ? 'true' : 'false',
      },
      svg('title', null, nodeTitle(t)),
      svg('rect', { class: 'dag-halo', x: -4, y: -4, width: W + 8, height: H + 8, rx: 11 }),
      svg('rect', { class: 'dag-box', width: W, height: H, rx: 8 }),
      svg('circle', { class: 'dag-dot', cx: 16, cy: H / 2, r: 5 }),
      svg('text', { class: 'dag-id', x: 30, y: 21 }, fit(t.id, 17)),
      svg('text', { class: 'dag-sub', x: 30, y: 38 }, nodeSub(t)),
    );
    g.addEventListener('click', () => opts.onSelect(t.id));
    g.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        opts.onSelect(t.id);
      }
    });
    return g;
  });

  return svg(
    'svg',
    {
      class: 'dag',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      style: `min-width:${Math.round(width * MIN_SCALE)}px`,
      role: 'group',
      'aria-label': 'Task graph',
      'data-testid': 'dag',
    },
    svg(
      'defs',
      null,
      svg('marker', { id: 'dag-arrow', viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'dag-arrow' })),
    ),
    svg('g', { class: 'dag-edges' }, edges),
    svg('g', { class: 'dag-nodes' }, nodes),
  );
}
