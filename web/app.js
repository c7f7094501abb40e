// web/app.js - the teaching page: one machine at a time, live or at a
// past seq of its history, drawn by views.js from the daemon's reports.
//
// The URL holds the view (?machine=ID&seq=N), so a link reproduces it.
// Changes arrive through the machine's event stream (whoever made them);
// a past seq is read through /at/{seq}/ without changing anything.

import * as api from './api.js';
import * as parse from './parse.js';
import * as views from './views.js';

const $ = (id) => document.getElementById(id);

const st = {
  id: null,          // machine id (string)
  seq: 0,            // the machine's newest seq
  at: null,          // the seq viewed, or null for live
  events: [],        // history, oldest first
  prevPkmap: null, prevAtomic: null,
  waiting: [],       // pfns of kmaps this page asked for with a wait
  parkedKey: '',     // the daemon's parked kmaps when last drawn (JSON)
  banks: [], zones: [],
  stop: null,        // ends the event stream
  refreshTimer: 0,
};

function say(msg) { $('status').textContent = msg; }
function fail(where, e) {
  $(where).textContent = e instanceof api.ApiError ? `${e.code}: ${e.message}` : String(e.message || e);
}

// ---- URL -------------------------------------------------------------------
function syncUrl() {
  const q = new URLSearchParams();
  if (st.id) q.set('machine', st.id);
  if (st.at != null) q.set('seq', String(st.at));
  const url = location.pathname + (q.toString() ? '?' + q : '');
  history.replaceState(null, '', url);
  $('link').href = url;
  $('link').textContent = `Link to this view (machine ${st.id ?? '-'}, ${st.at == null ? 'live' : 'seq ' + st.at})`;
}

// ---- machines ---------------------------------------------------------------
async function loadPresets() {
  const r = await api.get('/presets');
  $('c-preset').replaceChildren(...r.presets.map((p) => {
    const o = document.createElement('option');
    o.value = p.name;
    o.textContent = p.name;
    o.title = p.summary;
    return o;
  }));
}

async function loadMachines() {
  const r = await api.get('/machines');
  const sel = $('machine');
  sel.replaceChildren(...r.machines.map((m) => {
    const o = document.createElement('option');
    o.value = m.id;
    o.textContent = `#${m.id} ${m.name || ''} (seq ${m.seq})`;
    return o;
  }));
  if (st.id) sel.value = st.id;
  return r.machines;
}

async function openMachine(id, at = null) {
  if (st.stop) st.stop();
  st.stop = null;
  Object.assign(st, { id: String(id), at, events: [], prevPkmap: null, prevAtomic: null, waiting: [] });
  $('machine').value = st.id;
  const m = await api.get(`/machines/${st.id}`);
  st.seq = Number(m.seq);
  if (st.at != null && st.at >= st.seq) st.at = null;
  st.zones = (m.zones || []).map((z) => ({ name: z.name, start: parseInt(z.start_pfn, 16) * 4096,
                                           end: parseInt(z.end_pfn, 16) * 4096 }));
  st.banks = parse.banks(await api.reportText(st.id, 'iomem'));
  await loadHistory();
  await render();
  startStream();
  say(`Machine ${st.id} open at seq ${st.seq}.`);
}

// ---- drawing ----------------------------------------------------------------
// The views at st.at (or live); what changed since the last drawing is
// marked.
async function render() {
  const at = st.at;
  const gen = st.renders = (st.renders || 0) + 1;
  let texts;
  try {
    const reads = ['regions', 'pkmap', 'fixmap'].map((n) => api.reportText(st.id, n, at));
    if (at == null) reads.push(api.get(`/machines/${st.id}`));
    texts = await Promise.all(reads);
    if (at == null) st.seq = Math.max(st.seq, Number(texts[3].seq));
  } catch (e) {
    if (at != null && /no such resource/.test(e.message)) {
      $('error').textContent = 'This daemon cannot read a past seq (GET .../at/{seq}/reports is missing).';
      return;
    }
    throw e;
  }
  // A newer view was asked for, or a later drawing started (its reads
  // went out after ours, so ours may be older): leave it to that one.
  if (at !== st.at || gen !== st.renders) return;
  const reg = parse.regions(texts[0]);
  $('kernel-line').textContent = reg.kernel;
  views.drawSpace($('space'), { regions: reg.regions, banks: st.banks, zones: st.zones }, $('space-detail'));
  views.regionTable($('region-rows'), reg.regions);
  const pk = parse.pkmap(texts[1]);
  const waiting = at == null ? waitingList(texts[3].parked) : [];
  if (at == null) st.parkedKey = JSON.stringify(texts[3].parked || []);
  views.drawPkmap($('pkmap'), $('pkmap-summary'), pk, st.prevPkmap, waiting, $('pkmap-detail'));
  st.prevPkmap = pk;
  const fx = parse.fixmap(texts[2]);
  views.drawAtomic($('atomic'), fx, st.prevAtomic);
  st.prevAtomic = fx;
  drawTimeline();
  syncUrl();
}

