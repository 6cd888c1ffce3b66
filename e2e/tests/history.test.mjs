// Run history in a real browser: finished runs are kept in IndexedDB and listed newest first with
// their figures; the list, its order and edited labels survive a reload; Open, Set as baseline,
// Export and Delete act on the stored report; nothing secret reaches IndexedDB; the count limit
// drops the oldest with a notice; a browser without IndexedDB still runs tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appAndBrowser, configure, median, runToEnd, tableRows } from './lib.mjs';

const fx = appAndBrowser();
const KEY = 'sk-e2e-history-key';
const TEAM = 'team-history-secret';

/** The rows of the History panel, top first: data-id and each data-col cell (the label's input value). */
async function historyRows(page) {
  return page.locator('#history-table tbody tr').evaluateAll((rows) => rows.map((tr) => {
    const o = { id: tr.dataset.id };
    for (const td of tr.querySelectorAll('td[data-col]')) {
      o[td.dataset.col] = td.dataset.col === 'label' ? td.querySelector('input').value : td.innerText.trim();
    }
    return o;
  }));
}

/** What the page's IndexedDB holds: { entries: {id: json}, reports: {id: json} }, read in the page. */
async function stored(page) {
  return page.evaluate(async () => {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('stampede-history');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const read = (name) => new Promise((resolve, reject) => {
      const tx = db.transaction(name);
      const keys = tx.objectStore(name).getAllKeys();
      const values = tx.objectStore(name).getAll();
      tx.oncomplete = () => resolve(Object.fromEntries(keys.result.map((k, i) => [k, values.result[i]])));
      tx.onerror = () => reject(tx.error);
    });
    const out = { entries: await read('entries'), reports: await read('reports') };
    db.close();
    return out;
  });
}

/** Poll IndexedDB until `ok(db)` holds (writes finish a moment after the list changes). */
async function storedWhen(page, ok, what) {
  for (let i = 0; i < 100; i += 1) {
    const db = await stored(page);
    if (ok(db)) return db;
    await page.waitForTimeout(50);
  }
  throw new Error(`IndexedDB never held ${what}: ${JSON.stringify(await stored(page)).slice(0, 500)}`);
}

const count = (n) => (db) => Object.keys(db.entries).length === n && Object.keys(db.reports).length === n;
const row = (page, id) => page.locator(`#history-table tbody tr[data-id="${id}"]`);

