// What the case page shows for given states of its address, as a person opening those links sees it:
// for each fragment (view, From, To, time range), the summary line, the timeline's caption, the
// findings table's tags and the hosts table's addresses; then the search box's answers for a few
// queries, and the findings table filtered by a word. Prints one JSON line; asserts nothing itself
// (tests/e2e/serve.rs checks it against report.json).
//
// node views.mjs --case http://127.0.0.1:PORT/cases/ID --states '["view=all", "view=tag:x"]'
//   [--searches '["00:13:7f:be:8c:ff"]'] [--filter-findings medium] [--report-html 1] [--original 1] [--chromium PATH]

import { openSession } from './session.mjs';
import { tmpdir } from 'node:os';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const result = { consoleErrors: [], states: [], searches: [] };
const { page, close } = await openSession(tmpdir(), args.chromium, result.consoleErrors);

async function rows(table, column) {
  return page.locator(`#${table} tbody tr`).evaluateAll((rs, c) => rs.map((r) => (r.cells[c] ? r.cells[c].textContent : '')), column);
}
async function settled() {
  await page.waitForFunction(() => document.body.dataset.ready === 'explore' && !document.body.dataset.busy);
}

try {
  if (args.original) {
    // A case whose analysis failed still offers its evidence: the original capture and its SHA-256.
    await page.goto(args.case);
    await page.waitForFunction(() => !document.getElementById('failure').hidden);
    await page.waitForFunction(() => document.getElementById('original-sha256').textContent !== '–');
    result.original = {
      visible: await page.locator('#original').isVisible(),
      sha256: await page.locator('#original-sha256').textContent(),
      href: await page.locator('#original-link').getAttribute('href'),
    };
  }
  for (const state of JSON.parse(args.states || '[]')) {
    // A fresh load per state, as a link opened in a new tab.
    await page.goto('about:blank');
    await page.goto(args.case + '#' + state);
    await settled();
    result.states.push({
      state,
      summary: await page.locator('#view-summary').textContent(),
      timeline: await page.locator('#timeline-caption').textContent(),
      findingTags: await rows('findings-table', 1),
      findingsCount: await page.locator('#findings-table-count').textContent(),
      hosts: await rows('hosts-table', 0),
      hostMacs: await rows('hosts-table', 2),
      webNames: await rows('web-table', 2),
    });
  }
  for (const q of JSON.parse(args.searches || '[]')) {
    // The answer of the query before is taken off first, so the one read is this query's.
    await page.locator('#search-results').evaluate((e) => e.replaceChildren());
    await page.fill('#search', q);
    await page.press('#search', 'Enter');
    await page.waitForFunction(() => document.getElementById('search-results').textContent.length > 0);
    result.searches.push({ q, text: await page.locator('#search-results').textContent() });
    await page.fill('#search', '');
  }
  if (args['filter-findings']) {
    await page.goto('about:blank');
    await page.goto(args.case + '#view=all');
    await settled();
    const before = await page.locator('#findings-table-count').textContent();
    await page.fill('#findings-table-filter', args['filter-findings']);
    await page.waitForFunction((b) => document.getElementById('findings-table-count').textContent !== b, before);
    result.filtered = { word: args['filter-findings'], count: await page.locator('#findings-table-count').textContent(),
      severities: await rows('findings-table', 0) };
  }
  if (args['report-html']) {
    // report.html opened from the server (?view): its own script sorts a table when a header is pressed.
    await page.goto(args.case + '/report/report.html?view');
    const th = page.locator('#hosts-table thead th[aria-sort], #hosts-table thead th').first();
    const aria = () => th.getAttribute('aria-sort');
    result.reportHtml = { before: await aria() };
    await th.locator('button').click();
    await page.waitForTimeout(200);
    result.reportHtml.after = await aria();
  }
} finally {
  await close();
}
console.log(JSON.stringify(result));
