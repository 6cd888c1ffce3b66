// Hosted like a team would host it: the built site under a nested sub-path of a plain static
// host (no special headers), a suite run from there against the mock, reports opened by
// `#report=` links (next to the page, missing, not a report, cross-origin without CORS) and by
// dropping a file on the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, extname, resolve, sep } from 'node:path';
import { launch, startMock, configure, runToEnd, exportReport, tableRows, schemaErrors } from './lib.mjs';

const PREFIX = '/team/tools/stampede/';
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.json': 'application/json',
};

/**
 * A static host serving `dirs` (first match wins) under PREFIX only; everything else is 404.
 * It records every path asked for, to check the page asks for nothing outside its sub-path.
 */
async function staticHost(dirs) {
  const asked = [];
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://h').pathname);
    asked.push(path);
    const rel = path.startsWith(PREFIX) ? path.slice(PREFIX.length) || 'index.html' : null;
    for (const dir of rel === null ? [] : dirs) {
      const file = resolve(dir, rel);
      if (!file.startsWith(resolve(dir) + sep)) break;
      try {
        if (!statSync(file).isFile()) continue;
      } catch {
        continue;
      }
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, asked, close: () => server.close() };
}

const fx = { mock: null, site: null, other: null, browser: null, served: null, report: null, link: null };

before(async () => {
  // Files "put next to the page" go here; the host serves them beside the built site.
  fx.served = mkdtempSync(join(tmpdir(), 'stampede-hosted-'));
  writeFileSync(join(fx.served, 'models.json'), JSON.stringify({ object: 'list', data: [] }));
  fx.site = await staticHost([process.env.STAMPEDE_DIST, fx.served]);
  // Another origin with no CORS headers, holding a copy of the report later.
  fx.other = await staticHost([fx.served]);
  fx.mock = await startMock(['--latency-ms', '20']);
  fx.browser = await launch();
});

after(async () => {
  await fx.browser?.close();
  fx.mock?.stop();
  fx.site?.close();
  fx.other?.close();
});

/** A fresh context and page at `url` (under the sub-path), collecting page errors. */
async function open(url) {
  const context = await fx.browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.getByLabel('Endpoint URL').waitFor();
  return { page, errors };
}

const pageUrl = () => `${fx.site.url}${PREFIX}`;

async function stageNames(page) {
  return (await tableRows(page)).map((r) => r.name);
}

test('the site runs a suite under a nested sub-path and offers a report link after export', async () => {
  const { page, errors } = await open(pageUrl());
  await configure(page, {
    endpoint: fx.mock.url, warmup: 0,
    stages: [{ concurrency: 2, requests: 4 }, { concurrency: 3, requests: 6 }],
  });
  await runToEnd(page, 30_000);
  assert.equal((await tableRows(page)).length, 2);
  // 4 + 6 requests, no warm-ups: every one reached the mock, from the engine's worker.
  assert.equal((await fx.mock.stats()).requests, 10);
  // Every asset came from under the sub-path (relative URLs); only the browser's own
  // favicon guess goes to the host's root.
  assert.ok(fx.site.asked.length >= 4, fx.site.asked.join('\n'));
  for (const path of fx.site.asked.filter((p) => p !== '/favicon.ico')) assert.ok(path.startsWith(PREFIX), path);
  assert.ok(fx.site.asked.some((p) => p.endsWith('.wasm')), fx.site.asked.join('\n'));
  assert.ok(fx.site.asked.some((p) => p.endsWith('engine_worker.js')), 'the worker ran from the sub-path');

  assert.equal(await page.locator('#copy-report-link').count(), 0, 'no report link before an export');
  const { report, text, name } = await exportReport(page);
  assert.equal(schemaErrors(report), null);
  fx.report = report;
  writeFileSync(join(fx.served, name), text);

  const button = page.getByRole('button', { name: 'Copy report link' });
  const title = await button.getAttribute('title');
  assert.ok(title.includes(`#report=${name}`) && title.includes('next to the page'), title);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: fx.site.url });
  await button.click();
  await page.locator('.export').getByText('Copied.').waitFor();
  fx.link = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(fx.link, `${pageUrl()}#report=${name}`);
  // "Copy summary" cites the same link for the exported run.
  await page.getByRole('button', { name: 'Copy summary' }).click();
  await page.locator('#copy-summary-done').waitFor();
  const summary = await page.evaluate(() => navigator.clipboard.readText());
  assert.ok(summary.includes(fx.link), summary);
  assert.deepEqual(errors, []);
});

