// SPDX-License-Identifier: ISC
// The console's Nodes page in Debian's headless Chromium, against a real
// admin of a real cluster (driven by t/cluster/run.py, which owns the
// processes).  Protocol on stdout/stdin, one line each:
//   -> "ONLINE m1,m2,m3"   the page lists every node of argv online
//   <- "KILLED m3"         the test killed that node's master tree
//   -> "OFFLINE m3"        the page shows it offline, the others online
//   -> "FAIL reason"       anything else (exit 1)
// Usage: node nodes_page.mjs BASE_URL USER PASSWORD NODES SHOT_DIR
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const [base, user, password, nodeList, shotDir] = process.argv.slice(2);
const nodes = nodeList.split(',');
const require = createRequire(join(ROOT, 'frontend', 'package.json'));
const { chromium } = require('playwright-core');

// A hung browser must not hang the suite.
const watchdog = setTimeout(() => {
  console.log('FAIL the browser test ran for more than 120s');
  process.exit(1);
}, 120000);

/** Resolves to the next line the test writes on stdin. */
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((res) => lines.once('line', res));

/** The status tag text of node name's row ('' while it is not shown). */
async function statusOf(page, name) {
  const tag = page.locator(`tr[data-row-key="${name}"] [data-testid^=node-status-]`);
  if ((await tag.count()) !== 1) return '';
  return (await tag.getAttribute('data-testid')).replace('node-status-', '');
}

/** Waits until every node's status is what want(name) says (bounded). */
async function waitStatuses(page, want, ms) {
  const deadline = Date.now() + ms;
  let seen = {};
  while (Date.now() < deadline) {
    seen = {};
    for (const n of nodes) seen[n] = await statusOf(page, n);
    if (nodes.every((n) => seen[n] === want(n))) return;
    await page.waitForTimeout(250);
  }
  throw new Error(`statuses on the page: ${JSON.stringify(seen)}`);
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-proxy-server', '--disable-dev-shm-usage'],
    timeout: 60000,
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(30000);
  await page.goto(base + '/');
  await page.waitForURL(/\/login/);
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.click('[data-testid=login-submit]');
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  // The menu has Nodes only in cluster mode: open the page through it.
  await page.click('a[href="/nodes"]');
  await page.waitForURL((u) => u.pathname === '/nodes');
  await page.waitForSelector('[data-testid=nodes-table]');
  await waitStatuses(page, () => 'online', 30000);
  await page.screenshot({ path: join(shotDir, 'nodes-online.png'), fullPage: true });
  console.log('ONLINE ' + nodes.join(','));
  const killed = (await nextLine()).replace(/^KILLED /, '');
  // The page polls every 5 s; the node is offline node_timeout after its last beat.
  await waitStatuses(page, (n) => (n === killed ? 'offline' : 'online'), 45000);
  await page.screenshot({ path: join(shotDir, 'nodes-offline.png'), fullPage: true });
  console.log('OFFLINE ' + killed);
  await browser.close();
  clearTimeout(watchdog);
  process.exit(0);
} catch (e) {
  console.log('FAIL ' + String(e.message ?? e).split('\n')[0]);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
