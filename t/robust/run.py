#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Faults and abuse against the real binaries (gotunnel's robustness suite).

usage: python3 t/robust/run.py [-k] [NAME-FILTER ...]
  GOTUNNEL_BIN  master, client, gotunnelctl (default bin; make check uses build-san/bin)
  ADMIN_BIN     gotunnel-admin and its module (default bin)
  -k            keep the temp dirs of failed tests

Each test injects one fault or attack and measures what held.  Needs root:
it mounts a small tmpfs, lowers the master's descriptor limit with prlimit,
and builds a network namespace with a veth pair (addresses in 10.213.0.0/16
on those veths only).  Delay and loss are emulated by a relay in this
process (this kernel has no tc netem).  Every loop is bounded in count and
time.  Prints one table (fault, what was sent, what held, result) and
`N passed, N failed`.
"""

import http.client
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import lib  # noqa: E402
from lib import (LOCAL, check, connect, echo_roundtrip, fail, port_refuses,  # noqa: E402
                 read_until_close, tunnel_works, wait_until)

ADMIN_BIN = os.path.abspath(os.environ.get("ADMIN_BIN", "bin"))
PASSWORD = "robust-test-password"
CLK = os.sysconf("SC_CLK_TCK")
TESTS = []


def rtest(timeout=120):
    """Decorator: register fn(env) -> (sent, held) as a robustness test."""
    def deco(fn):
        TESTS.append((fn.__name__.replace("test_", "", 1), fn, timeout))
        return fn
    return deco


def sh(*argv, check_rc=True, timeout=30):
    """Runs a system command (ip, mount, mdb_stat); returns stdout."""
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check_rc and r.returncode != 0:
        fail("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()[-300:]))
    return r.stdout


# ---------------------------------------------------------------- measuring

def tree_pids(root):
    """root and all its descendants (from /proc)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo and len(out) < 10000:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def tree_ticks(root):
    """CPU ticks (user + system) used so far by root's process tree."""
    n = 0
    for p in tree_pids(root):
        try:
            with open("/proc/%d/stat" % p) as f:
                v = f.read().rsplit(")", 1)[1].split()
            n += int(v[11]) + int(v[12])
        except (OSError, IndexError, ValueError):
            pass
    return n


def tree_cpu(root, seconds):
    """Percent of one core root's tree used over the next seconds."""
    t0, c0 = time.monotonic(), tree_ticks(root)
    time.sleep(seconds)
    return 100.0 * (tree_ticks(root) - c0) / CLK / (time.monotonic() - t0)


def tree_rss_kib(root):
    """Resident memory of root's tree in KiB."""
    n = 0
    for p in tree_pids(root):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        n += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return n


def relay_buffer_bytes(m):
    """Sum of gotunnel_relay_buffer_bytes over the workers (gotunnelctl stats)."""
    rc, out, err = m.ctl("stats")
    check(rc == 0, "gotunnelctl stats: %s" % err)
    n = 0
    for line in out.splitlines():
        if line.startswith("gotunnel_relay_buffer_bytes{"):
            n += int(float(line.split()[-1]))
    return n


def mdb_check(data_dir):
    """mdb_stat over every table: exit 0 and the table count, or fail."""
    out = sh("mdb_stat", "-a", "-e", data_dir)
    tables = out.count("Status of ")
    check(tables >= 5, "mdb_stat -a lists %d tables: %r" % (tables, out[:300]))
    return tables


def log_wait(proc, text, timeout, since=0):
    """Waits until text appears in proc's log after offset since; returns the time."""
    t0 = time.monotonic()
    wait_until(lambda: text in proc.log()[since:], timeout, "%r in %s's log" % (text, proc.name),
               interval=0.1)
    return time.monotonic() - t0


# ---------------------------------------------------------------- helpers

class HoldServer:
    """A local service that accepts and keeps connections, reading nothing
    (stall=True) or sending data without reading (blast=True)."""

    def __init__(self, blast=False, host=LOCAL):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.blast = blast
        self.dropping = False
        self.conns = []
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        self.sock.settimeout(0.2)
        chunk = b"x" * 65536
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
                if self.dropping:
                    c.close()
                    continue
                c.setblocking(False)
                self.conns.append(c)
            except OSError:
                pass
            if self.blast:
                for c in self.conns:
                    for _ in range(64):     # bounded per round
                        try:
                            c.send(chunk)
                        except OSError:
                            break

    def drop(self):
        """Closes the connections held so far and from now on closes each
        new one at once (a plain service whose users leave)."""
        self.dropping = True
        conns, self.conns = self.conns, []
        for c in conns:
            lib.quiet_close(c)

    def close(self):
        self.stop.set()
        self.t.join(5)
        self.drop()
        self.sock.close()


