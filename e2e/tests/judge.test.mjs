// What a user takes away from a run: the errors-over-time chart by class, the latency stddev,
// a chart as a PNG at device pixels with its key drawn in, and the Markdown summary on the
// clipboard. One run against a mock that fails some requests (HTTP 500s and in-band stream
// errors); every figure is checked against the exported report's own samples.
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { appAndBrowser, withMock, runAndExport, tableRows } from './lib.mjs';

const fx = appAndBrowser();

// Streams of 6 tokens, 20 ms to the first and 3 ms apart; a fifth fail with a 500 before
// streaming, and about a tenth with an error event halfway through.
const MOCK = ['--ttft-ms', '20', '--per-token-ms', '3', '--tokens', '6', '--error-rate', '0.2', '--stream-error-rate', '0.1'];
const STAGES = [{ concurrency: 2, requests: 20 }, { concurrency: 4, requests: 32 }];

/** Width and height from a PNG's IHDR chunk (bytes 16–23, big-endian), after its signature. */
function pngSize(bytes) {
  assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'a PNG signature');
  assert.equal(bytes.subarray(12, 16).toString('ascii'), 'IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** Sample standard deviation (n − 1), as the README defines it; 0 for one value. */
function stddev(values) {
  if (values.length < 2) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
}

/**
 * Pixels of the colour `rgb` in the image `b64` (a PNG), in its rows from `fromRow` (a share of
 * the height) down: decoded by the page's own image decoder.
 */
async function pixelsOf(page, b64, rgb, fromRow) {
  return page.evaluate(async ({ b64, rgb, fromRow }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const top = Math.floor(c.height * fromRow);
    const d = ctx.getImageData(0, top, c.width, c.height - top).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2]) n += 1;
    }
    return n;
  }, { b64, rgb, fromRow });
}

