// How the case page of a big case behaves, timed in a real headless Chromium: from navigation to the
// explore view being usable and then complete, a view switch, a From filter, opening a network of the diagram, the
// longest main-thread task (PerformanceObserver 'longtask'), and the diagram's labels at Fit (their
// smallest size on screen and how many overlap). Prints one JSON line. Used by hand on the
// tests/bench.sh capture (see serve's README section) and by tests/e2e/serve.rs on a capture of
// 50,000 hosts, which checks the labels; it asserts nothing itself, and no test checks its times.
//
// node bigcase.mjs --case http://127.0.0.1:PORT/cases/ID [--view dns] [--from 10.0.0.0/8] [--chromium PATH]

import { openSession, labels } from './session.mjs';
import { tmpdir } from 'node:os';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.case) { console.error('missing --case'); process.exit(2); }
const result = { consoleErrors: [] };
const { page, close } = await openSession(tmpdir(), args.chromium, result.consoleErrors);
try {
  page.setDefaultTimeout(180_000);
  await page.addInitScript(() => {
    window.__long = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long.push(e.duration); })
      .observe({ type: 'longtask', buffered: true });
  });
  const t0 = Date.now();
  await page.goto(args.case);
  // Usable: the first picture is drawn (diagram, counts, tables) and answers; ready: the findings'
  // details (evidence, DNS and web columns) have come too.
  await page.waitForFunction(() => document.body.dataset.usable === 'explore');
  result.usableMs = Date.now() - t0;
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
