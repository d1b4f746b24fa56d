# SPDX-License-Identifier: ISC
"""Alert webhooks end to end: real HTTP and HTTPS receivers (Python's
http.server) get exactly one firing and one resolved per episode of
client_offline, traffic_quota and auth_failures, signed with HMAC-SHA256;
a receiver that is down gets every alert afterwards, once, and an alert
queued when the master stops is delivered once by the next master."""

import hashlib
import hmac
import http.server
import json
import os
import signal
import ssl
import threading
import time

from lib import (LOCAL, check, connect, echo_roundtrip, free_port,
                 make_ca, make_cert, read_until_close, register_msg, encode,
                 test, wait_until)


class Receiver:
    """A webhook receiver on 127.0.0.1:port (HTTPS when cert is given)."""

    def __init__(self, port=None, cert=None, key=None):
        self.port = port or free_port()
        self.cert, self.key = cert, key
        self.got = []           # (headers dict, raw body bytes)
        self.lock = threading.Lock()
        self.srv = None

    def start(self):
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n) if 0 < n < 65536 else b""
                with rec.lock:
                    rec.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.srv = http.server.ThreadingHTTPServer((LOCAL, self.port), H)
        if self.cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert, self.key)
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.srv:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None

    @property
    def url(self):
        return "%s://%s:%d/hook" % ("https" if self.cert else "http", LOCAL, self.port)

    def alerts(self, secret=None):
        """The JSON bodies received; checks each signature when secret is set."""
        out = []
        with self.lock:
            got = list(self.got)
        for h, body in got:
            if secret is not None:
                want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                check(hmac.compare_digest(h.get("x-gotunnel-signature", ""), want),
                      "bad signature %r on %r" % (h.get("x-gotunnel-signature"), body))
            check(h.get("content-type") == "application/json", "content type %r" % h.get("content-type"))
            out.append(json.loads(body))
        return out

    def episode(self, alert, key, secret=None):
        """The states received for (alert, key), in order."""
        return [a["state"] for a in self.alerts(secret) if a["alert"] == alert and a["key"] == key]


def check_shape(a):
    """Every body has exactly the fields of the contract, with their types."""
    check(set(a) == {"alert", "state", "key", "since", "time", "detail"}, "fields %r" % sorted(a))
    check(a["state"] in ("firing", "resolved"), "state %r" % a["state"])
    check(isinstance(a["since"], int) and isinstance(a["time"], int) and a["since"] <= a["time"],
          "since/time %r/%r" % (a["since"], a["time"]))
    check(isinstance(a["detail"], dict), "detail %r" % a["detail"])


def bad_tokens(port, n, src):
    """n raw registers with a wrong token from address src; each is refused."""
    for i in range(n):
        s = connect(port, src=src, timeout=5)
        try:
            s.sendall(encode(register_msg("wrong-token-%d" % i, 22, 0, "intruder")))
            data, closed, secs = read_until_close(s, 5)
            check(closed and b"bad token" in data, "bad token %d not refused: %r" % (i, data[:200]))
        finally:
            s.close()


def alert_section(url, secret, **kw):
    d = {"webhook_url": url, "secret": secret, "retry_interval": "1s"}
    d.update(kw)
    return d


@test(timeout=240)
def test_alerts_episodes(env):
    """Offline, quota and bad-token episodes, each seen once firing and once
    resolved by an HTTP and an HTTPS receiver, signed, with no repeats."""
    ca = make_ca(env.dir, "hookca")
    cert, key, _ = make_cert(env.dir, "hook", "127.0.0.1", ca=ca)
    plain = Receiver().start()
    tls = Receiver(cert=cert, key=key).start()
    env.note("HTTPS receiver trusted through ca_file")
    try:
        m = env.master(start=False)
        rules = {"events": "client_offline, traffic_quota, auth_failures",
                 "offline_for": "2s", "clients": "alrt-*, other-*",
                 "quota_bytes_per_day": "200K", "auth_failures_per_min": 5}
        m.sections = [("alert.plain", alert_section(plain.url, "s3cret-plain", **rules)),
                      ("alert.tls", alert_section(tls.url, "s3cret-tls", ca_file=ca[0], **rules))]
        m.start()
        svc = env.service()
        p_off, p_quota = env.ports[0], env.ports[1]
        off = env.client(m, [{"name": "e", "local_port": svc.port, "remote_port": p_off}], name="alrt-off")
        env.client(m, [{"name": "q", "local_port": svc.port, "remote_port": p_quota}], name="quota-1")

        # A client killed for longer than offline_for, then back.
        off.proc.kill9()
        wait_until(lambda: plain.episode("client_offline", "alrt-off") == ["firing"] and
                   tls.episode("client_offline", "alrt-off") == ["firing"], 30, "offline firing")
        off.start()
        # A quota passed: 2 x 150 KiB through the tunnel (in + out) > 200K.
        for i in range(3):
            echo_roundtrip(p_quota, os.urandom(50 * 1024))
        # A burst of bad tokens from one address (127.0.0.2).
        bad_tokens(m.port, 8, "127.0.0.2")
        wait_until(lambda: plain.episode("client_offline", "alrt-off") == ["firing", "resolved"] and
                   tls.episode("client_offline", "alrt-off") == ["firing", "resolved"], 30, "offline resolved")
        wait_until(lambda: all(r.episode(a, k) == ["firing"] for r in (plain, tls)
                               for a, k in (("traffic_quota", "quota-1"), ("auth_failures", "127.0.0.2"))),
                   30, "quota and auth_failures firing")
        # The quota episode ends when the quota is raised (or at midnight UTC).
        for name, sec in m.sections:
            sec["quota_bytes_per_day"] = "1G"
        m.write()
        os.kill(m.proc.pid, signal.SIGHUP)
        # auth_failures ends after a quiet minute.
        wait_until(lambda: all(r.episode(a, k) == ["firing", "resolved"] for r in (plain, tls)
                               for a, k in (("traffic_quota", "quota-1"), ("auth_failures", "127.0.0.2"))),
                   90, "quota and auth_failures resolved")
        time.sleep(4)   # no repeats afterwards
        for r, secret in ((plain, "s3cret-plain"), (tls, "s3cret-tls")):
            got = r.alerts(secret)
            for a in got:
                check_shape(a)
            pairs = sorted((a["alert"], a["key"], a["state"]) for a in got)
            check(pairs == sorted([("client_offline", "alrt-off", "firing"), ("client_offline", "alrt-off", "resolved"),
                                   ("traffic_quota", "quota-1", "firing"), ("traffic_quota", "quota-1", "resolved"),
                                   ("auth_failures", "127.0.0.2", "firing"),
                                   ("auth_failures", "127.0.0.2", "resolved")]),
                  "receiver %s got %r" % (r.url, pairs))
            q = [a for a in got if a["alert"] == "traffic_quota"][0]
            check(q["detail"]["bytes_today"] > 200 * 1024 and q["detail"]["quota_bytes_per_day"] == 200 * 1024,
                  "quota detail %r" % q["detail"])
            fire, res = [a for a in got if a["alert"] == "auth_failures"]
            check(fire["detail"]["failures_last_minute"] > 5 and fire["since"] == res["since"],
                  "auth detail %r / %r" % (fire, res))
        env.note("%d webhooks per receiver, signatures ok" % len(plain.alerts()))
    finally:
        plain.stop()
        tls.stop()


