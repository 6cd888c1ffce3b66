// Compare with a baseline: a run exported, then set as the baseline through "Compare with a
// report…" beside a second run. The mock made 50 ms slower gives "significant" and deltas of
// about +50 ms; a second mock with the same flags gives "within noise". An export with a
// baseline set records it and the deltas, and validates against the schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appAndBrowser, withMock, runAndExport, exportReport, schemaErrors, configure, runToEnd } from './lib.mjs';

const fx = appAndBrowser();
const STAGES = [{ concurrency: 2, requests: 40 }];
// Uniform jitter, seeded: a fresh mock with the same flags draws the same 40 delays (in
// whatever order the requests come), so two runs against such mocks differ only by the
// browser's and the machine's noise. On a busy 2-core machine that noise reaches tens of ms
// on some requests, so the same-settings case spreads the delays over 500 ms: the noise is
// then small beside the spread. The slower case needs a narrow spread (20 ms) for 50 ms to
// stand out at 40 requests.
const mockArgs = (latencyMs, jitterMs = 20) =>
  ['--latency-ms', String(latencyMs), '--jitter-ms', String(jitterMs), '--seed', '7'];

/** Run the stages against a fresh mock, return the exported report. */
async function runAgainst(page, latencyMs, jitterMs) {
  return withMock(mockArgs(latencyMs, jitterMs), (mock) => runAndExport(page, { endpoint: mock.url, stages: STAGES }));
}

/** Save `text` as `name` and set it as the baseline through the page's file input. */
async function compareWith(page, name, text) {
  const path = join(mkdtempSync(join(tmpdir(), 'stampede-compare-')), name);
  writeFileSync(path, text);
  await page.getByLabel('Compare with a report').setInputFiles(path);
  await page.locator('#compared-with').waitFor();
}

const stageCell = (page, stage, metric, col) =>
  page.locator(`#comparison-table tbody[data-stage="${stage}"] tr[data-metric="${metric}"] [data-col="${col}"]`);

test('50 ms slower is significant; the export records the baseline and deltas', async () => {
  const { page, errors } = await fx.open();
  const fast = await runAgainst(page, 50);
  await withMock(mockArgs(100), async (mock) => {
    await configure(page, { endpoint: mock.url, stages: STAGES });
    await runToEnd(page);
  });
  await compareWith(page, 'fast-run.json', fast.text);
  assert.equal(await page.locator('#compared-with').innerText(), `Compared with fast-run (${fast.report.created_at})`);

  const verdict = page.locator('#comparison-table tbody[data-stage="0"] [data-col="verdict"]');
  assert.equal(await verdict.getAttribute('data-verdict'), 'significant');
  assert.match(await verdict.innerText(), /^significant \(p (<|=) 0\.\d+, Mann–Whitney U, n = 40 vs 40\)$/);
  // Latency p50: about 50 ms more, coloured worse; requests/s lower, also worse.
  const p50 = Number(await stageCell(page, 0, 'latency_p50_ms', 'delta').innerText());
  // 50 ms from the mock, give or take the machine's noise on the medians.
  assert.ok(p50 > 25 && p50 < 80, `Δ p50 ${p50}`);
  assert.match(await stageCell(page, 0, 'latency_p50_ms', 'delta').getAttribute('class'), /\bworse\b/);
  assert.match(await stageCell(page, 0, 'requests_per_s', 'delta').getAttribute('class'), /\bworse\b/);
  assert.equal(await stageCell(page, 0, 'success_rate', 'delta').innerText(), '+0.0 pp');
  assert.equal(await stageCell(page, 0, 'latency_p50_ms', 'baseline').innerText(), fast.report.stages[0].latency_ms.p50.toFixed(1));
  // The latency CDF chart overlays the compared stage.
  await page.locator('#figure-cdf:not(.hidden) #chart-cdf').waitFor();

  // The export carries the baseline and the same deltas, and validates.
  const { report } = await exportReport(page);
  assert.equal(schemaErrors(report), null, JSON.stringify(schemaErrors(report)));
  assert.deepEqual(report.baseline, { id: 'file:fast-run.json', label: 'fast-run', created_at: fast.report.created_at });
  const st = report.comparison.stages[0];
  assert.equal(st.baseline_stage, 0);
  assert.equal(st.latency_test.verdict, 'significant');
  assert.ok(st.latency_test.p_value < 0.05);
  assert.deepEqual([st.latency_test.n_baseline, st.latency_test.n_current], [40, 40]);
  const m = st.metrics.find((x) => x.metric === 'latency_p50_ms');
  assert.equal(m.baseline, fast.report.stages[0].latency_ms.p50);
  assert.equal(m.current, report.stages[0].latency_ms.p50);
  assert.ok(Math.abs(m.delta - (m.current - m.baseline)) < 1e-9);
  assert.equal(m.change, 'worse');
  console.log(`slower: Δ p50 ${m.delta.toFixed(1)} ms, p = ${st.latency_test.p_value.toExponential(2)}`);

  // Stop comparing: the comparison and the baseline are gone, and the next export has none.
  await page.getByRole('button', { name: 'Stop comparing' }).click();
  await page.locator('#comparison').waitFor({ state: 'detached' });
  const plain = await exportReport(page);
  assert.equal(plain.report.baseline, undefined);
  assert.equal(plain.report.comparison, undefined);
  assert.deepEqual(errors, []);
});

