# SPDX-License-Identifier: ISC
"""HTTP virtual hosts, HTTPS by SNI, the PROXY protocol to local services
and sticky remote_port = 0, with real processes: Python HTTP and TLS
servers as local services, HAProxy from Debian as the PROXY consumer."""

import hashlib
import http.server
import json
import os
import shutil
import socket
import ssl
import threading
import time

import lib
from lib import LOCAL, check, fail, free_port, make_cert, run_cmd, test, wait_until


# ---------------------------------------------------------------- helpers

class VhostClient(lib.Client):
    """A client whose sections are written as given (type http/https...)."""

    def write(self):
        secs = [("common", self.cfg)]
        for m in self.maps:
            kv = {"local_ip": m.get("local_ip", LOCAL), "local_port": m["local_port"]}
            kv.update(m.get("extra", {}))
            secs.append((m["name"], kv))
        lib.write_ini(self.conf, secs)


def vclient(env, master, maps, wait=True, **kw):
    """Starts a client; maps: dicts with name, local_port, extra (keys).
    remote_port 0 in the wait means "any port"."""
    for m in maps:
        m.setdefault("remote_port", 0)
    c = VhostClient(env, master, maps, **kw)
    c.start(wait=wait)
    return c


class SiteHandler(http.server.BaseHTTPRequestHandler):
    """Answers JSON: the site's name, the request's headers, and for a POST
    the length and sha256 of the body (read in pieces, never held)."""
    protocol_version = "HTTP/1.1"
    site = "?"

    def log_message(self, *a):
        pass

    def _answer(self, extra):
        hdrs = {}
        for k, v in self.headers.items():   # repeated fields joined, as RFC 9110 allows
            k = k.lower()
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        body = dict(site=self.site, path=self.path, client=self.client_address[0],
                    headers=hdrs, **extra)
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        self._answer({})

    def do_POST(self):
        h = hashlib.sha256()
        got = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    break
                data = self.rfile.read(size)
                h.update(data)
                got += len(data)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                h.update(chunk)
                got += len(chunk)
                left -= len(chunk)
        self._answer({"length": got, "sha256": h.hexdigest()})


