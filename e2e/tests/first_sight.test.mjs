// What a newcomer sees after a Quick run: a results table that fits 1,366 px (and scrolls with
// its stage column in sight at 390 px), a request list that marks warm-ups and opens a detail
// in the viewport, and a requests-over-time chart that draws while the run goes on. Writes
// full-page screenshots at both widths to e2e/output/ for a reviewer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startMock, appAndBrowser, configure, runToEnd } from './lib.mjs';

const OUTPUT = fileURLToPath(new URL('../output/', import.meta.url));
const HEADLINE = ['Stage', 'Concurrency req. / achieved', 'Total', 'Successful', 'Success rate',
  'p50 (ms)', 'p95 (ms)', 'p99 (ms)', 'Requests/s', 'Tokens/s', 'Errors'];

const fx = appAndBrowser();
let mock;
before(async () => {
  // Some failures (seeded, so the same ones each time) to fill the Errors column.
  mock = await startMock(['--latency-ms', '60', '--error-rate', '0.2']);
});
after(() => mock?.stop());

/** The results table as laid out now: its visible headers and anything that overflows. */
function layout(page) {
  return page.evaluate(() => {
    const table = document.querySelector('#results-table');
    const wrap = table.closest('.table-wrap');
    const shown = (el) => getComputedStyle(el).display !== 'none';
    const heads = [...table.querySelectorAll('thead th')].filter(shown);
    return {
      pageWidth: document.scrollingElement.scrollWidth,
      headers: heads.map((th) => th.innerText.replace(/\s+/g, ' ').trim()),
      rightmost: Math.max(...heads.map((th) => th.getBoundingClientRect().right)),
      wrapScrolls: wrap.scrollWidth > wrap.clientWidth,
      // A cell whose content is wider than its box is cut (or spills): none may be.
      cut: [...table.querySelectorAll('th, td')].filter(shown)
        .filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.innerText),
    };
  });
}

/** Scroll the charts into view and wait until they have drawn at their current size. */
async function drawCharts(page) {
  await page.locator('#chart-activity').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => {
    const c = document.querySelector('#chart-activity');
    return c.width === Math.round(c.clientWidth * devicePixelRatio);
  });
}

async function screenshot(page, name) {
  mkdirSync(OUTPUT, { recursive: true });
  const path = `${OUTPUT}${name}`;
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

test('the results table fits 1,366 px with every headline column, and scrolls with its stage in sight at 390 px', async () => {
  const { page, errors } = await fx.open();
  await page.setViewportSize({ width: 1366, height: 900 });
  await configure(page, { endpoint: mock.url, suite: 'quick' });
  await runToEnd(page);

  const wide = await layout(page);
  assert.deepEqual(wide.headers, HEADLINE);
  assert.ok(wide.pageWidth <= 1366, `the page is ${wide.pageWidth} px wide`);
  assert.ok(wide.rightmost <= 1366 && !wide.wrapScrolls, `the last headline column ends at ${wide.rightmost} px`);
  assert.deepEqual(wide.cut, [], 'no cell is cut');
  // The rest is a click away, and fits as well.
  for (const [group, header] of [['Latency', 'p90 (ms)'], ['Concurrency & queue', 'Browser queue p50 (ms)'], ['Errors', 'Errors by class']]) {
    await page.getByRole('radio', { name: group }).check();
    const l = await layout(page);
    assert.ok(l.headers.includes(header), `${group}: ${l.headers}`);
    assert.ok(l.pageWidth <= 1366 && !l.wrapScrolls, `${group} columns fit: ${l.pageWidth} px`);
    assert.deepEqual(l.cut, [], `${group}: no cell is cut`);
  }
  assert.match(await page.locator('#results-table td[data-col="error-examples"]').first().innerText(), /http × \d+\s+HTTP 500/);
  await page.getByRole('radio', { name: 'Summary' }).check();
  await drawCharts(page);
  await screenshot(page, 'first-sight-1366.png');

  await page.setViewportSize({ width: 390, height: 844 });
  const narrow = await layout(page);
  assert.ok(narrow.pageWidth <= 390, `no page-level horizontal scroll at 390 px: ${narrow.pageWidth} px`);
  assert.deepEqual(narrow.cut, [], 'no cell is cut at 390 px');
  // The figures scroll inside the table's own box; the stage column stays put.
  const sticky = await page.evaluate(() => {
    const wrap = document.querySelector('#results-table').closest('.table-wrap');
    wrap.scrollLeft = 250;
    const cell = document.querySelector('#results-table tbody td.stage');
    return { scrolled: wrap.scrollLeft, left: cell.getBoundingClientRect().left, wrapLeft: wrap.getBoundingClientRect().left };
  });
  assert.ok(sticky.scrolled > 0, 'the table scrolls within its box at 390 px');
  assert.ok(Math.abs(sticky.left - sticky.wrapLeft) <= 1, `the stage column stays in sight: ${JSON.stringify(sticky)}`);
  await page.evaluate(() => { document.querySelector('#results-table').closest('.table-wrap').scrollLeft = 0; });
  await drawCharts(page);
  await screenshot(page, 'first-sight-390.png');
  assert.equal(errors.length, 0, errors.join('\n'));
});

test('requests: warm-ups marked, "Failed only" matches the table, a far-down detail opens in view and Escape closes it', async () => {
  const { page, errors } = await fx.open();
  await page.setViewportSize({ width: 1366, height: 900 });
  await configure(page, { endpoint: mock.url, suite: 'quick' });
  await runToEnd(page);
  const table = await page.locator('#results-table tbody tr').evaluateAll((rows) => ({
    failed: rows.reduce((n, tr) => n + Number(tr.querySelector('[data-col=errors]').dataset.failed), 0),
    warmups: rows.reduce((n, tr) => n + Number(tr.querySelector('[data-col=warmups]').textContent), 0),
  }));
  assert.equal(table.warmups, 7, 'Quick: one warm-up per slot, 2 + 5');
  assert.ok(table.failed > 0, 'precondition: the mock failed some requests');

  const rows = page.locator('#request-table tbody tr');
  assert.equal(await rows.count(), 37);
  assert.equal(await page.locator('#request-table tbody tr.warmup').count(), 7);
  assert.equal(await page.locator('#request-table tbody tr .badge', { hasText: 'warm-up' }).count(), 7);
  await page.locator('#request-filter').selectOption('failed');
  assert.equal(await rows.count(), table.failed, '"Failed only" lists exactly what the table counts as failed');
  assert.equal(await page.locator('#request-table tbody tr.warmup').count(), 0);
  assert.match(await page.locator('#request-count').innerText(), new RegExp(`30 measured \\(${table.failed} failed\\) · 7 warm-ups`));
  await page.locator('#request-filter').selectOption('warmups');
  assert.equal(await rows.count(), 7);
  await page.locator('#request-filter').selectOption('all');

  // The last row, far below the top of the page: its detail opens in the viewport.
  const last = rows.last();
  const rowTop = await last.evaluate((r) => r.getBoundingClientRect().top + scrollY);
  assert.ok(rowTop > 1500, `precondition: the last row is far down (${rowTop} px)`);
  await last.click();
  const detail = page.locator('#request-detail');
  await detail.waitFor();
  const box = await detail.evaluate((d) => { const r = d.getBoundingClientRect(); return { top: r.top, bottom: r.bottom, h: innerHeight }; });
  assert.ok(box.top >= 0 && box.bottom <= box.h, `the detail is in the viewport: ${JSON.stringify(box)}`);
  await page.keyboard.press('Escape');
  await detail.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.querySelector('dialog.request-dialog').open), false);

  // A successful request shows the start of the model's reply.
  await page.locator('#request-table tbody tr:not(.warmup):not(.failed)').first().click();
  const text = await page.locator('#response-text').innerText();
  assert.ok(text.length >= 100 && text.length <= 301, `response text (${text.length} chars): ${text}`);
  await page.getByRole('button', { name: 'Close' }).click();
  await detail.waitFor({ state: 'detached' });
  assert.equal(errors.length, 0, errors.join('\n'));
});

