// tests/web/run.js - make check-web: the teaching page in Debian's
// chromium (headless, driven by playwright-core) against the real
// armmapd on a free loopback port and a temporary state directory.
//
// Scenarios, each asserting exact text: create a machine; kmap until
// WOULD_BLOCK (512 cells in use, the daemon's message); walk an address;
// step back in the timeline; fork; a change made by the CLI appears
// through the event stream.  Screenshots go to build/web-shots/.
// Every wait is bounded (WAIT_MS); the whole run by a 170 s watchdog.
//
// Env: ARMMAPD, ARMMAP (binaries; default build/), CHROMIUM
// (default /usr/bin/chromium), WEB_SHOTS (default build/web-shots).

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const top = path.resolve(here, '../..');
const ARMMAPD = process.env.ARMMAPD || path.join(top, 'build/armmapd');
const ARMMAP = process.env.ARMMAP || path.join(top, 'build/armmap');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.WEB_SHOTS || path.join(top, 'build/web-shots');
const WAIT_MS = 15000;

// Daemons started here: stopped at the end, and on any way out.
const daemons = new Set();
process.on('exit', () => { for (const d of daemons) d.kill('SIGKILL'); });

const watchdog = setTimeout(() => { console.error('check-web: over 170 s, giving up'); process.exit(2); }, 170000);

function startDaemon(args) {
  const d = spawn(ARMMAPD, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  daemons.add(d);
  d.on('exit', () => daemons.delete(d));
  return d;
}

// SIGTERM, then SIGKILL if it has not exited within 10 s.
async function stopDaemon(d) {
  if (d.exitCode !== null || d.signalCode !== null) return;
  const gone = new Promise((r) => d.once('exit', r));
  d.kill('SIGTERM');
  const t = setTimeout(() => d.kill('SIGKILL'), 10000);
  await gone;
  clearTimeout(t);
}

let failures = 0, passed = 0, skipped = 0;

function eq(what, got, want) {
  if (got !== want) throw new Error(`${what}:\n  got:  ${JSON.stringify(got)}\n  want: ${JSON.stringify(want)}`);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
    s.on('error', rej);
  });
}

async function waitHttp(url) {
  for (let i = 0; i < 500; i++) {
    try { const r = await fetch(url); if (r.ok) return; } catch (e) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`armmapd did not answer ${url}`);
}

// Waits until the text of @sel equals @want (or matches it, a RegExp);
// fails naming what was there instead.
async function text(page, sel, want) {
  try {
    await page.waitForFunction(([s, w, isRe]) => {
      const e = document.querySelector(s);
      if (!e) return false;
      const t = e.textContent;
      return isRe ? new RegExp(w).test(t) : t === w;
    }, [sel, want instanceof RegExp ? want.source : want, want instanceof RegExp], { timeout: WAIT_MS });
  } catch (e) {
    const got = await page.evaluate((s) => document.querySelector(s)?.textContent, sel);
    throw new Error(`${sel}:\n  got:  ${JSON.stringify(got)}\n  want: ${want}`);
  }
  return page.textContent(sel);
}

