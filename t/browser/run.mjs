#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Browser end-to-end tests of the web console: Debian's chromium driven by
// playwright-core against the real gotunnel-master, gotunnel-client and
// gotunnel-admin on 127.0.0.1 (free ports, temp dirs). Screenshots of every
// page go to t/out/browser/. Ends with a plain "N passed, N failed" line.
//
//   node t/browser/run.mjs [--keep] [name-substring...]
//   GOTUNNEL_BIN=bin  (where the binaries are)   CHROMIUM=/usr/bin/chromium
//   GOTUNNEL_BROWSER_OUT=t/out/browser (screenshots)
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Env, LOCAL, echoServer, echoThrough, freePort, haveAll, httpGet, readLog, sleep, waitUntil, writeIni } from './lib.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = resolve(ROOT, process.env.GOTUNNEL_BIN ?? 'bin');
const MASTER = join(BIN, 'gotunnel-master');
const CLIENT = join(BIN, 'gotunnel-client');
const CTL = process.env.GOTUNNEL_CTL ? resolve(ROOT, process.env.GOTUNNEL_CTL) : join(BIN, 'gotunnelctl');
const ADMIN = join(BIN, 'gotunnel-admin');
const DIST = join(ROOT, 'frontend', 'dist');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const OUT = resolve(ROOT, process.env.GOTUNNEL_BROWSER_OUT ?? join('t', 'out', 'browser'));
const TOTAL_LIMIT_MS = 10 * 60 * 1000;
const PASSWORD = 'browser-test-' + Math.random().toString(36).slice(2);

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const only = args.filter((a) => !a.startsWith('--'));

const require = createRequire(join(ROOT, 'frontend', 'package.json'));
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log(`FAIL - setup: playwright-core is not installed (run make frontend-deps): ${e.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

let passed = 0;
let failed = 0;
const env = new Env();
const ctx = {}; // what tests share: ports, ids, pages

// The whole run has a hard limit: a hung browser or daemon must not hang CI.
const watchdog = setTimeout(async () => {
  console.log(`FAIL - run: exceeded ${TOTAL_LIMIT_MS / 1000}s, stopping everything`);
  failed++;
  await finish(1);
}, TOTAL_LIMIT_MS);

/** Stops everything and prints the summary line. */
async function finish(code) {
  clearTimeout(watchdog);
  try {
    await ctx.browser?.close();
  } catch {
    /* already closed */
  }
  await env.stopAll();
  if (!keep && !failed) rmSync(env.dir, { recursive: true, force: true });
  else console.log(`# logs and configs kept in ${env.dir}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code || (failed ? 1 : 0));
}

/** Runs one named test with a time limit; a failure saves a screenshot. */
async function test(name, fn, limitMs = 60000) {
  if (only.length && !name.startsWith('setup') && !only.some((o) => name.includes(o))) return;
  const t0 = Date.now();
  let timer;
  try {
    await Promise.race([
      fn(),
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`test exceeded ${limitMs / 1000}s`)), limitMs);
      }),
    ]);
    passed++;
    console.log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL - ${name}: ${e.message}`);
    const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    try {
      await ctx.page?.screenshot({ path: join(OUT, `FAILED-${slug}.png`), fullPage: true });
    } catch {
      /* no page */
    }
  } finally {
    clearTimeout(timer);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Saves a screenshot of the page under t/out/browser/. */
async function shot(page, file) {
  await sleep(300); // let charts and tooltips settle
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, file), fullPage: true });
}

// ------------------------------------------------------------------ processes

/** Starts master + admin + the demo client and creates the console user. */
async function setup() {
  const missing = haveAll([MASTER, CLIENT, CTL, ADMIN, join(DIST, 'index.html'), CHROMIUM]);
  if (missing.length) throw new Error(`missing (build first: make c admin frontend): ${missing.join(', ')}`);
  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) if (f.endsWith('.png')) rmSync(join(OUT, f), { force: true }); // this run's only

  ctx.masterPort = await freePort();
  ctx.adminPort = await freePort();
  ctx.demoPort = await freePort();
  ctx.secondPort = await freePort();
  ctx.credPort = await freePort();
  ctx.echoPort = await echoServer(env);
  ctx.hooks = [];
  ctx.hookPort = await hookServer(ctx.hooks);
  ctx.conf = join(env.dir, 'gotunnel.ini');
  ctx.token = 'tok-' + Math.random().toString(36).slice(2);
  writeIni(ctx.conf, [
    [
      'common',
      {
        bind_addr: LOCAL,
        bind_port: ctx.masterPort,
        proxy_bind_addr: LOCAL,
        token: ctx.token,
        allow_ports: `${ctx.demoPort},${ctx.secondPort},${ctx.credPort}`,
        workers: 2,
        data_dir: join(env.dir, 'data'),
        control_socket: join(env.dir, 'ctl.sock'),
        log_level: 'debug',
        heartbeat_timeout: 10,
      },
    ],
    ['admin', { bind_addr: LOCAL, bind_port: ctx.adminPort, assets: DIST, session_ttl: '1h' }],
    ['alert.console', { webhook_url: `http://${LOCAL}:${ctx.hookPort}/hook`, events: 'auth_failures', auth_failures_per_min: 2 }],
  ]);

  ctx.master = env.start('master', [MASTER, '-c', ctx.conf]);
  await waitUntil(async () => {
    if (ctx.master.exited) throw new Error(`master exited (${ctx.master.code}): ${readLog(ctx.master).slice(-800)}`);
    return (await portAccepts(ctx.masterPort)) && existsSync(join(env.dir, 'ctl.sock'));
  }, 30000, 'the master to listen', 300);

  const add = await env.run('ctl-user-add', [CTL, '-c', ctx.conf, 'user', 'add', 'admin'], { stdin: `${PASSWORD}\n${PASSWORD}\n`, timeoutMs: 30000 });
  assert(add.code === 0, `gotunnelctl user add failed (${add.code}): ${add.out.slice(-500)}`);

  ctx.admin = env.start('admin', [ADMIN, '-c', ctx.conf]);
  await waitUntil(async () => {
    if (ctx.admin.exited) throw new Error(`admin exited (${ctx.admin.code}): ${readLog(ctx.admin).slice(-800)}`);
    return (await httpGet(ctx.adminPort, '/healthz')).status === 200;
  }, 30000, 'gotunnel-admin /healthz', 300);
  ctx.base = `http://${LOCAL}:${ctx.adminPort}`;
  ctx.api = await apiSession();

  ctx.demo = startClient('gotunnel-demo', ctx.demoPort);
  await waitForClient('gotunnel-demo', 30000);
  // Traffic through the tunnel, so history and charts have something to show.
  for (let i = 0; i < 3; i++) {
    const r = await echoThrough(env, ctx.demoPort, `hello through the tunnel ${i}\n`.repeat(200));
    assert(r.echoed, 'the tunnel did not echo what was sent');
  }
}

