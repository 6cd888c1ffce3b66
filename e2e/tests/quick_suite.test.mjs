// The Quick suite against the mock: counts, concurrency bound, latency against the browser's
// own floor, schema-valid export without secrets, and import of that export.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startMock, configure, runToEnd, exportReport, schemaErrors, tableRows,
  median, rawFetchLoop, customStages, SEED_BODY,
  appAndBrowser,
} from './lib.mjs';

const LATENCY_MS = 100;
const fx = appAndBrowser();
let mock;

before(async () => {
  mock = await startMock(['--latency-ms', String(LATENCY_MS), '--tokens', '20']);
});
after(() => mock?.stop());

test('Quick suite: 30 requests in 2 stages, bounded concurrency, honest latency, valid export', async () => {
  const { page, errors } = await fx.open();

  // The browser's floor: the same request with a plain fetch loop at each stage's concurrency,
  // measured before and after the run so that load on the machine moves both alike.
  const rawMedians = async () => {
    const m = {};
    for (const [c, n] of [[2, 10], [5, 20]]) {
      m[c] = median((await rawFetchLoop(page, `${mock.url}/generate`, { concurrency: c, count: n, body: SEED_BODY })).times);
    }
    return m;
  };
  const rawBefore = await rawMedians();
  await mock.reset();

  await configure(page, {
    endpoint: `${mock.url}/?api_key=q-e2e-secret`,
    suite: 'quick',
    apiKey: 'sk-e2e-secret-key',
    headers: 'Authorization: Bearer header-secret\nX-Goog-Api-Key: goog-e2e-secret\nX-Team: e2e\nAccept: application/json',
  });
  await runToEnd(page);

  const rows = await tableRows(page);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows.map((r) => [r.name, r.total, r.successful, r['success-rate']]), [
    ['Low Concurrency Test', '10', '10', '100.0%'],
    ['Medium Concurrency Test', '20', '20', '100.0%'],
  ]);

  const { report, text, name } = await exportReport(page);
  const warmups = report.samples.filter((s) => s.warmup);
  assert.deepEqual(report.stages.map((s) => s.warmups), [2, 5], 'one warm-up per concurrent slot, listed apart');
  const stats = await mock.stats();
  assert.equal(stats.requests, 30 + warmups.length);
  assert.equal(stats.max_in_flight, 5, 'the server saw exactly the top stage concurrency, never more');
  const rawAfter = await rawMedians();
  assert.match(name, /^stampede-report-.*\.json$/);
  assert.equal(schemaErrors(report), null, JSON.stringify(schemaErrors(report), null, 1));
  assert.equal(report.samples.length - warmups.length, 30);
  assert.deepEqual(report.stages.map((s) => [s.requested_concurrency, s.completed, s.successful]), [[2, 10, 10], [5, 20, 20]]);
  for (const secret of ['sk-e2e-secret-key', 'header-secret', 'goog-e2e-secret', 'q-e2e-secret', 'X-Team: e2e']) {
    assert.ok(!text.includes(secret), `${secret} must not be exported`);
  }
  assert.match(report.config.headers, /X-Goog-Api-Key: \[redacted\]\nX-Team: \[redacted\]\nAccept: application\/json/);
  assert.equal(report.config.endpoint, `${mock.url}/?api_key=[redacted]`);
  assert.ok(report.samples.every((s) => s.token_source === 'estimate' && s.output_tokens === 20));
  assert.equal(report.schema_version, 2);
  assert.ok(!('http_protocols' in report.environment), 'version 2 keeps protocols per target only');
  assert.equal(report.environment.engine_in_worker, true, 'the engine ran in its Web Worker');
  assert.ok(report.environment.worker_lag_ms.count > 0, 'worker event-loop lag recorded');
  assert.deepEqual(report.environment.origins.map((o) => o.protocol), ['http/1.1']);
  assert.ok(report.stages.every((s) => s.browser_queue_ms && s.shortfall === null), 'queue time measured, no shortfall at c ≤ 6');

  for (const [i, c] of [[0, 2], [1, 5]]) {
    const p50 = report.stages[i].latency_ms.p50;
    const lo = Math.min(rawBefore[c], rawAfter[c]);
    const hi = Math.max(rawBefore[c], rawAfter[c]);
    console.log(`c=${c}: Stampede median ${p50.toFixed(1)} ms; plain fetch loop ${rawBefore[c].toFixed(1)} ms before, ${rawAfter[c].toFixed(1)} ms after; server sleeps ${LATENCY_MS} ms`);
    assert.ok(p50 >= LATENCY_MS, `median ${p50} below the server's own latency`);
    // Medians of 10–20 loopback requests on a loaded 2-core machine move by several ms between
    // runs of the very same loop; this bound catches a wrong timing point (latency inflated
    // past what the browser itself sees), not sub-ms overhead (that is the overhead benchmark's).
    // Only the upper side is compared with the loop: the loop runs on the page's main thread,
    // which load slows more than the engine's worker (one CI run read the loop at 121–124 ms
    // against Stampede's 109); the lower side is the server's own latency, checked above.
    assert.ok(p50 <= hi + 10, `median ${p50} above the plain loop's ${lo}–${hi} ms + 10`);
    const achieved = report.stages[i].achieved_concurrency;
    assert.ok(achieved > c * 0.8 && achieved <= c + 1e-9, `achieved concurrency ${achieved} for ${c}`);
  }

  // Import what was exported: same table.
  const dir = mkdtempSync(join(tmpdir(), 'stampede-'));
  const file = join(dir, 'saved.json');
  writeFileSync(file, text);
  await page.reload();
  await page.locator('section.export input[type=file]').setInputFiles(file);
  await page.getByRole('heading', { name: 'Results (imported from saved.json)' }).waitFor();
  assert.deepEqual(await tableRows(page), rows);
  assert.equal(errors.length, 0, errors.join('\n'));
});

