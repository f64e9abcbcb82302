// Case page: follows the analysis through Server-Sent Events, then builds the explore view from the
// run's report.json. Views and filters are computed here, in the browser; the capture is never re-read.
// Report contents come from a capture and may be hostile: they reach the page through textContent only.
'use strict';
(function () {
  const id = document.body.dataset.case;
  const $ = function (s) { return document.getElementById(s); };
  const base = '/cases/' + encodeURIComponent(id);
  const ROW_LIMIT = 500;
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
  const CLASSES = [
    ['suspicious', 'Suspicious', '--bad'], ['tor', 'Tor', '--tor'], ['https', 'HTTPS', '--https'],
    ['http', 'HTTP', '--http'], ['dns', 'DNS', '--dns'], ['icmp', 'ICMP', '--icmp'],
    ['cleartext', 'Clear-text protocols', '--clear'], ['other', 'Other', '--other'],
  ];
  function hasTag(tags, prefix) {
    return tags.some(function (t) { return t === prefix || t.startsWith(prefix + '.'); });
  }
  function port(f, ports) { return ports.indexOf(f.server.port) >= 0; }
  const VIEWS = {
    all: function () { return true; },
    web: function (f) { return hasTag(f.tags, 'web.http') || hasTag(f.tags, 'web.https') || (!hasTag(f.tags, 'web') && f.protocol === 'tcp' && port(f, [80, 443, 8080, 8443])); },
    http: function (f) { return hasTag(f.tags, 'web.http') || (!hasTag(f.tags, 'web') && f.protocol === 'tcp' && port(f, [80, 8080])); },
    https: function (f) { return hasTag(f.tags, 'web.https') || (!hasTag(f.tags, 'web') && f.protocol === 'tcp' && port(f, [443, 8443])); },
    dns: function (f) { return hasTag(f.tags, 'dns') || ((f.protocol === 'udp' || f.protocol === 'tcp') && port(f, [53])); },
    icmp: function (f) { return f.protocol === 'icmp' || f.protocol === 'icmpv6' || hasTag(f.tags, 'icmp'); },
    tor: function (f) { return hasTag(f.tags, 'tor'); },
    suspicious: function (f) { return hasTag(f.tags, 'suspicious') || f.findings.some(function (x) { return SEVERE[x.severity]; }); },
  };
  function flowClass(f) {
    for (const [name] of CLASSES) {
      if (name === 'other') break;
      if (name === 'cleartext' ? hasTag(f.tags, 'cleartext') : VIEWS[name](f)) return name;
    }
    return 'other';
  }

  let model = null;
  let diagram = null;
  let selected = null;

  function buildModel(report, files) {
    const flows = (report.flows || []).map(function (f) {
      const tags = (f.tags || []).slice();
      (f.findings || []).forEach(function (x) { if (tags.indexOf(x.tag) < 0) tags.push(x.tag); });
      return Object.assign({}, f, { tags: tags, findings: f.findings || [] });
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
    (report.findings || []).forEach(function (x) {
      findings.push(x);
      const f = x.subject && x.subject.flow !== undefined ? flowById.get(x.subject.flow) : null;
      if (!f) return;
      f.findings.push(x);
      if (f.tags.indexOf(x.tag) < 0) f.tags.push(x.tag);
    });
    const tags = new Set();
    findings.forEach(function (x) { tags.add(x.tag); });
    return { report: report, files: files, flows: flows, hosts: hosts, flowById: flowById, findings: findings, tags: Array.from(tags).sort() };
  }

  function fillViews() {
    const select = $('view');
    const fixed = ['all', 'web', 'http', 'https', 'dns', 'icmp', 'tor', 'suspicious'];
    const traffic = el('optgroup', { label: 'Traffic' });
    fixed.forEach(function (v) { traffic.appendChild(el('option', { value: v, text: v })); });
    const extra = new Set();
    model.tags.forEach(function (t) {
      const parts = t.split('.');
      for (let i = 1; i <= parts.length; i++) extra.add(parts.slice(0, i).join('.'));
    });
    fixed.forEach(function (v) { extra.delete(v); });
    const tagGroup = el('optgroup', { label: 'Finding tags' });
    Array.from(extra).sort().forEach(function (t) { tagGroup.appendChild(el('option', { value: 'tag:' + t, text: t })); });
    select.replaceChildren(traffic);
    if (extra.size) select.appendChild(tagGroup);
    const wanted = new URLSearchParams(location.hash.slice(1)).get('view');
    select.value = wanted && Array.from(select.options).some(function (o) { return o.value === wanted; }) ? wanted : 'all';
  }

  function viewTest(view) {
    if (view.startsWith('tag:')) {
      const tag = view.slice(4);
      return function (f) { return hasTag(f.tags, tag); };
    }
    return VIEWS[view] || VIEWS.all;
  }
  function findingInView(view, x) {
    if (view === 'all') return true;
    if (view.startsWith('tag:')) return hasTag([x.tag], view.slice(4));
    if (view === 'suspicious') return hasTag([x.tag], 'suspicious') || !!SEVERE[x.severity];
    if (view === 'web') return hasTag([x.tag], 'web.http') || hasTag([x.tag], 'web.https');
    if (view === 'http' || view === 'https') return hasTag([x.tag], 'web.' + view);
    return hasTag([x.tag], view);
  }

  // ---------- rendering ----------
  function currentSelection() {
    const view = $('view').value || 'all';
    const from = parseFilter($('from').value), to = parseFilter($('to').value);
    const error = from.error || to.error;
    $('filter-error').textContent = error || '';
    $('filter-error').hidden = !error;
    const fromNets = from.nets || [], toNets = to.nets || [];
    const test = viewTest(view);
    const flows = model.flows.filter(function (f) {
      return test(f) && matches(fromNets, f.client.ip) && matches(toNets, f.server.ip);
    });
    const inFlows = new Set(flows.map(function (f) { return f.id; }));
    const anyFilter = fromNets.length || toNets.length;
    const findings = model.findings.filter(function (x) {
      if (x.subject && x.subject.flow !== undefined) return inFlows.has(x.subject.flow);
      if (!findingInView(view, x)) return false;
      if (x.subject && x.subject.host !== undefined) {
        return !anyFilter || (fromNets.length && matches(fromNets, x.subject.host)) || (toNets.length && matches(toNets, x.subject.host));
      }
      return !anyFilter;
    });
    return { view: view, flows: flows, findings: findings };
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

  function render() {
    const sel = currentSelection();
    const hash = new URLSearchParams({ view: sel.view });
    history.replaceState(null, '', '#' + hash.toString());
    // Hosts and edges of the view.
    const stats = new Map();
    function stat(ip) {
      let s = stats.get(ip);
      if (!s) { s = { ip: ip, flows: 0, bytes: 0, flagged: false }; stats.set(ip, s); }
      return s;
    }
    const edges = new Map();
    sel.flows.forEach(function (f) {
      const bytes = (f.to_server ? f.to_server.bytes : 0) + (f.to_client ? f.to_client.bytes : 0);
      const a = stat(f.client.ip), b = stat(f.server.ip);
      a.flows++; b.flows++; a.bytes += bytes; b.bytes += bytes;
      const key = f.client.ip + ' ' + f.server.ip;
      let e = edges.get(key);
      if (!e) { e = { a: f.client.ip, b: f.server.ip, flows: 0, bytes: 0, classes: new Set() }; edges.set(key, e); }
      e.flows++; e.bytes += bytes; e.classes.add(flowClass(f));
    });
    sel.findings.forEach(function (x) {
      if (x.subject && x.subject.host !== undefined) stat(x.subject.host).flagged = true;
      if (SEVERE[x.severity] && x.subject && x.subject.flow !== undefined) {
        const f = model.flowById.get(x.subject.flow);
        if (f) { stat(f.client.ip).flagged = true; stat(f.server.ip).flagged = true; }
      }
    });
    let shown = Array.from(stats.values()).sort(function (p, q) { return q.bytes - p.bytes || (p.ip < q.ip ? -1 : 1); });
    const total = shown.length;
    if (shown.length > NODE_LIMIT) shown = shown.slice(0, NODE_LIMIT);
    const keep = new Set(shown.map(function (s) { return s.ip; }));
    shown.sort(function (p, q) { return p.ip < q.ip ? -1 : p.ip > q.ip ? 1 : 0; });
    const style = getComputedStyle(document.documentElement);
    const colour = function (cls) {
      const entry = CLASSES.find(function (c) { return c[0] === cls; });
      return style.getPropertyValue(entry ? entry[2] : '--other').trim() || '#888';
    };
    const nodes = shown.map(function (s) {
      const h = model.hosts.get(s.ip);
      const name = hostName(h);
      return {
        id: s.ip, label: s.ip, sub: name.length > 32 ? name.slice(0, 31) + '…' : name,
        lan: isLan(h), flagged: s.flagged, weight: s.bytes,
        title: s.ip + (name ? ' (' + name + ')' : '') + ': ' + nFlows(s.flows) + ', ' + size(s.bytes) + (s.flagged ? ', has findings' : ''),
      };
    });
    const edgeList = Array.from(edges.values()).filter(function (e) { return keep.has(e.a) && keep.has(e.b); }).map(function (e) {
      const order = CLASSES.map(function (c) { return c[0]; });
      const cls = Array.from(e.classes).sort(function (p, q) { return order.indexOf(p) - order.indexOf(q); })[0];
      const server = model.hosts.get(e.b);
      return {
        a: e.a, b: e.b, color: colour(cls), width: Math.min(6, 1 + Math.log10(1 + e.bytes) / 1.5),
        title: cls.toUpperCase() + ': ' + e.a + ' → ' + e.b + (hostName(server) ? ' (' + hostName(server) + ')' : '') + ', ' + nFlows(e.flows) + ', ' + size(e.bytes),
      };
    });
    $('view-summary').textContent = sel.flows.length + ' of ' + model.flows.length + ' flows, ' + total + ' hosts, ' +
      sel.findings.length + ' findings in view “' + sel.view.replace(/^tag:/, '') + '”' +
      (total > NODE_LIMIT ? '; the diagram shows the ' + NODE_LIMIT + ' busiest hosts — narrow it with a filter' : '') +
      (model.report.flows === undefined ? '; this report has no flows (the json output was configured without them)' : '') + '.';
    drawDiagram(sel.view, nodes, edgeList);
    $('legend').replaceChildren.apply($('legend'), CLASSES.map(function (c) {
      const s = el('span', { text: c[1] });
      s.style.setProperty('--c', colour(c[0]));
      return s;
    }).concat([el('span', { text: 'filled: LAN host, ring: findings', class: 'plain' })]));
    renderHosts(shown, stats);
    renderFindings(sel.findings);
    renderWeb(sel.findings);
    if (selected) showHost(selected, false);
  }

  function pluginGraph(view) {
    const name = 'graph/' + view.replace(/^tag:/, '') + '.svg';
    return model.files.some(function (f) { return f.path === name; }) ? name : null;
  }

  let lastGraph = null;
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
    const b = el('button', { type: 'button', class: 'linklike', text: ip });
    b.addEventListener('click', function () { showHost(ip, true); });
    return b;
  }

  function fill(tbody, rows, empty, columns) {
    if (!rows.length) {
      tbody.replaceChildren(el('tr', {}, el('td', { colspan: String(columns), class: 'hint', text: empty })));
      return;
    }
    const out = rows.slice(0, ROW_LIMIT);
    if (rows.length > ROW_LIMIT) {
      out.push(el('tr', {}, el('td', { colspan: String(columns), class: 'hint', text: 'Showing ' + ROW_LIMIT + ' of ' + rows.length + '; narrow the view or download the report for all.' })));
    }
    tbody.replaceChildren.apply(tbody, out);
  }

  function renderHosts(shown, stats) {
    const rows = shown.slice().sort(function (p, q) { return q.bytes - p.bytes; }).map(function (s) {
      const h = model.hosts.get(s.ip) || {};
      const vendor = note(h, 'vendor').join(', ');
      return el('tr', {},
        el('td', {}, hostButton(s.ip)),
        el('td', { text: (h.names || []).join(', ') }),
        el('td', { text: (h.macs || []).join(', ') + (vendor ? ' (' + vendor + ')' : '') }),
        el('td', { text: count(stats.get(s.ip).flows) }),
        el('td', { text: size(stats.get(s.ip).bytes) }));
    });
    fill($('hosts-table').querySelector('tbody'), rows, 'No hosts in this view.', 5);
  }

  function subject(x) {
    if (x.subject && x.subject.flow !== undefined) {
      const f = model.flowById.get(x.subject.flow);
      if (f) return el('span', {}, hostButton(f.client.ip), ' → ', hostButton(f.server.ip), ':' + f.server.port + '/' + f.protocol);
      return el('span', { text: 'flow ' + x.subject.flow });
    }
    if (x.subject && x.subject.host !== undefined) return hostButton(x.subject.host);
    return el('span', { text: 'capture' });
  }

  function renderFindings(findings) {
    const order = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
    const sorted = findings.slice().sort(function (p, q) { return (order[p.severity] || 5) - (order[q.severity] || 5); });
    const rows = sorted.map(function (x) {
      return el('tr', {},
        el('td', { class: 'sev-' + str(x.severity), text: str(x.severity) }),
        el('td', { text: str(x.tag) }),
        el('td', {}, subject(x)),
        el('td', { text: str(x.summary) }),
        el('td', { text: str(x.stage) }));
    });
    fill($('findings-table').querySelector('tbody'), rows, 'No findings in this view.', 5);
  }

  function renderWeb(findings) {
    const rows = findings.filter(function (x) { return /^web\.(http|https|tls)$/.test(x.tag); }).map(function (x) {
      const a = x.attributes || {};
      const f = x.subject && model.flowById.get(x.subject.flow);
      const request = a['http.method'] ? a['http.method'] + ' ' + str(a['http.uri']) : str(a['tls.versions'] || (a['tls.mid-stream'] ? 'TLS (mid-stream)' : ''));
      const answer = a['http.status'] ? a['http.status'] + (a['http.server'] ? ' (' + a['http.server'] + ')' : '') : str(a['tls.version'] || a['tls.cipher']);
      return el('tr', {},
        el('td', {}, f ? hostButton(f.client.ip) : ''),
        el('td', {}, f ? el('span', {}, hostButton(f.server.ip), ':' + f.server.port) : ''),
        el('td', { text: str(a['http.host'] || a['tls.sni'] || a['server.name']) }),
        el('td', { text: request }),
        el('td', { text: answer }),
        el('td', { text: str(a['http.user-agent']) }));
    });
    fill($('web-table').querySelector('tbody'), rows, 'No web transactions in this view.', 6);
  }

  // ---------- host details ----------
  function showHost(ip, focus) {
    selected = ip;
    if (diagram) diagram.select(ip);
    const h = model.hosts.get(ip) || { ip: ip };
    const flows = model.flows.filter(function (f) { return f.client.ip === ip || f.server.ip === ip; });
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
    const parts = [el('h3', { id: 'details-heading', text: 'Host ' + ip }), dl];
    if (facts.length) {
      parts.push(el('h4', { text: 'Facts' }), el('ul', {}, ...facts.map(function (n) {
        return el('li', { text: n.key + ': ' + n.value + ' (' + n.stage + ')' });
      })));
    }
    const peerList = Array.from(peers.entries()).sort(function (p, q) { return q[1] - p[1]; });
    parts.push(el('h4', { text: 'Peers (' + peerList.length + ')' }));
    parts.push(el('ul', { class: 'peers' }, ...peerList.slice(0, 100).map(function (p) {
      const h2 = model.hosts.get(p[0]);
      return el('li', {}, hostButton(p[0]), (hostName(h2) ? ' ' + hostName(h2) : '') + ' — ' + nFlows(p[1]));
    })));
    parts.push(el('h4', { text: 'Flows (' + flows.length + ')' }));
    parts.push(el('ul', { class: 'flows' }, ...flows.slice(0, 100).map(function (f) {
      const bytes = (f.to_server ? f.to_server.bytes : 0) + (f.to_client ? f.to_client.bytes : 0);
      return el('li', { text: f.protocol + ' ' + f.client.ip + ':' + f.client.port + ' → ' + f.server.ip + ':' + f.server.port + ', ' + size(bytes) + (f.tags.length ? ' [' + f.tags.join(', ') + ']' : '') });
    })));
    parts.push(el('h4', { text: 'Findings (' + findings.length + ')' }));
    parts.push(el('ul', { class: 'host-findings' }, ...findings.slice(0, 100).map(function (x) {
      return el('li', {}, el('span', { class: 'sev-' + str(x.severity), text: str(x.severity) }), ' ' + str(x.tag) + ': ' + str(x.summary));
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
    if (s.problems && s.problems.length) {
      parts.push(el('div', { class: 'warning', role: 'note' }, el('p', { text: 'The report is incomplete:' }),
        el('ul', {}, ...s.problems.map(function (p) { return el('li', { text: p }); }))));
    }
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
    renderFiles(files);
    renderRun(c);
    const json = files.find(function (f) { return f.path === 'report.json'; });
    if (!json) {
      $('error-text').textContent = 'This pipeline wrote no report.json, which the explore view reads; the report files are listed below.';
      $('failure').querySelector('h2').textContent = 'Nothing to explore';
      $('failure').hidden = false;
      return;
    }
    let report;
    try {
      const r = await fetch(base + '/report/report.json');
      report = await r.json();
    } catch (e) {
      $('error-text').textContent = 'report.json could not be read: ' + e;
      $('failure').hidden = false;
      return;
    }
    model = buildModel(report, files);
    fillViews();
    $('explore').hidden = false;
    render();
    $('view').addEventListener('change', render);
    let pending = null;
    ['from', 'to'].forEach(function (name) {
      $(name).addEventListener('input', function () { clearTimeout(pending); pending = setTimeout(render, 250); });
    });
    $('filters').addEventListener('submit', function (e) { e.preventDefault(); render(); });
    $('filters').addEventListener('reset', function () { setTimeout(function () { $('view').value = 'all'; render(); }, 0); });
    $('plugin-graph').addEventListener('change', function () { if (lastGraph) drawDiagram.apply(null, lastGraph); });
    $('zoom-in').addEventListener('click', function () { window.PcapxrayDiagram.zoom($('diagram'), 1.25); });
    $('zoom-out').addEventListener('click', function () { window.PcapxrayDiagram.zoom($('diagram'), 0.8); });
    $('zoom-fit').addEventListener('click', function () { window.PcapxrayDiagram.fit($('diagram')); });
    document.body.dataset.ready = 'explore';
  }
})();