def site(env, name):
    """A threaded HTTP/1.1 server on a free port answering as site name."""
    handler = type("Site_" + name, (SiteHandler,), {"site": name})
    srv = http.server.ThreadingHTTPServer((LOCAL, 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env.procs_extra = getattr(env, "procs_extra", [])
    env.procs_extra.append(srv)
    _cleanup(env, lambda: (srv.shutdown(), srv.server_close()))
    return srv.server_address[1]


def _cleanup(env, fn):
    """Runs fn when the test's Env closes (before its processes stop)."""
    old = env.close

    def close():
        try:
            fn()
        except Exception:  # noqa: BLE001 - cleanup is best effort
            pass
        old()
    env.close = close


def http_req(port, host, path="/", extra=b"", src=None, timeout=10):
    """One request with a raw Host value; returns (status, headers, body)."""
    s = lib.connect(port, src=src, timeout=timeout)
    try:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host +
                  b"\r\n" + extra + b"Connection: close\r\n\r\n")
        return read_response(s, timeout)
    finally:
        s.close()


_LEFT = {}     # bytes read past a response, per socket (pipelining)


def read_response(s, timeout=10):
    """Reads one HTTP response (Content-Length framed) from s; bytes of the
    next responses are kept for the next call."""
    s.settimeout(timeout)
    buf = _LEFT.pop(id(s), b"")
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            fail("connection closed before a response head (got %r)" % buf[:200])
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    while len(body) < n:
        d = s.recv(65536)
        if not d:
            break
        body += d
    if len(body) > n:
        _LEFT[id(s)] = body[n:]
    return status, hdrs, body[:n]


def site_json(status, body):
    check(status == 200, "expected 200, got %d: %r" % (status, body[:300]))
    return json.loads(body)


def vhost_master(env, **kw):
    return env.master(vhost_http_port=free_port(), subdomain_host="example.org", **kw)


def log_has(proc, text, timeout=15):
    return wait_until(lambda: text in proc.log(), timeout, "%r in %s" % (text, proc.log_path))


def master_serves(port, host=b"a.example.org", want="A"):
    st, _, body = http_req(port, host)
    check(st == 200 and json.loads(body)["site"] == want,
          "the master no longer serves %s: %d %r" % (host, st, body[:200]))


# ---------------------------------------------------------------- HTTP

def wakeups(pid):
    """Voluntary context switches of a process so far."""
    return lib.proc_status(pid, "voluntary_ctxt_switches")


@test(timeout=120)
def test_vhost_handed_over_visitors_leave_no_wakeups(env):
    """A visitor that reached the worker not serving its Host is passed on
    after leaving the first worker's epoll set: the bytes of its upload
    wake only the worker that relays them."""
    m = vhost_master(env, workers=2)
    vport = int(m.cfg["vhost_http_port"])
    vclient(env, m, [{"name": "up", "local_port": site(env, "U"),
                      "extra": {"type": "http", "custom_domains": "up.example.org"}}])
    serving = {x["worker_pid"] for x in m.mappings()}
    idle = [p for p in m.worker_pids() if p not in serving]
    check(len(serving) == 1 and len(idle) == 1, "workers %r, serving %r" % (m.worker_pids(), serving))
    before = wakeups(idle[0])
    # Eight uploads of 16 MiB: each visitor lands on either worker
    # (SO_REUSEPORT), so some are handed over (none: 1 in 256).
    size, data = 16 << 20, lib.rnd_bytes(16 << 20, 21)
    for i in range(8):
        s = env.sock(lib.connect(vport, timeout=60))
        s.sendall(b"POST /u HTTP/1.1\r\nHost: up.example.org\r\nContent-Length: %d\r\n\r\n" % size)
        s.sendall(data)
        got = site_json(*read_response(s, timeout=60)[::2])
        check(got["length"] == size, "upload %d: the site got %d of %d bytes" % (i, got["length"], size))
        s.close()
    woke = wakeups(idle[0]) - before
    # Its own timers wake it a few times a second; 128 MiB in 64 KiB
    # segments would be ~1,000 wake-ups if the sockets it passed on woke it.
    check(woke < 300, "the worker not serving up.example.org woke %d times during 8 uploads of 16 MiB "
          "(a handed-over visitor still wakes the worker that passed it on?)" % woke)
    env.note("the other worker woke %d times during 8 uploads of 16 MiB" % woke)


@test(timeout=240)
def test_vhost_http_two_sites_one_port(env):
    """Two clients behind one vhost_http_port, told apart by Host; 404 for an
    unknown one; X-Forwarded-*; keep-alive stays with the first host; a
    100 MiB POST arrives whole; a second claim of a domain is refused."""
    m = vhost_master(env)
    vport = int(m.cfg["vhost_http_port"])
    pa, pb = site(env, "A"), site(env, "B")
    vclient(env, m, [{"name": "web-a", "local_port": pa,
                      "extra": {"type": "http", "custom_domains": "a.example.org, www.a.example.org"}}])
    vclient(env, m, [{"name": "web-b", "local_port": pb,
                      "extra": {"type": "http", "subdomain": "b"}}])
    # Many requests: with 2 workers, some reach the worker that does not
    # hold the session and are handed over.
    for i in range(20):
        for host, want in ((b"a.example.org", "A"), (b"A.EXAMPLE.ORG:80", "A"),
                           (b"www.a.example.org", "A"), (b"b.example.org", "B"),
                           (b"b.example.org.", "B")):
            st, _, body = http_req(vport, host)
            got = site_json(st, body)
            check(got["site"] == want, "Host %r reached site %s, not %s" % (host, got["site"], want))
    hd = got["headers"]
    check(hd.get("x-forwarded-for") == "127.0.0.1", "X-Forwarded-For: %r" % hd.get("x-forwarded-for"))
    check(hd.get("x-real-ip") == "127.0.0.1", "X-Real-IP: %r" % hd.get("x-real-ip"))
    check(hd.get("x-forwarded-proto") == "http", "X-Forwarded-Proto: %r" % hd.get("x-forwarded-proto"))
    # A visitor's own X-Forwarded-For is kept and ours appended; its
    # X-Real-IP is replaced.
    st, _, body = http_req(vport, b"a.example.org", src="127.0.0.3",
                           extra=b"X-Forwarded-For: 10.9.8.7\r\nX-Real-IP: 1.2.3.4\r\n")
    hd = site_json(st, body)["headers"]
    check(hd.get("x-forwarded-for") == "10.9.8.7, 127.0.0.3", "appended XFF: %r" % hd.get("x-forwarded-for"))
    check(hd.get("x-real-ip") == "127.0.0.3", "X-Real-IP not replaced: %r" % hd.get("x-real-ip"))
    # Unknown host: 404 with a page naming no internals.
    st, hdrs, body = http_req(vport, b"nobody.example.org")
    check(st == 404, "unknown host: %d" % st)
    low = body.lower()
    for word in (b"gotunnel", b"127.0.0.1", b"client", b"worker", str(m.port).encode()):
        check(word not in low, "the 404 page names %r: %r" % (word, body))
    # Keep-alive: the second request (another Host) stays with the first,
    # and gets its own X-Forwarded-For / X-Real-IP (a forged one replaced).
    s = lib.connect(vport, src="127.0.0.4")
    s.sendall(b"GET /1 HTTP/1.1\r\nHost: a.example.org\r\n\r\n")
    first = site_json(*read_response(s)[::2])
    s.sendall(b"GET /2 HTTP/1.1\r\nHost: b.example.org\r\nX-Real-IP: 6.6.6.6\r\n\r\n")
    second = site_json(*read_response(s)[::2])
    check(first["site"] == "A" and second["site"] == "A" and second["path"] == "/2",
          "keep-alive: %s then %s" % (first["site"], second["site"]))
    check(second["headers"].get("x-real-ip") == "127.0.0.4" and
          second["headers"].get("x-forwarded-for") == "127.0.0.4",
          "second request on a keep-alive connection: %r" % second["headers"])
    # Pipelined on the same connection: a GET, a Content-Length POST and a
    # chunked POST in one write, each framed and rewritten.
    body = os.urandom(70000)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (body[:1000], body[1000:])) + b"0\r\nX-T: 1\r\n\r\n"
    s.sendall(b"GET /3 HTTP/1.1\r\nHost: a.example.org\r\n\r\n"
              b"POST /4 HTTP/1.1\r\nHost: a.example.org\r\nContent-Length: %d\r\n\r\n%s"
              b"POST /5 HTTP/1.1\r\nHost: a.example.org\r\nTransfer-Encoding: chunked\r\n\r\n%s"
              % (len(body), body, chunked))
    r3, r4, r5 = (site_json(*read_response(s)[::2]) for _ in range(3))
    s.close()
    want = hashlib.sha256(body).hexdigest()
    check([r["path"] for r in (r3, r4, r5)] == ["/3", "/4", "/5"], "pipelined paths")
    check(r4["sha256"] == want and r5["sha256"] == want and r5["length"] == len(body),
          "pipelined bodies: %r %r" % (r4.get("sha256"), r5.get("sha256")))
    check(all(r["headers"].get("x-forwarded-for") == "127.0.0.4" for r in (r3, r4, r5)),
          "pipelined requests without X-Forwarded-For")
    # 100 MiB POST, checked by sha256 at the local service.
    size = 100 << 20
    data = lib.rnd_bytes(size, 14)
    want = hashlib.sha256(data).hexdigest()
    s = lib.connect(vport, timeout=120)
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: b.example.org\r\nContent-Length: %d\r\n\r\n" % size)
    view = memoryview(data)
    for off in range(0, size, 1 << 20):
        s.sendall(view[off:off + (1 << 20)])
    got = site_json(*read_response(s, timeout=120)[::2])
    s.close()
    check(got["length"] == size and got["sha256"] == want,
          "100 MiB POST: %d bytes, sha256 %s (want %s)" % (got["length"], got["sha256"], want))
    # gotunnelctl mappings: type and domains.
    maps = {x["name"]: x for x in m.mappings()}
    check(maps["web-a"].get("type") == "http" and maps["web-a"].get("domains") == ["a.example.org", "www.a.example.org"],
          "mappings --json for web-a: %r" % maps["web-a"])
    check(maps["web-b"].get("domains") == ["b.example.org"] and maps["web-b"]["remote_port"] == vport,
          "mappings --json for web-b: %r" % maps["web-b"])
    rc, out, _ = m.ctl("mappings")
    check(rc == 0 and "http" in out and "a.example.org,www.a.example.org" in out,
          "gotunnelctl mappings (text) shows no type/domains: %r" % out[-500:])
    # A third client may not take a domain in use (case and dot do not help).
    c3 = vclient(env, m, [{"name": "thief", "local_port": pb,
                           "extra": {"type": "http", "custom_domains": "B.Example.Org."}}], wait=False)
    log_has(c3.proc, "domain in use")
    master_serves(vport, b"b.example.org", "B")