// The kmaps waiting for a slot: the daemon's list (GET /machines/{id}
// "parked": every client's, oldest first), those this page asked for
// marked mine, plus its own not parked yet; a daemon without the list
// gives only this page's.
function waitingList(parked) {
  const mine = st.waiting.map(Number);
  const list = (parked || []).map((p) => {
    const i = mine.indexOf(parseInt(p.pfn, 16));
    if (i >= 0) mine.splice(i, 1);
    return { pfn: p.pfn, cpu: p.cpu, mine: i >= 0 };
  });
  return list.concat(mine.map((n) => ({ pfn: '0x' + n.toString(16), cpu: null, mine: true })));
}

// Parking changes nothing in the history, so no event announces it: while
// live, the machine is read every second and redrawn if its parked kmaps
// changed.
async function pollParked(id) {
  if (st.id !== id || st.at != null || document.hidden) return;
  try {
    const m = await api.get(`/machines/${id}`);
    if (st.id === id && JSON.stringify(m.parked || []) !== st.parkedKey) scheduleRefresh();
  } catch (e) { /* shown on the next user action */ }
}

function scheduleRefresh() {
  clearTimeout(st.refreshTimer);
  st.refreshTimer = setTimeout(() => { if (st.at == null) render().catch((e) => fail('error', e)); }, 40);
}

// ---- history and timeline -----------------------------------------------------
async function loadHistory() {
  const r = await api.get(`/machines/${st.id}/history?limit=10000`);
  st.events = r.events;
  if (st.events.length) st.seq = Math.max(st.seq, Number(st.events[st.events.length - 1].seq));
}

function eventText(e) {
  const res = e.result || {};
  const args = (e.args || []).join(', ');
  const out = res.code === 'OK' || res.code == null ? (res.value ?? 'OK') : `${res.code}`;
  return `#${e.seq} ${e.op}(${args}) -> ${out}` + (res.flags && res.flags.length ? ` [${res.flags.join(', ')}]` : '');
}

function drawTimeline() {
  const shown = st.at == null ? st.seq : st.at;
  const ol = $('timeline');
  const items = [];
  const b0 = document.createElement('li');
  const btn0 = document.createElement('button');
  btn0.type = 'button';
  btn0.textContent = '#0 created';
  btn0.addEventListener('click', () => view(0));
  if (shown === 0) { b0.classList.add('current'); btn0.setAttribute('aria-current', 'step'); }
  b0.appendChild(btn0);
  items.push(b0);
  // A window of the history around the seq shown (the first is #0).
  const near = st.events.filter((e) => Math.abs(Number(e.seq) - shown) <= 150);
  if (near.length && Number(near[0].seq) > 1) items.push(Object.assign(document.createElement('li'), { textContent: '...' }));
  for (const e of near) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = eventText(e);
    const s = Number(e.seq);
    b.addEventListener('click', () => view(s));
    if (s === shown) { li.classList.add('current'); b.setAttribute('aria-current', 'step'); }
    if (s > shown) li.classList.add('future');
    li.appendChild(b);
    items.push(li);
  }
  ol.replaceChildren(...items);
  $('viewing').textContent = st.at == null ? `Live at seq ${st.seq}` : `Viewing seq ${st.at} of ${st.seq}`;
  $('back').disabled = shown <= 0;
  $('fwd').disabled = shown >= st.seq;
  const cur = ol.querySelector('.current');
  if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: 'nearest' });
}

async function view(seq) {
  st.at = seq >= st.seq ? null : Math.max(0, seq);
  $('error').textContent = '';
  await render();
}

