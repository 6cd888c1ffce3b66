// Share links and the saved form in a real browser: a link carries the test (and none of its
// secrets) into a fresh browser; a damaged one changes nothing; the form survives a reload, the
// API key only when remembered; Reset form goes back to the defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { appAndBrowser, configure } from './lib.mjs';

const fx = appAndBrowser();
const KEY = 'sk-e2e-share-key';
const TEAM = 'team-secret-value';
const SAVED = 'stampede.form';

/** The test inside a link, unpacked as the page packs it (t1. + base64url of raw deflate). */
function unpack(link) {
  const fragment = new URL(link).hash.slice(1);
  assert.ok(fragment.startsWith('t1.'), fragment);
  return inflateRawSync(Buffer.from(fragment.slice(3), 'base64url')).toString('utf8');
}

async function shareLink(page) {
  return page.getByLabel('Share link', { exact: true }).inputValue();
}

/** Open `url` in a new tab of `context` and wait for the form. */
async function openIn(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.getByLabel('Endpoint URL').waitFor();
  return { page, errors };
}

/** Wait until the saved form holds `text` (the form is saved right after each change). */
async function savedHas(page, text) {
  await page.waitForFunction(([k, t]) => (localStorage.getItem(k) ?? '').includes(t), [SAVED, text]);
}

test('a share link opens the same test in a fresh browser, without the key or disallowed values', async () => {
  const { page, errors } = await fx.open();
  await page.getByLabel('Preset').selectOption('openai-chat-stream');
  await page.getByLabel('Model').fill('e2e-model');
  await configure(page, {
    endpoint: `${fx.app.appUrl.replace(/\/$/, '')}/v1`,
    apiKey: KEY,
    headers: `Accept: text/event-stream\nX-Team: ${TEAM}`,
    aliases: 'http://127.0.0.2:8000',
    warmup: 1,
    timeout: 20,
    stages: [{ concurrency: 2, requests: 10 }, { concurrency: 5, requests: 20, rate: 4, poisson: true }],
  });
  await page.getByLabel('Prompts (one per line, used in turn)').fill('first prompt\nsecond prompt');

  const link = await shareLink(page);
  const page_url = new URL(fx.app.appUrl);
  assert.equal(new URL(link).origin + new URL(link).pathname, page_url.origin + page_url.pathname);
  console.log(`share link, custom test: ${link.length} characters`);
  assert.ok(link.length < 2000, `${link.length}`);
  const inside = unpack(link);
  for (const secret of [KEY, TEAM, 'X-Team']) {
    assert.ok(!link.includes(secret) && !inside.includes(secret), `${secret} in the link: ${inside}`);
  }
  assert.ok(inside.includes('text/event-stream'), inside);

  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: page_url.origin });
  await page.getByRole('button', { name: 'Copy share link' }).click();
  await page.getByText('Copied.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link);

  // A fresh browser context: nothing saved, nothing shared but the link.
  const fresh = await fx.browser.newContext();
  const { page: other, errors: otherErrors } = await openIn(fresh, link);
  await other.getByText('Loaded a shared test').waitFor();
  assert.equal(await other.getByLabel('Endpoint URL').inputValue(), `${fx.app.appUrl.replace(/\/$/, '')}/v1`);
  assert.equal(await other.getByLabel('Preset').inputValue(), 'openai-chat-stream');
  assert.equal(await other.getByLabel('Model').inputValue(), 'e2e-model');
  assert.equal(await other.getByLabel('Suite', { exact: true }).inputValue(), 'custom');
  assert.equal(await other.getByLabel('Extra headers').inputValue(), 'Accept: text/event-stream');
  assert.equal(await other.getByLabel('API key (optional)').inputValue(), '');
  assert.equal(await other.getByLabel('Host aliases (optional)').inputValue(), 'http://127.0.0.2:8000');
  assert.equal(await other.getByLabel('Warm-up requests per stage').inputValue(), '1');
  assert.equal(await other.getByLabel('Timeout (s)').inputValue(), '20');
  assert.equal(await other.getByLabel('Prompts (one per line, used in turn)').inputValue(), 'first prompt\nsecond prompt');
  assert.equal(await other.getByRole('button', { name: /^Remove stage/ }).count(), 2);
  for (const [i, c, n, rate] of [[1, '2', '10', ''], [2, '5', '20', '4']]) {
    assert.equal(await other.getByLabel(`Stage ${i} concurrency`).inputValue(), c);
    assert.equal(await other.getByLabel(`Stage ${i} requests`).inputValue(), n);
    assert.equal(await other.getByLabel(`Stage ${i} rate`).inputValue(), rate);
  }
  assert.ok(await other.getByLabel('Stage 2 Poisson arrivals').isChecked());
  // The same test links the same way, and the address bar no longer holds the link.
  assert.equal(await shareLink(other), link);
  assert.equal(new URL(other.url()).hash, '');

  // Damaged (cut), newer-version and foreign links: a message, and the form as it was.
  await savedHas(other, 'e2e-model');
  for (const [bad, says] of [
    [link.slice(0, link.length - 40), 'damaged'],
    [link.replace('#t1.', '#t9.'), 'newer Stampede'],
    [`${fx.app.appUrl}#section-2`, 'not a Stampede share link'],
  ]) {
    const { page: p, errors: e } = await openIn(fresh, bad);
    await p.getByText(says).waitFor();
    assert.equal(await p.getByText('Loaded a shared test').count(), 0);
    assert.equal(await p.getByLabel('Model').inputValue(), 'e2e-model', 'the saved form stays');
    assert.equal(await p.getByLabel('Stage 2 rate').inputValue(), '4');
    assert.deepEqual(e, []);
    await p.close();
  }
  // In a browser with nothing saved, a bad link leaves the defaults.
  const empty = await fx.browser.newContext();
  const { page: p } = await openIn(empty, link.slice(0, link.length - 40));
  await p.getByText('damaged').waitFor();
  assert.equal(await p.getByLabel('Endpoint URL').inputValue(), 'http://127.0.0.1:8000');
  assert.equal(await p.getByLabel('Suite', { exact: true }).inputValue(), 'standard');

  assert.deepEqual(errors, []);
  assert.deepEqual(otherErrors, []);
  await empty.close();
  await fresh.close();
  await page.context().close();
});