@test(timeout=120)
def test_vhost_http_bad_input(env):
    """Garbage, a 1 MiB header line, a Host with NUL or spaces, no Host, a
    head cut short: each gets a clear refusal; the master serves on."""
    m = vhost_master(env)
    vport = int(m.cfg["vhost_http_port"])
    vclient(env, m, [{"name": "web-a", "local_port": site(env, "A"),
                      "extra": {"type": "http", "custom_domains": "a.example.org"}}])
    cases = [
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64), 400),
        ("binary NULs", b"\x00" * 100, 400),
        ("1 MiB header line", b"GET / HTTP/1.1\r\nHost: a.example.org\r\nX-Big: " + b"x" * (1 << 20) + b"\r\n\r\n", 431),
        ("Host with NUL", b"GET / HTTP/1.1\r\nHost: a.exa\x00mple.org\r\n\r\n", 400),
        ("Host with spaces", b"GET / HTTP/1.1\r\nHost: a.example .org\r\n\r\n", 400),
        ("no Host", b"GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", 400),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: a.example.org\r\nHost: b.example.org\r\n\r\n", 400),
        ("bare LF", b"GET / HTTP/1.1\nHost: a.example.org\n\n", 400),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : a.example.org\r\n\r\n", 400),
        ("folded line", b"GET / HTTP/1.1\r\nHost: a.example.org\r\n x\r\n\r\n", 400),
        ("CL and TE", b"POST / HTTP/1.1\r\nHost: a.example.org\r\nContent-Length: 3\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n", 400),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
        ("cut short", b"GET / HTTP/1.1\r\nHost: a.exa", 400),
    ]
    for what, raw, code in cases:
        s = lib.connect(vport, timeout=15)
        try:
            try:
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass    # the master may refuse before all of it is sent
            data, closed, _ = lib.read_until_close(s, 15)
        finally:
            s.close()
        check(closed, "%s: the connection stayed open" % what)
        check(data.startswith(b"HTTP/1.1 %d " % code),
              "%s: expected %d, got %r" % (what, code, data[:120]))
        master_serves(vport)
    # Silence: refused after the 10 s head timeout, not held for ever.
    s = lib.connect(vport, timeout=30)
    t0 = time.monotonic()
    data, _, _ = lib.read_until_close(s, 30)
    s.close()
    check(data.startswith(b"HTTP/1.1 400 "), "silent visitor: %r" % data[:100])
    check(time.monotonic() - t0 < 25, "silent visitor held %.0f s" % (time.monotonic() - t0))
    master_serves(vport)
    check(all(p.alive() for p in env.procs), "a process died")