// ---- the event stream ---------------------------------------------------------
function onChange(e) {
  const seq = Number(e.seq);
  if (!(seq > st.seq) && st.events.some((x) => Number(x.seq) === seq)) return;
  st.events.push(e);
  st.seq = Math.max(st.seq, seq);
  $('stream').textContent = `Change: ${eventText(e)}`;
  if (st.at == null) scheduleRefresh();
  else drawTimeline();
}

function startStream() {
  const id = st.id;
  let poll = 0;
  const stop = api.subscribe(id, onChange, (state) => {
    if (state === 'unsupported') {
      // No event stream in this daemon: poll the history instead.
      $('stream').textContent = 'Event stream unavailable: polling the history every second.';
      poll = setInterval(async () => {
        try {
          const r = await api.get(`/machines/${id}/history?since=${st.seq + 1}&limit=1000`);
          r.events.forEach(onChange);
        } catch (e) { /* shown on the next user action */ }
      }, 1000);
    } else if (state === 'live') {
      $('stream').textContent = 'Following changes live.';
    } else if (state === 'gone') {
      $('stream').textContent = 'Not following changes: the daemon refused the event stream.';
    }
  });
  const parkPoll = setInterval(() => pollParked(id), 1000);
  st.stop = () => { stop(); clearInterval(poll); clearInterval(parkPoll); };
}

// ---- forms --------------------------------------------------------------------
const OP_ARGS = {
  alloc: ['zone', 'order'], free: ['pfn', 'order'], kmap: ['pfn', 'wait_ms'], kunmap: ['pfn'],
  kmap_atomic: ['pfn', 'slot'], kunmap_atomic: ['va'], vmalloc: ['size'], vfree: ['va'],
  vmap: ['pfns'], vunmap: ['va'], ioremap: ['phys', 'size'], iounmap: ['va'],
  module_alloc: ['size'], module_free: ['va'], kmap_flush: [],
  module_enable_ro: ['va', 'text_size', 'ro_size'],
};

function showArgs() {
  const want = OP_ARGS[$('o-op').value];
  for (const e of document.querySelectorAll('#op-form [data-arg]')) {
    e.hidden = !want.includes(e.dataset.arg);
  }
}

function resultText(r) {
  if (r.code !== 'OK') return `${r.op}: ${r.code}: ${r.message}`;
  return `${r.op}: OK ${r.value} (seq ${r.seq})` + (r.flags.length ? ` [${r.flags.join(', ')}]` : '');
}

async function applyOp(ev) {
  ev.preventDefault();
  $('op-error').textContent = '';
  $('op-result').textContent = '';
  if (!st.id) { $('op-error').textContent = 'Create or open a machine first.'; return; }
  const op = $('o-op').value;
  const body = { op };
  for (const a of OP_ARGS[op]) {
    const v = document.querySelector(`#op-form [name="${a}"]`).value.trim();
    if (v === '') continue;
    if (a === 'pfns') body.pfns = v.split(/[\s,]+/).filter(Boolean);
    else if (a === 'wait_ms' || a === 'order' || a === 'slot') body[a] = Number(v);
    else body[a] = v;
  }
  const cpu = $('o-cpu').value.trim();
  if (cpu !== '') body.cpu = Number(cpu);
  const parked = op === 'kmap' && body.wait_ms > 0;
  if (parked) { st.waiting.push(body.pfn); scheduleRefresh(); }
  try {
    const r = await api.post(`/machines/${st.id}/ops`, body);
    $('op-result').textContent = resultText(r);
    if (r.flags.includes('flushed')) $('op-result').textContent += ' - the pkmap window wrapped and was flushed';
  } catch (e) {
    fail('op-error', e);
  } finally {
    if (parked) st.waiting.splice(st.waiting.indexOf(body.pfn), 1);
    if (st.at == null) await render().catch((e) => fail('error', e));
  }
}

// alloc + kmap of N highmem pages: two batches.
async function fill(ev) {
  ev.preventDefault();
  $('op-error').textContent = '';
  const n = Number($('f-n').value);
  if (!st.id || !(n > 0 && n <= 4096)) { $('op-error').textContent = 'Open a machine; 1 to 4096 pages.'; return; }
  try {
    const a = await api.post(`/machines/${st.id}/ops`, { ops: Array.from({ length: n }, () => ({ op: 'alloc', zone: 'highmem' })), stop_on_error: true });
    const pfns = a.results.filter((r) => r.code === 'OK').map((r) => r.value);
    const k = await api.post(`/machines/${st.id}/ops`, { ops: pfns.map((pfn) => ({ op: 'kmap', pfn })), stop_on_error: true });
    const bad = k.results.find((r) => r.code !== 'OK') || a.results.find((r) => r.code !== 'OK');
    $('op-result').textContent = `alloc + kmap: ${k.results.filter((r) => r.code === 'OK').length} of ${n} pages mapped`;
    if (bad) $('op-error').textContent = resultText(bad);
  } catch (e) {
    fail('op-error', e);
  }
  await render().catch((e) => fail('error', e));
}

