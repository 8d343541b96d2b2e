// The database misbehaving, against the real binary and a real PostgreSQL cluster (issue "faults",
// items 1, 2 and 10). Run by scripts/test.sh; on its own:
//   node tests/faults/db_outage.mjs        (ARCLIGHT_BIN, FAULTS_PG_PORT, FAULTS_FLOOD to override)
//  1. a webhook call whose header and query are not UTF-8 is answered (400) and persistence goes on;
//  2. PostgreSQL stopped: /readyz and the API answer 503 with Retry-After in bounded time (never 500,
//     never a hang); started again: everything works within seconds, without a restart;
//  10. 10,000 webhook calls while the database is away: every one is answered (2xx or 503) within the
//     start timeout plus slack, the server's memory stays under a stated bound, and every run that was
//     acknowledged is recorded once the database is back; no run is left unfinished.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { adminKey, check, cluster, failures, request as send, root, startServer, until } from './lib.mjs';

const bin = process.env.ARCLIGHT_BIN || `${root}/build/arclight`;
const pgPort = process.env.FAULTS_PG_PORT || '55462';
const floodCount = Number(process.env.FAULTS_FLOOD || 10000);
const startTimeoutMs = 1000;
const answerBoundMs = startTimeoutMs + 4000; // every call during the outage is answered within this
const rssBoundMb = 256; // the server's peak resident memory during the flood
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'arclight-faults-'));
fs.chmodSync(work, 0o755);
const pgDir = `${work}/pg`;
const pgBin = fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b)).map((v) => `/usr/lib/postgresql/${v}/bin`).pop();

let server = null;
const figures = [];

function psql(url, sql) {
  const u = new URL(url);
  return execFileSync(`${pgBin}/psql`, ['-h', u.hostname, '-p', u.port, '-U', 'arclight', '-d', 'postgres', '-Atc', sql], {
    encoding: 'utf8',
  }).trim();
}
function rssMb(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number((s.match(new RegExp(`${name}:\\s+(\\d+)`)) || [0, 0])[1]);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

// One HTTP request to the server, with the API key unless `auth` is false.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let base = '';
let key = '';
function request(method, p, { auth = true, ...opts } = {}) {
  return send(agent, `${base}${p}`, method, { ...opts, key: auth ? key : '' });
}
// Raw bytes on a fresh connection (a header value that is not UTF-8 cannot be sent by http.request).
function raw(bytes, timeoutMs) {
  return new Promise((resolve) => {
    const u = new URL(base);
    const sock = net.connect(Number(u.port), u.hostname);
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => sock.destroy(), timeoutMs);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (c) => (data = Buffer.concat([data, c])));
    sock.on('close', () => {
      clearTimeout(timer);
      const text = data.toString('latin1');
      resolve({ status: Number((text.match(/^HTTP\/1\.1 (\d{3})/) || [0, 0])[1]), text });
    });
    sock.on('error', () => {});
  });
}