test('errors over time, stddev, Export PNG and Copy summary agree with the run\'s samples', async () => {
  await withMock(MOCK, async (mock) => {
    const { page, errors } = await fx.open({ deviceScaleFactor: 2 });
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(page.url()).origin });
    await page.getByLabel('Preset').selectOption('openai-chat-stream');
    await page.getByLabel('Model', { exact: true }).fill('stampede-mock');
    // An error rate no stage with a fifth of its requests failing can meet.
    await page.getByLabel('SLO error rate (%)').fill('2');
    // A latency threshold every stage meets (p50 needs only 2 samples to be judged).
    await page.getByLabel('SLO latency p50 (ms)').fill('5000');
    const { report } = await runAndExport(page, { endpoint: mock.url, stages: STAGES });
    const measured = report.samples.filter((s) => !s.warmup);

    // Errors over time: the classes drawn, and how many of each, are the report's failures.
    const expected = {};
    for (const s of measured) {
      if (s.error_class && s.error_class !== 'aborted') expected[s.error_class] = (expected[s.error_class] ?? 0) + 1;
    }
    console.log(`failures by class: ${JSON.stringify(expected)}`);
    assert.ok(expected.http > 0 && expected['stream-error'] > 0, 'the mock failed requests of both kinds');
    const chart = page.locator('#chart-errors');
    await chart.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => document.querySelector('#chart-errors')?.dataset.errors);
    const drawn = Object.fromEntries((await chart.getAttribute('data-errors')).split(' ').map((p) => {
      const [c, n] = p.split(':');
      return [c, Number(n)];
    }));
    assert.deepEqual(drawn, expected);
    // The legend names the classes as the table does; the bars are drawn in the http colour.
    const keyLabels = await page.locator('figure:has(#chart-errors) .key li').allInnerTexts();
    const ORDER = ['http', 'timeout', 'network', 'parse', 'stream-error'];
    assert.deepEqual(keyLabels, ORDER.filter((c) => expected[c]));
    const httpPixels = await chart.evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === 214 && d[i + 1] === 39 && d[i + 2] === 40) n += 1;
      return n;
    });
    assert.ok(httpPixels > 50, `http bars on the canvas: ${httpPixels} pixels`);

    // Stddev: the table's figure is the sample stddev of each stage's successful latencies.
    const rows = await tableRows(page);
    for (const [i, row] of rows.entries()) {
      const lat = measured.filter((s) => s.stage === i && !s.error_class).map((s) => s.end_ms - s.start_ms);
      assert.equal(row.stddev, stddev(lat).toFixed(1), `stage ${i + 1} stddev`);
      assert.equal(Number(row.stddev), Number(report.stages[i].latency_ms.stddev.toFixed(1)));
    }

    // Export PNG: the latency chart as an image of its canvas's device pixels (2× its CSS
    // size here), its stage key drawn into the strip at the bottom.
    const canvas = page.locator('#chart-latency');
    await canvas.scrollIntoViewIfNeeded();
    const size = await canvas.evaluate((c) => ({ width: c.width, height: c.height, css: c.clientWidth }));
    assert.equal(size.width, size.css * 2);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('figure:has(#chart-latency) button.png-export').click(),
    ]);
    assert.match(download.suggestedFilename(), /^latency-p50-and-p95-by-concurrency-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(\.\d+)?Z\.png$/);
    const png = readFileSync(await download.path());
    assert.ok(png.length > 1000, `PNG of ${png.length} bytes`);
    assert.deepEqual(pngSize(png), { width: size.width, height: size.height });
    // Stage 1's colour (rgb(31, 119, 180)) in the bottom eighth: its key swatch, below the axis.
    assert.ok(await pixelsOf(page, png.toString('base64'), [31, 119, 180], 7 / 8) > 20, 'stage key in the image');
    // The errors chart's image carries its class key the same way.
    const [errPng] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('figure:has(#chart-errors) button.png-export').click(),
    ]);
    const errBytes = readFileSync(await errPng.path());
    const errCanvas = await chart.evaluate((c) => ({ width: c.width, height: c.height }));
    assert.deepEqual(pngSize(errBytes), errCanvas);
    assert.ok(await pixelsOf(page, errBytes.toString('base64'), [233, 30, 99], 7 / 8) > 20, 'stream-error key in the image');

    // Copy summary: Markdown on the clipboard with the table's rows and the page's verdicts.
    await page.getByRole('button', { name: 'Copy summary' }).click();
    await page.locator('#copy-summary-done').waitFor();
    const md = await page.evaluate(() => navigator.clipboard.readText());
    const lines = md.split('\n');
    const tableAt = lines.findIndex((l) => l.startsWith('| Stage |'));
    const head = lines[tableAt].slice(2, -2).split(' | ');
    const mdRows = lines.slice(tableAt + 2, tableAt + 2 + rows.length).map((l) => {
      const cells = l.slice(2, -2).split(' | ');
      return Object.fromEntries(head.map((h, i) => [h, cells[i]]));
    });
    assert.equal(lines[tableAt + 2 + rows.length], '', 'one table row per stage');
    const verdicts = page.locator('#slo-verdicts');
    for (const [i, row] of rows.entries()) {
      const m = mdRows[i];
      assert.deepEqual(
        [m.Stage, m['Concurrency req. / achieved'], m.Total, m.Successful, m['Success rate'], m['p50 (ms)'], m['p95 (ms)'], m['p99 (ms)'], m['Stddev (ms)'], m['Requests/s'], m['Tokens/s']],
        [row.name, row.concurrency, row.total, row.successful, row['success-rate'], row.median, row.p95, row.p99, row.stddev, row.rps, row.tps],
      );
      const byClass = report.stages[i].errors.map((e) => `${e.class} × ${e.count}`).join(', ');
      assert.equal(m.Errors, byClass);
      const cell = async (col) => (await verdicts.locator(`tr[data-stage="${i}"] [data-col="${col}"]`).innerText()).trim();
      assert.equal(m.Verdict, await cell('verdict'));
      assert.equal(m.Verdict, 'fail');
      assert.equal(m['Failing figures'], await cell('why'));
      assert.match(m['Failing figures'], /^error rate [\d.]+% > 2%$/);
      assert.equal(m['Good req/s'], await cell('good-per-s'));
      assert.equal(m['Goodput share'], await cell('goodput-share'));
      assert.equal(m['Good tok/s'], await cell('good-tokens-per-s'));
    }
    assert.match(md, /\n\*\*SLO\*\* latency p50 ≤ 5000 ms, error rate ≤ 2%: run \*\*fail\*\*; fails the SLO from the lowest load run, 2 concurrent\.\n/);
    assert.equal(await page.locator('#slo-knee').innerText(), 'fails the SLO from the lowest load run, 2 concurrent');
    assert.ok(lines.includes(`- Endpoint host: ${new URL(mock.url).host}`), md);
    assert.ok(lines.includes('- Preset: OpenAI chat (streaming)'), md);
    assert.ok(lines.includes('- Suite: Custom (2 stages)'), md);
    assert.ok(lines.includes(`- Protocol: ${new URL(mock.url).host} http/1.1`), md);
    assert.ok(lines.some((l) => l.startsWith('- Client: browser (Stampede ')), md);
    // The run was exported: the summary cites the link that opens that file next to the page.
    assert.match(md, /\nReport: \S+#report=stampede-report-[^\s]+\.json\n/);
    assert.equal(errors.length, 0, errors.join('\n'));
  });
});
