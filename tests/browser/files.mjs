// The Files and Credentials tables of `pcapxray serve` in a real headless Chromium: upload a capture
// with several files, sort and filter the Files table, download its filtered CSV, narrow the view by
// dragging across the timeline, download a kept file from its row (hashed here, its headers read by a
// second request); then upload a capture with a cleartext login and reveal its masked secret by
// pressing it. Prints one JSON line with what it saw; tests/e2e/serve.rs checks it against
// files_expected.json and tshark.
//
// node files.mjs --url http://127.0.0.1:PORT/ --capture FILE --login FILE --out DIR [--chromium PATH]

import { openSession } from './session.mjs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const need of ['url', 'capture', 'login', 'out']) {
  if (!args[need]) { console.error(`missing --${need}`); process.exit(2); }
}
const step = (text) => console.error(`[browser] ${text}`);

const result = { consoleErrors: [] };
const { page, close } = await openSession(args.out, args.chromium, result.consoleErrors);
const rows = (table) => page.locator(`#${table} tbody tr`).evaluateAll((rs) => rs.map((r) => Array.from(r.cells).map((c) => c.textContent)));
const counter = (table) => page.locator(`#${table}-count`).textContent();
// A pause for the typing delay, then until the page has drawn what it was asked.
const settle = async () => { await page.waitForTimeout(400); await page.waitForFunction(() => !document.body.dataset.busy); };
const save = async (name, click) => {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = join(args.out, name);
  await download.saveAs(path);
  return { path, name: download.suggestedFilename() };
};
async function upload(file) {
  await page.goto(args.url);
  await page.getByLabel('Capture file').setInputFiles(file);
  await Promise.all([
    page.waitForURL(/\/cases\/[0-9a-f]{32}$/),
    page.getByRole('button', { name: 'Upload and analyze' }).click(),
  ]);
  await page.waitForFunction(() => document.body.dataset.ready === 'explore', null, { timeout: 180_000 });
  step(`analyzed ${file}: ${page.url()}`);
  return page.url();
}

try {
  // ---------- files ----------
  result.filesCase = await upload(args.capture);
  result.filesCount = await counter('files-table');
  result.fileMarks = await page.locator('#diagram .files-mark').evaluateAll((ms) => ms.map((m) => m.firstChild.textContent));
  // Sort by size: the first press on a number column sorts largest first.
  await page.locator('#files-table thead').getByRole('button', { name: 'Size', exact: true }).click();
  await settle();
  result.sizeSort = await page.locator('#files-table thead th[aria-sort]').textContent();
  result.bySize = await rows('files-table');
  // Filter by a word, and download the table as filtered.
  await page.locator('#files-table-filter').fill('png');
  await settle();
  result.filtered = { count: await counter('files-table'), rows: await rows('files-table') };
  const csv = await save('files.csv', () => page.locator('#files-table-csv').click());
  result.filteredCsv = readFileSync(csv.path, 'utf8');
  await page.locator('#files-table-filter').fill('');
  await settle();

  // The largest file, from its row: its bytes hashed here, its headers read by a second request.
  const first = page.locator('#files-table tbody tr').first();
  result.downloadRow = await first.locator('td').allTextContents();
  const link = first.locator('a.file-download');
  const href = await link.getAttribute('href');
  const kept = await save('kept-file', () => link.click());
  result.download = { href, name: kept.name, sha256: createHash('sha256').update(readFileSync(kept.path)).digest('hex') };
  const again = await page.request.get(new URL(href, page.url()).toString());
  result.download.status = again.status();
  result.download.headers = again.headers();

  // Narrow the view by dragging across the middle of the timeline: the files table follows.
  const box = await page.locator('#timeline svg').boundingBox();
  await page.mouse.move(box.x + box.width * 0.45, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.55, box.y + box.height / 2, { steps: 8 });
  await page.mouse.up();
  await settle();
  result.narrowed = {
    files: await counter('files-table'), fileRows: await rows('files-table'),
    flows: await counter('flows-table'), flowIds: (await rows('flows-table')).map((r) => Number(r[0].replace(/,/g, ''))),
  };

  // ---------- credentials ----------
  result.loginCase = await upload(args.login);
  result.credentialsCount = await counter('credentials-table');
  result.credentialRows = await rows('credentials-table');
  // Every secret value the page was handed before the click (the explore model) and its markup's.
  const id = result.loginCase.split('/').pop();
  const model = await (await page.request.get(new URL(`/api/cases/${id}/explore`, page.url()).toString())).text();
  result.modelSecrets = Array.from(model.matchAll(/"secret":("(?:[^"\\]|\\.)*")/g), (m) => JSON.parse(m[1]));
  result.tableHtml = await page.locator('#credentials-table').evaluate((t) => t.outerHTML);
  const reveal = page.locator('#credentials-table button.reveal').first();
  result.maskShown = await reveal.textContent();
  await reveal.click();
  await page.locator('#credentials-table code.secret').first().waitFor();
  result.revealed = await page.locator('#credentials-table code.secret').first().textContent();
  result.findingsEvidence = (await rows('findings-table')).map((r) => r.join(' | '));
} finally {
  await close();
}
console.log(JSON.stringify(result));