/** A webhook receiver on a free port: pushes each POSTed JSON body to list. */
async function hookServer(list) {
  const port = await freePort();
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        list.push(JSON.parse(Buffer.concat(chunks).toString()));
      } catch {
        list.push({ unparsable: true });
      }
      res.writeHead(200, { 'Content-Length': 0 });
      res.end();
    });
  });
  await new Promise((ok) => srv.listen(port, LOCAL, ok));
  srv.unref();
  return port;
}

/** Sends one register with a wrong token and waits until the master closes. */
function badRegister(port) {
  return new Promise((ok) => {
    const body = Buffer.from(JSON.stringify({ type: 'register', token: 'wrong', name: 'intruder', local_port: 22, remote_port: 0, protocol: 'tcp' }));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    const s = net.connect(port, LOCAL, () => s.write(Buffer.concat([len, body])));
    s.on('data', () => undefined);
    s.on('close', ok);
    s.on('error', ok);
    s.setTimeout(5000, () => s.destroy());
  });
}

/** Starts a gotunnel-client with one mapping "ssh" to the echo server. */
function startClient(name, remotePort, token = ctx.token) {
  const conf = join(env.dir, `${name}.ini`);
  writeIni(conf, [
    ['common', { server_addr: LOCAL, server_port: ctx.masterPort, token, name, heartbeat_interval: 2, heartbeat_timeout: 10 }],
    ['ssh', { type: 'tcp', local_ip: LOCAL, local_port: ctx.echoPort, remote_port: remotePort }],
  ]);
  return env.start(name, [CLIENT, '-c', conf]);
}

/** Logs in to the admin API from the test itself (cookie + CSRF token). */
async function apiSession() {
  const r = await fetch(`${ctx.base}/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  if (r.status !== 200) throw new Error(`API login answered ${r.status}: ${await r.text()}`);
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0];
  const { csrf_token } = await r.json();
  return { cookie, csrf: csrf_token };
}

/** GET an API path with the test's own session. */
async function apiGet(path) {
  const r = await fetch(ctx.base + path, { headers: { Cookie: ctx.api.cookie } });
  assert(r.status === 200, `GET ${path} answered ${r.status}`);
  return r.json();
}

/** The online clients as the admin API sees them. */
async function apiClients() {
  return (await apiGet('/api/clients')).clients ?? [];
}

async function waitForClient(name, timeoutMs) {
  return waitUntil(async () => (await apiClients()).find((c) => c.name === name), timeoutMs, `client ${name} to show in /api/clients`, 300);
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
function portAccepts(port) {
  return new Promise((res) => {
    const s = net.connect(port, LOCAL);
    const done = (v) => {
      s.destroy();
      res(v);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

// ------------------------------------------------------------------ helpers

/** A fresh browser context (no cookies) with a page at the console's size. */
async function newPage(viewport = { width: 1280, height: 800 }) {
  const context = await ctx.browser.newContext({ viewport, acceptDownloads: true, locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => console.log(`# page error: ${e.message}`));
  return { context, page };
}

/** RFC 6238 code (SHA-1, 6 digits) of a base32 secret at a time step. */
function totpCode(b32, step) {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of b32) bits += alpha.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(msg).digest();
  const off = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, '0');
}