@test(timeout=90)
def test_vhost_http_basic_auth_and_host_rewrite(env):
    """http_user/http_password: missing or bad credentials get 401, good
    ones pass (and are not forwarded); host_header_rewrite sets Host."""
    import base64
    m = vhost_master(env)
    vport = int(m.cfg["vhost_http_port"])
    c = vclient(env, m, [{"name": "private", "local_port": site(env, "A"),
                          "extra": {"type": "http", "custom_domains": "a.example.org",
                                    "http_user": "alice", "http_password": "s3cret pass",
                                    "host_header_rewrite": "internal.local:8080"}}])

    def auth(u, p):
        return b"Authorization: Basic " + base64.b64encode(("%s:%s" % (u, p)).encode()) + b"\r\n"
    st, hdrs, _ = http_req(vport, b"a.example.org")
    check(st == 401 and hdrs.get("www-authenticate", "").startswith("Basic "),
          "no credentials: %d %r" % (st, hdrs))
    st, _, _ = http_req(vport, b"a.example.org", extra=auth("alice", "wrong"))
    check(st == 401, "bad password: %d" % st)
    st, _, _ = http_req(vport, b"a.example.org", extra=auth("bob", "s3cret pass"))
    check(st == 401, "bad user: %d" % st)
    st, _, _ = http_req(vport, b"a.example.org", extra=b"Authorization: Bearer xyz\r\n")
    check(st == 401, "another scheme: %d" % st)
    st, _, body = http_req(vport, b"a.example.org", extra=auth("alice", "s3cret pass"))
    got = site_json(st, body)
    check("authorization" not in got["headers"], "the credentials reached the service")
    check(got["headers"].get("host") == "internal.local:8080", "Host not rewritten: %r" % got["headers"].get("host"))
    # Every request of a keep-alive connection is checked: a later one
    # without credentials ends the connection, unanswered.
    s = lib.connect(vport)
    s.sendall(b"GET /1 HTTP/1.1\r\nHost: a.example.org\r\n" + auth("alice", "s3cret pass") + b"\r\n")
    check(site_json(*read_response(s)[::2])["path"] == "/1", "first request")
    s.sendall(b"GET /2 HTTP/1.1\r\nHost: a.example.org\r\n" + auth("alice", "s3cret pass") + b"\r\n")
    second = site_json(*read_response(s)[::2])
    check(second["path"] == "/2" and "authorization" not in second["headers"], "second request")
    s.sendall(b"GET /3 HTTP/1.1\r\nHost: a.example.org\r\n\r\n")
    data, closed, _ = lib.read_until_close(s, 15)
    s.close()
    check(closed and b"HTTP/1.1 200" not in data, "a later request without credentials was served: %r" % data[:100])
    check("s3cret" not in m.proc.log() and "s3cret" not in c.proc.log(), "the password is in a log")


