// The network diagram: a small force-directed layout drawn as SVG, with pan and zoom by mouse, wheel,
// touch and keyboard. Every host is a focusable button; text goes in through textContent only.
'use strict';
(function () {
  const SVG = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  // Fruchterman–Reingold, deterministic: the start positions depend only on the node order.
  function layout(nodes, edges, width, height) {
    const n = nodes.length;
    const index = new Map(nodes.map(function (node, i) { return [node.id, i]; }));
    const x = new Float64Array(n), y = new Float64Array(n);
    const lan = nodes.filter(function (node) { return node.lan; }).length;
    let li = 0, wi = 0;
    nodes.forEach(function (node, i) {
      const inner = node.lan;
      const count = inner ? Math.max(lan, 1) : Math.max(n - lan, 1);
      const slot = inner ? li++ : wi++;
      const r = (inner ? 0.15 : 0.45) * Math.min(width, height);
      const a = 2 * Math.PI * slot / count + (inner ? 0.3 : 0);
      x[i] = width / 2 + r * Math.cos(a);
      y[i] = height / 2 + r * Math.sin(a);
    });
    const links = edges.map(function (e) { return [index.get(e.a), index.get(e.b)]; })
      .filter(function (l) { return l[0] !== undefined && l[1] !== undefined && l[0] !== l[1]; });
    const k = 0.9 * Math.sqrt(width * height / Math.max(n, 1));
    const reach2 = 9 * k * k;
    const dx = new Float64Array(n), dy = new Float64Array(n);
    let temperature = width / 10;
    const rounds = n > 100 ? 200 : 300;
    for (let round = 0; round < rounds; round++) {
      dx.fill(0); dy.fill(0);
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          let ex = x[i] - x[j], ey = y[i] - y[j];
          let d2 = ex * ex + ey * ey;
          // Only near hosts push each other away, so separate groups do not drift apart.
          if (d2 > reach2) continue;
          if (d2 < 0.01) { ex = 0.1 * ((i % 7) - 3); ey = 0.1 * ((j % 5) - 2); d2 = 0.05; }
          const f = k * k / d2;
          dx[i] += ex * f; dy[i] += ey * f; dx[j] -= ex * f; dy[j] -= ey * f;
        }
      }
      for (const [a, b] of links) {
        const ex = x[a] - x[b], ey = y[a] - y[b];
        const d = Math.sqrt(ex * ex + ey * ey) + 0.01;
        const f = d / k;
        dx[a] -= ex * f; dy[a] -= ey * f; dx[b] += ex * f; dy[b] += ey * f;
      }
      for (let i = 0; i < n; i++) {
        // Gravity keeps unconnected hosts and groups together.
        dx[i] += (width / 2 - x[i]) * 0.08;
        dy[i] += (height / 2 - y[i]) * 0.08;
        const d = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]) + 0.01;
        const step = Math.min(d, temperature);
        x[i] += dx[i] / d * step; y[i] += dy[i] / d * step;
      }
      temperature *= 0.97;
    }
    return nodes.map(function (_, i) { return [x[i], y[i]]; });
  }

  // Pan and zoom of whatever the canvas shows, kept per canvas element.
  function viewport(canvas) {
    if (canvas._viewport) return canvas._viewport;
    const vp = { s: 1, tx: 0, ty: 0, w: 1, h: 1, stage: null, dragged: false };
    vp.apply = function () {
      if (vp.stage) vp.stage.style.transform = 'translate(' + vp.tx + 'px,' + vp.ty + 'px) scale(' + vp.s + ')';
    };
    vp.fit = function () {
      const r = canvas.getBoundingClientRect();
      const cw = r.width || 800, ch = r.height || 560;
      vp.s = Math.min(cw / vp.w, ch / vp.h, 2.5);
      vp.tx = (cw - vp.w * vp.s) / 2;
      vp.ty = (ch - vp.h * vp.s) / 2;
      vp.apply();
    };
    vp.zoomAt = function (px, py, factor) {
      const s = Math.min(Math.max(vp.s * factor, 0.05), 20);
      vp.tx = px - (px - vp.tx) * s / vp.s;
      vp.ty = py - (py - vp.ty) * s / vp.s;
      vp.s = s;
      vp.apply();
    };
    vp.zoom = function (factor) {
      const r = canvas.getBoundingClientRect();
      vp.zoomAt(r.width / 2, r.height / 2, factor);
    };
    vp.show = function (content, w, h) {
      vp.stage = document.createElement('div');
      vp.stage.className = 'stage';
      vp.stage.appendChild(content);
      canvas.replaceChildren(vp.stage);
      vp.w = w; vp.h = h;
      vp.fit();
    };
    canvas.addEventListener('wheel', function (e) {
      e.preventDefault();
      const r = canvas.getBoundingClientRect();
      vp.zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * 0.0015));
    }, { passive: false });
    let drag = null;
    canvas.addEventListener('pointerdown', function (e) {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, tx: vp.tx, ty: vp.ty, id: e.pointerId, moved: false };
      vp.dragged = false;
    });
    canvas.addEventListener('pointermove', function (e) {
      if (!drag || e.pointerId !== drag.id) return;
      const mx = e.clientX - drag.x, my = e.clientY - drag.y;
      if (!drag.moved && Math.abs(mx) + Math.abs(my) < 4) return;
      if (!drag.moved) { drag.moved = true; canvas.setPointerCapture(e.pointerId); canvas.classList.add('dragging'); }
      vp.tx = drag.tx + mx; vp.ty = drag.ty + my;
      vp.apply();
    });
    function end(e) {
      if (!drag || e.pointerId !== drag.id) return;
      vp.dragged = drag.moved;
      canvas.classList.remove('dragging');
      drag = null;
    }
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    canvas.addEventListener('keydown', function (e) {
      const step = 60;
      const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (moves[e.key]) { vp.tx += moves[e.key][0]; vp.ty += moves[e.key][1]; vp.apply(); }
      else if (e.key === '+' || e.key === '=') vp.zoom(1.25);
      else if (e.key === '-' || e.key === '_') vp.zoom(0.8);
      else if (e.key === '0') vp.fit();
      else return;
      e.preventDefault();
    });
    canvas._viewport = vp;
    return vp;
  }

  // nodes: {id, label, sub, lan, flagged, weight, title}; edges: {a, b, cls, color, width, title, files}.
  function draw(canvas, nodes, edges, onSelect) {
    const vp = viewport(canvas);
    // About 110 × 110 pixels per host leaves room for the labels at zoom 1.
    const width = Math.max(600, 130 * Math.sqrt(nodes.length));
    const height = width * 0.7;
    const pos = layout(nodes, edges, width, height);
    const at = new Map(nodes.map(function (node, i) { return [node.id, pos[i]]; }));
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    pos.forEach(function (p) {
      minX = Math.min(minX, p[0]); minY = Math.min(minY, p[1]);
      maxX = Math.max(maxX, p[0]); maxY = Math.max(maxY, p[1]);
    });
    if (!nodes.length) { minX = minY = 0; maxX = maxY = 100; }
    const pad = 70;
    const w = maxX - minX + 2 * pad, h = maxY - minY + 2 * pad;
    const root = svg('svg', { width: w, height: h, viewBox: (minX - pad) + ' ' + (minY - pad) + ' ' + w + ' ' + h, role: 'presentation' });
    const edgeLayer = svg('g', { class: 'edges' });
    edges.forEach(function (e) {
      const p = at.get(e.a), q = at.get(e.b);
      if (!p || !q) return;
      const line = svg('line', { x1: p[0], y1: p[1], x2: q[0], y2: q[1], class: 'edge', stroke: e.color, 'stroke-width': e.width, 'data-class': e.cls, 'data-a': e.a, 'data-b': e.b });
      const t = svg('title', {});
      t.textContent = e.title;
      line.appendChild(t);
      edgeLayer.appendChild(line);
      // A paper clip with the count where files went over the edge.
      if (e.files) {
        const mark = svg('text', { x: (p[0] + q[0]) / 2, y: (p[1] + q[1]) / 2, class: 'files-mark', 'text-anchor': 'middle', 'data-files': e.files, 'data-a': e.a, 'data-b': e.b });
        mark.textContent = '\u{1f4ce}' + e.files;
        const mt = svg('title', {});
        mt.textContent = e.title;
        mark.appendChild(mt);
        edgeLayer.appendChild(mark);
      }
    });
    root.appendChild(edgeLayer);
    const nodeLayer = svg('g', { class: 'nodes' });
    const byId = new Map();
    nodes.forEach(function (node) {
      const p = at.get(node.id);
      const g = svg('g', {
        class: 'node ' + (node.lan ? 'lan' : 'wan') + (node.flagged ? ' flagged' : ''),
        transform: 'translate(' + p[0] + ',' + p[1] + ')',
        tabindex: '0', role: 'button', 'data-ip': node.id,
      });
      g.setAttribute('aria-label', node.title);
      const r = Math.min(16, 5 + 1.6 * Math.log10(1 + node.weight));
      g.appendChild(svg('circle', { r: r }));
      const label = svg('text', { x: 0, y: r + 12, 'text-anchor': 'middle' });
      label.textContent = node.label;
      g.appendChild(label);
      if (node.sub) {
        const sub = svg('text', { x: 0, y: r + 25, 'text-anchor': 'middle' });
        sub.textContent = node.sub;
        g.appendChild(sub);
      }
      const t = svg('title', {});
      t.textContent = node.title;
      g.appendChild(t);
      g.addEventListener('click', function () { if (!vp.dragged) onSelect(node.id); vp.dragged = false; });
      g.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); e.stopPropagation(); onSelect(node.id); }
      });
      nodeLayer.appendChild(g);
      byId.set(node.id, g);
    });
    root.appendChild(nodeLayer);
    vp.show(root, w, h);
    return {
      select: function (id) {
        byId.forEach(function (g, key) { g.classList.toggle('selected', key === id); });
      },
    };
  }

  // A picture made elsewhere (the graph plugin's SVG), with the same pan and zoom.
  function picture(canvas, src, alt) {
    const vp = viewport(canvas);
    const img = new Image();
    img.alt = alt;
    img.onload = function () { vp.show(img, img.naturalWidth || 800, img.naturalHeight || 600); };
    img.onerror = function () {
      const p = document.createElement('p');
      p.className = 'error';
      p.textContent = 'The diagram ' + src + ' could not be shown.';
      canvas.replaceChildren(p);
    };
    img.src = src;
    return { select: function () {} };
  }

  window.PcapxrayDiagram = {
    draw: draw,
    picture: picture,
    fit: function (canvas) { viewport(canvas).fit(); },
    zoom: function (canvas, f) { viewport(canvas).zoom(f); },
  };
})();
