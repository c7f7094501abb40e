// web/parse.js - the daemon's report texts (the kernel's formats, as
// armmapd prints them) turned into plain objects for the views.
// Addresses are kept as Numbers: every one fits in 32 bits.

export const hex = (n, w = 8) => '0x' + (n >>> 0).toString(16).padStart(w, '0');
export const num = (s) => (typeof s === 'number' ? s : parseInt(s, 16));

// "3056M", "896K", "4K" -> bytes
export function size(s) {
  const m = /^(\d+)([KMG]?)$/.exec(s.trim());
  if (!m) return NaN;
  return Number(m[1]) * { '': 1, K: 1024, M: 1 << 20, G: 1 << 30 }[m[2]];
}

// 4096 -> "4 KiB", 0x30000000 -> "768 MiB"
export function human(bytes) {
  const units = ['bytes', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (bytes >= 1024 && bytes % 1024 === 0 && i < 3) { bytes /= 1024; i++; }
  return `${bytes} ${units[i]}`;
}

// regions report: [{name, start, end, size, by}], and the kernel line.
export function regions(text) {
  const out = [];
  let kernel = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) { kernel = line.slice(1).trim(); continue; }
    const m = /^(\S+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!m || m[1] === 'name') continue;
    const start = num(m[2]);
    let end = num(m[3]);
    if (end === 0) end = 0x100000000;     // a region ending at 4 GiB
    out.push({ name: m[1], start, end, size: end - start, by: m[5] });
  }
  return { kernel, regions: out };
}

// pkmap report: header counts and the used slots.
export function pkmap(text) {
  const lines = text.split('\n');
  const h = /pkmap: (0x[0-9a-f]+)-(0x[0-9a-f]+), (\d+) slots, last_pkmap_nr (\d+), (\d+) in use, (\d+) unused \(awaiting flush\), (\d+) flushes/.exec(lines[0] || '');
  const p = {
    base: h ? num(h[1]) : 0, nslots: h ? Number(h[3]) : 512,
    last: h ? Number(h[4]) : 0, inUse: h ? Number(h[5]) : 0,
    unused: h ? Number(h[6]) : 0, flushes: h ? Number(h[7]) : 0,
    slots: new Map(), header: lines[0] || '',
  };
  for (const line of lines.slice(1)) {
    const m = /^\s*(\d+)\s+(0x[0-9a-f]+)\s+(\d+)\s+(\d+)\s+(0x[0-9a-f]+)/.exec(line);
    if (m) {
      p.slots.set(Number(m[1]), { addr: num(m[2]), count: Number(m[3]),
                                  users: Number(m[4]), pfn: num(m[5]) });
    }
  }
  return p;
}

// fixmap report: {style, header, cpus: [{cpu, depth, slots: [...]}]}
export function fixmap(text) {
  const lines = text.split('\n');
  const h = /kmap_atomic: (\S+) style/.exec(lines[0] || '');
  const f = { style: h ? h[1] : '', header: lines[0] || '', cpus: [] };
  let cur = null;
  for (const line of lines.slice(1)) {
    let m = /^cpu (\d+): (?:depth (\d+)|(\d+) live)/.exec(line);
    if (m) {
      cur = { cpu: Number(m[1]), depth: Number(m[2] ?? m[3]), slots: [] };
      f.cpus.push(cur);
      continue;
    }
    m = /^\s*(\d+)\s+(\d+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S+)(?:\s+(\S+))?/.exec(line);
    if (m && cur) {
      cur.slots.push({ slot: Number(m[1]), index: Number(m[2]), addr: num(m[3]),
                       pfn: num(m[4]), state: m[5], name: m[6] || '' });
    }
  }
  return f;
}

// iomem report: the top-level "System RAM" ranges, [{start, end}].
export function banks(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) : System RAM/.exec(line);
    if (m) out.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16) + 1 });
  }
  return out;
}

// One "key=value" of a machine's config text.
export function configValue(config, key) {
  const m = new RegExp('^' + key + '=(.*)$', 'm').exec(config || '');
  return m ? m[1] : '';
}