test('runs are kept newest first with their figures, survive a reload, and hold no secret', async () => {
  const { page, errors } = await fx.open();
  // Run 1 sends an API key and a disallowed header, with the export opt-in ticked: history
  // ignores the opt-in.
  await configure(page, {
    endpoint: fx.app.url,
    apiKey: KEY,
    headers: `Accept: application/json\nX-Team: ${TEAM}`,
    stages: [{ concurrency: 2, requests: 6 }],
  });
  await page.getByLabel('Include header values in exports').check();
  await runToEnd(page);
  const firstTable = await tableRows(page);
  await page.locator('#history-table tbody tr').first().waitFor();
  // Run 2: plain, two stages.
  await configure(page, { endpoint: fx.app.url, apiKey: '', headers: '', stages: [{ concurrency: 1, requests: 3 }, { concurrency: 3, requests: 6 }] });
  await runToEnd(page);
  await page.locator('#history-table tbody tr').nth(1).waitFor();

  let db = await storedWhen(page, count(2), 'two runs');
  const rows = await historyRows(page);
  assert.equal(rows.length, 2);
  const [second, first] = rows;
  // Newest first: the two-stage run on top.
  const reportOf = (r) => JSON.parse(db.reports[r.id]);
  assert.equal(reportOf(second).stages.length, 2);
  assert.equal(reportOf(first).stages.length, 1);
  assert.ok(reportOf(second).created_at > reportOf(first).created_at);
  // Figures as the stored report gives them.
  for (const r of rows) {
    const report = reportOf(r);
    const ok = report.samples.filter((s) => !s.error_class && !s.warmup);
    const p50 = median(ok.map((s) => s.end_ms - s.start_ms));
    const peak = Math.max(...report.stages.map((s) => s.requests_per_s));
    assert.equal(r.requests, String(report.stages.reduce((n, s) => n + s.completed, 0)));
    assert.equal(r.success, '100.0 %');
    // One decimal as shown (compared as numbers: the two languages may round a tie apart).
    assert.match(r.p50, /^\d+\.\d ms$/);
    assert.ok(Math.abs(parseFloat(r.p50) - p50) <= 0.05 + 1e-9, `${r.p50} vs ${p50}`);
    assert.ok(Math.abs(parseFloat(r.rps) - peak) <= 0.05 + 1e-9, `${r.rps} vs ${peak}`);
    assert.equal(r.host, new URL(fx.app.url).host);
    assert.equal(r.suite, 'Custom');
    assert.equal(r.preset, 'Seed model API (POST /generate)');
    assert.equal(r.label, 'Custom run');
    assert.match(r.date, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  }
  assert.deepEqual([first.requests, second.requests], ['6', '9']);

  // Neither the key nor the disallowed value reached IndexedDB; the header's name did.
  const everything = JSON.stringify(db);
  assert.ok(!everything.includes(KEY), 'API key in IndexedDB');
  assert.ok(!everything.includes(TEAM), 'disallowed header value in IndexedDB');
  assert.equal(reportOf(first).config.headers, 'Accept: application/json\nX-Team: [redacted]');

  // Reload: the same rows in the same order. Rename the older run: the label survives a reload.
  await page.reload();
  await page.locator('#history-table tbody tr').nth(1).waitFor();
  assert.deepEqual(await historyRows(page), rows);
  const label = row(page, first.id).locator('input');
  await label.fill('   ');
  await label.press('Tab');
  await row(page, first.id).getByRole('alert').filter({ hasText: 'cannot be empty' }).waitFor();
  await label.fill('  staging, build 42 ');
  await label.press('Tab');
  await storedWhen(page, (d) => JSON.parse(d.entries[first.id]).label === 'staging, build 42', 'the new label');
  assert.equal(await row(page, first.id).getByRole('alert').count(), 0);
  await page.reload();
  await page.locator('#history-table tbody tr').nth(1).waitFor();
  const renamed = await historyRows(page);
  assert.deepEqual(renamed.map((r) => r.label), ['Custom run', 'staging, build 42']);

  // Open shows the run's table as an import does.
  await row(page, first.id).getByRole('button', { name: 'Open' }).click();
  await page.getByRole('heading', { name: 'Results (imported from history, “staging, build 42”)' }).waitFor();
  assert.deepEqual(await tableRows(page), firstTable);
  assert.equal(await page.getByRole('button', { name: 'Keep in history' }).count(), 0, 'it is in the history already');

  // Set as baseline: the shown run (the same one, opened) is compared with it, stage by stage:
  // every Δ is 0, and 6 requests are too few for the significance test (compare.test.mjs
  // checks "significant" and "within noise" on real differences).
  await row(page, first.id).getByRole('button', { name: 'Set as baseline' }).click();
  await page.locator('#history-baseline').filter({ hasText: 'Baseline: staging, build 42' }).waitFor();
  await page.locator('#compared-with').filter({ hasText: 'Compared with staging, build 42' }).waitFor();
  const p50 = page.locator('#comparison-table tbody[data-stage="0"] tr[data-metric="latency_p50_ms"]');
  assert.equal(await p50.getAttribute('data-change'), 'same');
  assert.equal(
    await p50.locator('[data-col="baseline"]').innerText(),
    await p50.locator('[data-col="current"]').innerText(),
  );
  const verdict = page.locator('#comparison-table tbody[data-stage="0"] [data-col="verdict"]');
  assert.equal(await verdict.getAttribute('data-verdict'), 'not-enough-data');

  // Overlay draws another run on the scaling charts beside the baseline, and takes it off.
  const overlay = row(page, second.id).getByRole('button', { name: 'Overlay' });
  await overlay.click();
  await row(page, second.id).getByRole('button', { name: 'Remove overlay' }).waitFor();
  const key = page.locator('#chart-latency ~ .overlay-key li');
  await key.filter({ hasText: 'staging, build 42 (baseline)' }).waitFor();
  await key.filter({ hasText: /^Custom run$/ }).waitFor();
  await row(page, second.id).getByRole('button', { name: 'Remove overlay' }).click();
  await row(page, second.id).getByRole('button', { name: 'Overlay' }).waitFor();
  assert.equal(await key.filter({ hasText: /^Custom run$/ }).count(), 0);

  // Export downloads exactly the stored report.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row(page, first.id).getByRole('button', { name: 'Export' }).click(),
  ]);
  const text = readFileSync(await download.path(), 'utf8');
  db = await stored(page);
  assert.equal(text, db.reports[first.id]);
  assert.match(download.suggestedFilename(), /^stampede-report-.*\.json$/);

  // Delete removes it, from the list and from IndexedDB, for good.
  await row(page, second.id).getByRole('button', { name: 'Delete' }).click();
  await row(page, second.id).waitFor({ state: 'detached' });
  db = await storedWhen(page, count(1), 'one run');
  assert.deepEqual(Object.keys(db.entries), [first.id]);
  await page.reload();
  await page.locator('#history-table tbody tr').first().waitFor();
  assert.deepEqual((await historyRows(page)).map((r) => r.id), [first.id]);
  assert.deepEqual(errors, []);
});

