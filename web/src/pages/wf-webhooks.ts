// The Webhooks panel of a saved workflow (issue 21, item 5): for each webhook trigger its full
// URL with a copy button, a curl line, and "Send test request" with a body editor. The browser
// calls the hook itself (same origin, no credentials, like an outside caller); the answer and
// the run it started (named by the X-Arclight-Run-Id header) appear in place, the run's status
// following the live stream.

import { api, ApiError } from '../api';
import { h, replace, type Child } from '../dom';
import { live } from '../live';
import { ACTIVE_RUN, hookPath, isRunEvent, keptRuns, runBadge, runPath, type WorkflowDoc } from './wf-common';

interface HookAuth {
  type?: string;
  header?: string;
  prefix?: string;
  timestamp_header?: string;
}

interface HookTrigger {
  type: string;
  method?: string;
  path?: string;
  respond?: string;
  timeout_ms?: number;
  auth?: HookAuth;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const MAX_SHOWN = 20_000;

/** The webhook triggers of a definition document. */
function hooks(doc: WorkflowDoc): HookTrigger[] {
  const t = doc.triggers;
  if (!Array.isArray(t)) return [];
  return t.filter((x): x is HookTrigger => !!x && typeof x === 'object' && (x as HookTrigger).type === 'webhook');
}

/** A shell word in single quotes. */
function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The curl line that calls the hook: method, content type, auth header placeholder, body. */
export function curlLine(url: string, method: string, auth: HookAuth | undefined, body: string | null): string {
  const parts = ['curl'];
  if (method !== 'POST' || body === null) parts.push('-X', method);
  if (body !== null) parts.push('-H', quote('Content-Type: application/json'));
  if (auth?.header) {
    const value =
      auth.type === 'hmac' ? `${auth.prefix ?? ''}<hex HMAC-SHA256 of the ${auth.timestamp_header ? 'timestamp, ".", body' : 'body'} with the secret>` : `${auth.prefix ?? ''}<secret>`;
    parts.push('-H', quote(`${auth.header}: ${value}`));
    if (auth.type === 'hmac' && auth.timestamp_header) parts.push('-H', quote(`${auth.timestamp_header}: <epoch seconds>`));
  }
  parts.push(quote(url));
  if (body !== null) parts.push('-d', quote(body));
  return parts.join(' ');
}

async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the selection copy
  }
  const area = h('textarea', { class: 'sr-only', readonly: true });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

function copyButton(text: () => string, testid: string, label: string): HTMLElement {
  const btn = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': testid, title: `Copy the ${label}` }, 'Copy');
  btn.addEventListener('click', () => {
    void copyText(text()).then((ok) => {
      btn.textContent = ok ? 'Copied' : 'Select and copy';
      setTimeout(() => (btn.textContent = 'Copy'), 1500);
    });
  });
  return btn;
}

