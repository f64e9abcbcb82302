// The investigator's second afternoon with `pcapxray serve`, in a real headless Chromium: upload a
// capture, narrow the case to a time range by dragging across the timeline (and by pressing one of
// its bars), open a link with that state in a new tab, download the packets of one flow, of one host
// and of the filtered view as pcap files (read here by this script's own pcap/pcapng reader), the
// tables as CSV, and the original capture (hashed here). Prints one JSON line with what it saw;
// tests/e2e/serve.rs checks it against report.json and tshark.
//
// node evidence.mjs --url http://127.0.0.1:PORT/ --capture FILE --out DIR --host IP [--chromium PATH]

import { openSession } from './session.mjs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const need of ['url', 'capture', 'out', 'host']) {
  if (!args[need]) { console.error(`missing --${need}`); process.exit(2); }
}
const step = (text) => console.error(`[browser] ${text}`);

// ---------- this test's own capture reader ----------
// Classic pcap (either byte order, micro- or nanosecond) and pcapng (SHB, IDB, EPB, SPB); returns the
// format, the link types and every packet's time (ns, as a BigInt), captured and original length.
export function readCapture(bytes) {
  const b = Buffer.from(bytes);
  const magic = b.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) return readPcapng(b);
  const kinds = { 0xa1b2c3d4: [true, 1000n], 0xa1b23c4d: [true, 1n], 0xd4c3b2a1: [false, 1000n], 0x4d3cb2a1: [false, 1n] };
  const kind = kinds[magic];
  if (!kind) throw new Error(`not a capture: magic ${magic.toString(16)}`);
  const [le, unit] = kind;
  const u32 = (at) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const out = { format: 'pcap', nanosecond: unit === 1n, linkTypes: [u32(20)], packets: [] };
  let at = 24;
  while (at < b.length) {
    if (at + 16 > b.length) throw new Error(`record header cut at ${at}`);
    const caplen = u32(at + 8), orig = u32(at + 12);
    if (at + 16 + caplen > b.length) throw new Error(`record cut at ${at}`);
    out.packets.push({ ts: BigInt(u32(at)) * 1000000000n + BigInt(u32(at + 4)) * unit, caplen, orig });
    at += 16 + caplen;
  }
  return out;
}

function readPcapng(b) {
  const out = { format: 'pcapng', linkTypes: [], packets: [] };
  let le = true, resolutions = [];
  let at = 0;
  while (at < b.length) {
    if (b.readUInt32LE(at) === 0x0a0d0d0a) {
      le = b.readUInt32LE(at + 8) === 0x1a2b3c4d;
      resolutions = [];
    }
    const u32 = (p) => (le ? b.readUInt32LE(p) : b.readUInt32BE(p));
    const u16 = (p) => (le ? b.readUInt16LE(p) : b.readUInt16BE(p));
    const type = u32(at), len = u32(at + 4);
    if (len < 12 || at + len > b.length || u32(at + len - 4) !== len) throw new Error(`bad pcapng block at ${at}`);
    if (type === 1) {
      out.linkTypes.push(u16(at + 8));
      // Options: if_tsresol (code 9) sets the unit; the default is microseconds.
      let unit = 1000n;
      for (let p = at + 16; p + 4 <= at + len - 4;) {
        const code = u16(p), olen = u16(p + 2);
        if (code === 0) break;
        if (code === 9) { const r = b[p + 4]; unit = r & 0x80 ? 0n : 10n ** (9n - BigInt(r)); }
        p += 4 + Math.ceil(olen / 4) * 4;
      }
      resolutions.push(unit);
    } else if (type === 6) {
      const iface = u32(at + 8);
      const ts = (BigInt(u32(at + 12)) << 32n) | BigInt(u32(at + 16));
      out.packets.push({ ts: ts * resolutions[iface], iface, caplen: u32(at + 20), orig: u32(at + 24) });
    } else if (type === 3) {
      out.packets.push({ ts: null, caplen: u32(at + 8), orig: u32(at + 8) });
    }
    at += len;
  }
  return out;
}

