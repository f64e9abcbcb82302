// The capture's timeline: bytes of the view's flows over time as bars, findings marked above them, and
// the selected time range shaded. Dragging across it (or pressing a bar) sets the range; the page
// filters every view, table and the diagram by it. Times are microseconds since the Unix epoch.
'use strict';
(function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const HEIGHT = 96, TOP = 18, AXIS = 18;

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  // Draws the timeline into `box`. opts: {start, end, bytes: [BINS numbers], marks: one per bin at
  // most, [{t, severity (the most severe), texts (up to five), count}], range: [t0, t1] or null,
  // label(t) → text, onSelect([t0, t1])}. The explore worker bins the flows and findings.
  function draw(box, opts) {
    const width = Math.max(box.clientWidth || 0, 320);
    const start = opts.start, end = Math.max(opts.end, opts.start + 1);
    const span = end - start;
    const x = function (t) { return (t - start) / span * width; };
    const t = function (px) { return Math.round(start + Math.min(Math.max(px, 0), width) / width * span); };
    const bytes = opts.bytes, BINS = bytes.length;
    const top = Math.max.apply(null, bytes.concat([1]));
    const root = svg('svg', { width: width, height: HEIGHT, class: 'timeline-svg', role: 'img',
      'aria-label': 'Bytes over time from ' + opts.label(start) + ' to ' + opts.label(end) });
    const barW = width / BINS;
    const bars = svg('g', { class: 'bars' });
    for (let b = 0; b < BINS; b++) {
      const h = bytes[b] ? Math.max(1, (HEIGHT - TOP - AXIS) * bytes[b] / top) : 0;
      const t0 = start + span * b / BINS, t1 = start + span * (b + 1) / BINS;
      const rect = svg('rect', { x: b * barW, y: HEIGHT - AXIS - h, width: Math.max(barW - 0.5, 0.5), height: h,
        class: 'bar', 'data-t0': Math.floor(t0), 'data-t1': Math.ceil(t1) });
      const title = svg('title', {});
      title.textContent = opts.label(t0) + ' – ' + opts.label(t1) + ': ' + Math.round(bytes[b]) + ' bytes';
      rect.appendChild(title);
      bars.appendChild(rect);
    }
    root.appendChild(bars);
    const marks = svg('g', { class: 'marks' });
    opts.marks.forEach(function (g) {
      const mx = x(g.t);
      const mark = svg('path', { d: 'M' + (mx - 4) + ' 2 L' + (mx + 4) + ' 2 L' + mx + ' ' + (TOP - 4) + ' Z',
        class: 'mark sev-' + g.severity, 'data-t': g.t, 'data-count': g.count });
      const title = svg('title', {});
      title.textContent = g.texts.join('\n') + (g.count > g.texts.length ? '\n… ' + (g.count - g.texts.length) + ' more' : '');
      mark.appendChild(title);
      marks.appendChild(mark);
    });
    root.appendChild(marks);
    const axis = svg('g', { class: 'axis' });
    [[0, 'start'], [width / 2, 'middle'], [width, 'end']].forEach(function (p) {
      const label = svg('text', { x: p[0], y: HEIGHT - 4, 'text-anchor': p[1] });
      label.textContent = opts.label(t(p[0]));
      axis.appendChild(label);
    });
    root.appendChild(axis);
    const shade = svg('rect', { class: 'range', y: 0, height: HEIGHT - AXIS, x: 0, width: 0 });
    root.appendChild(shade);
    function shadeRange(r) {
      if (!r) { shade.setAttribute('width', 0); shade.setAttribute('visibility', 'hidden'); return; }
      const a = Math.max(0, x(r[0])), b = Math.min(width, x(r[1]));
      shade.setAttribute('x', a);
      shade.setAttribute('width', Math.max(b - a, 2));
      shade.setAttribute('visibility', 'visible');
    }
    shadeRange(opts.range);
    // Drag to choose a range; a press without dragging chooses the bar under the pointer.
    let from = null;
    const px = function (e) { return e.clientX - root.getBoundingClientRect().left; };
    root.addEventListener('pointerdown', function (e) {
      from = px(e);
      root.setPointerCapture(e.pointerId);
      e.preventDefault();
    });
    root.addEventListener('pointermove', function (e) {
      if (from === null) return;
      const to = px(e);
      shadeRange([t(Math.min(from, to)), t(Math.max(from, to))]);
    });
    root.addEventListener('pointerup', function (e) {
      if (from === null) return;
      const to = px(e);
      const a = Math.min(from, to), b = Math.max(from, to);
      from = null;
      if (b - a < 3) {
        const k = Math.min(BINS - 1, Math.max(0, Math.floor(a / barW)));
        opts.onSelect([Math.floor(start + span * k / BINS), Math.ceil(start + span * (k + 1) / BINS)]);
      } else {
        opts.onSelect([t(a), t(b)]);
      }
    });
    box.replaceChildren(root);
  }

  window.PcapxrayTimeline = { draw: draw };
})();
