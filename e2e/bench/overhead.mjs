// Client-overhead benchmark: Stampede against a minimal hand-written fetch loop, in the same
// headless Chromium page, against the same mock. Prints figures; asserts nothing about time.
//
//   part 1  throughput: zero-delay mock, concurrency 6, REQUESTS requests (default 600);
//           requests/s of Stampede's stage vs the plain loop's N / wall time. Target ratio >= 0.95.
//           Also the renderer processes' CPU time per request (Linux /proc), steadier than the
//           ratio when other work on the machine competes (Stampede's includes its 6 warm-ups).
//   part 2  timing bias: mock sleeping 100 ms, concurrency 6, BIAS_REQUESTS (default 180);
//           Stampede's stage p50 vs the plain loop's median. Target: within 1 ms.
//           Also the browser's floor: the plain loop at concurrency 1 against the zero-delay mock.
//
// Rounds alternate the order (plain loop first on even rounds); ROUNDS (default 4).
// Run through `cargo xtask bench`, which builds the mock and the app and sets STAMPEDE_DIST,
// STAMPEDE_MOCK_BIN and CHROMIUM_PATH. Exit 1 only when something broke.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import {
  startMock, launch, openApp, configure, runToEnd, exportReport, rawFetchLoop, median, SEED_BODY,
} from '../tests/lib.mjs';

const CONCURRENCY = 6;
const BIAS_LATENCY_MS = 100;
const FLOOR_REQUESTS = 20;
const WARMUP_REQUESTS = 60;

function positiveInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new SetupError(`${name}=${raw}: expected a whole number >= 1`);
  return n;
}

class SetupError extends Error {}

function checkEnv() {
  const hint = 'run the benchmark with `cargo xtask bench`, or set it by hand';
  for (const name of ['STAMPEDE_DIST', 'STAMPEDE_MOCK_BIN']) {
    const v = process.env[name];
    if (!v) throw new SetupError(`${name} is not set: ${hint}`);
    if (!existsSync(v)) throw new SetupError(`${name}=${v} does not exist: ${hint}`);
  }
  const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    throw new SetupError(`Chromium not found at ${chromium}: set CHROMIUM_PATH or ${hint} (it installs Debian's chromium)`);
  }
}

/** Point the form at `endpoint` with one Custom stage of `requests` at `concurrency`, seed preset. */
async function setUpStage(page, endpoint, { concurrency, requests }) {
  await configure(page, { endpoint, suite: 'custom' });
  await page.getByLabel('Preset').selectOption('seed');
  const remove = page.getByRole('button', { name: 'Remove stage 2' });
  if (await remove.count()) await remove.click();
  for (const [label, value] of [['Stage 1 concurrency', concurrency], ['Stage 1 requests', requests]]) {
    await page.getByLabel(label).fill(String(value));
    await page.getByLabel(label).press('Tab');
  }
}

/** One Stampede run of the configured stage; checks it really ran `count` requests, all fine. */
async function stampedeRun(page, mock, count, errors) {
  await mock.reset();
  try {
    await runToEnd(page, 120_000);
  } catch (err) {
    const status = await page.locator('.status').first().innerText().catch(() => '(no .status)');
    throw new Error(`Stampede run of ${count} did not end: status "${status}"; the mock saw ${(await mock.stats()).requests}; page errors: ${errors.join(' | ') || 'none'}\n${err.message}`);
  }
  const { report } = await exportReport(page);
  const stats = await mock.stats();
  const st = report.stages?.[0];
  if (report.stages?.length !== 1 || st.completed !== count || st.successful !== count) {
    throw new Error(`Stampede run: expected 1 stage with ${count} successful requests, got ${JSON.stringify(report.stages?.map((s) => [s.completed, s.successful, s.errors]))}`);
  }
  // Warm-up requests (the app's default: one per concurrent slot) reach the mock but not the stage.
  const expected = count + (st.warmups ?? 0);
  if (stats.requests !== expected || stats.max_in_flight > CONCURRENCY) {
    throw new Error(`Stampede run: the mock saw ${stats.requests} requests (max ${stats.max_in_flight} in flight), expected ${expected} at <= ${CONCURRENCY}`);
  }
  if (errors.length) throw new Error(`page errors during the run:\n${errors.join('\n')}`);
  return st;
}

async function rawRun(page, mock, count) {
  await mock.reset();
  const r = await rawFetchLoop(page, `${mock.url}/generate`, { concurrency: CONCURRENCY, count, body: SEED_BODY });
  if (r.failed || r.times.length !== count) throw new Error(`plain loop: ${r.failed} of ${r.times.length} requests failed (expected ${count} fine)`);
  return r;
}

/** Alternate Stampede and the plain loop for `rounds` rounds; plain loop first on even rounds. */
async function alternate(rounds, one) {
  const rows = [];
  for (let i = 0; i < rounds; i++) {
    const rawFirst = i % 2 === 0;
    const row = { round: i + 1, order: rawFirst ? 'raw, app' : 'app, raw' };
    for (const who of rawFirst ? ['raw', 'app'] : ['app', 'raw']) row[who] = await one(who);
    rows.push(row);
  }
  return rows;
}

