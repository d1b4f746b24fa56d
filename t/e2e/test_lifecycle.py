# SPDX-License-Identifier: ISC
"""Failures and operations: client/worker/master killed or restarted, kick, history."""

import os
import re
import signal
import struct
import time

from lib import (check_tunnel, check, echo_handler, fail, pid_alive, port_refuses, read_until_close,
                 run_cmd, test, tunnel_works, wait_until)


def echo_setup(env, hb_timeout=5, **mkw):
    svc = env.service(echo_handler)
    m = env.master(heartbeat_timeout=hb_timeout, **mkw)
    p = env.ports[0]
    c = env.client(m, [{"name": "echo", "local_port": svc.port, "remote_port": p}])
    check_tunnel(p, "tunnel does not work after start")
    return svc, m, c, p


@test(timeout=60)
def test_client_sigkill_closes_port(env):
    hb = 3
    svc, m, c, p = echo_setup(env, hb_timeout=hb)
    ids = c.client_ids()
    check(len(ids) == 1, "clients --json should list the client once: %r" % ids)
    c.proc.kill9()
    t0 = time.monotonic()
    wait_until(lambda: port_refuses(p), hb + 2, "public port %d to refuse connections after SIGKILL of the client" % p,
               interval=0.1)
    dt = time.monotonic() - t0
    wait_until(lambda: m.mapping_for(p) is None, max(0.5, hb + 2 - dt),
               "mapping %d to leave mappings --json" % p)
    check(ids[0] not in [x.get("id") for x in m.clients()], "killed client still in clients --json")
    env.note("port closed after %.1fs" % dt)


@test(timeout=90)
def test_master_restart_client_reregisters(env):
    svc = env.service(echo_handler)
    m = env.master()
    p, p2 = env.ports[0], env.ports[1]
    c = env.client(m, [{"name": "echo", "local_port": svc.port, "remote_port": p},
                       {"name": "echo2", "local_port": svc.port, "remote_port": p2}])
    workers = m.worker_pids()
    old = m.proc
    rc = old.term_wait(timeout=10)
    check(rc is not None, "master still running 10s after SIGTERM")
    try:
        wait_until(lambda: not any(pid_alive(w) for w in workers), 5, "workers to exit with the master")
    finally:
        old.killgroup()
    check(rc == 0, "master exit status after SIGTERM: %r (want 0)" % rc)
    check(port_refuses(p), "public port %d still open with the master stopped" % p)
    check(c.proc.alive(), "client exited when the master went away (it should retry)")
    time.sleep(1.5)   # the client is now in its back-off
    t1 = time.monotonic()
    m.restart_same()
    wait_until(lambda: tunnel_works(p) and tunnel_works(p2), 15,
               "both tunnels to work again after the master restart", interval=0.5)
    env.note("tunnel back %.1fs after restart" % (time.monotonic() - t1))
    check(c.proc.alive(), "client exited")
    log = c.proc.log()
    check(re.search(r"reconnect|retry|back.?off", log, re.I),
          "client log does not mention its reconnect attempts")


@test(timeout=90)
def test_worker_sigkill_restarted(env):
    svc, m, c, p = echo_setup(env, workers=2)
    st = m.status()
    before = {w.get("index"): w.get("pid") for w in st["workers"]}
    mine = [x for x in m.clients() if x.get("name") == c.name]
    check(len(mine) == 1, "clients --json: %r" % mine)
    victim = mine[0].get("worker_pid")
    check(victim in before.values(), "client's worker_pid %r not among the workers %r" % (victim, before))
    idx = [i for i, pid in before.items() if pid == victim][0]
    os.kill(victim, signal.SIGKILL)
    t0 = time.monotonic()

    def restarted():
        now = {w.get("index"): w.get("pid") for w in m.status()["workers"]}
        new = now.get(idx)
        return new and new != victim and pid_alive(new) and now
    now = wait_until(restarted, 10, "master to restart worker %s (pid %d)" % (idx, victim), interval=0.2)
    wait_until(lambda: tunnel_works(p), max(0.5, 10 - (time.monotonic() - t0)),
               "the client's tunnel to work again after its worker was killed", interval=0.3)
    env.note("back after %.1fs" % (time.monotonic() - t0))
    check(pid_alive(m.proc.pid), "master died")
    w = [x for x in m.status()["workers"] if x.get("index") == idx]
    check(w and w[0].get("restarts", 0) >= 1, "status --json restarts of worker %s: %r" % (idx, w))
    for i, pid in before.items():
        if i != idx:
            check(now.get(i) == pid, "worker %s also changed pid (%s -> %s)" % (i, pid, now.get(i)))
    check(c.proc.alive(), "client exited")


