// Case page: follows the analysis through Server-Sent Events, then builds the explore view. The
// model of the case (every flow, host and finding) lives in a worker (explore-worker.js), which
// answers each question of the page — a view, a table page, a host — with only what is drawn, so the
// page stays responsive whatever the size of the case; the capture is never re-read.
// Report contents come from a capture and may be hostile: they reach the page through textContent only.
'use strict';
(function () {
  const id = document.body.dataset.case;
  const $ = function (s) { return document.getElementById(s); };
  const base = '/cases/' + encodeURIComponent(id);
  const { size, count, str, nFlows, isoOf, visible } = window.PcapxrayCommon;

  // ---------- small helpers ----------
  // Every text goes in through textContent, with invisible characters made visible (see visible).
  function el(tag, props) {
    const e = document.createElement(tag);
    if (props) for (const k in props) {
      if (k === 'text') e.textContent = visible(props[k]);
      else if (k === 'class') e.className = props[k];
      else e.setAttribute(k, props[k]);
    }
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(visible(c)) : c);
    }
    return e;
  }
  // Short labels for the timeline's axis: the date only when the capture spans days.
  function timeLabel(us) {
    const text = isoOf(us);
    const long = meta.end - meta.start > 86400e6;
    return long ? text.slice(0, 10) + ' ' + text.slice(11, 19) : text.slice(11, 23);
  }

  // Naming the case or analyzing it again comes back to this page by a redirect; the page's state
  // (view, filters, time range, host) rides along in the fragment, which a redirect keeps.
  ['name-form', 'rerun-form'].forEach(function (formId) {
    const form = $(formId);
    if (form) form.addEventListener('submit', function () { form.action = form.action.split('#')[0] + location.hash; });
  });
  document.querySelector('form.cancel-case').addEventListener('submit', function (e) {
    if (!window.confirm('Cancel this analysis? What it has done so far is discarded.')) e.preventDefault();
  });
  document.querySelector('form.delete-case').addEventListener('submit', function (e) {
    if (!window.confirm('Delete the case “' + e.target.dataset.name + '” with its capture and reports?')) e.preventDefault();
  });

  // The original capture's SHA-256: report.json's, else (a failed analysis, an old report) the
  // server's checksum file of the stored capture.
  function originalSha(fromReport) {
    if (fromReport) { $('original-sha256').textContent = fromReport; return; }
    fetch(base + '/capture.sha256').then(function (r) { return r.ok ? r.text() : ''; }, function () { return ''; })
      .then(function (text) { $('original-sha256').textContent = text.split(' ')[0] || 'unknown'; });
  }

  // ---------- progress ----------
  const source = new EventSource('/api/cases/' + encodeURIComponent(id) + '/events');
  let explored = false;

  function showStatus(c) {
    const st = $('case-status');
    st.textContent = c.status;
    st.className = 'status status-' + c.status;
    const progress = $('progress-section');
    if (c.status === 'queued' || c.status === 'running') {
      progress.hidden = false;
      const p = c.progress || {};
      $('p-phase').textContent = c.status === 'queued'
        ? 'queued: waiting for a free analysis slot'
        : (p.phase || 'starting');
      $('p-bytes').textContent = p.bytes_total ? size(p.bytes_read) + ' of ' + size(p.bytes_total) : '–';
      $('p-packets').textContent = count(p.packets);
      $('p-flows').textContent = count(p.flows);
      const bar = $('progress-bar');
      if (p.bytes_total) bar.value = Math.round(1000 * p.bytes_read / p.bytes_total);
      else bar.removeAttribute('value');
    } else {
      progress.hidden = true;
    }
    document.querySelector('form.rerun-case').hidden = !(c.status === 'done' || c.status === 'failed');
    if (c.status === 'failed') {
      $('error-text').textContent = c.error || 'The analysis failed without a message.';
      $('failure').hidden = false;
      originalSha(null);
    }
    if (c.status === 'done' && !explored) {
      explored = true;
      explore(c);
    }
  }

  source.addEventListener('status', function (e) {
    $('connection').textContent = '';
    let c;
    try { c = JSON.parse(e.data); } catch (_) { return; }
    showStatus(c);
    if (c.status === 'done' || c.status === 'failed') source.close();
  });
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) {
      $('connection').textContent = 'The connection to the server was closed. Reload the page to try again.';
    } else {
      $('connection').textContent = 'The connection to the server was lost; trying again…';
    }
  };

  // ---------- the worker ----------
  // Every question goes to the worker with a number; its answer comes back with the same number.
  let worker = null;
  let asked = 0;
  const waiting = new Map();
  function ask(op, args) {
    busy(1);
    return new Promise(function (resolve, reject) {
      const seq = ++asked;
      waiting.set(seq, { resolve: resolve, reject: reject });
      worker.postMessage(Object.assign({ op: op, seq: seq }, args || {}));
    }).finally(function () { busy(-1); });
  }
  // While questions are out or a picture is being drawn, the body says so (data-busy), for whoever
  // waits for the page to settle (the browser tests).
  let busyCount = 0;
  function busy(delta) {
    busyCount += delta;
    if (busyCount > 0) document.body.dataset.busy = '1';
    else delete document.body.dataset.busy;
  }
  function startWorker() {
    worker = new Worker('/assets/explore-worker.js');
    worker.onmessage = function (e) {
      const w = waiting.get(e.data.seq);
      if (!w) return;
      waiting.delete(e.data.seq);
      if (e.data.ok) w.resolve(e.data.out); else w.reject(new Error(e.data.error));
    };
  }
  // The worker starts reading the case's model at once: for a finished case that saves the time the
  // status and the file list take to come. A case not yet done has no model, and is read when done.
  startWorker();
  const preloaded = $('case-status').textContent === 'done' ? ask('load', { id: id }) : null;
  if (preloaded) preloaded.catch(function () { /* read again below */ });

  const SEVERITY_ORDER = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
  const UNCLASSIFIED = { name: 'unclassified', color: '#8a8a8a' };
  // What a masked secret shows (the SDK's tables::MASK).
  const MASK = '\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022';
  const TOR_NOTE = 'Tor relays could not be recognised in this analysis: the server had no list of Tor relays (a consensus) for it, so connections to Tor relays are not marked; only the check of Tor-like server names ran. Add consensuses of the capture\'s dates on the Tor relays page, then analyze the case again.';
  // Said by the server when the consensuses it holds do not cover the capture's time.
  let torCoverage = '';

  // What the worker said about the case when it read it: views, tags, classes, time span, hosts.
  let meta = null;
  let knownHosts = new Set();
  let diagram = null;
  let selected = null;
  // The time range of the last selection: null, or [first, last] microseconds.
  let timeRange = null;
  // The diagram's groups the investigator opened.
  const opened = new Set();

  function fillViews() {
    const select = $('view');
    const traffic = el('optgroup', { label: 'Traffic' });
    traffic.appendChild(el('option', { value: 'all', text: 'all' }));
    meta.views.forEach(function (v) { traffic.appendChild(el('option', { value: v, text: v })); });
    const extra = new Set();
    meta.tags.forEach(function (t) {
      const parts = t.split('.');
      for (let i = 1; i <= parts.length; i++) extra.add(parts.slice(0, i).join('.'));
    });
    meta.views.forEach(function (v) { extra.delete(v); });
    const tagGroup = el('optgroup', { label: 'Finding tags' });
    Array.from(extra).sort().forEach(function (t) { tagGroup.appendChild(el('option', { value: 'tag:' + t, text: t })); });
    select.replaceChildren(traffic);
    if (extra.size) select.appendChild(tagGroup);
  }

  // ---------- state in the address ----------
  // The view, From, To and the selected host live in the fragment, so a copied link reopens the same
  // picture: #view=https&from=10.0.0.0/8&to=&host=10.0.0.5
  // The time range as an ISO 8601 interval: &time=2011-03-18T19:06:08.000000Z/2011-03-18T19:06:09.000000Z
  function readState() {
    const q = new URLSearchParams(location.hash.slice(1));
    const time = (q.get('time') || '').split('/');
    return { view: q.get('view') || 'all', from: q.get('from') || '', to: q.get('to') || '', host: q.get('host') || '',
      timeFrom: time[0] || '', timeTo: time[1] || '' };
  }
  function writeState() {
    const q = new URLSearchParams();
    q.set('view', $('view').value || 'all');
    if ($('from').value.trim()) q.set('from', $('from').value.trim());
    if ($('to').value.trim()) q.set('to', $('to').value.trim());
    if (timeRange) q.set('time', isoOf(timeRange[0]) + '/' + isoOf(timeRange[1]));
    if (selected) q.set('host', selected);
    history.replaceState(null, '', '#' + q.toString());
  }
  function applyState(state) {
    const select = $('view');
    select.value = Array.from(select.options).some(function (o) { return o.value === state.view; }) ? state.view : 'all';
    $('from').value = state.from;
    $('to').value = state.to;
    $('time-from').value = state.timeFrom;
    $('time-to').value = state.timeTo;
  }
  function setTimeRange(range) {
    $('time-from').value = range ? isoOf(range[0]) : '';
    $('time-to').value = range ? isoOf(range[1]) : '';
    render();
  }

  function drawTimeline(sel) {
    const box = $('timeline');
    const t = sel.timeline;
    if (!t) {
      box.replaceChildren(el('p', { class: 'hint', text: 'This report has no packet times.' }));
      return;
    }
    window.PcapxrayTimeline.draw(box, {
      start: t.start, end: t.end, bytes: t.bytes, marks: t.marks, range: timeRange, label: timeLabel, onSelect: setTimeRange,
    });
    $('timeline-caption').textContent = 'Capture from ' + isoOf(t.start) + ' to ' + isoOf(t.end) + '; ' +
      (timeRange ? 'showing ' + isoOf(timeRange[0]) + ' to ' + isoOf(timeRange[1]) + ' (' + sel.flows + ' of ' + sel.timeless + ' flows of the view).' : 'showing all of it.') +
      ' Marks: ' + t.markCount + ' findings above info.';
  }

  // ---------- rendering ----------
  function canvasSize() {
    const r = $('diagram').getBoundingClientRect();
    return { width: Math.max(320, Math.floor(r.width) || 800), height: Math.max(240, Math.floor(r.height) || 560) };
  }
  function filterState() {
    return { view: $('view').value || 'all', from: $('from').value, to: $('to').value,
      timeFrom: $('time-from').value, timeTo: $('time-to').value };
  }
  function pause() { return new Promise(function (resolve) { setTimeout(resolve, 0); }); }
  // The latest render wins: an answer to an older question is dropped.
  let rendering = 0;
  let lastSel = null;
  async function render() {
    busy(1);
    try { await paint(); } finally { busy(-1); }
  }
  async function paint() {
    const mine = ++rendering;
    const box = canvasSize();
    const sel = await ask('select', { state: filterState(), open: Array.from(opened), width: box.width, height: box.height });
    if (mine !== rendering) return;
    lastSel = sel;
    // What the worker spent on this selection, for tests/browser/bigcase.mjs.
    window.PcapxrayTimings = Object.assign({ load: meta.timings }, sel.timings);
    $('filter-error').textContent = sel.error;
    $('filter-error').hidden = !sel.error;
    $('time-error').textContent = sel.timeError;
    $('time-error').hidden = !sel.timeError;
    timeRange = sel.timeRange;
    const p0 = performance.now();
    drawDiagram(sel.view, sel.diagram);
    drawTimeline(sel);
    renderViewNote(sel);
    renderLegend();
    const p1 = performance.now();
    // One table a task, so that the page answers between them; the summary, written last, says the
    // whole picture is drawn.
    for (const name of Object.keys(sel.tables)) {
      await pause();
      if (mine !== rendering) return;
      tables[name].show(sel.tables[name]);
    }
    summarize(sel);
    window.PcapxrayTimings.page = { diagram: p1 - p0, tables: performance.now() - p1 };
    $('view-pcap').textContent = 'Download the packets of this view (' + nFlows(sel.flows) + (timeRange ? ', in the time range' : '') + ', pcap)';
    $('view-pcap').disabled = !sel.flows;
    if (selected) showHost(selected, false);
    writeState();
  }
  function summarize(sel) {
    const d = sel.diagram;
    const nodes = d.nodes.filter(function (n) { return !n.group; }).length;
    $('view-summary').textContent = sel.flows + ' of ' + sel.allFlows + ' flows, ' + sel.hosts + ' hosts, ' +
      sel.findings + ' findings in view “' + sel.view.replace(/^tag:/, '') + '”' +
      (timeRange ? ' between ' + isoOf(timeRange[0]) + ' and ' + isoOf(timeRange[1]) : '') +
      (d.grouped ? '; the diagram groups the hosts by network (' + nodes + ' of ' + sel.hosts + ' drawn one by one; press a group to open it), the table lists all of them' : '') +
      (d.edgeTotal > d.edges.length ? '; the ' + d.edges.length + ' busiest of ' + d.edgeTotal + ' conversations drawn' : '') +
      (sel.hasFlows ? '' : '; this report has no flows (the json output was configured without them)') + '.';
  }

  function renderLegend() {
    const items = meta.classes.map(function (c) {
      const s = el('span', { text: c.description || c.name, 'data-class': c.name });
      s.style.setProperty('--c', c.color);
      return s;
    });
    if (!meta.classified) {
      items.push(el('span', { class: 'plain', text: 'Traffic classes come from the graph output (graph/classes.json), which this pipeline did not write: every conversation is grey.' }));
    } else if (meta.untracked) {
      items.push(el('span', { class: 'plain', text: count(meta.untracked) + ' flows past the first million have no class (grey).' }));
    }
    items.push(el('span', { text: 'filled: LAN host, ring: findings, square: a network of hosts', class: 'plain' }));
    $('legend').replaceChildren.apply($('legend'), items);
  }

  // A note under the summary when the view cannot show what its name promises.
  function renderViewNote(sel) {
    const torView = sel.view === 'tor' || sel.view.startsWith('tag:tor');
    const text = torView ? (meta.noConsensus ? TOR_NOTE : torCoverage) : '';
    $('view-note').textContent = text;
    $('view-note').hidden = !text;
  }

  function pluginGraph(view) {
    const name = 'graph/' + view.replace(/^tag:/, '') + '.svg';
    return reportFiles.some(function (f) { return f.path === name; }) ? name : null;
  }

  let lastGraph = null;
  let reportFiles = [];
  // The picture last drawn by the page itself: the same picture again (a From box being typed into
  // that does not yet name a network, a time range that keeps the same conversations) is not drawn
  // again, so the investigator's zoom and pan stay.
  let drawnKey = null;
  function drawDiagram(view, d) {
    lastGraph = [view, d];
    const canvas = $('diagram');
    const svgName = pluginGraph(view);
    $('plugin-graph-label').hidden = !svgName;
    if (svgName && $('plugin-graph').checked) {
      drawnKey = null;
      diagram = window.PcapxrayDiagram.picture(canvas, base + '/report/' + svgName + '?view', 'The graph plugin\'s diagram of view ' + view);
      return;
    }
    if (!d.nodes.length) {
      drawnKey = null;
      canvas.replaceChildren(el('p', { class: 'hint', text: 'No traffic in this view.' }));
      diagram = null;
      return;
    }
    const key = view + '\n' + JSON.stringify(d);
    if (diagram && key === drawnKey) {
      if (selected) diagram.select(selected);
      return;
    }
    drawnKey = key;
    diagram = window.PcapxrayDiagram.draw(canvas, d, {
      host: function (ip) { showHost(ip, true); },
      group: function (key) { toggleGroup(key); },
    });
    if (selected) diagram.select(selected);
  }
  // Opens or closes a group of the diagram; only the diagram is asked for again.
  async function toggleGroup(key) {
    if (opened.has(key)) {
      // Closing a group closes the groups inside it.
      Array.from(opened).forEach(function (k) { if (k === key || inside(k, key)) opened.delete(k); });
    } else {
      opened.add(key);
    }
    const mine = rendering;
    const box = canvasSize();
    const d = await ask('diagram', { open: Array.from(opened), width: box.width, height: box.height });
    if (mine !== rendering || !lastSel) return;
    lastSel.diagram = d;
    drawDiagram(lastSel.view, d);
    summarize(lastSel);
    const again = $('diagram').querySelector('[data-group="' + CSS.escape(key) + '"]');
    if (again) again.focus();
  }
  // Whether network `inner` (a.b.c.d/n) lies inside network `outer`.
  function inside(inner, outer) {
    const a = window.PcapxrayCommon.parseNet(inner), b = window.PcapxrayCommon.parseNet(outer);
    return !!a && !!b && a.v === b.v && a.mask > b.mask && (a.net & b.mask) === b.net;
  }

  function hostButton(ip) {
    const b = el('button', { type: 'button', class: 'linklike', text: ip, 'data-host': ip });
    b.addEventListener('click', function () { showHost(ip, true); });
    return b;
  }
  // An address and port, IPv6 in brackets: `[2001:db8::1]:443`.
  function endpointNode(ip, port) {
    const v6 = String(ip).indexOf(':') >= 0;
    return el('span', { class: 'endpoint' }, v6 ? '[' : null, hostButton(ip), (v6 ? ']' : '') + ':' + port);
  }
  function evidenceNode(text) {
    if (text.length <= 120) return text;
    return el('details', {}, el('summary', { text: text.slice(0, 100) + '…' }), el('span', { text: text }));
  }
  function subject(d) {
    const s = d.subject;
    if (s.c !== undefined) return el('span', {}, hostButton(s.c), ' → ', endpointNode(s.s, s.p), '/' + s.proto);
    if (s.flow !== undefined) return el('span', { text: 'flow ' + s.flow });
    if (s.host !== undefined) return hostButton(s.host);
    return el('span', { text: 'capture' });
  }

  // ---------- search ----------
  // An address, a MAC, a name or a finding tag → the host(s) it names; one match opens it.
  async function search(text) {
    const out = $('search-results');
    if (!text.trim()) { out.replaceChildren(); return; }
    const found = await ask('search', { q: text });
    if (found.count === 1) {
      out.replaceChildren(el('span', { text: 'Found ' + found.hits[0] + '.' }));
      showHost(found.hits[0], true);
      $('details').scrollIntoView({ block: 'nearest' });
      return;
    }
    if (!found.count) { out.replaceChildren(el('span', { text: 'No host matches “' + text.trim() + '”.' })); return; }
    out.replaceChildren(el('span', { text: found.count + ' hosts match: ' }),
      ...found.hits.map(function (ip) { return el('span', {}, hostButton(ip), ' '); }),
      ...(found.count > 50 ? [el('span', { text: '(first 50)' })] : []));
  }

  // ---------- host details ----------
  let showing = 0;
  async function showHost(ip, focus) {
    selected = ip;
    writeState();
    if (diagram) diagram.select(ip);
    const mine = ++showing;
    const h = await ask('host', { ip: ip });
    if (mine !== showing) return;
    const dl = el('dl');
    h.rows.forEach(function (r) {
      dl.appendChild(el('dt', { text: r[0] }));
      dl.appendChild(el('dd', {}, r[1]));
    });
    const panel = $('details');
    const range = timeRange ? '&time=' + encodeURIComponent(isoOf(timeRange[0]) + '/' + isoOf(timeRange[1])) : '';
    const pcap = el('p', {}, el('a', { href: base + '/pcap?host=' + encodeURIComponent(ip) + range, download: '', id: 'host-pcap',
      text: 'Download this host\'s packets' + (timeRange ? ' in the time range' : '') + ' (pcap)' }));
    const parts = [el('h3', { id: 'details-heading', text: 'Host ' + ip }), pcap, dl];
    if (h.facts.length) {
      parts.push(el('h4', { text: 'Facts' }), el('ul', {}, ...h.facts.map(function (t) { return el('li', { text: t }); })));
    }
    const cut = function (n) { return n > 100 ? ' — the first 100 shown' : ''; };
    parts.push(el('h4', { text: 'Peers (' + h.peerCount + cut(h.peerCount) + ')' }));
    parts.push(el('ul', { class: 'peers' }, ...h.peers.map(function (p) {
      return el('li', {}, hostButton(p.ip), (p.name ? ' ' + p.name : '') + ' — ' + nFlows(p.flows));
    })));
    parts.push(el('h4', { text: 'Flows (' + h.flowCount + (timeRange ? ' in the time range' : '') + cut(h.flowCount) + ')' }));
    parts.push(el('ul', { class: 'flows' }, ...h.flows.map(function (t) { return el('li', { text: t }); })));
    parts.push(el('h4', { text: 'Findings (' + h.findingCount + cut(h.findingCount) + ')' }));
    parts.push(el('ul', { class: 'host-findings' }, ...h.findings.map(function (x) {
      return el('li', {}, el('span', { class: 'sev-' + x.severity, text: x.severity }), ' ' + x.text);
    })));
    panel.replaceChildren.apply(panel, parts);
    if (focus) panel.focus();
  }

  // ---------- tables ----------
  // A table the investigator sorts (a header button) and filters (the box above it); its caption says
  // how many rows it shows of how many. The worker holds the rows, sorts and filters them and sends
  // one page of them; columns here say how to draw a cell: {label, num, cell(values, data), cls}.
  function DataTable(id, name, noun, columns, empty) {
    const table = $(id);
    const head = table.querySelector('thead tr');
    const body = table.querySelector('tbody');
    const filter = el('input', { type: 'search', id: id + '-filter', autocomplete: 'off', spellcheck: 'false', placeholder: 'filter' });
    const counter = el('p', { class: 'hint table-count', id: id + '-count', role: 'status' });
    const csv = el('button', { type: 'button', id: id + '-csv', text: 'Download CSV' });
    const bar = el('div', { class: 'table-bar' }, el('label', { for: id + '-filter', text: 'Filter ' + noun }), filter, csv, counter);
    table.closest('.scroll').before(bar);
    const previous = el('button', { type: 'button', id: id + '-previous', text: 'Previous rows' });
    const next = el('button', { type: 'button', id: id + '-next', text: 'Next rows' });
    const where = el('span', { class: 'hint', id: id + '-rows' });
    const pager = el('div', { class: 'table-bar pager', hidden: '' }, previous, where, next);
    table.closest('.scroll').after(pager);
    let sortBy = -1, descending = false, asking = 0, first = 0, last = null;
    async function refresh() {
      const mine = ++asking;
      const page = await ask('table', { name: name, filter: filter.value, sortBy: sortBy, descending: descending, first: first });
      if (mine === asking) show(page);
    }
    previous.addEventListener('click', function () { first = Math.max(0, first - last.pageRows); refresh(); });
    next.addEventListener('click', function () { first += last.pageRows; refresh(); });
    const headers = columns.map(function (c, i) {
      const button = el('button', { type: 'button', class: 'sort', text: c.label });
      button.addEventListener('click', function () {
        descending = sortBy === i ? !descending : !!c.num;
        sortBy = i;
        first = 0;
        refresh();
      });
      return el('th', { scope: 'col', class: c.num ? 'num' : '' }, button);
    });
    head.replaceChildren.apply(head, headers);
    let pending = null;
    filter.addEventListener('input', function () { clearTimeout(pending); pending = setTimeout(function () { first = 0; refresh(); }, 150); });
    csv.addEventListener('click', async function () {
      const text = await ask('csv', { name: name });
      const blob = new Blob([text], { type: 'text/csv;charset=utf-8' });
      const a = el('a', { href: URL.createObjectURL(blob), download: id.replace(/-table$/, '') + '.csv' });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
    });
    function show(page) {
      last = page;
      first = page.first;
      headers.forEach(function (th, i) {
        if (i === page.sortBy) th.setAttribute('aria-sort', page.descending ? 'descending' : 'ascending');
        else th.removeAttribute('aria-sort');
      });
      const visible = page.rows.map(function (r) {
        return el('tr', {}, ...columns.map(function (c, i) {
          const cell = c.cell ? c.cell(r.v, r.d, i) : r.v[i];
          return el('td', { class: (c.num ? 'num ' : '') + (c.cls ? c.cls(r.v, r.d) : '') }, typeof cell === 'number' ? count(cell) : cell);
        }));
      });
      if (!visible.length) visible.push(el('tr', {}, el('td', { colspan: String(columns.length), class: 'hint', text: page.total ? 'No row matches the filter.' : empty })));
      body.replaceChildren.apply(body, visible);
      counter.textContent = page.matched + ' of ' + page.total + ' ' + noun;
      // More rows than a page: which are shown, and buttons for the others.
      pager.hidden = page.matched <= page.pageRows;
      where.textContent = 'rows ' + (page.first + 1) + '–' + (page.first + page.rows.length) + ' of ' + page.matched + ' (download the CSV for all)';
      previous.disabled = page.first === 0;
      next.disabled = page.first + page.rows.length >= page.matched;
    }
    return { show: show };
  }

  const tables = {};
  function plain(label, num) { return { label: label, num: !!num }; }
  // A masked secret: a button that asks the server for this one secret and shows it in its place.
  function secretNode(d) {
    if (d.secretIndex === undefined || d.secretIndex === null) return d.secret;
    const button = el('button', { type: 'button', class: 'reveal', 'data-secret-index': String(d.secretIndex), text: MASK + ' show',
      'aria-label': 'show the secret of ' + (d.user || 'this credential') });
    button.addEventListener('click', async function () {
      button.disabled = true;
      try {
        const answer = await fetch('/api/cases/' + encodeURIComponent(id) + '/secrets/' + d.secretIndex, { headers: { Accept: 'application/json' } });
        const body = await answer.json();
        if (!answer.ok) throw new Error(body.error || answer.status);
        button.replaceWith(el('code', { class: 'secret', text: str(body.secret) }));
      } catch (e) {
        button.disabled = false;
        button.title = 'The secret could not be fetched: ' + e.message;
      }
    });
    return button;
  }
  function rowPlace() { return [plain('Flow', true), plain('Time (UTC)'), plain('Client'), plain('Server')]; }
  function makeTables() {
    tables.hosts = DataTable('hosts-table', 'hosts', 'hosts', [
      { label: 'Address', cell: function (v) { return hostButton(v[0]); } },
      plain('Names'), plain('MAC / vendor'), plain('Flows', true),
      { label: 'Bytes', num: true, cell: function (v) { return size(v[4]); } },
    ], 'No hosts in this view.');
    tables.findings = DataTable('findings-table', 'findings', 'findings', [
      { label: 'Severity', cell: function (v, d) { return d.severity; }, cls: function (v, d) { return 'sev-' + d.severity; } },
      plain('Tag'),
      { label: 'Subject', cell: function (v, d) { return subject(d); } },
      plain('Summary'), plain('Stage'),
      { label: 'Evidence', cell: function (v) { return evidenceNode(v[5]); } },
    ], 'No findings in this view.');
    tables.flows = DataTable('flows-table', 'flows', 'flows', [
      plain('ID', true), plain('Start (UTC)'), plain('Protocol'),
      { label: 'Client', cell: function (v, d) { return endpointNode(d.c, d.cp); } },
      { label: 'Server', cell: function (v, d) { return endpointNode(d.s, d.sp); } },
      { label: 'State', cell: function (v) { return el('abbr', { title: CONN_STATES[v[5]] || '', text: v[5] }); } },
      plain('History'), plain('Packets', true), plain('Bytes', true), plain('Duration (s)', true), plain('Tags'),
      { label: 'Packets file', cell: function (v, d) {
        return el('a', { href: base + '/pcap?flow=' + d.id, download: '', class: 'flow-pcap', 'data-flow': String(d.id), text: 'pcap',
          'aria-label': 'packets of flow ' + d.id + ' (pcap)' });
      } },
    ], 'No flows in this view.');
    tables.dns = DataTable('dns-table', 'dns', 'DNS flows', [
      plain('Kind'),
      { label: 'Client', cell: function (v, d) { return hostButton(d.c); } },
      { label: 'Server', cell: function (v, d) { return endpointNode(d.s, d.p); } },
      plain('Queries'), plain('Types'), plain('Answers'), plain('Response codes'), plain('Messages'),
    ], 'No DNS in this view.');
    tables.files = DataTable('files-table', 'files', 'files', rowPlace().concat([
      plain('Protocol'), plain('Name'), plain('Type'), plain('Size', true), plain('Missing', true),
      { label: 'SHA-256', cls: function () { return 'mono'; } },
      { label: 'Details', cell: function (v) { return evidenceNode(v[10]); } },
      { label: 'File', cell: function (v, d) {
        if (!d.kept) return d.notExtracted ? 'not kept' : '';
        return el('a', { href: base + '/extracted/' + encodeURIComponent(d.kept), download: '', class: 'file-download', 'data-sha256': d.sha256,
          text: 'download', 'aria-label': 'download ' + (d.name || d.kept) });
      } },
    ]), 'No files in this view.');
    tables.credentials = DataTable('credentials-table', 'credentials', 'credentials', rowPlace().concat([
      plain('Protocol'), plain('User'), plain('Domain'), plain('Workstation'),
      { label: 'Secret', cell: function (v, d) { return secretNode(d); } },
      plain('Format'), plain('Service'), plain('Outcome'), plain('Tag'),
    ]), 'No credentials in this view.');
    tables.web = DataTable('web-table', 'web', 'web transactions', [
      { label: 'Client', cell: function (v, d) { return d.c !== undefined ? hostButton(d.c) : ''; } },
      { label: 'Server', cell: function (v, d) { return d.c !== undefined ? endpointNode(d.s, d.p) : ''; } },
      plain('Name'), plain('Request'), plain('Answer'), plain('User agent'),
    ], 'No web transactions in this view.');
  }

  // Zeek's connection states, for the State column's tooltip.
  const CONN_STATES = {
    S0: 'attempt seen, no reply', S1: 'established, not terminated', SF: 'normal establishment and termination',
    REJ: 'attempt rejected', S2: 'established, close attempt by the client only', S3: 'established, close attempt by the server only',
    RSTO: 'established, the client aborted (RST)', RSTR: 'established, the server aborted (RST)',
    RSTOS0: 'the client sent a SYN then a RST; no SYN-ACK seen', RSTRH: 'the server sent a SYN-ACK then a RST; no SYN seen',
    SH: 'the client sent a SYN then a FIN; no SYN-ACK seen', SHR: 'the server sent a SYN-ACK then a FIN; no SYN seen',
    OTH: 'no SYN seen, only midstream traffic',
  };

  // ---------- loading ----------
  function renderFiles(files) {
    const list = $('files');
    list.replaceChildren.apply(list, files.map(function (f) {
      const href = base + '/report/' + f.path.split('/').map(encodeURIComponent).join('/');
      return el('li', {},
        el('a', { href: href, download: f.path.split('/').pop(), text: f.path }), ' ',
        el('span', { class: 'size', text: size(f.size) }), ' ',
        el('a', { href: href + '?view', target: '_blank', rel: 'noopener', text: 'open', 'aria-label': 'open ' + f.path }));
    }));
    $('downloads').hidden = false;
  }

  // What became of every packet: one row per fate, the counts summing to the packets read.
  function fateTable(fates, packets) {
    const rows = fates.map(function (f) {
      return el('tr', {}, el('td', { text: str(f.label) }), el('td', {}, el('code', { text: str(f.key) })),
        el('td', { class: 'num', text: count(f.packets) }));
    });
    return el('table', { id: 'packet-fates' },
      el('caption', { text: 'Packets by fate (they sum to the ' + count(packets) + ' packets read)' }),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Fate' }), el('th', { scope: 'col', text: 'Key' }),
        el('th', { scope: 'col', class: 'num', text: 'Packets' }))),
      el('tbody', {}, ...rows));
  }

  function renderRun(c) {
    const s = c.summary || {};
    const parts = [el('p', { text: count(s.packets) + ' packets, ' + count(s.flows) + ' flows, ' + count(s.hosts) + ' hosts, ' + count(s.findings) + ' findings as the reports list them (findings repeated between the same two hosts as one roll-up; the view below counts each of them); analyzed in ' + (s.seconds || 0).toFixed(2) + ' s.' })];
    if (s.packet_fates && s.packet_fates.length) {
      parts.push(fateTable(s.packet_fates, s.packets));
    }
    // What is missing from the report goes at the top of the page, before anything it would qualify.
    const incomplete = $('incomplete');
    if (s.problems && s.problems.length) {
      incomplete.replaceChildren(el('h2', { text: 'This report is incomplete' }),
        el('ul', {}, ...s.problems.map(function (p) { return el('li', { text: p }); })));
      incomplete.hidden = false;
    } else {
      incomplete.hidden = true;
    }
    torCoverage = str(s.tor_note);
    if (torCoverage) parts.push(el('p', { class: 'warning', id: 'tor-coverage-note', text: torCoverage }));
    if (s.warnings && s.warnings.length) {
      parts.push(el('details', {}, el('summary', { text: 'Warnings (' + s.warnings.length + ')' }),
        el('ul', {}, ...s.warnings.map(function (p) { return el('li', { text: p }); }))));
    }
    $('run').replaceChildren.apply($('run'), parts);
  }

  async function explore(c) {
    $('failure').hidden = true;
    let files = [];
    try {
      const r = await fetch('/api/cases/' + encodeURIComponent(id), { headers: { Accept: 'application/json' } });
      files = (await r.json()).files || [];
    } catch (_) { /* listed below as missing */ }
    reportFiles = files;
    renderFiles(files);
    renderRun(c);
    const json = files.find(function (f) { return f.path === 'report.json'; });
    if (!json) {
      $('error-text').textContent = 'This pipeline wrote no report.json, which the explore view reads; the report files are listed below.';
      $('failure').querySelector('h2').textContent = 'Nothing to explore';
      $('failure').hidden = false;
      return;
    }
    try {
      // Read when the page opened, if the case was done then; else now.
      meta = await (preloaded || Promise.reject(new Error('not preloaded'))).catch(function () { return ask('load', { id: id }); });
    } catch (e) {
      $('error-text').textContent = e.message;
      $('failure').hidden = false;
      return;
    }
    knownHosts = new Set(meta.hosts);
    originalSha(meta.sha256);
    fillViews();
    makeTables();
    const state = readState();
    applyState(state);
    $('explore').hidden = false;
    if (state.host && knownHosts.has(state.host)) selected = state.host;
    await render();
    $('view').addEventListener('change', render);
    let pending = null;
    ['from', 'to', 'time-from', 'time-to'].forEach(function (name) {
      $(name).addEventListener('input', function () { clearTimeout(pending); pending = setTimeout(render, 250); });
    });
    $('filters').addEventListener('submit', function (e) { e.preventDefault(); render(); });
    $('filters').addEventListener('reset', function () { setTimeout(function () { $('view').value = 'all'; render(); }, 0); });
    // The view's flow ids come from the worker when the form is sent.
    $('view-pcap-form').addEventListener('submit', async function (e) {
      if ($('view-pcap-flows').dataset.filled === '1') { $('view-pcap-flows').dataset.filled = ''; return; }
      e.preventDefault();
      $('view-pcap-flows').value = await ask('viewFlows');
      // Only the packets inside the time range, as the view shows them; the view names the file.
      $('view-pcap-time').value = timeRange ? isoOf(timeRange[0]) + '/' + isoOf(timeRange[1]) : '';
      $('view-pcap-view').value = $('view').value || 'all';
      $('view-pcap-flows').dataset.filled = '1';
      e.target.requestSubmit();
    });
    $('search-form').addEventListener('submit', function (e) { e.preventDefault(); search($('search').value); });
    $('plugin-graph').addEventListener('change', function () { if (lastGraph) drawDiagram.apply(null, lastGraph); });
    $('zoom-in').addEventListener('click', function () { window.PcapxrayDiagram.zoom($('diagram'), 1.25); });
    $('zoom-out').addEventListener('click', function () { window.PcapxrayDiagram.zoom($('diagram'), 0.8); });
    $('zoom-fit').addEventListener('click', function () { window.PcapxrayDiagram.fit($('diagram')); });
    window.addEventListener('hashchange', function () {
      // Only a link with the page's state changes it (not the skip link's #main).
      if (location.hash.indexOf('=') < 0) return;
      const next = readState();
      applyState(next);
      selected = next.host && knownHosts.has(next.host) ? next.host : null;
      render();
    });
    // The first picture is up: the page can be used. The findings' details (evidence, DNS and web
    // columns) come next, and the picture is asked for again with them.
    document.body.dataset.usable = 'explore';
    try {
      if (await ask('details', { id: id })) await render();
    } catch (e) {
      $('error-text').textContent = e.message;
      $('failure').hidden = false;
    }
    document.body.dataset.ready = 'explore';
  }
})();
