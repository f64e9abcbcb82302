// Tor relays without the command line, in a real headless Chromium: open the Tor relays page from the
// start page, add consensus files and a Tor Metrics style archive through the form, then upload a
// capture and look at its Tor view. Prints one JSON line with what it saw; tests/e2e/serve.rs checks it.
//
// node tor.mjs --url http://127.0.0.1:PORT/ --capture FILE --out DIR --add FILE[,FILE...] [--chromium PATH]

import { openSession } from './session.mjs';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const need of ['url', 'capture', 'out', 'add']) {
  if (!args[need]) { console.error(`missing --${need}`); process.exit(2); }
}
const step = (text) => console.error(`[browser] ${text}`);

const result = { consoleErrors: [] };
const { page, close } = await openSession(args.out, args.chromium, result.consoleErrors);
try {
  await page.goto(args.url);
  await page.getByRole('navigation', { name: 'Site' }).getByRole('link', { name: 'Tor relays' }).click();
  await page.waitForURL(/\/tor$/);
  result.before = await page.locator('#tor-coverage').textContent();
  result.notReadBefore = await page.locator('#tor-not-read').count();

  await page.getByLabel('Consensus files or archives').setInputFiles(args.add.split(','));
  await Promise.all([
    page.waitForLoadState('load'),
    page.getByRole('button', { name: 'Add' }).click(),
  ]);
  await page.locator('#tor-result').waitFor();
  result.added = await page.locator('#tor-result li').allTextContents();
  result.after = await page.locator('#tor-coverage').textContent();
  result.rows = await page.locator('#tor-consensuses tbody tr').evaluateAll((rs) => rs.map((r) => Array.from(r.cells).map((c) => c.textContent)));
  step(`added: ${result.after}`);
  // Post, redirect, get: the result is a page of its own, and reloading it shows the same result
  // without sending the files again.
  result.addedUrl = new URL(page.url()).pathname + new URL(page.url()).search;
  const posts = [];
  page.on('request', (r) => { if (r.method() === 'POST') posts.push(r.url()); });
  await page.reload();
  result.addedAfterReload = await page.locator('#tor-result li').allTextContents();
  result.postsOnReload = posts.length;

  // A capture analyzed afterwards uses them.
  await page.goto(args.url);
  await page.getByLabel('Capture file').setInputFiles(args.capture);
  await Promise.all([
    page.waitForURL(/\/cases\/[0-9a-f]{32}$/),
    page.getByRole('button', { name: 'Upload and analyze' }).click(),
  ]);
  result.caseUrl = page.url();
  await page.waitForFunction(() => document.body.dataset.ready === 'explore', null, { timeout: 180_000 });
  const views = await page.getByLabel('View', { exact: true }).locator('option').evaluateAll((os) => os.map((o) => o.value));
  result.views = views;
  await page.getByLabel('View', { exact: true }).selectOption(views.includes('tor') ? 'tor' : 'tag:tor');
  await page.waitForTimeout(400);
  await page.waitForFunction(() => !document.body.dataset.busy);
  result.tor = {
    summary: await page.locator('#view-summary').textContent(),
    findings: await page.locator('#findings-table tbody').innerText(),
    noteVisible: await page.locator('#view-note').isVisible(),
    note: await page.locator('#view-note').textContent(),
    runNote: await page.locator('#tor-coverage-note').count() ? await page.locator('#tor-coverage-note').textContent() : null,
  };
  step(`tor view: ${result.tor.summary}`);
} finally {
  await close();
}
console.log(JSON.stringify(result));
