// The case page's model, off the page's thread: this worker reads the server's compact model of
// report.json (or report.json itself) and graph/classes.json once, and answers the page's questions —
// a selection (view, From, To, time range), a table page (sorted, filtered), a CSV, a host's details,
// a search, the grouped diagram — with only what the page draws. A big case (hundreds of thousands
// of flows, tens of thousands of hosts) is never handed to the page whole, so the page never stops
// responding while its numbers are worked out. Every count follows one rule, stated at `select`.
'use strict';
importScripts('/assets/common.js');
const { size, str, nFlows, endpoint, hasTag, usOf, isoOf, parseIp, parseFilter } = self.PcapxrayCommon;

// Rows sent for one page of a table.
const PAGE_ROWS = 50;
const SEVERE = { medium: 1, high: 1, critical: 1 };
const SEVERITY_ORDER = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
const UNCLASSIFIED = { name: 'unclassified', color: '#8a8a8a', description: 'not classified (no graph/classes.json)' };
// What a masked secret shows (the SDK's tables::MASK).
const MASK = '\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022';
const TOR_NOTE = 'Tor relays could not be recognised in this analysis: the server had no list of Tor relays (a consensus) for it, so connections to Tor relays are not marked; only the check of Tor-like server names ran. Add consensuses of the capture\'s dates on the Tor relays page, then analyze the case again.';

let model = null;
let sel = null;
let timeRange = null;

// ---------- reading ----------
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

// The server's compact model (flows and hosts as columns, texts by index, times as microsecond
// offsets from the model's `base`, the findings' attributes apart) turned back into report.json's shape; null when the
// server has none.
const FORMAT = 'pcapxray-explore-6';
async function compactReport(id) {
  let m;
  try {
    const r = await fetch('/api/cases/' + encodeURIComponent(id) + '/explore', { headers: { Accept: 'application/json' } });
    if (!r.ok) return null;
    m = await r.json();
  } catch (_) { return null; }
  if (!m || m.format !== FORMAT) return null;
  const S = m.strings;
  // Each flow's findings, in the order report.json lists them on the flow. A finding about its own
  // flow comes without its subject; one with none says `false`.
  const found = new Map();
  compactObjects(m.flow_findings, S, m.base).forEach(function (x, i) {
    const id = m.flow_findings_of[i];
    if (x.subject === undefined) x.subject = { flow: id };
    else if (x.subject === false) delete x.subject;
    const list = found.get(id);
    if (list) list.push(x); else found.set(id, [x]);
  });
  return { flows: m.flows === null ? undefined : compactFlows(m.flows, S, found, m.base),
    flowFindingsOf: m.flow_findings_of, findings: m.findings, hosts: compactObjects(m.hosts, S, m.base), capture: m.capture, notes: m.notes, files: m.files,
    credentials: m.credentials, compact: true };
}
// The flows back from their columns. `t0` counts from `base`, `t1` from `t0` (from `base` without
// one); `start` and `duration_seconds` are worked out from them when asked (flowStart,
// flowDuration) unless the model lists a flow's own.
function compactFlows(c, S, found, base) {
  const flows = new Array(c.id.length);
  for (let i = 0; i < flows.length; i++) {
    const id = c.id[i], mac = c.client_mac[i];
    const t0 = c.t0[i] === null ? null : base + c.t0[i];
    const t1 = c.t1[i] === null ? null : (t0 === null ? base : t0) + c.t1[i];
    flows[i] = {
      id: id, protocol: S[c.protocol[i]],
      client: { ip: S[c.client_ip[i]], port: c.client_port[i], mac: mac === null ? null : S[mac] },
      server: { ip: S[c.server_ip[i]], port: c.server_port[i] },
      conn_state: S[c.conn_state[i]], history: S[c.history[i]],
      to_server: { packets: c.to_server_packets[i], bytes: c.to_server_bytes[i] },
      to_client: { packets: c.to_client_packets[i], bytes: c.to_client_bytes[i] },
      tags: c.tag_sets[c.tags[i]], findings: found.get(id) || [], t0: t0, t1: t1,
    };
  }
  Object.keys(c.starts).forEach(function (i) { flows[i].start = c.starts[i]; });
  Object.keys(c.durations).forEach(function (i) { flows[i].duration_seconds = c.durations[i]; });
  return flows;
}
// A time as report.json writes it, from the model's microseconds or report.json's own text.
function timeText(t) {
  return typeof t === 'number' ? isoOf(t) : str(t);
}
// A flow's start as report.json writes it, and its duration in seconds.
function flowStart(f) {
  if (f.start !== undefined) return f.start;
  return f.t0 === null ? null : isoOf(f.t0);
}
function flowDuration(f) {
  if (f.duration_seconds !== undefined) return Number(f.duration_seconds || 0);
  return f.t0 === null ? 0 : (f.t1 - f.t0) / 1e6;
}
// Objects (hosts, findings) back from their columns; texts come by index, times (`times`, the hosts'
// first and last seen) in microseconds after `base`, and stay numbers (microseconds since the epoch)
// until shown (timeText): a big case has a hundred thousand of them.
function compactObjects(c, S, base) {
  const keys = Object.keys(c.columns), texts = new Set(c.texts), times = new Set(c.times || []);
  const columns = keys.map(function (k) { return c.columns[k]; });
  const kinds = keys.map(function (k) { return texts.has(k) ? 1 : times.has(k) ? 2 : 0; });
  const out = new Array(c.count);
  for (let i = 0; i < c.count; i++) {
    const h = {};
    for (let j = 0; j < keys.length; j++) {
      const v = columns[j][i];
      if (v === null) continue;
      const kind = kinds[j];
      h[keys[j]] = kind === 1 ? S[v] : kind === 2 ? base + v : v;
    }
    out[i] = h;
  }
  return out;
}

