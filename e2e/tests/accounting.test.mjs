// Nothing lost, nothing leaked: every request the mock saw is one sample in the report, of the
// class the mock's fault deserves, matched request by request through `X-Stampede-Request: {{i}}`
// (the mock logs it as each request's tag); through Stop, a dead engine worker, a server without
// CORS, and a server that hides resource timing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock, launch, openApp, configure, runToEnd, exportReport, schemaErrors, customStages,
} from './lib.mjs';

let app, browser;
before(async () => {
  app = await startMock([], { app: true });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  app?.stop();
});

const TAG = 'X-Stampede-Request: {{i}}';
const TIMEOUT_S = 2;

/** Each mock fault and what the sample of its request must be. */
const EXPECTED = {
  ok: { cls: null, status: 200 },
  http_429: { cls: 'http', status: 429 },
  http_500: { cls: 'http', status: 500 },
  http_502: { cls: 'http', status: 502 },
  http_503: { cls: 'http', status: 503 },
  http_504: { cls: 'http', status: 504 },
  hang: { cls: 'timeout', status: null },
  // 200 (and, plain, the full Content-Length), then half the body and a closed connection:
  // Chromium fails the body read with a TypeError, which is a network error with its status.
  reset: { cls: 'network', status: 200 },
  malformed_body: { cls: 'parse', status: 200 },
  cut: { cls: 'parse', status: 200 },
  stream_error: { cls: 'stream-error', status: 200 },
  malformed_event: { cls: 'parse', status: 200 },
};

/** What each class's example message in a stage's `errors` says. */
const EXAMPLE = {
  http: /^HTTP (429|50[0234])\b/,
  timeout: new RegExp(`no complete response within ${TIMEOUT_S} s`),
  network: /^TypeError: (network error|Failed to fetch)/,
  parse: /not JSON|truncated|malformed|invalid/i,
  'stream-error': /injected stream error/,
  aborted: /stopped by the user|engine stopped/,
};

const PLAIN_FAULTS = [
  '--rate-limit-rate', '--error-rate', '--bad-gateway-rate', '--unavailable-rate',
  '--gateway-timeout-rate', '--hang-rate', '--reset-rate', '--malformed-body-rate',
].flatMap((flag) => [flag, '0.05']);
const STREAM_FAULTS = ['--cut-rate', '--stream-error-rate', '--malformed-rate', '--reset-rate']
  .flatMap((flag) => [flag, '0.08']);
const FAST_STREAM = ['--ttft-ms', '5', '--per-token-ms', '1', '--tokens', '10'];

/** One custom stage, no warm-ups, every request tagged with its index. */
async function setUp(page, endpoint, { preset = 'seed', stages, timeout = TIMEOUT_S }) {
  await configure(page, { endpoint, suite: 'custom', headers: TAG });
  await page.getByLabel('Preset').selectOption(preset);
  const model = page.getByLabel('Model');
  if (await model.count()) await model.fill('stampede-mock');
  await page.getByLabel('Timeout (s)').fill(String(timeout));
  await page.getByLabel('Warm-up requests per stage').fill('0');
  await customStages(page, stages);
}

async function exported(page) {
  const { report } = await exportReport(page);
  assert.equal(schemaErrors(report), null, JSON.stringify(schemaErrors(report)));
  return report;
}

/** The mock's log: one entry per model request it drew a fault for, by tag (= sample index). */
async function mockLog(mock) {
  const log = await (await fetch(`${mock.url}/stats/requests`)).json();
  assert.equal(log.dropped, 0);
  const byTag = new Map(log.requests.map((r) => [r.tag, r]));
  assert.equal(byTag.size, log.requests.length, 'no request reached the mock twice');
  return byTag;
}

/** Tally of the fault kinds in a log. */
const tally = (entries) => entries.reduce((t, r) => ({ ...t, [r.fault]: (t[r.fault] ?? 0) + 1 }), {});

/** The sample of each request the mock answered is what its fault deserves. */
function assertMatches(samples, byTag) {
  for (const s of samples) {
    const r = byTag.get(String(s.index));
    assert.ok(r, `request ${s.index} never reached the mock`);
    const want = EXPECTED[r.fault];
    assert.ok(want, `unexpected fault ${r.fault}`);
    // Absent figures are left out of the JSON: read them as null.
    const got = { cls: s.error_class ?? null, status: s.status ?? null };
    assert.deepEqual(got, want, `request ${s.index} (${r.fault}): ${s.error_message}`);
    if (r.fault === 'reset') assert.match(s.error_message, /while reading the body/);
  }
}

/** One sample's message per fault kind, for the log. */
function messages(samples, byTag) {
  const out = {};
  for (const s of samples) out[byTag.get(String(s.index))?.fault] ??= s.error_message;
  return out;
}

/** sent = ok + Σ error classes, and every class present has an example of its kind. */
function assertStageCounts(stage, sent) {
  const errors = stage.errors.reduce((n, e) => n + e.count, 0);
  assert.equal(stage.successful + errors, sent, JSON.stringify(stage.errors));
  for (const e of stage.errors) assert.match(e.example, EXAMPLE[e.class], `${e.class} example`);
}

