// What the case page and its explore worker both need: number and time formats, and IP address and
// network parsing, and text made visible. Loaded by the pages (a script tag) and by the worker (importScripts), so they
// format and match exactly alike. Pure functions only: no page, no model.
'use strict';
(function (scope) {
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
  // An address and port, IPv6 in brackets: `[2001:db8::1]:443`.
  function endpoint(ip, port) {
    return (String(ip).indexOf(':') >= 0 ? '[' + ip + ']' : ip) + ':' + port;
  }
  function hasTag(tags, prefix) {
    return tags.some(function (t) { return t === prefix || t.startsWith(prefix + '.'); });
  }

  // Report times are ISO 8601 UTC with up to nine decimals; the page counts in microseconds since the
  // epoch (exact in a double until the year 2255), as the reports write them. A time typed by a person
  // may also carry an offset (+02:00); a date that does not exist (2011-02-30) is no time.
  const ISO = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,9}))?\s*(Z|UTC|[+-]\d\d:?\d\d)?$/i;
  function usOf(text) {
    const m = ISO.exec(String(text === undefined || text === null ? '' : text).trim());
    if (!m) return null;
    const clock = m[2].length === 5 ? m[2] + ':00' : m[2];
    const ms = Date.parse(m[1] + 'T' + clock + 'Z');
    if (isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== m[1] + 'T' + clock) return null;
    let offset = 0;
    const zone = m[4] || '';
    if (/^[+-]/.test(zone)) {
      const digits = zone.replace(':', '');
      offset = (digits[0] === '-' ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5))) * 60000;
    }
    return (ms - offset) * 1000 + Number((m[3] || '').padEnd(6, '0').slice(0, 6));
  }
  function isoOf(us) {
    const ms = Math.floor(us / 1000);
    return new Date(ms).toISOString().slice(0, 19) + '.' + String(us - Math.floor(us / 1e6) * 1e6).padStart(6, '0') + 'Z';
  }

  // An IPv4 or IPv6 address → {v: 4 or 6, n: BigInt}, or null.
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
  // Text as shown to a person: characters that change how the text around them reads without being
  // seen (bidirectional overrides, zero-width characters) become escapes, \u{202e}, as in the reports:
  // an uploaded invoice\u{202e}gnp.pcap must not read as invoicepcap.png.
  const INVISIBLE = /[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]/g;
  function visible(text) {
    return String(text).replace(INVISIBLE, function (c) { return '\\u{' + c.charCodeAt(0).toString(16) + '}'; });
  }

  // "a, b/24" → {nets}, or {error} naming the item that is not an address or network.
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

  scope.PcapxrayCommon = {
    size: size, count: count, str: str, nFlows: nFlows, endpoint: endpoint, hasTag: hasTag,
    usOf: usOf, isoOf: isoOf, visible: visible, parseIp: parseIp, parseNet: parseNet, parseFilter: parseFilter,
  };
})(self);
