// Browser benchmarks: every figure `cargo xtask bench` measures in a real headless Chromium, on
// the page's real build, against the release mock on loopback. Prints figures; asserts nothing
// about time (exit 1 only when something broke).
//
// What "client overhead" compares (what a user would compare): a bare fetch loop in a page of
// its own (the body built once, read with text()) against Stampede's own reported requests/s,
// both at the same concurrency against the same zero-delay mock, Stampede with no warm-ups,
// rounds alternating which goes first. CPU is the whole browser's (every Chromium process:
// browser, network service, renderers; Linux /proc), over each run's own window only: a user
// cannot separate the network service's work from the page's either.
//
//   paint      navigation start → the form is interactive (the Endpoint URL input exists and
//              is enabled), fresh context (cold cache) per load; median of PAINT_LOADS (5)
//   overhead   HTTP/1.1, concurrency 6, REQUESTS (600) per run: ratio of requests/s, CPU ratio
//   h2         HTTP/2 (`--tls` mock), concurrency 64, H2_REQUESTS (1920)
//   stream     streamed responses of 50 chunks (openai-chat-stream preset), concurrency 6; the
//              bare loop reads the body with a reader (a streaming measurement needs each chunk)
//   bias       mock sleeping 100 ms: Stampede's p50 − the bare loop's median, within 1 ms
//   rate       the closed-loop ceiling at concurrency 6 (the overhead part's Stampede runs), then
//              constant-rate stages at 50 % and 90 % of it (HTTP/1.1, cap 6) and 1,000 req/s over
//              HTTP/2 (cap 64): achieved rate within 2 % of the target, schedule-lag p99 <= 5 ms
//   stats      the statistics over 1,000,000 samples in the page's wasm (`?bench=stats`)
//   longtask   the longest main-thread task (PerformanceObserver longtask) during a
//              LONG_REQUESTS (20,000) request run with the charts on screen, <= 50 ms
//
// ROUNDS (default 4) alternating rounds per comparison; ONLY=paint,overhead,… runs a subset.
// Run through `cargo xtask bench`, which builds the mock and the app and sets STAMPEDE_DIST,
// STAMPEDE_MOCK_BIN and CHROMIUM_PATH; with STAMPEDE_BENCH_OUT it also writes the figures as
// JSON ([{ figure, target, measured, pass }]) for its table.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import {
  startMock, launch, openApp, configure, runToEnd, exportReport, median, SEED_BODY,
} from '../tests/lib.mjs';

const PARTS = ['paint', 'overhead', 'h2', 'stream', 'bias', 'rate', 'stats', 'longtask'];
const BIAS_LATENCY_MS = 100;
const STREAM_CHUNKS = 50;
const RATE_H2_PER_S = 1000;

class SetupError extends Error {}

function positiveInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new SetupError(`${name}=${raw}: expected a whole number >= 1`);
  return n;
}

function checkEnv() {
  const hint = 'run the benchmark with `cargo xtask bench`, or set it by hand';
  for (const name of ['STAMPEDE_DIST', 'STAMPEDE_MOCK_BIN']) {
    const v = process.env[name];
    if (!v) throw new SetupError(`${name} is not set: ${hint}`);
    if (!existsSync(v)) throw new SetupError(`${name}=${v} does not exist: ${hint}`);
  }
  const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(chromium)) throw new SetupError(`Chromium not found at ${chromium}: set CHROMIUM_PATH or ${hint}`);
}

const figures = [];
/** One row of the final table; `pass` null when the figure has no target. */
function figure(name, target, measured, pass) {
  figures.push({ figure: name, target, measured, pass });
  console.log(`figure: ${name}; target: ${target}; measured: ${measured}; ${pass === null ? 'info' : pass ? 'pass' : 'miss'}`);
}

/**
 * CPU time (user + system, ms) used so far by every Chromium process this script started (the
 * descendants of this node process, less the mocks), from Linux /proc; null elsewhere.
 */
function browserCpuMs() {
  if (!existsSync('/proc/self/stat')) return null;
  const tick = 10; // USER_HZ is 100 on Linux
  const procs = new Map();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(pid), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) * tick });
    } catch {
      // the process ended between listing and reading
    }
  }
  const children = new Map();
  for (const [pid, p] of procs) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid).push(pid);
  }
  let total = 0;
  const todo = [...(children.get(process.pid) ?? [])];
  while (todo.length) {
    const pid = todo.pop();
    let cmd = '';
    try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (cmd.includes('stampede-mock')) continue;
    total += procs.get(pid)?.cpu ?? 0;
    todo.push(...(children.get(pid) ?? []));
  }
  return total;
}