async function scenario(name, fn) {
  const t0 = Date.now();
  try {
    const r = await fn();
    if (r === 'skip') { skipped++; return; }
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'armmap-web-'));
  const port = await freePort();
  const sock = path.join(dir, 'armmapd.sock');
  mkdirSync(SHOTS, { recursive: true });
  const d = startDaemon(['--state-dir', dir, '--http', `127.0.0.1:${port}`,
                         '--http-root', path.join(top, 'web'), '--log-level', 'warn']);
  const base = `http://127.0.0.1:${port}`;
  let browser;
  try {
    await waitHttp(base + '/api/v1/presets');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
                                      args: ['--no-sandbox', '--disable-gpu'] });
    // bypassCSP: the page's policy forbids eval, which the test's waits use.
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1300 }, bypassCSP: true });
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base + '/');
    await page.waitForSelector('body[data-ready="1"]', { timeout: WAIT_MS });
    const shot = (name, sel) => (sel ? page.locator(sel) : page)
      .screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: !sel });
    const apiHas = async (p) => (await fetch(base + p)).status !== 404 ||
      !/no such resource/.test(await (await fetch(base + p)).text());

    let forkSeq = 1027;                 // the live seq, without /at/ reads
    await scenario('create a machine', async () => {
      eq('status before', await page.textContent('#status'), 'No machine yet: create one.');
      await page.selectOption('#c-preset', 'aries');
      // The daemon's refusal, as it words it.
      await page.selectOption('#c-kernel', '2.6.35');
      await page.click('#create-form button[type=submit]');
      await text(page, '#error', 'INVALID_ARGUMENT: vmalloc_end: required before 3.4 ' +
                 '(VMALLOC_END was set per platform in <mach/vmalloc.h>)');
      await page.selectOption('#c-kernel', '');
      await page.fill('#c-name', 'lab1');
      await page.click('#create-form button[type=submit]');
      await text(page, '#status', 'Created machine 1 (aries).');
      await text(page, '#link', 'Link to this view (machine 1, live)');
      eq('kernel line', await page.textContent('#kernel-line'),
         'Linux 3.4.0; Xiaomi aries msm-3.4 kernel, as its boot log shows it');
      eq('pkmap summary', await page.textContent('#pkmap-summary'),
         '512 slots: 0 in use, 0 mapped (awaiting flush), 512 free; 0 flushes; next search from slot 0');
      eq('lowmem row', await page.textContent('#region-rows tr:nth-child(4)'),
         'lowmem0xc00000000xef800000760 MiBmap_lowmem(): sections, the direct map');
      await page.focus('rect.reg-lowmem');
      eq('focused region', await page.textContent('#space-detail'),
         'lowmem: 0xc0000000-0xef800000 (760 MiB) - map_lowmem(): sections, the direct map');
      await shot('space', '#space-sec');
    });

    await scenario('kmap until WOULD_BLOCK: 512 cells in use and the daemon\'s error', async () => {
      await page.fill('#f-n', '512');
      await page.click('#fill-form button[type=submit]');
      await text(page, '#op-result', 'alloc + kmap: 512 of 512 pages mapped');
      await text(page, '#pkmap-summary', '512 slots: 512 in use, 0 mapped (awaiting flush), 0 free; 0 flushes; next search from slot 0');
      eq('cells in use', await page.locator('#pkmap .cell.inuse').count(), 512);
      await page.selectOption('#o-op', 'alloc');
      await page.click('#op-form button[type=submit]');
      const got = await text(page, '#op-result', /^alloc: OK 0x[0-9a-f]+ \(seq 1025\)$/);
      const pfn = got.split(' ')[2];
      await page.selectOption('#o-op', 'kmap');
      await page.fill('#o-pfn', pfn);
      await page.click('#op-form button[type=submit]');
      await text(page, '#op-error', 'WOULD_BLOCK: kmap: all 512 pkmap slots are in use (the kernel would sleep)');
      await shot('pkmap', '#pkmap-sec');
    });

    await scenario('a parked kmap waits, a CLI kunmap wakes it, the flush is animated', async () => {
      // pfn of the page alloc'd above: map it with a wait; the window is full.
      await page.fill('#o-wait', '10000');
      await page.click('#op-form button[type=submit]');
      await text(page, '#pkmap-summary', '512 slots: 512 in use, 0 mapped (awaiting flush), 0 free; ' +
                 '0 flushes; next search from slot 0; 1 kmap waiting for a slot');
      eq('waiting cells', await page.locator('#pkmap .cell.waiting').count(), 1);
      await shot('pkmap-waiting', '#pkmap-sec');
      // Another client (the CLI, in the background) parks a kmap of the
      // next page: the page learns of it from the machine's "parked" list.
      // The kunmap below wakes the page's kmap (first in line); the CLI's
      // finds the window full again and gives up after its wait.
      const own = parseInt(await page.inputValue('#o-pfn'), 16);
      const other = '0x' + (own + 1).toString(16);
      const cli = spawn(ARMMAP, ['-s', sock, 'kmap', '1', other, '--wait', '3000'],
                        { stdio: ['ignore', 'pipe', 'pipe'] });
      let cliErr = '';
      cli.stderr.on('data', (b) => { cliErr += b; });
      const cliDone = new Promise((res) => cli.on('exit', (code) => res(code)));
      await text(page, '#pkmap-summary', '512 slots: 512 in use, 0 mapped (awaiting flush), 0 free; ' +
                 '0 flushes; next search from slot 0; 2 kmaps waiting for a slot');
      eq('waiting cells of others', await page.locator('#pkmap .cell.waiting.other').count(), 1);
      eq('other waiting title', await page.getAttribute('#pkmap .cell.waiting.other', 'title'),
         `kmap of pfn ${other} on CPU 0 waiting for a free slot, asked by another client`);
      eq('own waiting title', await page.getAttribute('#pkmap .cell.waiting:not(.other)', 'title'),
         `kmap of pfn 0x${own.toString(16)} on CPU 0 waiting for a free slot, asked by this page`);
      await shot('pkmap-waiting-other', '#pkmap-sec');
      eq('CLI kmap exit', await cliDone, 4);
      eq('CLI kmap error', cliErr, 'armmap: WOULD_BLOCK: kmap: all 512 pkmap slots are in use (the kernel would sleep)\n');
      await text(page, '#pkmap-summary', '512 slots: 512 in use, 0 mapped (awaiting flush), 0 free; ' +
                 '0 flushes; next search from slot 0; 1 kmap waiting for a slot');
      const first = (await page.getAttribute('#pkmap .cell[data-slot="1"]', 'title')).split(' ')[5].replace(',', '');
      execFileSync(ARMMAP, ['-s', sock, 'kunmap', '1', first], { timeout: WAIT_MS });
      await text(page, '#op-result', /^kmap: OK 0x[0-9a-f]+ \(seq 1027\) \[[a-z, ]*flushed[a-z, ]*\] - the pkmap window wrapped and was flushed$/);
      await text(page, '#pkmap-summary', /^512 slots: 512 in use, 0 mapped \(awaiting flush\), 0 free; 1 flushes; next search from slot \d+$/);
      eq('flush animated', await page.locator('#pkmap.flushing').count(), 1);
      eq('waiting cells after', await page.locator('#pkmap .cell.waiting').count(), 0);
      await page.fill('#o-wait', '');
    });

    await scenario('walk an address and read the decoded descriptors', async () => {
      await page.fill('#w-va', '0xbfe01000');
      await page.click('#walk-form button[type=submit]');
      await text(page, '#walk .split', 'L1 index 0xbfe | L2 index 0x01 | offset 0x000');
      const whys = await page.locator('#walk .why').allTextContents();
      eq('step 1', whys[0], 'L1 index 0xbfe = VA >> 20; entry at TTBR0 (0x80204000) + 4 x 0xbfe = 0x80206ff8.');
      eq('step 2', whys[1].replace(/0x[0-9a-f]{8}/g, 'ADDR'),
         'L2 index 0x01 = (VA >> 12) & 0xff; entry at the L2 table (ADDR) + 4 x 0x01 = ADDR.');
      const dds = await page.locator('#walk .step:nth-child(2) dd').allTextContents();
      eq('AP', dds[3], '001 - rw/-- (kernel read-write, user none)');
      eq('TEX C B', dds[4], '001 1 1 - cacheable, write-back');
      eq('S nG XN', dds[5], '1 0 1 - shareable, global, never executable');
      await text(page, '#walk .final', /^PA = base 0x[0-9a-f]{8} \+ offset 0x000 = 0x[0-9a-f]{8} \(pkmap\)\.$/);
      await shot('walk', '#walk-sec');
      await shot('page');
    });

    await scenario('step back in the timeline and see the earlier state', async () => {
      if (!(await apiHas('/api/v1/machines/1/at/1/reports/pkmap'))) {
        console.log('skip step back: this armmapd has no GET .../at/{seq}/ reads');
        return 'skip';
      }
      await text(page, '#viewing', 'Live at seq 1027');
      // Back through: the woken kmap (1027), the CLI's kunmap (1026),
      // the alloc (1025), the 512th kmap (1024); one cell changes at each
      // step but the alloc's.
      const steps = [
        [1026, '512 slots: 511 in use, 1 mapped (awaiting flush), 0 free; 0 flushes; next search from slot 0', 1],
        [1025, '512 slots: 512 in use, 0 mapped (awaiting flush), 0 free; 0 flushes; next search from slot 0', 1],
        [1024, '512 slots: 512 in use, 0 mapped (awaiting flush), 0 free; 0 flushes; next search from slot 0', 0],
        [1023, '512 slots: 511 in use, 0 mapped (awaiting flush), 1 free; 0 flushes; next search from slot 511', 1],
      ];
      for (const [seq, summary, changed] of steps) {
        await page.click('#back');
        await text(page, '#viewing', `Viewing seq ${seq} of 1027`);
        await text(page, '#pkmap-summary', summary);
        eq(`changed cells at ${seq}`, await page.locator('#pkmap .cell.changed').count(), changed);
      }
      await page.click('#fwd');
      await text(page, '#viewing', 'Viewing seq 1024 of 1027');
      await page.fill('#g-seq', '513');
      await page.click('#goto-form button[type=submit]');
      await text(page, '#viewing', 'Viewing seq 513 of 1027');
      await text(page, '#timeline li.current', /^#513 kmap\(0x[0-9a-f]+\) -> 0xbfe01000$/);
      await page.click('#timeline li.current + li + li button');
      await text(page, '#viewing', 'Viewing seq 515 of 1027');
      await page.locator('#timeline li', { hasText: /^#512 alloc/ }).locator('button').click();
      await text(page, '#viewing', 'Viewing seq 512 of 1027');
      await text(page, '#pkmap-summary', /^512 slots: 0 in use, 0 mapped \(awaiting flush\), 512 free; 0 flushes/);
      await text(page, '#link', 'Link to this view (machine 1, seq 512)');
      eq('url', new URL(page.url()).search, '?machine=1&seq=512');
      // The link, opened elsewhere, reproduces the view.
      const other = await ctx.newPage();
      await other.goto(await page.evaluate(() => document.getElementById('link').href));
      await text(other, '#viewing', 'Viewing seq 512 of 1027');
      await text(other, '#pkmap-summary',
                 '512 slots: 0 in use, 0 mapped (awaiting flush), 512 free; 0 flushes; next search from slot 0');
      await other.close();
      await shot('timeline', '#timeline-sec');
      forkSeq = 512;
    });

    await scenario('fork at a step', async () => {
      await page.click('#fork');
      await text(page, '#status', `Forked machine 2 from seq ${forkSeq}.`);
      await text(page, '#link', 'Link to this view (machine 2, live)');
      await text(page, '#viewing', `Live at seq ${forkSeq}`);
      await text(page, '#pkmap-summary', forkSeq === 512
        ? '512 slots: 0 in use, 0 mapped (awaiting flush), 512 free; 0 flushes; next search from slot 0'
        : /^512 slots: 512 in use, /);
    });

    await scenario('a change by another client appears through the event stream', async () => {
      // The page follows machine 2's event stream (or, from a daemon
      // without one, polls its history: said in #stream).
      const mode = await text(page, '#stream', /^(Following changes live\.|Event stream unavailable: polling the history every second\.)$/);
      console.log('     ' + mode);
      execFileSync(ARMMAP, ['-s', sock, 'alloc', '2', '--zone', 'highmem'], { timeout: WAIT_MS });
      await text(page, '#stream', new RegExp(`^Change: #${forkSeq + 1} alloc\\(0x2, 0x0\\) -> 0x[0-9a-f]+$`));
      await text(page, '#viewing', `Live at seq ${forkSeq + 1}`);
    });

    await scenario('kmap_atomic into a 2.6-style km_type slot on CPU 1', async () => {
      await page.selectOption('#c-preset', 'aries');
      await page.selectOption('#c-atomic', 'km_type');
      await page.fill('#c-name', 'kmtype');
      await page.click('#create-form button[type=submit]');
      await text(page, '#status', 'Created machine 3 (aries).');
      await page.selectOption('#o-op', 'alloc');
      await page.click('#op-form button[type=submit]');
      const pfn = (await text(page, '#op-result', /^alloc: OK 0x[0-9a-f]+ \(seq 1\)$/)).split(' ')[2];
      await page.selectOption('#o-op', 'kmap_atomic');
      await page.fill('#o-pfn', pfn);
      await page.fill('#o-slot', '3');
      await page.fill('#o-cpu', '1');
      await page.click('#op-form button[type=submit]');
      await text(page, '#op-result', 'kmap_atomic: OK 0xfff13000 (seq 2)');
      await text(page, '#atomic p', 'kmap_atomic: km_type style, 16 slots per CPU, 4 CPUs, fixmap 0xfff00000');
      // The header line comes from the machine's config, the slots from
      // its state, which may be drawn a moment later: wait for both.
      await text(page, '#atomic .cpu:nth-child(2) h4', 'CPU 1 - 1 live');
      await text(page, '#atomic .cpu:nth-child(2) li', `KM_USER0 (idx 19) 0xfff13000 -> pfn ${pfn} live`);
      await shot('atomic', '#atomic-sec');
      await page.fill('#o-cpu', '');
      await page.fill('#o-slot', '');
    });

    await scenario('keyboard, screen reader and phone width', async () => {
      // Every control has a label; every region of the drawing a name
      // and a place in the tab order.
      const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select')]
        .filter((e) => !e.labels.length && !e.getAttribute('aria-label')).map((e) => e.id));
      eq('controls without a label', unlabelled.join(','), '');
      const regions = await page.evaluate(() => [...document.querySelectorAll('#space rect.reg')]
        .filter((e) => e.getAttribute('tabindex') === '0' && e.getAttribute('aria-label')).length);
      eq('named, focusable regions', regions, await page.locator('#region-rows tr').count());
      await page.reload();
      await page.waitForSelector('body[data-ready="1"]', { timeout: WAIT_MS });
      await page.keyboard.press('Tab');
      eq('first Tab', await page.evaluate(() => document.activeElement.textContent), 'Skip to the machine');
      await page.setViewportSize({ width: 390, height: 844 });
      eq('no sideways scrolling at 390 px', await page.evaluate(() => document.documentElement.scrollWidth), 390);
      await shot('phone');
    });
    eq('page errors', errors.join('\n'), '');
    await tokenScenario(browser);
  } finally {
    if (browser) await browser.close();
    await stopDaemon(d);
    rmSync(dir, { recursive: true, force: true });
  }
}