@test(timeout=90)
def test_kick_client_reconnects(env):
    svc, m, c, p = echo_setup(env)
    ids = c.client_ids()
    check(len(ids) == 1, "clients --json: %r" % ids)
    old = ids[0]
    from lib import connect, read_until_close, recv_exact
    held = env.sock(connect(p, timeout=5))      # a live public connection of the kicked client
    held.sendall(b"ping")
    check(recv_exact(held, 4) == b"ping", "held connection does not echo")
    rc, out, err = m.ctl("kick", old)
    check(rc == 0, "gotunnelctl kick %s: exit %d, %s" % (old, rc, err.strip()))
    check(("kicked " + old) in out, "gotunnelctl kick should print 'kicked ID': %r" % out)
    t0 = time.monotonic()
    _, closed, dt = read_until_close(held, 15)
    check(closed, "a public connection of the kicked client is still open 15s after the kick")
    wait_until(lambda: old not in [x.get("id") for x in m.clients()], 5, "kicked client_id to disappear")

    def new_session():
        ids = c.client_ids()
        return ids and old not in ids and ids
    ids = wait_until(new_session, 15, "the client to come back with a new client_id", interval=0.3)
    check(len(ids) == 1, "client listed %d times: %r" % (len(ids), ids))
    wait_until(lambda: tunnel_works(p), 10, "tunnel to work after the kick")
    env.note("back after %.1fs" % (time.monotonic() - t0))
    rc, out, err = m.ctl("kick", "0" * 32)
    check(rc == 1, "kick of an unknown id: exit %d (want 1), out %r" % (rc, out))
    check(err.strip(), "kick of an unknown id printed nothing on stderr")


def mdb_entries(data_dir, table):
    rc, out, err = run_cmd(["mdb_stat", "-s", table, data_dir])
    if rc != 0:
        fail("mdb_stat -s %s %s: exit %d: %s" % (table, data_dir, rc, err.strip()))
    mt = re.search(r"Entries:\s*(\d+)", out)
    check(mt, "mdb_stat output without Entries: %r" % out)
    return int(mt.group(1))


@test(timeout=90)
def test_history_survives_restart(env):
    svc, m, c, p = echo_setup(env)
    for _ in range(3):
        check_tunnel(p, "tunnel")
    c.proc.stop()
    wait_until(lambda: m.mapping_for(p) is None, 5, "mapping to go when the client stops")
    rc = m.proc.stop()
    check(rc == 0, "master exit status after SIGTERM: %r" % rc)
    sess = mdb_entries(m.data_dir, "hist_sess")
    conns = mdb_entries(m.data_dir, "hist_conn")
    check(sess >= 1, "hist_sess has %d records after a client session ended" % sess)
    check(conns >= 3, "hist_conn has %d records after 3 public connections" % conns)
    rc, out, err = run_cmd(["mdb_dump", "-p", "-s", "hist_sess", m.data_dir])
    check(rc == 0 and c.name in out, "client name %s not in the hist_sess dump (exit %d)" % (c.name, rc))
    m.restart_same()
    s2 = mdb_entries(m.data_dir, "hist_sess")
    c2 = mdb_entries(m.data_dir, "hist_conn")
    check(s2 >= sess and c2 >= conns, "history shrank over a restart: sessions %d -> %d, conns %d -> %d"
          % (sess, s2, conns, c2))
    check(m.mappings() == [], "stale mappings after restart: %r" % m.mappings())
    check(m.clients() == [], "stale clients after restart: %r" % m.clients())