function table(header, rows) {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
  const line = (r) => r.map((c, j) => (j < 2 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  console.log(line(cells[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

/**
 * CPU time (user + system, ms) used so far by Chromium's renderer processes, from Linux /proc;
 * null elsewhere. Where the throughput ratio swings with whatever else the machine runs, the
 * CPU each request costs the renderer (the page and its worker) shows the client's own overhead.
 */
function processCpuMs() {
  if (!existsSync('/proc/self/stat')) return null;
  const tick = 10; // USER_HZ is 100 on Linux
  let renderer = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      renderer += (Number(f[11]) + Number(f[12])) * tick;
    } catch {
      // the process ended between listing and reading
    }
  }
  return { renderer };
}

const signed = (x, digits) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;

async function main() {
  checkEnv();
  const rounds = positiveInt('ROUNDS', 4);
  const requests = positiveInt('REQUESTS', 600);
  const biasRequests = positiveInt('BIAS_REQUESTS', 180);

  const mocks = [];
  let browser;
  try {
    const app = await startMock([], { app: true });
    mocks.push(app);
    const fast = await startMock(['--latency-ms', '0', '--tokens', '20']);
    mocks.push(fast);
    const slow = await startMock(['--latency-ms', String(BIAS_LATENCY_MS), '--tokens', '20']);
    mocks.push(slow);
    browser = await launch();
    const { page, errors } = await openApp(browser, app.appUrl);
    console.log(`client-overhead benchmark: ${await browser.version()}, ${rounds} rounds, concurrency ${CONCURRENCY}, seed preset`);
    console.log('(median = nearest rank, as Stampede reports it; times from performance.now() in the page;');
    console.log(" Stampede runs with the app's default warm-ups, which are not part of its stage figures)");

    // ---- part 1: throughput against the zero-delay mock
    console.log(`\npart 1: throughput, zero-delay mock (--latency-ms 0 --tokens 20), ${requests} requests per run`);
    await setUpStage(page, fast.url, { concurrency: CONCURRENCY, requests: WARMUP_REQUESTS });
    await stampedeRun(page, fast, WARMUP_REQUESTS, errors); // warm-up (JIT, connections), not counted
    await rawRun(page, fast, WARMUP_REQUESTS);
    await setUpStage(page, fast.url, { concurrency: CONCURRENCY, requests });
    const cpu = { app: [], raw: [] };
    const tput = await alternate(rounds, async (who) => {
      const before = processCpuMs();
      const rps = who === 'app'
        ? (await stampedeRun(page, fast, requests, errors)).requests_per_s
        : requests / ((await rawRun(page, fast, requests)).wallMs / 1000);
      const after = processCpuMs();
      if (before && after) cpu[who].push((after.renderer - before.renderer) / requests);
      return rps;
    });
    table(['round', 'order', 'Stampede req/s', 'raw req/s', 'ratio'],
      tput.map((r) => [r.round, r.order, r.app.toFixed(1), r.raw.toFixed(1), (r.app / r.raw).toFixed(3)]));
    const ratio = median(tput.map((r) => r.app / r.raw));
    const cpuLine = cpu.app.length && cpu.raw.length
      ? `renderer CPU per request (median of ${rounds}): Stampede ${median(cpu.app).toFixed(2)} ms (page + engine worker), raw ${median(cpu.raw).toFixed(2)} ms`
      : 'renderer CPU per request: not available (needs Linux /proc)';

    // ---- part 2: timing bias against a mock that sleeps 100 ms
    console.log(`\npart 2: timing bias, mock sleeping ${BIAS_LATENCY_MS} ms (--latency-ms ${BIAS_LATENCY_MS} --tokens 20), ${biasRequests} requests per run`);
    await setUpStage(page, slow.url, { concurrency: CONCURRENCY, requests: biasRequests });
    const bias = await alternate(rounds, async (who) =>
      who === 'app'
        ? (await stampedeRun(page, slow, biasRequests, errors)).latency_ms.p50
        : median((await rawRun(page, slow, biasRequests)).times));
    table(['round', 'order', 'Stampede p50 ms', 'raw median ms', 'diff ms'],
      bias.map((r) => [r.round, r.order, r.app.toFixed(1), r.raw.toFixed(1), signed(r.app - r.raw, 1)]));
    const appP50 = median(bias.map((r) => r.app));
    const rawP50 = median(bias.map((r) => r.raw));

    const floor = median((await rawFetchLoop(page, `${fast.url}/generate`, { concurrency: 1, count: FLOOR_REQUESTS, body: SEED_BODY })).times);
    if (errors.length) throw new Error(`page errors:\n${errors.join('\n')}`);

    return [
      `browser floor (raw loop, zero-delay mock, concurrency 1, ${FLOOR_REQUESTS} requests): median ${floor.toFixed(1)} ms`,
      `throughput (median of ${rounds} rounds): Stampede ${median(tput.map((r) => r.app)).toFixed(1)} req/s, raw ${median(tput.map((r) => r.raw)).toFixed(1)} req/s`,
      `throughput ratio (median of ${rounds} rounds): ${ratio.toFixed(2)}   (target >= 0.95)`,
      cpuLine,
      `latency bias at ${BIAS_LATENCY_MS} ms: ${signed(appP50 - rawP50, 1)} ms (Stampede p50 ${appP50.toFixed(1)} vs raw ${rawP50.toFixed(1)})   (target: within 1 ms)`,
    ];
  } finally {
    await browser?.close().catch(() => {});
    for (const m of mocks) m.stop();
  }
}

main().then(
  async (summary) => {
    // The mocks print their goodbye on stderr as they exit: let them, so the summary ends the output.
    await new Promise((r) => setTimeout(r, 300));
    console.log(`\n${summary.join('\n')}`);
    process.exit(0);
  },
  (err) => {
    console.error(`overhead benchmark failed: ${err instanceof SetupError ? err.message : err?.stack ?? err}`);
    process.exit(1);
  },
);
