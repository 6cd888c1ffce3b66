// The hand-off, for real: "Export Locust file" from the page runs on a Locust master with two
// workers (loopback, headless, bounded) against the mock, which sees exactly the planned
// requests, numbered as the page numbers them, with the secret header values the environment
// gave; streams report TTFT rows and failures by Stampede's error class. "Export k6 script"
// parses as an ES module and, with k6's modules stubbed in node, plans the stages and reads a
// stream as Stampede does. k6 itself cannot be installed here: the script never runs on k6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appAndBrowser, startMock, configure, customStages, closedPort } from './lib.mjs';

const fx = appAndBrowser();

const API_KEY = 'sk-e2e-secret';
const TEAM_TOKEN = 'team-secret-42';
// X-Stampede-Request is off the harmless list too: the file reads it from the environment,
// and the mock logs what arrived as each request's tag.
const HEADERS = `X-Stampede-Request: {{i}}\nX-Team-Token: ${TEAM_TOKEN}`;
const SECRETS_ENV = {
  STAMPEDE_HEADER_X_STAMPEDE_REQUEST: '{{i}}',
  STAMPEDE_HEADER_X_TEAM_TOKEN: TEAM_TOKEN,
  STAMPEDE_API_KEY: API_KEY,
};
/** Longest a Locust run may take; the test kills every process a little after it. */
const RUN_S = 45;

function locustBin() {
  const bin = process.env.STAMPEDE_LOCUST;
  if (!bin) throw new Error('STAMPEDE_LOCUST is not set: run the tests with `cargo xtask test`');
  return bin;
}

/** Configure the page (default warm-ups: one per slot) and download one hand-off file. */
async function exported(button, { endpoint, preset, stages }) {
  const { page, errors } = await fx.open();
  try {
    await configure(page, { endpoint, headers: HEADERS, apiKey: API_KEY });
    await page.getByLabel('Preset').selectOption(preset);
    const model = page.getByLabel('Model');
    if (await model.count()) await model.fill('stampede-mock');
    await customStages(page, stages);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: button }).click(),
    ]);
    const text = readFileSync(await download.path(), 'utf8');
    assert.deepEqual(errors, []);
    for (const secret of [API_KEY, TEAM_TOKEN]) assert.ok(!text.includes(secret), `${secret} is in the file`);
    return { name: download.suggestedFilename(), text };
  } finally {
    await page.context().close();
  }
}

/**
 * Run `locustfile` with one master and two workers on loopback; every process is killed if the
 * run outlives RUN_S. Returns the master's exit code and output, and the stats CSV files.
 */
async function runDistributed(locustfile, env = SECRETS_ENV) {
  const dir = mkdtempSync(path.join(tmpdir(), 'stampede-locust-'));
  writeFileSync(path.join(dir, 'locustfile.py'), locustfile);
  const port = String(await closedPort());
  const opts = { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] };
  const master = spawn(locustBin(), [
    '-f', 'locustfile.py', '--headless', '--master', '--master-bind-host', '127.0.0.1',
    '--master-bind-port', port, '--expect-workers', '2', '--csv', 'stampede', '--run-time', `${RUN_S}s`,
  ], opts);
  const workers = [1, 2].map(() => spawn(locustBin(), [
    '-f', 'locustfile.py', '--worker', '--master-host', '127.0.0.1', '--master-port', port,
  ], opts));
  const all = [master, ...workers];
  let log = '';
  for (const p of all) for (const s of [p.stdout, p.stderr]) s.on('data', (d) => { log += d; });
  const ended = all.map((p) => new Promise((resolve) => p.once('exit', (code) => resolve(code))));
  const killer = setTimeout(() => all.forEach((p) => p.kill('SIGKILL')), (RUN_S + 15) * 1000);
  try {
    const [code] = await Promise.all(ended);
    const read = (name) => readFileSync(path.join(dir, name), 'utf8');
    return { code, log, stats: csv(read('stampede_stats.csv')), failures: csv(read('stampede_failures.csv')) };
  } finally {
    clearTimeout(killer);
    all.forEach((p) => p.exitCode === null && p.kill('SIGKILL'));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows of a Locust CSV as objects (its names have no commas here). */
function csv(text) {
  const [head, ...rows] = text.trim().split(/\r?\n/);
  const keys = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [keys[i], v])));
}