@test(timeout=90)
def test_master_sigkill_stale_entries_cleared(env):
    """A crashed master (and workers) leaves live rows in LMDB; a restart must clear them."""
    svc, m, c, p = echo_setup(env)
    workers = m.worker_pids()
    os.killpg(m.proc.pid, signal.SIGKILL)     # master and its workers, like a power cut
    m.proc.p.wait(timeout=10)
    wait_until(lambda: not any(pid_alive(w) for w in workers), 5, "workers to die")
    t1 = time.monotonic()
    m.restart_same()
    wait_until(lambda: tunnel_works(p), 20, "the tunnel to work again after a master crash + restart", interval=0.5)
    env.note("tunnel back %.1fs after restart" % (time.monotonic() - t1))
    maps = [x for x in m.mappings() if x.get("remote_port") == p]
    check(len(maps) == 1, "mappings for port %d after crash + restart: %r" % (p, maps))
    cl = [x for x in m.clients() if x.get("name") == c.name]
    check(len(cl) == 1, "client listed %d times after crash + restart: %r" % (len(cl), cl))


@test(timeout=60)
def test_server_heartbeat_timeout(env):
    """A registered peer that says nothing is dropped after heartbeat_timeout; a beating one is not."""
    hb = 3
    svc = env.service(echo_handler)
    m = env.master(heartbeat_timeout=hb)
    quiet = env.pyclient(m, heartbeat=None)
    quiet.ack = False
    r = quiet.register(m.token, svc.port, env.ports[0], name="quiet")
    check(r.get("status") == "ok", "register: %r" % r)
    beating = env.pyclient(m, heartbeat=1.0)
    beating.hb_time = True      # an optional "time" member is ignored
    r = beating.register(m.token, svc.port, env.ports[1], name="beating")
    check(r.get("status") == "ok", "register: %r" % r)
    t0 = time.monotonic()
    closed = quiet.closed.wait(hb + 3)
    dt = time.monotonic() - t0
    check(closed, "a silent registered client was not dropped within %ds (heartbeat_timeout %ds)" % (hb + 3, hb))
    check(dt >= hb - 1, "silent client dropped after %.1fs, before heartbeat_timeout %ds" % (dt, hb))
    wait_until(lambda: m.mapping_for(env.ports[0]) is None, 2, "the silent client's mapping to go")
    time.sleep(max(0, 2 * hb - (time.monotonic() - t0)))
    check(not beating.closed.is_set(), "a client sending heartbeats every 1s was dropped")
    check(m.mapping_for(env.ports[1]) is not None, "the beating client's mapping is gone")
    env.note("silent client dropped after %.1fs" % dt)


@test(timeout=60)
def test_client_detects_silent_server(env):
    """The client must give up on a server that stops answering, and reconnect."""
    import socket as so
    from lib import LOCAL, encode, recv_frame
    ls = so.socket()
    ls.bind((LOCAL, 0))
    ls.listen(8)
    env.sock(ls)
    fake_port = ls.getsockname()[1]
    svc = env.service(echo_handler)

    class FakeMaster:
        port = fake_port
        token = env.token

    c = env.client(FakeMaster, [{"name": "echo", "local_port": svc.port, "remote_port": env.ports[0]}],
                   start=False, heartbeat_interval=1, heartbeat_timeout=3)
    c.start(wait=False)
    ls.settimeout(10)
    try:
        s, _ = ls.accept()
    except so.timeout:
        fail("client did not connect to the (fake) server within 10s")
    env.sock(s)
    s.settimeout(10)
    m = recv_frame(s)
    check(m.get("type") == "register", "first message from the client: %r" % m)
    s.sendall(encode({"type": "register_response", "status": "ok", "name": m.get("name"),
                      "remote_port": m.get("remote_port"), "client_id": "ab" * 16}))
    t0 = time.monotonic()
    # From now on the server is silent: read and discard until the client closes.
    data, closed, dt = read_until_close(s, 10)
    check(closed, "client kept a silent server's connection for 10s (heartbeat_timeout 3s)")
    check(dt >= 1.5, "client closed after only %.1fs" % dt)
    from lib import parse_frames
    frames, rest = parse_frames(data)
    beats = [f for f in frames if f.get("type") == "heartbeat"]
    check(len(beats) >= 2, "client sent %d heartbeats in %.1fs (heartbeat_interval 1s): %r" % (len(beats), dt, frames[:5]))
    check(all(set(f) <= {"type", "time"} for f in beats), "heartbeat with extra members: %r" % beats[:3])
    ls.settimeout(35)
    try:
        s2, _ = ls.accept()
    except so.timeout:
        fail("client did not reconnect within 35s after dropping the silent server")
    env.sock(s2)
    s2.settimeout(10)
    m2 = recv_frame(s2)
    check(m2.get("type") == "register", "first message after reconnect: %r" % m2)
    check(m2.get("client_id") == "ab" * 16, "reconnect register should carry the previous client_id: %r" % m2)
    env.note("client dropped silent server after %.1fs, reconnected after %.1fs" % (dt, time.monotonic() - t0))