@test(timeout=240)
def test_alerts_receiver_down_and_restart(env):
    """A receiver down for 30 s gets every alert afterwards, once; an alert
    queued when the master stops is delivered once by the next master."""
    rec = Receiver()
    try:
        m = env.master(start=False)
        m.sections = [("alert.ops", alert_section(rec.url, "k", events="auth_failures",
                                                  auth_failures_per_min=3, retry_interval="2s"))]
        m.start()
        bad_tokens(m.port, 5, "127.0.0.2")
        wait_until(lambda: "alert to ops failed" in m.proc.log(), 20, "a failed delivery in the log")
        time.sleep(30)
        rec.start()
        wait_until(lambda: rec.episode("auth_failures", "127.0.0.2", "k") == ["firing"], 30,
                   "the queued alert after the receiver came back")
        # Down again; a new alert is queued, and the master restarts.
        rec.stop()
        failed = m.proc.log().count("alert to ops failed")
        bad_tokens(m.port, 5, "127.0.0.3")
        wait_until(lambda: "auth_failures firing: 127.0.0.3" in m.proc.log() and
                   m.proc.log().count("alert to ops failed") > failed, 20, "the second alert failing")
        check(m.proc.term_wait(30) == 0, "master did not stop cleanly")
        rec.start()
        m.restart_same()
        wait_until(lambda: rec.episode("auth_failures", "127.0.0.3", "k") == ["firing"], 30,
                   "the alert queued before the restart")
        wait_until(lambda: rec.episode("auth_failures", "127.0.0.2", "k") == ["firing", "resolved"] and
                   rec.episode("auth_failures", "127.0.0.3", "k") == ["firing", "resolved"], 100,
                   "both resolved")
        time.sleep(3)
        got = sorted((a["key"], a["state"]) for a in rec.alerts("k"))
        check(got == [("127.0.0.2", "firing"), ("127.0.0.2", "resolved"),
                      ("127.0.0.3", "firing"), ("127.0.0.3", "resolved")], "received %r" % got)
    finally:
        rec.stop()


@test(timeout=60)
def test_alerts_config_errors(env):
    """Bad [alert.NAME] sections are refused with file:line messages."""
    cases = [
        ({"webhook_url": "ftp://x/"}, "http:// or https://"),
        ({"webhook_url": "http://127.0.0.1:1/", "events": "client_offline, bogus"}, "unknown event 'bogus'"),
        ({"webhook_url": "http://127.0.0.1:1/", "events": "traffic_quota"}, "needs quota_bytes_per_day"),
        ({"webhook_url": "http://127.0.0.1:1/", "quota_bytes_per_day": "12X"}, "expected a size"),
        ({"webhook_url": "http://127.0.0.1:1/", "retry_for": "5m"}, "at least 10m"),
        ({"events": "node_offline"}, "needs webhook_url"),
        ({"webhook_url": "http://127.0.0.1:1/", "colour": "red"}, "unknown key 'colour'"),
    ]
    from lib import MASTER, run_cmd
    for kv, want in cases:
        m = env.master(start=False)
        m.sections = [("alert.x", kv)]
        m.write()
        rc, out, err = run_cmd([MASTER, "-t", "-c", m.conf])
        check(rc != 0 and want in (out + err), "%r: rc %d, %r" % (kv, rc, out + err))
    m = env.master(start=False)
    m.sections = [("alert.ok", {"webhook_url": "https://hooks.example.org/x", "events": "node_offline, client_offline",
                                "quota_bytes_per_day": "50G", "clients": "*"})]
    m.write()
    rc, out, err = run_cmd([MASTER, "-t", "-c", m.conf])
    check(rc == 0, "a good section refused: %r" % (out + err))