/** Wait until the progress line counts at least `n` finished requests. */
async function waitDone(page, n, timeout = 30_000) {
  await page.waitForFunction((n) => {
    const done = /Run: (\d+) \//.exec(document.querySelector('.progress')?.innerText ?? '');
    return Number(done?.[1] ?? 0) >= n;
  }, n, { timeout });
}

const quiet = (errors) => errors.filter((e) => !/Failed to load resource|net::ERR_/.test(e));

for (const { name, preset, args, faults } of [
  {
    name: 'non-streamed (seed)', preset: 'seed', args: ['--latency-ms', '20', ...PLAIN_FAULTS],
    faults: ['ok', 'http_429', 'http_500', 'http_502', 'http_503', 'http_504', 'hang', 'reset', 'malformed_body'],
  },
  {
    name: 'streamed (OpenAI chat)', preset: 'openai-chat-stream', args: [...FAST_STREAM, ...STREAM_FAULTS],
    faults: ['ok', 'cut', 'stream_error', 'malformed_event', 'reset'],
  },
]) {
  test(`${name}: every fault the mock drew is one sample of the class it deserves, request by request`, async () => {
    const mock = await startMock(args);
    try {
      const { page, errors } = await openApp(browser, app.appUrl);
      await setUp(page, mock.url, { preset, stages: [{ concurrency: 4, requests: 120 }] });
      await runToEnd(page, 60_000);
      const report = await exported(page);
      const byTag = await mockLog(mock);
      const samples = report.samples.filter((s) => !s.warmup);
      console.log(`${name}: mock faults ${JSON.stringify(tally([...byTag.values()]))}; a message per fault ${JSON.stringify(messages(samples, byTag), null, 1)}`);
      assert.equal(report.stopped, false);
      assert.equal(samples.length, 120);
      assert.equal(byTag.size, 120, 'the mock saw each request once');
      assert.equal(new Set(samples.map((s) => s.index)).size, 120);
      // The seeded draws put every fault on at least one of these 120 requests.
      assert.deepEqual(Object.keys(tally([...byTag.values()])).sort(), [...faults].sort());
      assertMatches(samples, byTag);
      assertStageCounts(report.stages[0], 120);
      assert.deepEqual(quiet(errors), []);
    } finally {
      mock.stop();
    }
  });
}

test('a server without CORS: every request is network, none reaches it, and the page shows how to enable CORS', async () => {
  const mock = await startMock(['--no-cors']);
  try {
    const { page } = await openApp(browser, app.appUrl);
    await setUp(page, mock.url, { stages: [{ concurrency: 4, requests: 20 }] });
    await runToEnd(page, 30_000);
    const report = await exported(page);
    assert.equal(report.samples.length, 20);
    assert.ok(report.samples.every((s) => s.error_class === 'network' && s.status == null));
    assertStageCounts(report.stages[0], 20);
    // The failed preflight stops each request before the server would count it.
    assert.equal((await mock.stats()).requests, 0);
    await page.locator('#network-help').waitFor();
    assert.match(await page.locator('#network-help').innerText(), /OLLAMA_ORIGINS/);
  } finally {
    mock.stop();
  }
});

test('Stop during a faulty run keeps every finished sample and loses no request the mock saw', async () => {
  const mock = await startMock(['--latency-ms', '100', ...PLAIN_FAULTS]);
  try {
    const { page, errors } = await openApp(browser, app.appUrl);
    await setUp(page, mock.url, { stages: [{ concurrency: 4, requests: 400 }] });
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await waitDone(page, 30);
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('.status[data-phase="stopped"]').waitFor({ timeout: 10_000 });
    const report = await exported(page);
    const byTag = await mockLog(mock);
    const aborted = report.samples.filter((s) => s.error_class === 'aborted');
    const finished = report.samples.filter((s) => s.error_class !== 'aborted');
    console.log(`stop: ${finished.length} finished, ${aborted.length} aborted; the mock saw ${byTag.size}`);
    assert.equal(report.stopped, true);
    assert.ok(finished.length >= 30 && finished.length < 400, `${finished.length} finished`);
    assert.ok(aborted.length >= 1 && aborted.length <= 4, `${aborted.length} aborted at concurrency 4`);
    assert.ok(aborted.every((s) => s.error_message === 'stopped by the user'));
    assert.equal(new Set(report.samples.map((s) => s.index)).size, report.samples.length, 'one sample per request');
    // Every request the mock saw is in the report; the finished ones as the mock answered them.
    const indices = new Set(report.samples.map((s) => String(s.index)));
    for (const tag of byTag.keys()) assert.ok(indices.has(tag), `request ${tag} reached the mock but is not in the report`);
    assertMatches(finished, byTag);
    // Only an aborted request may be missing from the mock (stopped before it got there).
    assert.ok(report.samples.length - byTag.size <= aborted.length);
    assertStageCounts(report.stages[0], report.samples.length);
    // Nothing starts after Stop.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await mockLog(mock)).size, byTag.size);
    assert.deepEqual(quiet(errors), []);
  } finally {
    mock.stop();
  }
});