def start_master(env, prefix=(), **cfg):
    """A master started through a command prefix (prlimit, ...)."""
    m = env.master(start=False, **cfg)
    m.write()
    m.proc = lib.Proc(m.name, list(prefix) + [lib.MASTER, "-c", m.conf], m.log_path)
    env.procs.append(m.proc)
    m.wait_ready(30)
    return m


def start_client(env, m, maps, prefix=(), **cfg):
    """A client started through a command prefix (ip netns exec ...)."""
    c = env.client(m, maps, start=False, **cfg)
    c.write()
    c.proc = lib.Proc(c.name, list(prefix) + [lib.CLIENT, "-c", c.conf], c.log_path)
    env.procs.append(c.proc)
    return c


class Admin:
    """gotunnel-admin on the master's config, with one user."""

    def __init__(self, env, m):
        self.env, self.m = env, m
        self.port = lib.free_port()
        self.www = os.path.join(env.dir, "www")
        os.makedirs(self.www, exist_ok=True)
        with open(os.path.join(self.www, "index.html"), "w") as f:
            f.write("<!doctype html><title>gotunnel</title>")
        common = m.cfg
        lib.write_ini(m.conf, [("common", common), ("admin", {
            "bind_addr": LOCAL, "bind_port": self.port, "session_ttl": "1h",
            "assets": self.www})])
        r = subprocess.run([lib.CTL, "-c", m.conf, "user", "add", "admin"],
                           input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "user add: %s" % r.stderr)
        self.log_path = os.path.join(env.dir, "admin.log")
        self.start()

    def start(self):
        self.proc = lib.Proc("admin", [os.path.join(ADMIN_BIN, "gotunnel-admin"), "-c",
                                       self.m.conf], self.log_path)
        self.env.procs.append(self.proc)
        wait_until(lambda: self.get("/healthz", timeout=2)[0] == 200, 30, "admin to answer")

    def get(self, path, cookie=None, timeout=10):
        """(status, parsed JSON or None); (0, None) when it does not answer."""
        try:
            c = http.client.HTTPConnection(LOCAL, self.port, timeout=timeout)
            h = {"Cookie": "gt_session=" + cookie} if cookie else {}
            c.request("GET", path, headers=h)
            r = c.getresponse()
            body = r.read()
            c.close()
        except OSError:
            return 0, None
        try:
            return r.status, json.loads(body)
        except ValueError:
            return r.status, None

    def login(self):
        c = http.client.HTTPConnection(LOCAL, self.port, timeout=30)
        c.request("POST", "/api/login", body=json.dumps({"username": "admin", "password": PASSWORD}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        check(r.status == 200, "admin login: %d" % r.status)
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("gt_session="):
                return v.split(";")[0].split("=", 1)[1]
        fail("admin login set no cookie")

    def worker_pids(self):
        return [p for p in tree_pids(self.proc.pid) if p != self.proc.pid]


class Load:
    """A long transfer through a tunnel plus short connections (history
    writes), in threads, until stop(); counts what failed."""

    def __init__(self, port):
        self.port = port
        self.halt = threading.Event()
        self.moved = 0
        self.short_ok = 0
        self.errors = 0
        self.ts = [threading.Thread(target=self._long, daemon=True),
                   threading.Thread(target=self._short, daemon=True)]
        for t in self.ts:
            t.start()

    def _long(self):
        for _ in range(1000):           # reconnects after a kill, bounded
            if self.halt.is_set():
                return
            try:
                s = connect(self.port, timeout=3)
                block = os.urandom(65536)
                for _ in range(100000):
                    if self.halt.is_set():
                        break
                    s.sendall(block)
                    got = 0
                    while got < len(block):
                        d = s.recv(len(block) - got)
                        if not d:
                            raise OSError("closed")
                        got += len(d)
                    self.moved += len(block)
                s.close()
            except OSError:
                self.errors += 1
                time.sleep(0.2)

    def _short(self):
        for _ in range(100000):
            if self.halt.is_set():
                return
            try:
                echo_roundtrip(self.port, b"h" * 100, timeout=3)
                self.short_ok += 1
            except (OSError, EOFError, AssertionError):
                self.errors += 1
                time.sleep(0.2)

    def stop(self):
        self.halt.set()
        for t in self.ts:
            t.join(10)


def echo_setup(env, **mcfg):
    """Master + client + echo service; returns (master, client, public port)."""
    svc = env.service()
    mcfg.setdefault("heartbeat_timeout", 5)
    m = env.master(**mcfg)
    p = env.ports[0]
    c = env.client(m, [{"name": "echo", "local_port": svc.port, "remote_port": p}])
    lib.check_tunnel(p, "first echo")
    return m, c, p


def live_consistent(m, name, ports, timeout=20):
    """Waits until the live tables hold exactly one client named name and
    each port once (no stale rows, no port with two owners)."""
    def ok():
        cl = [c for c in m.clients() if c.get("name") == name]
        maps = m.mappings()
        owners = {}
        for x in maps:
            owners.setdefault(x.get("remote_port"), []).append(x.get("client_id"))
        if len(cl) != 1:
            return False
        for p in ports:
            if owners.get(p) != [cl[0]["id"]]:
                return False
        return all(len(v) == 1 for v in owners.values())
    wait_until(ok, timeout, "one live client %s owning %s once" % (name, ports), interval=0.3)


# ---------------------------------------------------------------- disk full

FLUSH_CLOSED_MAX = 4096     # server/server.h: finished connections held unwritten

@rtest(180)
def test_disk_full(env):
    mnt = os.path.join(env.dir, "tmpfs")
    os.makedirs(mnt)
    sh("mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "gtrobust", mnt)
    env.cleanups.append(lambda: sh("umount", "-l", mnt, check_rc=False))
    data = os.path.join(mnt, "data")
    # One worker, so that its bound on unwritten rows (FLUSH_CLOSED_MAX) is
    # the whole master's: the outage below outlasts it on purpose.
    m, c, p = echo_setup(env, data_dir=data, workers=1)
    adm = Admin(env, m)
    cookie = adm.login()
    for _ in range(5):
        echo_roundtrip(p, b"before")

    def hist_total():
        st, v = adm.get("/api/sessions?kind=conns&per_page=1", cookie)
        check(st == 200 and v is not None, "GET /api/sessions: %d" % st)
        return v
    wait_until(lambda: hist_total()["total"] >= 5, 15, "5 history rows before the fault")
    before = hist_total()["total"]
    check(not hist_total()["incomplete"], "history incomplete before the fault")

    # Fill the tmpfs to the last byte.
    fill = os.path.join(mnt, "fill")
    fd = os.open(fill, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 1):
            for _ in range(8192):
                os.write(fd, b"\0" * size)
    except OSError:
        pass
    try:
        for _ in range(8192):
            os.write(fd, b"\0")
    except OSError:
        pass
    os.close(fd)
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize
    off = len(m.proc.log())
    n_out = FLUSH_CLOSED_MAX + 300
    done = [0, 0]
    lock = threading.Lock()

    def visitor(k):
        for i in range(k, n_out, 4):
            try:
                echo_roundtrip(p, b"during %d" % i, timeout=5)
                r = 0
            except (OSError, lib.TestFailure):
                r = 1
            with lock:
                done[r] += 1
    t_out = time.monotonic()
    vs = [threading.Thread(target=visitor, args=(k,), daemon=True) for k in range(4)]
    for v in vs:
        v.start()
    for v in vs:
        v.join(150)
    ok = done[0]
    t_out = time.monotonic() - t_out
    check(ok == n_out, "relayed only %d/%d connections while the disk was full" % (ok, n_out))
    t_err = log_wait(m.proc, "history cannot be written", 15, off)
    st_a, v = adm.get("/api/sessions?kind=conns&per_page=1", cookie)
    check(st_a == 200 and v and v.get("incomplete") is True,
          "admin while full: %d %r" % (st_a, v))
    reason = v.get("incomplete_reason", "")
    check(m.proc.alive() and c.proc.alive(), "a process died while the disk was full")
    mdb_check(data)                       # readers work on a full disk

    os.unlink(fill)
    t0 = time.monotonic()
    log_wait(m.proc, "history writing resumed", 20, off)
    t_back = time.monotonic() - t0
    # The newest FLUSH_CLOSED_MAX wait in memory and are written; the older
    # ones are counted as dropped: every connection is one or the other.
    wait_until(lambda: hist_total()["total"] >= before + FLUSH_CLOSED_MAX, 15,
               "the newest %d connections of the outage in the history" % FLUSH_CLOSED_MAX)
    time.sleep(1.5)                       # one more flush: nothing else may come
    after = hist_total()
    tables = mdb_check(data)
    rc, stats, _ = m.ctl("stats")
    dropped = [int(x.split()[-1]) for x in stats.splitlines()
               if x.startswith("gotunnel_history_dropped_total ")]
    written = after["total"] - before
    check(rc == 0 and len(dropped) == 1 and dropped[0] >= 1 and written + dropped[0] == n_out,
          "of %d connections %d rows written and dropped_total %r: want some dropped, "
          "and written + dropped = %d" % (n_out, written, dropped, n_out))
    # What was dropped stays visible: the history says it is incomplete and why.
    gap = "%d finished connections were not recorded" % dropped[0]
    check(after["incomplete"] is True and gap in after.get("incomplete_reason", ""),
          "after the drops the admin should say %r: %r" % (gap, {k: after.get(k) for k in
                                                                ("incomplete", "incomplete_reason")}))
    lib.check_tunnel(p, "echo after the disk came back")
    return ("tmpfs 6 MiB filled (%d B free), %d connections relayed during it (one worker)" % (free, n_out),
            "relayed %d/%d in %.1f s; 'history cannot be written' logged %.1f s in; admin 200 incomplete=true "
            "(%s); resumed %.1f s after space returned; %d rows written (the newest), %d dropped, counted "
            "and named by the admin ('%s'); mdb_stat %d tables ok"
            % (ok, n_out, t_out, t_err, reason[:30] + "...", t_back, written, dropped[0], gap, tables))


# ---------------------------------------------------------------- descriptors

@rtest(180)
def test_fd_exhaustion(env):
    limit = 256
    want = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    hold = HoldServer()
    env.cleanups.append(hold.close)
    m = start_master(env, ["prlimit", "--nofile=%d:%d" % (limit, limit), "--"], workers=1)
    echo = env.service()
    p, pe = env.ports[0], env.ports[1]
    c = env.client(m, [{"name": "hold", "local_port": hold.port, "remote_port": p},
                       {"name": "echo", "local_port": echo.port, "remote_port": pe}])
    lib.check_tunnel(pe, "echo before exhaustion")
    off = len(m.proc.log())
    socks = []
    try:
        for _ in range(want):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect((LOCAL, p))
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            socks.append(s)
        log_wait(m.proc, "paused", 30, off)
        time.sleep(1)
        cpu = tree_cpu(m.proc.pid, 4.0)
        check(m.proc.alive(), "master died when out of descriptors")
        check(cpu < 40, "master tree used %.0f%% CPU while out of descriptors (spinning?)" % cpu)
    finally:
        # Release: visitors and the service side both close (a half-closed
        # relay rightly lives on while its other side is open).
        t_rel = time.monotonic()
        for s in socks:
            lib.quiet_close(s)
        hold.drop()
    served = wait_until(lambda: tunnel_works(pe, timeout=2), 60, "echo after the descriptors were released",
                        interval=0.1)
    t_back = time.monotonic() - t_rel
    check(served, "not served again")
    return ("master under prlimit nofile %d, %d connects to a public port held open" % (limit, len(socks)),
            "accept paused (logged); master tree CPU %.1f%% while exhausted; served again %.1f s "
            "after release" % (cpu, t_back))


# ---------------------------------------------------------------- kill -9

def kill_case(env, kind):
    """kill -9 of one process kind during a transfer and history writes."""
    m, c, p = echo_setup(env)
    adm = Admin(env, m) if kind == "admin" else None
    load = Load(p)
    env.cleanups.append(load.stop)
    logins = [0]
    note = []
    halt = threading.Event()

    def login_loop():                      # admin writes: sessions, audit
        for _ in range(10000):
            if halt.is_set():
                return
            try:
                adm.login()
                logins[0] += 1
            except (OSError, AssertionError, http.client.HTTPException):
                time.sleep(0.2)
    lt = None
    if adm:
        lt = threading.Thread(target=login_loop, daemon=True)
        lt.start()
    wait_until(lambda: load.moved > (1 << 20) and load.short_ok > 5, 20, "load to run")
    victim = None
    moved_at_kill = load.moved
    t0 = time.monotonic()
    if kind == "client":
        victim = c.proc.pid
        c.proc.kill9()
        c.start(wait=False)               # as systemd would restart it
    elif kind == "worker":
        victim = m.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
    elif kind == "master":
        victim = m.proc.pid
        old_workers = m.worker_pids()
        m.proc.kill9()
        t_k = time.monotonic()
        gone = wait_until(lambda: not any(lib.pid_alive(w) for w in old_workers), 15,
                          "the old workers to exit after the master died", interval=0.1)
        note.append("old workers exited by themselves %.1f s after the master" % (time.monotonic() - t_k))
        check(gone, "workers outlived the master")
        m.restart_same()                  # as systemd would
    else:
        ws = adm.worker_pids()
        check(ws, "no admin worker")
        victim = ws[-1]
        os.kill(adm.proc.pid, signal.SIGKILL)
        for w in ws:
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
        adm.start()
    time.sleep(1)
    halt.set()
    if lt:
        lt.join(10)
    wait_until(lambda: tunnel_works(p, timeout=2), 40, "the tunnel to come back after kill -9 of the %s" % kind,
               interval=0.2)
    t_back = time.monotonic() - t0
    load.stop()
    tables = mdb_check(m.data_dir)
    live_consistent(m, c.name, [p])
    wait_until(lambda: m.status()["connections"] == 0, 20, "no live connection rows after the load ended",
               interval=0.3)
    extra = "".join(", " + n for n in note)
    if adm:
        st, v = adm.get("/api/sessions?kind=conns&per_page=1", adm.login())
        check(st == 200 and v and v["total"] > 0, "admin history after restart: %d %r" % (st, v))
        extra += ", %d logins before the kill, history readable (%d rows)" % (logins[0], v["total"])
    return ("kill -9 %s (pid %d) during a transfer (%.1f MiB moved) and connection churn"
            % (kind, victim, moved_at_kill / 1048576.0),
            "tunnel back %.1f s after the kill; mdb_stat %d tables ok; 1 live client, port owned once, 0 stale conn rows%s"
            % (t_back, tables, extra))


@rtest(120)
def test_kill9_client(env):
    return kill_case(env, "client")


@rtest(120)
def test_kill9_worker(env):
    return kill_case(env, "worker")


@rtest(120)
def test_kill9_master(env):
    return kill_case(env, "master")


@rtest(120)
def test_kill9_admin(env):
    return kill_case(env, "admin")


# ---------------------------------------------------------------- flaky path

class Netns:
    """A network namespace joined to the host by a veth pair."""

    def __init__(self, env):
        tag = os.getpid() % 100000
        self.ns = "gtrob%d" % tag
        self.host_if, self.ns_if = "gtrh%d" % tag, "gtrc%d" % tag
        # A /30 no other run on this machine uses (two runs at once must
        # not route the same subnet to two veths).
        used = sh("ip", "-o", "-4", "addr", "show")
        nets = [n for n in range(16, 250) if " 10.213.%d." % n not in used]
        check(nets, "no free 10.213.x.0/30 for the test's veth pair")
        net = nets[tag % len(nets)]
        self.host_ip, self.ns_ip = "10.213.%d.1" % net, "10.213.%d.2" % net
        sh("ip", "netns", "del", self.ns, check_rc=False)
        sh("ip", "link", "del", self.host_if, check_rc=False)
        env.cleanups.append(self.close)
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        sh("ip", "link", "set", self.ns_if, "netns", self.ns)
        sh("ip", "addr", "add", self.host_ip + "/30", "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        self.run("ip", "addr", "add", self.ns_ip + "/30", "dev", self.ns_if)
        self.run("ip", "link", "set", self.ns_if, "up")
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *argv):
        return sh("ip", "netns", "exec", self.ns, *argv)

    def prefix(self):
        return ["ip", "netns", "exec", self.ns]

    def link(self, up):
        sh("ip", "link", "set", self.host_if, "up" if up else "down")

    def close(self):
        sh("ip", "netns", "del", self.ns, check_rc=False)
        sh("ip", "link", "del", self.host_if, check_rc=False)


class SlowRelay:
    """Emulated delay and loss (no tc netem here): forwards each chunk after
    delay seconds and holds all bytes during a stall of stall seconds every
    period seconds, as a lossy path's retransmissions would."""

    def __init__(self, host, dst, delay=0.1, stall=1.5, period=5.0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.dst, self.delay, self.stall, self.period = dst, delay, stall, period
        self.t0 = time.monotonic()
        self.halt = threading.Event()
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _wait_window(self):
        ph = (time.monotonic() - self.t0) % self.period
        if ph < self.stall:
            time.sleep(self.stall - ph)

    def _pump(self, a, b):
        try:
            for _ in range(10 ** 7):
                d = a.recv(65536)
                if not d or self.halt.is_set():
                    break
                time.sleep(self.delay)
                self._wait_window()
                b.sendall(d)
        except OSError:
            pass
        lib.quiet_shutdown(b)

    def _accept(self):
        self.sock.settimeout(0.3)
        while not self.halt.is_set():
            try:
                a, _ = self.sock.accept()
            except OSError:
                continue
            try:
                b = socket.create_connection(self.dst, timeout=5)
            except OSError:
                a.close()
                continue
            a.settimeout(None)
            b.settimeout(None)
            self.socks += [a, b]
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()
            threading.Thread(target=self._pump, args=(b, a), daemon=True).start()

    def close(self):
        self.halt.set()
        for s in self.socks:
            lib.quiet_shutdown(s)
        time.sleep(0.1)
        for s in self.socks + [self.sock]:
            lib.quiet_close(s)


@rtest(150)
def test_flaky_path(env):
    ns = Netns(env)
    hb = 4
    m = env.master(bind_addr="0.0.0.0", bind_port=lib.free_port("0.0.0.0"), heartbeat_timeout=hb)
    svc = lib.Service(lib.echo_handler, host=ns.host_ip)
    env.services.append(svc)
    p = env.ports[0]
    maps = [{"name": "echo", "local_ip": ns.host_ip, "local_port": svc.port, "remote_port": p}]
    c = start_client(env, m, maps, ns.prefix(), server_addr=ns.host_ip,
                     heartbeat_interval=1, heartbeat_timeout=3)
    c.wait_registered(20)
    lib.check_tunnel(p, "echo through the namespace")
    old_id = c.client_ids()[0]

    off = len(c.proc.log())
    noticed = []

    def watch():
        for _ in range(200):
            if "heartbeat timeout" in c.proc.log()[off:]:
                noticed.append(time.monotonic())
                return
            time.sleep(0.1)
    ns.link(False)
    t_down = time.monotonic()
    w = threading.Thread(target=watch, daemon=True)
    w.start()
    time.sleep(0.5)
    # A visitor during the outage: refused, or closed promptly; never left hanging.
    t0 = time.monotonic()
    try:
        s = connect(p, timeout=5)
        s.sendall(b"anyone there?")
        _, closed, _ = read_until_close(s, hb + 10)
        s.close()
        check(closed, "a visitor during the outage was left hanging %d s" % (hb + 10))
        how = "closed"
    except ConnectionRefusedError:
        how = "refused"
    t_visitor = time.monotonic() - t0
    check(t_visitor <= hb + 4, "visitor during the outage waited %.1f s (heartbeat_timeout %d)" % (t_visitor, hb))
    w.join(25)
    check(noticed, "the client did not log a heartbeat timeout")
    t_notice = noticed[0] - t_down
    # heartbeat_timeout, plus up to 1 s since its last received byte, plus
    # the 1 s check interval and whole-second clocks.
    check(t_notice <= 3 + 3, "the client noticed after %.1f s (heartbeat_timeout 3)" % t_notice)
    wait_until(lambda: port_refuses(p), hb + 5, "the public port to refuse during the outage", interval=0.2)
    t_refuse = time.monotonic() - t_down
    t1 = time.monotonic()
    try:
        connect(p, timeout=2).close()
        fail("a connect during the outage was accepted")
    except ConnectionRefusedError:
        pass
    t_refused = time.monotonic() - t1
    time.sleep(2)
    ns.link(True)
    t_up = time.monotonic()
    wait_until(lambda: tunnel_works(p, timeout=2), 40, "echo after the link came back", interval=0.3)
    t_back = time.monotonic() - t_up
    check(c.client_ids() and c.client_ids()[0] != old_id, "the client did not re-register")
    live_consistent(m, c.name, [p])

    # Emulated delay and loss on the same path (user-space relay, not netem).
    relay = SlowRelay(ns.host_ip, (LOCAL, m.port), delay=0.1, stall=1.5, period=5.0)
    env.cleanups.append(relay.close)
    p2 = env.ports[1]
    c2 = start_client(env, m, [{"name": "echo2", "local_ip": ns.host_ip, "local_port": svc.port,
                                "remote_port": p2}], ns.prefix(), server_addr=ns.host_ip,
                      server_port=relay.port, heartbeat_interval=1, heartbeat_timeout=3,
                      pool_count=2, name="robust-slow")
    c2.wait_registered(30)
    first = c2.client_ids()[0]
    ok, lat = 0, []
    for i in range(10):
        t = time.monotonic()
        if tunnel_works(p2, timeout=10):
            ok += 1
            lat.append(time.monotonic() - t)
        time.sleep(0.5)
    same = c2.client_ids() == [first]
    check(ok >= 9, "only %d/10 echoes over the emulated slow path" % ok)
    check(same, "the client re-registered over a slow path that stalls 1.5 s (< heartbeat_timeout 3 s)")
    lat.sort()
    return ("veth in a netns taken down %d s, visitor during the outage; then emulated 100 ms "
            "delay + 1.5 s stalls every 5 s (user-space relay, no netem)" % 2,
            "client noticed in %.1f s (heartbeat_timeout 3); visitor %s after %.1f s; port refused %.1f s "
            "after the cut (connect refused in %.3f s); back %.1f s after link up; slow path: %d/10 echoes, "
            "p50 %.2f s, no re-register"
            % (t_notice, how, t_visitor, t_refuse, t_refused, t_back, ok, lat[len(lat) // 2]))


# ---------------------------------------------------------------- slowloris

class Dribbler:
    """Many connections that each send one byte per second."""

    def __init__(self, port, n, payload):
        self.socks = []
        self.opened = {}
        self.closed_at = {}
        self.payload = payload
        for _ in range(n):
            try:
                s = socket.create_connection((LOCAL, port), timeout=5)
            except OSError:
                continue
            s.setblocking(False)
            self.socks.append(s)
            self.opened[s] = time.monotonic()
        self.sent = 0

    def tick(self):
        """Sends the next byte on every open connection; notes closed ones."""
        for s in self.socks:
            if s in self.closed_at:
                continue
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        raise OSError("eof")
            except BlockingIOError:
                pass
            except OSError:
                self.closed_at[s] = time.monotonic()
                continue
            b = self.payload[self.sent % len(self.payload):][:1]
            try:
                s.send(b)
            except BlockingIOError:
                pass
            except OSError:
                self.closed_at[s] = time.monotonic()
        self.sent += 1

    def open_count(self):
        return len(self.socks) - len(self.closed_at)

    def max_life(self):
        return max([self.closed_at[s] - self.opened[s] for s in self.closed_at] or [0])

    def close(self):
        for s in self.socks:
            lib.quiet_close(s)


@rtest(150)
def test_slowloris(env):
    m, c, p = echo_setup(env, max_conns_per_mapping=60)
    adm = Admin(env, m)
    frame_head = struct.pack(">I", 100) + b'{"type":"register","token":"' + b"x" * 80
    d_bind = Dribbler(m.port, 40, frame_head)
    d_pub = Dribbler(p, 40, b"slow visitor ")
    d_adm = Dribbler(adm.port, 40, b"GET /api/clients HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100)
    for d in (d_bind, d_pub, d_adm):
        env.cleanups.append(d.close)
    served = 0
    tries = 0
    t0 = time.monotonic()
    c2 = None
    svc2 = env.service()
    for sec in range(25):
        for d in (d_bind, d_pub, d_adm):
            d.tick()
        tries += 2
        served += tunnel_works(p, timeout=5)
        served += adm.get("/healthz", timeout=5)[0] == 200
        if sec == 3:
            c2 = env.client(m, [{"name": "e2", "local_port": svc2.port, "remote_port": env.ports[1]}],
                            wait=False)
        time.sleep(max(0, t0 + sec + 1 - time.monotonic()))
        if d_bind.open_count() == 0 and d_adm.open_count() == 0 and sec >= 12:
            break
    rss = tree_rss_kib(m.proc.pid)
    c2.wait_registered(20)
    lib.check_tunnel(env.ports[1], "a new client registered during the attack")
    check(d_bind.open_count() == 0, "%d slow bind_port connections outlived the registration timeout"
          % d_bind.open_count())
    check(d_bind.max_life() <= 10 + 5, "a slow bind_port connection lived %.0f s" % d_bind.max_life())
    check(d_adm.open_count() == 0, "%d slow admin connections outlived http_header_timeout"
          % d_adm.open_count())
    check(served == tries, "real users served %d/%d times during the attack" % (served, tries))
    # Public port: raw TCP, a slow visitor is a user like any other; the cap bounds them.
    held = d_pub.open_count()
    extra = Dribbler(p, 40, b"more ")
    env.cleanups.append(extra.close)
    time.sleep(2)
    extra.tick()
    time.sleep(1)
    extra.tick()
    total_open = held + extra.open_count()
    live = m.mapping_for(p)["live_conns"]
    check(live <= 60, "mapping holds %d connections over max_conns_per_mapping 60" % live)
    return ("40 conns each on bind_port (partial frame), public port, admin (partial HTTP head), "
            "1 byte/s; +40 on the public port over max_conns_per_mapping 60",
            "bind_port: all closed, longest %.0f s (registration timeout 10 s); admin: all closed, longest "
            "%.0f s (http_header_timeout 10 s); real users %d/%d served, new client registered; public: "
            "%d slow visitors relayed, cap held (%d live, %d of the next 40 closed); master RSS %d MiB"
            % (d_bind.max_life(), d_adm.max_life(), served, tries, held, live,
               held + len(extra.socks) - total_open, rss // 1024))


# ---------------------------------------------------------------- stalled peers

@rtest(150)
def test_stalled_peers(env):
    n = 20
    out = []
    for direction in ("visitor", "service"):
        blast = HoldServer(blast=(direction == "visitor"))
        env.cleanups.append(blast.close)
        if not hasattr(env, "_m"):
            env._m = env.master()
        m = env._m
        p = env.ports[0] if direction == "visitor" else env.ports[1]
        c = env.client(m, [{"name": "st" + direction, "local_port": blast.port, "remote_port": p}])
        time.sleep(1.5)
        base_m, base_c = tree_rss_kib(m.proc.pid), tree_rss_kib(c.proc.pid)
        socks = []
        for _ in range(n):
            s = connect(p, timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.setblocking(False)
            socks.append(s)
        env.cleanups.append(lambda ss=socks: [lib.quiet_close(s) for s in ss])
        pushed = 0
        t_end = time.monotonic() + 6
        chunk = b"y" * 65536
        while time.monotonic() < t_end:
            if direction == "service":      # visitors push, the service reads nothing
                for s in socks:
                    for _ in range(16):
                        try:
                            pushed += s.send(chunk)
                        except OSError:
                            break
            time.sleep(0.05)
        time.sleep(2)                      # let a flush publish the gauge
        buf = relay_buffer_bytes(m)
        grow_m = tree_rss_kib(m.proc.pid) - base_m
        grow_c = tree_rss_kib(c.proc.pid) - base_c
        per = buf / n / 1024.0
        check(per <= 2 * 256 + 16, "%.0f KiB buffered per relay, over the pipe bound" % per)
        check(grow_m < n * 1024 and grow_c < n * 1024,
              "RSS grew %d KiB (master) / %d KiB (client) for %d stalled relays" % (grow_m, grow_c, n))
        out.append("%s stalls: %.0f KiB in flight per relay (pipe bound 256 KiB/direction), RSS +%d KiB "
                   "master, +%d KiB client for %d relays" % (direction, per, grow_m, grow_c, n))
        for s in socks:
            lib.quiet_close(s)
        blast.close()
    return ("%d relays whose visitor reads nothing while the service sends, then %d whose service "
            "reads nothing while visitors send" % (n, n), "; ".join(out))


# ---------------------------------------------------------------- runner

def run_one(name, fn, limit, keep):
    env = lib.Env(name)
    env.cleanups = []
    t0 = time.monotonic()
    err, res = None, None
    signal.signal(signal.SIGALRM, lambda s, f: (_ for _ in ()).throw(lib.TestTimeout("watchdog")))
    signal.alarm(limit)
    try:
        res = fn(env)
    except lib.TestFailure as e:
        err = str(e)
    except lib.TestTimeout as e:
        err = "%s (limit %ds)" % (e, limit)
    except Exception:  # noqa: BLE001
        err = "exception: " + traceback.format_exc().strip().replace("\n", "\n    ")
    finally:
        signal.alarm(0)
    try:
        signal.alarm(60)
        for fnc in reversed(env.cleanups):
            try:
                fnc()
            except Exception:  # noqa: BLE001
                pass
        env.close()
    except lib.TestTimeout:
        err = err or "cleanup took too long"
    finally:
        signal.alarm(0)
    if err is None:
        reps = env.sanitizer_reports()
        if reps:
            err = "sanitizer report(s): " + "; ".join(reps[:5])
    dt = time.monotonic() - t0
    if err is None:
        print("ok   %s (%.1fs)" % (name, dt), flush=True)
        env.remove()
    else:
        print("FAIL %s (%.1fs): %s" % (name, dt, err), flush=True)
        print(env.log_tails(), flush=True)
        if keep:
            print("  kept %s" % env.dir)
        else:
            env.remove()
    return res, err


def main():
    args = sys.argv[1:]
    keep = "-k" in args
    filters = [a for a in args if a != "-k"]
    if os.geteuid() != 0:
        print("t/robust needs root (tmpfs, prlimit, network namespaces)")
        print("0 passed, 1 failed")
        return 1
    rows = []
    t0 = time.monotonic()
    for name, fn, limit in TESTS:
        if filters and not any(f in name for f in filters):
            continue
        res, err = run_one(name, fn, limit, keep)
        sent, held = res if res else ("-", err.splitlines()[0][:200])
        rows.append((name, sent, held, err is None))
    lib.release_ports()
    print("\n| fault / attack | what was sent | what held | result |")
    print("|---|---|---|---|")
    for name, sent, held, ok in rows:
        print("| %s | %s | %s | %s |" % (name, sent, held, "pass" if ok else "FAIL"))
    npass = sum(1 for r in rows if r[3])
    print("\n(%.0f s)" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (npass, len(rows) - npass))
    return 0 if npass == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