/** The mock's request log: tags (request numbers) in order, and counts by fault. */
async function mockSaw(mock) {
  const log = await (await fetch(`${mock.url}/stats/requests`)).json();
  assert.equal(log.dropped, 0);
  return log.requests.map((r) => Number(r.tag)).sort((a, b) => a - b);
}

const range = (from, n) => Array.from({ length: n }, (_, k) => from + k);

test('the hand-off buttons wait for a valid form and say why', async () => {
  const { page } = await fx.open();
  try {
    await page.getByLabel('Endpoint URL').fill('not a url');
    for (const button of ['Export Locust file', 'Export k6 script']) {
      await assert.doesNotReject(page.getByRole('button', { name: button }).and(page.locator(':disabled')).waitFor());
    }
    assert.match(await page.locator('#handoff-reason').innerText(), /^Fix the form to export the test: /);
  } finally {
    await page.context().close();
  }
});

test('Export Locust file: a closed-loop test runs on a master with two workers, each planned request once', async (t) => {
  const mock = await startMock(['--latency-ms', '5']);
  try {
    const { name, text } = await exported('Export Locust file', {
      endpoint: mock.url, preset: 'seed', stages: [{ concurrency: 2, requests: 20 }, { concurrency: 4, requests: 40 }],
    });
    assert.equal(name, 'locustfile.py');
    assert.match(text, /\("X-Stampede-Request", env\("STAMPEDE_HEADER_X_STAMPEDE_REQUEST"\)\)/);
    assert.match(text, /^API_KEY = env\("STAMPEDE_API_KEY"\)$/m);

    const run = await runDistributed(text);
    assert.match(run.log, /Shape test stopping/, 'the stages ended the run, not --run-time');
    assert.equal(run.code, 0, run.log.slice(-3000));
    const stats = await mock.stats();
    // No warm-ups are sent: the mock sees the 20 + 40 planned requests. Their numbers are the
    // page's: stage 1 after its 2 warm-ups (2–21), stage 2 after 22–25 (26–65).
    assert.equal(stats.requests, 60);
    assert.ok(stats.max_in_flight <= 4, `max in flight ${stats.max_in_flight}`);
    assert.deepEqual(await mockSaw(mock), [...range(2, 20), ...range(26, 40)]);
    const rows = run.stats.filter((r) => r.Type === 'POST');
    assert.deepEqual(rows.map((r) => [r.Name.slice(0, 3), r['Request Count'], r['Failure Count']]),
      [['1. ', '20', '0'], ['2. ', '40', '0']]);
    assert.equal(run.stats.filter((r) => r.Type === 'TTFT').length, 0, 'no stream, no TTFT');
    assert.equal(run.failures.length, 0);
    t.diagnostic(`mock: ${stats.requests} requests, max ${stats.max_in_flight} in flight; Locust: ${rows.map((r) => `${r.Name} ${r['Request Count']}`).join(', ')}`);

    // A missing secret stops Locust before anything is sent, naming what to set.
    const dir = mkdtempSync(path.join(tmpdir(), 'stampede-locust-'));
    writeFileSync(path.join(dir, 'locustfile.py'), text);
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const env = { ...process.env, ...SECRETS_ENV };
    delete env.STAMPEDE_HEADER_X_TEAM_TOKEN;
    const failed = await new Promise((resolve) => {
      const p = spawn(locustBin(), ['-f', 'locustfile.py', '--headless', '--run-time', '5s'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stderr.on('data', (d) => { out += d; });
      const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
      p.once('exit', (code) => { clearTimeout(t); resolve({ code, out }); });
    });
    assert.notEqual(failed.code, 0);
    assert.match(failed.out, /set STAMPEDE_HEADER_X_TEAM_TOKEN/);
    assert.equal((await mock.stats()).requests, 60);
  } finally {
    mock.stop();
  }
});

test('Export Locust file: a streamed test reports TTFT per stage and failures by Stampede\'s class', async (t) => {
  const mock = await startMock([
    '--ttft-ms', '20', '--per-token-ms', '2', '--tokens', '8',
    '--cut-rate', '0.1', '--stream-error-rate', '0.1', '--error-rate', '0.05',
  ]);
  try {
    const { text } = await exported('Export Locust file', {
      endpoint: mock.url,
      preset: 'openai-chat-stream',
      stages: [{ concurrency: 2, requests: 10 }, { concurrency: 3, requests: 15, rate: 20 }],
    });
    assert.match(text, /^FRAMING = "sse"$/m);
    const run = await runDistributed(text);
    assert.match(run.log, /Shape test stopping/, 'the stages ended the run, not --run-time');
    const stats = await mock.stats();
    // Stage 1: 2 warm-ups, then 2–11; stage 2: 12–14 are its warm-ups, then 15–29.
    assert.equal(stats.requests, 25);
    assert.deepEqual(await mockSaw(mock), [...range(2, 10), ...range(15, 15)]);

    for (const prefix of ['1. ', '2. ']) {
      const post = run.stats.find((r) => r.Type === 'POST' && r.Name.startsWith(prefix));
      const ttft = run.stats.find((r) => r.Type === 'TTFT' && r.Name.startsWith(prefix));
      assert.ok(post && ttft, `stage ${prefix}: ${JSON.stringify(run.stats)}`);
      // One TTFT entry per successful stream, none sooner than the mock's 20 ms to the first
      // token: its role-only chunk, sent with the headers, does not count.
      assert.equal(Number(ttft['Request Count']), Number(post['Request Count']) - Number(post['Failure Count']));
      assert.ok(Number(ttft['Min Response Time']) >= 20, JSON.stringify(ttft));
    }
    assert.equal(run.stats.filter((r) => r.Type === 'POST').reduce((n, r) => n + Number(r['Request Count']), 0), 25);

    // Each failure is of the class its mock fault deserves: a cut stream is parse (no [DONE]),
    // an in-band error event is stream-error, a 500 is http.
    const byClass = {};
    for (const f of run.failures) {
      const cls = /StampedeFailure\('([a-z-]+):/.exec(f.Error)?.[1];
      assert.ok(cls, f.Error);
      byClass[cls] = (byClass[cls] ?? 0) + Number(f.Occurrences);
    }
    const want = { parse: stats.faults.cut, 'stream-error': stats.faults.stream_error, http: stats.faults.http_500 };
    for (const k of Object.keys(want)) if (want[k] === 0) delete want[k];
    assert.deepEqual(byClass, want);
    const ttfts = run.stats.filter((r) => r.Type === 'TTFT').map((r) => `${r.Name} ${r['Request Count']} (median ${r['Median Response Time']} ms)`);
    t.diagnostic(`mock: ${stats.requests} requests; TTFT rows: ${ttfts.join(', ')}; failures: ${JSON.stringify(byClass)}`);
    assert.equal(stats.faults.ok + stats.faults.cut + stats.faults.stream_error + stats.faults.http_500, 25);
  } finally {
    mock.stop();
  }
});

test('Export Locust file: stages by time run for their duration, a ramp reaches its target', async (t) => {
  const mock = await startMock(['--latency-ms', '50']);
  try {
    const { text } = await exported('Export Locust file', {
      endpoint: mock.url, preset: 'seed', stages: [{ concurrency: 3, duration: 3 }, { concurrency: 4, duration: 3, rampFrom: 1 }],
    });
    assert.match(text, /"duration_s": 3, "ramp_from": 1,/);
    const run = await runDistributed(text);
    assert.match(run.log, /Shape test stopping/, 'the stages ended the run, not --run-time');
    assert.equal(run.code, 0, run.log.slice(-3000));
    const stats = await mock.stats();
    const rows = run.stats.filter((r) => r.Type === 'POST');
    assert.deepEqual(rows.map((r) => [r.Name.slice(0, 3), r['Failure Count']]), [['1. ', '0'], ['2. ', '0']]);
    // Every request Locust counted reached the mock, and no more; the ramp's last level (4)
    // was in flight at once, never more.
    assert.equal(rows.reduce((n, r) => n + Number(r['Request Count']), 0), stats.requests);
    assert.equal(stats.max_in_flight, 4);
    t.diagnostic(`mock: ${stats.requests} requests, max ${stats.max_in_flight} in flight; Locust: ${rows.map((r) => `${r.Name} ${r['Request Count']}`).join(', ')}`);
  } finally {
    mock.stop();
  }
});

/** The k6 script's `options`, evaluated with k6's modules stubbed (no request is made). */
async function k6Options(text) {
  const stubs = {
    'k6/http': 'const http = {};',
    'k6/execution': 'const exec = {};',
    'k6/metrics': 'class Counter { add() {} } class Trend { add() {} }',
    'k6/x/sse': 'const sse = {};',
  };
  let source = text;
  for (const [module, stub] of Object.entries(stubs)) source = source.replace(new RegExp(`^import .* from '${module}';$`, 'm'), stub);
  globalThis.__ENV = { ...SECRETS_ENV };
  try {
    return (await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`)).options;
  } finally {
    delete globalThis.__ENV;
  }
}

test('Export k6 script: stages by time become k6 executors for their duration, ramps ramping ones', async () => {
  const { text } = await exported('Export k6 script', {
    endpoint: 'http://127.0.0.1:9', preset: 'seed',
    stages: [
      { concurrency: 3, duration: 10 },
      { concurrency: 8, duration: 20, rampFrom: 2 },
      { concurrency: 10, duration: 30, rate: 12.5 },
      { concurrency: 10, duration: 40, rate: 20, rampFrom: 0.5 },
    ],
  });
  const { stage_1: flat, stage_2: ramp, stage_3: rate, stage_4: rateRamp } = (await k6Options(text)).scenarios;
  // Each stage starts after the one before plus the 30 s timeout for its last requests.
  assert.deepEqual([flat.executor, flat.vus, flat.duration, flat.startTime], ['constant-vus', 3, '10000ms', '0ms']);
  assert.deepEqual(
    [ramp.executor, ramp.startVUs, ramp.stages, ramp.gracefulRampDown, ramp.startTime],
    ['ramping-vus', 2, [{ duration: '20000ms', target: 8 }], '30s', '40000ms'],
  );
  assert.deepEqual(
    [rate.executor, rate.rate, rate.timeUnit, rate.duration, rate.maxVUs, rate.startTime],
    ['constant-arrival-rate', 12500, '1000s', '30000ms', 10, '90000ms'],
  );
  assert.deepEqual(
    [rateRamp.executor, rateRamp.startRate, rateRamp.timeUnit, rateRamp.stages, rateRamp.maxVUs, rateRamp.startTime],
    ['ramping-arrival-rate', 500, '1000s', [{ duration: '40000ms', target: 20000 }], 10, '150000ms'],
  );
});

test('Export k6 script: parses as an ES module; with k6 stubbed, plans the stages and reads a stream as Stampede does', async () => {
  const { name, text } = await exported('Export k6 script', {
    endpoint: 'http://127.0.0.1:9', preset: 'openai-chat-stream',
    stages: [{ concurrency: 2, requests: 10 }, { concurrency: 3, requests: 15, rate: 20 }],
  });
  assert.equal(name, 'stampede-k6.js');
  assert.match(text, /^import sse from 'k6\/x\/sse';$/m);

  // A real parse, imports and all: node's ES module syntax check.
  const dir = mkdtempSync(path.join(tmpdir(), 'stampede-k6-'));
  const file = path.join(dir, 'stampede-k6.mjs');
  writeFileSync(file, text);
  try {
    execFileSync(process.execPath, ['--check', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // Evaluated with stand-ins for k6's modules (their imports become globals).
  const stubs = {
    'k6/http': 'const http = globalThis.k6.http;',
    'k6/execution': 'const exec = globalThis.k6.exec;',
    'k6/metrics': 'const { Counter, Trend } = globalThis.k6.metrics;',
    'k6/x/sse': 'const sse = globalThis.k6.sse;',
  };
  let source = text;
  for (const [module, stub] of Object.entries(stubs)) {
    const line = new RegExp(`^import .* from '${module}';$`, 'm');
    assert.match(source, line, module);
    source = source.replace(line, stub);
  }
  assert.doesNotMatch(source, /^import /m);
  const metrics = {};
  class Metric {
    constructor(metric) { this.values = []; metrics[metric] = this; }
    add(value, tags) { this.values.push({ value, tags }); }
  }
  let now = 0;
  let opened = null;
  let events = [];
  let status = 200;
  globalThis.k6 = {
    http: { request() { throw new Error('an SSE test sends through sse.open'); } },
    exec: { scenario: { name: 'stage_1', iterationInTest: 0 } },
    metrics: { Counter: Metric, Trend: Metric },
    sse: {
      open(url, params, setup) {
        opened = { url, params };
        const handlers = {};
        setup({ on: (kind, fn) => { handlers[kind] = fn; }, close() {} });
        for (const [at, data] of events) {
          now = at;
          handlers.event({ id: '', name: '', data });
        }
        now += 5;
        return { status, error: '' };
      },
    },
  };
  globalThis.__ENV = { ...SECRETS_ENV };
  const realNow = Date.now;
  Date.now = () => now;
  try {
    const k6 = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
    const { stage_1: closed, stage_2: open } = k6.options.scenarios;
    assert.deepEqual(
      [closed.executor, closed.vus, closed.iterations, closed.startTime, closed.maxDuration],
      // The page's default timeout is 30 s: the closed stage's window is ceil(10 / 2) × 30 s.
      ['shared-iterations', 2, 10, '0ms', '150000ms'],
    );
    assert.deepEqual(
      [open.executor, open.rate, open.timeUnit, open.duration, open.preAllocatedVUs, open.maxVUs, open.startTime],
      // 15 arrivals at 20/s take 750 ms; it starts after stage 1's window and its timeout.
      ['constant-arrival-rate', 20, '1s', '750ms', 3, 3, '180000ms'],
    );

    const chunk = (delta) => JSON.stringify({ choices: [{ index: 0, delta }] });
    // Iteration 3 of stage 1 is the page's request 2 + 3 = 5 (after 2 warm-ups).
    globalThis.k6.exec.scenario.iterationInTest = 3;
    now = 1000;
    events = [
      [1010, chunk({ role: 'assistant', content: '' })],
      [1040, chunk({ content: 'Hello' })],
      [1050, chunk({ content: ' there' })],
      [1055, JSON.stringify({ choices: [], usage: { completion_tokens: 2 } })],
      [1060, '[DONE]'],
    ];
    k6.request();
    assert.equal(opened.url, 'http://127.0.0.1:9/v1/chat/completions');
    assert.equal(opened.params.method, 'POST');
    assert.equal(opened.params.headers['X-Stampede-Request'], '5');
    assert.equal(opened.params.headers['X-Team-Token'], TEAM_TOKEN);
    assert.equal(opened.params.headers.Authorization, `Bearer ${API_KEY}`);
    const body = JSON.parse(opened.params.body);
    assert.equal(body.model, 'stampede-mock');
    assert.equal(body.messages[0].content, 'Explain the concept of machine learning in detail.');
    assert.equal(body.stream, true);
    // The role-only chunk is no content: TTFT is 1040 − 1000, latency until the end (1065).
    assert.deepEqual(metrics.stampede_ttft.values.map((v) => v.value), [40]);
    assert.deepEqual(metrics.stampede_latency.values.map((v) => v.value), [65]);
    assert.equal(metrics.stampede_ttft.values[0].tags.stage, closed.tags.stage);

    const failed = () => metrics.stampede_failures.values.map((v) => [v.tags.class, v.tags.status ?? null]);
    events = [[1010, chunk({ content: 'Hi' })], [1020, JSON.stringify({ error: { message: 'boom' } })]];
    k6.request();
    events = [[1010, chunk({ content: 'Hi' })]]; // cut: no [DONE]
    k6.request();
    status = 503;
    events = [];
    k6.request();
    assert.deepEqual(failed(), [['stream-error', null], ['parse', null], ['http', '503']]);
    assert.equal(metrics.stampede_latency.values.length, 1, 'failures have no latency');
  } finally {
    Date.now = realNow;
    delete globalThis.k6;
    delete globalThis.__ENV;
  }
});
