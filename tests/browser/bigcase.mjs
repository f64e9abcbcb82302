// How the case page of a big case behaves, timed in a real headless Chromium: from navigation to the
// explore view being drawn, usable (see below) and then complete, a view switch, a From filter, opening a network of the diagram, the
// longest main-thread task (PerformanceObserver 'longtask'), and the diagram's labels at Fit (their
// smallest size on screen and how many overlap). Prints one JSON line. Used by hand on the
// tests/bench.sh capture (see serve's README section) and by tests/e2e/serve.rs on a capture of
// 50,000 hosts, which checks the labels; it asserts nothing itself, and no test checks its times.
//
// node bigcase.mjs --case http://127.0.0.1:PORT/cases/ID [--view dns] [--from 10.0.0.0/8] [--chromium PATH]
//   [--assets DIR]   serve the page's scripts from DIR (host/src/serve/assets) instead of the server's
//                    embedded copies: times a change to them without building the server again

import { openSession, labels } from './session.mjs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.case) { console.error('missing --case'); process.exit(2); }
const result = { consoleErrors: [] };
const { page, close } = await openSession(tmpdir(), args.chromium, result.consoleErrors);
try {
  page.setDefaultTimeout(180_000);
  if (args.assets) {
    await page.route(/\/assets\/[a-z-]+\.js$/, (route) => route.fulfill({
      path: join(args.assets, new URL(route.request().url()).pathname.split('/').pop()),
      contentType: 'text/javascript; charset=utf-8',
    }));
  }
  await page.addInitScript(() => {
    window.__long = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long.push(e.duration); })
      .observe({ type: 'longtask', buffered: true });
  });
  const t0 = Date.now();
  await page.goto(args.case);
  // Drawn: the page says its first picture is up. Usable is stricter: the hosts table holds rows,
  // the summary is written, the diagram holds hosts or networks, and a press on the diagram's first
  // host or network is answered (its details shown, or the network opened) — timed from navigation
  // to that answer. Ready: the findings' details (evidence, DNS and web columns) have come too.
  await page.waitForFunction(() => document.body.dataset.usable === 'explore');
  result.drawnMs = Date.now() - t0;
  result.usableCheck = await page.evaluate(() => ({
    hostRows: document.querySelectorAll('#hosts-table tbody tr button').length,
    summary: document.getElementById('view-summary').textContent.length > 0,
    diagramNodes: document.querySelectorAll('#diagram g.node').length,
  }));
  const first = page.locator('#diagram g.node').first();
  const isGroup = await first.evaluate((n) => n.classList.contains('group'));
  const target = await first.getAttribute('aria-label');
  await first.locator('circle, rect').first().click();
  if (isGroup) await page.waitForFunction(() => document.querySelector('#diagram g.frame') !== null);
  else await page.waitForFunction(() => /^Host /.test(document.getElementById('details-heading').textContent));
  result.usableMs = Date.now() - t0;
  result.usableClicked = String(target).slice(0, 80);
  // Close the network again (its frame's header) so that what follows starts from Fit.
  if (isGroup) {
    await page.locator('#diagram g.frame-head').first().click();
    await page.waitForFunction(() => document.querySelector('#diagram g.frame') === null && !document.body.dataset.busy);
  }
  await page.waitForFunction(() => document.body.dataset.ready === 'explore');
  result.readyMs = Date.now() - t0;
  result.workerMs = await page.evaluate(() => window.PcapxrayTimings);
  result.summary = await page.locator('#view-summary').textContent();
  result.labelsAtFit = await labels(page);
  result.groups = await page.locator('#diagram g.node.group').count();
  result.nodes = await page.locator('#diagram g.node').count();
  const timed = async (what, act, done, arg) => {
    const start = Date.now();
    await act();
    await page.waitForFunction(done, arg);
    result[what] = Date.now() - start;
  };
  const view = args.view || 'dns';
  await timed('viewSwitchMs', () => page.getByLabel('View', { exact: true }).selectOption(view),
    () => document.getElementById('view-summary').textContent.includes('view “' + document.getElementById('view').value + '”'));
  await timed('backToAllMs', () => page.getByLabel('View', { exact: true }).selectOption('all'),
    () => document.getElementById('view-summary').textContent.includes('view “all”'));
  const before = await page.locator('#view-summary').textContent();
  await timed('fromFilterMs', () => page.getByLabel('From (IP or CIDR)').fill(args.from || '10.0.0.0/8'),
    (b) => document.getElementById('view-summary').textContent !== b, before);
  result.filtered = await page.locator('#view-summary').textContent();
  await page.getByLabel('From (IP or CIDR)').fill('');
  await page.waitForFunction((b) => document.getElementById('view-summary').textContent !== b, result.filtered);
  // Open the first network of the diagram, if it has one.
  if (result.groups) {
    await timed('openGroupMs', () => page.locator('#diagram g.node.group rect').first().click(),
      () => document.querySelector('#diagram g.frame') !== null);
    result.labelsOpened = await labels(page);
    result.nodesOpened = await page.locator('#diagram g.node').count();
  }
  result.longTasksMs = await page.evaluate(() => window.__long.map(Math.round).sort((a, b) => b - a).slice(0, 10));
  result.longestTaskMs = result.longTasksMs.length ? result.longTasksMs[0] : 0;
  result.heapMB = await page.evaluate(() => performance.memory ? Math.round(performance.memory.usedJSHeapSize / 1048576) : null);
} finally {
  await close();
}
console.log(JSON.stringify(result));
