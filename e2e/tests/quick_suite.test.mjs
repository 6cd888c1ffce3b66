// The Quick suite against the mock: counts, concurrency bound, latency against the browser's
// own floor, schema-valid export without secrets, and import of that export.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startMock, launch, openApp, configure, runToEnd, exportReport, schemaErrors, tableRows,
  median, rawFetchLoop,
} from './lib.mjs';

const LATENCY_MS = 100;
let mock, app, browser;

before(async () => {
  mock = await startMock(['--latency-ms', String(LATENCY_MS), '--tokens', '20']);
  app = await startMock([], { app: true });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  mock?.stop();
  app?.stop();
});

test('Quick suite: 30 requests in 2 stages, bounded concurrency, honest latency, valid export', async () => {
  const { page, errors } = await openApp(browser, app.appUrl);

  // The browser's floor: the same request with a plain fetch loop at each stage's concurrency,
  // measured before and after the run so that load on the machine moves both alike.
  const body = JSON.stringify({ prompt: 'Explain the concept of machine learning in detail.', max_length: 50, temperature: 0.7, do_sample: true });
  const rawMedians = async () => {
    const m = {};
    for (const [c, n] of [[2, 10], [5, 20]]) {
      m[c] = median(await rawFetchLoop(page, `${mock.url}/generate`, { concurrency: c, count: n, body }));
    }
    return m;
  };
  const rawBefore = await rawMedians();
  await mock.reset();

  await configure(page, {
    endpoint: mock.url,
    suite: 'quick',
    apiKey: 'sk-e2e-secret-key',
    headers: 'Authorization: Bearer header-secret\nX-Team: e2e',
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
  assert.ok(!text.includes('sk-e2e-secret-key'), 'API key never exported');
  assert.ok(!text.includes('header-secret'), 'Authorization header value redacted');
  assert.ok(text.includes('X-Team: e2e'));
  assert.ok(report.samples.every((s) => s.token_source === 'estimate' && s.output_tokens === 20));
  assert.deepEqual(report.environment.http_protocols, ['http/1.1']);
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
    // runs of the very same loop; this bound catches a wrong timing point, not sub-ms overhead
    // (the client-overhead benchmark of issue 4 is where that belongs).
    assert.ok(p50 >= lo - 10 && p50 <= hi + 10, `median ${p50} outside the plain loop's ${lo}–${hi} ms ± 10`);
    const achieved = report.stages[i].achieved_concurrency;
    assert.ok(achieved > c * 0.8 && achieved <= c + 1e-9, `achieved concurrency ${achieved} for ${c}`);
  }

  // Import what was exported: same table.
  const dir = mkdtempSync(join(tmpdir(), 'stampede-'));
  const file = join(dir, 'saved.json');
  writeFileSync(file, text);
  await page.reload();
  await page.locator('input[type=file]').setInputFiles(file);
  await page.getByRole('heading', { name: 'Results (imported from saved.json)' }).waitFor();
  assert.deepEqual(await tableRows(page), rows);
  assert.equal(errors.length, 0, errors.join('\n'));
});
