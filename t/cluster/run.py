#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Cluster mode, server side: three real masters on one real PostgreSQL.

A PostgreSQL from Debian's package runs in this run's temp dir (initdb and
pg_ctl as the postgres user) on a free port of 127.0.0.1; three masters run
as pods would: the same bind_port, each on its own address (127.0.0.11, .12,
.13), each with its own data_dir and control_socket.  The steps share that
cluster and run in order; each one is a test that passes or fails.

Usage: python3 t/cluster/run.py [-k NAME] [--keep]  (-k still runs the
set-up and the first step, which the others build on)
Needs root (initdb runs as postgres) and postgresql-15; ends with
"N passed, N failed".
"""

import argparse
import base64
import concurrent.futures
import hashlib
import hmac
import http.client
import json
import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import lib  # noqa: E402
from test_alerts import Receiver  # noqa: E402 - the e2e suite's webhook receiver

PG_BIN = "/usr/lib/postgresql/15/bin"
ADDRS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
NODE_TIMEOUT = 5
TOKEN = "tok-" + os.urandom(8).hex()


def totp_code(secret, step):
    """RFC 6238 with SHA-1, 6 digits (as t/admin/run.py computes it)."""
    mac = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    n = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    return "%06d" % (n % 1000000)


class Postgres:
    """A throw-away PostgreSQL cluster in dir, owned by the postgres user."""

    def __init__(self, base):
        self.dir = os.path.join(base, "pg")
        os.chmod(base, 0o711)           # postgres must reach its directory
        os.makedirs(self.dir)
        shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        self.port = lib.free_port()
        self.url = "postgresql://gotunnel@127.0.0.1:%d/postgres" % self.port
        self._pg("initdb", "-D", self.dir, "-A", "trust", "-U", "gotunnel")

    def _pg(self, prog, *args, timeout=60):
        r = subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, prog)] + list(args),
                           capture_output=True, timeout=timeout)
        if r.returncode != 0:
            lib.fail("%s failed: %s" % (prog, r.stderr.decode()[-500:]))

    def start(self):
        self._pg("pg_ctl", "-D", self.dir, "-o",
                 "-c listen_addresses=127.0.0.1 -p %d -k %s" % (self.port, self.dir),
                 "-l", os.path.join(self.dir, "log"), "-w", "start")

    def stop(self):
        self._pg("pg_ctl", "-D", self.dir, "-m", "fast", "-w", "stop")

    def query(self, sql):
        """Rows of a query as lists of strings (psql -At, | separated)."""
        r = subprocess.run(["psql", "-At", "-X", "-v", "ON_ERROR_STOP=1", self.url, "-c", sql],
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            lib.fail("psql: %s" % r.stderr.decode()[-500:])
        out = r.stdout.decode().strip()
        return [line.split("|") for line in out.splitlines()] if out else []


class Node:
    """One gotunnel-master of the cluster."""

    def __init__(self, env, i, pg, bind_port, allow):
        self.env = env
        self.addr = ADDRS[i]
        self.name = "m%d" % (i + 1)
        self.conf = os.path.join(env.dir, self.name + ".ini")
        self.log_path = os.path.join(env.dir, self.name + ".log")
        self.sock = os.path.join(env.dir, self.name + ".sock")
        self.port = bind_port
        self.token = TOKEN
        self.proc = None
        lib.write_ini(self.conf, [
            ("common", {
                "bind_addr": self.addr, "bind_port": bind_port,
                "proxy_bind_addr": self.addr, "token": TOKEN,
                "allow_ports": allow, "workers": 2,
                "data_dir": os.path.join(env.dir, self.name + "-data"),
                "control_socket": self.sock, "log_level": "info",
                "heartbeat_timeout": 30, "max_clients": 5000}),
            ("cluster", {"database": pg.url, "node_name": self.name,
                         "node_timeout": "%ds" % NODE_TIMEOUT}),
        ])

    def start(self):
        self.proc = lib.Proc(self.name, [lib.MASTER, "-c", self.conf], self.log_path)
        self.env.procs.append(self.proc)

        def ready():
            if not self.proc.alive():
                lib.fail("%s exited: %s" % (self.name, self.proc.log()[-800:]))
            rc, out, _ = self.ctl("status", "--json")
            return rc == 0 and lib.port_accepts(self.port, host=self.addr)
        lib.wait_until(ready, 30, "%s to start" % self.name)
        lib.wait_until(lambda: "cluster: schema at version" in self.proc.log(), 30,
                       "%s to reach the database" % self.name)

    def ctl(self, *args):
        return lib.run_cmd([lib.CTL, "-c", self.conf] + list(args))

    def json(self, *args):
        rc, out, err = self.ctl(*(list(args) + ["--json"]))
        lib.check(rc == 0, "%s: gotunnelctl %s: exit %d: %s" % (self.name, " ".join(args), rc, err.strip()))
        return json.loads(out)

    def pids(self):
        """The master and its workers (the tree kill -9 must take down)."""
        st = self.json("status")
        return [st["pid"]] + [w["pid"] for w in st["workers"] if w.get("pid")]

    def rss_kib(self):
        total = 0
        for pid in self.pids():
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total


def echo_via(addr, port, payload=None, timeout=5.0, src=None):
    """One public connection through addr:port to the echo service; returns
    the source address used (the peer the master records)."""
    payload = payload or os.urandom(512)
    s = socket.create_connection((addr, port), timeout=timeout,
                                 source_address=(src, 0) if src else None)
    try:
        src = "%s:%d" % s.getsockname()
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            d = s.recv(65536)
            if not d:
                break
            got += d
        lib.check(got == payload, "echo through %s:%d returned %d of %d bytes" %
                  (addr, port, len(got), len(payload)))
        return src
    finally:
        s.close()


def raw_register(addr, port, name, remote_port, timeout=10):
    """A raw control session; returns (socket, register_response)."""
    s = lib.connect(port, host=addr, timeout=timeout)
    s.sendall(lib.encode(lib.register_msg(TOKEN, 9, remote_port, name)))
    return s, lib.recv_frame(s)


def session_end(s, timeout=10):
    """Reads s until the master ends the session: its error message,
    "closed" without one, None if it went on for timeout seconds."""
    s.settimeout(timeout)
    try:
        while True:
            m = lib.recv_frame(s)
            if m.get("type") == "error":
                return m.get("error") or m.get("message") or "error"
    except socket.timeout:
        return None
    except (EOFError, OSError):
        return "closed"


class AdminOf:
    """The real gotunnel-admin (bin/, Kore) beside a node: its ini is the
    node's plus [admin], so it reads the node's data_dir and asks the
    node's master over its control socket."""

    BIN = os.path.join(lib.ROOT, os.environ.get("ADMIN_BIN", "bin"), "gotunnel-admin")
    PASSWORD = "cluster-admin-password"

    def __init__(self, env, node):
        self.env = env
        self.node = node
        self.dir = os.path.join(env.dir, "admin-" + node.name)
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)  # a second try after a failed start
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("<!doctype html><title>gotunnel</title>")
        self.ini = os.path.join(self.dir, "gotunnel.ini")
        with open(node.conf) as f:
            base = f.read()
        self.port = lib.free_port()
        with open(self.ini, "w") as f:
            f.write(base + "\n[admin]\nbind_addr = 127.0.0.1\nbind_port = %d\n"
                    "session_ttl = 1h\nassets = %s\n" % (self.port, www))
        r = subprocess.run([lib.CTL, "-c", self.ini, "user", "add", "clusterop"],
                           input=(self.PASSWORD + "\n").encode(), capture_output=True, timeout=30)
        # Users are cluster-wide: another node's admin may have added it.
        lib.check(r.returncode == 0 or b"user exists (in the cluster)" in r.stderr,
                  "user add: %s" % r.stderr.decode())
        self.proc = lib.Proc("admin-" + node.name, [self.BIN, "-c", self.ini],
                             os.path.join(self.dir, "admin.log"))
        env.procs.append(self.proc)

        def up():
            if not self.proc.alive():
                lib.fail("gotunnel-admin exited: %s" % self.proc.log()[-800:])
            try:
                return self.req("GET", "/healthz")[0] == 200
            except OSError:
                return False
        lib.wait_until(up, 20, "gotunnel-admin of %s" % node.name)
        self.cookie, self.csrf = lib.wait_until(lambda: self.login("clusterop", self.PASSWORD), 15,
                                                "login to the admin of %s" % node.name)

    def login(self, user, password):
        """(cookie, csrf token) of a login, None when refused."""
        h = {"Content-Type": "application/json"}
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("POST", "/api/login", body=json.dumps({"username": user, "password": password}),
                      headers=h)
            r = c.getresponse()
            body = r.read().decode()
            if r.status != 200:
                return None
            cookie = [v.split(";")[0].split("=", 1)[1] for k, v in r.getheaders()
                      if k.lower() == "set-cookie" and v.startswith("gt_session=")][0]
            return cookie, json.loads(body)["csrf_token"]
        finally:
            c.close()

    def login_otp(self, user, password, otp=None):
        """(status, JSON body) of a login with a TOTP code (None: no "otp")."""
        body = {"username": user, "password": password}
        if otp is not None:
            body["otp"] = otp
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("POST", "/api/login", body=json.dumps(body),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, json.loads(r.read().decode() or "{}")
        finally:
            c.close()

    def get_as(self, cookie, path):
        """The status of a GET with another session's cookie."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("GET", path, headers={"Cookie": "gt_session=" + cookie})
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()

    def req(self, method, path, body=None):
        """(status, headers, body) of one request to the admin."""
        h = {}
        if getattr(self, "cookie", None):
            h["Cookie"] = "gt_session=" + self.cookie
            h["X-CSRF-Token"] = self.csrf
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif method == "POST":
            data = b""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return r.status, r.getheaders(), r.read().decode()
        finally:
            c.close()

    def get(self, path):
        """(status, decoded JSON) of a GET."""
        st, _, body = self.req("GET", path)
        return st, json.loads(body)


class Suite:
    def __init__(self, args):
        self.args = args
        self.env = lib.Env("cluster")
        self.passed = self.failed = 0
        self.pg = None
        self.nodes = []
        self.clients = []
        self.raw = []
        self.admin = None

    def step(self, name, fn, always=False):
        # -k: the set-up and the clients every later step uses still run.
        if self.args.k and self.args.k not in name and not always:
            return
        t0 = time.monotonic()
        try:
            fn()
            self.passed += 1
            print("ok   %-44s %.1fs" % (name, time.monotonic() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            self.failed += 1
            print("FAIL %-44s %s" % (name, e), flush=True)
            if not isinstance(e, lib.TestFailure):
                traceback.print_exc()

    # ------------------------------------------------------------ set-up

    def setup(self):
        self.pg = Postgres(self.env.dir)
        self.pg.start()
        # One bind_port free on all three addresses.
        for _ in range(50):
            p = lib.free_port()
            if all(lib.port_refuses(p, host=a) for a in ADDRS):
                break
        self.bind_port = p
        self.port = lib.free_port()                     # alice's remote port
        lo = 21000 + (os.getpid() % 40) * 100
        self.allow = "%d,%d-%d" % (self.port, lo, lo + 1499)
        self.echo = self.env.service()
        self.nodes = [Node(self.env, i, self.pg, self.bind_port, self.allow) for i in range(3)]
        rc, out, err = self.nodes[0].ctl("db", "init")
        lib.check(rc == 0 and "schema at version 3" in out, "db init: %s %s" % (out, err))
        rc, out, err = self.nodes[0].ctl("db", "init")
        lib.check(rc == 0 and "schema at version 3" in out, "db init again: %s %s" % (out, err))
        for n in self.nodes:
            n.start()

    def alice_client(self):
        """alice's gotunnel-client with the three masters in server_addr."""
        c = lib.Client(self.env, self.nodes[0], [{"name": "web", "local_port": self.echo.port,
                                                  "remote_port": self.port}], name="alice",
                       server_addr=",".join(ADDRS), server_port=self.bind_port, token=TOKEN)
        c.start(wait=False)
        return c

    def alice_id(self, node):
        """The id of alice's session on node (from node's own list)."""
        for c in node.json("clients"):
            if c.get("name") == "alice" and c.get("node") == node.name:
                return c["id"]
        return None

    # ------------------------------------------------------------ steps

    def t_forward_all(self):
        self.clients.append(self.alice_client())
        for n in self.nodes:
            lib.wait_until(lambda n=n: lib.port_accepts(self.port, host=n.addr), 30,
                           "alice's port on %s" % n.name)
            echo_via(n.addr, self.port)
        rows = self.pg.query("SELECT identity FROM gt_ports WHERE port = %d" % self.port)
        lib.check(rows == [["alice"]], "gt_ports owner of %d: %r" % (self.port, rows))
        holds = self.pg.query("SELECT node FROM gt_holds WHERE port = %d ORDER BY node" % self.port)
        lib.check(holds == [["m1"], ["m2"], ["m3"]], "holds: %r" % holds)

    def t_other_identity_refused(self):
        for n in self.nodes:
            s, r = raw_register(n.addr, n.port, "bob", self.port)
            s.close()
            lib.check(r.get("status") == "fail" and r.get("error") == "port in use",
                      "bob on %s got %r" % (n.name, r))

    def t_race(self):
        # Two identities race for one fresh port on two nodes: exactly one wins.
        port = int(self.allow.split(",")[1].split("-")[0]) + 1400
        socks = []
        for n, who in ((self.nodes[0], "race-a"), (self.nodes[1], "race-b")):
            s = lib.connect(n.port, host=n.addr)
            socks.append(s)
        for s, who in zip(socks, ("race-a", "race-b")):
            s.sendall(lib.encode(lib.register_msg(TOKEN, 9, port, who)))
        res = [lib.recv_frame(s) for s in socks]
        for s in socks:
            s.close()
        oks = [r for r in res if r.get("status") == "ok"]
        lib.check(len(oks) == 1, "race for port %d: %r" % (port, res))
        lib.check([r.get("error") for r in res if r.get("status") != "ok"] == ["port in use"],
                  "loser's error: %r" % res)

    def t_nodes_and_clients(self):
        def all_online():
            v = self.nodes[0].json("nodes")
            return v if [(x["name"], x["status"]) for x in v] == \
                [("m1", "online"), ("m2", "online"), ("m3", "online")] else None
        v = lib.wait_until(all_online, 15, "three online nodes")
        for x in v:
            for k in ("name", "advertise_addr", "status", "last_seen", "clients", "connections", "version"):
                lib.check(k in x, "nodes item lacks %s: %r" % (k, x))
        lib.check([x["advertise_addr"] for x in v] == ADDRS, "advertise_addr: %r" % v)
        rc, out, _ = self.nodes[0].ctl("nodes")
        lib.check(rc == 0 and "m3" in out and "online" in out, "nodes (text): %s" % out)

        def sessions():
            cl = self.nodes[0].json("clients")
            nodes = sorted(c.get("node") for c in cl if c.get("name") == "alice")
            return cl if nodes == ["m1", "m2", "m3"] else None
        lib.wait_until(sessions, 15, "alice's sessions of m1, m2 and m3 in m1's clients")
        maps = self.nodes[0].json("mappings")
        got = sorted(m.get("node") for m in maps if m.get("remote_port") == self.port)
        lib.check(got == ["m1", "m2", "m3"], "mappings nodes: %r" % got)

    def t_audit(self):
        # An audit event of gotunnelctl on m2 reaches PostgreSQL, once.
        r = subprocess.run([lib.CTL, "-c", self.nodes[1].conf, "user", "add", "ops"],
                           input=b"correct-horse-battery\n", capture_output=True, timeout=30)
        lib.check(r.returncode == 0, "user add: %s" % r.stderr.decode())
        sql = "SELECT node, username, action, ok FROM gt_audit WHERE action = 'user_add'"
        rows = lib.wait_until(lambda: self.pg.query(sql), 15, "user_add in gt_audit")
        lib.check(len(rows) == 1 and rows[0][0] == "m2" and rows[0][2:] == ["user_add", "t"],
                  "gt_audit: %r" % rows)

    def t_kick_remote(self):
        s, r = raw_register(self.nodes[2].addr, self.nodes[2].port, "kickme", 0)
        self.raw.append(s)
        lib.check(r.get("status") == "ok", "kickme register: %r" % r)
        cid = r["client_id"]
        lib.wait_until(lambda: any(c.get("id") == cid and c.get("node") == "m3"
                                   for c in self.nodes[0].json("clients")), 15,
                       "m1 to list the session of m3")
        s.settimeout(10)
        t0 = time.monotonic()
        rc, out, err = self.nodes[0].ctl("kick", cid)
        lib.check(rc == 0, "kick on m1: %s %s" % (out, err))
        try:
            while True:
                m = lib.recv_frame(s)
                if m.get("type") == "error":
                    break
        except (EOFError, OSError):
            pass
        took = time.monotonic() - t0
        print("     kick on m1 ended the session on m3 in %.2fs" % took)
        lib.check(took < 2.0, "the session on m3 ended %.2fs after the kick" % took)
        rc, _, err = self.nodes[0].ctl("kick", "0" * 32)
        lib.check(rc != 0 and "no such client" in err, "kick of nobody: %s" % err)

    def t_admin(self):
        if not os.access(AdminOf.BIN, os.X_OK):
            print("     skipped: %s not built (make admin)" % AdminOf.BIN)
            return
        self.admin = a = AdminOf(self.env, self.nodes[0])

        def all_online():
            st, v = a.get("/api/nodes")
            lib.check(st == 200, "/api/nodes: %d %r" % (st, v))
            return v if [(x["name"], x["status"]) for x in v["items"]] == \
                [("m1", "online"), ("m2", "online"), ("m3", "online")] else None
        v = lib.wait_until(all_online, 15, "three online nodes in /api/nodes")
        want = self.nodes[0].json("nodes")
        for x, y in zip(v["items"], want):
            lib.check(sorted(x) == sorted(y) == sorted(["name", "advertise_addr", "status",
                                                          "last_seen", "clients", "connections",
                                                          "version"]),
                      "/api/nodes item %r vs gotunnelctl %r" % (x, y))
            lib.check((x["name"], x["advertise_addr"], x["version"]) ==
                      (y["name"], y["advertise_addr"], y["version"]), "item %r vs %r" % (x, y))
        st, _ = a.get("/api/nodes?x=1")
        lib.check(st == 400, "/api/nodes with a parameter: %d" % st)
        # /api/clients: alice's sessions of all three nodes, each with node.
        st, cl = a.get("/api/clients")
        lib.check(st == 200, "/api/clients: %d" % st)
        got = sorted(c.get("node") for c in cl["clients"] if c.get("name") == "alice")
        lib.check(got == ["m1", "m2", "m3"], "alice's nodes in /api/clients: %r" % got)
        for c in cl["clients"]:
            lib.check(c.get("id") and "mappings" in c, "client item: %r" % c)
        # A disconnect through m1's admin ends a session held by m3.
        s, r = raw_register(self.nodes[2].addr, self.nodes[2].port, "admin-kickme", 0)
        self.raw.append(s)
        lib.check(r.get("status") == "ok", "register: %r" % r)
        cid = r["client_id"]
        lib.wait_until(lambda: any(c.get("id") == cid and c.get("node") == "m3"
                                   for c in a.get("/api/clients")[1]["clients"]), 15,
                       "m1's admin to list the session of m3")
        st, one = a.get("/api/clients/%s" % cid)
        lib.check(st == 200 and one.get("node") == "m3" and one.get("name") == "admin-kickme"
                  and one.get("conns") == [], "/api/clients/ID of m3's session: %d %r" % (st, one))
        s.settimeout(10)
        st, _, body = a.req("POST", "/api/clients/%s/disconnect" % cid)
        lib.check(st == 200, "disconnect of m3's session: %d %s" % (st, body))
        ended = False
        try:
            while True:
                m = lib.recv_frame(s)
                if m.get("type") == "error":
                    ended = True
                    break
        except (EOFError, OSError):
            ended = True
        lib.check(ended, "the session on m3 did not end")
        st, _, body = a.req("POST", "/api/clients/%s/disconnect" % ("0" * 32))
        lib.check(st == 404, "disconnect of nobody: %d %s" % (st, body))
        st, _ = a.get("/api/clients/%s" % ("0" * 32))
        lib.check(st == 404, "/api/clients/ID of nobody: %d" % st)
        # Sessions history: every item names its node (see t_admin_history).
        st, h = a.get("/api/sessions")
        lib.check(st == 200 and h["items"] and all(i.get("node") in ("m1", "m2", "m3")
                                                   for i in h["items"]),
                  "/api/sessions nodes: %d %r" % (st, [i.get("node") for i in h.get("items", [])]))

    def t_admin_history(self):
        """m1's admin serves every node's history, export, stats and audit
        from PostgreSQL: connections through m2 and m3, an audit event of m3."""
        a = self.admin
        if a is None:
            print("     skipped: no admin (see the admin step)")
            return
        since = int(time.time()) - 1
        peers = {}                              # peer -> node it went through
        for i in range(6):
            n = self.nodes[1 + i % 2]
            peers[echo_via(n.addr, self.port, src="127.2.0.%d" % (i + 1))] = n.name
        r = subprocess.run([lib.CTL, "-c", self.nodes[2].conf, "user", "add", "ops-m3"],
                           input=b"correct-horse-battery\n", capture_output=True, timeout=30)
        lib.check(r.returncode == 0, "user add on m3: %s" % r.stderr.decode())
        q = "/api/sessions?kind=conns&q=127.2.0.&from=%d&per_page=500" % since

        def arrived():
            st, v = a.get(q)
            lib.check(st == 200, "%s: %d %r" % (q, st, v))
            got = {i["peer"]: i["node"] for i in v["items"]}
            return v if all(got.get(p) == nd for p, nd in peers.items()) else None
        v = lib.wait_until(arrived, 20, "m2's and m3's connections in m1's /api/sessions")
        lib.check(v["total"] == len(peers) == len(v["items"]), "total %r of %d" % (v["total"], len(peers)))
        shape = ["bytes_in", "bytes_out", "client_id", "client_name", "end", "id", "local_port",
                 "mapping", "node", "peer", "reason", "remote_port", "start", "status"]
        for i in v["items"]:
            lib.check(sorted(i) == shape, "conn item keys: %r" % sorted(i))
            lib.check(i["status"] == "closed" and i["client_name"] == "alice" and
                      i["remote_port"] == self.port and i["bytes_in"] == i["bytes_out"] == 512 and
                      isinstance(i["id"], str) and i["end"] >= i["start"] >= since,
                      "conn item: %r" % i)
        lib.check(len({i["id"] for i in v["items"]}) == len(peers), "ids not unique: %r" % v["items"])
        # Filters and paging as on one node: one peer, then page 2 of 1.
        one = sorted(peers)[0]
        st, f = a.get("/api/sessions?kind=conns&q=%s&from=%d" % (one, since))
        lib.check(st == 200 and f["total"] == 1 and f["items"][0]["node"] == peers[one],
                  "q=%s: %d %r" % (one, st, f))
        st, p2 = a.get(q.replace("per_page=500", "per_page=2&page=2"))
        lib.check(st == 200 and p2["total"] == len(peers) and p2["page"] == 2 and
                  [i["id"] for i in p2["items"]] == [i["id"] for i in v["items"][2:4]],
                  "page 2: %d %r" % (st, p2))
        st, f = a.get("/api/sessions?kind=conns&status=open&q=127.2.0.&from=%d" % since)
        lib.check(st == 200 and f["total"] == 0, "status=open: %d %r" % (st, f))
        st, _ = a.get("/api/sessions?kind=conns&port=0")
        lib.check(st == 400, "port=0: %d" % st)
        # Sessions: alice online on every node (from the nodes' live rows).
        st, s = a.get("/api/sessions?name=alice&status=online")
        lib.check(st == 200 and sorted(i["node"] for i in s["items"]) == ["m1", "m2", "m3"] and
                  all(i["status"] == "online" and str(self.port) in i["ports"].split(",")
                      for i in s["items"]), "alice's online sessions: %d %r" % (st, s))
        lib.check(sorted(s["items"][0]) == ["address", "bytes_in", "bytes_out", "client_id", "end", "id",
                                            "name", "node", "ports", "reason", "start", "status"],
                  "session item keys: %r" % sorted(s["items"][0]))
        # A session of m2 that ended: listed once, closed (not also online
        # from m2's live row, which is up to a second old).
        rs, r = raw_register(self.nodes[1].addr, self.nodes[1].port, "hist-once", 0)
        lib.check(r.get("status") == "ok", "hist-once register: %r" % r)
        lib.wait_until(lambda: a.get("/api/sessions?name=hist-once")[1]["total"] >= 1, 15,
                       "hist-once online in m1's /api/sessions")
        rs.close()

        def ended():
            st, v = a.get("/api/sessions?name=hist-once")
            lib.check(st == 200 and all(i["node"] == "m2" for i in v["items"]), "hist-once: %r" % v)
            return v if any(i["status"] == "closed" for i in v["items"]) else None
        v = lib.wait_until(ended, 15, "hist-once closed in m1's /api/sessions", interval=0.1)
        lib.check(v["total"] == 1 and len(v["items"]) == 1, "hist-once listed twice: %r" % v["items"])
        # The export: a node column, every node's rows.
        st, hdrs, body = a.req("GET", q.replace("/api/sessions?", "/api/sessions/export?format=csv&")
                               .replace("&per_page=500", ""))
        lines = body.strip().split("\r\n")
        lib.check(st == 200 and lines[0].startswith("id,node,client_id,client_name,mapping,remote_port"),
                  "export: %d %r" % (st, lines[:2]))
        rows = {ln.split(",")[7]: ln.split(",")[1] for ln in lines[1:]}
        lib.check(rows == peers, "export rows (peer: node) %r, want %r" % (rows, peers))
        st, hdrs, body = a.req("GET", "/api/sessions/export?format=ndjson&kind=conns&q=127.2.0.&from=%d"
                               % since)
        nd = [json.loads(x) for x in body.splitlines() if x.strip()]
        lib.check(st == 200 and {x["peer"]: x["node"] for x in nd} == peers, "ndjson export: %r" % nd)
        # Stats count them; now counts the online nodes' sessions.
        st, stats = a.get("/api/stats?range=1h")
        lib.check(st == 200 and len(stats["points"]) == 60 and stats["step"] == 60,
                  "/api/stats: %d %r" % (st, {k: stats.get(k) for k in ("range", "step")}))
        newc = sum(pt["new_conns"] for pt in stats["points"] if pt["t"] + 60 > since)
        lib.check(newc >= len(peers), "new_conns since the step began: %d < %d" % (newc, len(peers)))
        lib.check(sum(pt["bytes_in"] for pt in stats["points"]) >= 512 * len(peers),
                  "bytes_in: %r" % stats["points"][-3:])
        lib.check(stats["now"]["online_clients"] >= 3 and
                  sorted(stats["now"]) == ["active_conns", "bytes_today_in", "bytes_today_out",
                                           "mappings", "online_clients"], "now: %r" % stats["now"])
        # Audit: m3's user_add (and m2's from the audit step), with node.

        def audited():
            st, au = a.get("/api/audit?action=user_add")
            lib.check(st == 200, "/api/audit: %d %r" % (st, au))
            return au if any(x["node"] == "m3" and "ops-m3" in x["detail"] for x in au["items"]) else None
        au = lib.wait_until(audited, 15, "m3's user_add in m1's /api/audit")
        lib.check(au["total"] == len(au["items"]) and all(x["action"] == "user_add" for x in au["items"]),
                  "audit filter: %r" % au)
        lib.check(sorted(au["items"][0]) == ["action", "address", "detail", "id", "node", "ok", "time", "user"],
                  "audit item keys: %r" % sorted(au["items"][0]))
        print("     %d connections through m2/m3 and m3's audit event in m1's history, export, stats"
              % len(peers))

    def t_admin_history_outage(self):
        """A query never blocks the admin's worker; without PostgreSQL the
        cluster history routes answer 503, not stale local data; with it
        back they answer again (same admin, its dead connections renewed)."""
        a = self.admin
        if a is None:
            print("     skipped: no admin (see the admin step)")
            return
        routes = ["/api/sessions", "/api/sessions?kind=conns", "/api/sessions/export?format=csv",
                  "/api/stats", "/api/audit"]
        # Concurrent requests: the worker's pooled connections (up to 2) open.
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            sts = list(ex.map(lambda r: a.req("GET", r)[0], routes * 2))
        lib.check(sts == [200] * len(sts), "before the outage: %r" % sts)
        # A query waits without blocking the worker: the admin's PostgreSQL
        # backends stopped (SIGSTOP), /healthz still answers meanwhile.
        pids = [int(r[0]) for r in self.pg.query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'gotunnel-admin'")]
        lib.check(pids, "no PostgreSQL session named gotunnel-admin")
        try:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            with concurrent.futures.ThreadPoolExecutor(1) as ex:
                slow = ex.submit(lambda: a.req("GET", "/api/sessions?kind=conns")[0])
                time.sleep(0.5)
                t0 = time.monotonic()
                lib.check(a.req("GET", "/healthz")[0] == 200 and a.get("/api/nodes")[0] == 200,
                          "the admin did not answer while a query waited")
                lib.check(not slow.done(), "the query answered with its backends stopped")
                print("     /healthz and /api/nodes answered in %.2fs while /api/sessions waited "
                      "for a stopped backend" % (time.monotonic() - t0))
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)
                lib.check(slow.result(timeout=20) == 200, "the waiting query: %r" % slow.result())
        finally:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        self.pg.stop()
        try:
            for r in routes:
                st, _, body = a.req("GET", r)
                lib.check(st == 503 and json.loads(body) == {"error": "cluster store unavailable"},
                          "%s without PostgreSQL: %d %s" % (r, st, body[:200]))
            lib.check(a.proc.alive(), "the admin died")
        finally:
            self.pg.start()
        # Back: the pooled connections PostgreSQL closed are made again.
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            sts = list(ex.map(lambda r: a.req("GET", r)[0], routes * 2))
        lib.check(sts == [200] * len(sts), "after the outage: %r" % sts)
        lib.wait_until(lambda: all(n.json("status").get("cluster_store") == "ok" for n in self.nodes),
                       15, "every master back on the store")

    def t_browser_nodes(self):
        """The console's Nodes page in headless Chromium: m1..m3 online,
        then kill -9 of m3's master tree shows it offline; m3 restarts."""
        dist = os.path.join(lib.ROOT, "frontend", "dist")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nodes_page.mjs")
        pw = os.path.join(lib.ROOT, "frontend", "node_modules", "playwright-core")
        missing = [w for w, ok in (("admin", self.admin is not None),
                                   ("frontend/dist (make frontend)", os.path.exists(os.path.join(dist, "index.html"))),
                                   ("playwright-core (make frontend-deps)", os.path.isdir(pw)),
                                   ("node", shutil.which("node")),
                                   ("chromium", os.access(os.environ.get("CHROMIUM", "/usr/bin/chromium"), os.X_OK)))
                   if not ok]
        if missing:
            print("     skipped: no %s" % ", ".join(missing))
            return
        # A second admin of m1 serving the built console (same users).
        d = os.path.join(self.env.dir, "admin-console")
        os.makedirs(d)
        port = lib.free_port()
        ini = os.path.join(d, "gotunnel.ini")
        with open(self.nodes[0].conf) as f:
            base = f.read()
        with open(ini, "w") as f:
            f.write(base + "\n[admin]\nbind_addr = 127.0.0.1\nbind_port = %d\nsession_ttl = 1h\n"
                    "assets = %s\n" % (port, dist))
        proc = lib.Proc("admin-console", [AdminOf.BIN, "-c", ini], os.path.join(d, "admin.log"))
        self.env.procs.append(proc)
        lib.wait_until(lambda: lib.port_accepts(port), 20, "the console's admin")
        shots = os.path.join(lib.ROOT, "t", "out", "cluster")
        os.makedirs(shots, exist_ok=True)
        b = subprocess.Popen(["node", script, "http://127.0.0.1:%d" % port, "clusterop", AdminOf.PASSWORD,
                              "m1,m2,m3", shots], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        sel = selectors.DefaultSelector()
        sel.register(b.stdout, selectors.EVENT_READ)

        def line(timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if sel.select(timeout=1):
                    ln = b.stdout.readline().decode(errors="replace").strip()
                    if not ln and b.poll() is not None:
                        lib.fail("the browser test exited (%s)" % b.returncode)
                    if ln.startswith(("ONLINE", "OFFLINE", "FAIL")):
                        return ln
            lib.fail("no word from the browser test in %ds" % timeout)
        victim = self.nodes[2]
        try:
            ln = line(90)
            lib.check(ln == "ONLINE m1,m2,m3", "browser: %s" % ln)
            t0 = time.monotonic()
            for pid in victim.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            b.stdin.write(b"KILLED m3\n")
            b.stdin.flush()
            ln = line(60)
            lib.check(ln == "OFFLINE m3", "browser: %s" % ln)
            print("     Chromium showed m1..m3 online, then m3 offline %.1fs after kill -9 "
                  "(screenshots in t/out/cluster/)" % (time.monotonic() - t0))
            lib.check(b.wait(timeout=30) == 0, "browser test exit %s" % b.returncode)
        finally:
            if b.poll() is None:
                os.killpg(b.pid, signal.SIGKILL)
                b.wait()
            sel.close()
            # m3 back, with alice's client on it, for the steps after this one.
            victim.start()
            lib.wait_until(lambda: lib.port_accepts(self.port, host=victim.addr), 40, "alice back on m3")
            lib.wait_until(lambda: self.alice_id(victim) is not None, 20, "alice's session on m3")

    def t_users_cluster(self):
        # A console user added with gotunnelctl on m1 is in every node's LMDB
        # (only its argon2id hash in PostgreSQL) and logs in to m2's admin;
        # deleted on m3, it is refused on m2 and its session there ends.
        user, pw = "cl-viewer", "viewer-pw-" + os.urandom(6).hex()
        r = subprocess.run([lib.CTL, "-c", self.nodes[0].conf, "user", "add", user, "--role", "viewer"],
                           input=(pw + "\n").encode(), capture_output=True, timeout=30)
        lib.check(r.returncode == 0, "user add on m1: %s" % r.stderr.decode())
        rows = self.pg.query("SELECT hash, role, deleted FROM gt_users WHERE name = '%s'" % user)
        lib.check(len(rows) == 1 and rows[0][0].startswith("$argon2id$") and pw not in rows[0][0]
                  and rows[0][1:] == ["viewer", "f"], "gt_users row: %r" % rows)

        def listed(n, want):
            rc, out, _ = n.ctl("user", "list")
            return rc == 0 and any(l.split()[:2] == [user, "viewer"] for l in out.splitlines()) == want
        for n in self.nodes[1:]:
            lib.wait_until(lambda n=n: listed(n, True), 10, "%s in %s's LMDB" % (user, n.name))
        sess = None
        if os.access(AdminOf.BIN, os.X_OK):
            a2 = self.admin_of(1)
            sess = lib.wait_until(lambda: a2.login(user, pw), 10, "%s's login to m2's admin" % user)
            lib.check(a2.get_as(sess[0], "/api/me") == 200, "m2's admin: /api/me of %s" % user)
            lib.check(a2.login(user, "wrong-" + pw) is None, "a wrong password logged in")
        else:
            print("     admin part skipped: %s not built (make admin)" % AdminOf.BIN)
        r = subprocess.run([lib.CTL, "-c", self.nodes[2].conf, "user", "del", user],
                           capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        lib.check(r.returncode == 0, "user del on m3: %s" % r.stderr.decode())
        for n in (self.nodes[0], self.nodes[1]):
            lib.wait_until(lambda n=n: listed(n, False), 10, "%s gone from %s's LMDB" % (user, n.name))
        if sess is not None:
            lib.wait_until(lambda: a2.get_as(sess[0], "/api/me") == 401, 10,
                           "%s's session on m2's admin to end" % user)
            lib.check(a2.login(user, pw) is None, "a deleted user logged in to m2's admin")
        rows = self.pg.query("SELECT hash, deleted FROM gt_users WHERE name = '%s'" % user)
        lib.check(rows == [["", "t"]], "gt_users after del: %r" % rows)

    def admin_of(self, i):
        """The admin beside node i, started once (steps share it)."""
        if not hasattr(self, "admins"):
            self.admins = {}
        if i not in self.admins:
            self.admins[i] = AdminOf(self.env, self.nodes[i])
        return self.admins[i]

    def t_totp_cluster(self):
        # TOTP enrolled on m1 holds on m2's admin (password alone refused, an
        # RFC 6238 code computed here accepted); --off on m3 turns it off on
        # every node.  The secret is in gt_users (schema 3), never in a log.
        if not os.access(AdminOf.BIN, os.X_OK):
            print("     skipped: %s not built (make admin)" % AdminOf.BIN)
            return
        user, pw = "cl-twofa", "twofa-pw-" + os.urandom(6).hex()
        r = subprocess.run([lib.CTL, "-c", self.nodes[0].conf, "user", "add", user, "--role", "operator"],
                           input=(pw + "\n").encode(), capture_output=True, timeout=30)
        lib.check(r.returncode == 0, "user add on m1: %s" % r.stderr.decode())
        totp_sql = "SELECT quote_nullable(totp), deleted FROM gt_users WHERE name = '%s'" % user
        lib.check(self.pg.query(totp_sql) == [["''", "f"]], "gt_users.totp of a new user: %r" % self.pg.query(totp_sql))
        rc, out, err = self.nodes[0].ctl("user", "totp", user)
        m = re.search(r"otpauth://totp/gotunnel:%s\?secret=([A-Z2-7]+)&issuer=gotunnel$" % user, out, re.M)
        lib.check(rc == 0 and m is not None, "user totp on m1: %d %s %s" % (rc, out[:300], err))
        b32 = m.group(1)
        secret = base64.b32decode(b32 + "=" * (-len(b32) % 8))
        rows = self.pg.query(totp_sql)
        lib.check(rows == [["'%s'" % secret.hex(), "f"]], "gt_users.totp after enrolment: %d row(s)" % len(rows))

        def totp_listed(n, want):
            rc, out, _ = n.ctl("user", "list")
            return rc == 0 and any(l.split()[:3] == [user, "operator", want] for l in out.splitlines())
        for n in self.nodes:
            lib.wait_until(lambda n=n: totp_listed(n, "totp"), 10, "%s's TOTP in %s's LMDB" % (user, n.name))
        a2 = self.admin_of(1)
        st, body = a2.login_otp(user, pw)
        lib.check(st == 401 and body == {"error": "otp required"},
                  "m2: password alone of a user enrolled on m1: %d %r" % (st, body))
        step = int(time.time()) // 30
        st, body = a2.login_otp(user, pw, totp_code(secret, step))
        lib.check(st == 200 and body.get("role") == "operator", "m2: login with a code: %d %r" % (st, body))
        # Off on m3: off everywhere, the password alone logs in to m2 again.
        rc, out, err = self.nodes[2].ctl("user", "totp", user, "--off")
        lib.check(rc == 0, "user totp --off on m3: %s" % err)
        lib.check(self.pg.query(totp_sql) == [["''", "f"]], "gt_users.totp after --off: %r" % self.pg.query(totp_sql))
        for n in self.nodes:
            lib.wait_until(lambda n=n: totp_listed(n, "-"), 10, "%s's TOTP off in %s's LMDB" % (user, n.name))
        st, body = a2.login_otp(user, pw)
        lib.check(st == 200, "m2: password alone after --off on m3: %d %r" % (st, body))
        # The secret is in no master's or admin's log, in neither encoding.
        for path in [n.log_path for n in self.nodes] + [os.path.join(a2.dir, "admin.log")]:
            with open(path, errors="replace") as f:
                text = f.read()
            lib.check(secret.hex() not in text and b32 not in text, "the TOTP secret in %s" % path)

    def t_tokens_cluster(self):
        # A credential added on m1 registers a client on m3 (and m2, m1);
        # rotated on m3, then revoked on m2, its sessions on every node end
        # at once.
        rc, out, err = self.nodes[0].ctl("token", "add", "cl-cred")
        lib.check(rc == 0, "token add on m1: %s" % err)
        secret = out.strip().splitlines()[-1]
        rows = self.pg.query("SELECT hash, revoked FROM gt_tokens WHERE name = 'cl-cred'")
        lib.check(len(rows) == 1 and len(rows[0][0]) == 64 and secret not in rows[0][0]
                  and rows[0][1] == "f", "gt_tokens row: %r" % rows)
        port = int(self.allow.split(",")[1].split("-")[0]) + 1300
        socks = []

        def register(n):
            s = lib.connect(n.port, host=n.addr, timeout=10)
            s.sendall(lib.encode(lib.register_msg(secret, 9, port, "cl-client")))
            r = lib.recv_frame(s)
            if r.get("status") == "ok":
                return s
            s.close()
            return None
        for n in (self.nodes[2], self.nodes[1], self.nodes[0]):
            s = lib.wait_until(lambda n=n: register(n), 10, "a register with cl-cred on %s" % n.name)
            self.raw.append(s)
            socks.append(s)
        # A rotate on m3: the old secret's sessions end on every node, the
        # new secret registers everywhere.
        rc, out, err = self.nodes[2].ctl("token", "rotate", "cl-cred")
        lib.check(rc == 0, "token rotate on m3: %s" % err)
        ended = [session_end(s) for s in socks]
        lib.check(ended == ["credential rotated"] * 3, "sessions after the rotate: %r" % ended)
        secret = out.strip().splitlines()[-1]
        socks = []
        for n in (self.nodes[0], self.nodes[1], self.nodes[2]):
            s = lib.wait_until(lambda n=n: register(n), 10, "the rotated secret on %s" % n.name)
            self.raw.append(s)
            socks.append(s)
        t0 = time.monotonic()
        rc, _, err = self.nodes[1].ctl("token", "revoke", "cl-cred")
        lib.check(rc == 0, "token revoke on m2: %s" % err)
        ended = [session_end(s) for s in socks]
        took = time.monotonic() - t0
        lib.check(ended == ["credential revoked"] * 3, "sessions ended: %r" % ended)
        # m1 and m3 closed them on their copy of the revoke, not at a recheck.
        for n in (self.nodes[0], self.nodes[2]):
            lib.check("credential cl-cred changed on another node" in n.proc.log(),
                      "%s's log does not show the copied revoke" % n.name)
        print("     gotunnelctl token revoke on m2 (started) -> cl-cred's sessions on m3, m2 and m1 "
              "ended: %.2fs" % took)
        lib.check(took < 2.0, "the sessions ended %.2fs after the revoke began" % took)
        s = lib.connect(self.nodes[2].port, host=self.nodes[2].addr, timeout=10)
        s.sendall(lib.encode(lib.register_msg(secret, 9, port, "cl-client")))
        r = lib.recv_frame(s)
        s.close()
        lib.check(r.get("status") == "fail" and r.get("error") == "credential revoked",
                  "a revoked credential on m3: %r" % r)
        rows = self.pg.query("SELECT revoked FROM gt_tokens WHERE name = 'cl-cred'")
        lib.check(rows == [["t"]], "gt_tokens after revoke: %r" % rows)
        if self.admin is None:
            return
        # One added in m1's console reaches m3 too (m1's master copies it).
        st, _, body = self.admin.req("POST", "/api/tokens", {"name": "cl-console"})
        lib.check(st == 201, "POST /api/tokens on m1: %d %s" % (st, body))

        def on_m3():
            rc, out, _ = self.nodes[2].ctl("token", "list", "--json")
            return rc == 0 and any(t["name"] == "cl-console" and t["state"] == "active"
                                   for t in json.loads(out))
        lib.wait_until(on_m3, 10, "the console's credential in m3's LMDB")

    def t_node_offline_alert(self):
        # Every node gets the same [alert.hook]; kill -9 of m2: one firing
        # for key m2 (sent by m1, the online node with the smallest name),
        # and one resolved after its restart.
        secret = "cluster-hook-secret"
        hook = Receiver().start()
        try:
            for n in self.nodes:
                with open(n.conf, "a") as f:
                    f.write("\n[alert.hook]\nwebhook_url = %s\nsecret = %s\nevents = node_offline\n"
                            "retry_interval = 1s\n" % (hook.url, secret))
                rc, _, err = n.ctl("reload")
                lib.check(rc == 0, "reload of %s: %s" % (n.name, err))
            victim = self.nodes[1]
            t0 = time.monotonic()
            for pid in victim.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            lib.wait_until(lambda: hook.episode("node_offline", "m2", secret), NODE_TIMEOUT + 20,
                           "node_offline firing for m2")
            print("     node_offline firing for m2 %.1fs after kill -9" % (time.monotonic() - t0))
            a = [x for x in hook.alerts(secret) if x["alert"] == "node_offline"][0]
            lib.check(a["state"] == "firing" and a["key"] == "m2" and
                      set(a) == {"alert", "state", "key", "since", "time", "detail"}, "firing: %r" % a)
            victim.start()
            lib.wait_until(lambda: len(hook.episode("node_offline", "m2", secret)) >= 2, 30,
                           "node_offline resolved for m2")
            time.sleep(2)       # a second node's copy would have arrived by now
            states = hook.episode("node_offline", "m2", secret)
            lib.check(states == ["firing", "resolved"], "node_offline for m2: %r" % states)
            others = [x for x in hook.alerts(secret) if x["key"] != "m2"]
            lib.check(not others, "alerts for live nodes: %r" % others)
            lib.wait_until(lambda: lib.port_accepts(self.port, host=victim.addr), 40, "alice back on m2")
        finally:
            hook.stop()

    def t_kill_node(self):
        victim = self.nodes[1]
        survivors = [self.nodes[0], self.nodes[2]]
        pids = victim.pids()
        t0 = time.monotonic()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        n = 0
        # Keep forwarding through the others while m2 goes offline.
        while True:
            for s in survivors:
                echo_via(s.addr, self.port)
                n += 1
            st = {x["name"]: x["status"] for x in self.nodes[0].json("nodes")}
            if st.get("m2") == "offline":
                break
            lib.check(time.monotonic() - t0 < NODE_TIMEOUT + 5,
                      "m2 not offline %ds after kill -9: %r" % (NODE_TIMEOUT + 5, st))
            time.sleep(0.2)
        if self.admin:
            st, v = self.admin.get("/api/nodes")
            got = {x["name"]: x["status"] for x in v.get("items", [])}
            lib.check(st == 200 and got.get("m2") == "offline" and got.get("m1") == "online",
                      "/api/nodes after kill -9 of m2: %d %r" % (st, v))
        took = time.monotonic() - t0
        print("     m2 offline %.1fs after kill -9 (node_timeout %ds); %d connections "
              "through m1/m3 meanwhile, none failed" % (took, NODE_TIMEOUT, n))
        # Its claim is not lost: alice still holds the port on m1 and m3.
        s, r = raw_register(self.nodes[0].addr, self.nodes[0].port, "bob", self.port)
        s.close()
        lib.check(r.get("error") == "port in use", "bob after m2 died: %r" % r)
        # Back: the restarted m2 gets alice's client back by itself.
        victim.start()
        lib.wait_until(lambda: lib.port_accepts(self.port, host=victim.addr), 40,
                       "alice back on m2")
        echo_via(victim.addr, self.port)

    def t_db_outage(self):
        conns = []          # (node, peer) made while the database was down
        since = int(time.time()) - 1    # source ports come back: match by time too
        self.pg.stop()
        t0 = time.monotonic()
        lib.wait_until(lambda: self.nodes[0].json("status").get("cluster_store") == "unavailable",
                       10, "m1's status to say the store is unavailable")
        rc, _, err = self.nodes[0].ctl("nodes")
        lib.check(rc != 0 and "cluster store unavailable" in err, "nodes without the store: %s" % err)
        if self.admin:
            st, v = self.admin.get("/api/nodes")
            lib.check(st == 503 and v == {"error": "cluster store unavailable"},
                      "/api/nodes without the store: %d %r" % (st, v))
            st, cl = self.admin.get("/api/clients")
            lib.check(st == 200 and any(c.get("node") == "m1" for c in cl["clients"]),
                      "/api/clients without the store: %d %r" % (st, cl))
        refused = restarted = False
        m3_up = True
        try:
            while time.monotonic() - t0 < 20:
                for n in self.nodes if m3_up else self.nodes[:2]:
                    # A source address of its own per connection: on loopback
                    # the kernel may reuse a source port still in TIME_WAIT,
                    # and (node, peer) must name one connection.
                    i = len(conns) + 1
                    conns.append((n.name, echo_via(n.addr, self.port,
                                                   src="127.1.%d.%d" % (i // 250, i % 250 + 1))))
                if not refused:
                    s, r = raw_register(self.nodes[0].addr, self.nodes[0].port, "newcomer", 0)
                    s.close()
                    lib.check(r.get("status") == "fail" and
                              r.get("error") == "cluster store unavailable",
                              "a new identity during the outage got %r" % r)
                    refused = True
                if not restarted and time.monotonic() - t0 > 3:
                    # alice's session on m3 ends and her client comes back:
                    # her port is still hers without the database.
                    m3_up = False
                    old = self.alice_id(self.nodes[2])
                    rc, out, err = self.nodes[2].ctl("kick", old)
                    lib.check(rc == 0, "kick on m3: %s" % err)
                    lib.wait_until(lambda: self.alice_id(self.nodes[2]) not in (None, old), 30,
                                   "alice's client back on m3 without the database")
                    lib.wait_until(lambda: lib.port_accepts(self.port, host=self.nodes[2].addr),
                                   10, "alice's port on m3 again")
                    restarted = m3_up = True
                time.sleep(0.3)
        finally:
            self.pg.start()
        lib.wait_until(lambda: all(n.json("status").get("cluster_store") == "ok" for n in self.nodes),
                       15, "every master back on the store")
        print("     %d connections through m1/m2/m3 during a 20 s database outage, none failed"
              % len(conns))
        want = {}
        for c in conns:
            want[c] = want.get(c, 0) + 1
        lib.check(max(want.values()) == 1, "a peer address was reused")
        values = ",".join("('%s','%s')" % c for c in conns)
        sql = ("SELECT h.node, h.peer, count(*) FROM gt_hist_conn h JOIN (VALUES %s) AS w(node, peer) "
               "ON w.node = h.node AND w.peer = h.peer WHERE h.start_time >= %d "
               "GROUP BY h.node, h.peer" % (values, since))

        def arrived():
            rows = self.pg.query(sql)
            return rows if len(rows) == len(conns) else None
        try:
            rows = lib.wait_until(arrived, 30, "the outage's connections in gt_hist_conn", interval=1)
        except lib.TestFailure:
            got = {(r[0], r[1]) for r in self.pg.query(sql)}
            lib.fail("%d of %d connections in gt_hist_conn; missing e.g. %r" %
                     (len(got), len(conns), [c for c in conns if c not in got][:5]))
        bad = [r for r in rows if r[2] != "1"]
        lib.check(not bad, "connections written more than once: %r" % bad[:5])
        time.sleep(2.5)     # another drain or two must not add copies
        lib.check(sorted(self.pg.query(sql)) == sorted(rows), "history changed after the drain")
        # Every node looked dead for longer than node_timeout: alice's claim
        # must have survived it (no other identity gets her port).
        time.sleep(NODE_TIMEOUT + 2)
        owner = self.pg.query("SELECT identity FROM gt_ports WHERE port = %d" % self.port)
        lib.check(owner == [["alice"]], "owner of alice's port after the outage: %r" % owner)
        for n in self.nodes:
            s, r = raw_register(n.addr, n.port, "bob", self.port)
            s.close()
            lib.check(r.get("error") == "port in use", "bob on %s after the outage: %r" % (n.name, r))

    def t_thousand(self):
        n = 1000
        sel = selectors.DefaultSelector()
        t0 = time.monotonic()
        socks = []
        for i in range(n):
            node = self.nodes[i % 3]
            s = socket.create_connection((node.addr, node.port), timeout=10)
            s.sendall(lib.encode(lib.register_msg(TOKEN, 9, 0, "load-%d" % i)))
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, bytearray())
        ok = fail = 0
        pending = set(socks)
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                s, buf = key.fileobj, key.data
                try:
                    d = s.recv(65536)
                except BlockingIOError:
                    continue
                if not d:
                    pending.discard(s)
                    sel.unregister(s)
                    fail += 1
                    continue
                buf += d
                frames, rest = lib.parse_frames(bytes(buf))
                key.data[:] = rest
                for m in frames:
                    if m.get("type") == "register_response" and s in pending:
                        pending.discard(s)
                        sel.unregister(s)
                        if m.get("status") == "ok":
                            ok += 1
                        else:
                            fail += 1
                            if fail < 4:
                                print("     refused: %r" % m)
                        break
        took = time.monotonic() - t0
        mem = ", ".join("%s %d MiB" % (x.name, x.rss_kib() // 1024) for x in self.nodes)
        print("     %d raw clients registered across 3 nodes in %.1fs (%d refused); "
              "master trees' memory: %s" % (ok, took, fail, mem))
        self.raw.extend(socks)
        lib.check(ok == n, "%d of %d registered" % (ok, n))
        lib.check(took < 30, "took %.1fs" % took)
        ports = self.pg.query("SELECT count(*) FROM gt_ports WHERE identity LIKE 'load-%'")
        lib.check(int(ports[0][0]) == n, "gt_ports rows of the load clients: %r" % ports)

    def run(self):
        if os.geteuid() != 0 or not os.path.exists(os.path.join(PG_BIN, "initdb")):
            print("skipped: needs root and postgresql-15 (initdb runs as postgres)")
            print("0 passed, 0 failed")
            return 0
        lib.snapshot_binaries(self.env.dir)
        try:
            self.step("setup: postgres, db init, three masters", self.setup, True)
            if self.failed:
                return 1
            self.step("one identity forwards on all nodes", self.t_forward_all, True)
            self.step("another identity is refused everywhere", self.t_other_identity_refused)
            self.step("two identities race: exactly one wins", self.t_race)
            self.step("nodes and clients of every node", self.t_nodes_and_clients)
            self.step("audit events reach PostgreSQL", self.t_audit)
            self.step("kick on m1 ends a session on m3", self.t_kick_remote)
            self.step("admin of m1: nodes, clients, disconnect", self.t_admin)
            self.step("user added on m1 logs in to m2's admin", self.t_users_cluster)
            self.step("TOTP of m1 on m2's admin; --off on m3", self.t_totp_cluster)
            self.step("credential of m1 on m3; rotate, revoke kick", self.t_tokens_cluster)
            self.step("admin of m1: every node's history, export, stats, audit", self.t_admin_history)
            self.step("console Nodes page in Chromium: m3 killed, offline", self.t_browser_nodes)
            self.step("admin of m1: queries wait aside; 503 without the store", self.t_admin_history_outage)
            self.step("kill -9 of m2: others forward, m2 offline", self.t_kill_node)
            self.step("node_offline firing, then resolved", self.t_node_offline_alert)
            self.step("database outage: forwarding, history once", self.t_db_outage)
            self.step("1000 raw clients across three nodes", self.t_thousand)
        finally:
            for s in self.raw:
                lib.quiet_close(s)
            reports = []
            self.env.close()
            for n in self.nodes:
                try:
                    with open(n.log_path, errors="replace") as f:
                        reports += [l for l in f if lib.SANITIZER_RE.search(l)]
                except OSError:
                    pass
            if reports:
                self.failed += 1
                print("FAIL sanitizer reports:\n" + "".join(reports[:20]))
            try:
                self.pg.stop()
            except Exception:  # noqa: BLE001 - already stopped
                pass
            if self.args.keep or self.failed:
                print("logs kept in %s" % self.env.dir)
            else:
                shutil.rmtree(self.env.dir, ignore_errors=True)
            lib.release_ports()
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", help="run only steps whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    sys.exit(Suite(ap.parse_args()).run())


if __name__ == "__main__":
    main()
