// Drives a real headless Chromium through the case life cycle of `pcapxray serve` the way a person
// does: upload with and without JavaScript, watch a queued case, press the Delete buttons on the case
// page and on the start page, cancel a re-run, a running and a queued analysis, and open a hostile page on another origin whose sandboxed frame (and a
// plain cross-site form) posts a delete. Prints one JSON line with what it saw; tests/e2e/serve.rs
// checks it.
//
// The server must run one analysis at a time (`--max-analyses 1`) with a pipeline whose analyses take
// several seconds, so that a second upload is queued while the first runs.
//
// node cases.mjs --url http://127.0.0.1:PORT/ --capture FILE --out DIR [--chromium PATH]

import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const need of ['url', 'capture', 'out']) {
  if (!args[need]) { console.error(`missing --${need}`); process.exit(2); }
}
const base = args.url.replace(/\/$/, '');
const step = (text) => console.error(`[browser] ${text}`);
const caseId = (url) => url.match(/\/cases\/([0-9a-f]{32})/)[1];

// The hostile site: another origin (`localhost` instead of 127.0.0.1, another port) whose pages post a
// delete to pcapxray, once from a sandboxed frame (opaque origin, `Origin: null`) and once plainly.
function hostile(target) {
  const form = `<!doctype html><title>hostile</title><form method="post" action="${target}"><button>go</button></form>` +
    '<script>window.addEventListener("load", function () { document.forms[0].submit(); });</script>';
  const pages = {
    '/sandboxed': '<!doctype html><title>hostile</title><iframe sandbox="allow-forms allow-scripts" src="/frame"></iframe>',
    '/frame': form,
    '/plain': form,
  };
  const server = createServer((req, res) => {
    const body = pages[req.url];
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/html' });
    res.end(body || 'not found');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const browser = await chromium.launch({
  executablePath: args.chromium || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const result = { consoleErrors: [] };
try {
  const js = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const noJs = await browser.newContext({ javaScriptEnabled: false });
  // Errors on pcapxray's pages are collected (the hostile pages' refused requests are expected to fail,
  // so they get a page of their own that is not watched).
  const watched = async () => {
    const p = await js.newPage();
    p.setDefaultTimeout(30_000);
    p.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(m.text()); });
    p.on('pageerror', (e) => result.consoleErrors.push(String(e)));
    return p;
  };
  let page = await watched();
  const api = async (id) => {
    const r = await page.request.get(`${base}/api/cases/${id}`);
    return r.status() === 200 ? (await r.json()).case.status : `HTTP ${r.status()}`;
  };
  const upload = async (p) => {
    await p.goto(`${base}/`);
    await p.getByLabel('Capture file').setInputFiles(args.capture);
    await Promise.all([
      p.waitForURL(/\/cases\/[0-9a-f]{32}$/),
      p.getByRole('button', { name: 'Upload and analyze' }).click(),
    ]);
    return caseId(p.url());
  };

  // A: the analysis that keeps the only slot busy.
  result.a = await upload(page);
  await page.waitForFunction(() => document.getElementById('case-status').textContent === 'running');
  step(`A ${result.a} running`);

  // B: queued behind A. Its page must say so at once, while the server still has it queued.
  result.b = await upload(page);
  await page.waitForFunction(() => document.getElementById('p-phase').textContent.startsWith('queued'), null, { timeout: 5_000 });
  result.bPhase = await page.locator('#p-phase').textContent();
  result.bStatusWhenShown = await api(result.b);
  step(`B ${result.b}: page says “${result.bPhase}”, server says ${result.bStatusWhenShown}`);

  // Delete B by its button on the case page (the page asks first).
  page.once('dialog', (d) => d.accept());
  await Promise.all([
    page.waitForURL(`${base}/`),
    page.getByRole('button', { name: 'Delete this case' }).click(),
  ]);
  result.bAfterDelete = await api(result.b);
  step(`B deleted from its page: ${result.bAfterDelete}`);

  // Without JavaScript: the plain upload form, then C's Delete button on the start page (C is queued).
  const plain = await noJs.newPage();
  result.c = await upload(plain);
  result.cTitle = await plain.locator('h1').textContent();
  result.cStatus = await api(result.c);
  await plain.goto(`${base}/`);
  const [plainDelete] = await Promise.all([
    plain.waitForResponse((r) => r.url().endsWith(`/cases/${result.c}/delete`)),
    plain.locator(`tr[data-id="${result.c}"] button`, { hasText: 'Delete' }).click(),
  ]);
  result.cDeleteStatus = plainDelete.status();
  result.cAfterDelete = await api(result.c);
  step(`C ${result.c} uploaded and deleted without JavaScript: ${result.cAfterDelete}`);

  // A hostile site tries to delete A: from a sandboxed frame and with a plain cross-site form.
  const evil = await hostile(`${base}/cases/${result.a}/delete`);
  const evilBase = `http://localhost:${evil.address().port}`;
  result.forged = {};
  const seen = [];
  js.on('request', (r) => { if (r.url().endsWith(`/cases/${result.a}/delete`)) seen.push(r); });
  const evilPage = await js.newPage();
  for (const path of ['/sandboxed', '/plain']) {
    seen.length = 0;
    await evilPage.goto(evilBase + path);
    for (let i = 0; i < 200 && !seen.length; i++) await evilPage.waitForTimeout(50);
    if (!seen.length) throw new Error(`the hostile page ${path} sent no delete`);
    const response = await seen[0].response();
    result.forged[path] = { status: response && response.status(), origin: await seen[0].headerValue('origin') };
  }
  await evilPage.close();
  evil.close();
  result.aAfterForgery = await api(result.a);
  step(`forged deletes: ${JSON.stringify(result.forged)}; A is ${result.aAfterForgery}`);

  // A finishes with its spinning stage stopped: the page says the report is incomplete, at the top.
  // A fresh page: the start page left open above follows the only case left to its page by itself
  // (start.js), a navigation that would race with ours.
  await page.close();
  page = await watched();
  await page.goto(`${base}/cases/${result.a}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'explore', null, { timeout: 60_000 });
  result.incomplete = await page.locator('#incomplete').innerText();
  result.incompleteVisible = await page.locator('#incomplete').isVisible();
  const top = (sel) => page.locator(sel).evaluate((e) => e.getBoundingClientRect().top);
  result.incompleteAboveExplore = (await top('#incomplete')) < (await top('#explore'));
  step(`A done: ${result.incomplete}`);

  // Cancel, by the button on the case page (which asks first), three ways. A re-run of A: the case
  // goes back to done with the report it had. A fresh case E while its stage spins (a 20 s call that
  // must be interrupted): failed, saying so, no report. D while it waits behind E: failed at once.
  const files = async (id) => {
    const r = await page.request.get(`${base}/api/cases/${id}`);
    return r.status() === 200 ? ((await r.json()).files || []).map((f) => f.path) : [];
  };
  const cancelOnPage = async () => {
    page.once('dialog', (d) => d.accept());
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/cancel')),
      page.getByRole('button', { name: 'Cancel the analysis' }).click(),
    ]);
    await page.waitForLoadState('load');
    return answer.status();
  };
  const statusShown = (wanted) => page.waitForFunction(
    (w) => document.getElementById('case-status').textContent === w, wanted, { timeout: 15_000 });
  await page.goto(`${base}/cases/${result.a}`);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/cases/${result.a}/rerun`)),
    page.getByRole('button', { name: 'Analyze again with the current pipeline' }).click(),
  ]);
  await page.waitForLoadState('load');
  await statusShown('running');
  let t = Date.now();
  result.aCancelStatus = await cancelOnPage();
  await statusShown('done');
  result.aCancelMs = Date.now() - t;
  result.aAfterCancel = await api(result.a);
  result.aFilesAfterCancel = await files(result.a);
  step(`A's re-run cancelled in ${result.aCancelMs} ms: ${result.aAfterCancel}, ${result.aFilesAfterCancel.length} report files`);

  result.e = await upload(page);
  await statusShown('running');
  result.d = await upload(page);
  await page.waitForFunction(() => document.getElementById('p-phase').textContent.startsWith('queued'));
  result.dCancelStatus = await cancelOnPage();
  await statusShown('failed');
  result.dError = await page.locator('#error-text').textContent();
  result.dAfterCancel = await api(result.d);
  await page.goto(`${base}/cases/${result.e}`);
  await statusShown('running');
  // Let the spinning stage's call begin (E's first batch), then cancel it.
  await page.waitForTimeout(1500);
  t = Date.now();
  result.eCancelStatus = await cancelOnPage();
  await statusShown('failed');
  result.eCancelMs = Date.now() - t;
  result.eError = await page.locator('#error-text').textContent();
  result.eAfterCancel = await api(result.e);
  result.eFiles = await files(result.e);
  step(`D cancelled while queued: ${result.dError}; E cancelled in ${result.eCancelMs} ms: ${result.eError}`);
  for (const id of [result.d, result.e]) await page.request.delete(`${base}/api/cases/${id}`);

  // Delete A by its button on the start page (the page asks first).
  await page.goto(`${base}/`);
  page.once('dialog', (d) => d.accept());
  const [deleted] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/cases/${result.a}/delete`)),
    page.locator(`tr[data-id="${result.a}"] button`, { hasText: 'Delete' }).click(),
  ]);
  result.aDeleteStatus = deleted.status();
  await page.waitForLoadState('load');
  result.aAfterDelete = await api(result.a);
  result.rowsLeft = await page.locator('#cases tbody tr').count();
  step(`A deleted from the start page: ${result.aAfterDelete}`);

  // Two files at once, the upload slowed to 1 KB/s: the first case is listed while the second is
  // still on its way, not only after the last file. Both are then cancelled (through the API: one
  // running, one queued) and deleted.
  const bytes = readFileSync(args.capture);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 });
  await page.getByLabel('Capture file').setInputFiles(['first.pcap', 'second.pcap'].map((name) => ({ name, mimeType: 'application/octet-stream', buffer: bytes })));
  await page.getByRole('button', { name: 'Upload and analyze' }).click();
  await page.waitForFunction(() => document.getElementById('upload-status').textContent.startsWith('Uploading second.pcap'));
  // The list is fetched again as the first is in (a small download, not slowed): it must show before
  // the second upload (6 s at this rate) is over.
  await page.waitForFunction(() => document.querySelectorAll('#cases tbody tr').length > 0, null, { timeout: 30_000 });
  // Rows and status read in one go: on a busy machine the second upload can end between two reads.
  const listed = await page.evaluate(() => ({
    rows: Array.from(document.querySelectorAll('#cases tbody tr a')).map((a) => a.textContent),
    status: document.getElementById('upload-status').textContent,
  }));
  result.rowsWhileSecond = listed.rows;
  result.statusWhenListed = listed.status;
  await page.waitForFunction(() => document.querySelectorAll('#cases tbody tr').length === 2, null, { timeout: 30_000 });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const ids = await page.locator('#cases tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.id));
  result.multiCancel = [];
  for (const id of ids) {
    const r = await page.request.post(`${base}/api/cases/${id}/cancel`);
    result.multiCancel.push(r.status());
    // A running analysis ends moments after its cancel is accepted; only then can it be deleted.
    for (let i = 0; i < 100 && ['running', 'queued'].includes(await api(id)); i++) await page.waitForTimeout(100);
    result.multiStatus = (result.multiStatus || []).concat([await api(id)]);
    await page.request.delete(`${base}/api/cases/${id}`);
  }
  step(`two files: listed while the second was uploading: ${JSON.stringify(result.rowsWhileSecond)}; cancelled: ${result.multiCancel}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
