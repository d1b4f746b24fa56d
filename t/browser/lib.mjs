// SPDX-License-Identifier: ISC
// Harness of the browser tests: temp dirs, free ports, real gotunnel processes on
// 127.0.0.1, bounded waits, and clean shutdown of everything started here.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LOCAL = '127.0.0.1';

/** Sleeps ms milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Calls fn until it returns a truthy value or timeoutMs passes (then throws). */
export async function waitUntil(fn, timeoutMs, what, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (let i = 0; i < 100000; i++) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
}

const handedOut = new Set();

/** A TCP port on 127.0.0.1 that was free a moment ago and not handed out before. */
export async function freePort() {
  for (let i = 0; i < 100; i++) {
    const p = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, LOCAL, () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    });
    if (!handedOut.has(p)) {
      handedOut.add(p);
      return p;
    }
  }
  throw new Error('no free port');
}

/** Writes an INI file from [[section, {key: value}], ...]. */
export function writeIni(path, sections) {
  const lines = [];
  for (const [name, kv] of sections) {
    lines.push(`[${name}]`);
    for (const [k, v] of Object.entries(kv)) lines.push(`${k} = ${v}`);
    lines.push('');
  }
  writeFileSync(path, lines.join('\n'));
}

/** The processes and servers one run started; stop() ends them all. */
export class Env {
  constructor(prefix = 'gt-browser-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.procs = [];
    this.servers = [];
    this.sockets = [];
  }

  /** Starts argv[0] with its output in dir/name.log; resolves to a Proc. */
  start(name, argv, { stdin } = {}) {
    const logPath = join(this.dir, `${name}.log`);
    const log = createWriteStream(logPath, { flags: 'a' });
    log.write(`=== start ${new Date().toISOString()}: ${argv.join(' ')}\n`);
    const child = spawn(argv[0], argv.slice(1), {
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true, // own process group: stop() signals the whole group
      env: { ...process.env, NO_PROXY: '*', no_proxy: '*' },
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    if (stdin !== undefined) {
      child.stdin.end(stdin);
    }
    const proc = { name, child, logPath, exited: false, code: null };
    proc.done = new Promise((resolve) => {
      child.on('exit', (code, sig) => {
        proc.exited = true;
        proc.code = code ?? sig;
        resolve(proc.code);
      });
      child.on('error', (e) => {
        proc.exited = true;
        proc.code = String(e.message);
        resolve(proc.code);
      });
    });
    this.procs.push(proc);
    return proc;
  }

  /** Runs a command to its end (bounded); resolves {code, out}. */
  async run(name, argv, { stdin, timeoutMs = 30000 } = {}) {
    const p = this.start(name, argv, { stdin });
    const t = setTimeout(() => this.kill(p, 'SIGKILL'), timeoutMs);
    const code = await p.done;
    clearTimeout(t);
    return { code, out: readLog(p) };
  }

  /** Signals a process group. */
  kill(p, sig = 'SIGTERM') {
    if (p.exited) return;
    try {
      process.kill(-p.child.pid, sig);
    } catch {
      try {
        p.child.kill(sig);
      } catch {
        /* already gone */
      }
    }
  }

  /** Stops one process: SIGTERM, then SIGKILL after graceMs. */
  async stop(p, graceMs = 5000) {
    if (p.exited) return;
    this.kill(p, 'SIGTERM');
    const t = setTimeout(() => this.kill(p, 'SIGKILL'), graceMs);
    await Promise.race([p.done, sleep(graceMs + 2000)]);
    clearTimeout(t);
  }

  /** Stops everything this run started, newest first. */
  async stopAll() {
    for (const s of this.sockets) s.destroy();
    for (const s of this.servers) s.close();
    await Promise.all(this.procs.slice().reverse().map((p) => this.stop(p)));
  }
}

/** The whole log of a process so far. */
export function readLog(p) {
  try {
    return readFileSync(p.logPath, 'utf8');
  } catch {
    return '';
  }
}

/** A TCP echo server on 127.0.0.1 (the client's "local service"). */
export async function echoServer(env) {
  const srv = net.createServer((c) => {
    c.on('error', () => undefined);
    c.pipe(c);
  });
  await new Promise((r) => srv.listen(0, LOCAL, r));
  env.servers.push(srv);
  return srv.address().port;
}

/** Connects to port, sends data, waits for the echo; keepOpen leaves the socket open. */
export async function echoThrough(env, port, data, { keepOpen = false, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, LOCAL);
    env.sockets.push(s);
    let got = Buffer.alloc(0);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no echo from :${port} within ${timeoutMs} ms (got ${got.length} bytes)`));
    }, timeoutMs);
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on('connect', () => s.write(data));
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= data.length) {
        clearTimeout(t);
        if (!keepOpen) s.end();
        resolve({ socket: s, echoed: got.equals(Buffer.from(data)) });
      }
    });
  });
}

/** GET http://127.0.0.1:port/path; resolves {status, body}. */
export async function httpGet(port, path, timeoutMs = 3000) {
  const ctrl = new AbortController();
  const t = setTimeout(() => ctrl.abort(), timeoutMs);
  try {
    const r = await fetch(`http://${LOCAL}:${port}${path}`, { signal: ctrl.signal });
    return { status: r.status, body: await r.text() };
  } finally {
    clearTimeout(t);
  }
}

/** True when every path exists. */
export function haveAll(paths) {
  return paths.filter((p) => !existsSync(p));
}
