# SPDX-License-Identifier: ISC
"""History retention (issue 17): the record cap, retention by age, the audit
log kept apart, export and paging while records vanish, and a data file that
stops growing under churn.  The history is read through the real
gotunnel-admin (Kore) where the issue names its API, and through
`gotunnelctl stats` for the counters."""

import http.client
import json
import os
import re
import subprocess
import threading
import time

from lib import (CTL, ROOT, LOCAL, Proc, check, connect, fail, free_port, recv_exact, test, wait_until,
                 write_ini)

PASSWORD = "retention-op-password"


def admin_bin():
    """gotunnel-admin next to the binaries under test, else the plain build's."""
    for d in (os.environ.get("ADMIN_BIN", ""), os.environ.get("GOTUNNEL_BIN", ""), "bin"):
        if not d:
            continue
        d = d if os.path.isabs(d) else os.path.join(ROOT, d)
        p = os.path.join(d, "gotunnel-admin")
        if os.access(p, os.X_OK) and os.path.exists(p + ".so"):
            return p
    return None


class Admin:
    """The real gotunnel-admin on the master's data_dir, logged in."""

    def __init__(self, env, master):
        prog = admin_bin()
        check(prog is not None, "gotunnel-admin is not built (make admin)")
        self.env = env
        www = os.path.join(env.dir, "www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("<!doctype html><title>gotunnel</title>")
        rc, out, err = run_cmd_stdin([CTL, "-c", master.conf, "user", "add", "op"],
                                     PASSWORD + "\n", timeout=60)
        check(rc == 0, "gotunnelctl user add: exit %d: %s" % (rc, err[-300:]))
        self.ini = os.path.join(env.dir, "admin.ini")
        for attempt in range(3):
            self.port = free_port()
            write_ini(self.ini, [("common", {"data_dir": master.data_dir,
                                             "control_socket": master.cfg["control_socket"]}),
                                 ("admin", {"bind_addr": LOCAL, "bind_port": self.port,
                                            "assets": www})])
            self.proc = Proc("admin", [prog, "-c", self.ini], os.path.join(env.dir, "admin.log"))
            env.procs.append(self.proc)
            try:
                wait_until(lambda: self.proc.alive() and self._health(), 20, "gotunnel-admin to answer")
                break
            except AssertionError:
                self.proc.close()
                if attempt == 2:
                    raise
        r = self.req("POST", "/api/login", {"username": "op", "password": PASSWORD})
        check(r[0] == 200, "login: %s %r" % (r[0], r[1][:200]))
        self.cookie = re.search(r"gt_session=([0-9a-f]+)", r[2]).group(1)

    def _health(self):
        try:
            return self.req("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def req(self, method, path, body=None, timeout=30):
        """One request: (status, body bytes, set-cookie header)."""
        conn = http.client.HTTPConnection(LOCAL, self.port, timeout=timeout)
        try:
            h = {}
            if getattr(self, "cookie", None):
                h["Cookie"] = "gt_session=" + self.cookie
            data = None
            if body is not None:
                data = json.dumps(body)
                h["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return r.status, r.read(), r.getheader("set-cookie") or ""
        finally:
            conn.close()

    def get(self, path):
        st, body, _ = self.req("GET", path)
        check(st == 200, "GET %s: %d %r" % (path, st, body[:200]))
        return json.loads(body)

    def conns(self, per_page=500):
        """Every connection record, newest first (all pages)."""
        items, page = [], 1
        while page < 1000:
            r = self.get("/api/sessions?kind=conns&per_page=%d&page=%d" % (per_page, page))
            items += r["items"]
            if page * per_page >= r["total"]:
                break
            page += 1
        return items


def retention_settings(admin):
    """The retention fields of /api/settings."""
    st = admin.get("/api/settings")
    return {k: st.get(k) for k in ("history_retention", "history_max_records", "audit_retention")}


def run_cmd_stdin(argv, text, timeout):
    """Like lib.run_cmd, with text on stdin (gotunnelctl user add reads the password)."""
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    try:
        r = subprocess.run(argv, input=text.encode(), capture_output=True, timeout=timeout,
                           cwd=ROOT, env=e)
    except subprocess.TimeoutExpired:
        fail("command timed out after %ss: %s" % (timeout, " ".join(argv)))
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def metrics(master):
    """gotunnelctl stats as {name{labels}: value}."""
    rc, out, err = master.ctl("stats")
    check(rc == 0, "gotunnelctl stats: exit %d: %s" % (rc, err[-300:]))
    vals = {}
    for line in out.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            vals[k] = float(v)
    return vals


def records(master):
    m = metrics(master)
    return int(m['gotunnel_history_records{kind="sessions"}'] +
               m['gotunnel_history_records{kind="connections"}'])


def burst(port, n, src, threads=8, rate=None, payload=b"retention!"):
    """n echo round trips through the tunnel from source address src (or a
    list of them, one per thread in turn: a loopback source address has only
    ~28,000 ephemeral ports, which TIME_WAIT holds for a minute), at most
    rate per second when given (a steady load, as in production)."""
    srcs = [src] if isinstance(src, str) else list(src)
    errors = []
    left = [n]
    lock = threading.Lock()
    slot = [time.monotonic()]

    def worker(src):
        while True:
            with lock:
                if left[0] == 0 or errors:
                    return
                left[0] -= 1
                # The next free slot; time lost to a stall is not made up
                # with a burst afterwards.
                due = slot[0] = max(slot[0], time.monotonic()) + 1.0 / rate if rate else 0
            if rate and due > time.monotonic():
                time.sleep(due - time.monotonic())
            try:
                s = connect(port, src=src, timeout=10)
                try:
                    s.sendall(payload)
                    got = recv_exact(s, len(payload))
                    if got != payload:
                        raise OSError("echo mismatch")
                finally:
                    s.close()
            except (OSError, EOFError) as e:
                with lock:
                    errors.append(repr(e))
                return
    ts = [threading.Thread(target=worker, args=(srcs[i % len(srcs)],), daemon=True)
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    check(not errors, "connections through the tunnel failed: %s" % errors[:3])


def setup(env, **cfg):
    m = env.master(log_level="info", max_conns_per_mapping=10000, **cfg)
    svc = env.service()
    c = env.client(m, [{"name": "echo", "local_port": svc.port, "remote_port": env.ports[0]}],
                   log_level="info", pool_count=16)
    c.wait_registered()
    return m, env.ports[0]


class ExportWatch:
    """Runs exports (ndjson, newest first) over and over until stopped; any
    error, duplicate or out-of-order row is recorded."""

    def __init__(self, admin):
        self.admin = admin
        self.errors = []
        self.runs = 0
        self.rows = 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stop.is_set():
            try:
                st, body, _ = self.admin.req("GET", "/api/sessions/export?kind=conns&format=ndjson",
                                             timeout=60)
            except OSError as e:
                self.errors.append("export: %r" % e)
                return
            if st != 200:
                self.errors.append("export: HTTP %d" % st)
                return
            last = None
            for line in body.decode().split("\n"):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    self.errors.append("export: bad line %r" % line[:100])
                    return
                rid = int(row["id"])
                if last is not None and rid >= last:
                    self.errors.append("export: id %d after %d (duplicate or out of order)" % (rid, last))
                    return
                last = rid
                self.rows += 1
            self.runs += 1
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.t.join(120)
        check(not self.t.is_alive(), "export did not finish")
        check(not self.errors, "; ".join(self.errors[:3]))
        check(self.runs >= 1, "no export completed")


def peers_by_src(items):
    out = {}
    for it in items:
        out.setdefault(it["peer"].rsplit(":", 1)[0], []).append(int(it["id"]))
    return out


@test(timeout=240)
def test_retention_record_cap(env):
    """history_max_records = 500: 800 connections -> at most 500 kept, the
    newest, within 10 s; exports keep working; audit entries survive."""
    m, port = setup(env, history_max_records=500)
    a = Admin(env, m)
    st = retention_settings(a)
    check(st == {"history_retention": 90 * 86400, "history_max_records": 500,
                 "audit_retention": 365 * 86400}, "/api/settings: %r" % st)
    audit0 = a.get("/api/audit?per_page=1")["total"]
    check(audit0 >= 1, "no audit entry for the login")
    watch = ExportWatch(a)
    try:
        # Sources of their own (never 127.0.0.11-13, where test_multi's
        # masters listen: a TIME_WAIT there would block their public ports).
        burst(port, 300, "127.0.0.41")          # the oldest: must go
        time.sleep(1.5)                          # flushed before the next ones
        burst(port, 400, "127.0.0.42")
        time.sleep(1.5)
        burst(port, 100, "127.0.0.43")          # the newest: must stay
        t_end = time.monotonic()
        # Within 10 s of the last connection: all 800 written, at most the
        # cap kept (800 connections + 1 session - 500 = 301 pruned).

        def capped():
            t = a.get("/api/sessions?kind=conns&per_page=1")["total"]
            p = metrics(m).get('gotunnel_history_pruned_total{kind="connections"}', 0)
            return t if t <= 500 and p >= 301 else None
        total = wait_until(capped, 10, "connection history to shrink to history_max_records")
        took = time.monotonic() - t_end
        # Paging while pruning has stopped: one pass, no duplicates.
        items = a.conns(per_page=37)
        ids = [int(i["id"]) for i in items]
        check(ids == sorted(set(ids), reverse=True), "paging returned duplicates or disorder")
        by = peers_by_src(items)
        check("127.0.0.41" not in by, "%d of the oldest connections are still kept" %
              len(by.get("127.0.0.41", [])))
        check(len(by.get("127.0.0.43", [])) == 100, "only %d of the newest 100 connections kept" %
              len(by.get("127.0.0.43", [])))
        sess = a.get("/api/sessions?kind=sessions&per_page=1")["total"]
        check(sess + len(items) <= 500, "sessions %d + connections %d > 500" % (sess, len(items)))
    finally:
        watch.stop.set()
    watch.finish()
    # The audit log is not counted against the cap.
    check(a.get("/api/audit?per_page=1")["total"] >= audit0, "audit entries were pruned by the cap")
    mt = metrics(m)
    pruned = mt.get('gotunnel_history_pruned_total{kind="connections"}', 0)
    check(pruned >= 300, "gotunnel_history_pruned_total{kind=connections} = %s" % pruned)
    check(mt.get("gotunnel_audit_pruned_total", -1) == 0, "audit entries pruned")
    check(mt["gotunnel_history_max_records"] == 500, "metrics lack the cap")
    check(mt["gotunnel_lmdb_file_size_bytes"] == os.stat(os.path.join(m.data_dir, "data.mdb")).st_size,
          "gotunnel_lmdb_file_size_bytes differs from data.mdb's size")
    # The admin's /metrics renders the same families (inside Kore's sandbox).
    st, body, _ = a.req("GET", "/metrics")
    check(st == 200 and b'gotunnel_history_records{kind="connections"}' in body and
          b"gotunnel_lmdb_file_size_bytes " in body and
          b"gotunnel_history_oldest_record_timestamp_seconds " in body,
          "admin /metrics lacks the history families: %d %r" % (st, body[-300:]))
    env.note("kept %d connections %.1fs after the last; %d exports (%d rows) ran meanwhile"
             % (total, took, watch.runs, watch.rows))


@test(timeout=180)
def test_retention_age(env):
    """history_retention = 2s: older records disappear; paging through
    them while they vanish neither skips nor repeats a row, and exports
    never fail."""
    m, port = setup(env, history_retention="2s")
    a = Admin(env, m)
    check(a.get("/api/settings")["history_retention"] == 2, "/api/settings lacks 2 s")
    watch = ExportWatch(a)
    overlapped = 0
    made = 0
    try:
        # Rounds until one paging pass ran while rows were being pruned
        # (each round's rows expire 2 s after they end).
        for rnd in range(6):
            burst(port, 150, "127.0.0.%d" % (21 + rnd))
            made += 150
            # All written (kept or already pruned) before paging starts, so
            # no new row shifts the pages.
            wait_until(lambda: a.get("/api/sessions?kind=conns&per_page=1")["total"] +
                       metrics(m).get('gotunnel_history_pruned_total{kind="connections"}', 0) >= made,
                       15, "round %d to be written" % rnd, interval=0.05)
            before = a.get("/api/sessions?kind=conns&per_page=1")["total"]
            seen, page = [], 1
            while page < 500:
                r = a.get("/api/sessions?kind=conns&per_page=5&page=%d" % page)
                seen += [int(i["id"]) for i in r["items"]]
                if not r["items"]:
                    break
                page += 1
                time.sleep(0.02)
            after = {int(i["id"]) for i in a.conns()}
            check(seen == sorted(set(seen), reverse=True),
                  "paging while pruning: duplicates or disorder in round %d" % rnd)
            # Offsets count from the newest, and only the oldest vanish:
            # every row still there after the pass was on its page.
            check(after <= set(seen), "paging skipped %d rows that are still kept" %
                  len(after - set(seen)))
            if len(after) < before and seen:
                overlapped += 1
                break
        check(overlapped, "no paging pass overlapped the pruning in 6 rounds")
        # Then everything older than 2 s goes; only the newest record may
        # stay (it carries the sequence number on).
        t_end = time.time()
        wait_until(lambda: a.get("/api/sessions?kind=conns&per_page=1")["total"] <= 1, 15,
                   "records older than 2 s to disappear")
        left = a.conns()
        check(all(i["end"] >= t_end - 10 for i in left), "an old record is still kept: %r" % left[:1])
    finally:
        watch.stop.set()
    watch.finish()
    mt = metrics(m)
    check(mt.get('gotunnel_history_pruned_total{kind="connections"}', 0) >= made - 1,
          "pruned counter: %r" % mt.get('gotunnel_history_pruned_total{kind="connections"}'))
    # A reload applies new limits; the admin shows them.
    m.cfg["history_retention"] = "0"
    m.cfg["history_max_records"] = "0"
    m.write()
    rc, out, err = m.ctl("reload")
    check(rc == 0, "gotunnelctl reload: %d %s" % (rc, err[-200:]))
    wait_until(lambda: retention_settings(a) == {"history_retention": 0, "history_max_records": 0,
                                                 "audit_retention": 365 * 86400},
               10, "/api/settings to show the reloaded limits")
    env.note("paging overlapped pruning in round %d (%d rows seen, %d before, %d after); %d exports ran"
             % (rnd, len(seen), before, len(after), watch.runs))


@test(timeout=600)
def test_retention_churn_file_size(env):
    """20,000 connections with history_max_records = 1000: the data file's
    size after the first 5,000 and after all 20,000 differ by < 10%."""
    m, port = setup(env, history_max_records=1000, workers=2)
    data = os.path.join(m.data_dir, "data.mdb")

    def settled():
        n = records(m)
        return n if n <= 1000 else None

    done = 0
    sizes = {}
    t0 = time.monotonic()
    for upto in (5000, 10000, 15000, 20000):
        # A steady 400/s (the master's pruning keeps up within a second).
        burst(port, upto - done, ["127.0.0.%d" % (31 + i) for i in range(8)], threads=8,
              rate=400)
        done = upto
        wait_until(settled, 30, "history to come back to the cap after %d connections" % upto)
        sizes[upto] = os.stat(data).st_size
    dt = time.monotonic() - t0
    mt = metrics(m)
    a, b = sizes[5000], sizes[20000]
    figures = ", ".join("%d: %d bytes" % (k, v) for k, v in sorted(sizes.items()))
    print("    churn data.mdb sizes after N connections: %s; map %d bytes; %.0f s" %
          (figures, mt["gotunnel_lmdb_map_size_bytes"], dt), flush=True)
    env.note("data.mdb %s" % figures)
    check(abs(b - a) < a * 0.10, "data.mdb grew from %d to %d bytes (>= 10%%)" % (a, b))
    # Once the last records are written: 20,000 + 1 session - 1,000 pruned.
    wait_until(lambda: metrics(m).get('gotunnel_history_pruned_total{kind="connections"}', 0) >= 19001
               and records(m) <= 1000, 30, "every connection beyond the cap to be pruned")
