// The network diagram, drawn as SVG where the explore worker placed the hosts and networks, with pan
// and zoom by mouse, wheel, touch and keyboard. Every host and network is a focusable button; text
// goes in through textContent only. Labels are never drawn smaller than at Fit: those that would
// overlap are left out, and below Fit none are shown.
'use strict';
(function () {
  const visible = window.PcapxrayCommon.visible;
  const SVG = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  // Pan and zoom of whatever the canvas shows, kept per canvas element.
  function viewport(canvas) {
    if (canvas._viewport) return canvas._viewport;
    const vp = { s: 1, tx: 0, ty: 0, w: 1, h: 1, stage: null, dragged: false };
    vp.apply = function () {
      if (vp.stage) vp.stage.style.transform = 'translate(' + vp.tx + 'px,' + vp.ty + 'px) scale(' + vp.s + ')';
      // Labels are 11 px at Fit (scale 1); smaller than 10 px they are not shown.
      canvas.classList.toggle('tiny', vp.s < 10 / 11);
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

  // Labels that would overlap a host's or network's shape or another, more important label, or
  // stick out of the picture, are not shown: fewer labels, never smaller ones. Frames' headers first, then networks, then hosts by
  // traffic, then the names under them. Boxes are measured as drawn (SVG units, CSS pixels at Fit).
  function thinLabels(labels, shapes, w, h) {
    const CELL = 64;
    const grid = new Map();
    const kept = [];
    // The hosts' and networks' shapes are taken first: a label never covers one.
    function take(b) {
      for (let gx = Math.floor(b.x / CELL); gx <= Math.floor((b.x + b.width) / CELL); gx++) {
        for (let gy = Math.floor(b.y / CELL); gy <= Math.floor((b.y + b.height) / CELL); gy++) {
          const key = gx + ',' + gy;
          if (!grid.has(key)) grid.set(key, []);
          grid.get(key).push(b);
        }
      }
    }
    shapes.forEach(take);
    labels.sort(function (p, q) { return p.rank - q.rank || q.weight - p.weight; });
    // A node's labels are placed inside its group: its position is added to their boxes.
    // A few pixels of room on either side, so that two kept labels never touch and read as one
    // ("173.192.0.0/16173.194.0.0/16").
    const PAD = 4;
    const boxes = labels.map(function (l) {
      const b = l.text.getBBox();
      return { x: b.x + (l.dx || 0) - PAD, y: b.y + (l.dy || 0), width: b.width + 2 * PAD, height: b.height };
    });
    labels.forEach(function (l, i) {
      const b = boxes[i];
      // A network's host count under its name is shown only with the name.
      if (l.of && l.of.getAttribute('display') === 'none') { l.text.setAttribute('display', 'none'); return; }
      let ok = b.x + PAD >= 0 && b.y >= 0 && b.x + b.width - PAD <= w && b.y + b.height <= h;
      for (let gx = Math.floor(b.x / CELL); ok && gx <= Math.floor((b.x + b.width) / CELL); gx++) {
        for (let gy = Math.floor(b.y / CELL); ok && gy <= Math.floor((b.y + b.height) / CELL); gy++) {
          ok = !(grid.get(gx + ',' + gy) || []).some(function (o) {
            return b.x < o.x + o.width && o.x < b.x + b.width && b.y < o.y + o.height && o.y < b.y + b.height;
          });
        }
      }
      if (!ok) { l.text.setAttribute('display', 'none'); return; }
      take(b);
      kept.push(l.text);
    });
    return kept;
  }

  function label(x, y, text, cls) {
    const t = svg('text', { x: x, y: y, 'text-anchor': 'middle', class: cls || '' });
    t.textContent = visible(text);
    return t;
  }

  // d: {width, height, nodes: [{id, group, x, y, r, label, sub, lan, flagged, weight, title}], frames:
  // [{key, x, y, w, h, label}] (open networks), edges: [{a, b, cls, color, width, title, files, group}]},
  // positions already laid out to fill width × height. on.host(ip) and on.group(key) when pressed.
  function draw(canvas, d, on) {
    const vp = viewport(canvas);
    const w = d.width, h = d.height;
    const at = new Map(d.nodes.map(function (n) { return [n.id, n]; }));
    const root = svg('svg', { width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'presentation' });
    const labels = [];
    // Layers, bottom to top: open networks' frames, conversations, hosts and networks, then every
    // label that is not a host's own (frames' headers, file marks), so no line is drawn across one.
    const frameLayer = svg('g', { class: 'frames' });
    const markLayer = svg('g', { class: 'marks' });
    d.frames.forEach(function (f) {
      const g = svg('g', { class: 'frame', 'data-group': f.key });
      g.appendChild(svg('rect', { x: f.x, y: f.y, width: f.w, height: f.h, rx: 6 }));
      frameLayer.appendChild(g);
      const head = svg('g', { class: 'frame-head', tabindex: '0', role: 'button', 'data-group': f.key, 'aria-label': 'Close network ' + f.label });
      const t = svg('text', { x: f.x + 6, y: f.y + 13 });
      t.textContent = '− ' + visible(f.label);
      head.appendChild(t);
      press(head, function () { on.group(f.key); });
      markLayer.appendChild(head);
      labels.push({ text: t, rank: 0, weight: f.w * f.h });
    });
    root.appendChild(frameLayer);
    const edgeLayer = svg('g', { class: 'edges' });
    d.edges.forEach(function (e) {
      const p = at.get(e.a), q = at.get(e.b);
      if (!p || !q) return;
      // Conversations with a network of hosts are drawn apart from those between two hosts.
      const line = svg('line', { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: e.group ? 'link' : 'edge', stroke: e.color, 'stroke-width': e.width, 'data-class': e.cls, 'data-a': e.a, 'data-b': e.b });
      const t = svg('title', {});
      t.textContent = visible(e.title);
      line.appendChild(t);
      edgeLayer.appendChild(line);
      // A paper clip with the count where files went over the edge.
      if (e.files) {
        const mark = svg('text', { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2, class: 'files-mark', 'text-anchor': 'middle', 'data-files': e.files, 'data-a': e.a, 'data-b': e.b });
        mark.textContent = '\u{1f4ce}' + e.files;
        labels.push({ text: mark, rank: 4, weight: e.files });
        const mt = svg('title', {});
        mt.textContent = visible(e.title);
        mark.appendChild(mt);
        markLayer.appendChild(mark);
      }
    });
    root.appendChild(edgeLayer);
    const nodeLayer = svg('g', { class: 'nodes' });
    const byId = new Map();
    d.nodes.forEach(function (node) {
      const g = svg('g', {
        class: 'node ' + (node.lan ? 'lan' : 'wan') + (node.flagged ? ' flagged' : '') + (node.group ? ' group' : ''),
        transform: 'translate(' + node.x + ',' + node.y + ')', tabindex: '0', role: 'button',
      });
      g.setAttribute(node.group ? 'data-group' : 'data-ip', node.id);
      g.setAttribute('aria-label', node.title);
      const r = node.r;
      g.appendChild(node.group ? svg('rect', { x: -r, y: -r, width: 2 * r, height: 2 * r, rx: 3 }) : svg('circle', { r: r }));
      const main = label(0, r + 12, node.label);
      g.appendChild(main);
      labels.push({ text: main, rank: node.group ? 1 : 2, weight: node.weight, dx: node.x, dy: node.y });
      if (node.sub) {
        const sub = label(0, r + 26, node.sub, 'sub');
        g.appendChild(sub);
        labels.push({ text: sub, rank: 3, weight: node.weight, dx: node.x, dy: node.y, of: main });
      }
      const t = svg('title', {});
      t.textContent = visible(node.title);
      g.appendChild(t);
      press(g, function () { if (node.group) on.group(node.id); else on.host(node.id); });
      nodeLayer.appendChild(g);
      if (!node.group) byId.set(node.id, g);
    });
    root.appendChild(nodeLayer);
    root.appendChild(markLayer);
    vp.show(root, w, h);
    thinLabels(labels, d.nodes.map(function (n) { return { x: n.x - n.r, y: n.y - n.r, width: 2 * n.r, height: 2 * n.r }; }), w, h);
    return {
      select: function (id) {
        byId.forEach(function (g, key) { g.classList.toggle('selected', key === id); });
      },
    };

    // A click (not the end of a drag), Enter or Space.
    function press(g, act) {
      g.addEventListener('click', function (e) { e.stopPropagation(); if (!vp.dragged) act(); vp.dragged = false; });
      g.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); e.stopPropagation(); act(); }
      });
    }
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