test('kept imports count against the limit: the 51st drops the oldest, with a notice naming it', async () => {
  const { page, errors } = await fx.open();
  await configure(page, { endpoint: fx.app.url, stages: [{ concurrency: 1, requests: 2 }] });
  await runToEnd(page);
  const db = await storedWhen(page, count(1), 'the run');
  const [runId] = Object.keys(db.entries);
  const report = JSON.parse(db.reports[runId]);
  await row(page, runId).getByRole('button', { name: 'Delete' }).click();
  await storedWhen(page, count(0), 'nothing');

  // 51 small reports, each imported and kept in turn.
  const dir = mkdtempSync(join(tmpdir(), 'stampede-history-'));
  const name = (i) => `limit-${String(i).padStart(2, '0')}`;
  for (let i = 1; i <= 51; i += 1) {
    const file = join(dir, `${name(i)}.json`);
    writeFileSync(file, JSON.stringify({ ...report, created_at: `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z` }));
    await page.locator('section.export input[type=file]').setInputFiles(file);
    await page.getByRole('heading', { name: `Results (imported from ${name(i)}.json)` }).waitFor();
    await page.getByRole('button', { name: 'Keep in history' }).click();
    await page.waitForFunction((n) => document.querySelector('#history-table tbody tr input')?.value === n, name(i));
  }
  await page.getByText('This report is in the history.').waitFor();
  const rows = await historyRows(page);
  assert.equal(rows.length, 50);
  assert.equal(rows[0].label, 'limit-51');
  assert.equal(rows[49].label, 'limit-02');
  assert.ok(!rows.some((r) => r.label === 'limit-01'));
  assert.equal(
    await page.locator('#history-notice').innerText(),
    'History keeps at most 50 runs and 50 MB: dropped the oldest, “limit-01” (2026-01-01 00:00:01 UTC).',
  );
  assert.ok(rows.every((r) => r.date.endsWith('(imported)')));
  const after = await storedWhen(page, count(50), '50 runs');
  assert.ok(!Object.values(after.entries).some((e) => JSON.parse(e).label === 'limit-01'));
  await page.reload();
  await page.locator('#history-table tbody tr').nth(49).waitFor();
  assert.deepEqual((await historyRows(page)).map((r) => r.label), rows.map((r) => r.label));
  assert.deepEqual(errors, []);
});

test('without IndexedDB the panel says so and runs still work', async () => {
  const context = await fx.browser.newContext();
  await context.addInitScript(() => {
    Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true });
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(fx.app.appUrl);
  await page.getByLabel('Endpoint URL').waitFor();
  await page.locator('#history-problem').filter({ hasText: 'History is not available' }).waitFor();
  await configure(page, { endpoint: fx.app.url, stages: [{ concurrency: 1, requests: 2 }] });
  await runToEnd(page);
  assert.equal((await tableRows(page)).length, 1);
  assert.equal(await page.locator('#history-table').count(), 0);
  assert.match(await page.locator('#history-problem').innerText(), /History is not available/);
  assert.deepEqual(errors, []);
  await context.close();
});