// A daemon with --auth-token-file: the page shows UNAUTHENTICATED until
// the token is typed, then keeps it for the tab (sessionStorage).
async function tokenScenario(browser) {
  const dir = mkdtempSync(path.join(tmpdir(), 'armmap-web-tok-'));
  const port = await freePort();
  writeFileSync(path.join(dir, 'token'), 'lab-secret-42\n', { mode: 0o600 });
  const d = startDaemon(['--state-dir', dir, '--http', `127.0.0.1:${port}`,
                         '--auth-token-file', path.join(dir, 'token'),
                         '--http-root', path.join(top, 'web'), '--log-level', 'error']);
  try {
    await waitHttp(`http://127.0.0.1:${port}/`);
    const ctx = await browser.newContext({ bypassCSP: true });
    const page = await ctx.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await scenario('a bearer token typed into the page', async () => {
      await text(page, '#error', /^UNAUTHENTICATED: /);
      await page.fill('#token', 'lab-secret-42');
      await page.click('#token-form button[type=submit]');
      await text(page, '#status', 'No machine yet: create one.');
      eq('error after', await page.textContent('#error'), '');
      eq('sessionStorage', await page.evaluate(() => sessionStorage.getItem('armmap.token')), 'lab-secret-42');
      await page.reload();
      await text(page, '#status', 'No machine yet: create one.');
    });
    await ctx.close();
  } finally {
    await stopDaemon(d);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => {
  clearTimeout(watchdog);
  console.log(`check-web: ${passed} passed, ${failures} failed, ${skipped} skipped; screenshots in ${SHOTS}`);
  process.exit(failures ? 1 : 0);
}, (e) => {
  console.error('check-web:', e);
  process.exit(1);
});