test('#report= opens the report put next to the page; bad links say why and change nothing', async () => {
  assert.ok(fx.link, 'needs the report link of the first test');
  const { page, errors } = await open(fx.link);
  await page.locator('#report-note', { hasText: 'Opened the report' }).waitFor();
  const want = fx.report.stages.map((s) => s.name);
  assert.deepEqual(await stageNames(page), want);
  const rows = await tableRows(page);
  assert.equal(rows.length, 2);
  const name = fx.link.split('#report=')[1];
  await page.getByRole('heading', { name: `Results (imported from ${name})` }).waitFor();
  const endpoint = await page.getByLabel('Endpoint URL').inputValue();
  const before = JSON.stringify(rows);

  // The same copy on another origin that sends no CORS headers: the fetch fails.
  const cross = `${fx.other.url}${PREFIX}${name}`;
  writeFileSync(join(fx.served, 'not-a-report.json'), JSON.stringify({ tool: { name: 'k6' }, stages: [] }));
  const cases = [
    ['missing.json', /there is no report at .*missing\.json \(HTTP 404 Not Found\)/],
    ['not-a-report.json', /is not a report Stampede can open\. This JSON is not a Stampede report/],
    ['models.json', /not a Stampede report/],
    [encodeURIComponent(cross), /CORS is the likely cause/],
    ['', /names no report/],
  ];
  for (const [target, message] of cases) {
    await page.evaluate((h) => { location.hash = h; }, `#report=${target}`);
    const note = page.locator('#report-note[role="alert"]');
    await note.filter({ hasText: message }).waitFor({ timeout: 10_000 });
    assert.match(await note.innerText(), /Nothing was opened\.$/);
    assert.equal(JSON.stringify(await tableRows(page)), before, `${target} changed the table`);
    assert.equal(await page.getByLabel('Endpoint URL').inputValue(), endpoint);
    await page.getByRole('heading', { name: `Results (imported from ${name})` }).waitFor();
  }
  // The host was asked for the missing file (so it was fetched under the sub-path).
  assert.ok(fx.site.asked.includes(`${PREFIX}missing.json`));

  // A fresh page opened on a broken link: the message, the form and results as without it.
  const { page: fresh, errors: freshErrors } = await open(`${pageUrl()}#report=missing.json`);
  await fresh.locator('#report-note', { hasText: 'HTTP 404' }).waitFor();
  assert.deepEqual(await tableRows(fresh), []);
  assert.equal(await fresh.getByLabel('Endpoint URL').inputValue(), 'http://127.0.0.1:8000');
  assert.deepEqual([...errors, ...freshErrors], []);
});

test('a report dropped anywhere on the page opens, with a hint while dragging', async () => {
  const { page, errors } = await open(pageUrl());
  const text = readFileSync(join(fx.served, fx.link.split('#report=')[1]), 'utf8');
  /** Dispatch drag events carrying a file built in the page, as a real drag from the desktop. */
  const drag = (types, content, name) => page.evaluate(({ types, content, name }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([content], name, { type: 'application/json' }));
    for (const type of types) {
      const target = document.querySelector('#results-table') ?? document.body;
      target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  }, { types, content, name });

  await drag(['dragenter', 'dragover'], text, 'dropped.json');
  await page.locator('#drop-hint', { hasText: 'Drop a Stampede report' }).waitFor();
  await drag(['drop'], text, 'dropped.json');
  await page.locator('#drop-hint').waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.querySelectorAll('#results-table tbody tr').length === 2);
  assert.deepEqual(await stageNames(page), fx.report.stages.map((s) => s.name));
  const before = JSON.stringify(await tableRows(page));

  // Not a report: the import's message, and the table stays.
  await drag(['dragenter', 'drop'], '{"hello": 1}', 'other.json');
  await page.locator('#import-error', { hasText: 'Nothing was imported. other.json: This JSON is not a Stampede report' }).waitFor();
  assert.equal(JSON.stringify(await tableRows(page)), before);
  assert.equal(await page.locator('#drop-hint').count(), 0);
  assert.deepEqual(errors, []);
});