test('the requests-over-time chart draws while the run goes on', async () => {
  const slow = await startMock(['--latency-ms', '100']);
  try {
    const { page, errors } = await fx.open();
    await page.setViewportSize({ width: 1366, height: 900 });
    await configure(page, { endpoint: slow.url, stages: [{ concurrency: 2, requests: 80 }] });
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.locator('.status[data-phase="running"]').waitFor();
    await page.locator('#chart-activity').scrollIntoViewIfNeeded();
    // Pixels in the successful bars' colour (muted at 55 % over white), read while running.
    const paint = () => page.evaluate(() => {
      const c = document.querySelector('#chart-activity');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let bars = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - 165) + Math.abs(d[i + 1] - 168) + Math.abs(d[i + 2] - 176) < 24) bars++;
      return { bars, phase: document.querySelector('.status').dataset.phase };
    });
    await page.waitForFunction(() => document.querySelector('#chart-activity').width > 300);
    let first;
    for (let i = 0; i < 40 && !(first?.bars > 200); i++) {
      await page.waitForTimeout(100);
      first = await paint();
    }
    assert.equal(first.phase, 'running', 'drawn before the run ended');
    assert.ok(first.bars > 200, `bars drawn during the run: ${JSON.stringify(first)}`);
    await page.waitForTimeout(1000);
    const later = await paint();
    assert.equal(later.phase, 'running', 'precondition: still running a second later');
    assert.ok(later.bars > first.bars, `the chart grew with the run: ${first.bars} → ${later.bars} bar pixels`);
    await page.locator('.status[data-phase="finished"]').waitFor({ timeout: 30_000 });
    assert.equal(errors.length, 0, errors.join('\n'));
  } finally {
    slow.stop();
  }
});

test('the custom-stage editor fits its column at 1,366 px', async () => {
  const { page } = await fx.open();
  await page.setViewportSize({ width: 1366, height: 900 });
  await configure(page, {
    endpoint: mock.url,
    stages: [
      { concurrency: 2, requests: 10 },
      { concurrency: 5, requests: 20, rate: 10, poisson: true },
      { concurrency: 8, duration: 60, rampFrom: 1 },
    ],
  });
  const fit = await page.evaluate(() => {
    const t = document.querySelector('table.stages');
    return { page: document.scrollingElement.scrollWidth, table: t.scrollWidth, box: t.clientWidth };
  });
  assert.ok(fit.page <= 1366, `the page is ${fit.page} px wide`);
  assert.ok(fit.table <= fit.box, `the stage editor needs ${fit.table} px in a ${fit.box} px column`);
});