// The mock answers every request after 1 s, so a closed stage at concurrency 4 sends in waves a
// second apart, and the worker's batch after each wave (200 ms at most) lists the new wave in
// flight before the test kills it: the page then knows every request that reached the mock.
for (const [how, kill] of [
  ['closes itself (silent)', () => self.close()],
  ['throws', () => { setTimeout(() => { throw new Error('injected worker failure'); }); }],
]) {
  test(`an engine worker that ${how} mid-run: the run ends, its in-flight requests are aborted "engine stopped", none is sent twice`, async () => {
    const mock = await startMock(['--latency-ms', '1000', '--error-rate', '0.2', '--rate-limit-rate', '0.1']);
    try {
      const { page, errors } = await openApp(browser, app.appUrl);
      await setUp(page, mock.url, { stages: [{ concurrency: 4, requests: 40 }], timeout: 30 });
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      await waitDone(page, 8);
      const worker = page.workers().find((w) => w.url().includes('worker'));
      assert.ok(worker, `the engine's worker among ${page.workers().map((w) => w.url())}`);
      const killedAt = Date.now();
      await worker.evaluate(kill).catch(() => {});
      await page.locator('.status[data-phase="stopped"]').waitFor({ timeout: 10_000 });
      const noticedMs = Date.now() - killedAt;
      const report = await exported(page);
      const lost = report.samples.filter((s) => s.error_message === 'engine stopped');
      console.log(`worker ${how}: the page noticed after ${noticedMs} ms; ${report.samples.length} samples, ${lost.length} "engine stopped"; ${report.environment.engine_failure}`);
      assert.equal(report.stopped, true);
      assert.match(report.environment.engine_failure, how === 'throws' ? /failed: .*injected worker failure/ : /stopped answering/);
      // Silence counts from the last batch, up to 200 ms before the kill; checked every 250 ms.
      if (how !== 'throws') assert.ok(noticedMs >= 2800 && noticedMs < 6000, `noticed after ${noticedMs} ms`);
      assert.equal(lost.length, 4, 'the wave in flight');
      for (const s of lost) {
        assert.equal(s.error_class, 'aborted');
        assert.equal(s.status ?? null, null);
        assert.ok(s.end_ms > s.start_ms, `request ${s.index} ends when the page noticed`);
      }
      const indices = new Set(report.samples.map((s) => s.index));
      assert.equal(indices.size, report.samples.length, 'one sample per request');
      assert.ok(report.samples.length < 40);
      // Never re-sent: wait past the moment a fallback run would have started, then compare.
      await new Promise((r) => setTimeout(r, 1000));
      const byTag = await mockLog(mock);
      assert.equal((await mock.stats()).requests, indices.size);
      assert.deepEqual([...byTag.keys()].sort(), [...indices].map(String).sort());
      assertMatches(report.samples.filter((s) => s.error_message !== 'engine stopped'), byTag);
      assert.deepEqual(quiet(errors).filter((e) => !/engine's worker/.test(e)), []);
    } finally {
      mock.stop();
    }
  });
}

test('an engine worker that cannot load, before any request: the run goes on in the page, each request sent once', async () => {
  const mock = await startMock(['--latency-ms', '20', '--error-rate', '0.2']);
  try {
    const { page, errors } = await openApp(browser, app.appUrl);
    await page.context().route('**/engine_worker.js', (route) => route.abort());
    await setUp(page, mock.url, { stages: [{ concurrency: 4, requests: 40 }] });
    await runToEnd(page, 30_000);
    const report = await exported(page);
    assert.equal(report.stopped, false);
    assert.equal(report.environment.engine_in_worker, false, 'ran on the page');
    assert.equal(report.samples.length, 40);
    const byTag = await mockLog(mock);
    assert.equal(byTag.size, 40);
    assertMatches(report.samples, byTag);
    assert.deepEqual(quiet(errors).filter((e) => !/engine's worker/.test(e)), []);
  } finally {
    mock.stop();
  }
});

test('HTTP/1.1 without Timing-Allow-Origin: concurrency 10 on one origin is flagged, 5 is not', async () => {
  const mock = await startMock(['--no-timing-allow-origin', '--latency-ms', '50']);
  try {
    const { page } = await openApp(browser, app.appUrl);
    await setUp(page, mock.url, { stages: [{ concurrency: 10, requests: 60 }, { concurrency: 5, requests: 30 }] });
    await runToEnd(page, 60_000);
    const report = await exported(page);
    const [ten, five] = report.stages;
    assert.equal((await mock.stats()).max_in_flight, 6, 'the browser never sent more than 6');
    assert.match(ten.shortfall ?? '', /6 HTTP\/1\.1 connections per origin/);
    assert.equal(ten.sent_concurrency, null);
    assert.match(ten.sent_concurrency_unknown ?? '', /Timing-Allow-Origin/);
    assert.equal(five.shortfall, null);
    assert.equal(five.successful, 30);
  } finally {
    mock.stop();
  }
});