# ---------------------------------------------------------------- HTTPS

def tls_site(env, name, cert, key):
    """A TLS server (Python ssl) answering "<name>:<what it read>"."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    lsock = socket.socket()
    lsock.bind((LOCAL, 0))
    lsock.listen(16)
    stop = threading.Event()

    def serve(c):
        try:
            with ctx.wrap_socket(c, server_side=True) as t:
                t.settimeout(10)
                data = t.recv(1024)
                t.sendall(name.encode() + b":" + data)
        except (OSError, ssl.SSLError):
            pass

    def loop():
        while not stop.is_set():
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    _cleanup(env, lambda: (stop.set(), lib.quiet_shutdown(lsock), lsock.close()))
    return lsock.getsockname()[1]


def tls_get(port, sni, cafile, timeout=10):
    """A real TLS handshake through the vhost port; returns the answer and
    the server certificate's subject CN."""
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((LOCAL, port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as t:
            t.sendall(b"hello")
            data = t.recv(1024)
            cn = dict(x[0] for x in t.getpeercert()["subject"])["commonName"]
            return data, cn


@test(timeout=120)
def test_vhost_https_by_sni(env):
    """Two TLS services on one vhost_https_port, told apart by SNI, each with
    a real handshake end to end; no SNI, unknown SNI and a ClientHello cut
    short are closed; the master serves on."""
    m = env.master(vhost_https_port=free_port())
    hport = int(m.cfg["vhost_https_port"])
    ca, cakey = lib.make_ca(env.dir, "ca")
    ca_a = make_cert(env.dir, "a", "a.example.org", ca=(ca, cakey))
    ca_b = make_cert(env.dir, "b", "b.example.org", ca=(ca, cakey))
    vclient(env, m, [{"name": "tls-a", "local_port": tls_site(env, "A", ca_a[0], ca_a[1]),
                      "extra": {"type": "https", "custom_domains": "a.example.org"}}])
    vclient(env, m, [{"name": "tls-b", "local_port": tls_site(env, "B", ca_b[0], ca_b[1]),
                      "extra": {"type": "https", "custom_domains": "b.example.org"}}])
    for i in range(10):
        for sni, want in (("a.example.org", "A"), ("b.example.org", "B"), ("B.Example.ORG", "B")):
            data, cn = tls_get(hport, sni, ca)
            check(data == want.encode() + b":hello", "SNI %s answered %r" % (sni, data))
            check(cn == sni.lower(), "SNI %s: certificate of %s" % (sni, cn))
    maps = {x["name"]: x for x in m.mappings()}
    check(maps["tls-a"].get("type") == "https" and maps["tls-a"].get("domains") == ["a.example.org"],
          "mappings --json: %r" % maps["tls-a"])

    def closed_without_answer(send, what):
        s = lib.connect(hport, timeout=15)
        try:
            try:
                s.sendall(send)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass    # closed by the master already: what we want
            data, closed, _ = lib.read_until_close(s, 15)
        finally:
            s.close()
        check(data == b"" and closed, "%s: got %r, %s" % (what, data[:100], closed or "still open"))
    # A ClientHello without SNI (captured from Python's own handshake).
    hello = capture_client_hello(None)
    check(b"a.example.org" not in hello, "the capture has an SNI")
    closed_without_answer(hello, "ClientHello without SNI")
    closed_without_answer(capture_client_hello("nobody.example.org"), "unknown SNI")
    full = capture_client_hello("a.example.org")
    closed_without_answer(full[:60], "ClientHello cut short")
    closed_without_answer(b"GET / HTTP/1.1\r\nHost: a.example.org\r\n\r\n", "plain HTTP")
    # Without SNI in a real handshake: the handshake fails (connection closed).
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    with socket.create_connection((LOCAL, hport), timeout=10) as raw:
        try:
            ctx.wrap_socket(raw, server_hostname=None)
            fail("a handshake without SNI succeeded")
        except (ssl.SSLError, OSError):
            pass
    data, _ = tls_get(hport, "a.example.org", ca)
    check(data == b"A:hello", "after bad input: %r" % data)
    log = m.proc.log()
    check("ClientHello without SNI" in log and "ClientHello cut short" in log,
          "the master log does not say why it closed")


def capture_client_hello(sni):
    """The first flight of a real Python TLS client (its ClientHello)."""
    ls = socket.socket()
    ls.bind((LOCAL, 0))
    ls.listen(1)
    got = {}

    def grab():
        c, _ = ls.accept()
        c.settimeout(5)
        buf = b""
        try:
            while len(buf) < 5 or len(buf) < 5 + int.from_bytes(buf[3:5], "big"):
                d = c.recv(4096)
                if not d:
                    break
                buf += d
        except OSError:
            pass
        got["hello"] = buf
        c.close()
    t = threading.Thread(target=grab, daemon=True)
    t.start()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(ls.getsockname(), timeout=5) as raw:
        try:
            ctx.wrap_socket(raw, server_hostname=sni)
        except (ssl.SSLError, OSError):
            pass
    t.join(10)
    ls.close()
    check(got.get("hello", b"")[:1] == b"\x16", "no ClientHello captured")
    return got["hello"]


# ---------------------------------------------------------------- PROXY protocol

@test(timeout=120)
def test_proxy_protocol_v1_v2_haproxy(env):
    """proxy_protocol_version v1 (tcp mapping) and v2 (http mapping): HAProxy
    with accept-proxy parses the header and reports the visitor's address
    (127.0.0.2) to a backend through X-Forwarded-For."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.access(haproxy, os.X_OK):
        fail("haproxy is not installed (make deps installs it)")
    backend = site(env, "behind-haproxy")
    p1, p2 = free_port(), free_port()
    cfg = os.path.join(env.dir, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write("""global
    maxconn 200
defaults
    mode http
    timeout connect 5s
    timeout client 20s
    timeout server 20s
frontend fe_v1
    bind %(h)s:%(p1)d accept-proxy
    option forwardfor
    default_backend be
frontend fe_v2
    bind %(h)s:%(p2)d accept-proxy
    option forwardfor
    default_backend be
backend be
    server s1 %(h)s:%(b)d
""" % {"h": LOCAL, "p1": p1, "p2": p2, "b": backend})
    rc, out, err = run_cmd([haproxy, "-c", "-f", cfg])
    check(rc == 0, "haproxy -c: %s %s" % (out, err))
    hp = lib.Proc("haproxy", [haproxy, "-db", "-f", cfg], os.path.join(env.dir, "haproxy.log"))
    env.procs.append(hp)
    wait_until(lambda: lib.port_accepts(p1) and lib.port_accepts(p2), 15, "haproxy to listen")
    m = vhost_master(env)
    vport = int(m.cfg["vhost_http_port"])
    rport = env.ports[0]
    vclient(env, m, [{"name": "pp-v1", "local_port": p1, "remote_port": rport,
                      "extra": {"type": "tcp", "remote_port": rport, "proxy_protocol_version": "v1"}},
                     {"name": "pp-v2", "local_port": p2,
                      "extra": {"type": "http", "custom_domains": "pp.example.org",
                                "proxy_protocol_version": "v2"}}])
    st, _, body = http_req(rport, b"anything", src="127.0.0.2")
    got = site_json(st, body)
    check(got["headers"].get("x-forwarded-for") == "127.0.0.2",
          "v1: HAProxy saw %r (want 127.0.0.2)" % got["headers"].get("x-forwarded-for"))
    st, _, body = http_req(vport, b"pp.example.org", src="127.0.0.2")
    got = site_json(st, body)
    xff = [x.strip() for x in got["headers"].get("x-forwarded-for", "").split(",")]
    # The master's X-Forwarded-For first, then HAProxy's from the v2 header.
    check(xff == ["127.0.0.2", "127.0.0.2"], "v2: X-Forwarded-For %r" % xff)
    # Without a PROXY header HAProxy would refuse: prove it is really parsing.
    s = lib.connect(p1)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data, _, _ = lib.read_until_close(s, 10)
    s.close()
    check(not data.startswith(b"HTTP/1.1 200"), "HAProxy accepted a request without a PROXY header")


# ---------------------------------------------------------------- sticky port 0

@test(timeout=90)
def test_sticky_remote_port_zero(env):
    """remote_port = 0 gets the same port back after a client restart (same
    name, same mapping), and another mapping name gets a port of its own."""
    m = env.master()
    svc = env.service()
    c = env.client(m, [{"name": "stick", "local_port": svc.port, "remote_port": 0}], name="sticky-client")
    first = c.wait_registered()["stick"]
    check(first in env.ports, "port %r not from allow_ports" % first)
    lib.check_tunnel(first, "first session")
    for round_ in range(3):
        c.proc.stop()
        wait_until(lambda: not c.my_mappings(), 15, "the mapping to go away")
        c.start()
        again = c.wait_registered()["stick"]
        check(again == first, "round %d: port %d, not the sticky %d" % (round_, again, first))
        lib.check_tunnel(again, "after restart %d" % round_)


# The HTTP and HTTPS paths again with TLS control and data connections: the
# rewritten request head then goes through OpenSSL (SSL_write) first.
import test_tls  # noqa: E402

test_tls.tls_variant(test_vhost_http_two_sites_one_port, 300)
test_tls.tls_variant(test_vhost_http_basic_auth_and_host_rewrite, 90)
test_tls.tls_variant(test_vhost_https_by_sni, 120)
