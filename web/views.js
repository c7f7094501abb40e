// web/views.js - the drawings: the 4 GiB address space beside physical
// memory, the pkmap window, the kmap_atomic stacks, the page-table walk.
// Each function fills one container from plain objects (parse.js) and
// returns nothing; text alternatives sit beside every drawing.

import { hex, human } from './parse.js';

const SVG = 'http://www.w3.org/2000/svg';
const FOUR_G = 0x100000000;

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

function svgEl(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function rangeText(name, start, end) {
  return `${name}: ${hex(start)}-${hex(end === FOUR_G ? 0 : end)} (${human(end - start)})`;
}

// A focusable, hoverable rectangle: its text goes to @detail on hover or
// focus, and is its accessible name.
function box(g, x, y0, y1, w, cls, text, detail) {
  const r = svgEl('rect', { x, y: y1, width: w, height: Math.max(y0 - y1, 1.5),
                            class: cls, tabindex: '0', role: 'img', 'aria-label': text });
  const t = svgEl('title');
  t.textContent = text;
  r.appendChild(t);
  const show = () => { detail.textContent = text; };
  r.addEventListener('mouseenter', show);
  r.addEventListener('focus', show);
  g.appendChild(r);
  return r;
}

// The virtual space (left) and physical memory (right), both 4 GiB to
// scale, high addresses at the top; lowmem joined to its physical range.
// @m: {regions, banks, zones: [{name, start, end}]}.
export function drawSpace(box_, m, detail) {
  const H = 640, vx = 70, px = 330, w = 110;
  const y = (a) => H - (a / FOUR_G) * H + 10;
  const s = svgEl('svg', { viewBox: `0 0 560 ${H + 20}`, class: 'space',
                           role: 'group', 'aria-label': 'virtual and physical address space, to scale' });
  const g = svgEl('g');
  s.appendChild(g);
  const lab = (x, yy, txt, cls = 'lbl') => {
    const t = svgEl('text', { x, y: yy, class: cls });
    t.textContent = txt;
    g.appendChild(t);
  };
  lab(vx, 8, 'virtual (4 GiB)', 'head');
  lab(px, 8, 'physical (4 GiB)', 'head');
  g.appendChild(svgEl('rect', { x: vx, y: y(FOUR_G), width: w, height: H, class: 'frame' }));
  g.appendChild(svgEl('rect', { x: px, y: y(FOUR_G), width: w, height: H, class: 'frame' }));
  const low = m.regions.find((r) => r.name === 'lowmem');
  if (low && m.banks.length) {
    const p0 = m.banks[0].start, p1 = p0 + low.size;
    g.appendChild(svgEl('polygon', {
      class: 'join',
      points: `${vx + w},${y(low.end)} ${px},${y(p1)} ${px},${y(p0)} ${vx + w},${y(low.start)}`,
    }));
  }
  for (const r of m.regions) {
    const text = rangeText(r.name, r.start, r.end) + ` - ${r.by}`;
    box(g, vx, y(r.start), y(r.end), w, 'reg reg-' + r.name, text, detail);
    const h = y(r.start) - y(r.end);
    const mid = (y(r.start) + y(r.end)) / 2;
    if (h >= 14) lab(vx + 6, mid + 4, r.name, 'in');
  }
  // Small regions at the top are labelled in a column to the left.
  const small = m.regions.filter((r) => y(r.start) - y(r.end) < 14);
  small.forEach((r, i) => {
    const yy = y(0xc0000000) - 6 - i * 13;
    lab(4, yy, r.name, 'side');
    g.appendChild(svgEl('line', { x1: 50, y1: yy - 4, x2: vx, y2: (y(r.start) + y(r.end)) / 2, class: 'tick' }));
  });
  for (const b of m.banks) {
    box(g, px, y(b.start), y(b.end), w * 0.6, 'bank', rangeText('RAM bank', b.start, b.end), detail);
  }
  for (const z of m.zones) {
    box(g, px + w * 0.62, y(z.start), y(z.end), w * 0.38, 'zone zone-' + z.name.toLowerCase(),
        rangeText('zone ' + z.name, z.start, z.end), detail);
    lab(px + w + 6, (y(z.start) + y(z.end)) / 2 + 4, z.name, 'side');
  }
  if (low && m.banks.length) {
    lab(vx + w + 8, (y(low.start) + y(low.end)) / 2, `lowmem: PA = ${hex(m.banks[0].start)}`, 'side');
    lab(vx + w + 8, (y(low.start) + y(low.end)) / 2 + 13, `+ (VA - ${hex(low.start)})`, 'side');
  }
  for (const a of [0, 0x40000000, 0x80000000, 0xc0000000]) {
    lab(vx + w + 4, y(a) + 4, hex(a), 'addr');
  }
  box_.replaceChildren(s);
}

// A table of the regions: the drawing's text alternative.
export function regionTable(tbody, regions) {
  tbody.replaceChildren(...regions.map((r) => {
    const tr = el('tr');
    for (const v of [r.name, hex(r.start), hex(r.end === FOUR_G ? 0 : r.end), human(r.size), r.by]) {
      tr.appendChild(el('td', {}, v));
    }
    return tr;
  }));
}

// The pkmap window: one cell per slot, free / mapped (count 1, awaiting
// flush) / in use (count >= 2).  @prev: the last state drawn, to mark
// changed cells.  @waiting: pfns of kmaps parked for a slot.
export function drawPkmap(grid, summary, p, prev, waiting, detail) {
  const cells = [];
  let inUse = 0, mapped = 0;
  for (let i = 0; i < p.nslots; i++) {
    const s = p.slots.get(i);
    const state = !s || s.count === 0 ? 'free' : s.count === 1 ? 'mapped' : 'inuse';
    if (state === 'inuse') inUse++;
    if (state === 'mapped') mapped++;
    const c = el('div', { class: 'cell ' + state, 'data-slot': String(i) });
    const ps = prev && prev.slots.get(i);
    if (prev && (ps ? ps.count : 0) !== (s ? s.count : 0)) c.classList.add('changed');
    if (i === p.last) c.classList.add('last');
    const text = `slot ${i} at ${hex(p.base + i * 4096)}: ` +
      (s ? `pfn ${hex(s.pfn, 5)}, count ${s.count}, ${s.users} users` : 'free');
    c.title = text;
    c.addEventListener('mouseenter', () => { detail.textContent = text; });
    cells.push(c);
  }
  for (const w of waiting) {
    const who = w.mine ? 'asked by this page' : 'asked by another client';
    const cpu = w.cpu == null ? '' : ` on CPU ${w.cpu}`;
    cells.push(el('div', { class: 'cell waiting' + (w.mine ? '' : ' other'),
                           title: `kmap of pfn ${w.pfn}${cpu} waiting for a free slot, ${who}` }));
  }
  grid.replaceChildren(...cells);
  grid.setAttribute('aria-label', `pkmap window, ${p.nslots} slots`);
  const free = p.nslots - inUse - mapped;
  summary.textContent = `${p.nslots} slots: ${inUse} in use, ${mapped} mapped (awaiting flush), ` +
    `${free} free; ${p.flushes} flushes; next search from slot ${p.last}` +
    (waiting.length ? `; ${waiting.length} kmap${waiting.length > 1 ? 's' : ''} waiting for a slot` : '');
  if (prev && p.flushes > prev.flushes) {
    grid.classList.remove('flushing');
    void grid.offsetWidth;              // restart the animation
    grid.classList.add('flushing');
  }
}

// The per-CPU kmap_atomic stacks (stack / local style) or km_type slots.
export function drawAtomic(box_, f, prev) {
  const head = el('p', {}, f.header);
  const cols = f.cpus.map((c) => {
    const d = el('div', { class: 'cpu' });
    d.appendChild(el('h4', {}, `CPU ${c.cpu}` + (f.style === 'km_type' ? ` - ${c.depth} live` : ` - depth ${c.depth}`)));
    const ol = el(f.style === 'km_type' ? 'ul' : 'ol', { class: 'stack', 'aria-label': `CPU ${c.cpu} kmap_atomic slots` });
    const pc = prev && prev.cpus.find((x) => x.cpu === c.cpu);
    for (const s of [...c.slots].reverse()) {
      const li = el('li', {}, `${s.name || 'slot ' + s.slot} (idx ${s.index}) ${hex(s.addr)} -> pfn ${hex(s.pfn, 5)} ${s.state}`);
      if (pc && !pc.slots.some((x) => x.slot === s.slot && x.pfn === s.pfn)) li.classList.add('changed');
      ol.appendChild(li);
    }
    if (!c.slots.length) ol.appendChild(el('li', { class: 'empty' }, 'empty'));
    d.appendChild(ol);
    return d;
  });
  const wrap = el('div', { class: 'cpus' });
  wrap.append(...cols);
  box_.replaceChildren(head, wrap);
}

const AP = { 0: '--/-- (no access)', 1: 'rw/-- (kernel read-write, user none)',
             2: 'rw/r- (user read-only)', 3: 'rw/rw (kernel and user read-write)',
             5: 'r-/-- (kernel read-only)', 6: 'r-/r- (read-only)', 7: 'r-/r- (read-only)' };

function field(dl, name, value, why) {
  dl.appendChild(el('dt', {}, name));
  dl.appendChild(el('dd', {}, why ? `${value} - ${why}` : value));
}

// The walk of one VA: its split, then each descriptor decoded with a
// sentence saying why that entry was read.
export function drawWalk(box_, res) {
  const va = parseInt(res.va, 16);
  const l1 = va >>> 20, l2 = (va >>> 12) & 0xff, off = va & 0xfff;
  const out = [];
  const split = el('p', { class: 'split' });
  split.append(el('span', { class: 'l1' }, `L1 index ${hex(l1, 3)}`), ' | ',
               el('span', { class: 'l2' }, `L2 index ${hex(l2, 2)}`), ' | ',
               el('span', { class: 'off' }, `offset ${hex(off, 3)}`));
  out.push(el('h3', {}, `Walk of ${res.va}`), split);
  const steps = res.walk ? res.walk.steps : [];
  const ol = el('ol', { class: 'steps' });
  steps.forEach((s, i) => {
    const li = el('li', { class: 'step' });
    const addr = parseInt(s.addr, 16), desc = parseInt(s.desc, 16);
    let why;
    if (s.level === 1) {
      const ttbr = (addr - 4 * l1) >>> 0;
      why = `L1 index ${hex(l1, 3)} = VA >> 20; entry at TTBR0 (${hex(ttbr)}) + 4 x ${hex(l1, 3)} = ${s.addr}.`;
    } else {
      const table = (addr - 4 * l2) >>> 0;
      why = `L2 index ${hex(l2, 2)} = (VA >> 12) & 0xff; entry at the L2 table (${hex(table)}) + 4 x ${hex(l2, 2)} = ${s.addr}.`;
    }
    li.appendChild(el('p', { class: 'why' }, why));
    const dl = el('dl', { class: 'desc' });
    field(dl, 'descriptor', s.desc, `bits[1:0] = ${desc & 3} (${s.kind})`);
    if (/table/.test(s.kind)) {
      field(dl, 'L2 table', s.next, 'bits[31:10]: where the next level lives');
      field(dl, 'domain', String(s.domain), 'bits[8:5]');
    } else if (/section|page/.test(s.kind)) {
      const base = s.next;
      field(dl, 'base', base, /section/.test(s.kind) ? 'bits[31:20]: a 1 MiB section'
        : /large/.test(s.kind) ? 'bits[31:16]: a 64 KiB page' : 'bits[31:12]: a 4 KiB page');
      field(dl, 'domain', String(s.domain));
      field(dl, 'AP', s.ap.toString(2).padStart(3, '0'), AP[s.ap] || '');
      field(dl, 'TEX C B', `${s.tex.toString(2).padStart(3, '0')} ${+s.c} ${+s.b}`,
            s.c && s.b ? 'cacheable, write-back' : s.c ? 'cacheable, write-through' : 'uncached');
      field(dl, 'S nG XN', `${+s.s} ${+s.ng} ${+s.xn}`,
            `${s.s ? 'shareable' : 'not shareable'}, ${s.ng ? 'per-process (ASID)' : 'global'}, ${s.xn ? 'never executable' : 'executable'}`);
    } else {
      field(dl, 'kind', s.kind, 'no valid mapping here');
    }
    li.appendChild(dl);
    ol.appendChild(li);
    if (i === steps.length - 1 && res.pa) {
      const base = parseInt(s.next, 16);
      const o = /section/.test(s.kind) ? va & 0xfffff : off;
      ol.appendChild(el('li', { class: 'step final' },
        `PA = base ${hex(base)} + offset ${hex(o, /section/.test(s.kind) ? 5 : 3)} = ${res.pa} (${res.region}).`));
    }
  });
  out.push(ol);
  if (!res.pa) out.push(el('p', { class: 'fault', role: 'note' }, `Fault: ${res.fault} - no valid descriptor, the MMU raises a ${res.fault} fault.`));
  box_.replaceChildren(...out);
}