test('charts wait while off-screen, then draw in device pixels when scrolled into view', async () => {
  const { page, errors } = await fx.open({ deviceScaleFactor: 2 });
  await configure(page, { endpoint: mock.url, stages: [{ concurrency: 2, requests: 10 }, { concurrency: 4, requests: 12 }] });
  await page.evaluate(() => window.scrollTo(0, 0));
  await runToEnd(page);
  const canvas = page.locator('#chart-histogram');
  const size = () => canvas.evaluate((c) => ({ width: c.width, height: c.height, css: c.clientWidth, cssHeight: c.clientHeight, top: c.getBoundingClientRect().top }));
  const offScreen = await size();
  assert.ok(offScreen.top > await page.evaluate(() => innerHeight), 'precondition: the charts start below the fold');
  assert.equal(offScreen.width, 300, 'an off-screen chart is not drawn (still the default 300 px canvas)');

  await canvas.scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.querySelector('#chart-histogram').width !== 300);
  const drawn = await size();
  assert.equal(drawn.width, Math.round(drawn.css * 2), 'sized in device pixels at a pixel ratio of 2');
  assert.equal(drawn.height, Math.round(drawn.cssHeight * 2));

  // Pixels: the histogram's bars and the scatter's points in their stage colours.
  const colours = (id) => page.evaluate((id) => {
    const c = document.getElementById(id);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const near = (r, g, b, tol) => { let n = 0; for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) <= tol) n++; return n; };
    return { blue: near(31, 119, 180, 60), orange: near(255, 127, 14, 60) };
  }, id);
  const hist = await colours('chart-histogram');
  assert.ok(hist.blue > 1000, `histogram bars drawn: ${JSON.stringify(hist)}`);
  await page.locator('#chart-over-time').scrollIntoViewIfNeeded();
  const time = await colours('chart-over-time');
  assert.ok(time.blue > 20 && time.orange > 20, `one point per request, coloured by stage: ${JSON.stringify(time)}`);
  assert.equal(errors.length, 0, errors.join('\n'));
});

test('the request list keeps its stage filter while a run goes on', async () => {
  const { page, errors } = await fx.open();
  await configure(page, { endpoint: mock.url, stages: [{ concurrency: 2, requests: 6 }, { concurrency: 2, requests: 40 }] });
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const filter = page.locator('#request-stage');
  await page.locator('#request-table tbody tr').first().waitFor();
  await filter.selectOption('0');
  // Several snapshots later (about 4 a second), stage 2 is running: the choice still stands.
  await page.waitForFunction(() => /Run: (2\d|3\d|4\d) \//.test(document.querySelector('.progress')?.innerText ?? ''), null, { timeout: 20_000 });
  assert.equal(await filter.inputValue(), '0');
  const stages = await page.locator('#request-table tbody tr').evaluateAll((rows) => rows.map((r) => r.cells[1]?.innerText));
  await page.locator('.status[data-phase="finished"]').waitFor({ timeout: 30_000 });
  assert.equal(await filter.inputValue(), '0');
  assert.ok(stages.length >= 6 && stages.every((x) => x === '1'), `rows of stage 1 only: ${stages}`);
  assert.equal(errors.length, 0, errors.join('\n'));
});
