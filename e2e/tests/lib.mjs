// Shared helpers for the end-to-end tests: real mock API processes on loopback, the built app
// served by the mock's static server, and Debian's Chromium driven by playwright-core.
import { before, after } from 'node:test';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { chromium } from 'playwright-core';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with \`cargo xtask test\``);
  return v;
}

/** Start `stampede-mock` with `args`; resolves once it printed every listening line. */
export async function startMock(args = [], { app = false } = {}) {
  const bin = need('STAMPEDE_MOCK_BIN');
  // Callers may name their own listeners (e.g. one port on several loopback addresses).
  const full = args.includes('--listen') ? [...args] : ['--listen', '127.0.0.1:0', ...args];
  const listeners = full.filter((a) => a === '--listen').length;
  if (app) full.push('--app-dir', need('STAMPEDE_DIST'), '--app-listen', '127.0.0.1:0');
  const child = spawn(bin, full, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const urls = await new Promise((resolve, reject) => {
    const found = { api: null, apis: [], app: null };
    const timer = setTimeout(() => reject(new Error('stampede-mock did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`stampede-mock exited with ${code}`)));
    lines.on('line', (line) => {
      const api = line.match(/listening on (https?:\/\/\S+)/);
      const web = line.match(/serving app on (http:\/\/\S+)/);
      if (api) found.apis.push(api[1]);
      if (web) found.app = web[1];
      found.api = found.apis[0];
      if (found.apis.length === listeners && (!app || found.app)) {
        clearTimeout(timer);
        resolve(found);
      }
    });
  });
  return {
    url: urls.api,
    urls: urls.apis,
    appUrl: urls.app,
    async stats() {
      return (await fetch(`${urls.api}/stats`)).json();
    },
    async reset() {
      await fetch(`${urls.api}/stats/reset`, { method: 'POST' });
    },
    stop() {
      child.kill('SIGTERM');
    },
  };
}

/** A loopback port nothing listens on (bound, then closed). */
export async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/**
 * The app (served by a mock's static server) and one browser for every test in the calling
 * file: started before the first test, stopped after the last. `open(opts)` opens a fresh page.
 */
export function appAndBrowser() {
  const fx = {
    app: null,
    browser: null,
    open: (opts) => openApp(fx.browser, fx.app.appUrl, opts),
  };
  before(async () => {
    fx.app = await startMock([], { app: true });
    fx.browser = await launch();
  });
  after(async () => {
    await fx.browser?.close();
    fx.app?.stop();
  });
  return fx;
}

/** Run `fn(mock)` against a fresh mock started with `args`; it stops however `fn` ends. */
export async function withMock(args, fn) {
  const mock = await startMock(args);
  try {
    return await fn(mock);
  } finally {
    mock.stop();
  }
}

/** Fill the form, run to the end and export: `{ report, text, name }`. */
export async function runAndExport(page, form, timeout) {
  await configure(page, form);
  await runToEnd(page, timeout);
  return exportReport(page);
}

/** Open the app and collect page errors (a wasm panic shows up here). */
export async function openApp(browser, appUrl, { ignoreHTTPSErrors = false, deviceScaleFactor = 1 } = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ignoreHTTPSErrors, deviceScaleFactor });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(appUrl);
  await page.getByLabel('Endpoint URL').waitFor();
  return { page, errors };
}

/**
 * Fill the form through its labelled controls. `stages` ([{ concurrency, requests, rate?,
 * poisson? }, or { concurrency, duration, rampFrom?, rate? } for a stage by time, …]) selects
 * the Custom suite with those stages.
 */
export async function configure(page, {
  endpoint, suite = 'quick', apiKey, headers, aliases, warmup, timeout, stages,
}) {
  await page.getByLabel('Endpoint URL').fill(endpoint);
  await page.getByLabel('Suite', { exact: true }).selectOption(stages ? 'custom' : suite);
  if (apiKey !== undefined) await page.getByLabel('API key (optional)').fill(apiKey);
  if (headers !== undefined) await page.getByLabel('Extra headers').fill(headers);
  if (aliases !== undefined) await page.getByLabel('Host aliases (optional)').fill(aliases);
  if (warmup !== undefined) await page.getByLabel('Warm-up requests per stage').fill(String(warmup));
  if (timeout !== undefined) await page.getByLabel('Timeout (s)').fill(String(timeout));
  if (stages) await customStages(page, stages);
}

/** Click Run and wait until the run ends (finished or stopped). */
export async function runToEnd(page, timeout = 60_000) {
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.locator('.status[data-phase="running"]').waitFor({ timeout: 5_000 }).catch(() => {});
  await page.locator('.status[data-phase="finished"], .status[data-phase="stopped"]').waitFor({ timeout });
}

/** Click Export JSON and return the parsed report and its text. */
export async function exportReport(page) {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export JSON' }).click(),
  ]);
  const text = readFileSync(await download.path(), 'utf8');
  return { text, report: JSON.parse(text), name: download.suggestedFilename() };
}