/** Logs in through the form (starting at path) and waits to land there. */
async function login(page, path = '/') {
  await page.goto(ctx.base + path);
  await page.waitForURL(/\/login/);
  await page.fill('#username', 'admin');
  await page.fill('#password', PASSWORD);
  await page.click('[data-testid=login-submit]');
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
}

// ------------------------------------------------------------------ tests

async function main() {
  await test('setup: master, admin, demo client and a console user', setup, 120000);
  if (failed) return finish(1);

  ctx.browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-proxy-server',
      '--disable-dev-shm-usage',
    ],
    timeout: 60000,
  });

  await test('every console route redirects to /login without a session', async () => {
    const { context, page } = await newPage();
    ctx.page = page;
    const apiCalls = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith('/api/') && u.pathname !== '/api/me') apiCalls.push(u.pathname);
    });
    for (const route of ['/', '/clients', '/clients/someid', '/sessions?kind=conns', '/audit', '/no-such-page']) {
      await page.goto(ctx.base + route);
      await page.waitForURL(/\/login/);
      await page.waitForSelector('[data-testid=login-card]');
      const u = new URL(page.url());
      assert(u.pathname === '/login', `${route} ended at ${u.pathname}`);
      if (route !== '/') assert(u.searchParams.get('next') === route, `${route}: next=${u.searchParams.get('next')}`);
      assert((await page.locator('table').count()) === 0, `${route}: a table is visible before login`);
    }
    assert(apiCalls.length === 0, `data APIs were called without a session: ${apiCalls.join(', ')}`);
    await shot(page, 'login.png');
    await context.close();
  });

  await test('wrong password shows an error and no data', async () => {
    const { context, page } = await newPage();
    ctx.page = page;
    await page.goto(ctx.base + '/login?next=%2Fclients');
    await page.fill('#username', 'admin');
    await page.fill('#password', 'not-the-password');
    await page.click('[data-testid=login-submit]');
    const err = await page.waitForSelector('[data-testid=login-error]');
    const text = await err.innerText();
    assert(/invalid username or password/i.test(text), `error text: ${text}`);
    assert(new URL(page.url()).pathname === '/login', `left the login page: ${page.url()}`);
    const body = await page.innerText('body');
    assert(!body.includes('gotunnel-demo'), 'client data visible after a failed login');
    const api = await page.evaluate(async () => (await fetch('/api/clients')).status);
    assert(api === 401, `/api/clients answered ${api} after a failed login`);
    ctx.failedLogin = true;
    await shot(page, 'login-error.png');
    await context.close();
  });

  // One logged-in page for the rest.
  const { context, page } = await newPage();
  ctx.page = page;
  ctx.context = context;

  await test('login shows the demo client in /clients', async () => {
    await login(page, '/clients');
    assert(new URL(page.url()).pathname === '/clients', `landed on ${page.url()}`);
    await page.locator('[data-testid=client-name]', { hasText: 'gotunnel-demo' }).waitFor();
    const row = page.locator('tr', { hasText: 'gotunnel-demo' });
    const rowText = await row.innerText();
    assert(rowText.includes(String(ctx.demoPort)), `demo row lacks its port ${ctx.demoPort}: ${rowText}`);
    assert(rowText.includes('127.0.0.1'), `demo row lacks its address: ${rowText}`);
    await page.waitForSelector('[data-testid=live-badge][data-state=live]', { timeout: 15000 });
    await shot(page, 'clients.png');
  });

  if (only.length && !only.some((o) => 'login shows the demo client in /clients'.includes(o))) await login(page, '/clients');

  await test('a second client appears live without reload', async () => {
    await page.evaluate(() => {
      window.__gtNoReload = 'still-here';
    });
    const refreshes = [];
    const onReq = (r) => {
      if (r.isNavigationRequest()) refreshes.push(r.url());
    };
    page.on('request', onReq);
    ctx.second = startClient('browser-second', ctx.secondPort);
    await page.locator('[data-testid=client-name]', { hasText: 'browser-second' }).waitFor({ timeout: 20000 });
    // The toast comes only from the event stream's client_online (not from a poll).
    await page.getByText('Client browser-second came online').first().waitFor({ timeout: 15000 });
    page.off('request', onReq);
    assert((await page.evaluate(() => window.__gtNoReload)) === 'still-here', 'the page was reloaded');
    assert(refreshes.length === 0, `navigations happened: ${refreshes.join(', ')}`);
    await shot(page, 'clients-live.png');
  });

  await test('search and sort in the clients table', async () => {
    const search = page.locator('[data-testid=client-search] input').or(page.locator('input[data-testid=client-search]'));
    await search.first().fill('browser-sec');
    await waitUntil(async () => (await page.locator('[data-testid=client-name]').count()) === 1, 5000, 'one row after search');
    assert((await page.locator('[data-testid=client-name]').innerText()) === 'browser-second', 'search kept the wrong row');
    await search.first().fill(String(ctx.demoPort));
    await waitUntil(async () => (await page.locator('[data-testid=client-name]').allInnerTexts()).join() === 'gotunnel-demo', 5000, 'search by port');
    await search.first().fill('');
    await waitUntil(async () => (await page.locator('[data-testid=client-name]').count()) === 2, 5000, 'both rows back');
    await page.locator('th', { hasText: 'Name' }).first().click(); // ascend -> descend
    const names = await page.locator('[data-testid=client-name]').allInnerTexts();
    assert(names.join() === 'gotunnel-demo,browser-second', `descending order: ${names.join()}`);
  });

  await test('client detail shows mappings and live connections', async () => {
    const held = await echoThrough(env, ctx.demoPort, 'held open\n', { keepOpen: true });
    await page.locator('[data-testid=client-name]', { hasText: 'gotunnel-demo' }).click();
    await page.waitForURL(/\/clients\/.+/);
    await page.waitForSelector('[data-testid=detail-title]');
    const maps = await page.locator('[data-testid=detail-mappings]').innerText();
    assert(maps.includes(`:${ctx.demoPort}`) && maps.includes(`127.0.0.1:${ctx.echoPort}`), `mapping table: ${maps}`);
    const peer = `127.0.0.1:${held.socket.localPort}`;
    await waitUntil(async () => (await page.locator('[data-testid=detail-conns]').innerText()).includes(peer), 15000, `live conn ${peer} in the detail view`);
    await shot(page, 'client-detail.png');
    held.socket.end();
    await waitUntil(async () => !(await page.locator('[data-testid=detail-conns]').innerText()).includes(peer), 15000, 'the closed conn to leave the detail view');
    await page.goto(ctx.base + '/clients');
  });

  await test('mapping switch: disabled refuses public connections, enabled serves again', async () => {
    await page.locator('[data-testid=client-name]', { hasText: 'gotunnel-demo' }).click();
    await page.waitForURL(/\/clients\/.+/);
    const sw = page.locator(`[data-testid=mapping-switch-${ctx.demoPort}]`);
    await sw.waitFor();
    assert((await sw.getAttribute('aria-checked')) === 'true', 'the mapping does not start enabled');
    await sw.click();
    const confirm = page.locator(`[data-testid=confirm-disable-${ctx.demoPort}]`);
    await confirm.waitFor();
    const [off] = await Promise.all([page.waitForResponse((x) => x.url().includes(`/api/mappings/${ctx.demoPort}/disable`)), confirm.click()]);
    assert(off.status() === 200, `disable answered ${off.status()}`);
    await waitUntil(async () => (await sw.getAttribute('aria-checked')) === 'false', 5000, 'the switch to show off');
    // A public connection is now closed at once, without a byte.
    const refused = await new Promise((res) => {
      const s = net.connect(ctx.demoPort, LOCAL);
      env.sockets.push(s);
      let got = 0;
      const t = setTimeout(() => { s.destroy(); res(false); }, 5000);
      s.on('connect', () => s.write('anyone?\n'));
      s.on('data', (d) => { got += d.length; });
      s.on('error', () => {});
      s.on('close', () => { clearTimeout(t); res(got === 0); });
    });
    assert(refused, 'a connection to the disabled mapping was served');
    await shot(page, 'client-detail-mapping-disabled.png');
    const [on] = await Promise.all([page.waitForResponse((x) => x.url().includes(`/api/mappings/${ctx.demoPort}/enable`)), sw.click()]);
    assert(on.status() === 200, `enable answered ${on.status()}`);
    await waitUntil(async () => (await sw.getAttribute('aria-checked')) === 'true', 5000, 'the switch to show on');
    const r = await echoThrough(env, ctx.demoPort, 'back on\n');
    assert(r.echoed, 'the enabled mapping does not echo');
    await page.goto(ctx.base + '/clients');
  });

  await test('disconnect (with confirmation) removes the client', async () => {
    await page.locator('[data-testid=client-name]', { hasText: 'browser-second' }).waitFor();
    await page.click('[data-testid=disconnect-browser-second]');
    const confirm = page.locator('[data-testid=confirm-disconnect]');
    await confirm.waitFor();
    assert((await page.locator('[data-testid=client-name]', { hasText: 'browser-second' }).count()) === 1, 'gone before confirming');
    const [r] = await Promise.all([page.waitForResponse((x) => x.url().includes('/disconnect')), confirm.click()]);
    assert(r.status() === 200, `disconnect answered ${r.status()}`);
    // The kicked client reconnects by itself after its back-off; the row must go first.
    await waitUntil(async () => (await page.locator('[data-testid=client-name]', { hasText: 'browser-second' }).count()) === 0, 5000, 'browser-second to leave the table', 50);
    ctx.kicked = true;
    await shot(page, 'clients-after-disconnect.png');
    await env.stop(ctx.second);
    await sleep(500);
  });

  await test('/sessions filters and the CSV download', async () => {
    await page.goto(ctx.base + '/sessions');
    await page.waitForSelector('[data-testid=history-table] .ant-table-row');
    // The real master published its (default) retention; the page says it.
    const kept = await page.locator('[data-testid=retention]').innerText({ timeout: 10000 });
    assert(kept === 'kept 90 days, up to 10,000,000 records', `retention line: ${kept}`);
    await page.fill('[data-testid=filter-name]', 'gotunnel-demo');
    await page.click('[data-testid=filter-apply]');
    await page.waitForURL(/name=gotunnel-demo/);
    const tableRows = page.locator('[data-testid=history-table] .ant-table-row');
    await waitUntil(async () => {
      const rows = await tableRows.allInnerTexts();
      return rows.length >= 1 && rows.every((r) => r.includes('gotunnel-demo'));
    }, 10000, 'only gotunnel-demo rows in the filtered history');
    await shot(page, 'sessions.png');

    await page.hover('[data-testid=export-button]');
    const dl = page.waitForEvent('download');
    await page.click('[data-testid=export-csv]');
    const d = await dl;
    const file = join(env.dir, 'export.csv');
    await d.saveAs(file);
    assert(d.suggestedFilename() === 'gotunnel-sessions.csv', `filename ${d.suggestedFilename()}`);
    const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/);
    assert(lines[0] === 'id,client_id,name,address,start,end,status,reason,ports,bytes_in,bytes_out', `CSV header: ${lines[0]}`);
    assert(lines.length >= 2, 'CSV has no data row');
    const nameCol = lines[0].split(',').indexOf('name');
    for (const l of lines.slice(1)) assert(l.split(',')[nameCol] === 'gotunnel-demo', `CSV row not filtered: ${l}`);
    if (ctx.kicked) {
      const kicked = await page.evaluate(async () => (await (await fetch('/api/sessions?name=browser-second&status=closed')).json()).total);
      assert(kicked >= 1, 'no closed session of the kicked client in the history');
    }

    // The NDJSON link carries the same filters.
    const nd = await page.evaluate(async () => {
      const a = document.querySelector('[data-testid=export-ndjson]');
      const href = a ? a.getAttribute('href') : '/api/sessions/export?format=ndjson&name=gotunnel-demo';
      return { href, text: await (await fetch(href)).text() };
    });
    assert(nd.href.includes('name=gotunnel-demo'), `NDJSON link: ${nd.href}`);
    const objs = nd.text.trim().split('\n').map((l) => JSON.parse(l));
    assert(objs.length === lines.length - 1 && objs.every((o) => o.name === 'gotunnel-demo'), `NDJSON: ${nd.text.slice(0, 300)}`);

    // Status and time range go to the server too.
    if (ctx.kicked) {
      await page.goto(ctx.base + '/sessions?status=closed');
      await waitUntil(async () => {
        const rows = await tableRows.allInnerTexts();
        return rows.length >= 1 && rows.every((r) => r.includes('closed') && !r.includes('gotunnel-demo'));
      }, 10000, 'only closed sessions (the kicked client)');
    }
    const future = Math.floor(Date.now() / 1000) + 3600;
    await page.goto(ctx.base + `/sessions?from=${future}`);
    await page.getByText('No record matches these filters').waitFor();

    // Public connections of the demo port, filtered on the server.
    await page.goto(ctx.base + `/sessions?kind=conns&port=${ctx.demoPort}`);
    await waitUntil(async () => {
      const conns = await tableRows.allInnerTexts();
      return conns.length >= 3 && conns.every((r) => r.includes(`:${ctx.demoPort}`));
    }, 10000, `>= 3 public connections of :${ctx.demoPort}`);
    await shot(page, 'sessions-conns.png');
  });

  await test('overview charts render with data (1h, 24h, 7d)', async () => {
    await page.goto(ctx.base + '/');
    await page.waitForSelector('[data-testid=chart-clients] .recharts-area-area');
    await waitUntil(async () => Number((await page.locator('[data-testid=stat-online] .ant-statistic-content-value').innerText()).trim()) >= 1, 10000, 'online clients >= 1');
    for (const id of ['chart-clients', 'chart-traffic']) {
      const d = await page.locator(`[data-testid=${id}] .recharts-area-curve`).first().getAttribute('d');
      assert(d && d.length > 10, `${id} has no drawn curve`);
    }
    // Axes scale to the data: traffic went through the tunnel, a client was online.
    const ticks = async (id) => page.locator(`[data-testid=${id}] .recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value`).allTextContents();
    const tTicks = await ticks('chart-traffic');
    assert(tTicks.some((x) => /[1-9]/.test(x)), `traffic axis has no non-zero tick: ${tTicks.join(', ')}`);
    const cTicks = (await ticks('chart-clients')).map(Number);
    assert(Math.max(...cTicks) >= 1, `online clients axis: ${cTicks.join(', ')}`);
    const traffic = await page.locator('[data-testid=stat-traffic]').innerText();
    assert(!/^0 B/m.test(traffic.split('\n')[1] ?? ''), `traffic today: ${traffic}`);
    await shot(page, 'overview.png');
    for (const r of ['24h', '7d']) {
      const [resp] = await Promise.all([
        page.waitForResponse((x) => x.url().includes(`/api/stats?range=${r}`)),
        page.locator('[data-testid=range-switch]').getByText(r, { exact: true }).click(),
      ]);
      assert(resp.status() === 200, `stats ${r}`);
      // Drawn (attached), though a flat zero line has no visible area.
      await page.waitForSelector('[data-testid=chart-clients] .recharts-area-curve', { state: 'attached' });
      await page.waitForSelector('[data-testid=chart-traffic] .recharts-area-curve', { state: 'attached' });
    }
    await shot(page, 'overview-7d.png');
  });

  await test('audit log lists logins and the disconnect', async () => {
    await page.goto(ctx.base + '/audit');
    await page.waitForSelector('[data-testid=audit-table] .ant-table-row');
    const text = await page.locator('[data-testid=audit-table]').innerText();
    assert(text.includes('login') && text.includes('ok'), `audit lacks the login: ${text.slice(0, 400)}`);
    if (ctx.failedLogin) assert(text.includes('failed'), `audit lacks the failed login: ${text.slice(0, 400)}`);
    if (ctx.kicked) assert(text.includes('disconnect'), `audit lacks the disconnect: ${text.slice(0, 400)}`);
    await shot(page, 'audit.png');
  });

  await test('alerts page shows the alert a burst of bad tokens raised', async () => {
    for (let i = 0; i < 4; i++) await badRegister(ctx.masterPort);
    await waitUntil(async () => ctx.hooks.some((h) => h.alert === 'auth_failures' && h.state === 'firing'), 15000, 'the firing webhook', 200);
    await page.goto(ctx.base + '/');
    await page.locator('[data-testid=nav-menu]').getByText('Alerts', { exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/alerts');
    await page.waitForSelector('[data-testid=alerts-table] .ant-table-row');
    const text = await page.locator('[data-testid=alerts-table]').innerText();
    assert(text.includes('Auth failures') && text.includes('127.0.0.1') && text.includes('firing'), `alerts page: ${text.slice(0, 400)}`);
    assert((await page.locator('[data-testid=alerts-firing]').innerText()).includes('1 firing'), 'no firing count');
    await shot(page, 'alerts.png');
  });

  await test('a viewer with two-factor login sees no disconnect button', async () => {
    const pw = 'viewer-' + Math.random().toString(36).slice(2);
    const add = await env.run('ctl-user-viewer', [CTL, '-c', ctx.conf, 'user', 'add', 'looker', '--role', 'viewer'], { stdin: `${pw}\n`, timeoutMs: 30000 });
    assert(add.code === 0, `user add --role viewer failed: ${add.out.slice(-300)}`);
    const enrol = await env.run('ctl-user-totp', [CTL, '-c', ctx.conf, 'user', 'totp', 'looker'], { timeoutMs: 30000 });
    assert(enrol.code === 0, `user totp failed (${enrol.code}): ${enrol.out.slice(-300)}`);
    // The log file may trail the exit by a moment: wait for the URI in it.
    const uri = /otpauth:\/\/totp\/gotunnel:looker\?secret=([A-Z2-7]+)&issuer=gotunnel/;
    const enrolLog = { logPath: join(env.dir, 'ctl-user-totp.log') };
    await waitUntil(async () => uri.test(readLog(enrolLog)), 5000, 'the otpauth URI in the output of user totp', 50);
    const m = uri.exec(readLog(enrolLog));
    const { context: vctx, page: vp } = await newPage();
    await vp.goto(ctx.base + '/clients');
    await vp.waitForURL(/\/login/);
    await vp.fill('#username', 'looker');
    await vp.fill('#password', pw);
    await vp.click('[data-testid=login-submit]');
    // The server asks for the code; the field appears.
    await vp.waitForSelector('[data-testid=otp-prompt]');
    await vp.fill('#otp', totpCode(m[1], Math.floor(Date.now() / 1000 / 30)));
    await vp.click('[data-testid=login-submit]');
    await vp.waitForURL((u) => u.pathname === '/clients');
    await vp.locator('[data-testid=client-name]', { hasText: 'gotunnel-demo' }).first().waitFor();
    await vp.locator('tr', { hasText: 'gotunnel-demo' }).first().waitFor();
    assert((await vp.locator('[data-testid^=disconnect-]').count()) === 0, 'a viewer sees a disconnect button');
    assert((await vp.getByRole('button', { name: 'Disconnect' }).count()) === 0, 'a viewer sees a Disconnect button');
    await shot(vp, 'clients-viewer.png');
    // The detail page offers none either, and the server refuses anyway.
    await vp.locator('[data-testid=client-name]', { hasText: 'gotunnel-demo' }).first().click();
    await vp.waitForURL(/\/clients\/.+/);
    await vp.getByText('gotunnel-demo').first().waitFor();
    assert((await vp.getByRole('button', { name: 'Disconnect' }).count()) === 0, 'detail page offers a viewer Disconnect');
    const status = await vp.evaluate(async () => {
      const me = await (await fetch('/api/me')).json();
      const id = location.pathname.split('/').pop();
      const r = await fetch(`/api/clients/${id}/disconnect`, { method: 'POST', headers: { 'X-CSRF-Token': me.csrf_token } });
      return [me.role, r.status, (await r.json()).error];
    });
    assert(status.join() === 'viewer,403,forbidden', `viewer disconnect: ${status}`);
    // The audit page filters on the server: only the refused call.
    await vp.goto(ctx.base + '/audit');
    await vp.waitForSelector('[data-testid=audit-table] .ant-table-row');
    await vp.click('[data-testid=audit-action]');
    const [req] = await Promise.all([
      vp.waitForRequest((r) => r.url().includes('/api/audit') && r.url().includes('action=forbidden')),
      vp.locator('.ant-select-item-option', { hasText: /^forbidden$/ }).click(),
    ]);
    assert(req, 'no filtered audit request');
    await waitUntil(async () => {
      const t = await vp.locator('[data-testid=audit-table]').innerText();
      return t.includes('forbidden') && t.includes('looker') && !t.includes('logout');
    }, 10000, 'the forbidden audit row', 100);
    await shot(vp, 'audit-forbidden.png');
    // Its console sessions: only its own, this browser marked.
    await vp.goto(ctx.base + '/admin-sessions');
    await vp.waitForSelector('[data-testid=admin-sessions-table] .ant-table-row');
    const rows = await vp.locator('[data-testid=admin-sessions-table] .ant-table-row').allInnerTexts();
    assert(rows.length >= 1 && rows.every((r) => r.includes('looker')), `viewer sees others' sessions: ${rows}`);
    assert(rows.some((r) => r.includes('this browser')), `no current session marked: ${rows}`);
    await shot(vp, 'admin-sessions-viewer.png');
    await vp.close();
    await vctx.close();
  });

  await test('credentials: add, see the secret once, revoke (with confirmation)', async () => {
    await page.goto(ctx.base + '/credentials');
    await page.locator('[data-testid=tokens-table]').waitFor();
    await page.click('[data-testid=token-add]');
    await page.fill('[data-testid=token-form-name]', 'browser-cred');
    await page.fill('[data-testid=token-form-ports]', String(ctx.credPort));
    await page.fill('[data-testid=token-form-expires]', '30d');
    const [r] = await Promise.all([
      page.waitForResponse((x) => x.url().endsWith('/api/tokens') && x.request().method() === 'POST'),
      page.click('[data-testid=token-add-ok]'),
    ]);
    assert(r.status() === 201, `POST /api/tokens answered ${r.status()}`);
    const secret = (await page.locator('[data-testid=token-secret]').innerText()).trim();
    assert(/^[A-Za-z0-9_-]{43}$/.test(secret), `secret shown: ${secret}`);
    assert((await page.locator('[data-testid=token-secret] .ant-typography-copy').count()) === 1, 'no copy button');
    await shot(page, 'credentials-secret.png');
    await page.click('[data-testid=secret-done]');
    await waitUntil(async () => (await page.locator('[data-testid=token-secret]').count()) === 0, 5000, 'the secret to leave the page');
    await page.locator('[data-testid=token-name]', { hasText: 'browser-cred' }).waitFor();
    assert(!(await page.content()).includes(secret), 'the secret is still in the page');
    await page.reload();
    await page.locator('[data-testid=token-name]', { hasText: 'browser-cred' }).waitFor();
    assert(!(await page.content()).includes(secret), 'the secret came back after a reload');
    const row = await page.locator('tr', { hasText: 'browser-cred' }).innerText();
    assert(row.includes(String(ctx.credPort)) && row.includes('active') && row.includes('not yet'), `row: ${row}`);

    // A client with the secret connects; the revoke disconnects it at once.
    ctx.credClient = startClient('browser-cred-client', ctx.credPort, secret);
    const c = await waitForClient('browser-cred-client', 20000);
    assert(c.credential === 'browser-cred', `credential of the client: ${c.credential}`);
    await page.click('[data-testid=revoke-browser-cred]');
    const confirm = page.locator('[data-testid=confirm-revoke]');
    await confirm.waitFor();
    assert((await apiClients()).some((x) => x.name === 'browser-cred-client'), 'revoked before confirming');
    const [d] = await Promise.all([page.waitForResponse((x) => x.request().method() === 'DELETE'), confirm.click()]);
    assert(d.status() === 200, `DELETE answered ${d.status()}`);
    await waitUntil(async () => !(await apiClients()).some((x) => x.name === 'browser-cred-client'), 2000,
      'the revoked client to be disconnected', 100);
    await waitUntil(async () => (await page.locator('tr', { hasText: 'browser-cred' }).innerText()).includes('revoked'), 5000, 'the revoked state');
    await shot(page, 'credentials-revoked.png');
    await env.stop(ctx.credClient);
  });

  await test('language switch to Chinese and back', async () => {
    await page.goto(ctx.base + '/clients');
    await page.locator('[data-testid=lang-switch]').getByText('中文').click();
    await page.getByText('在线客户端').first().waitFor();
    await shot(page, 'clients-zh.png');
    await page.locator('[data-testid=lang-switch]').getByText('EN').click();
    await page.getByText('Online clients').first().waitFor();
  });

  await test('phone width: navigation drawer, no horizontal overflow', async () => {
    const state = await context.storageState();
    const phone = await ctx.browser.newContext({ viewport: { width: 390, height: 844 }, storageState: state, isMobile: true, hasTouch: true });
    const p = await phone.newPage();
    ctx.page = p;
    for (const [path, file, sel] of [
      ['/', 'overview-phone.png', '[data-testid=chart-clients] .recharts-area-area'],
      ['/clients', 'clients-phone.png', '[data-testid=client-name]'],
      ['/sessions', 'sessions-phone.png', '[data-testid=history-table] .ant-table-row'],
    ]) {
      await p.goto(ctx.base + path);
      await p.waitForSelector(sel);
      const over = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(over <= 1, `${path} overflows the phone width by ${over}px`);
      await shot(p, file);
    }
    await p.click('[data-testid=menu-button]');
    await p.getByRole('link', { name: 'History' }).waitFor();
    await shot(p, 'nav-phone.png');
    await phone.close();
    ctx.page = page;
  });

  await test('admin restart: the console shows the outage and recovers by itself', async () => {
    await page.goto(ctx.base + '/clients');
    await page.locator('[data-testid=client-name]', { hasText: 'gotunnel-demo' }).waitFor();
    await page.waitForSelector('[data-testid=live-badge][data-state=live]');
    await env.stop(ctx.admin);
    await page.waitForSelector('[data-testid=live-badge]:not([data-state=live])', { timeout: 15000 });
    await page.click('[data-testid=clients-refresh]');
    await page.waitForSelector('[data-testid=stale-banner]');
    assert((await page.locator('[data-testid=client-name]').count()) >= 1, 'the last data vanished during the outage');
    await shot(page, 'admin-down.png');
    ctx.admin = env.start('admin-restarted', [ADMIN, '-c', ctx.conf]);
    await waitUntil(async () => (await httpGet(ctx.adminPort, '/healthz')).status === 200, 30000, 'gotunnel-admin to come back', 300);
    // The stream reconnects by itself (the browser's retry or our back-off).
    await waitUntil(async () => {
      const st = await page.getAttribute('[data-testid=live-badge]', 'data-state');
      if (st === 'stopped') await page.click('[data-testid=live-badge]');
      return st === 'live';
    }, 45000, 'the live stream to reconnect', 500);
    await page.click('[data-testid=clients-refresh]');
    await page.waitForSelector('[data-testid=stale-banner]', { state: 'detached' });
  }, 120000);

  await test('a session that ends on the server sends the user to /login and back', async () => {
    await page.goto(ctx.base + '/clients');
    await page.locator('[data-testid=client-name]', { hasText: 'gotunnel-demo' }).waitFor();
    const cookies = await context.cookies();
    await context.clearCookies(); // as if the session expired
    await page.click('[data-testid=clients-refresh]');
    await page.waitForURL(/\/login\?next=%2Fclients/);
    await page.waitForSelector('[data-testid=login-card]');
    assert((await page.locator('[data-testid=client-name]').count()) === 0, 'client data still visible after the 401');
    await context.addCookies(cookies);
    await page.fill('#username', 'admin');
    await page.fill('#password', PASSWORD);
    await page.click('[data-testid=login-submit]');
    await page.waitForURL((u) => u.pathname === '/clients');
    await page.locator('[data-testid=client-name]', { hasText: 'gotunnel-demo' }).waitFor();
  });

  await test('logout ends the session', async () => {
    await page.click('[data-testid=user-menu]');
    await page.getByText('Log out').click();
    await page.waitForURL(/\/login/);
    await page.goto(ctx.base + '/clients');
    await page.waitForURL(/\/login\?next=%2Fclients/);
    const api = await page.evaluate(async () => (await fetch('/api/clients')).status);
    assert(api === 401, `/api/clients answered ${api} after logout`);
  });

  await finish(0);
}

// A stray promise of a failed test must not end the run without its summary.
process.on('unhandledRejection', (e) => console.log(`# unhandled rejection: ${e?.message ?? e}`));

main().catch(async (e) => {
  console.log(`FAIL - run: ${e.stack ?? e}`);
  failed++;
  await finish(1);
});


