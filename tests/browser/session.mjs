// One headless Chromium session for the browser drivers: a fresh profile in `dir` every time, none of
// Chromium's calls home (this machine's network is closed), downloads allowed, and the first page
// with its console errors and uncaught exceptions collected into `errors`.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export async function openSession(dir, executablePath, errors) {
  const profile = mkdtempSync(join(dir, 'profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: executablePath || '/usr/bin/chromium',
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(60_000);
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, close };
}

// The diagram's labels as the page shows them now: how many, the smallest in CSS pixels on screen
// (font size times the diagram's zoom), how many pairs overlap or touch (their boxes on screen), and
// how many host counts are shown without their network's name.
export async function labels(page) {
  return page.evaluate(() => {
    const stage = document.querySelector('#diagram .stage');
    const zoom = stage ? new DOMMatrix(getComputedStyle(stage).transform).a : 1;
    const shown = Array.from(document.querySelectorAll('#diagram svg text'))
      .filter((t) => t.getAttribute('display') !== 'none' && getComputedStyle(t).display !== 'none');
    const boxes = shown.map((t) => t.getBoundingClientRect());
    // Overlapping, or on the same line with less than 2 px between them (they read as one text).
    let overlaps = 0, touching = 0;
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) overlaps++;
        else if (a.top < b.bottom && b.top < a.bottom && a.left < b.right + 2 && b.left < a.right + 2) touching++;
      }
    }
    // A sub-label (a network's host count) shown without the name above it.
    const orphans = Array.from(document.querySelectorAll('#diagram svg text.sub'))
      .filter((t) => t.getAttribute('display') !== 'none')
      .filter((t) => { const main = t.previousElementSibling; return main && main.getAttribute('display') === 'none'; }).length;
    const px = shown.map((t) => parseFloat(getComputedStyle(t).fontSize) * zoom);
    return { shown: shown.length, all: document.querySelectorAll('#diagram svg text').length, zoom,
      smallestPx: px.length ? Math.min(...px) : null, overlaps, touching, orphans };
  });
}