async function hmacHex(secret: string, message: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const sig = await crypto.subtle.sign('HMAC', key, enc.encode(message));
  return [...new Uint8Array(sig)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A response body for display: pretty JSON when it parses as such, else the text. */
function shownBody(text: string, contentType: string): string {
  let out = text;
  if (/json/i.test(contentType)) {
    try {
      out = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      out = text;
    }
  }
  return out.length > MAX_SHOWN ? `${out.slice(0, MAX_SHOWN)}\n… (${out.length.toLocaleString()} characters in all)` : out;
}

/** The run a test request started: a link with its status, following the live stream until it ends. */
function runLine(runId: string, doc: WorkflowDoc, host: HTMLElement): Child {
  const badge = h('span', { 'data-testid': 'webhook-run-status' }, runBadge('running'));
  const note = h('span', { class: 'muted small' });
  const kept = keptRuns(doc.execution_data);
  let final = false;
  const show = (status: string) => {
    replace(badge, runBadge(status));
    badge.setAttribute('data-status', status);
    if (!ACTIVE_RUN.has(status)) {
      final = true;
      stop();
    }
  };
  const stop = live.subscribe('workflow.run.*', (ev) => {
    if (!host.isConnected) {
      stop();
      return;
    }
    const data = ev.data;
    if (isRunEvent(data) && data.run_id === runId) show(data.status);
  });
  // The run may have ended before the subscription: ask once.
  api.get<{ status: string }>(runPath(runId), { quiet: true }).then(
    (r) => {
      if (!final && typeof r?.status === 'string') show(r.status);
    },
    (err: unknown) => {
      if (final) return;
      if (err instanceof ApiError && err.status === 404 && kept)
        replace(note, ` Not recorded: ${kept.long}`);
      else if (err instanceof ApiError && err.status === 404) replace(note, ' Not found (yet): its status follows when it changes.');
    },
  );
  return h(
    'div',
    { class: 'hook-run', 'data-testid': 'webhook-run' },
    'Run ',
    h('a', { href: `/runs/${encodeURIComponent(runId)}`, 'data-link': true, 'data-testid': 'webhook-run-link' }, h('code', null, runId.slice(0, 8))),
    ' ',
    badge,
    note,
  );
}

function hookBlock(doc: WorkflowDoc, t: HookTrigger, index: number): HTMLElement {
  const method = (t.method || 'POST').toUpperCase();
  const url = `${location.origin}${hookPath(t.path)}`;
  const hasBody = BODY_METHODS.has(method);
  const auth = t.auth && typeof t.auth === 'object' && t.auth.header ? t.auth : undefined;
  const bodyEditor = h('textarea', {
    class: 'input input-code hook-body',
    rows: 5,
    spellcheck: 'false',
    'data-testid': 'webhook-body',
    'aria-label': `Body of the test request to ${method} ${hookPath(t.path)}`,
  });
  bodyEditor.value = '{\n  "hello": 1\n}';
  const curl = h('pre', { class: 'hook-curl', 'data-testid': 'webhook-curl' });
  const curlText = () => curlLine(url, method, auth, hasBody ? compact(bodyEditor.value) : null);
  const updateCurl = () => replace(curl, curlText());
  bodyEditor.addEventListener('input', updateCurl);
  updateCurl();

  // Auth: the header value (header secret) or the secret to sign with (HMAC), never stored.
  const authInput = auth
    ? h('input', {
        class: 'input',
        type: 'password',
        autocomplete: 'off',
        'data-testid': 'webhook-auth-value',
        'aria-label': auth.type === 'hmac' ? 'Secret to sign the test request with' : `Value of the ${auth.header} header`,
        placeholder: auth.type === 'hmac' ? 'the secret' : `${auth.prefix ?? ''}secret`,
      })
    : null;
  const authBlock =
    auth &&
    h(
      'div',
      { class: 'field', 'data-testid': 'webhook-auth' },
      h('label', null, auth.type === 'hmac' ? 'Signing secret' : `${auth.header} header`),
      authInput,
      h(
        'span',
        { class: 'field-hint' },
        auth.type === 'hmac'
          ? `Calls must be signed: ${auth.header} holds ${auth.prefix ? `"${auth.prefix}" and ` : ''}the HMAC-SHA256 of the ${auth.timestamp_header ? `timestamp (${auth.timestamp_header}), a ".", and the ` : ''}body. Enter the secret to sign the test request here (it is not sent or kept).`
          : `Calls must send the secret in ${auth.header}${auth.prefix ? ` after "${auth.prefix}"` : ''}. Enter the value to send (the secret is write-only: it is not shown here).`,
      ),
    );

  const state = h('div', { class: 'hook-state', 'data-testid': 'webhook-state' });
  const result = h('div', { class: 'hook-result', 'data-testid': 'webhook-result', 'aria-live': 'polite' });
  const sendBtn = h('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'webhook-send' }, 'Send test request');
  const showState = () =>
    replace(
      state,
      !doc.active &&
        h(
          'p',
          { class: 'notice notice-warn small', 'data-testid': 'webhook-inactive' },
          'The workflow is inactive: this webhook answers only once it is active (until then, 404).',
        ),
    );
  showState();

  const send = async () => {
    showState();
    let body: string | undefined;
    if (hasBody) {
      body = bodyEditor.value;
      try {
        if (body.trim()) JSON.parse(body);
      } catch (e) {
        replace(result, h('p', { class: 'notice notice-error small', 'data-testid': 'webhook-body-error' }, `The body is not JSON: ${e instanceof Error ? e.message : String(e)}`));
        return;
      }
    }
    const headers: Record<string, string> = {};
    if (hasBody) headers['Content-Type'] = 'application/json';
    if (auth && authInput) {
      const value = authInput.value;
      if (auth.type === 'hmac') {
        if (value) {
          if (!crypto?.subtle) {
            replace(result, h('p', { class: 'notice notice-error small' }, 'This browser cannot sign here (it needs a secure context: https or localhost). Use the curl line.'));
            return;
          }
          const ts = String(Math.floor(Date.now() / 1000));
          const signed = auth.timestamp_header ? `${ts}.${body ?? ''}` : body ?? '';
          headers[auth.header!] = `${auth.prefix ?? ''}${await hmacHex(value, signed)}`;
          if (auth.timestamp_header) headers[auth.timestamp_header] = ts;
        }
      } else if (value) {
        headers[auth.header!] = value;
      }
    }
    sendBtn.disabled = true;
    replace(result, h('p', { class: 'muted small' }, `Sending ${method} ${hookPath(t.path)}…`));
    const started = performance.now();
    try {
      const res = await fetch(url, { method, headers, body, credentials: 'omit', cache: 'no-store' });
      const text = await res.text();
      const ms = Math.round(performance.now() - started);
      const type = res.headers.get('content-type') ?? '';
      const runId = res.headers.get('x-arclight-run-id');
      replace(
        result,
        h(
          'div',
          { class: 'hook-answer' },
          h(
            'div',
            { class: 'hook-status' },
            h('span', { class: `hook-code ${res.ok ? 'ok' : 'bad'}`, 'data-testid': 'webhook-response-status' }, String(res.status)),
            ' ',
            res.statusText,
            h('span', { class: 'muted small' }, ` · ${ms} ms`),
          ),
          type && h('div', { class: 'muted small', 'data-testid': 'webhook-response-type' }, type),
          text ? h('pre', { class: 'json hook-response-body', 'data-testid': 'webhook-response-body' }, shownBody(text, type)) : h('p', { class: 'muted small' }, 'No body.'),
          runId
            ? runLine(runId, doc, result)
            : h(
                'p',
                { class: 'muted small', 'data-testid': 'webhook-no-run' },
                res.status === 404 && !doc.active ? 'No run: the workflow is inactive.' : 'No run was started.',
              ),
        ),
      );
    } catch (e) {
      replace(result, h('p', { class: 'notice notice-error small' }, `The request failed: ${e instanceof Error ? e.message : String(e)}`));
    } finally {
      sendBtn.disabled = false;
    }
  };
  sendBtn.addEventListener('click', () => void send());

  const block = h(
    'div',
    { class: 'hook', 'data-testid': 'webhook', 'data-index': String(index) },
    h(
      'div',
      { class: 'hook-title' },
      h('code', { class: 'chip chip-trigger chip-webhook' }, method),
      ' ',
      h('span', { class: 'muted small' }, t.respond === 'sync' ? 'answers with the workflow\'s response (sync)' : 'answers 202 with the run id (async)'),
    ),
    h('div', { class: 'hook-url-row' }, h('code', { class: 'hook-url', 'data-testid': 'webhook-url' }, url), copyButton(() => url, 'webhook-copy-url', 'URL')),
    h('div', { class: 'hook-curl-row' }, curl, copyButton(curlText, 'webhook-copy-curl', 'curl line')),
    state,
    hasBody && h('div', { class: 'field' }, h('label', null, 'Body (JSON)'), bodyEditor),
    authBlock,
    h('div', { class: 'hook-actions' }, sendBtn),
    result,
  );
  // Whether the workflow is active may have changed (the switch above): say so before a send.
  block.addEventListener('pointerenter', showState);
  block.addEventListener('focusin', showState);
  return block;
}

/** A JSON body on one line for the curl line (the text as typed when it is not JSON). */
function compact(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}

/**
 * The Webhooks panel of a saved workflow document: null when it has no webhook trigger. It uses
 * the saved definition (not unsaved edits in the editor).
 */
export function webhooksPanel(doc: WorkflowDoc): HTMLElement | null {
  const list = hooks(doc);
  if (list.length === 0) return null;
  const kept = keptRuns(doc.execution_data);
  return h(
    'section',
    { class: 'panel', 'data-testid': 'webhooks-panel' },
    h('div', { class: 'panel-title' }, list.length === 1 ? 'Webhook' : 'Webhooks'),
    h(
      'div',
      { class: 'panel-pad hooks' },
      list.map((t, i) => hookBlock(doc, t, i)),
      kept && h('p', { class: 'muted small', 'data-testid': 'webhook-kept' }, kept.long),
      h('p', { class: 'muted small' }, 'Test requests go to the saved version, from this browser, without your session.'),
    ),
  );
}
