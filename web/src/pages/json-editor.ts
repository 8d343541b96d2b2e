// The workflow definition's text editor: CodeMirror 6 with line numbers, JSON highlighting,
// bracket matching, undo history, a live syntax check (own locator, json-syntax.ts: a mark in
// the gutter and the range underlined) and completion of task types and config keys.
// Loaded on demand (dynamic import from wf-editor.ts), so pages without an editor do not load it.

import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap, type Completion, type CompletionContext, type CompletionResult } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { json } from '@codemirror/lang-json';
import { bracketMatching, HighlightStyle, indentOnInput, indentUnit, syntaxHighlighting } from '@codemirror/language';
import { forceLinting, lintGutter, linter, type Diagnostic } from '@codemirror/lint';
import { EditorSelection, EditorState, type Extension } from '@codemirror/state';
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers } from '@codemirror/view';
import { tags as t } from '@lezer/highlight';
import { findJsonError, jsonCursor, type JsonSyntaxError } from './json-syntax';

export type { JsonSyntaxError } from './json-syntax';

/** A task type as GET /api/v1/task-types lists it. */
export interface TaskTypeInfo {
  name: string;
  description?: string;
  builtin?: boolean;
  config_schema?: unknown;
}

export interface JsonEditorOptions {
  /** The element the editor goes into (its children are replaced). */
  parent: HTMLElement;
  doc: string;
  readOnly: boolean;
  /** The accessible name of the text. */
  label: string;
  /** After every change of the text. */
  onChange: () => void;
  /** Ctrl+S / Cmd+S. */
  onSave: () => void;
  /** The live syntax check's result (null: valid JSON), after each check. */
  onSyntax: (error: JsonSyntaxError | null) => void;
  /** The task types for completion (fetched once by the page). */
  taskTypes: Promise<TaskTypeInfo[]>;
}

export interface JsonEditor {
  text(): string;
  /** Replaces the text (one step in the undo history). */
  setText(text: string): void;
  selection(): { from: number; to: number };
  /** Selects [from, to), scrolls it into view and focuses the editor. */
  select(from: number, to: number): void;
  /** The text's first syntax error, shown now (gutter mark, underline) with the cursor on it; null when the JSON is valid. */
  checkSyntax(): JsonSyntaxError | null;
  focus(): void;
  destroy(): void;
}

const highlight = HighlightStyle.define([
  { tag: t.propertyName, color: '#2b4fb8' },
  { tag: t.string, color: '#17803d' },
  { tag: t.number, color: '#a15c00' },
  { tag: [t.bool, t.null], color: '#8e3bb8', fontWeight: '600' },
  { tag: [t.separator, t.punctuation, t.squareBracket, t.brace], color: '#677083' },
  { tag: t.invalid, color: '#c4262e' },
]);

const MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace";