@test(timeout=60)
def test_master_sigkill_alone_workers_exit(env):
    """Workers whose master died stop promptly and quietly; a new master starts cleanly."""
    svc, m, c, p = echo_setup(env)
    workers = m.worker_pids()
    lines_before = len(m.proc.log().splitlines())
    os.kill(m.proc.pid, signal.SIGKILL)        # the master only
    m.proc.p.wait(timeout=10)
    t0 = time.monotonic()
    try:
        wait_until(lambda: not any(pid_alive(w) for w in workers), 5,
                   "workers %r to exit after their master was SIGKILLed" % workers, interval=0.1)
    finally:
        m.proc.killgroup()
    env.note("workers gone after %.1fs" % (time.monotonic() - t0))
    new = m.proc.log().splitlines()[lines_before:]
    check(len(new) < 50, "%d log lines in the seconds after the master died (busy loop?): %r"
          % (len(new), new[:3] + ["..."] + new[-2:]))
    m.restart_same()
    wait_until(lambda: tunnel_works(p), 20, "the tunnel to work again with a new master", interval=0.5)


HIST_CONN = struct.Struct("<IHH40s64s64s64s64sqqQQ")      # struct db_hist_conn (common/db.h)
HIST_SESS = struct.Struct("<II40s64s64s64sqqQQ64s")      # struct db_hist_session


def mdb_records(data_dir, table):
    """Values of a named LMDB table, via mdb_dump (hex format)."""
    rc, out, err = run_cmd(["mdb_dump", "-s", table, data_dir])
    check(rc == 0, "mdb_dump -s %s: exit %d: %s" % (table, rc, err.strip()))
    body = out.split("HEADER=END\n", 1)[-1].split("DATA=END", 1)[0].split()
    return [bytes.fromhex(v) for v in body[1::2]]


def unpack_rec(v, size):
    """A stored record as size raw bytes (common/db_rec.c: a value of exactly
    size bytes is raw, any other is packed: token n 1..127 = n literal bytes
    follow, 0x80 | n = n zero bytes); None if it is not one."""
    if len(v) == size:
        return v
    out, i = bytearray(), 0
    while i < len(v):
        n = v[i] & 0x7F
        if n == 0:
            return None
        if v[i] & 0x80:
            out += bytes(n)
            i += 1
        else:
            out += v[i + 1:i + 1 + n]
            i += 1 + n
    return bytes(out) if len(out) == size else None


def records(data_dir, table, st):
    """The records of a table unpacked with struct st."""
    return [st.unpack(r) for r in (unpack_rec(v, st.size) for v in mdb_records(data_dir, table)) if r]


def cstr(b):
    return b.split(b"\0", 1)[0].decode(errors="replace")