function table(header, rows) {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
  const line = (r) => r.map((c, j) => (j < 2 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  console.log(line(cells[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

const signed = (x, digits) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;

/**
 * A page of its own for the bare loop: a static file of the app's server (its stylesheet, shown
 * as text), so it runs no script, yet is served from loopback with the app's headers: the same
 * origin, cross-origin isolation and local-network permission as the app. (A page Playwright
 * fulfils itself counts as public, and Chromium then refuses its requests to loopback.)
 */
async function barePage(browser, appUrl, { ignoreHTTPSErrors = false } = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors });
  const page = await context.newPage();
  await page.goto(new URL('main.css', appUrl).href);
  return page;
}

/**
 * The bare loop: `concurrency` workers each fetching until `count` requests were sent; the body
 * read with text() (streams: chunk by chunk through a reader). Times from performance.now().
 */
async function bareLoop(page, { url, concurrency, count, body, stream = false }) {
  return page.evaluate(async ({ url, concurrency, count, body, stream }) => {
    const init = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body };
    const times = [];
    let next = 0;
    let failed = 0;
    async function worker() {
      while (next < count) {
        next += 1;
        const t0 = performance.now();
        const r = await fetch(url, init);
        if (stream) {
          const reader = r.body.getReader();
          let last = 0;
          for (;;) {
            const { done } = await reader.read();
            if (done) break;
            last = performance.now();
          }
          if (!last) failed += 1;
        } else {
          await r.text();
        }
        times.push(performance.now() - t0);
        if (!r.ok) failed += 1;
      }
    }
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { times, wallMs: performance.now() - start, failed };
  }, { url, concurrency, count, body, stream });
}

/** Point the app's form at `endpoint` with `stages`, `preset`, no warm-ups. */
async function setUpApp(page, endpoint, { preset = 'seed', stages }) {
  await page.getByLabel('Preset').selectOption(preset);
  const model = page.getByLabel('Model');
  if (await model.count()) await model.fill('stampede-mock');
  await configure(page, { endpoint, stages, warmup: 0 });
}

/** One Stampede run as configured; its report's first stage and the browser CPU it took. */
async function appRun(page, mock, expected, errors) {
  await mock.reset();
  const before = browserCpuMs();
  try {
    await runToEnd(page, 180_000);
  } catch (err) {
    const status = await page.locator('.status').first().innerText().catch(() => '(no .status)');
    throw new Error(`Stampede run did not end: status "${status}"; page errors: ${errors.join(' | ') || 'none'}\n${err.message}`);
  }
  const after = browserCpuMs();
  const { report } = await exportReport(page);
  const st = report.stages?.[0];
  if (report.stages?.length !== 1 || !st) throw new Error(`Stampede run: expected 1 stage, got ${report.stages?.length}`);
  if (expected !== null && (st.completed !== expected || st.successful !== expected)) {
    throw new Error(`Stampede run: expected ${expected} successful requests, got ${JSON.stringify([st.completed, st.successful, st.errors])}`);
  }
  const stats = await mock.stats();
  if (expected !== null && stats.requests !== expected) {
    throw new Error(`Stampede run: the mock saw ${stats.requests} requests, expected ${expected} (no warm-ups)`);
  }
  if (errors.length) throw new Error(`page errors during the run:\n${errors.join('\n')}`);
  return { st, cpuMs: before !== null && after !== null ? after - before : null };
}

async function bareRun(page, mock, opts) {
  await mock.reset();
  const before = browserCpuMs();
  const r = await bareLoop(page, opts);
  const after = browserCpuMs();
  if (r.failed || r.times.length !== opts.count) throw new Error(`bare loop: ${r.failed} of ${r.times.length} requests failed (expected ${opts.count} fine)`);
  return { ...r, perS: opts.count / (r.wallMs / 1000), cpuMs: before !== null && after !== null ? after - before : null };
}

/** Alternate `app` and `bare` for `rounds` rounds; the bare loop first on even rounds. */
async function alternate(rounds, one) {
  const rows = [];
  for (let i = 0; i < rounds; i++) {
    const bareFirst = i % 2 === 0;
    const row = { round: i + 1, order: bareFirst ? 'bare, app' : 'app, bare' };
    for (const who of bareFirst ? ['bare', 'app'] : ['app', 'bare']) row[who] = await one(who);
    rows.push(row);
  }
  return rows;
}

/**
 * Requests/s and CPU per request of Stampede against the bare loop, alternating; prints the
 * rounds and adds the two figures. Returns Stampede's median requests/s.
 */
async function compare(label, { app, bare, mock, errors, rounds, count, concurrency, preset, body, stream, url }) {
  await setUpApp(app, mock.url, { preset, stages: [{ concurrency, requests: count }] });
  const rows = await alternate(rounds, async (who) => {
    if (who === 'app') {
      const { st, cpuMs } = await appRun(app, mock, count, errors);
      return { perS: st.requests_per_s, cpu: cpuMs === null ? null : cpuMs / count };
    }
    const r = await bareRun(bare, mock, { url, concurrency, count, body, stream });
    return { perS: r.perS, cpu: r.cpuMs === null ? null : r.cpuMs / count };
  });
  console.log(`\n${label}: ${count} requests per run, concurrency ${concurrency}, ${rounds} alternating rounds`);
  table(['round', 'order', 'Stampede req/s', 'bare req/s', 'ratio', 'CPU ms/req app', 'bare', 'CPU ratio'],
    rows.map((r) => [r.round, r.order, r.app.perS.toFixed(1), r.bare.perS.toFixed(1), (r.app.perS / r.bare.perS).toFixed(3),
      r.app.cpu?.toFixed(2) ?? '–', r.bare.cpu?.toFixed(2) ?? '–', r.app.cpu && r.bare.cpu ? (r.app.cpu / r.bare.cpu).toFixed(3) : '–']));
  const ratios = rows.map((r) => r.app.perS / r.bare.perS);
  const ratio = median(ratios);
  const spread = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
  figure(`${label}: requests/s, Stampede / bare loop`, '>= 0.95',
    `${ratio.toFixed(2)} (median of ${rounds}; rounds ${spread}; ${median(rows.map((r) => r.app.perS)).toFixed(0)} vs ${median(rows.map((r) => r.bare.perS)).toFixed(0)} req/s)`,
    ratio >= 0.95);
  if (rows.every((r) => r.app.cpu && r.bare.cpu)) {
    const cpuRatios = rows.map((r) => r.app.cpu / r.bare.cpu);
    const c = median(cpuRatios);
    figure(`${label}: browser CPU per request, Stampede / bare loop`, '<= 1.05',
      `${c.toFixed(2)} (median; rounds ${Math.min(...cpuRatios).toFixed(2)}–${Math.max(...cpuRatios).toFixed(2)}; ${median(rows.map((r) => r.app.cpu)).toFixed(2)} vs ${median(rows.map((r) => r.bare.cpu)).toFixed(2)} ms)`,
      c <= 1.05);
  } else {
    figure(`${label}: browser CPU per request, Stampede / bare loop`, '<= 1.05', 'not measured (needs Linux /proc)', null);
  }
  return median(rows.map((r) => r.app.perS));
}

/** The chat-stream body Stampede's openai-chat-stream preset sends for stage 1 (50 tokens). */
const STREAM_BODY = JSON.stringify({
  model: 'stampede-mock',
  messages: [{ role: 'user', content: 'Explain the concept of machine learning in detail.' }],
  max_tokens: STREAM_CHUNKS,
  temperature: 0.7,
  stream: true,
  stream_options: { include_usage: true },
});

async function paint(browser, appUrl, loads) {
  const times = [];
  for (let i = 0; i < loads; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
      const done = () => {
        const el = document.getElementById('endpoint-url');
        if (el && !el.disabled && el.isConnected) {
          window.__interactiveAt = performance.now();
          return true;
        }
        return false;
      };
      new MutationObserver((_, obs) => { if (done()) obs.disconnect(); })
        .observe(document, { childList: true, subtree: true });
    });
    await page.goto(appUrl);
    await page.waitForFunction(() => window.__interactiveAt !== undefined, null, { timeout: 30_000 });
    times.push(await page.evaluate(() => window.__interactiveAt));
    await context.close();
  }
  console.log(`\nfirst paint: ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
  const m = median(times);
  figure('first paint: navigation start → form interactive (loopback, cold cache)', '<= 1000 ms',
    `${m.toFixed(0)} ms (median of ${loads}; ${Math.min(...times).toFixed(0)}–${Math.max(...times).toFixed(0)})`, m <= 1000);
}

async function statsInWasm(browser, appUrl) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(new URL('?bench=stats', appUrl).href);
  const pre = page.locator('#bench-result');
  await pre.waitFor({ timeout: 180_000 });
  const r = JSON.parse(await pre.innerText());
  await context.close();
  console.log(`\nstatistics in wasm: ${JSON.stringify(r)}`);
  figure(`statistics over ${r.samples.toLocaleString('en')} samples, in the page's wasm (headless Chromium)`, '<= 150 ms',
    `${r.median_ms.toFixed(1)} ms (median of ${r.times_ms.length}; ${Math.min(...r.times_ms).toFixed(1)}–${Math.max(...r.times_ms).toFixed(1)})`,
    r.median_ms <= 150);
}

async function longTasks(browser, appUrl, mock, requests) {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(appUrl);
  await page.getByLabel('Endpoint URL').waitFor();
  await setUpApp(page, mock.url, { stages: [{ concurrency: 6, requests }] });
  await mock.reset();
  const ranAt = await page.evaluate(() => performance.now());
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.locator('.status[data-phase="running"]').waitFor({ timeout: 10_000 });
  await page.locator('section.charts').scrollIntoViewIfNeeded();
  await page.locator('.status[data-phase="finished"], .status[data-phase="stopped"]').waitFor({ timeout: 600_000 });
  await page.waitForTimeout(500); // the last publish and drawing
  const tasks = (await page.evaluate(() => window.__longTasks)).filter(([at]) => at >= ranAt);
  const { report } = await exportReport(page);
  await context.close();
  if (report.stages?.[0]?.successful !== requests) throw new Error(`long-task run: ${report.stages?.[0]?.successful} of ${requests} succeeded`);
  if (errors.length) throw new Error(`page errors: ${errors.join(' | ')}`);
  const longest = tasks.reduce((m, [, d]) => Math.max(m, d), 0);
  console.log(`\nlong tasks during the ${requests}-request run: ${tasks.length} (${tasks.map(([, d]) => d.toFixed(0)).join(', ') || 'none'})`);
  figure(`longest main-thread task, ${requests.toLocaleString('en')}-request run, charts on screen`, '<= 50 ms',
    tasks.length ? `${longest.toFixed(0)} ms (${tasks.length} over 50 ms)` : 'none over 50 ms', longest <= 50);
}

/** One constant-rate stage; its achieved rate and schedule lag against the targets. */
async function rateStage(app, mock, errors, { label, rate, concurrency }) {
  const requests = Math.max(1000, Math.min(4000, Math.round(rate * 4)));
  await setUpApp(app, mock.url, { stages: [{ concurrency, requests, rate: rate.toFixed(1) }] });
  const { st } = await appRun(app, mock, null, errors);
  const achieved = st.achieved_rate_per_s ?? 0;
  const lag = st.schedule_lag_ms?.p99 ?? Infinity;
  const off = achieved / rate - 1;
  console.log(`${label}: ${requests} arrivals at ${rate.toFixed(1)}/s, cap ${concurrency}: achieved ${achieved.toFixed(1)}/s (${signed(off * 100, 1)} %), lag p50 ${st.schedule_lag_ms?.p50?.toFixed(1)} p99 ${lag.toFixed(1)} ms, dropped ${st.dropped}, late ${st.late}`);
  figure(`${label}: achieved rate vs ${rate.toFixed(0)}/s`, 'within 2 %',
    `${achieved.toFixed(1)}/s (${signed(off * 100, 1)} %; ${st.dropped} dropped at the cap)`, Math.abs(off) <= 0.02);
  figure(`${label}: schedule-lag p99`, '<= 5 ms', `${lag.toFixed(1)} ms`, lag <= 5);
}

async function main() {
  checkEnv();
  const rounds = positiveInt('ROUNDS', 4);
  const requests = positiveInt('REQUESTS', 600);
  const h2Requests = positiveInt('H2_REQUESTS', 1920);
  const biasRequests = positiveInt('BIAS_REQUESTS', 180);
  const longRequests = positiveInt('LONG_REQUESTS', 20_000);
  const paintLoads = positiveInt('PAINT_LOADS', 5);
  const only = process.env.ONLY ? process.env.ONLY.split(',') : PARTS;
  for (const p of only) if (!PARTS.includes(p)) throw new SetupError(`ONLY: unknown part ${p} (parts: ${PARTS.join(', ')})`);
  const want = (p) => only.includes(p);

  const mocks = [];
  let browser;
  try {
    const start = async (args, opts) => { const m = await startMock(args, opts); mocks.push(m); return m; };
    const site = await start([], { app: true });
    const fast = await start(['--latency-ms', '0', '--tokens', '20']);
    browser = await launch();
    console.log(`browser benchmarks: ${await browser.version()}, ${rounds} alternating rounds per comparison; machine load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    console.log('(median = nearest rank; times from performance.now() in the page; CPU = every Chromium process, /proc)');

    if (want('paint')) await paint(browser, site.appUrl, paintLoads);
    if (want('stats')) await statsInWasm(browser, site.appUrl);

    const { page: app, errors } = await openApp(browser, site.appUrl, { ignoreHTTPSErrors: true });
    const bare = await barePage(browser, site.appUrl, { ignoreHTTPSErrors: true });
    let ceiling = null;
    if (want('overhead') || want('rate')) {
      ceiling = await compare('HTTP/1.1, c=6', {
        app, bare, mock: fast, errors, rounds, count: requests, concurrency: 6, body: SEED_BODY, url: `${fast.url}/generate`,
      });
      figure('closed-loop ceiling, concurrency 6, HTTP/1.1, zero-delay mock', '(info)', `${ceiling.toFixed(0)} req/s`, null);
    }
    if (want('h2') || want('rate')) {
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the mock's self-signed loopback certificate
      const tls = await start(['--tls', '--latency-ms', '0', '--tokens', '20']);
      if (want('h2')) {
        await compare('HTTP/2, c=64', {
          app, bare, mock: tls, errors, rounds, count: h2Requests, concurrency: 64, body: SEED_BODY, url: `${tls.url}/generate`,
        });
      }
      if (want('rate')) {
        console.log('\nrate ceiling: constant-rate stages');
        for (const share of [0.5, 0.9]) {
          await rateStage(app, fast, errors, { label: `rate ${share * 100} % of the ceiling, HTTP/1.1, cap 6`, rate: ceiling * share, concurrency: 6 });
        }
        await rateStage(app, tls, errors, { label: `rate ${RATE_H2_PER_S}/s, HTTP/2, cap 64`, rate: RATE_H2_PER_S, concurrency: 64 });
      }
    }
    if (want('stream')) {
      const streaming = await start(['--ttft-ms', '0', '--per-token-ms', '0', '--tokens', String(STREAM_CHUNKS), '--no-role-chunk']);
      await compare(`streamed, ${STREAM_CHUNKS} chunks, c=6`, {
        app, bare, mock: streaming, errors, rounds, count: requests, concurrency: 6, preset: 'openai-chat-stream',
        body: STREAM_BODY, stream: true, url: `${streaming.url}/v1/chat/completions`,
      });
    }
    if (want('bias')) {
      const slow = await start(['--latency-ms', String(BIAS_LATENCY_MS), '--tokens', '20']);
      await setUpApp(app, slow.url, { stages: [{ concurrency: 6, requests: biasRequests }] });
      const rows = await alternate(rounds, async (who) => (who === 'app'
        ? (await appRun(app, slow, biasRequests, errors)).st.latency_ms.p50
        : median((await bareRun(bare, slow, { url: `${slow.url}/generate`, concurrency: 6, count: biasRequests, body: SEED_BODY })).times)));
      console.log(`\ntiming bias: mock sleeping ${BIAS_LATENCY_MS} ms, ${biasRequests} requests per run, concurrency 6`);
      table(['round', 'order', 'Stampede p50 ms', 'bare median ms', 'diff ms'],
        rows.map((r) => [r.round, r.order, r.app.toFixed(2), r.bare.toFixed(2), signed(r.app - r.bare, 2)]));
      const diffs = rows.map((r) => r.app - r.bare);
      const d = median(diffs);
      figure(`timing bias at ${BIAS_LATENCY_MS} ms: Stampede p50 − bare loop median`, 'within ±1 ms',
        `${signed(d, 2)} ms (median of ${rounds}; rounds ${signed(Math.min(...diffs), 2)} to ${signed(Math.max(...diffs), 2)})`, Math.abs(d) <= 1);
    }
    if (want('longtask')) await longTasks(browser, site.appUrl, fast, longRequests);
    return figures;
  } finally {
    await browser?.close().catch(() => {});
    for (const m of mocks) m.stop();
  }
}

main().then(
  async (result) => {
    // The mocks print their goodbye on stderr as they exit: let them, so the figures end the output.
    await new Promise((r) => setTimeout(r, 300));
    if (process.env.STAMPEDE_BENCH_OUT) writeFileSync(process.env.STAMPEDE_BENCH_OUT, JSON.stringify(result, null, 1));
    process.exit(0);
  },
  (err) => {
    console.error(`browser benchmark failed: ${err instanceof SetupError ? err.message : err?.stack ?? err}`);
    process.exit(1);
  },
);
