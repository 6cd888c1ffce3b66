// Stages by time in the page, for real: a custom stage of 4 concurrent for 3 s against the mock
// starts requests for its duration and no longer, and what it reports is what the mock saw; a
// ramp reaches its target in flight at the mock. No figure here depends on the machine's speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appAndBrowser, withMock, configure, runToEnd, exportReport, schemaErrors } from './lib.mjs';

const fx = appAndBrowser();

/**
 * A sample's start is stamped as its fetch is made, just after the runner checked its clock
 * against the stage's end: this much later at most (a fraction of one 50 ms response).
 */
const STAMP_SLACK_MS = 25;

/** Run the form's custom stages against `mock` and export; the page must log no error. */
async function runStages(mock, stages, whileRunning) {
  const { page, errors } = await fx.open();
  try {
    await configure(page, { endpoint: mock.url, warmup: 0, stages });
    const running = whileRunning ? whileRunning(page) : Promise.resolve();
    await runToEnd(page, 60_000);
    const seen = await running;
    const { report } = await exportReport(page);
    assert.deepEqual(errors, []);
    assert.equal(schemaErrors(report), null);
    return { report, seen };
  } finally {
    await page.context().close();
  }
}

test('a stage by time runs for its duration; its requests are those the mock saw', async (t) => {
  await withMock(['--latency-ms', '50'], async (mock) => {
    const { report, seen } = await runStages(mock, [{ concurrency: 4, duration: 3 }], async (page) => {
      // Its progress is its clock, not a count.
      const label = page.locator('.progress label').first();
      await page.getByText(/— \d+ requests, \d+ \/ 3 s$/).first().waitFor({ timeout: 20_000 });
      return label.innerText();
    });
    assert.match(seen, /^Stage 1: .* — \d+ requests, \d+ \/ 3 s/);
    const st = report.stages[0];
    assert.equal(st.planned_duration_s, 3);
    assert.equal(report.config.custom_stages[0].duration_s, 3);
    const stats = await mock.stats();
    // Every request the mock saw is in the report, each completed (those in flight at the
    // end finished and count), and 4 were in flight at once, never more.
    assert.equal(report.samples.length, stats.requests);
    assert.equal(st.completed, stats.requests);
    assert.equal(stats.max_in_flight, 4);
    // Requests started for 3 s and no longer; something was in flight at 3 s, so the stage's
    // wall time (first start → last end) covers the duration.
    const starts = report.samples.map((s) => s.start_ms);
    const first = Math.min(...starts);
    const last = Math.max(...starts);
    assert.ok(st.wall_ms >= 3000, `wall ${st.wall_ms} ms`);
    assert.ok(last - first < 3000 + STAMP_SLACK_MS, `a request started ${last - first} ms in`);
    t.diagnostic(`4 for 3 s: ${stats.requests} requests, wall ${st.wall_ms.toFixed(0)} ms, last start ${(last - first).toFixed(0)} ms in`);
  });
});

test('a ramp by time reaches its target in flight at the mock', async (t) => {
  await withMock(['--latency-ms', '50'], async (mock) => {
    // 1 → 5 over 3 s: levels 1…5, each for 600 ms (under HTTP/1.1's 6 per origin).
    const { report } = await runStages(mock, [{ concurrency: 5, duration: 3, rampFrom: 1 }]);
    const st = report.stages[0];
    assert.equal(st.ramp_from, 1);
    const stats = await mock.stats();
    assert.equal(stats.max_in_flight, 5);
    assert.deepEqual(st.max_in_flight, [5]);
    assert.equal(report.samples.length, stats.requests);
    // At level 1 (its first 600 ms) one at a time: those started in the first 500 ms never overlap.
    const early = report.samples.map((s) => [s.start_ms, s.end_ms]).sort((a, b) => a[0] - b[0]);
    const t0 = early[0][0];
    const first = early.filter(([s]) => s < t0 + 500);
    assert.ok(first.length >= 2, JSON.stringify(first));
    for (let k = 1; k < first.length; k++) assert.ok(first[k][0] >= first[k - 1][1], `overlap at level 1: ${JSON.stringify(first)}`);
    t.diagnostic(`ramp 1 → 5 over 3 s: ${stats.requests} requests, max ${stats.max_in_flight} in flight at the mock`);
  });
});

test('the stage editor checks a stage by time where it is typed', async () => {
  const { page, errors } = await fx.open();
  try {
    await configure(page, { endpoint: 'http://127.0.0.1:9', stages: [{ concurrency: 2, duration: 0 }] });
    const error = page.locator('#stage-1-duration-error');
    await error.waitFor();
    assert.match(await error.innerText(), /between 1 s and 86400 s/);
    await page.getByLabel('Stage 1 duration').fill('5');
    await page.getByLabel('Stage 1 duration').press('Tab');
    await page.getByLabel('Stage 1 ramp from').fill('1.5');
    await page.getByLabel('Stage 1 ramp from').press('Tab');
    await page.locator('#stage-1-ramp-error').waitFor();
    assert.match(await page.locator('#stage-1-ramp-error').innerText(), /whole concurrency/);
    // Back to a request count: the row shows its requests input again, and the form is valid.
    await page.getByLabel('Stage 1 runs for').selectOption('requests');
    await page.getByLabel('Stage 1 requests').waitFor();
    assert.equal(await page.locator('#stage-1-ramp-error').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Run', exact: true }).isEnabled(), true);
    assert.deepEqual(errors, []);
  } finally {
    await page.context().close();
  }
});