function buildModel(report, classes) {
  const none = { cls: null, views: new Set() };
  const flows = (report.flows || []).map(function (f) {
    const tags = (f.tags || []).slice();
    (f.findings || []).forEach(function (x) { if (tags.indexOf(x.tag) < 0) tags.push(x.tag); });
    const info = (classes && classes.byFlow.get(f.id)) || none;
    const bytes = (f.to_server ? f.to_server.bytes : 0) + (f.to_client ? f.to_client.bytes : 0);
    const t0 = f.t0 !== undefined ? f.t0 : usOf(f.start), t1 = f.t1 !== undefined ? f.t1 : usOf(f.end);
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
  let lanDecided = false;
  hosts.forEach(function (h) { if (!lanDecided && (h.notes || []).some(function (n) { return n.key === 'network'; })) lanDecided = true; });
  const flowById = new Map(flows.map(function (f) { return [f.id, f]; }));
  const findings = [];
  flows.forEach(function (f) { f.findings.forEach(function (x) { findings.push(x); }); });
  // Findings raised after their flow was written (in an analyzer's finish) come in the top-level
  // list; they belong to that flow all the same. Roll-ups (`rollup`) stand for findings already on
  // their flows and are skipped; a late finding that rests on several flows belongs to each of them.
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
  // The files and credentials tables, as report.json has them. The server's model holds masks in
  // place of secrets; report.json read whole (no model) holds them whole, so they are masked here
  // and cannot be revealed.
  const fileRows = report.files || [];
  const filesByFlow = new Map();
  fileRows.forEach(function (r) { filesByFlow.set(r.flow, (filesByFlow.get(r.flow) || 0) + 1); });
  const credentialRows = (report.credentials || []).map(function (r) {
    const a = r.attributes || {};
    if (a.secret && r.secret_index === undefined) r.attributes = Object.assign({}, a, { secret: MASK });
    return r;
  });
  return {
    fileRows: fileRows, filesByFlow: filesByFlow, credentialRows: credentialRows, hasFlows: report.flows !== undefined,
    flows: flows, hosts: hosts, lanDecided: lanDecided, start: start, end: end, flowById: flowById, findings: findings, notes: notes,
    tags: Array.from(tags).sort(), classes: classes && classes.classes.length ? classes.classes : [],
    views: classes ? classes.views : [], classified: !!classes, untracked: classes ? classes.untracked : 0,
    sha256: str(cap.sha256),
  };
}

async function load(m) {
  const base = '/cases/' + encodeURIComponent(m.id);
  const t0 = performance.now();
  // The case's report files say whether the graph output wrote classes.json.
  const listing = fetch('/api/cases/' + encodeURIComponent(m.id), { headers: { Accept: 'application/json' } })
    .then(function (r) { return r.json(); }).then(function (c) { return c.files || []; }, function () { return []; });
  // Without the graph output there is no classes.json: the page then offers `all` and tags. Read
  // beside the model, not after it.
  const reading = listing.then(function (files) {
    if (!files.some(function (f) { return f.path === 'graph/classes.json'; })) return null;
    return fetch(base + '/report/graph/classes.json').then(function (r) { return r.json(); })
      .then(readClasses, function () { return null; });
  });
  let report = await compactReport(m.id);
  if (!report) {
    const r = await fetch(base + '/report/report.json');
    if (!r.ok) throw new Error('report.json could not be read: ' + r.status);
    report = await r.json();
  }
  const classes = await reading.catch(function () { return null; });
  const t1 = performance.now();
  model = buildModel(report, classes);
  model.detailsPending = !!report.compact;
  model.flowFindingsOf = report.flowFindingsOf || [];
  const timings = { read: t1 - t0, build: performance.now() - t1 };
  const noConsensus = model.notes.some(function (n) { return n.key === 'tor.no-consensus'; }) ||
    model.findings.some(function (x) { return x.tag === 'tor.no-consensus'; });
  return {
    views: model.views, tags: model.tags, classes: model.classes, classified: model.classified, untracked: model.untracked,
    start: model.start, end: model.end, hosts: Array.from(model.hosts.keys()), sha256: model.sha256, noConsensus: noConsensus,
    timings: timings,
  };
}

// ---------- addresses ----------
const ipCache = new Map();
function ipOf(text) {
  let ip = ipCache.get(text);
  if (ip === undefined) { ip = parseIp(String(text)); ipCache.set(text, ip); }
  return ip;
}
function matches(nets, ipText) {
  if (!nets.length) return true;
  const ip = ipOf(ipText);
  if (!ip) return false;
  return nets.some(function (n) { return n.v === ip.v && (ip.n & n.mask) === n.net; });
}

// ---------- the time range ----------
function inRange(f) {
  return f.t0 !== null && f.t1 >= timeRange[0] && f.t0 <= timeRange[1];
}
// The two time boxes → [first, last] microseconds or null (an empty box is the capture's start or
// end); a wrong entry says why.
function readTimeRange(a, b) {
  a = a.trim(); b = b.trim();
  const t0 = a ? usOf(a) : model.start, t1 = b ? usOf(b) : model.end;
  let error = '';
  if (a && t0 === null) error = '“' + a + '” is not a time; write it as 2024-01-31T12:00:00Z (UTC).';
  else if (b && t1 === null) error = '“' + b + '” is not a time; write it as 2024-01-31T12:05:00Z (UTC).';
  else if ((a || b) && t0 > t1) error = 'The time range ends before it starts.';
  return { error: error, range: (a || b) && !error ? [t0, t1] : null };
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
// either end of them (in `all` without filters, every host of the report; in `all` with only a time
// range, also every host active in it, such as one seen only in ARP); the findings on those flows and
// about those hosts (a `tag:` view keeps only its tag, and also the findings of its tag about hosts
// that fall in From or To, whatever their flows: an ARP sweep has none); findings about the capture
// itself in `all` without filters, or in their own `tag:` view when only a time range is set. A
// finding not on a flow is in a time range when its own time (behaviour.first to behaviour.last) or
// else its host's first to last seen meets it.
function timeOf(v) {
  return typeof v === 'number' ? v : usOf(v);
}
function hostSpan(ip) {
  const h = model.hosts.get(ip);
  const a = h ? timeOf(h.first_seen) : null, b = h ? timeOf(h.last_seen) : null;
  return a === null ? null : [a, b === null ? a : b];
}
// The time span of a finding not on a flow, or null when nothing says when.
function findingSpan(x) {
  const a = x.attributes || {};
  const first = usOf(a['behaviour.first']), last = usOf(a['behaviour.last']);
  if (first !== null) return [first, last === null ? first : last];
  const s = x.subject || {};
  return s.host !== undefined ? hostSpan(s.host) : null;
}
function meets(span, range) {
  return !!span && span[1] >= range[0] && span[0] <= range[1];
}
function selection(state) {
  const view = state.view || 'all';
  const from = parseFilter(state.from), to = parseFilter(state.to);
  const fromNets = from.nets || [], toNets = to.nets || [];
  const time = readTimeRange(state.timeFrom, state.timeTo);
  timeRange = time.range;
  const test = viewTest(view);
  // The view's flows at any time (drawn on the timeline), then those active in the time range.
  const timeless = model.flows.filter(function (f) {
    return test(f) && matches(fromNets, f.client.ip) && matches(toNets, f.server.ip);
  });
  const flows = timeRange ? timeless.filter(inRange) : timeless;
  const filtered = fromNets.length > 0 || toNets.length > 0;
  const everything = view === 'all' && !filtered && !timeRange;
  const hosts = new Map();
  function host(ip) {
    let s = hosts.get(ip);
    if (!s) { s = { ip: ip, flows: 0, bytes: 0, flagged: false }; hosts.set(ip, s); }
    return s;
  }
  if (everything) model.hosts.forEach(function (_, ip) { host(ip); });
  else if (view === 'all' && !filtered) {
    model.hosts.forEach(function (_, ip) { if (meets(hostSpan(ip), timeRange)) host(ip); });
  }
  flows.forEach(function (f) {
    const a = host(f.client.ip), b = host(f.server.ip);
    a.flows++; a.bytes += f.bytes;
    // A flow from a host to itself counts once.
    if (b !== a) { b.flows++; b.bytes += f.bytes; }
  });
  const inFlows = new Set(flows.map(function (f) { return f.id; }));
  const tagOnly = view.startsWith('tag:') ? view.slice(4) : null;
  // Whether a finding not on a flow belongs to the view, leaving the time range aside: a host
  // finding of a `tag:` view whose host is in From or To (either, when set).
  function ownHostFinding(x) {
    const s = x.subject || {};
    if (!tagOnly || s.host === undefined) return false;
    return !filtered || (fromNets.length > 0 && matches(fromNets, s.host)) || (toNets.length > 0 && matches(toNets, s.host));
  }
  function captureFinding(x) {
    const s = x.subject || {};
    return s.host === undefined && s.flow === undefined && !!tagOnly && !filtered;
  }
  const findings = model.findings.filter(function (x) {
    if (tagOnly && !hasTag([x.tag], tagOnly)) return false;
    const s = x.subject || {};
    if (s.flow !== undefined) return inFlows.has(s.flow);
    if (s.host !== undefined && hosts.has(s.host)) return true;
    if (ownHostFinding(x)) {
      if (timeRange && !meets(findingSpan(x), timeRange)) return false;
      host(s.host);
      return true;
    }
    if (s.host !== undefined) return false;
    return everything || (captureFinding(x) && (!timeRange || meets(findingSpan(x), timeRange)));
  });
  findings.forEach(function (x) {
    const s = x.subject || {};
    if (s.host !== undefined) host(s.host).flagged = true;
    if (SEVERE[x.severity] && s.flow !== undefined) {
      const f = model.flowById.get(s.flow);
      if (f) { host(f.client.ip).flagged = true; host(f.server.ip).flagged = true; }
    }
  });
  // For the timeline's marks: the view's findings not on a flow, at any time.
  const timelessOthers = model.findings.filter(function (x) {
    if (tagOnly && !hasTag([x.tag], tagOnly)) return false;
    const s = x.subject || {};
    if (s.flow !== undefined) return false;
    if (s.host !== undefined) return ownHostFinding(x) || (view === 'all' && !filtered) || hosts.has(s.host);
    return (view === 'all' && !filtered) || captureFinding(x);
  });
  const onFlows = function (r) { return inFlows.has(r.flow); };
  return { view: view, flows: flows, timeless: timeless, timelessOthers: timelessOthers, hosts: hosts, findings: findings,
    files: model.fileRows.filter(onFlows), credentials: model.credentialRows.filter(onFlows),
    error: from.error || to.error || '', timeError: time.error };
}

function hostName(h) {
  return (h && h.names && h.names[0]) || '';
}
function note(h, key) {
  const found = (h && h.notes || []).filter(function (n) { return n.key === key; }).map(function (n) { return n.value; });
  return Array.from(new Set(found));
}
function isLan(h) {
  return !!(h && (h.class === 'private' || h.class === 'link-local' || h.class === 'loopback' || h.seen_in_arp));
}
// On the capture's own network: as the `devices` analyzer decided when it ran (its `network = local`
// facts; addresses that are never routed count as local whatever it said), else by address class.
function onLan(h) {
  if (!h) return false;
  if (model.lanDecided) return note(h, 'network').indexOf('local') >= 0 || ROUTED.indexOf(h.class) < 0;
  return isLan(h);
}
const ROUTED = ['public', 'private', 'documentation'];
// A host's MAC addresses as shown: its own on the local network; for a host beyond it, the MAC its
// packets came from is the next hop's (usually the gateway's), and is said to be.
function macText(h) {
  const macs = (h && h.macs || []).join(', ');
  if (!macs || onLan(h)) return macs;
  return 'via ' + macs + ' (next hop)';
}
function findingText(x) {
  if (x.tag === 'tor.no-consensus') return TOR_NOTE;
  return str(x.summary);
}
function classInfo(name) {
  return model.classes.find(function (c) { return c.name === name; }) || UNCLASSIFIED;
}

// ---------- the timeline ----------
const BINS = 120;
// The view's flows → bytes per bin (each flow's bytes spread evenly over the bins it spans), and the
// findings above info on them, at their flow's start: one mark per bin, the most severe, with a count.
function timeline(timeless, others) {
  if (model.start === null) return null;
  const start = model.start, end = Math.max(model.end, model.start + 1), span = end - start;
  const binOf = function (t) { return Math.min(BINS - 1, Math.max(0, Math.floor((t - start) / span * BINS))); };
  const bytes = new Array(BINS).fill(0);
  const RANK = { low: 1, medium: 2, high: 3, critical: 4 };
  const perBin = new Map();
  let marks = 0;
  function mark(t, x) {
    if (x.severity === 'info') return;
    marks++;
    const b = binOf(t);
    let g = perBin.get(b);
    if (!g) { g = { t: t, severity: str(x.severity), texts: [], count: 0 }; perBin.set(b, g); }
    g.count++;
    if ((RANK[x.severity] || 0) > (RANK[g.severity] || 0)) g.severity = str(x.severity);
    if (g.texts.length < 5) g.texts.push(str(x.severity) + ' ' + str(x.tag) + ' at ' + isoOf(t) + ': ' + findingText(x));
  }
  timeless.forEach(function (f) {
    if (f.t0 === null) return;
    const b0 = binOf(f.t0), b1 = Math.max(b0, binOf(f.t1));
    const share = f.bytes / (b1 - b0 + 1);
    for (let b = b0; b <= b1; b++) bytes[b] += share;
    f.findings.forEach(function (x) { mark(f.t0, x); });
  });
  // Findings about hosts and the capture, at their own time (a sweep's first attempt) or their
  // host's first packet.
  (others || []).forEach(function (x) {
    const when = findingSpan(x);
    if (when) mark(when[0], x);
  });
  return { start: model.start, end: model.end, bytes: bytes, marks: Array.from(perBin.values()), markCount: marks };
}

// ---------- the diagram ----------
// Few hosts are drawn one by one; more are grouped by network (IPv4 /8, /16, /24; IPv6 /32, /48,
// /64), at the finest level that gives at most TOP_MAX entries, else the coarsest. A group opens (on the page's
// request) into its hosts or its subnets, again at the finest level that gives at most OPEN_MAX,
// and closes again. Positions come from a treemap of the entries in address order, filling the
// canvas: deterministic, computed in one pass, whatever the number of hosts.
const TOP_MAX = 100;
const OPEN_MAX = 256;
const EDGE_MAX = 600;
const LEVELS = { 4: [8, 16, 24, 32], 6: [32, 48, 64, 128] };

function prefixKey(ip, bits) {
  const width = ip.v === 4 ? 32 : 128;
  if (bits >= width) return null;
  const net = (ip.n >> BigInt(width - bits)) << BigInt(width - bits);
  if (ip.v === 4) {
    const n = Number(net);
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.') + '/' + bits;
  }
  const groups = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((net >> BigInt(16 * i)) & 0xffffn).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::') + '/' + bits;
}

// An address's networks at the three grouping levels (the fourth is the host itself), worked out
// once per address.
const keyCache = new Map();
function keysOf(text) {
  let k = keyCache.get(text);
  if (k) return k;
  const quad = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/.exec(text);
  const ip = quad ? null : ipOf(text);
  if (quad) {
    const a = Number(quad[1]), b = Number(quad[2]), c = Number(quad[3]);
    k = [a + '.0.0.0/8', a + '.' + b + '.0.0/16', a + '.' + b + '.' + c + '.0/24', null];
  } else if (!ip) {
    k = [null, null, null, null];
  } else {
    k = LEVELS[6].map(function (bits) { return prefixKey(ip, bits); });
  }
  keyCache.set(text, k);
  return k;
}

// The hosts (stats of the selection) → entries at the finest level (from index `from` on) with at
// most `max` of them; a network holding one host is that host. Entries in address order.
function group(stats, from, max) {
  let best = null;
  for (let level = 3; level >= from; level--) {
    if (level === 3 && stats.length > max && from < 3) continue;
    const map = new Map();
    for (const s of stats) {
      const key = keysOf(s.ip)[level];
      const k = key === null ? 'host ' + s.ip : key;
      let g = map.get(k);
      if (!g) { g = { key: key, level: level, hosts: [] }; map.set(k, g); }
      g.hosts.push(s);
      // Past the limit this level will not do: a coarser one is tried.
      if (map.size > max && level > from) break;
    }
    best = map;
    if (map.size <= max) break;
  }
  const entries = Array.from(best.values()).map(function (g) {
    return g.key === null || g.hosts.length === 1 ? { host: g.hosts[0] } : { key: g.key, level: g.level, hosts: g.hosts };
  });
  const order = function (e) { const s = e.host || e.hosts[0]; return ipOf(s.ip); };
  entries.sort(function (p, q) {
    const a = order(p), b = order(q);
    if (!a || !b) return a ? -1 : b ? 1 : 0;
    return a.v - b.v || (a.n < b.n ? -1 : a.n > b.n ? 1 : 0);
  });
  return entries;
}

// Entries, with the open ones opened; each gets a weight (the nodes it draws).
function entriesOf(stats, from, max, open) {
  return group(stats, from, max).map(function (e) {
    if (e.host || !open.has(e.key)) { e.weight = 1; return e; }
    e.open = true;
    const busiest = e.hosts.length > OPEN_MAX && e.level === 3
      ? e.hosts.slice().sort(function (p, q) { return q.bytes - p.bytes; }).slice(0, OPEN_MAX) : e.hosts;
    e.hidden = e.hosts.length - busiest.length;
    e.children = entriesOf(busiest, Math.min(3, e.level + 1), OPEN_MAX, open);
    e.weight = 1 + e.children.reduce(function (a, c) { return a + c.weight; }, 0);
    return e;
  });
}

// Lays entries out in the rectangle: a grid when they weigh alike, else halves of equal weight
// along the longer side (an ordered treemap).
function place(entries, x, y, w, h, out, depth) {
  if (!entries.length) return;
  if (entries.every(function (e) { return e.weight === 1; })) {
    const cols = Math.max(1, Math.round(Math.sqrt(entries.length * w / h)));
    const rows = Math.ceil(entries.length / cols);
    const cw = w / cols, ch = h / rows;
    entries.forEach(function (e, i) { cell(e, x + (i % cols) * cw, y + Math.floor(i / cols) * ch, cw, ch, out, depth); });
    return;
  }
  if (entries.length === 1) { cell(entries[0], x, y, w, h, out, depth); return; }
  const total = entries.reduce(function (a, e) { return a + e.weight; }, 0);
  let acc = 0, cut = 0;
  while (cut < entries.length - 1 && acc + entries[cut].weight / 2 < total / 2) acc += entries[cut++].weight;
  cut = Math.max(1, cut);
  const share = entries.slice(0, cut).reduce(function (a, e) { return a + e.weight; }, 0) / total;
  if (w >= h) {
    place(entries.slice(0, cut), x, y, w * share, h, out, depth);
    place(entries.slice(cut), x + w * share, y, w * (1 - share), h, out, depth);
  } else {
    place(entries.slice(0, cut), x, y, w, h * share, out, depth);
    place(entries.slice(cut), x, y + h * share, w, h * (1 - share), out, depth);
  }
}

const HEADER = 18;
function cell(e, x, y, w, h, out, depth) {
  if (e.open) {
    const pad = 3;
    out.frames.push({ key: e.key, x: x + pad, y: y + pad, w: w - 2 * pad, h: h - 2 * pad, depth: depth,
      label: e.key + ' — ' + e.hosts.length + ' hosts' + (e.hidden ? ' (the ' + (e.hosts.length - e.hidden) + ' busiest drawn)' : '') });
    place(e.children, x + pad, y + pad + HEADER, w - 2 * pad, h - 2 * pad - HEADER, out, depth + 1);
    return;
  }
  const s = e.host;
  const cx = x + w / 2, cy = y + h / 2 - Math.min(h * 0.15, 8);
  const room = Math.min(w, h);
  if (s) {
    const h0 = model.hosts.get(s.ip);
    const name = hostName(h0);
    out.nodes.push({
      id: s.ip, x: cx, y: cy, r: Math.max(2.5, Math.min(14, room * 0.22, 4 + 1.4 * Math.log10(1 + s.bytes))),
      label: s.ip, sub: name.length > 32 ? name.slice(0, 31) + '…' : name, lan: isLan(h0), flagged: s.flagged, weight: s.bytes,
      title: s.ip + (name ? ' (' + name + ')' : '') + ': ' + nFlows(s.flows) + ', ' + size(s.bytes) + (s.flagged ? ', has findings' : ''),
    });
    out.rep(s.ip, s.ip);
    return;
  }
  let flows = 0, bytes = 0, flagged = false, lan = 0;
  e.hosts.forEach(function (s2) {
    flows += s2.flows; bytes += s2.bytes; flagged = flagged || s2.flagged;
    if (isLan(model.hosts.get(s2.ip))) lan++;
    out.rep(s2.ip, e.key);
  });
  out.nodes.push({
    id: e.key, group: true, x: cx, y: cy, r: Math.max(4, Math.min(18, room * 0.25, 6 + 2 * Math.log10(e.hosts.length))),
    label: e.key, sub: e.hosts.length.toLocaleString('en') + ' hosts', lan: lan * 2 > e.hosts.length, flagged: flagged, weight: bytes,
    title: 'Network ' + e.key + ': ' + e.hosts.length + ' hosts, ' + nFlows(flows) + ', ' + size(bytes) + (flagged ? ', has findings' : '') + '. Press to open it.',
  });
}

// The drawn entries' conversations: host to host in the class the graph output gave its flows (the
// first class in priority order when flows of a pair differ); to or from a group, summed.
function links(flows, rep) {
  const edges = new Map();
  flows.forEach(function (f) {
    const a = rep.get(f.client.ip), b = rep.get(f.server.ip);
    if (a === undefined || b === undefined || a === b) return;
    const key = a + ' ' + b;
    let e = edges.get(key);
    if (!e) { e = { a: a, b: b, flows: 0, bytes: 0, files: 0, classes: new Set(), group: a !== f.client.ip || b !== f.server.ip }; edges.set(key, e); }
    e.flows++; e.bytes += f.bytes; e.classes.add(f.cls || UNCLASSIFIED.name);
    e.files += model.filesByFlow.get(f.id) || 0;
  });
  const order = model.classes.map(function (c) { return c.name; }).concat([UNCLASSIFIED.name]);
  let list = Array.from(edges.values());
  const total = list.length;
  if (list.length > EDGE_MAX) list = list.sort(function (p, q) { return q.bytes - p.bytes; }).slice(0, EDGE_MAX);
  return { total: total, edges: list.map(function (e) {
    const cls = Array.from(e.classes).sort(function (p, q) { return order.indexOf(p) - order.indexOf(q); })[0];
    const server = model.hosts.get(e.b);
    return {
      a: e.a, b: e.b, cls: cls, color: classInfo(cls).color, width: Math.min(6, 1 + Math.log10(1 + e.bytes) / 1.5), files: e.files, group: e.group,
      title: cls.toUpperCase() + ': ' + e.a + ' → ' + e.b + (hostName(server) ? ' (' + hostName(server) + ')' : '') + ', ' + nFlows(e.flows) + ', ' + size(e.bytes) +
        (e.files ? ', ' + e.files + (e.files === 1 ? ' file' : ' files') : ''),
    };
  }) };
}

function diagram(open, width, height) {
  const stats = Array.from(sel.hosts.values());
  const repMap = new Map();
  const out = { nodes: [], frames: [], rep: function (ip, key) { repMap.set(ip, key); } };
  const entries = entriesOf(stats, 0, TOP_MAX, new Set(open || []));
  place(entries, 0, 0, width, height, out, 0);
  const l = links(sel.flows, repMap);
  return { width: width, height: height, nodes: out.nodes, frames: out.frames, edges: l.edges, edgeTotal: l.total,
    grouped: out.nodes.some(function (n) { return n.group; }) || out.frames.length > 0, hosts: stats.length };
}

// ---------- tables ----------
// Each table's columns: value(row) for sorting, filtering and CSV (csv(row) when the CSV says
// something else), and data(row): what the page needs to draw the row's links and buttons.
function attr(x, key) { return str((x.attributes || {})[key]); }
function more(x, key) { const n = attr(x, key); return n && n !== '0' ? ' (and ' + n + ' more)' : ''; }
function rowAttr(r, key) { return str((r.attributes || {})[key]); }
function packetsOf(f) { return (f.to_server ? f.to_server.packets : 0) + (f.to_client ? f.to_client.packets : 0); }
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
function subjectData(x) {
  const f = flowOf(x);
  if (f) return { c: f.client.ip, s: f.server.ip, p: f.server.port, proto: f.protocol };
  if (x.subject && x.subject.flow !== undefined) return { flow: x.subject.flow };
  if (x.subject && x.subject.host !== undefined) return { host: x.subject.host };
  return {};
}
// A finding's evidence: its attributes as the analyzer wrote them, and the flows it rests on.
function evidenceText(x) {
  const a = x.attributes || {};
  const parts = Object.keys(a).sort().map(function (k) { return k + '=' + a[k]; });
  const flows = (x.flows || []).length;
  if (flows > 1) parts.push(flows + ' flows');
  return parts.join('; ');
}
const FILE_COLUMNS = ['protocol', 'name', 'detected_type', 'declared_type', 'size', 'missing', 'sha256'];
function fileDetails(r) {
  const a = r.attributes || {}, rest = {};
  Object.keys(a).forEach(function (k) { if (FILE_COLUMNS.indexOf(k) < 0) rest[k] = a[k]; });
  return { attributes: rest };
}
function keptName(r) {
  const path = rowAttr(r, 'extracted');
  return path.startsWith('files/') && path.indexOf('/', 6) < 0 ? path.slice(6) : '';
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
function rowPlace() {
  return [
    { label: 'Flow', value: function (r) { return r.flow; } },
    { label: 'Time (UTC)', value: function (r) { return str(r.time); } },
    { label: 'Client', value: function (r) { return str(r.client); } },
    { label: 'Server', value: function (r) { return str(r.server); } },
  ];
}
function webFlow(x) { const f = flowOf(x); return f ? { c: f.client.ip, s: f.server.ip, p: f.server.port } : {}; }

const TABLES = {
  hosts: { columns: [
    { label: 'Address', value: function (s) { return s.ip; } },
    { label: 'Names', value: function (s) { return ((model.hosts.get(s.ip) || {}).names || []).join(', '); } },
    { label: 'MAC / vendor', value: function (s) {
      const h = model.hosts.get(s.ip) || {};
      const vendor = note(h, 'vendor').join(', ');
      return macText(h) + (vendor ? ' (' + vendor + ')' : '');
    } },
    { label: 'Flows', value: function (s) { return s.flows; } },
    { label: 'Bytes', value: function (s) { return s.bytes; } },
  ] },
  findings: { columns: [
    { label: 'Severity', value: function (x) { return 5 - (SEVERITY_ORDER[x.severity] === undefined ? 5 : SEVERITY_ORDER[x.severity]); },
      csv: function (x) { return str(x.severity); } },
    { label: 'Tag', value: function (x) { return str(x.tag); } },
    { label: 'Subject', value: subjectText },
    { label: 'Summary', value: findingText },
    { label: 'Stage', value: function (x) { return str(x.stage); } },
    { label: 'Evidence', value: evidenceText },
  ], data: function (x) { return { severity: str(x.severity), subject: subjectData(x) }; } },
  flows: { columns: [
    { label: 'ID', value: function (f) { return f.id; } },
    { label: 'Start (UTC)', value: function (f) { return str(flowStart(f)); } },
    { label: 'Protocol', value: function (f) { return str(f.protocol); } },
    { label: 'Client', value: function (f) { return endpoint(f.client.ip, f.client.port); } },
    { label: 'Server', value: function (f) { return endpoint(f.server.ip, f.server.port); } },
    { label: 'State', value: function (f) { return str(f.conn_state); } },
    { label: 'History', value: function (f) { return str(f.history); } },
    { label: 'Packets', value: packetsOf },
    { label: 'Bytes', value: function (f) { return f.bytes; } },
    { label: 'Duration (s)', value: function (f) { return flowDuration(f); } },
    { label: 'Tags', value: function (f) { return f.tags.join(', '); } },
    { label: 'Packets file', csv: false, value: function () { return ''; } },
  ], data: function (f) { return { id: f.id, c: f.client.ip, cp: f.client.port, s: f.server.ip, sp: f.server.port }; } },
  dns: { columns: [
    { label: 'Kind', value: function (r) { return str(r.x.tag); } },
    { label: 'Client', value: function (r) { return r.f.client.ip; } },
    { label: 'Server', value: function (r) { return endpoint(r.f.server.ip, r.f.server.port); } },
    { label: 'Queries', value: function (r) { return attr(r.x, 'dns.queries') + more(r.x, 'dns.queries-omitted'); } },
    { label: 'Types', value: function (r) { return attr(r.x, 'dns.qtypes'); } },
    { label: 'Answers', value: function (r) { return attr(r.x, 'dns.answers') + more(r.x, 'dns.answers-omitted'); } },
    { label: 'Response codes', value: function (r) { return attr(r.x, 'dns.rcode'); } },
    { label: 'Messages', value: function (r) { return attr(r.x, 'dns.messages'); } },
  ], data: function (r) { return { c: r.f.client.ip, s: r.f.server.ip, p: r.f.server.port }; } },
  files: { columns: rowPlace().concat([
    { label: 'Protocol', value: function (r) { return rowAttr(r, 'protocol'); } },
    { label: 'Name', value: function (r) { return rowAttr(r, 'name'); } },
    { label: 'Type', value: function (r) { return rowAttr(r, 'detected_type') || rowAttr(r, 'declared_type'); } },
    { label: 'Size', value: function (r) { return Number(rowAttr(r, 'size')) || 0; } },
    { label: 'Missing', value: function (r) { return Number(rowAttr(r, 'missing')) || 0; } },
    { label: 'SHA-256', value: function (r) { return rowAttr(r, 'sha256'); } },
    { label: 'Details', value: function (r) { return evidenceText(fileDetails(r)); } },
    { label: 'File', csv: false, value: function () { return ''; } },
  ]), data: function (r) {
    return { kept: keptName(r), notExtracted: !!rowAttr(r, 'not_extracted'), sha256: rowAttr(r, 'sha256'), name: rowAttr(r, 'name') };
  } },
  credentials: { columns: rowPlace().concat([
    { label: 'Protocol', value: function (r) { return rowAttr(r, 'protocol'); } },
    { label: 'User', value: function (r) { return rowAttr(r, 'user'); } },
    { label: 'Domain', value: function (r) { return rowAttr(r, 'domain'); } },
    { label: 'Workstation', value: function (r) { return rowAttr(r, 'workstation'); } },
    // Sorted, filtered and written to CSV as the mask: the page never holds a secret until asked.
    { label: 'Secret', value: function (r) { return rowAttr(r, 'secret') ? MASK : ''; } },
    { label: 'Format', value: function (r) { return rowAttr(r, 'secret_format'); } },
    { label: 'Service', value: function (r) { return rowAttr(r, 'service'); } },
    { label: 'Outcome', value: function (r) { return rowAttr(r, 'outcome'); } },
    { label: 'Tag', value: function (r) { return str(r.tag); } },
  ]), data: function (r) { return { secretIndex: r.secret_index, secret: rowAttr(r, 'secret'), user: rowAttr(r, 'user') }; } },
  web: { columns: [
    { label: 'Client', value: function (x) { const f = flowOf(x); return f ? f.client.ip : ''; } },
    { label: 'Server', value: function (x) { const f = flowOf(x); return f ? endpoint(f.server.ip, f.server.port) : ''; } },
    { label: 'Name', value: function (x) { const a = x.attributes || {}; return str(a['http.host'] || a['tls.sni'] || a['server.name']); } },
    { label: 'Request', value: function (x) {
      const a = x.attributes || {};
      if (a['http.method']) return a['http.method'] + ' ' + str(a['http.uri']);
      if (a['quic.version']) return 'QUIC ' + str(a['quic.version']);
      return str(a['tls.versions'] || (a['tls.mid-stream'] ? 'TLS (mid-stream)' : ''));
    } },
    { label: 'Answer', value: function (x) {
      const a = x.attributes || {};
      return a['http.status'] ? a['http.status'] + (a['http.server'] ? ' (' + a['http.server'] + ')' : '') : str(a['tls.version'] || a['tls.cipher']);
    } },
    { label: 'User agent', value: function (x) { const a = x.attributes || {}; return str(a['http.user-agent'] || a['quic.user-agent']); } },
  ], data: webFlow },
};
// Each table's sort and filter, as the page last set them.
const tableState = {};
Object.keys(TABLES).forEach(function (name) { tableState[name] = { rows: [], filter: '', sortBy: -1, descending: false, first: 0, shown: [] }; });

// A big case has hundreds of thousands of rows: a cell's value is computed when first needed (to
// send one of the rows of a page, to sort by its column, to filter or to write CSV), then kept.
function value(name, r, i) {
  let v = r.values[i];
  if (v === undefined) {
    v = TABLES[name].columns[i].value(r.row);
    r.values[i] = v = v === undefined || v === null ? '' : v;
  }
  return v;
}
// What the filter box searches: each cell as shown (a severity as its word, not its sort number).
function rowText(name, r) {
  if (r.text === null) {
    r.text = TABLES[name].columns.map(function (c, i) { return typeof c.csv === 'function' ? c.csv(r.row) : value(name, r, i); })
      .join('\u0001').toLowerCase();
  }
  return r.text;
}
const COLLATE = new Intl.Collator('en', { numeric: true }).compare;
function tablePage(name) {
  const t = tableState[name], def = TABLES[name];
  const q = t.filter.trim().toLowerCase();
  let out = q ? t.rows.filter(function (r) { return rowText(name, r).indexOf(q) >= 0; }) : t.rows.slice();
  if (t.sortBy >= 0) {
    const sign = t.descending ? -1 : 1;
    out.sort(function (p, q2) {
      const a = value(name, p, t.sortBy), b = value(name, q2, t.sortBy);
      const c = typeof a === 'number' && typeof b === 'number' ? a - b : COLLATE(String(a), String(b));
      return sign * c;
    });
  }
  t.shown = out;
  const first = Math.max(0, Math.min(t.first, Math.floor(Math.max(out.length - 1, 0) / PAGE_ROWS) * PAGE_ROWS));
  return {
    name: name, total: t.rows.length, matched: out.length, sortBy: t.sortBy, descending: t.descending, first: first, pageRows: PAGE_ROWS,
    rows: out.slice(first, first + PAGE_ROWS).map(function (r) {
      return { v: def.columns.map(function (_, i) { return value(name, r, i); }), d: def.data ? def.data(r.row) : null };
    }),
  };
}
function setRows(name, list) {
  tableState[name].rows = list.map(function (row) { return { row: row, values: [], text: null }; });
  tableState[name].first = 0;
}
// One CSV field (RFC 4180). Values come from a capture: one that a spreadsheet would run as a
// formula (= + - @ first) gets a leading apostrophe.
function csvField(v) {
  let t = v === undefined || v === null ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(t) && !/^-?\d+(\.\d+)?$/.test(t)) t = "'" + t;
  return /[",\r\n]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
}
// The rows as filtered and sorted, every one of them (not only those drawn), as CSV.
function csv(name) {
  const columns = TABLES[name].columns;
  const keep = columns.filter(function (c) { return c.csv !== false; });
  const lines = [keep.map(function (c) { return csvField(c.label); }).join(',')];
  tableState[name].shown.forEach(function (r) {
    lines.push(keep.map(function (c) { return csvField(c.csv ? c.csv(r.row) : value(name, r, columns.indexOf(c))); }).join(','));
  });
  return lines.join('\r\n') + '\r\n';
}

// ---------- host details ----------
function hostDetails(ip) {
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
  const rows = [];
  function row(label, v) {
    if (v === '' || v === null || v === undefined) return;
    rows.push([label, v]);
  }
  row('Address', ip);
  row('Class', str(h.class));
  row('MAC', macText(h));
  row('Vendor', note(h, 'vendor').join(', '));
  row('Names', (h.names || []).join(', '));
  row('OS hint', note(h, 'os').join(', '));
  row('Device', note(h, 'device').join(', '));
  row('Seen in ARP', h.seen_in_arp ? 'yes' : '');
  row('First seen', timeText(h.first_seen));
  row('Last seen', timeText(h.last_seen));
  if (h.packets_sent !== undefined) {
    row('Sent', Number(h.packets_sent).toLocaleString('en') + ' packets, ' + size(h.bytes_sent));
    row('Received', Number(h.packets_received).toLocaleString('en') + ' packets, ' + size(h.bytes_received));
  }
  const facts = (h.notes || []).filter(function (n) { return ['name', 'vendor', 'os', 'device'].indexOf(n.key) < 0; })
    .map(function (n) { return n.key + ': ' + n.value + ' (' + n.stage + ')'; });
  const peerList = Array.from(peers.entries()).sort(function (p, q) { return q[1] - p[1]; });
  return {
    ip: ip, rows: rows, facts: facts, peerCount: peerList.length, flowCount: flows.length, findingCount: findings.length,
    peers: peerList.slice(0, 100).map(function (p) { return { ip: p[0], name: hostName(model.hosts.get(p[0])), flows: p[1] }; }),
    flows: flows.slice(0, 100).map(function (f) {
      return f.protocol + ' ' + endpoint(f.client.ip, f.client.port) + ' → ' + endpoint(f.server.ip, f.server.port) + ', ' + size(f.bytes) + (f.tags.length ? ' [' + f.tags.join(', ') + ']' : '');
    }),
    findings: findings.slice(0, 100).map(function (x) { return { severity: str(x.severity), text: str(x.tag) + ': ' + findingText(x) }; }),
  };
}

// ---------- search ----------
// An address, a MAC, a name or a finding tag → the hosts it names, in address order.
// A MAC address in any usual spelling (aa:bb:…, aa-bb-…, aabb.ccdd.eeff, aabbccddeeff) → its 12
// hex digits, or null.
function macDigits(text) {
  const d = String(text).toLowerCase().replace(/[:.\-]/g, '');
  return /^[0-9a-f]{12}$/.test(d) ? d : null;
}
// An address (any IPv6 spelling), an address prefix (141.142.220, or a CIDR network), a MAC (any
// spelling; hosts whose own MAC it is come first, and hosts beyond the local network only when no
// local one has it), a name or a finding tag → the hosts.
function search(text) {
  const q = text.trim().toLowerCase();
  const wanted = ipOf(q);
  const mac = macDigits(q);
  const prefix = /^\d{1,3}(\.\d{1,3}){0,2}\.?$/.test(q) ? q.replace(/\.?$/, '.') : null;
  const nets = q.indexOf('/') > 0 ? (parseFilter(q).nets || []) : [];
  // Hosts a finding with that tag is about, or on whose flows it is.
  const tagged = new Set();
  model.findings.forEach(function (x) {
    if (!hasTag([String(x.tag).toLowerCase()], q)) return;
    const f = flowOf(x);
    if (f) { tagged.add(f.client.ip); tagged.add(f.server.ip); }
    else if (x.subject && x.subject.host !== undefined) tagged.add(x.subject.host);
  });
  const hits = [], viaMac = [];
  model.hosts.forEach(function (h, ip) {
    if (mac && (h.macs || []).some(function (m) { return macDigits(m) === mac; })) {
      (onLan(h) ? hits : viaMac).push(ip);
      return;
    }
    const ipHit = wanted ? (function () { const a = ipOf(ip); return !!a && a.v === wanted.v && a.n === wanted.n; })()
      : ip.toLowerCase() === q;
    const names = (h.names || []).map(function (n) { return n.toLowerCase(); });
    if (ipHit || (prefix && ip.startsWith(prefix)) || (nets.length && matches(nets, ip)) || tagged.has(ip) ||
      (q && names.some(function (n) { return n.indexOf(q) >= 0; }))) hits.push(ip);
  });
  const all = hits.length ? hits : viaMac;
  const byAddress = function (a, b) { return a.localeCompare(b, 'en', { numeric: true }); };
  all.sort(byAddress);
  return { count: all.length, hits: all.slice(0, 50) };
}

// ---------- the page's questions ----------
function select(m) {
  const t0 = performance.now();
  sel = selection(m.state);
  const t1 = performance.now();
  setRows('hosts', Array.from(sel.hosts.values()).sort(function (p, q) { return q.bytes - p.bytes || q.flows - p.flows; }));
  setRows('findings', sel.findings.slice().sort(function (p, q) {
    const rank = function (x) { const r = SEVERITY_ORDER[x.severity]; return r === undefined ? 5 : r; };
    return rank(p) - rank(q);
  }));
  setRows('web', sel.findings.filter(function (x) { return /^web\.(http|https|tls|quic)$/.test(x.tag); }));
  setRows('flows', sel.flows.slice().sort(function (p, q) { return (p.t0 || 0) - (q.t0 || 0) || p.id - q.id; }));
  setRows('dns', dnsRows(sel.flows));
  setRows('files', sel.files);
  setRows('credentials', sel.credentials);
  const tables = {};
  Object.keys(TABLES).forEach(function (name) { tables[name] = tablePage(name); });
  const t2 = performance.now();
  const picture = diagram(m.open, m.width, m.height);
  const t3 = performance.now();
  const line = timeline(sel.timeless, sel.timelessOthers);
  // What each part cost in the worker (milliseconds), for the benchmark.
  const timings = { selection: t1 - t0, tables: t2 - t1, diagram: t3 - t2, timeline: performance.now() - t3 };
  return {
    view: sel.view, error: sel.error, timeError: sel.timeError, timeRange: timeRange,
    flows: sel.flows.length, allFlows: model.flows.length, timeless: sel.timeless.length, hosts: sel.hosts.size,
    findings: sel.findings.length, hasFlows: model.hasFlows,
    timeline: line, diagram: picture, tables: tables, timings: timings,
  };
}

// The attributes of the flows' findings, read after the first picture: each flow's findings from
// the model get theirs back, in order. True when they came (the page then asks for its picture
// again: the tables' cells are worked out anew).
async function details(m) {
  if (!model.detailsPending) return false;
  model.detailsPending = false;
  const r = await fetch('/api/cases/' + encodeURIComponent(m.id) + '/explore/details', { headers: { Accept: 'application/json' } });
  if (!r.ok) throw new Error('The findings\' details could not be read: ' + r.status);
  const d = await r.json();
  if (d.format !== FORMAT) throw new Error('The findings\' details are of another format: ' + d.format);
  // In the order of the model's flow findings, which each flow's list begins with.
  const S = d.strings;
  let at = 0, seen = 0;
  model.flowFindingsOf.forEach(function (id, i) {
    seen = i > 0 && model.flowFindingsOf[i - 1] === id ? seen + 1 : 0;
    const pairs = d.flow_attributes[at++];
    const f = model.flowById.get(id);
    if (!f || !f.findings[seen] || pairs === null) return;
    const a = {};
    for (let k = 0; k < pairs.length; k += 2) a[S[pairs[k]]] = typeof pairs[k + 1] === 'number' ? S[pairs[k + 1]] : pairs[k + 1][0];
    f.findings[seen].attributes = a;
  });
  return true;
}

const HANDLERS = {
  load: load,
  details: details,
  select: select,
  diagram: function (m) { return diagram(m.open, m.width, m.height); },
  table: function (m) {
    const t = tableState[m.name];
    t.filter = m.filter; t.sortBy = m.sortBy; t.descending = m.descending; t.first = m.first || 0;
    return tablePage(m.name);
  },
  csv: function (m) { return csv(m.name); },
  host: function (m) { return hostDetails(m.ip); },
  search: function (m) { return search(m.q); },
  viewFlows: function () { return sel.flows.map(function (f) { return f.id; }).join(','); },
};

self.onmessage = async function (e) {
  const m = e.data;
  try {
    self.postMessage({ seq: m.seq, ok: true, out: await HANDLERS[m.op](m) });
  } catch (err) {
    self.postMessage({ seq: m.seq, ok: false, error: String(err && err.message || err) });
  }
};
