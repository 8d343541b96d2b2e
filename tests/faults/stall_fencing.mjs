// An instance that stalls past its lease (issue "faults", item 9), against two real server
// processes sharing a real PostgreSQL cluster. Run by scripts/test.sh; on its own:
//   node tests/faults/stall_fencing.mjs      (ARCLIGHT_BIN, FAULTS_STALL_PG_PORT to override)
// Instance A starts runs that wait in a `delay` and then call an HTTP endpoint (a side effect
// counted by this script). A is frozen with SIGSTOP; B claims the runs once A's lease lapses and
// finishes them. A is thawed with SIGCONT: its writes carry the old lease generation, are refused,
// and A drops the runs. Checked: every side effect happened exactly once, every run succeeded once,
// no task completion is recorded twice, and A goes on serving new runs.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { adminKey, check, cluster, failures, request as send, root, startServer, until } from './lib.mjs';

const bin = process.env.ARCLIGHT_BIN || `${root}/build/arclight`;
const pgPort = process.env.FAULTS_STALL_PG_PORT || '55463';
const leaseMs = 1500;
const runs = 8;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'arclight-stall-'));
fs.chmodSync(work, 0o755);
const pgDir = `${work}/pg`;

const servers = [];

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
let key = '';
function request(base, method, p, { auth = true, ...opts } = {}) {
  return send(agent, `${base}${p}`, method, { ...opts, key: auth ? key : '' });
}
async function getJson(base, p) {
  const r = await request(base, 'GET', p);
  if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}
async function startInstance(name, url) {
  const s = await startServer(bin, `${work}/${name}.log`, {
    ARCLIGHT_DATABASE_URL: url,
    ARCLIGHT_WORKFLOW_LEASE_MS: String(leaseMs),
    ARCLIGHT_WORKFLOW_POLL_MS: '200',
    ARCLIGHT_WORKFLOW_HTTP_ALLOW: '127.0.0.1',
  });
  servers.push(s.proc);
  return s;
}