/** The look of the rest of the UI (style.css): light, the panel's border colours, 13px monospace. */
const theme = EditorView.theme({
  '&': { height: '100%', fontSize: '13px', backgroundColor: 'var(--panel)', color: 'var(--text)' },
  '&.cm-focused': { outline: 'none', boxShadow: 'inset 0 0 0 2px var(--accent-soft)' },
  '.cm-scroller': { fontFamily: MONO, lineHeight: '1.5', overflow: 'auto' },
  '.cm-content': { padding: '8px 0', caretColor: 'var(--text)' },
  '.cm-line': { padding: '0 14px 0 6px' },
  '.cm-gutters': { backgroundColor: '#fafbfc', color: '#98a0ad', borderRight: '1px solid var(--border-soft)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--accent-soft)', color: 'var(--text)' },
  '.cm-activeLine': { backgroundColor: 'rgb(59 99 216 / 0.045)' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, ::selection': { backgroundColor: '#cfdcfb' },
  '&.cm-focused .cm-matchingBracket': { backgroundColor: '#d7f0dd', outline: '1px solid #9fd3ad' },
  '&.cm-focused .cm-nonmatchingBracket': { backgroundColor: 'var(--bad-bg)', color: 'var(--bad)' },
  '.cm-tooltip': { border: '1px solid var(--border)', backgroundColor: 'var(--panel)', borderRadius: '6px', boxShadow: '0 4px 14px rgb(20 30 50 / 0.12)' },
  '.cm-tooltip.cm-tooltip-autocomplete > ul': { fontFamily: MONO, fontSize: '12.5px', maxHeight: '16em' },
  '.cm-tooltip.cm-tooltip-autocomplete > ul > li[aria-selected]': { backgroundColor: 'var(--accent)', color: '#fff' },
  '.cm-completionDetail': { fontFamily: 'system-ui, sans-serif', fontStyle: 'normal', color: 'var(--muted)', marginLeft: '1.2em' },
  'li[aria-selected] .cm-completionDetail': { color: '#e8eefc' },
  '.cm-completionInfo': { fontFamily: 'system-ui, sans-serif', fontSize: '12.5px', maxWidth: '360px', padding: '6px 9px' },
  '.cm-tooltip-lint': { fontFamily: 'system-ui, sans-serif', fontSize: '12.5px' },
  '.cm-lintRange-error': { backgroundColor: 'rgb(196 38 46 / 0.16)' },
  '.cm-lintPoint-error:after': { borderBottomColor: 'var(--bad)' },
});

// ---- completion -------------------------------------------------------------------------

const TRIGGER_TYPES: Completion[] = [
  { label: 'manual', detail: 'started by hand or through the API' },
  { label: 'webhook', detail: 'an HTTP request to /hooks/<path>' },
  { label: 'cron', detail: 'on a schedule' },
  { label: 'event', detail: 'an event on the bus' },
];

interface SchemaProperty {
  description?: unknown;
  type?: unknown;
}

function short(s: string, max = 56): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function typeCompletions(types: TaskTypeInfo[]): Completion[] {
  return types.map((ty) => ({
    label: ty.name,
    type: 'type',
    detail: ty.description ? short(ty.description) : ty.builtin ? 'built-in' : undefined,
    info: ty.description && ty.description.length > 56 ? ty.description : undefined,
  }));
}

function configKeyCompletions(type: TaskTypeInfo | undefined, present: Set<string>, typing: string | null): Completion[] {
  const schema = type?.config_schema as { properties?: Record<string, SchemaProperty>; required?: unknown } | null | undefined;
  const props = schema && typeof schema === 'object' && schema.properties && typeof schema.properties === 'object' ? schema.properties : {};
  const required = new Set(Array.isArray(schema?.required) ? (schema.required as unknown[]).filter((r): r is string => typeof r === 'string') : []);
  return Object.entries(props)
    .filter(([k]) => !present.has(k) || k === typing)
    .map(([k, p]) => {
      const desc = typeof p?.description === 'string' ? p.description : '';
      const kind = typeof p?.type === 'string' ? p.type : '';
      const detail = [required.has(k) ? 'required' : '', desc ? short(desc, 48) : kind].filter(Boolean).join(' · ');
      return {
        label: k,
        type: 'property',
        detail: detail || undefined,
        info: desc.length > 48 ? desc : undefined,
        boost: required.has(k) ? 1 : 0,
      };
    });
}

/**
 * Puts the chosen name into the string being typed and moves past its closing quote; a member
 * name also gets its ": " (unless a colon follows already).
 */
function applyIn(key: boolean) {
  return (view: EditorView, c: Completion, from: number, to: number) => {
    const doc = view.state.doc;
    const s = jsonCursor(doc.toString(), to).string;  // now, not when the list opened
    const end = s?.closed ? s.to : to;
    let insert = `${c.label}"`;
    if (key && !/^\s*:/.test(doc.sliceString(end, end + 40))) insert += ': ';
    view.dispatch({ changes: { from, to: end, insert }, selection: { anchor: from + insert.length }, userEvent: 'input.complete' });
  };
}

function completionSource(types: Promise<TaskTypeInfo[]>) {
  return async (ctx: CompletionContext): Promise<CompletionResult | null> => {
    const text = ctx.state.doc.toString();
    const cur = jsonCursor(text, ctx.pos);
    if (!cur.string) return null;  // names and values are completed inside their quotes
    const path = cur.frames.map((f) => f.at);
    const from = cur.string.from + 1;
    const typing = text.slice(from, cur.string.closed ? cur.string.to - 1 : cur.string.to);
    const depth = path.length;
    let options: Completion[] | null = null;
    let key = false;
    // "tasks": [{ "type": "|" }] and "triggers": [{ "type": "|" }]
    if (cur.role === 'value' && cur.at === 'type' && depth === 3 && typeof path[2] === 'number') {
      if (path[1] === 'tasks') options = typeCompletions(await types);
      else if (path[1] === 'triggers') options = TRIGGER_TYPES;
    }
    // "tasks": [{ "type": "x", "config": { "|" } }]
    if (cur.role === 'key' && depth === 4 && path[1] === 'tasks' && typeof path[2] === 'number' && path[3] === 'config') {
      const typeName = cur.frames[2]?.strings.get('type');
      const all = await types;
      options = configKeyCompletions(all.find((ty) => ty.name === typeName), cur.frames[3]?.keys ?? new Set(), typing);
      key = true;
    }
    if (!options || options.length === 0) return null;
    const apply = applyIn(key);
    return {
      from,
      to: ctx.pos,
      options: options.map((o) => ({ ...o, apply })),
      validFor: /^[\w.-]*$/,
    };
  };
}

// ---- the editor ---------------------------------------------------------------------------

export function createJsonEditor(opts: JsonEditorOptions): JsonEditor {
  const extensions: Extension[] = [
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    indentOnInput(),
    indentUnit.of('  '),
    EditorState.tabSize.of(2),
    bracketMatching(),
    closeBrackets(),
    highlightActiveLine(),
    json(),
    syntaxHighlighting(highlight),
    autocompletion({ override: [completionSource(opts.taskTypes)], icons: false }),
    lintGutter(),
    linter(
      (view) => {
        const e = findJsonError(view.state.doc.toString());
        opts.onSyntax(e);
        if (!e) return [];
        const d: Diagnostic = { from: e.from, to: e.to, severity: 'error', message: `Line ${e.line}, column ${e.col}: ${e.message}`, source: 'JSON' };
        return [d];
      },
      { delay: 300 },
    ),
    keymap.of([
      { key: 'Mod-s', run: () => (opts.onSave(), true), preventDefault: true },
      ...closeBracketsKeymap,
      ...completionKeymap,
      ...defaultKeymap,
      ...historyKeymap,
      indentWithTab,
    ]),
    EditorState.readOnly.of(opts.readOnly),
    opts.readOnly ? EditorView.editorAttributes.of({ class: 'cm-readonly' }) : [],
    EditorView.contentAttributes.of({ 'aria-label': opts.label, spellcheck: 'false', autocorrect: 'off', autocapitalize: 'off' }),
    EditorView.updateListener.of((u) => {
      if (u.docChanged) opts.onChange();
    }),
    theme,
  ];
  opts.parent.replaceChildren();
  const view = new EditorView({ state: EditorState.create({ doc: opts.doc, extensions }), parent: opts.parent });
  opts.onSyntax(findJsonError(opts.doc));  // the first verdict at once; the linter follows changes

  const select = (from: number, to: number) => {
    const len = view.state.doc.length;
    const a = Math.max(0, Math.min(from, len));
    const b = Math.max(a, Math.min(to, len));
    view.dispatch({ selection: EditorSelection.single(a, b), effects: EditorView.scrollIntoView(a, { y: 'center' }) });
    view.focus();
  };

  const editor: JsonEditor = {
    text: () => view.state.doc.toString(),
    setText: (text) => {
      if (text !== view.state.doc.toString()) view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
      forceLinting(view);  // a new text: its verdict now, not the old text's marks for a moment
    },
    selection: () => ({ from: view.state.selection.main.from, to: view.state.selection.main.to }),
    select,
    checkSyntax: () => {
      const e = findJsonError(view.state.doc.toString());
      opts.onSyntax(e);
      forceLinting(view);  // the gutter mark and the underline at once, not after the linter's delay
      if (e) select(e.from, e.from);
      return e;
    },
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
  // For scripts and browser tests: the text and selection without reaching into CodeMirror.
  Object.assign(opts.parent, { jsonEditor: editor });
  return editor;
}
