// Drives a real headless Chromium (Debian's, via playwright-core; no browser download) through
// `pcapxray serve` the way an investigator would: upload a capture on the start page, follow the
// progress display to the end, switch to a view, click a host, download the JSON report and take a
// screenshot. Prints one JSON line with what it saw; tests/e2e/serve.rs checks it.
//
// node explore.mjs --url http://127.0.0.1:PORT/ --capture FILE --out DIR [--chromium PATH]
//                  [--view https] [--host 192.168.0.26]

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const need of ['url', 'capture', 'out']) {
  if (!args[need]) { console.error(`missing --${need}`); process.exit(2); }
}
const view = args.view || 'https';
const host = args.host || '192.168.0.26';
const step = (text) => console.error(`[browser] ${text}`);

// A fresh profile every time, and none of Chromium's calls home (this machine's network is closed).
const profile = mkdtempSync(join(args.out, 'profile-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: args.chromium || '/usr/bin/chromium',
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1400, height: 1000 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const result = { statuses: [], phases: [], consoleErrors: [] };
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(60_000);
  page.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => result.consoleErrors.push(String(e)));

  step(`open ${args.url}`);
  await page.goto(args.url);
  await page.getByLabel('Capture file').setInputFiles(args.capture);
  await Promise.all([
    page.waitForURL(/\/cases\/[0-9a-f]{32}$/),
    page.getByRole('button', { name: 'Upload and analyze' }).click(),
  ]);
  result.caseUrl = page.url();
  step(`uploaded: ${result.caseUrl}`);

  // Follow the progress display until the explore view replaces it (or the error box appears).
  const deadline = Date.now() + 180_000;
  for (;;) {
    const state = await page.evaluate(() => ({
      status: document.getElementById('case-status').textContent,
      phase: document.getElementById('p-phase').textContent,
      explore: !document.getElementById('explore').hidden && document.body.dataset.ready === 'explore',
      failure: document.getElementById('failure').hidden ? null : document.getElementById('error-text').textContent,
    }));
    if (result.statuses.at(-1) !== state.status) result.statuses.push(state.status);
    if (result.phases.at(-1) !== state.phase) result.phases.push(state.phase);
    if (state.failure) throw new Error(`the page shows a failure: ${state.failure}`);
    if (state.explore) break;
    if (Date.now() > deadline) throw new Error(`no explore view after 180 s: ${JSON.stringify(state)}`);
    await page.waitForTimeout(50);
  }
  step(`done; statuses ${result.statuses.join(' → ')}`);

  await page.getByLabel('View', { exact: true }).selectOption(view);
  await page.waitForFunction((v) => document.getElementById('view-summary').textContent.includes(`“${v}”`), view);
  result.view = await page.getByLabel('View', { exact: true }).inputValue();
  result.viewSummary = await page.locator('#view-summary').textContent();
  result.packetFates = await page.locator('#packet-fates tbody tr').allTextContents();
  result.hostsInView = await page.locator('#diagram g.node').evaluateAll((gs) => gs.map((g) => g.dataset.ip));
  result.webNames = await page.locator('#web-table tbody tr td:nth-child(3)').allTextContents();
  step(`view ${result.view}: ${result.viewSummary}`);

  // Click the host in the diagram (its circle), then read the details panel.
  await page.locator(`#diagram g.node[data-ip="${host}"] circle`).click();
  await page.waitForFunction((ip) => document.getElementById('details-heading').textContent === `Host ${ip}`, host);
  result.details = await page.locator('#details').innerText();
  result.selected = await page.locator('#diagram g.node.selected').getAttribute('data-ip');
  step(`details of ${result.selected}`);

  // Download the JSON report through its link.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('#files a[download][href$="/report/report.json"]').click(),
  ]);
  result.download = join(args.out, 'report.json');
  await download.saveAs(result.download);
  result.downloadName = download.suggestedFilename();
  step(`downloaded ${result.downloadName}`);

  result.screenshot = join(args.out, 'explore.png');
  await page.screenshot({ path: result.screenshot, fullPage: true });
  step(`screenshot ${result.screenshot}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
