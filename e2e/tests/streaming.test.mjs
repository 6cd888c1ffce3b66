// Streamed responses against the mock: TTFT, TPOT and token source for the OpenAI chat stream
// and Ollama; a stream cut mid-way and an in-band error each counted once; one request's detail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, appAndBrowser, configure, runToEnd, exportReport, schemaErrors } from './lib.mjs';

const TTFT_MS = 200;
const TOKEN_MS = 20;
const TOKENS = 50;
const fx = appAndBrowser();

/** One custom stage of `requests` at `concurrency`, with `preset`. */
async function setUp(page, endpoint, preset, { concurrency = 2, requests = 10 } = {}) {
  await page.getByLabel('Preset').selectOption(preset);
  const model = page.getByLabel('Model');
  if (await model.count()) await model.fill('stampede-mock');
  // One stage whatever the form held before (a reload keeps the form).
  await configure(page, { endpoint, stages: [{ concurrency, requests }] });
}

for (const preset of ['openai-chat-stream', 'ollama-chat']) {
  test(`${preset}: TTFT and TPOT match the server's timing; 50 tokens from usage`, async () => {
    const mock = await startMock(['--ttft-ms', String(TTFT_MS), '--per-token-ms', String(TOKEN_MS), '--tokens', String(TOKENS)]);
    try {
      const { page, errors } = await fx.open();
      await setUp(page, mock.url, preset);
      await runToEnd(page);
      const { report } = await exportReport(page);
      assert.equal(schemaErrors(report), null, JSON.stringify(schemaErrors(report)));
      const st = report.stages[0];
      assert.equal(st.successful, 10, JSON.stringify(st.errors));
      assert.ok(report.samples.every((s) => s.output_tokens === TOKENS && s.token_source === 'usage'));
      assert.ok(report.samples.every((s) => s.content_ms.length === TOKENS), 'one content event per token');
      console.log(`${preset}: TTFT p50 ${st.ttft_ms.p50.toFixed(1)} ms (server ${TTFT_MS}), TPOT p50 ${st.tpot_ms.p50.toFixed(2)} ms (server ${TOKEN_MS}), inter-chunk p50 ${st.inter_chunk_ms.p50.toFixed(1)} ms`);
      assert.ok(st.ttft_ms.p50 >= TTFT_MS && st.ttft_ms.p50 <= TTFT_MS + 15, `TTFT p50 ${st.ttft_ms.p50}`);
      // performance.now() is coarsened to 0.1 ms here: over 49 intervals that is ±0.002 ms.
      assert.ok(st.tpot_ms.p50 >= TOKEN_MS - 0.01 && st.tpot_ms.p50 <= TOKEN_MS + 1.5, `TPOT p50 ${st.tpot_ms.p50}`);

      // One request's detail: its timings and a 50-event chunk timeline.
      await page.locator('#request-table tbody tr').first().click();
      const detail = page.locator('#request-detail');
      await detail.waitFor();
      assert.match(await detail.innerText(), /50 \(source: usage\)/);
      assert.match(await detail.locator('figcaption').innerText(), /^50 content events; first at \d/);
      if (preset === 'ollama-chat') assert.match(await detail.innerText(), /Server's own timings/);
      assert.equal(errors.length, 0, errors.join('\n'));
    } finally {
      mock.stop();
    }
  });
}

test('a stream cut mid-way is a parse error and an in-band error a stream-error, each counted once', async () => {
  const fast = ['--ttft-ms', '5', '--per-token-ms', '1', '--tokens', '10'];
  const cut = await startMock([...fast, '--cut-rate', '1']);
  const inBand = await startMock([...fast, '--stream-error-rate', '1']);
  try {
    const { page } = await fx.open();
    for (const [mock, cls, message] of [[cut, 'parse', /truncated/], [inBand, 'stream-error', /injected stream error/]]) {
      await setUp(page, mock.url, 'openai-chat-stream', { concurrency: 2, requests: 6 });
      await runToEnd(page);
      const { report } = await exportReport(page);
      assert.equal(schemaErrors(report), null);
      const st = report.stages[0];
      assert.equal(st.completed, 6);
      assert.equal(st.successful, 0);
      assert.deepEqual(st.errors.map((e) => [e.class, e.count]), [[cls, 6]], 'one class per request, counted once');
      assert.match(st.errors[0].example, message);
      assert.ok(report.samples.every((s) => s.error_class === cls && s.content_ms.length > 0), 'the timeline until the fault is kept');
      await page.reload();
    }
  } finally {
    cut.stop();
    inBand.stop();
  }
});