async function main() {
  const url = cluster('start', pgDir, pgPort);
  console.log(`PostgreSQL at ${url}`);
  const started = await startServer(bin, `${work}/server.log`, {
    ARCLIGHT_DATABASE_URL: url,
    ARCLIGHT_WORKFLOW_START_TIMEOUT_MS: String(startTimeoutMs),
  });
  server = started.proc;
  base = started.base;
  key = await adminKey(agent, base, 'faults');
  const hook = (name) => ({
    name,
    execution_data: 'full',
    active: true,
    triggers: [{ type: 'webhook', method: 'GET', path: name, respond: 'sync' }],
    tasks: [{ id: 'r', type: 'respond', config: { status: 200, body: 'ok' } }],
  });
  const wf = {};
  for (const name of ['hook', 'other']) {
    const r = await request('POST', '/api/v1/workflows', { body: hook(name) });
    if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.body}`);
    wf[name] = JSON.parse(r.body).id;
  }

  // 1. Bytes that are not UTF-8 in a header and the query: answered at once, and nothing wedges.
  const bad = Buffer.concat([
    Buffer.from('GET /hooks/hook?q=%FF%FE HTTP/1.1\r\nHost: x\r\nX-Bad: ', 'latin1'),
    Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
    Buffer.from('\r\nConnection: close\r\n\r\n', 'latin1'),
  ]);
  const badAnswer = await raw(bad, 10000);
  check(badAnswer.status === 400, `a webhook call with a header and a query that are not UTF-8 answers 400 (got ${badAnswer.status})`);
  const others = await Promise.all(Array.from({ length: 40 }, () => request('GET', '/hooks/other', { auth: false, timeoutMs: 10000 })));
  check(others.every((r) => r.status === 200), `then 40 calls of another webhook all answer 200 (${others.filter((r) => r.status === 200).length}/40)`);

  // Runs acknowledged before the outage.
  const before = await Promise.all(Array.from({ length: 50 }, () => request('GET', '/hooks/hook', { auth: false })));
  const ackedBefore = before.filter((r) => r.status === 200).length;
  check(ackedBefore === 50, `50 webhook calls before the outage answer 200 (${ackedBefore})`);

  // 2. The database goes away.
  cluster('stop', pgDir);
  console.log('PostgreSQL stopped');
  const notReady = await until(async () => (await request('GET', '/readyz', { auth: false, timeoutMs: 10000 })).status === 503, 10000);
  check(notReady >= 0, `/readyz answers 503 within 10 s of the outage (${Math.round(notReady)} ms)`);
  const api = await request('GET', '/api/v1/workflows', { timeoutMs: 15000 });
  check(api.status === 503 && api.headers['retry-after'] !== undefined,
    `an API call that needs the database answers 503 with Retry-After (got ${api.status}, Retry-After ${api.headers['retry-after']}, ${Math.round(api.ms)} ms)`);
  check(api.ms < 10000, `... within 10 s (${Math.round(api.ms)} ms)`);

  // 10. A flood while the database is away.
  const pid = server.pid;
  let peak = rssMb(pid).rss;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid).rss)), 50);
  const counts = {};
  let slowest = 0;
  const t0 = performance.now();
  let next = 0;
  async function worker() {
    while (next < floodCount) {
      next++;
      const r = await request('GET', '/hooks/hook', { auth: false, timeoutMs: answerBoundMs + 5000 });
      counts[r.status] = (counts[r.status] || 0) + 1;
      slowest = Math.max(slowest, r.ms);
    }
  }
  await Promise.all(Array.from({ length: 64 }, worker));
  const floodMs = performance.now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, rssMb(pid).rss);
  const answered = (counts[200] || 0) + (counts[503] || 0);
  check(answered === floodCount, `${floodCount} webhook calls during the outage all answered 200 or 503 (${JSON.stringify(counts)})`);
  check(slowest <= answerBoundMs, `the slowest answered within ${answerBoundMs} ms (${Math.round(slowest)} ms)`);
  check(peak <= rssBoundMb, `the server's resident memory stayed under ${rssBoundMb} MB (peak ${peak.toFixed(1)} MB)`);
  figures.push(`flood: ${floodCount} calls in ${(floodMs / 1000).toFixed(1)} s, ${JSON.stringify(counts)}, slowest ${Math.round(slowest)} ms, peak RSS ${peak.toFixed(1)} MB`);

  // The database comes back: everything works without a restart.
  const back = cluster('start', pgDir, new URL(url).port);
  check(back === url, `PostgreSQL started again at the same address (${back})`);
  const tBack = performance.now();
  const ready = await until(async () => (await request('GET', '/readyz', { auth: false, timeoutMs: 5000 })).status === 200, 20000);
  const apiBack = await until(async () => (await request('GET', '/api/v1/workflows', { timeoutMs: 5000 })).status === 200, 20000);
  check(ready >= 0 && apiBack >= 0, `/readyz and the API answer 200 again (${Math.round(performance.now() - tBack)} ms after the database)`);
  // The state writer retries with a back-off (up to 0.8 s): new runs are admitted again once its
  // next commit works.
  let afterStatus = 0;
  const hookBack = await until(async () => (afterStatus = (await request('GET', '/hooks/hook', { auth: false, timeoutMs: 5000 })).status) === 200, 20000);
  check(hookBack >= 0, `a webhook call answers 200 again (${Math.round(performance.now() - tBack)} ms after the database; last ${afterStatus})`);
  figures.push(`recovery: ${Math.round(performance.now() - tBack)} ms from the database's return to /readyz, the API and webhooks answering 200`);
  const drained = await until(async () => {
    const st = JSON.parse((await request('GET', '/api/v1/workflow/stats')).body || '{}');
    return st.queued_changes === 0 && st.db_failing_ms === 0;
  }, 20000);
  check(drained >= 0, 'the state changes kept during the outage are all written');

  // Nothing acknowledged is lost, and nothing is left unfinished: every start that was not refused
  // outright (some timed out while their change waited) runs to its end.
  const acked = ackedBefore + (counts[200] || 0) + 1; // + the call that answered 200 again
  const settled = await until(() => psql(url, `SELECT count(*) FROM workflow_runs WHERE workflow_id = '${wf.hook}' AND status NOT IN ('succeeded', 'failed', 'cancelled')`) === '0', 30000);
  check(settled >= 0, 'every recorded run of the flooded workflow finished');
  const succeeded = Number(psql(url, `SELECT count(*) FROM workflow_runs WHERE workflow_id = '${wf.hook}' AND status = 'succeeded'`));
  check(succeeded >= acked, `every acknowledged run is recorded as succeeded (${succeeded} recorded, ${acked} acknowledged)`);
  const failed = Number(psql(url, `SELECT count(*) FROM workflow_runs WHERE workflow_id = '${wf.hook}' AND status <> 'succeeded'`));
  check(failed === 0, `no run of it failed (${failed})`);

  // A clean stop.
  server.kill('SIGTERM');
  const code = await new Promise((r) => server.on('exit', (c) => r(c)));
  server = null;
  check(code === 0, `SIGTERM stops the server with 0 (${code})`);
}

try {
  await main();
} catch (e) {
  console.error(e);
  check(false, 'the script finished');
} finally {
  if (server) server.kill('SIGKILL');
  agent.destroy();
  try {
    cluster('stop', pgDir);
  } catch {}
  for (const f of figures) console.log(`figure  ${f}`);
  if (failures()) console.log(fs.readFileSync(`${work}/server.log`, 'utf8').split('\n').slice(-40).join('\n'));
  fs.rmSync(work, { recursive: true, force: true });
}
console.log(failures() ? `${failures()} check(s) failed` : 'all database outage checks passed');
process.exit(failures() ? 1 : 0);