test('the form survives a reload; the API key only when remembered; Reset form restores the defaults', async () => {
  const { page, errors } = await fx.open();
  await configure(page, {
    endpoint: 'http://127.0.0.1:8123',
    apiKey: KEY,
    headers: 'Accept: application/json',
    stages: [{ concurrency: 3, requests: 7 }],
  });
  await savedHas(page, '8123');
  assert.ok(!(await page.evaluate((k) => localStorage.getItem(k), SAVED)).includes(KEY), 'no key saved unasked');
  await page.reload();
  await page.getByLabel('Endpoint URL').waitFor();
  assert.equal(await page.getByLabel('Endpoint URL').inputValue(), 'http://127.0.0.1:8123');
  assert.equal(await page.getByLabel('Suite', { exact: true }).inputValue(), 'custom');
  assert.equal(await page.getByLabel('Stage 1 concurrency').inputValue(), '3');
  assert.equal(await page.getByLabel('Stage 1 requests').inputValue(), '7');
  assert.equal(await page.getByLabel('Extra headers').inputValue(), 'Accept: application/json');
  assert.equal(await page.getByLabel('API key (optional)').inputValue(), '', 'the key is gone');
  assert.equal(await page.getByLabel('Remember API key on this device').isChecked(), false);

  await page.getByLabel('API key (optional)').fill(KEY);
  await page.getByLabel('Remember API key on this device').check();
  await savedHas(page, KEY);
  await page.reload();
  await page.getByLabel('Endpoint URL').waitFor();
  assert.equal(await page.getByLabel('API key (optional)').inputValue(), KEY, 'a remembered key stays');
  assert.ok(await page.getByLabel('Remember API key on this device').isChecked());
  // The key stays out of the share link all the same.
  assert.ok(!unpack(await shareLink(page)).includes(KEY));

  await page.getByRole('button', { name: 'Reset form' }).click();
  assert.equal(await page.getByLabel('Endpoint URL').inputValue(), 'http://127.0.0.1:8000');
  assert.equal(await page.getByLabel('Suite', { exact: true }).inputValue(), 'standard');
  assert.equal(await page.getByLabel('API key (optional)').inputValue(), '');
  assert.equal(await page.getByLabel('Remember API key on this device').isChecked(), false);
  await page.waitForFunction((k) => localStorage.getItem(k) === null, SAVED);
  await page.reload();
  await page.getByLabel('Endpoint URL').waitFor();
  assert.equal(await page.getByLabel('Endpoint URL').inputValue(), 'http://127.0.0.1:8000');
  assert.equal(await page.getByLabel('API key (optional)').inputValue(), '');

  // The seed suites' link lengths, for the record.
  for (const suite of ['quick', 'standard', 'comprehensive']) {
    await page.getByLabel('Suite', { exact: true }).selectOption(suite);
    const link = await shareLink(page);
    console.log(`share link, ${suite} suite (default form): ${link.length} characters, ${link.length - link.indexOf('#')} after the page URL`);
  }
  assert.deepEqual(errors, []);
  await page.context().close();
});
