// Drives a real headless Chromium (Debian's, via playwright-core; no browser download) through
// `pcapxray serve` the way an investigator would: upload a capture on the start page, follow the
// progress display to the end, switch to a view, click a host, download the JSON report and take a
// screenshot. Prints one JSON line with what it saw; tests/e2e/serve.rs checks it.
//
// Then, on the same case: the diagram's traffic classes, the From/To counts against the tables, the
// search box, sorting and filtering a table, and a link with the page's state opened in a new tab; on
// the cases given by --v6-case (IPv6 loopback) and --many-case (more hosts than the diagram draws), the
// hosts table.
//
// node explore.mjs --url http://127.0.0.1:PORT/ --capture FILE --out DIR [--chromium PATH]
//                  [--view https] [--host 192.168.0.26] [--mac MAC] [--v6-case URL] [--many-case URL]

import { openSession, labels } from './session.mjs';
import { join } from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const need of ['url', 'capture', 'out']) {
  if (!args[need]) { console.error(`missing --${need}`); process.exit(2); }
}
const view = args.view || 'https';
const host = args.host || '192.168.0.26';
const step = (text) => console.error(`[browser] ${text}`);

const result = { statuses: [], phases: [], consoleErrors: [] };
const { context, page, close } = await openSession(args.out, args.chromium, result.consoleErrors);
try {
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

  // What the page shows, read back for the checks in serve.rs.
  const summary = () => page.locator('#view-summary').textContent();
  const counter = (table) => page.locator(`#${table}-count`).textContent();
  // A pause for the typing delay, then until the page has drawn what it was asked.
  const settle = async () => { await page.waitForTimeout(400); await page.waitForFunction(() => !document.body.dataset.busy); };

  // The diagram of `all`: every edge with the class the page drew it in.
  await page.getByLabel('View', { exact: true }).selectOption('all');
  await page.waitForFunction(() => document.getElementById('view-summary').textContent.includes('“all”'));
  result.edges = await page.locator('#diagram line.edge').evaluateAll((ls) => ls.map((l) => [l.dataset.a, l.dataset.b, l.dataset.class, l.getAttribute('stroke')]));
  result.legend = await page.locator('#legend span[data-class]').evaluateAll((ss) => ss.map((s) => s.dataset.class));

  // From/To: a filter that matches nothing, then one host's flows; summary and tables must agree.
  result.filters = [];
  for (const [from, to] of [['10.0.0.0/8', '8.8.8.8'], [host, '']]) {
    await page.getByLabel('From (IP or CIDR)').fill(from);
    await page.getByLabel('To (IP or CIDR)').fill(to);
    await settle();
    result.filters.push({ from, to, summary: await summary(), hosts: await counter('hosts-table'), findings: await counter('findings-table') });
  }

  // Sort the hosts by flows (most first, then fewest first) and filter the table.
  const flowsColumn = () => page.locator('#hosts-table tbody tr td:nth-child(4)').allTextContents();
  await page.getByLabel('From (IP or CIDR)').fill('');
  await settle();
  await page.locator('#hosts-table thead').getByRole('button', { name: 'Flows' }).click();
  await settle();
  result.flowsDescending = await flowsColumn();
  await page.locator('#hosts-table thead').getByRole('button', { name: 'Flows' }).click();
  await settle();
  result.flowsAscending = await flowsColumn();
  result.hostsSort = await page.locator('#hosts-table th[aria-sort]').getAttribute('aria-sort');
  await page.getByLabel('Filter hosts').fill('192.168.');
  await settle();
  result.hostsFiltered = { count: await counter('hosts-table'), addresses: await page.locator('#hosts-table tbody tr td:nth-child(1)').allTextContents() };
  await page.getByLabel('Filter hosts').fill('');

  // The search box: a MAC, then a name.
  result.search = {};
  for (const q of [args.mac, 'accounts.google.com', 'web.https'].filter(Boolean)) {
    await page.getByLabel('Find a host (address, MAC, name or finding tag)').fill(q);
    await page.getByRole('button', { name: 'Find', exact: true }).click();
    await settle();
    result.search[q] = { results: await page.locator('#search-results').textContent(), details: await page.locator('#details-heading').textContent() };
  }

  // State in the address: view, From and the selected host survive a link opened in a new tab.
  await page.getByLabel('View', { exact: true }).selectOption(view);
  await page.getByLabel('From (IP or CIDR)').fill(host);
  await settle();
  await page.locator(`#hosts-table button[data-host="${host}"]`).first().click();
  const picture = async (p) => ({
    view: await p.getByLabel('View', { exact: true }).inputValue(),
    from: await p.getByLabel('From (IP or CIDR)').inputValue(),
    details: await p.locator('#details-heading').textContent(),
    summary: await p.locator('#view-summary').textContent(),
    hosts: await p.locator('#hosts-table-count').textContent(),
  });
  result.link = page.url();
  result.before = await picture(page);
  const other = await context.newPage();
  await other.goto(result.link);
  await other.waitForFunction(() => document.body.dataset.ready === 'explore');
  result.after = await picture(other);
  await other.close();
  step(`link ${result.link}`);

  // The Tor finding tags without a consensus: what the page says instead of command-line advice.
  await page.getByLabel('View', { exact: true }).selectOption('tag:tor');
  await page.getByLabel('From (IP or CIDR)').fill('');
  await settle();
  result.tor = {
    view: await page.getByLabel('View', { exact: true }).inputValue(),
    noteVisible: await page.locator('#view-note').isVisible(),
    note: await page.locator('#view-note').textContent(),
    findings: await page.locator('#findings-table tbody').innerText(),
    page: await page.locator('body').innerText(),
  };

  // Other cases: their hosts table and summary.
  const hostsOf = async (url, ip) => {
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.ready === 'explore');
    const out = {
      summary: await summary(),
      count: await counter('hosts-table'),
      rows: await page.locator('#hosts-table tbody tr').evaluateAll((rs) => rs.map((r) => Array.from(r.cells).map((c) => c.textContent))),
      nodes: await page.locator('#diagram g.node').count(),
    };
    if (ip) {
      await page.locator(`#hosts-table button[data-host="${ip}"]`).first().click();
      await page.waitForFunction((h) => document.getElementById('details-heading').textContent === `Host ${h}`, ip);
      out.details = await page.locator('#details').innerText();
    }
    return out;
  };
  if (args['v6-case']) {
    const url = args['v6-case'];
    result.v6 = await hostsOf(url, '::1');
    // Name the case, then analyze it again without uploading: the page's state (here a From
    // filter) comes back with it.
    await page.fill('#from', '::1');
    await page.waitForFunction(() => location.hash.includes('from='));
    result.hashBefore = await page.evaluate(() => location.hash);
    await page.getByLabel('Case name').fill('Loopback test case');
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/name') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Save name' }).click(),
    ]);
    await page.waitForLoadState('load');
    result.renamed = { heading: await page.locator('h1').textContent(), evidence: await page.locator('#evidence-name').textContent(),
      hash: await page.evaluate(() => location.hash) };
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/rerun') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Analyze again with the current pipeline' }).click(),
    ]);
    await page.waitForLoadState('load');
    result.rerunStatus = await page.locator('#case-status').textContent();
    await page.waitForFunction(() => document.body.dataset.ready === 'explore');
    result.rerun = { status: await page.locator('#case-status').textContent(), summary: await summary(), heading: await page.locator('h1').textContent(),
      hash: await page.evaluate(() => location.hash), from: await page.inputValue('#from') };
    await page.goto(args.url);
    result.listed = await page.locator(`tr[data-id="${url.split('/').pop()}"] td:first-child`).textContent();
    step(`renamed and re-ran ${url}: ${JSON.stringify(result.rerun)}`);
  }
  if (args['many-case']) {
    result.many = await hostsOf(args['many-case'], '10.0.0.1');
    // More hosts than the diagram draws one by one: a network opens on a press, its hosts labelled
    // at Fit no smaller than 10 px and without overlap, and closes again.
    const many = result.many;
    // The hosts table shows a page of rows at a time: press "Next rows" to the end, then back once.
    many.pages = [];
    for (;;) {
      many.pages.push({
        range: await page.locator('#hosts-table-rows').textContent(),
        addresses: await page.locator('#hosts-table tbody tr td:nth-child(1)').allTextContents(),
      });
      const next = page.locator('#hosts-table-next');
      if (await next.isDisabled() || many.pages.length > 10) break;
      await next.click();
      await settle();
    }
    await page.locator('#hosts-table-previous').click();
    await settle();
    many.back = await page.locator('#hosts-table-rows').textContent();
    many.groups = await page.locator('#diagram g.node.group').evaluateAll((gs) => gs.map((g) => g.dataset.group));
    many.labelsClosed = await labels(page);
    await page.locator('#diagram g.node.group rect').first().click();
    await page.locator('#diagram g.frame').first().waitFor();
    many.opened = { nodes: await page.locator('#diagram g.node:not(.group)').count(), frames: await page.locator('#diagram g.frame').evaluateAll((fs) => fs.map((f) => f.dataset.group)) };
    many.labelsOpened = await labels(page);
    // Bottom to top: frames, conversations, hosts, then the labels that are not a host's own (the
    // open network's header, file marks), so no line is drawn across them.
    many.layers = await page.locator('#diagram svg > g').evaluateAll((gs) => gs.map((g) => g.getAttribute('class')));
    many.headsOnTop = await page.locator('#diagram g.marks > g.frame-head').count();
    // Zoomed in, a From box being typed into that does not yet name an address (the picture stays
    // the same) keeps the zoom; cleared again, too.
    const transform = () => page.locator('#diagram .stage').evaluate((s) => s.style.transform);
    const fitTransform = await transform();
    await page.locator('#zoom-in').click();
    many.zoom = { fit: fitTransform, zoomed: await transform() };
    await page.locator('#from').pressSequentially('20');
    await page.waitForTimeout(400);
    await settle();
    many.zoom.typing = await transform();
    many.zoom.typingError = await page.locator('#filter-error').textContent();
    await page.locator('#from').fill('');
    await page.waitForTimeout(400);
    await settle();
    many.zoom.cleared = await transform();
    await page.locator('#zoom-fit').click();
    await page.locator('#diagram g.frame-head').first().click();
    await page.locator('#diagram g.node.group').first().waitFor();
    many.closed = { nodes: await page.locator('#diagram g.node').count(), frames: await page.locator('#diagram g.frame').count() };
  }
} finally {
  await close();
}
console.log(JSON.stringify(result));