test('two runs against the same mock settings are within noise', async () => {
  const { page, errors } = await fx.open();
  const first = await runAgainst(page, 50, 500);
  const second = await runAgainst(page, 50, 500);
  await compareWith(page, 'first.json', first.text);
  const verdict = page.locator('#comparison-table tbody[data-stage="0"] [data-col="verdict"]');
  console.log(`same: p50 ${first.report.stages[0].latency_ms.p50.toFixed(1)} vs ${second.report.stages[0].latency_ms.p50.toFixed(1)} ms: ${await verdict.innerText()}`);
  assert.equal(await verdict.getAttribute('data-verdict'), 'within-noise', await verdict.innerText());
  assert.match(await verdict.innerText(), /^within noise \(p = [01]\.\d{4}, Mann–Whitney U, n = 40 vs 40\)$/);
  const { report } = await exportReport(page);
  const p = report.comparison.stages[0].latency_test.p_value;
  assert.ok(p >= 0.05);
  assert.deepEqual(errors, []);
});

test('a report that is not a report sets no baseline and says why', async () => {
  const { page } = await fx.open();
  const path = join(mkdtempSync(join(tmpdir(), 'stampede-compare-')), 'notes.json');
  writeFileSync(path, '{"tool": {"name": "k6"}}');
  await page.getByLabel('Compare with a report').setInputFiles(path);
  assert.match(await page.locator('#compare-error').innerText(), /^No baseline was set\. notes\.json: This JSON is not a Stampede report/);
  assert.equal(await page.locator('#comparison').count(), 0);
});

test('browser vs native: a command-line baseline names the figures the browser capped', async () => {
  const cli = process.env.STAMPEDE_CLI_BIN;
  assert.ok(cli, 'STAMPEDE_CLI_BIN is not set: run the tests with `cargo xtask test`');
  // Concurrency 10 over http://: the command line keeps 10 in flight, the browser 6.
  const stages = [{ concurrency: 10, requests: 40 }];
  const out = join(mkdtempSync(join(tmpdir(), 'stampede-native-')), 'cli-run.json');
  await withMock(mockArgs(50), (mock) =>
    promisify(execFile)(cli, ['--url', mock.url, '--stages', '10x40', '--output', out]));
  const text = readFileSync(out, 'utf8');
  assert.equal(JSON.parse(text).environment.client.kind, 'native');

  const { page, errors } = await fx.open();
  await withMock(mockArgs(50), async (mock) => {
    await configure(page, { endpoint: mock.url, stages });
    await runToEnd(page);
  });
  await compareWith(page, 'cli-run.json', text);
  assert.match(await page.locator('#compare-client-note').innerText(),
    /^Browser vs native: the baseline ran in the stampede command line \(no browser, no connection cap\)/);
  assert.equal(
    await page.locator('#comparison-table tbody[data-stage="0"] [data-col="client-note"]').innerText(),
    'capped by the browser: this run\'s browser sent at most 6 of the 10 in flight (6 connections per origin over HTTP/1.1) '
      + 'and queued the rest, so its latency, TTFT, requests/s and tokens/s include that queue; '
      + 'the baseline (the stampede command line) has no such cap');
  // The queue shows: 40 requests through 6 connections take longer than through 10.
  const p50 = Number(await stageCell(page, 0, 'latency_p50_ms', 'delta').innerText());
  console.log(`browser vs native at c=10: Δ p50 ${p50} ms`);
  assert.match(await stageCell(page, 0, 'requests_per_s', 'delta').getAttribute('class'), /\bworse\b/);

  // The command line's report imported on its own: the fidelity panel rates no browser limit.
  const path = join(mkdtempSync(join(tmpdir(), 'stampede-native-')), 'cli-run.json');
  writeFileSync(path, text);
  await page.locator('section.export input[type="file"]').setInputFiles(path);
  await page.getByRole('heading', { name: 'Results (imported from cli-run.json)' }).waitFor();
  const client = page.locator('#fidelity li', { hasText: 'Client:' });
  assert.match(await client.innerText(), /the stampede command line \(native\): no browser, so no 6-connections-per-origin cap/);
  assert.equal(await client.getAttribute('data-level'), 'green');
  assert.equal(await page.locator('#fidelity li', { hasText: 'Browser queue:' }).count(), 0);
  assert.deepEqual(errors, []);
});