async function create(ev) {
  ev.preventDefault();
  $('error').textContent = '';
  const f = ev.target;
  const body = { preset: f.preset.value };
  for (const k of ['kernel', 'split', 'atomic', 'name']) if (f[k].value) body[k] = f[k].value;
  for (const kv of f.more.value.split(/\s+/).filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i > 0) body[kv.slice(0, i)] = kv.slice(i + 1);
  }
  try {
    const m = await api.post('/machines', body);
    await loadMachines();
    await openMachine(m.id);
    say(`Created machine ${m.id} (${body.preset}).`);
  } catch (e) {
    fail('error', e);
  }
}

async function walk(ev) {
  ev.preventDefault();
  if (!st.id) return;
  const va = $('w-va').value.trim();
  try {
    const at = st.at == null ? '' : `/at/${st.at}`;
    const r = await api.get(`/machines/${st.id}${at}/translate?va=${encodeURIComponent(va)}&walk=1`);
    views.drawWalk($('walk'), r.results[0]);
  } catch (e) {
    $('walk').textContent = e instanceof api.ApiError ? `${e.code}: ${e.message}` : String(e);
  }
}

async function fork() {
  if (!st.id) return;
  if (st.at == null) st.seq = Number((await api.get(`/machines/${st.id}`)).seq);
  const at = st.at == null ? st.seq : st.at;
  try {
    const m = await api.post(`/machines/${st.id}/fork`, { at });
    await loadMachines();
    await openMachine(m.id);
    say(`Forked machine ${m.id} from seq ${at}.`);
  } catch (e) {
    fail('error', e);
  }
}

async function remove() {
  if (!st.id) return;
  try {
    await api.del(`/machines/${st.id}`);
    if (st.stop) st.stop();
    const gone = st.id;
    st.id = null;
    const ms = await loadMachines();
    say(`Deleted machine ${gone}.`);
    if (ms.length) await openMachine(ms[0].id);
    else syncUrl();
  } catch (e) {
    fail('error', e);
  }
}

function wire() {
  $('token').value = api.getToken();
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    api.setToken($('token').value);
    start().catch((e) => fail('error', e));
  });
  $('create-form').addEventListener('submit', create);
  $('op-form').addEventListener('submit', applyOp);
  $('o-op').addEventListener('change', showArgs);
  $('fill-form').addEventListener('submit', fill);
  $('walk-form').addEventListener('submit', walk);
  $('machine').addEventListener('change', () => openMachine($('machine').value).catch((e) => fail('error', e)));
  $('delete').addEventListener('click', remove);
  $('back').addEventListener('click', () => view((st.at ?? st.seq) - 1).catch((e) => fail('error', e)));
  $('fwd').addEventListener('click', () => view((st.at ?? st.seq) + 1).catch((e) => fail('error', e)));
  $('live').addEventListener('click', () => view(st.seq).catch((e) => fail('error', e)));
  $('fork').addEventListener('click', fork);
  $('goto-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const n = Number($('g-seq').value);
    if (Number.isInteger(n) && n >= 0) view(n).catch((e) => fail('error', e));
    else $('error').textContent = `Go to seq: '${$('g-seq').value}' is not a seq (0 to ${st.seq}).`;
  });
  showArgs();
}

async function start() {
  $('error').textContent = '';
  await loadPresets();
  const ms = await loadMachines();
  const q = new URLSearchParams(location.search);
  const want = q.get('machine') || (ms.length ? ms[ms.length - 1].id : null);
  if (want) {
    const seq = q.get('seq');
    await openMachine(want, seq == null ? null : Number(seq));
  } else {
    say('No machine yet: create one.');
    syncUrl();
  }
  document.body.dataset.ready = '1';
}

wire();
start().catch((e) => fail('error', e));
