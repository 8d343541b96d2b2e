// What the fault scripts share: checks that count failures, the throwaway PostgreSQL cluster
// (scripts/pg-cluster.sh), HTTP calls with a client-side deadline, and waiting on a condition.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

let failed = 0;
export function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed++;
  return ok;
}
export function fail(what) {
  check(false, what);
}
export function failures() {
  return failed;
}

export function cluster(...args) {
  return execFileSync('bash', [`${root}/scripts/pg-cluster.sh`, ...args], { encoding: 'utf8' }).trim();
}

// One HTTP request to `url`; resolves {status, headers, body, ms}. A client-side deadline turns a
// hang into status 0 (which fails the checks) instead of hanging the script. `key`: a Bearer key.
export function request(agent, url, method, { body, headers = {}, timeoutMs = 15000, key = '' } = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const h = { ...headers };
    if (key) h.authorization = `Bearer ${key}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const req = http.request(url, { method, headers: h, agent, timeout: timeoutMs }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, headers: {}, body: String(e), ms: performance.now() - t0 }));
    if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

// Polls `fn` until it returns true, at most `ms`; resolves the time it took or -1.
export async function until(fn, ms) {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if (await fn()) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  return -1;
}

// Starts `bin serve` with the default config on an ephemeral loopback port, its output in
// `logPath`, `env` added to the environment; resolves {proc, base} once it listens.
export async function startServer(bin, logPath, env) {
  const log = fs.openSync(logPath, 'w');
  const proc = spawn(bin, ['serve', '--config', `${root}/config/arclight.toml`], {
    env: {
      ...process.env,
      ARCLIGHT_SERVER_PORT: '0',
      ARCLIGHT_SERVER_HOST: '127.0.0.1',
      ARCLIGHT_SERVER_ACCESS_LOG: 'false',
      ...env,
    },
    stdio: ['ignore', log, log],
  });
  let base = '';
  const started = await until(() => {
    const m = fs.readFileSync(logPath, 'utf8').match(/listening on (http:\/\/[^ \s]+)/);
    if (m) base = m[1].replace(/\/$/, '');
    return Boolean(m) || proc.exitCode !== null;
  }, 15000);
  if (started < 0 || !base) throw new Error(`the server did not start:\n${fs.readFileSync(logPath, 'utf8')}`);
  return { proc, base };
}

// The first administrator (set-up) and an all-powers API key of theirs, as a user would make
// them; resolves the key.
export async function adminKey(agent, base, username) {
  const setup = await request(agent, `${base}/api/v1/auth/setup`, 'POST', { body: { username, password: `${username}-password-1` } });
  if (setup.status !== 201 && setup.status !== 200) throw new Error(`setup: ${setup.status} ${setup.body}`);
  const cookie = String(setup.headers['set-cookie']).split(';')[0];
  const csrf = JSON.parse(setup.body).csrf_token;
  const k = await request(agent, `${base}/api/v1/auth/api-keys`, 'POST', {
    body: { name: username, scopes: ['*'] },
    headers: { cookie, 'x-csrf-token': csrf },
  });
  if (k.status !== 201) throw new Error(`api key: ${k.status} ${k.body}`);
  return JSON.parse(k.body).key;
}