async function main() {
  // The side effect: every call is counted, by run id.
  const hits = new Map();
  const effects = http.createServer((req, res) => {
    const run = new URL(req.url, 'http://x').searchParams.get('run') || '';
    hits.set(run, (hits.get(run) || 0) + 1);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise((r) => effects.listen(0, '127.0.0.1', r));
  const effectsUrl = `http://127.0.0.1:${effects.address().port}`;

  const url = cluster('start', pgDir, pgPort);
  console.log(`PostgreSQL at ${url}`);
  const a = await startInstance('a', url);
  const b = await startInstance('b', url);

  key = await adminKey(agent, a.base, 'stall');

  const created = await request(a.base, 'POST', '/api/v1/workflows', {
    body: {
      name: 'stall',
      execution_data: 'full',
      tasks: [
        { id: 'wait', type: 'delay', config: { seconds: 4 } },
        { id: 'effect', type: 'http', depends_on: ['wait'], config: { method: 'GET', url: `${effectsUrl}/hit?run={{ run.id }}` } },
      ],
    },
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${created.body}`);
  const wf = JSON.parse(created.body).id;

  const ids = [];
  for (let i = 0; i < runs; i++) {
    const r = await request(a.base, 'POST', `/api/v1/workflows/${wf}/runs`, { body: { input: { i } } });
    if (r.status !== 201 && r.status !== 202 && r.status !== 200) throw new Error(`start: ${r.status} ${r.body}`);
    ids.push(JSON.parse(r.body).id);
  }
  // Every run waits in its delay, driven by A.
  const waiting = await until(async () => {
    for (const id of ids) {
      const run = await getJson(a.base, `/api/v1/runs/${id}`);
      const wait = (run.tasks || []).find((t) => t.id === 'wait');
      if (!wait || wait.status !== 'waiting') return false;
    }
    return true;
  }, 10000);
  check(waiting >= 0, `${runs} runs started on A wait in their delay`);
  const claimedBefore = (await getJson(b.base, '/api/v1/workflow/stats')).runs_claimed;

  // A freezes; B takes the runs over once A's lease lapses and finishes them.
  a.proc.kill('SIGSTOP');
  console.log('A stopped (SIGSTOP)');
  const finished = await until(async () => {
    for (const id of ids) {
      const run = await getJson(b.base, `/api/v1/runs/${id}`);
      if (run.status !== 'succeeded') return false;
    }
    return true;
  }, 20000);
  check(finished >= 0, `B finished every run while A was stopped (${Math.round(finished)} ms)`);
  const claimed = (await getJson(b.base, '/api/v1/workflow/stats')).runs_claimed - claimedBefore;
  check(claimed >= runs, `B claimed the ${runs} runs after A's lease lapsed (${claimed})`);

  // A thaws: its timers fire, its writes carry the old lease generation and are refused.
  a.proc.kill('SIGCONT');
  console.log('A continued (SIGCONT)');
  let aStats = null;
  const dropped = await until(async () => {
    aStats = await getJson(a.base, '/api/v1/workflow/stats');
    return aStats.runs_lost >= runs && aStats.active_runs === 0;
  }, 20000);
  check(dropped >= 0, `A dropped the ${runs} runs it no longer owned (runs_lost ${aStats && aStats.runs_lost}, ` +
    `rows_fenced ${aStats && aStats.rows_fenced}, active ${aStats && aStats.active_runs})`);
  check(aStats && aStats.rows_fenced >= 1, `A's stale writes were refused as fenced (${aStats && aStats.rows_fenced})`);

  // Exactly once: side effects, completions, run outcomes.
  const once = ids.every((id) => hits.get(id) === 1);
  check(once, `each run's side effect happened exactly once (${ids.map((id) => hits.get(id) || 0).join(',')})`);
  let tasksOk = true;
  for (const id of ids) {
    const run = await getJson(b.base, `/api/v1/runs/${id}`);
    const effect = (run.tasks || []).find((t) => t.id === 'effect');
    if (run.status !== 'succeeded' || !effect || effect.status !== 'succeeded' || effect.attempts !== 1) {
      tasksOk = false;
      console.log(`   run ${id}: ${run.status}, effect ${effect && effect.status} attempts ${effect && effect.attempts}`);
    }
  }
  check(tasksOk, 'every run succeeded with its side-effect task completed once (1 attempt)');

  // A serves new runs.
  const again = await request(a.base, 'POST', `/api/v1/workflows/${wf}/runs`, { body: { input: { again: true } } });
  const againId = again.status < 300 ? JSON.parse(again.body).id : '';
  const againDone = againId
    ? await until(async () => (await getJson(a.base, `/api/v1/runs/${againId}`)).status === 'succeeded', 20000)
    : -1;
  check(againDone >= 0 && hits.get(againId) === 1, `a new run on A after it continued succeeds (${again.status})`);
}

let exitCode = 0;
try {
  await main();
} catch (e) {
  check(false, `the script finished: ${e.stack || e}`);
} finally {
  for (const s of servers) {
    try {
      s.kill('SIGCONT');
      s.kill('SIGTERM');
    } catch {}
  }
  await Promise.all(servers.map((s) => new Promise((r) => (s.exitCode !== null ? r() : s.on('exit', r)))));
  try {
    cluster('stop', pgDir);
  } catch {}
  agent.destroy();
  if (failures() > 0) {
    for (const name of ['a', 'b']) {
      const p = `${work}/${name}.log`;
      if (fs.existsSync(p)) console.log(`--- ${name}.log (tail)\n${fs.readFileSync(p, 'utf8').split('\n').slice(-30).join('\n')}`);
    }
    exitCode = 1;
  } else {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
console.log(failures() ? `${failures()} check(s) failed` : 'all checks passed');
process.exit(exitCode);
