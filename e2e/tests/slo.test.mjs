// Judging a run: a TTFT threshold between two stages' measured TTFT passes the first and fails
// the second, names the knee, travels in the export with verdicts and goodput, and re-judges
// the finished run at once when the threshold changes (no new request is sent).
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { appAndBrowser, withMock, runAndExport, exportReport, schemaErrors } from './lib.mjs';

const fx = appAndBrowser();

// 200 ms to the first token, then 10 tokens 5 ms apart: a request takes about 245 ms. At
// concurrency 12 on one http:// origin the browser sends 6 and queues 6, so half the
// requests' TTFT includes about one request's time in the queue: p95 ≈ 450 ms, against
// ≈ 200 ms at concurrency 2. The threshold sits between.
const MOCK = ['--ttft-ms', '200', '--per-token-ms', '5', '--tokens', '10'];
const THRESHOLD = 330;

test('a TTFT p95 threshold passes the light stage, fails the queued one, and re-judges without a run', async () => {
  await withMock(MOCK, async (mock) => {
    const { page, errors } = await fx.open();
    await page.getByLabel('Preset').selectOption('openai-chat-stream');
    await page.getByLabel('Model').fill('stampede-mock');
    const ttft = page.getByLabel('SLO TTFT p95 (ms)');
    // Inline validation: a negative threshold is an error at the field, empty is none.
    await ttft.fill('-5');
    await page.locator('#slo-ttft-p95-error').waitFor();
    assert.equal(await ttft.getAttribute('aria-invalid'), 'true');
    await ttft.fill(String(THRESHOLD));
    await page.locator('#slo-ttft-p95-error').waitFor({ state: 'detached' });
    await page.getByLabel('SLO error rate (%)').fill('5');

    const { report } = await runAndExport(page, {
      endpoint: mock.url,
      stages: [{ concurrency: 2, requests: 20 }, { concurrency: 12, requests: 24 }],
    });
    assert.equal(schemaErrors(report), null, JSON.stringify(schemaErrors(report)));
    const [light, queued] = report.stages;
    console.log(`TTFT p50 / p95: c=2 ${light.ttft_ms.p50.toFixed(1)} / ${light.ttft_ms.p95.toFixed(1)} ms, c=12 ${queued.ttft_ms.p50.toFixed(1)} / ${queued.ttft_ms.p95.toFixed(1)} ms; threshold ${THRESHOLD}`);
    assert.ok(light.ttft_ms.p95 < THRESHOLD && queued.ttft_ms.p95 > THRESHOLD, 'the threshold sits between the stages');

    // The report: thresholds, each stage's verdict and failing figure, goodput, the knee.
    const slo = report.slo;
    assert.deepEqual(slo.thresholds, { ttft_p95_ms: THRESHOLD, error_rate_pct: 5 });
    assert.equal(report.config.slo.ttft_p95_ms, THRESHOLD);
    assert.equal(slo.verdict, 'fail');
    assert.deepEqual(slo.stages.map((s) => s.verdict), ['pass', 'fail']);
    assert.match(slo.stages[1].failing[0], new RegExp(`^TTFT p95 [\\d.]+ ms > ${THRESHOLD} ms$`));
    assert.deepEqual(slo.knee, { unit: 'concurrency', meets_up_to: 2, first_failing: 12 });
    // Goodput: a request is good when its own TTFT ≤ the threshold. Every light one is; at
    // c=12 the queued ones are not (most or all of them: the queue never empties).
    const good = (stage) => report.samples.filter((s) => s.stage === stage && !s.warmup && !s.error_class
      && s.first_token_ms - s.start_ms <= THRESHOLD).length;
    assert.equal(slo.stages[0].good_requests, 20);
    assert.equal(slo.stages[0].goodput_share, 1);
    assert.equal(slo.stages[1].good_requests, good(1));
    assert.ok(good(1) < 24, `good at c=12: ${good(1)}`);
    assert.ok(Math.abs(slo.stages[1].good_per_s - good(1) / (queued.wall_ms / 1000)) < 1e-9);
    assert.ok(Math.abs(slo.stages[1].good_tokens_per_s - good(1) * 10 / (queued.wall_ms / 1000)) < 1e-9);

    // The page shows the same.
    const verdicts = page.locator('#slo-verdicts');
    assert.equal(await page.locator('#slo-run-verdict').innerText(), 'Run: fail');
    assert.equal(await verdicts.locator('tr[data-stage="0"] [data-col="verdict"]').innerText(), 'pass');
    assert.equal(await verdicts.locator('tr[data-stage="1"] [data-col="verdict"]').innerText(), 'fail');
    assert.match(await verdicts.locator('tr[data-stage="1"] [data-col="why"]').innerText(), /^TTFT p95 [\d.]+ ms > 330 ms$/);
    assert.equal(await page.locator('#slo-knee').innerText(), 'meets SLO up to 2 concurrent; fails at 12 concurrent');

    // Export CSV: a stage file (header + a row per stage, with verdicts and goodput) and a
    // request file (header + a row per sample, warm-ups included and marked).
    const downloads = [];
    page.on('download', (d) => downloads.push(d));
    await page.getByRole('button', { name: 'Export CSV' }).click();
    for (let i = 0; i < 50 && downloads.length < 2; i += 1) await page.waitForTimeout(100);
    assert.equal(downloads.length, 2);
    const csv = {};
    for (const d of downloads) csv[d.suggestedFilename().split('-')[1]] = readFileSync(await d.path(), 'utf8').trim().split('\n');
    const [head, ...stageRows] = csv.stages;
    const cols = head.split(',');
    assert.equal(stageRows.length, 2);
    const cell = (row, name) => stageRows[row].split(',')[cols.indexOf(name)];
    assert.deepEqual([cell(0, 'slo_verdict'), cell(1, 'slo_verdict')], ['pass', 'fail']);
    assert.equal(cell(0, 'good_requests'), '20');
    assert.equal(Number(cell(1, 'ttft_p95_ms')), queued.ttft_ms.p95);
    assert.equal(csv.requests.length, report.samples.length + 1);
    assert.match(csv.requests[0], /^stage,index,warmup,start_ms,end_ms,latency_ms,/);

    // What if the SLO were looser: re-judged at once from the same samples, no request sent.
    const served = (await mock.stats()).requests;
    await ttft.fill('2000');
    await page.locator('#slo-run-verdict[data-verdict="pass"]').waitFor({ timeout: 2_000 });
    assert.equal(await verdicts.locator('tr[data-stage="1"] [data-col="verdict"]').innerText(), 'pass');
    assert.equal(await verdicts.locator('tr[data-stage="1"] [data-col="good"]').innerText(), '24');
    assert.equal(await page.locator('#slo-knee').innerText(), 'meets SLO up to 12 concurrent (every load run)');
    // A tighter one than any stage: fails everywhere.
    await ttft.fill('100');
    await page.locator('#slo-knee', { hasText: 'fails the SLO from the lowest load run, 2 concurrent' }).waitFor({ timeout: 2_000 });
    assert.equal((await mock.stats()).requests, served, 'no new run');
    // The export carries the thresholds and verdicts now shown.
    await ttft.fill('2000');
    const again = (await exportReport(page)).report;
    assert.equal(again.slo.thresholds.ttft_p95_ms, 2000);
    assert.equal(again.slo.verdict, 'pass');
    assert.deepEqual(again.samples.length, report.samples.length);
    assert.equal(errors.length, 0, errors.join('\n'));

    // An imported run is judged the same way, from its samples, by the thresholds in the form.
    const fresh = await fx.open();
    await fresh.page.locator('section.export input[type=file]').setInputFiles({ name: 'run.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(report)) });
    await fresh.page.locator('#results-table').waitFor();
    await fresh.page.getByLabel('SLO TTFT p95 (ms)').fill(String(THRESHOLD));
    await fresh.page.locator('#slo-run-verdict[data-verdict="fail"]').waitFor({ timeout: 2_000 });
    assert.equal(await fresh.page.locator('#slo-knee').innerText(), 'meets SLO up to 2 concurrent; fails at 12 concurrent');
    await fresh.page.getByLabel('SLO TTFT p95 (ms)').fill('2000');
    await fresh.page.locator('#slo-run-verdict[data-verdict="pass"]').waitFor({ timeout: 2_000 });
    assert.equal(fresh.errors.length, 0, fresh.errors.join('\n'));
  });
});

test('Detect fills Model from the server\'s model list, and says so at the field when it cannot', async () => {
  await withMock([], async (mock) => {
    const { page, errors } = await fx.open();
    await page.getByLabel('Endpoint URL').fill(`${mock.url}/v1`);
    await page.getByLabel('Preset').selectOption('openai-chat-stream');
    await page.getByLabel('Model', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Detect' }).click();
    await page.getByLabel("Pick from the server's list").waitFor();
    assert.equal(await page.getByLabel('Model', { exact: true }).inputValue(), 'stampede-mock');
    // Ollama's list, at its own path.
    await page.getByLabel('Preset').selectOption('ollama-chat');
    await page.getByLabel('Endpoint URL').fill(mock.url);
    await page.getByLabel('Model', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Detect' }).click();
    await page.waitForFunction(() => document.querySelector('#model')?.value === 'stampede-mock');
    assert.equal(errors.length, 0, errors.join('\n'));
  });
  await withMock(['--no-cors'], async (mock) => {
    const { page } = await fx.open();
    await page.getByLabel('Endpoint URL').fill(mock.url);
    await page.getByLabel('Preset').selectOption('openai-chat');
    await page.getByRole('button', { name: 'Detect' }).click();
    assert.match(await page.locator('#detect-error').innerText(), /could not reach .*\/v1\/models: .*CORS/);
  });
});