let validator;
/** Validate against the committed JSON Schema; returns ajv's errors (null when valid). */
export function schemaErrors(report) {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats(ajv);
    validator = ajv.compile(JSON.parse(readFileSync(need('STAMPEDE_SCHEMA'), 'utf8')));
  }
  return validator(report) ? null : validator.errors;
}

/** Rows of the results table as objects keyed by data-col. */
export async function tableRows(page) {
  return page.locator('#results-table tbody tr').evaluateAll((rows) =>
    rows.map((tr) => {
      const o = { name: tr.cells[0].innerText };
      for (const td of tr.querySelectorAll('td[data-col]')) o[td.dataset.col] = td.innerText.trim();
      return o;
    }));
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.ceil(s.length / 2) - 1]; // nearest rank, as Stampede reports it
}

/** The seed preset's request for stage 1 (topic "machine learning"), byte for byte what the app sends. */
export const SEED_BODY = JSON.stringify({
  prompt: 'Explain the concept of machine learning in detail.',
  max_length: 50,
  temperature: 0.7,
  do_sample: true,
});

/**
 * A plain JS fetch loop in the page: the browser's own floor for the same requests. Returns each
 * request's time, the wall time around the whole loop (both from performance.now() in the page)
 * and how many answered with a non-2xx status.
 */
export async function rawFetchLoop(page, url, { concurrency, count, body }) {
  return page.evaluate(async ({ url, concurrency, count, body }) => {
    const times = [];
    let next = 0;
    let failed = 0;
    async function worker() {
      while (next < count) {
        next += 1;
        const t0 = performance.now();
        const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
        await r.text();
        times.push(performance.now() - t0);
        if (!r.ok) failed += 1;
      }
    }
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { times, wallMs: performance.now() - start, failed };
  }, { url, concurrency, count, body });
}

/** Custom suite with the given stages: [{ concurrency, requests, rate?, poisson? }, …]. */
export async function customStages(page, stages) {
  await page.getByLabel('Suite', { exact: true }).selectOption('custom');
  while ((await page.getByRole('button', { name: /^Remove stage/ }).count()) > stages.length) {
    await page.getByRole('button', { name: /^Remove stage/ }).last().click();
  }
  while ((await page.getByRole('button', { name: /^Remove stage/ }).count()) < stages.length) {
    await page.getByRole('button', { name: 'Add stage' }).click();
  }
  for (const [i, st] of stages.entries()) {
    // A stage by time ({ duration, rampFrom? }) instead of a request count.
    const byTime = st.duration !== undefined;
    await page.getByLabel(`Stage ${i + 1} runs for`).selectOption(byTime ? 'duration' : 'requests');
    const length = byTime
      ? [['duration', st.duration], ['ramp from', st.rampFrom ?? '']]
      : [['requests', st.requests]];
    for (const [label, value] of [['concurrency', st.concurrency], ...length, ['rate', st.rate ?? '']]) {
      const input = page.getByLabel(`Stage ${i + 1} ${label}`);
      await input.fill(String(value));
      await input.press('Tab');
    }
    if (st.poisson) await page.getByLabel(`Stage ${i + 1} Poisson arrivals`).check();
  }
}