@test(timeout=90)
def test_history_records_content(env):
    """One hist_conn record per public connection with peer and bytes each way; one hist_sess per session."""
    import socket as so
    from lib import connect, read_until_close

    def double(c, a):
        n = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            n += len(d)
        c.sendall(b"y" * (2 * n))
        c.shutdown(so.SHUT_WR)

    svc = env.service(double)
    m = env.master()
    p = env.ports[0]
    c = env.client(m, [{"name": "hist", "local_port": svc.port, "remote_port": p}])
    t_start = int(time.time())
    sent = {}
    for i, n in enumerate((1000, 5000, 123457)):
        s = connect(p, timeout=10)
        s.sendall(b"x" * n)
        s.shutdown(so.SHUT_WR)
        data, closed, _ = read_until_close(s, 10)
        if not (data == b"y" * (2 * n) and closed == "eof"):
            import subprocess
            ls = subprocess.run(["ss", "-tlnpH", "sport = :%d" % svc.port], capture_output=True, text=True).stdout
            fail("conn %d (%s): got %d bytes back %r, want %d 'y', then %s; local service accepted %d; "
                 "listeners on its port %d: %s" % (i, "127.0.0.1:%d" % s.getsockname()[1], len(data), data[:120],
                                                  2 * n, closed, svc.accepted, svc.port, ls.strip()))
        sent["127.0.0.1:%d" % s.getsockname()[1]] = n
        s.close()
    cid = c.client_ids()[0]
    c.proc.stop()
    wait_until(lambda: m.mapping_for(p) is None, 5, "mapping to go")
    check(m.proc.stop() == 0, "master exit status after SIGTERM")
    t_end = int(time.time()) + 1
    conns = records(m.data_dir, "hist_conn", HIST_CONN)
    mine = {cstr(r[6]): r for r in conns if r[1] == p}
    check(set(mine) == set(sent), "hist_conn peers for port %d: %r, want %r" % (p, sorted(mine), sorted(sent)))
    for peer, n in sent.items():
        r = mine[peer]
        ver, rport, lport, rcid, cname, mapping, _, reason, start, end, bin_, bout = r
        check(lport == svc.port and cstr(rcid) == cid and cstr(cname) == c.name and cstr(mapping) == "hist",
              "hist_conn %s: local_port %d, client %s/%s, mapping %s" % (peer, lport, cstr(rcid), cstr(cname), cstr(mapping)))
        check(bin_ == n and bout == 2 * n, "hist_conn %s: bytes_in %d (want %d), bytes_out %d (want %d)"
              % (peer, bin_, n, bout, 2 * n))
        check(t_start - 1 <= start <= end <= t_end, "hist_conn %s: start %d end %d outside [%d, %d]"
              % (peer, start, end, t_start, t_end))
    sess = records(m.data_dir, "hist_sess", HIST_SESS)
    mine = [r for r in sess if cstr(r[2]) == cid]
    check(len(mine) == 1, "hist_sess records for client %s: %d" % (cid, len(mine)))
    ver, nmap, rcid, name, addr, reason, start, end, bin_, bout, ports = mine[0]
    check(cstr(name) == c.name and cstr(addr).startswith("127.0.0.1:"), "hist_sess name/address: %r %r"
          % (cstr(name), cstr(addr)))
    check(t_start - 5 <= start <= end <= t_end, "hist_sess start %d end %d" % (start, end))
    check(cstr(reason), "hist_sess has no disconnect reason")
    check(str(p) in cstr(ports).split(","), "hist_sess ports %r lack %d" % (cstr(ports), p))
    total_in = sum(sent.values())
    check(bin_ == total_in and bout == 2 * total_in, "hist_sess bytes in/out %d/%d, want %d/%d"
          % (bin_, bout, total_in, 2 * total_in))


@test(timeout=60)
def test_master_sigint_stops_cleanly(env):
    svc, m, c, p = echo_setup(env)
    workers = m.worker_pids()
    os.kill(m.proc.pid, signal.SIGINT)
    try:
        m.proc.p.wait(timeout=10)
    except Exception:  # noqa: BLE001
        fail("master still running 10s after SIGINT")
    try:
        wait_until(lambda: not any(pid_alive(w) for w in workers), 5, "workers to exit after SIGINT")
    finally:
        m.proc.killgroup()
    check(m.proc.returncode() == 0, "master exit status after SIGINT: %r" % m.proc.returncode())
    check(port_refuses(p) and port_refuses(m.port), "ports still open after SIGINT")


