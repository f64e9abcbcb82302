// Case page: follows the analysis through Server-Sent Events, then builds the explore view from the
// run's report.json. Views and filters are computed here, in the browser; the capture is never re-read.
// Report contents come from a capture and may be hostile: they reach the page through textContent only.
'use strict';
(function () {
  const id = document.body.dataset.case;
  const $ = function (s) { return document.getElementById(s); };
  const base = '/cases/' + encodeURIComponent(id);
  const ROW_LIMIT = 250;
  const NODE_LIMIT = 150;

  // ---------- small helpers ----------
  function el(tag, props) {
    const e = document.createElement(tag);
    if (props) for (const k in props) {
      if (k === 'text') e.textContent = props[k];
      else if (k === 'class') e.className = props[k];
      else e.setAttribute(k, props[k]);
    }
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }
  function size(n) {
    if (n === undefined || n === null) return '–';
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    if (n < 1024) return n + ' bytes';
    let v = n, u = '';
    for (const unit of units) { v /= 1024; u = unit; if (v < 1024) break; }
    return (v < 10 ? v.toFixed(1) : v.toFixed(0)) + ' ' + u;
  }
  function count(n) { return n === undefined || n === null ? '–' : Number(n).toLocaleString('en'); }
  function str(v) { return v === undefined || v === null ? '' : String(v); }
  function nFlows(n) { return n + (n === 1 ? ' flow' : ' flows'); }

  // ---------- time ----------
  // Report times are ISO 8601 UTC with up to nine decimals; the page counts in microseconds since the
  // epoch (exact in a double until the year 2255), as the reports write them.
  const ISO = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,9}))?\s*(?:Z|UTC)?$/i;
  function usOf(text) {
    const m = ISO.exec(String(text === undefined || text === null ? '' : text).trim());
    if (!m) return null;
    const ms = Date.parse(m[1] + 'T' + (m[2].length === 5 ? m[2] + ':00' : m[2]) + 'Z');
    if (isNaN(ms)) return null;
    return ms * 1000 + Number((m[3] || '').padEnd(6, '0').slice(0, 6));
  }
  function isoOf(us) {
    const ms = Math.floor(us / 1000);
    return new Date(ms).toISOString().slice(0, 19) + '.' + String(us - Math.floor(us / 1e6) * 1e6).padStart(6, '0') + 'Z';
  }
  // Short labels for the timeline's axis: the date only when the capture spans days.
  function timeLabel(us) {
    const text = isoOf(us);
    const long = model.end - model.start > 86400e6;
    return long ? text.slice(0, 10) + ' ' + text.slice(11, 19) : text.slice(11, 23);
  }

  document.querySelector('form.delete-case').addEventListener('submit', function (e) {
    if (!window.confirm('Delete the case “' + e.target.dataset.name + '” with its capture and reports?')) e.preventDefault();
  });

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

  // ---------- addresses and filters ----------
  function parseIp(text) {
    text = text.trim();
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
      const parts = text.split('.').map(Number);
      if (parts.some(function (p) { return p > 255; })) return null;
      return { v: 4, n: parts.reduce(function (a, p) { return (a << 8n) | BigInt(p); }, 0n) };
    }
    if (text.indexOf(':') < 0 || !/^[0-9a-fA-F:.]+$/.test(text)) return null;
    const v4 = text.match(/^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/);
    if (v4) {
      const ip = parseIp(v4[2]);
      if (!ip) return null;
      text = v4[1] + Number(ip.n >> 16n).toString(16) + ':' + Number(ip.n & 0xffffn).toString(16);
    }
    const halves = text.split('::');
    if (halves.length > 2) return null;
    const head = halves[0] ? halves[0].split(':') : [];
    const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
    if (head.concat(rest).some(function (g) { return !/^[0-9a-fA-F]{1,4}$/.test(g); })) return null;
    const missing = 8 - head.length - rest.length;
    if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
    const all = head.concat(new Array(halves.length === 2 ? missing : 0).fill('0'), rest)
      .map(function (g) { return parseInt(g, 16); });
    return { v: 6, n: all.reduce(function (a, g) { return (a << 16n) | BigInt(g); }, 0n) };
  }
  function parseNet(text) {
    const [addr, bits] = text.split('/');
    const ip = parseIp(addr);
    if (!ip) return null;
    const width = ip.v === 4 ? 32 : 128;
    const len = bits === undefined ? width : Number(bits);
    if (!/^\d+$/.test(String(len)) || len < 0 || len > width) return null;
    const mask = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(width - len);
    return { v: ip.v, mask: mask, net: ip.n & mask };
  }
  // "a, b/24" → list of networks, or an error message.
  function parseFilter(text) {
    const items = text.split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    const nets = [];
    for (const item of items) {
      const net = parseNet(item);
      if (!net) return { error: '“' + item + '” is not an IP address or CIDR network.' };
      nets.push(net);
    }
    return { nets: nets };
  }
  const ipCache = new Map();
  function matches(nets, ipText) {
    if (!nets.length) return true;
    let ip = ipCache.get(ipText);
    if (ip === undefined) { ip = parseIp(ipText); ipCache.set(ipText, ip); }
    if (!ip) return false;
    return nets.some(function (n) { return n.v === ip.v && (ip.n & n.mask) === n.net; });
  }

  // ---------- the model ----------
  const SEVERE = { medium: 1, high: 1, critical: 1 };
  const SEVERITY_ORDER = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
  // Traffic classes and views are not decided here: the graph output writes the class and the views
  // of every flow to graph/classes.json (plugin-sdk/src/graph/class.rs decides them), and the page
  // shows exactly that. Without that file the page offers the `all` view and finding tags only.
  const UNCLASSIFIED = { name: 'unclassified', color: '#8a8a8a', description: 'not classified (no graph/classes.json)' };
  function hasTag(tags, prefix) {
    return tags.some(function (t) { return t === prefix || t.startsWith(prefix + '.'); });
  }
  function endpoint(ip, port) {
    return (String(ip).indexOf(':') >= 0 ? '[' + ip + ']' : ip) + ':' + port;
  }

  let model = null;
  let diagram = null;
  let selected = null;

  // graph/classes.json → the class and views of each flow id, and the classes in priority order.
  function readClasses(data) {
    const byFlow = new Map();
    const views = [];
    (data.conversations || []).forEach(function (c) {
      const info = { cls: c.class, views: new Set(c.views || []) };
      (c.views || []).forEach(function (v) { if (views.indexOf(v) < 0) views.push(v); });
      (c.flows || []).forEach(function (id) { byFlow.set(id, info); });
    });
    return { byFlow: byFlow, classes: data.classes || [], views: views, untracked: data.untracked_flows || 0 };
  }

  function buildModel(report, files, classes) {
    const none = { cls: null, views: new Set() };
    const flows = (report.flows || []).map(function (f) {
      const tags = (f.tags || []).slice();
      (f.findings || []).forEach(function (x) { if (tags.indexOf(x.tag) < 0) tags.push(x.tag); });
      const info = (classes && classes.byFlow.get(f.id)) || none;
      const bytes = (f.to_server ? f.to_server.bytes : 0) + (f.to_client ? f.to_client.bytes : 0);
      const t0 = usOf(f.start), t1 = usOf(f.end);
      // Filled in place: a big case has hundreds of thousands of flows, copies cost.
      return Object.assign(f, { tags: tags, findings: f.findings || [], cls: info.cls, views: info.views,
        bytes: bytes, t0: t0, t1: t1 === null ? t0 : t1 });
    });
    // The capture's time span: its first and last packet, else its flows'.
    const cap = report.capture || {};
    let start = usOf(cap.first_packet), end = usOf(cap.last_packet);
    flows.forEach(function (f) {
      if (f.t0 === null) return;
      if (start === null || f.t0 < start) start = f.t0;
      if (end === null || f.t1 > end) end = f.t1;
    });
    const hosts = new Map();
    (report.hosts || []).forEach(function (h) { hosts.set(h.ip, h); });
    flows.forEach(function (f) {
      [f.client, f.server].forEach(function (e) {
        if (!hosts.has(e.ip)) hosts.set(e.ip, { ip: e.ip, macs: e.mac ? [e.mac] : [], names: [], notes: [] });
      });
    });
    const flowById = new Map(flows.map(function (f) { return [f.id, f]; }));
    const findings = [];
    flows.forEach(function (f) { f.findings.forEach(function (x) { findings.push(x); }); });
    // Findings raised after their flow was written (in an analyzer's finish) come in the top-level
    // list; they belong to that flow all the same.
    // Roll-ups (`rollup`) stand for findings already on their flows and are skipped here; a late
    // finding that rests on several flows belongs to each of them.
    (report.findings || []).forEach(function (x) {
      if (x.rollup) return;
      findings.push(x);
      const ids = (x.flows || []).slice();
      if (x.subject && x.subject.flow !== undefined && ids.indexOf(x.subject.flow) < 0) ids.push(x.subject.flow);
      ids.forEach(function (id) {
        const f = flowById.get(id);
        if (!f) return;
        f.findings.push(x);
        if (f.tags.indexOf(x.tag) < 0) f.tags.push(x.tag);
      });
    });
    const tags = new Set();
    findings.forEach(function (x) { tags.add(x.tag); });
    // Run notes are statements about the analysis, not findings; a Tor note still opens the Tor view,
    // which then says why it is empty.
    const notes = report.notes || [];
    if (notes.some(function (n) { return String(n.key).startsWith('tor.'); })) tags.add('tor');
    const classList = classes && classes.classes.length ? classes.classes : [];
    // The files and credentials tables, as report.json has them (the SDK's one derivation). The
    // server's model holds masks in place of secrets; report.json read whole (no model) holds them
    // whole, so they are masked here and cannot be revealed.
    const fileRows = report.files || [];
    const filesByFlow = new Map();
    fileRows.forEach(function (r) { filesByFlow.set(r.flow, (filesByFlow.get(r.flow) || 0) + 1); });
    const credentialRows = (report.credentials || []).map(function (r) {
      const a = r.attributes || {};
      if (a.secret && r.secret_index === undefined) r.attributes = Object.assign({}, a, { secret: MASK });
      return r;
    });
    return {
      fileRows: fileRows, filesByFlow: filesByFlow, credentialRows: credentialRows,
      report: report, files: files, flows: flows, hosts: hosts, start: start, end: end, flowById: flowById, findings: findings, notes: notes,
      tags: Array.from(tags).sort(), classes: classList, views: classes ? classes.views : [],
      classified: !!classes, untracked: classes ? classes.untracked : 0,
    };
  }

  function classInfo(name) {
    return model.classes.find(function (c) { return c.name === name; }) || UNCLASSIFIED;
  }

  function fillViews() {
    const select = $('view');
    const traffic = el('optgroup', { label: 'Traffic' });
    traffic.appendChild(el('option', { value: 'all', text: 'all' }));
    model.views.forEach(function (v) { traffic.appendChild(el('option', { value: v, text: v })); });
    const extra = new Set();
    model.tags.forEach(function (t) {
      const parts = t.split('.');
      for (let i = 1; i <= parts.length; i++) extra.add(parts.slice(0, i).join('.'));
    });
    model.views.forEach(function (v) { extra.delete(v); });
    const tagGroup = el('optgroup', { label: 'Finding tags' });
    Array.from(extra).sort().forEach(function (t) { tagGroup.appendChild(el('option', { value: 'tag:' + t, text: t })); });
    select.replaceChildren(traffic);
    if (extra.size) select.appendChild(tagGroup);
  }

  function viewTest(view) {
    if (view === 'all') return function () { return true; };
    if (view.startsWith('tag:')) {
      const tag = view.slice(4);
      return function (f) { return hasTag(f.tags, tag); };
    }
    return function (f) { return f.views.has(view); };
  }

  // ---------- what the view holds ----------
  // One rule for every count on the page: the flows of the view that pass From and To; the hosts at
  // either end of them (in `all` without filters, every host of the report); the findings on those
  // flows and about those hosts (a `tag:` view keeps only its tag); findings about the capture itself
  // in `all` without filters only.
  function currentSelection() {
    const view = $('view').value || 'all';
    const from = parseFilter($('from').value), to = parseFilter($('to').value);
    const error = from.error || to.error;
    $('filter-error').textContent = error || '';
    $('filter-error').hidden = !error;
    const fromNets = from.nets || [], toNets = to.nets || [];
    const test = viewTest(view);
    // The view's flows at any time (drawn on the timeline), then those active in the time range.
    const timeless = model.flows.filter(function (f) {
      return test(f) && matches(fromNets, f.client.ip) && matches(toNets, f.server.ip);
    });
    const flows = timeRange ? timeless.filter(inRange) : timeless;
    const everything = view === 'all' && !fromNets.length && !toNets.length && !timeRange;
    const hosts = new Map();
    function host(ip) {
      let s = hosts.get(ip);
      if (!s) { s = { ip: ip, flows: 0, bytes: 0, flagged: false }; hosts.set(ip, s); }
      return s;
    }
    if (everything) model.hosts.forEach(function (_, ip) { host(ip); });
    flows.forEach(function (f) {
      const bytes = (f.to_server ? f.to_server.bytes : 0) + (f.to_client ? f.to_client.bytes : 0);
      const a = host(f.client.ip), b = host(f.server.ip);
      a.flows++; a.bytes += bytes;
      // A flow from a host to itself counts once.
      if (b !== a) { b.flows++; b.bytes += bytes; }
    });
    const inFlows = new Set(flows.map(function (f) { return f.id; }));
    const tagOnly = view.startsWith('tag:') ? view.slice(4) : null;
    const findings = model.findings.filter(function (x) {
      if (tagOnly && !hasTag([x.tag], tagOnly)) return false;
      const s = x.subject || {};
      if (s.flow !== undefined) return inFlows.has(s.flow);
      if (s.host !== undefined) return hosts.has(s.host);
      return everything || (!!tagOnly && !fromNets.length && !toNets.length && !timeRange);
    });
    findings.forEach(function (x) {
      const s = x.subject || {};
      if (s.host !== undefined) host(s.host).flagged = true;
      if (SEVERE[x.severity] && s.flow !== undefined) {
        const f = model.flowById.get(s.flow);
        if (f) { host(f.client.ip).flagged = true; host(f.server.ip).flagged = true; }
      }
    });
    const onFlows = function (r) { return inFlows.has(r.flow); };
    return { view: view, flows: flows, timeless: timeless, hosts: hosts, findings: findings,
      files: model.fileRows.filter(onFlows), credentials: model.credentialRows.filter(onFlows) };
  }

  function hostName(h) {
    return (h && h.names && h.names[0]) || '';
  }
  function note(h, key) {
    const found = (h && h.notes || []).filter(function (n) { return n.key === key; }).map(function (n) { return n.value; });
    return Array.from(new Set(found));
  }
  function isLan(h) {
    return h && (h.class === 'private' || h.class === 'link-local' || h.class === 'loopback' || h.seen_in_arp);
  }

  // What a finding says, for this page: advice meant for the command line is replaced by what the
  // page's user can know.
  function findingText(x) {
    if (x.tag === 'tor.no-consensus') return TOR_NOTE;
    return str(x.summary);
  }
  const TOR_NOTE = 'Tor relays could not be recognised in this analysis: the server had no list of Tor relays (a consensus) for it, so connections to Tor relays are not marked; only the check of Tor-like server names ran. Add consensuses of the capture\'s dates on the Tor relays page, then analyze the case again.';
  // Said by the server when the consensuses it holds do not cover the capture's time.
  let torCoverage = '';

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
    readTimeRange();
  }

  // ---------- the time range ----------
  // null, or [first, last] microseconds; a flow is in range when it was active at some moment of it.
  let timeRange = null;
  function inRange(f) {
    return f.t0 !== null && f.t1 >= timeRange[0] && f.t0 <= timeRange[1];
  }
  // The two time boxes → timeRange (an empty box is the capture's start or end); a wrong entry says why.
  function readTimeRange() {
    const a = $('time-from').value.trim(), b = $('time-to').value.trim();
    const t0 = a ? usOf(a) : model.start, t1 = b ? usOf(b) : model.end;
    let error = '';
    if (a && t0 === null) error = '“' + a + '” is not a time; write it as 2024-01-31T12:00:00Z (UTC).';
    else if (b && t1 === null) error = '“' + b + '” is not a time; write it as 2024-01-31T12:05:00Z (UTC).';
    else if ((a || b) && t0 > t1) error = 'The time range ends before it starts.';
    $('time-error').textContent = error;
    $('time-error').hidden = !error;
    timeRange = (a || b) && !error ? [t0, t1] : null;
  }
  function setTimeRange(range) {
    $('time-from').value = range ? isoOf(range[0]) : '';
    $('time-to').value = range ? isoOf(range[1]) : '';
    readTimeRange();
    render();
  }

  function drawTimeline(sel) {
    const box = $('timeline');
    if (model.start === null) {
      box.replaceChildren(el('p', { class: 'hint', text: 'This report has no packet times.' }));
      return;
    }
    // Findings above info on the view's flows, at their flow's start.
    const marks = [];
    sel.timeless.forEach(function (f) {
      f.findings.forEach(function (x) {
        if (x.severity === 'info' || f.t0 === null) return;
        marks.push({ t: f.t0, severity: str(x.severity), text: str(x.severity) + ' ' + str(x.tag) + ' at ' + isoOf(f.t0) + ': ' + findingText(x) });
      });
    });
    window.PcapxrayTimeline.draw(box, {
      start: model.start, end: model.end, flows: sel.timeless, marks: marks, range: timeRange,
      label: timeLabel, onSelect: setTimeRange,
    });
    $('timeline-caption').textContent = 'Capture from ' + isoOf(model.start) + ' to ' + isoOf(model.end) + '; ' +
      (timeRange ? 'showing ' + isoOf(timeRange[0]) + ' to ' + isoOf(timeRange[1]) + ' (' + sel.flows.length + ' of ' + sel.timeless.length + ' flows of the view).' : 'showing all of it.') +
      ' Marks: ' + marks.length + ' findings above info.';
  }

  // ---------- rendering ----------
  function render() {
    const sel = currentSelection();
    let shown = Array.from(sel.hosts.values()).sort(function (p, q) { return q.bytes - p.bytes || (p.ip < q.ip ? -1 : 1); });
    const total = shown.length;
    if (shown.length > NODE_LIMIT) shown = shown.slice(0, NODE_LIMIT);
    const keep = new Set(shown.map(function (s) { return s.ip; }));
    shown.sort(function (p, q) { return p.ip < q.ip ? -1 : p.ip > q.ip ? 1 : 0; });
    const nodes = shown.map(function (s) {
      const h = model.hosts.get(s.ip);
      const name = hostName(h);
      return {
        id: s.ip, label: s.ip, sub: name.length > 32 ? name.slice(0, 31) + '…' : name,
        lan: isLan(h), flagged: s.flagged, weight: s.bytes,
        title: s.ip + (name ? ' (' + name + ')' : '') + ': ' + nFlows(s.flows) + ', ' + size(s.bytes) + (s.flagged ? ', has findings' : ''),
      };
    });
    drawDiagram(sel.view, nodes, edgesOf(sel.flows, keep));
    drawTimeline(sel);
    $('view-summary').textContent = sel.flows.length + ' of ' + model.flows.length + ' flows, ' + total + ' hosts, ' +
      sel.findings.length + ' findings in view “' + sel.view.replace(/^tag:/, '') + '”' +
      (timeRange ? ' between ' + isoOf(timeRange[0]) + ' and ' + isoOf(timeRange[1]) : '') +
      (total > NODE_LIMIT ? '; the diagram shows ' + NODE_LIMIT + ' of ' + total + ' hosts (the busiest), the table all of them' : '') +
      (model.report.flows === undefined ? '; this report has no flows (the json output was configured without them)' : '') + '.';
    renderViewNote(sel);
    renderLegend();
    // Busiest hosts and most severe findings first until a header is pressed.
    hostsTable.set(Array.from(sel.hosts.values()).sort(function (p, q) { return q.bytes - p.bytes || q.flows - p.flows; }));
    findingsTable.set(sel.findings.slice().sort(function (p, q) {
      const rank = function (x) { const r = SEVERITY_ORDER[x.severity]; return r === undefined ? 5 : r; };
      return rank(p) - rank(q);
    }));
    webTable.set(sel.findings.filter(function (x) { return /^web\.(http|https|tls)$/.test(x.tag); }));
    flowsTable.set(sel.flows.slice().sort(function (p, q) { return (p.t0 || 0) - (q.t0 || 0) || p.id - q.id; }));
    dnsTable.set(dnsRows(sel.flows));
    filesTable.set(sel.files);
    credentialsTable.set(sel.credentials);
    viewFlows = sel.flows;
    $('view-pcap').textContent = 'Download the packets of this view (' + nFlows(sel.flows.length) + ', pcap)';
    $('view-pcap').disabled = !sel.flows.length;
    if (selected) showHost(selected, false);
    writeState();
  }

  // Conversations between the hosts drawn, each in the class the graph output gave its flows (the
  // first class in priority order when flows of a pair differ).
  function edgesOf(flows, keep) {
    const edges = new Map();
    flows.forEach(function (f) {
      if (!keep.has(f.client.ip) || !keep.has(f.server.ip)) return;
      const bytes = (f.to_server ? f.to_server.bytes : 0) + (f.to_client ? f.to_client.bytes : 0);
      const key = f.client.ip + ' ' + f.server.ip;
      let e = edges.get(key);
      if (!e) { e = { a: f.client.ip, b: f.server.ip, flows: 0, bytes: 0, files: 0, classes: new Set() }; edges.set(key, e); }
      e.flows++; e.bytes += bytes; e.classes.add(f.cls || UNCLASSIFIED.name);
      e.files += model.filesByFlow.get(f.id) || 0;
    });
    const order = model.classes.map(function (c) { return c.name; }).concat([UNCLASSIFIED.name]);
    return Array.from(edges.values()).map(function (e) {
      const cls = Array.from(e.classes).sort(function (p, q) { return order.indexOf(p) - order.indexOf(q); })[0];
      const server = model.hosts.get(e.b);
      return {
        a: e.a, b: e.b, cls: cls, color: classInfo(cls).color, width: Math.min(6, 1 + Math.log10(1 + e.bytes) / 1.5), files: e.files,
        title: cls.toUpperCase() + ': ' + e.a + ' → ' + e.b + (hostName(server) ? ' (' + hostName(server) + ')' : '') + ', ' + nFlows(e.flows) + ', ' + size(e.bytes) +
          (e.files ? ', ' + e.files + (e.files === 1 ? ' file' : ' files') : ''),
      };
    });
  }

  function renderLegend() {
    const items = model.classes.map(function (c) {
      const s = el('span', { text: c.description || c.name, 'data-class': c.name });
      s.style.setProperty('--c', c.color);
      return s;
    });
    if (!model.classified) {
      items.push(el('span', { class: 'plain', text: 'Traffic classes come from the graph output (graph/classes.json), which this pipeline did not write: every conversation is grey.' }));
    } else if (model.untracked) {
      items.push(el('span', { class: 'plain', text: count(model.untracked) + ' flows past the first million have no class (grey).' }));
    }
    items.push(el('span', { text: 'filled: LAN host, ring: findings', class: 'plain' }));
    $('legend').replaceChildren.apply($('legend'), items);
  }

  // A note under the summary when the view cannot show what its name promises.
  function renderViewNote(sel) {
    const torView = sel.view === 'tor' || sel.view.startsWith('tag:tor');
    const noConsensus = model.notes.some(function (n) { return n.key === 'tor.no-consensus'; }) ||
      model.findings.some(function (x) { return x.tag === 'tor.no-consensus'; });
    const text = torView ? (noConsensus ? TOR_NOTE : torCoverage) : '';
    $('view-note').textContent = text;
    $('view-note').hidden = !text;
  }

  function pluginGraph(view) {
    const name = 'graph/' + view.replace(/^tag:/, '') + '.svg';
    return model.files.some(function (f) { return f.path === name; }) ? name : null;
  }

  let lastGraph = null;
  let viewFlows = [];
  function drawDiagram(view, nodes, edges) {
    lastGraph = [view, nodes, edges];
    const canvas = $('diagram');
    const svgName = pluginGraph(view);
    $('plugin-graph-label').hidden = !svgName;
    if (svgName && $('plugin-graph').checked) {
      diagram = window.PcapxrayDiagram.picture(canvas, base + '/report/' + svgName + '?view', 'The graph plugin\'s diagram of view ' + view);
      return;
    }
    if (!nodes.length) {
      canvas.replaceChildren(el('p', { class: 'hint', text: 'No traffic in this view.' }));
      diagram = null;
      return;
    }
    diagram = window.PcapxrayDiagram.draw(canvas, nodes, edges, function (ip) { showHost(ip, true); });
    if (selected) diagram.select(selected);
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

  // ---------- tables ----------
  // A table the investigator sorts (a header button) and filters (the box above it); its caption says
  // how many rows it shows of how many. columns: {label, value(row) for sorting and filtering,
  // cell(row) → text or node (default: the value), num}.
  const COLLATE = new Intl.Collator('en', { numeric: true }).compare;
  function DataTable(id, noun, columns, empty) {
    const table = $(id);
    const head = table.querySelector('thead tr');
    const body = table.querySelector('tbody');
    const filter = el('input', { type: 'search', id: id + '-filter', autocomplete: 'off', spellcheck: 'false', placeholder: 'filter' });
    const counter = el('p', { class: 'hint table-count', id: id + '-count', role: 'status' });
    const csv = el('button', { type: 'button', id: id + '-csv', text: 'Download CSV' });
    const bar = el('div', { class: 'table-bar' }, el('label', { for: id + '-filter', text: 'Filter ' + noun }), filter, csv, counter);
    table.closest('.scroll').before(bar);
    let rows = [], sortBy = -1, descending = false, shown = [];
    const headers = columns.map(function (c, i) {
      const button = el('button', { type: 'button', class: 'sort', text: c.label });
      button.addEventListener('click', function () {
        descending = sortBy === i ? !descending : !!c.num;
        sortBy = i;
        draw();
      });
      return el('th', { scope: 'col', class: c.num ? 'num' : '' }, button);
    });
    head.replaceChildren.apply(head, headers);
    let pending = null;
    filter.addEventListener('input', function () { clearTimeout(pending); pending = setTimeout(draw, 150); });
    // The rows as filtered and sorted, every one of them (not only those drawn), as CSV.
    csv.addEventListener('click', function () {
      const keep = columns.filter(function (c) { return c.csv !== false; });
      const lines = [keep.map(function (c) { return csvField(c.label); }).join(',')];
      shown.forEach(function (r) {
        lines.push(keep.map(function (c) { return csvField(c.csv ? c.csv(r.row) : value(r, columns.indexOf(c))); }).join(','));
      });
      const blob = new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
      const a = el('a', { href: URL.createObjectURL(blob), download: id.replace(/-table$/, '') + '.csv' });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
    });
    // A big case has hundreds of thousands of rows: a cell's value is computed when first needed (to
    // draw one of the rows shown, to sort by its column, to filter or to write CSV), then kept.
    function value(r, i) {
      let v = r.values[i];
      if (v === undefined) {
        v = columns[i].value(r.row);
        r.values[i] = v = v === undefined || v === null ? '' : v;
      }
      return v;
    }
    function text(r) {
      if (r.text === null) r.text = columns.map(function (_, i) { return value(r, i); }).join('\u0001').toLowerCase();
      return r.text;
    }
    function draw() {
      const q = filter.value.trim().toLowerCase();
      let out = q ? rows.filter(function (r) { return text(r).indexOf(q) >= 0; }) : rows.slice();
      if (sortBy >= 0) {
        const sign = descending ? -1 : 1;
        out.sort(function (p, q2) {
          const a = value(p, sortBy), b = value(q2, sortBy);
          const c = typeof a === 'number' && typeof b === 'number' ? a - b : COLLATE(String(a), String(b));
          return sign * c;
        });
      }
      headers.forEach(function (th, i) {
        if (i === sortBy) th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
        else th.removeAttribute('aria-sort');
      });
      shown = out;
      const visible = out.slice(0, ROW_LIMIT).map(function (r) {
        return el('tr', {}, ...columns.map(function (c, i) {
          const cell = c.cell ? c.cell(r.row) : value(r, i);
          return el('td', { class: (c.num ? 'num ' : '') + (c.cls ? c.cls(r.row) : '') }, typeof cell === 'number' ? count(cell) : cell);
        }));
      });
      if (!visible.length) visible.push(el('tr', {}, el('td', { colspan: String(columns.length), class: 'hint', text: rows.length ? 'No row matches the filter.' : empty })));
      body.replaceChildren.apply(body, visible);
      counter.textContent = out.length + ' of ' + rows.length + ' ' + noun +
        (out.length > ROW_LIMIT ? ' (the first ' + ROW_LIMIT + ' shown; narrow the filter, or download the CSV for all)' : '');
    }
    return {
      set: function (list) {
        rows = list.map(function (row) { return { row: row, values: [], text: null }; });
        draw();
      },
    };
  }

  // One CSV field (RFC 4180). Values come from a capture: one that a spreadsheet would run as a
  // formula (= + - @ first) gets a leading apostrophe.
  function csvField(v) {
    let t = v === undefined || v === null ? '' : String(v);
    if (/^[=+\-@\t\r]/.test(t) && !/^-?\d+(\.\d+)?$/.test(t)) t = "'" + t;
    return /[",\r\n]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
  }

  let hostsTable, findingsTable, webTable, flowsTable, dnsTable, filesTable, credentialsTable;
  // What a masked secret shows (the SDK's tables::MASK).
  const MASK = '\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022';
  function rowAttr(r, key) { return str((r.attributes || {})[key]); }
  function rowPlace() {
    return [
      { label: 'Flow', num: true, value: function (r) { return r.flow; } },
      { label: 'Time (UTC)', value: function (r) { return str(r.time); } },
      { label: 'Client', value: function (r) { return str(r.client); } },
      { label: 'Server', value: function (r) { return str(r.server); } },
    ];
  }
  // A file row's attributes that have no column of their own, as a finding's evidence.
  const FILE_COLUMNS = ['protocol', 'name', 'detected_type', 'declared_type', 'size', 'missing', 'sha256'];
  function fileDetails(r) {
    const a = r.attributes || {}, rest = {};
    Object.keys(a).forEach(function (k) { if (FILE_COLUMNS.indexOf(k) < 0) rest[k] = a[k]; });
    return { attributes: rest };
  }
  // A kept file's name in the case's report/files/ folder (the files analyzer writes `files/NAME`).
  function keptName(r) {
    const path = rowAttr(r, 'extracted');
    return path.startsWith('files/') && path.indexOf('/', 6) < 0 ? path.slice(6) : '';
  }
  // A masked secret: a button that asks the server for this one secret and shows it in its place.
  function secretNode(r) {
    if (r.secret_index === undefined) return rowAttr(r, 'secret');
    const button = el('button', { type: 'button', class: 'reveal', 'data-secret-index': String(r.secret_index), text: MASK + ' show',
      'aria-label': 'show the secret of ' + (rowAttr(r, 'user') || 'this credential') });
    button.addEventListener('click', async function () {
      button.disabled = true;
      try {
        const answer = await fetch('/api/cases/' + encodeURIComponent(id) + '/secrets/' + r.secret_index, { headers: { Accept: 'application/json' } });
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
  function makeTables() {
    hostsTable = DataTable('hosts-table', 'hosts', [
      { label: 'Address', value: function (s) { return s.ip; }, cell: function (s) { return hostButton(s.ip); } },
      { label: 'Names', value: function (s) { return ((model.hosts.get(s.ip) || {}).names || []).join(', '); } },
      { label: 'MAC / vendor', value: function (s) {
        const h = model.hosts.get(s.ip) || {};
        const vendor = note(h, 'vendor').join(', ');
        return (h.macs || []).join(', ') + (vendor ? ' (' + vendor + ')' : '');
      } },
      { label: 'Flows', num: true, value: function (s) { return s.flows; } },
      { label: 'Bytes', num: true, value: function (s) { return s.bytes; }, cell: function (s) { return size(s.bytes); } },
    ], 'No hosts in this view.');
    findingsTable = DataTable('findings-table', 'findings', [
      { label: 'Severity', value: function (x) { return 5 - (SEVERITY_ORDER[x.severity] === undefined ? 5 : SEVERITY_ORDER[x.severity]); },
        cell: function (x) { return str(x.severity); }, csv: function (x) { return str(x.severity); }, cls: function (x) { return 'sev-' + str(x.severity); } },
      { label: 'Tag', value: function (x) { return str(x.tag); } },
      { label: 'Subject', value: subjectText, cell: subject },
      { label: 'Summary', value: findingText },
      { label: 'Stage', value: function (x) { return str(x.stage); } },
      { label: 'Evidence', value: evidenceText, cell: evidenceNode },
    ], 'No findings in this view.');
    flowsTable = DataTable('flows-table', 'flows', [
      { label: 'ID', num: true, value: function (f) { return f.id; } },
      { label: 'Start (UTC)', value: function (f) { return str(f.start); } },
      { label: 'Protocol', value: function (f) { return str(f.protocol); } },
      { label: 'Client', value: function (f) { return endpoint(f.client.ip, f.client.port); }, cell: function (f) { return endpointNode(f.client.ip, f.client.port); } },
      { label: 'Server', value: function (f) { return endpoint(f.server.ip, f.server.port); }, cell: function (f) { return endpointNode(f.server.ip, f.server.port); } },
      { label: 'State', value: function (f) { return str(f.conn_state); }, cell: function (f) { return el('abbr', { title: CONN_STATES[f.conn_state] || '', text: str(f.conn_state) }); } },
      { label: 'History', value: function (f) { return str(f.history); } },
      { label: 'Packets', num: true, value: function (f) { return packetsOf(f); } },
      { label: 'Bytes', num: true, value: function (f) { return f.bytes; } },
      { label: 'Duration (s)', num: true, value: function (f) { return Number(f.duration_seconds || 0); } },
      { label: 'Tags', value: function (f) { return f.tags.join(', '); } },
      { label: 'Packets file', csv: false, value: function () { return ''; }, cell: function (f) {
        return el('a', { href: base + '/pcap?flow=' + f.id, download: '', class: 'flow-pcap', 'data-flow': String(f.id), text: 'pcap',
          'aria-label': 'packets of flow ' + f.id + ' (pcap)' });
      } },
    ], 'No flows in this view.');
    dnsTable = DataTable('dns-table', 'DNS flows', [
      { label: 'Kind', value: function (r) { return str(r.x.tag); } },
      { label: 'Client', value: function (r) { return r.f.client.ip; }, cell: function (r) { return hostButton(r.f.client.ip); } },
      { label: 'Server', value: function (r) { return endpoint(r.f.server.ip, r.f.server.port); }, cell: function (r) { return endpointNode(r.f.server.ip, r.f.server.port); } },
      { label: 'Queries', value: function (r) { return attr(r.x, 'dns.queries') + more(r.x, 'dns.queries-omitted'); } },
      { label: 'Types', value: function (r) { return attr(r.x, 'dns.qtypes'); } },
      { label: 'Answers', value: function (r) { return attr(r.x, 'dns.answers') + more(r.x, 'dns.answers-omitted'); } },
      { label: 'Response codes', value: function (r) { return attr(r.x, 'dns.rcode'); } },
      { label: 'Messages', value: function (r) { return attr(r.x, 'dns.messages'); } },
    ], 'No DNS in this view.');
    filesTable = DataTable('files-table', 'files', rowPlace().concat([
      { label: 'Protocol', value: function (r) { return rowAttr(r, 'protocol'); } },
      { label: 'Name', value: function (r) { return rowAttr(r, 'name'); } },
      { label: 'Type', value: function (r) { return rowAttr(r, 'detected_type') || rowAttr(r, 'declared_type'); } },
      { label: 'Size', num: true, value: function (r) { return Number(rowAttr(r, 'size')) || 0; } },
      { label: 'Missing', num: true, value: function (r) { return Number(rowAttr(r, 'missing')) || 0; } },
      { label: 'SHA-256', value: function (r) { return rowAttr(r, 'sha256'); }, cls: function () { return 'mono'; } },
      { label: 'Details', value: function (r) { return evidenceText(fileDetails(r)); }, cell: function (r) { return evidenceNode(fileDetails(r)); } },
      { label: 'File', csv: false, value: function () { return ''; }, cell: function (r) {
        const name = keptName(r);
        if (!name) return rowAttr(r, 'not_extracted') ? 'not kept' : '';
        return el('a', { href: base + '/extracted/' + encodeURIComponent(name), download: '', class: 'file-download', 'data-sha256': rowAttr(r, 'sha256'),
          text: 'download', 'aria-label': 'download ' + (rowAttr(r, 'name') || name) });
      } },
    ]), 'No files in this view.');
    credentialsTable = DataTable('credentials-table', 'credentials', rowPlace().concat([
      { label: 'Protocol', value: function (r) { return rowAttr(r, 'protocol'); } },
      { label: 'User', value: function (r) { return rowAttr(r, 'user'); } },
      { label: 'Domain', value: function (r) { return rowAttr(r, 'domain'); } },
      { label: 'Workstation', value: function (r) { return rowAttr(r, 'workstation'); } },
      // Sorted, filtered and written to CSV as the mask: the page never holds a secret until asked.
      { label: 'Secret', value: function (r) { return rowAttr(r, 'secret') ? MASK : ''; }, cell: secretNode },
      { label: 'Format', value: function (r) { return rowAttr(r, 'secret_format'); } },
      { label: 'Service', value: function (r) { return rowAttr(r, 'service'); } },
      { label: 'Outcome', value: function (r) { return rowAttr(r, 'outcome'); } },
      { label: 'Tag', value: function (r) { return str(r.tag); } },
    ]), 'No credentials in this view.');
    webTable = DataTable('web-table', 'web transactions', [
      { label: 'Client', value: function (x) { const f = flowOf(x); return f ? f.client.ip : ''; },
        cell: function (x) { const f = flowOf(x); return f ? hostButton(f.client.ip) : ''; } },
      { label: 'Server', value: function (x) { const f = flowOf(x); return f ? endpoint(f.server.ip, f.server.port) : ''; },
        cell: function (x) { const f = flowOf(x); return f ? endpointNode(f.server.ip, f.server.port) : ''; } },
      { label: 'Name', value: function (x) { const a = x.attributes || {}; return str(a['http.host'] || a['tls.sni'] || a['server.name']); } },
      { label: 'Request', value: function (x) {
        const a = x.attributes || {};
        return a['http.method'] ? a['http.method'] + ' ' + str(a['http.uri']) : str(a['tls.versions'] || (a['tls.mid-stream'] ? 'TLS (mid-stream)' : ''));
      } },
      { label: 'Answer', value: function (x) {
        const a = x.attributes || {};
        return a['http.status'] ? a['http.status'] + (a['http.server'] ? ' (' + a['http.server'] + ')' : '') : str(a['tls.version'] || a['tls.cipher']);
      } },
      { label: 'User agent', value: function (x) { return str((x.attributes || {})['http.user-agent']); } },
    ], 'No web transactions in this view.');
  }

  function attr(x, key) { return str((x.attributes || {})[key]); }
  function more(x, key) { const n = attr(x, key); return n && n !== '0' ? ' (and ' + n + ' more)' : ''; }
  function packetsOf(f) { return (f.to_server ? f.to_server.packets : 0) + (f.to_client ? f.to_client.packets : 0); }
  // Zeek's connection states, for the State column's tooltip.
  const CONN_STATES = {
    S0: 'attempt seen, no reply', S1: 'established, not terminated', SF: 'normal establishment and termination',
    REJ: 'attempt rejected', S2: 'established, close attempt by the client only', S3: 'established, close attempt by the server only',
    RSTO: 'established, the client aborted (RST)', RSTR: 'established, the server aborted (RST)',
    RSTOS0: 'the client sent a SYN then a RST; no SYN-ACK seen', RSTRH: 'the server sent a SYN-ACK then a RST; no SYN seen',
    SH: 'the client sent a SYN then a FIN; no SYN-ACK seen', SHR: 'the server sent a SYN-ACK then a FIN; no SYN seen',
    OTH: 'no SYN seen, only midstream traffic',
  };
  // A finding's evidence: its attributes as the analyzer wrote them, and the flows it rests on.
  function evidenceText(x) {
    const a = x.attributes || {};
    const parts = Object.keys(a).sort().map(function (k) { return k + '=' + a[k]; });
    const flows = (x.flows || []).length;
    if (flows > 1) parts.push(flows + ' flows');
    return parts.join('; ');
  }
  function evidenceNode(x) {
    const text = evidenceText(x);
    if (text.length <= 120) return text;
    return el('details', {}, el('summary', { text: text.slice(0, 100) + '…' }), el('span', { text: text }));
  }
  // One row per flow that carried DNS (the dns stage's finding on it, as it wrote it).
  const DNS_TAG = /^dns(\.(mdns|llmnr|nbns|malformed))?$/;
  function dnsRows(flows) {
    const rows = [];
    flows.forEach(function (f) {
      const x = f.findings.find(function (y) { return DNS_TAG.test(y.tag) && (y.attributes || {})['dns.messages'] !== undefined; }) ||
        f.findings.find(function (y) { return DNS_TAG.test(y.tag); });
      if (x) rows.push({ f: f, x: x });
    });
    return rows;
  }

  function flowOf(x) {
    return x.subject && x.subject.flow !== undefined ? model.flowById.get(x.subject.flow) : null;
  }
  function subjectText(x) {
    const f = flowOf(x);
    if (f) return f.client.ip + ' → ' + endpoint(f.server.ip, f.server.port) + '/' + f.protocol;
    if (x.subject && x.subject.flow !== undefined) return 'flow ' + x.subject.flow;
    if (x.subject && x.subject.host !== undefined) return x.subject.host;
    return 'capture';
  }
  function subject(x) {
    const f = flowOf(x);
    if (f) return el('span', {}, hostButton(f.client.ip), ' → ', endpointNode(f.server.ip, f.server.port), '/' + f.protocol);
    if (x.subject && x.subject.flow !== undefined) return el('span', { text: 'flow ' + x.subject.flow });
    if (x.subject && x.subject.host !== undefined) return hostButton(x.subject.host);
    return el('span', { text: 'capture' });
  }

  // ---------- search ----------
  // An address, a MAC, a name or a finding tag → the host(s) it names; one match opens it.
  function search(text) {
    const q = text.trim().toLowerCase();
    const out = $('search-results');
    if (!q) { out.replaceChildren(); return; }
    const mac = q.replace(/-/g, ':');
    // Hosts a finding with that tag is about, or on whose flows it is.
    const tagged = new Set();
    model.findings.forEach(function (x) {
      if (!hasTag([String(x.tag).toLowerCase()], q)) return;
      const f = flowOf(x);
      if (f) { tagged.add(f.client.ip); tagged.add(f.server.ip); }
      else if (x.subject && x.subject.host !== undefined) tagged.add(x.subject.host);
    });
    const hits = [];
    model.hosts.forEach(function (h, ip) {
      const names = (h.names || []).map(function (n) { return n.toLowerCase(); });
      const macs = (h.macs || []).map(function (m) { return m.toLowerCase(); });
      if (ip.toLowerCase() === q || macs.indexOf(mac) >= 0 || tagged.has(ip) ||
        names.some(function (n) { return n.indexOf(q) >= 0; })) hits.push(ip);
    });
    hits.sort(function (a, b) { return a.localeCompare(b, 'en', { numeric: true }); });
    if (hits.length === 1) {
      out.replaceChildren(el('span', { text: 'Found ' + hits[0] + '.' }));
      showHost(hits[0], true);
      $('details').scrollIntoView({ block: 'nearest' });
      return;
    }
    if (!hits.length) { out.replaceChildren(el('span', { text: 'No host matches “' + text.trim() + '”.' })); return; }
    out.replaceChildren(el('span', { text: hits.length + ' hosts match: ' }),
      ...hits.slice(0, 50).map(function (ip) { return el('span', {}, hostButton(ip), ' '); }),
      hits.length > 50 ? el('span', { text: '(first 50)' }) : null);
  }

  // ---------- host details ----------
  function showHost(ip, focus) {
    selected = ip;
    writeState();
    if (diagram) diagram.select(ip);
    const h = model.hosts.get(ip) || { ip: ip };
    const flows = model.flows.filter(function (f) {
      return (f.client.ip === ip || f.server.ip === ip) && (!timeRange || inRange(f));
    });
    const peers = new Map();
    flows.forEach(function (f) {
      const peer = f.client.ip === ip ? f.server.ip : f.client.ip;
      peers.set(peer, (peers.get(peer) || 0) + 1);
    });
    const ids = new Set(flows.map(function (f) { return f.id; }));
    const findings = model.findings.filter(function (x) {
      return x.subject && (x.subject.host === ip || ids.has(x.subject.flow));
    });
    const dl = el('dl');
    function row(label, value) {
      if (value === '' || value === null || value === undefined || (Array.isArray(value) && !value.length)) return;
      dl.appendChild(el('dt', { text: label }));
      dl.appendChild(el('dd', {}, typeof value === 'string' ? value : value));
    }
    row('Address', ip);
    row('Class', str(h.class));
    row('MAC', (h.macs || []).join(', '));
    row('Vendor', note(h, 'vendor').join(', '));
    row('Names', (h.names || []).join(', '));
    row('OS hint', note(h, 'os').join(', '));
    row('Device', note(h, 'device').join(', '));
    row('Seen in ARP', h.seen_in_arp ? 'yes' : '');
    row('First seen', str(h.first_seen));
    row('Last seen', str(h.last_seen));
    if (h.packets_sent !== undefined) {
      row('Sent', count(h.packets_sent) + ' packets, ' + size(h.bytes_sent));
      row('Received', count(h.packets_received) + ' packets, ' + size(h.bytes_received));
    }
    const facts = (h.notes || []).filter(function (n) { return ['name', 'vendor', 'os', 'device'].indexOf(n.key) < 0; });
    const panel = $('details');
    const range = timeRange ? '&time=' + encodeURIComponent(isoOf(timeRange[0]) + '/' + isoOf(timeRange[1])) : '';
    const pcap = el('p', {}, el('a', { href: base + '/pcap?host=' + encodeURIComponent(ip) + range, download: '', id: 'host-pcap',
      text: 'Download this host\'s packets' + (timeRange ? ' in the time range' : '') + ' (pcap)' }));
    const parts = [el('h3', { id: 'details-heading', text: 'Host ' + ip }), pcap, dl];
    if (facts.length) {
      parts.push(el('h4', { text: 'Facts' }), el('ul', {}, ...facts.map(function (n) {
        return el('li', { text: n.key + ': ' + n.value + ' (' + n.stage + ')' });
      })));
    }
    const peerList = Array.from(peers.entries()).sort(function (p, q) { return q[1] - p[1]; });
    const cut = function (n) { return n > 100 ? ' — the first 100 shown' : ''; };
    parts.push(el('h4', { text: 'Peers (' + peerList.length + cut(peerList.length) + ')' }));
    parts.push(el('ul', { class: 'peers' }, ...peerList.slice(0, 100).map(function (p) {
      const h2 = model.hosts.get(p[0]);
      return el('li', {}, hostButton(p[0]), (hostName(h2) ? ' ' + hostName(h2) : '') + ' — ' + nFlows(p[1]));
    })));
    parts.push(el('h4', { text: 'Flows (' + flows.length + (timeRange ? ' in the time range' : '') + cut(flows.length) + ')' }));
    parts.push(el('ul', { class: 'flows' }, ...flows.slice(0, 100).map(function (f) {
      const bytes = (f.to_server ? f.to_server.bytes : 0) + (f.to_client ? f.to_client.bytes : 0);
      return el('li', { text: f.protocol + ' ' + endpoint(f.client.ip, f.client.port) + ' → ' + endpoint(f.server.ip, f.server.port) + ', ' + size(bytes) + (f.tags.length ? ' [' + f.tags.join(', ') + ']' : '') });
    })));
    parts.push(el('h4', { text: 'Findings (' + findings.length + cut(findings.length) + ')' }));
    parts.push(el('ul', { class: 'host-findings' }, ...findings.slice(0, 100).map(function (x) {
      return el('li', {}, el('span', { class: 'sev-' + str(x.severity), text: str(x.severity) }), ' ' + str(x.tag) + ': ' + findingText(x));
    })));
    panel.replaceChildren.apply(panel, parts);
    if (focus) panel.focus();
  }

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
    const parts = [el('p', { text: count(s.packets) + ' packets, ' + count(s.flows) + ' flows, ' + count(s.hosts) + ' hosts, ' + count(s.findings) + ' findings; analyzed in ' + (s.seconds || 0).toFixed(2) + ' s.' })];
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

  // The server's compact model of report.json (GET /api/cases/ID/explore: flows as rows of the fields
  // this page reads), turned back into report.json's shape; null when the server has none, and the
  // page then reads report.json itself.
  async function compactReport() {
    let m;
    try {
      const r = await fetch('/api/cases/' + encodeURIComponent(id) + '/explore', { headers: { Accept: 'application/json' } });
      if (!r.ok) return null;
      m = await r.json();
    } catch (_) { return null; }
    if (!m || m.format !== 'pcapxray-explore-3') return null;
    const c = {};
    m.columns.forEach(function (name, i) { c[name] = i; });
    const found = new Map(m.flow_findings || []);
    const flows = m.flows === null ? undefined : m.flows.map(function (r) {
      return {
        id: r[c.id], protocol: r[c.protocol],
        client: { ip: r[c.client_ip], port: r[c.client_port], mac: r[c.client_mac] },
        server: { ip: r[c.server_ip], port: r[c.server_port] },
        start: r[c.start], end: r[c.end], duration_seconds: r[c.duration_seconds],
        conn_state: r[c.conn_state], history: r[c.history],
        to_server: { packets: r[c.to_server_packets], bytes: r[c.to_server_bytes] },
        to_client: { packets: r[c.to_client_packets], bytes: r[c.to_client_bytes] },
        tags: r[c.tags], findings: found.get(r[c.id]) || [],
      };
    });
    return { flows: flows, findings: m.findings, hosts: m.hosts, capture: m.capture, notes: m.notes, files: m.files, credentials: m.credentials };
  }

  async function explore(c) {
    $('failure').hidden = true;
    let files = [];
    try {
      const r = await fetch('/api/cases/' + encodeURIComponent(id), { headers: { Accept: 'application/json' } });
      files = (await r.json()).files || [];
    } catch (_) { /* listed below as missing */ }
    renderFiles(files);
    renderRun(c);
    const json = files.find(function (f) { return f.path === 'report.json'; });
    if (!json) {
      $('error-text').textContent = 'This pipeline wrote no report.json, which the explore view reads; the report files are listed below.';
      $('failure').querySelector('h2').textContent = 'Nothing to explore';
      $('failure').hidden = false;
      return;
    }
    let report = await compactReport(), classes = null;
    try {
      if (!report) report = await (await fetch(base + '/report/report.json')).json();
    } catch (e) {
      $('error-text').textContent = 'report.json could not be read: ' + e;
      $('failure').hidden = false;
      return;
    }
    if (files.some(function (f) { return f.path === 'graph/classes.json'; })) {
      try {
        const r = await fetch(base + '/report/graph/classes.json');
        classes = readClasses(await r.json());
      } catch (_) { classes = null; /* the legend says the classes are missing */ }
    }
    model = buildModel(report, files, classes);
    $('original-sha256').textContent = str((report.capture || {}).sha256) || 'not in the report';
    fillViews();
    makeTables();
    const state = readState();
    applyState(state);
    $('explore').hidden = false;
    if (state.host && model.hosts.has(state.host)) selected = state.host;
    render();
    if (selected) showHost(selected, false);
    $('view').addEventListener('change', render);
    let pending = null;
    ['from', 'to', 'time-from', 'time-to'].forEach(function (name) {
      $(name).addEventListener('input', function () { clearTimeout(pending); pending = setTimeout(function () { readTimeRange(); render(); }, 250); });
    });
    $('filters').addEventListener('submit', function (e) { e.preventDefault(); readTimeRange(); render(); });
    $('filters').addEventListener('reset', function () { setTimeout(function () { $('view').value = 'all'; readTimeRange(); render(); }, 0); });
    $('view-pcap-form').addEventListener('submit', function () {
      $('view-pcap-flows').value = viewFlows.map(function (f) { return f.id; }).join(',');
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
      selected = next.host && model.hosts.has(next.host) ? next.host : null;
      render();
    });
    document.body.dataset.ready = 'explore';
  }
})();