// ---------- the session ----------
const result = { consoleErrors: [] };
const { context, page, close } = await openSession(args.out, args.chromium, result.consoleErrors);
try {
  await page.goto(args.url);
  await page.getByLabel('Capture file').setInputFiles(args.capture);
  await Promise.all([
    page.waitForURL(/\/cases\/[0-9a-f]{32}$/),
    page.getByRole('button', { name: 'Upload and analyze' }).click(),
  ]);
  result.caseUrl = page.url();
  await page.waitForFunction(() => document.body.dataset.ready === 'explore', null, { timeout: 180_000 });
  step(`analyzed: ${result.caseUrl}`);

  const summary = () => page.locator('#view-summary').textContent();
  const counter = (table) => page.locator(`#${table}-count`).textContent();
  // A pause for the typing delay, then until the page has drawn what it was asked.
  const settle = async () => { await page.waitForTimeout(400); await page.waitForFunction(() => !document.body.dataset.busy); };
  const save = async (name, click) => {
    const [download] = await Promise.all([page.waitForEvent('download'), click()]);
    const path = join(args.out, name);
    await download.saveAs(path);
    return { path, name: download.suggestedFilename() };
  };
  const picture = async (p) => ({
    timeFrom: await p.getByLabel('Time from (UTC)').inputValue(),
    timeTo: await p.getByLabel('Time to (UTC)').inputValue(),
    summary: await p.locator('#view-summary').textContent(),
    flows: await p.locator('#flows-table-count').textContent(),
    hosts: await p.locator('#hosts-table-count').textContent(),
    findings: await p.locator('#findings-table-count').textContent(),
    shaded: await p.locator('#timeline rect.range').getAttribute('visibility'),
  });

  // The whole capture first.
  result.whole = { ...(await picture(page)), caption: await page.locator('#timeline-caption').textContent(),
    bars: await page.locator('#timeline rect.bar').count(), marks: await page.locator('#timeline .mark').count() };

  // Drag across the middle of the timeline, as a person does with the mouse.
  const box = await page.locator('#timeline svg').boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 8 });
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 8 });
  await page.mouse.up();
  await settle();
  result.dragged = await picture(page);
  result.link = page.url();
  step(`dragged: ${result.dragged.timeFrom} – ${result.dragged.timeTo}: ${result.dragged.summary}`);

  // The same picture from the link, in a new tab.
  const other = await context.newPage();
  await other.goto(result.link);
  await other.waitForFunction(() => document.body.dataset.ready === 'explore');
  result.reopened = await picture(other);
  await other.close();

  // The packets of the view in that time range, through the button.
  const flowIds = await page.locator('#flows-table tbody tr td:first-child').allTextContents();
  result.viewFlowIds = flowIds.map((t) => Number(t.replace(/,/g, ''))).filter((n) => n > 0);
  const viewPcap = await save('view.pcap', () => page.getByRole('button', { name: /Download the packets of this view/ }).click());
  result.viewPcap = { name: viewPcap.name, ...summarize(readCapture(readFileSync(viewPcap.path))), path: viewPcap.path };

  // The flows table as CSV, filtered by the time range.
  const flowsCsv = await save('flows.csv', () => page.locator('#flows-table-csv').click());
  result.flowsCsv = { name: flowsCsv.name, text: readFileSync(flowsCsv.path, 'utf8') };

  // Press one bar: the range becomes that bar's slice of time.
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await settle();
  result.cleared = await picture(page);
  const busiest = await page.locator('#timeline rect.bar').evaluateAll((rs) => {
    let best = null;
    rs.forEach((r, i) => { const h = Number(r.getAttribute('height')); if (!best || h > best.h) best = { i, h }; });
    return best.i;
  });
  const bar = page.locator('#timeline rect.bar').nth(busiest);
  const barBox = await bar.boundingBox();
  await page.mouse.click(barBox.x + barBox.width / 2, box.y + box.height / 2);
  await settle();
  result.bar = { ...(await picture(page)), t0: await bar.getAttribute('data-t0'), t1: await bar.getAttribute('data-t1') };
  step(`bar ${busiest}: ${result.bar.summary}`);
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await settle();

  // One flow's packets: the flow with the most packets, through its link in the flows table.
  await page.locator('#flows-table thead').getByRole('button', { name: 'Packets', exact: true }).click();
  await settle();
  const first = page.locator('#flows-table tbody tr').first();
  const cells = await first.locator('td').allTextContents();
  result.flow = { id: Number(cells[0].replace(/,/g, '')), packets: Number(cells[7].replace(/,/g, '')), row: cells };
  const flowPcap = await save('flow.pcap', () => first.getByRole('link', { name: /packets of flow/ }).click());
  result.flowPcap = { name: flowPcap.name, ...summarize(readCapture(readFileSync(flowPcap.path))), path: flowPcap.path };
  step(`flow ${result.flow.id}: ${result.flow.packets} packets in the table, ${result.flowPcap.packets} in the file`);

  // One host's packets, from its details.
  await page.locator(`#hosts-table button[data-host="${args.host}"]`).first().click();
  await settle();
  const hostPcap = await save('host.pcap', () => page.getByRole('link', { name: /Download this host's packets/ }).click());
  result.hostPcap = { name: hostPcap.name, ...summarize(readCapture(readFileSync(hostPcap.path))), path: hostPcap.path };

  // The DNS table and the findings with their evidence, as CSV.
  result.dnsRows = await page.locator('#dns-table tbody tr').evaluateAll((rs) => rs.map((r) => Array.from(r.cells).map((c) => c.textContent)));
  result.dnsCount = await counter('dns-table');
  const findingsCsv = await save('findings.csv', () => page.locator('#findings-table-csv').click());
  result.findingsCsv = readFileSync(findingsCsv.path, 'utf8');
  result.findingsCount = await counter('findings-table');

  // The original capture and the SHA-256 the page shows.
  const original = await save('original', () => page.locator('#original-link').click());
  result.original = { name: original.name, sha256: createHash('sha256').update(readFileSync(original.path)).digest('hex'),
    shown: await page.locator('#original-sha256').textContent() };
  const shaFile = await save('original.sha256', () => page.locator('#original-sha-link').click());
  result.original.file = readFileSync(shaFile.path, 'utf8');
  result.summaryAtEnd = await summary();
} finally {
  await close();
}
console.log(JSON.stringify(result));

function summarize(cap) {
  return { format: cap.format, linkTypes: cap.linkTypes, packets: cap.packets.length,
    first: cap.packets.length ? String(cap.packets[0].ts) : null, last: cap.packets.length ? String(cap.packets.at(-1).ts) : null };
}