def log_times(text, pattern):
    """Unix times of log lines matching pattern (ISO timestamps at the start of the line)."""
    import calendar
    out = []
    for line in text.splitlines():
        mt = re.match(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?", line)
        if mt and re.search(pattern, line):
            g = [int(x) for x in mt.groups()[:6]]
            out.append(calendar.timegm(tuple(g) + (0, 0, 0)) + float(mt.group(7) or 0))
    return out


@test(timeout=60)
def test_client_backoff_doubles(env):
    """With the master gone, the client retries after ~1, 2, 4, 8 s (with jitter), logging each try."""
    svc, m, c, p = echo_setup(env)
    t_stop = time.time()
    m.proc.stop()
    time.sleep(16.5)
    log = c.proc.log()
    lost = [t for t in log_times(log, r"disconnect|lost|closed") if t >= t_stop - 0.5]
    check(lost, "the client logged nothing about losing the server")
    tries = [t for t in log_times(log, r"\bconnecting to\b") if t >= lost[0]]
    gaps = [b - a for a, b in zip([lost[0]] + tries, tries)]
    check(3 <= len(gaps) <= 6, "client connect attempts in 16s after the master stopped: gaps %r (want ~1,2,4,8)"
          % [round(g, 1) for g in gaps])
    check(0.4 <= gaps[0] <= 2.6, "first retry gap %.1fs, want ~1s: %r" % (gaps[0], [round(g, 1) for g in gaps]))
    for a, b in zip(gaps, gaps[1:]):
        check(1.2 <= b / a <= 3.5, "retry gaps do not double: %r" % [round(g, 1) for g in gaps])
    env.note("gaps %s" % ",".join("%.1f" % g for g in gaps))


@test(timeout=90)
def test_worker_crash_loop_backs_off(env):
    """A worker that keeps dying right after its start is restarted with a growing delay."""
    svc, m, c, p = echo_setup(env, workers=1)
    delays = []
    for i in range(4):
        pid = m.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()

        def new_pid():
            pids = m.worker_pids()
            return pids and pids[0] and pids[0] != pid and pid_alive(pids[0]) and pids[0]
        wait_until(new_pid, 20, "worker restart #%d" % (i + 1), interval=0.05)
        delays.append(time.monotonic() - t0)
    env.note("restart delays %s" % ",".join("%.1f" % d for d in delays))
    check(max(delays) >= 1.0, "a worker killed 4 times in a row was restarted after %r s: no back-off"
          % [round(d, 2) for d in delays])
    check(delays[-1] >= delays[0], "restart delays shrink in a crash loop: %r" % [round(d, 2) for d in delays])
    st = m.status()
    check(st["workers"][0].get("restarts", 0) >= 4, "status restarts: %r" % st["workers"])
    wait_until(lambda: tunnel_works(p), 20, "the tunnel to work after the crash loop", interval=0.5)


class Forwarder:
    """A TCP forwarder 127.0.0.1:port -> target that can simulate a network blip."""

    def __init__(self, env, target):
        import socket as so
        import threading
        self.so, self.threading = so, threading
        self.target = target
        self.ls = env.sock(so.socket())
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.port = self.ls.getsockname()[1]
        self.pairs = []
        self.env = env
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            try:
                u = self.so.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                c.close()
                continue
            pair = {"c": c, "u": u, "cut": False}
            with self.lock:
                self.pairs.append(pair)
            self.env.sock(c)
            self.env.sock(u)
            for a, b in ((c, u), (u, c)):
                self.threading.Thread(target=self._pump, args=(pair, a, b), daemon=True).start()

    def _pump(self, pair, a, b):
        a.settimeout(None)
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                if pair["cut"]:
                    continue          # the server's bytes fall into the void
                b.sendall(d)
        except OSError:
            pass
        if not pair["cut"]:
            try:
                b.shutdown(self.so.SHUT_WR)
            except OSError:
                pass

    def blip(self):
        """Reset every client-side socket; the server side stays open and silent."""
        with self.lock:
            pairs = list(self.pairs)
            self.pairs = []
        for p in pairs:
            p["cut"] = True
            p["c"].setsockopt(self.so.SOL_SOCKET, self.so.SO_LINGER, struct.pack("ii", 1, 0))
            p["c"].close()
        return len(pairs)


@test(timeout=60)
def test_client_takeover_after_network_blip(env):
    """The server never saw the old connection close: the client's register with its previous
    client_id must take the ports over at once instead of waiting out heartbeat_timeout."""
    svc = env.service(echo_handler)
    m = env.master(heartbeat_timeout=60)
    fw = Forwarder(env, m.port)

    class ViaForwarder:
        """The master, as the client sees it: through the forwarder."""
    via = ViaForwarder()
    via.port, via.token, via.mappings, via.clients = fw.port, m.token, m.mappings, m.clients
    p = env.ports[0]
    c = env.client(via, [{"name": "echo", "local_port": svc.port, "remote_port": p}],
                   heartbeat_timeout=60)
    check_tunnel(p, "tunnel before the blip")
    old = c.client_ids()
    check(len(old) == 1, "clients: %r" % old)
    n = fw.blip()
    t0 = time.monotonic()
    check(old[0] in [x.get("id") for x in m.clients()],
          "test setup: the server noticed the blip at once, so this tests nothing")
    wait_until(lambda: tunnel_works(p), 10, "the tunnel to work again after a network blip (%d connections cut)" % n,
               interval=0.3)
    env.note("back after %.1fs" % (time.monotonic() - t0))
    ids = [x.get("id") for x in m.clients() if x.get("name") == c.name]
    check(len(ids) == 1 and ids[0] != old[0], "clients after the blip: %r (old %s)" % (ids, old[0]))


@test(timeout=60)
def test_client_partial_register_failure(env):
    """One refused mapping does not stop the client's other mappings."""
    from lib import free_port
    svc = env.service(echo_handler)
    m = env.master()
    p = env.ports[0]
    bad = free_port()           # not in allow_ports
    c = env.client(m, [{"name": "good", "local_port": svc.port, "remote_port": p},
                       {"name": "bad", "local_port": svc.port, "remote_port": bad}], wait=False)
    wait_until(lambda: any(x.get("name") == "good" for x in c.my_mappings()), 15, "the good mapping")
    check_tunnel(p, "the good mapping")
    time.sleep(1)
    check(c.proc.alive(), "client exited after one refused mapping")
    check(re.search(r"not allowed", c.proc.log()), "client log does not say why mapping 'bad' was refused")
    check_tunnel(p, "the good mapping a second later")


@test(timeout=60)
def test_second_master_cannot_share_ports(env):
    """A second master (another data_dir) must not silently share the first one's ports.

    Both listen with SO_REUSEPORT, so bind() succeeds for the second one and the
    kernel then splits connections between the two: public connections of one
    client would reach the other's local service.
    """
    import socket as so
    from lib import Master, Proc, connect, MASTER

    def say(tag):
        def h(c, a):
            c.sendall(tag)
            c.shutdown(so.SHUT_WR)
        return h
    sa, sb = env.service(say(b"A")), env.service(say(b"B"))
    p = env.ports[0]
    ma = env.master()
    env.client(ma, [{"name": "x", "local_port": sa.port, "remote_port": p}])
    problems = []
    # 1. a second master on the same bind_port must refuse to start
    mc = Master(env, name="same-bind-port")
    mc.cfg["bind_port"] = ma.port
    mc.write()
    pc = Proc(mc.name, [MASTER, "-c", mc.conf], mc.log_path)
    env.procs.append(pc)
    try:
        pc.p.wait(timeout=5)
    except Exception:  # noqa: BLE001 - still running
        pass
    if pc.alive():
        problems.append("a second master started on bind_port %d, which the first one uses" % ma.port)
    pc.stop()
    # 2. another master's client asking for a public port that is already published
    mb = env.master()
    cb = env.client(mb, [{"name": "x", "local_port": sb.port, "remote_port": p}], wait=False)
    time.sleep(2)
    seen = {}
    for _ in range(30):
        s = connect(p, timeout=5)
        data, _, _ = read_until_close(s, 3)
        s.close()
        seen[data] = seen.get(data, 0) + 1
    if seen.get(b"B"):
        problems.append("public port %d: %d of 30 connections reached the other master's client (%r)"
                        % (p, seen[b"B"], seen))
    if any(x.get("remote_port") == p for x in mb.mappings()):
        problems.append("the second master published port %d too" % p)
    check(not problems, "; ".join(problems))
    check(cb.proc.alive(), "second client died")
