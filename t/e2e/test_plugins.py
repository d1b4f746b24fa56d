# SPDX-License-Identifier: ISC
"""frp-compatible server plugins end to end: a real plugin (Python's
http.server, frp's request and answer shapes) rejects a Login and a
NewProxy for one port, changes a remote_port, rejects a NewUserConn from
one source address, hears CloseProxy; a plugin that times out or answers
garbage rejects (fail closed)."""

import hashlib
import http.server
import json
import threading
import time
import urllib.parse

from lib import (LOCAL, check, echo_roundtrip, free_port, read_until_close,
                 connect, test, wait_until)


class Plugin:
    """A server plugin on 127.0.0.1 answering frp's protocol."""

    def __init__(self, rules):
        self.port = free_port()
        self.rules = rules      # fn(op, content) -> (answer bytes or dict, delay)
        self.calls = []         # (op, query dict, body dict)
        self.lock = threading.Lock()
        plugin = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                u = urllib.parse.urlparse(self.path)
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                q = dict(urllib.parse.parse_qsl(u.query))
                with plugin.lock:
                    plugin.calls.append((body.get("op"), u.path, q, body))
                answer, delay = plugin.rules(body["op"], body["content"])
                if delay:
                    time.sleep(delay)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass    # the master gave up waiting

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.daemon_threads = True
        self.srv = http.server.ThreadingHTTPServer((LOCAL, self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def ops(self, op):
        with self.lock:
            return [c for c in self.calls if c[0] == op]

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


OK = {"reject": False, "unchange": True}


@test(timeout=180)
def test_plugins_frp(env):
    p_reject, p_from, p_to, p_slow, p_garbage = env.ports[:5]

    def rules(op, c):
        if op == "Login" and c.get("user") == "bad-user":
            return {"reject": True, "reject_reason": "user bad-user is not allowed"}, 0
        if op == "NewProxy":
            name = c.get("proxy_name")
            if name == "slow":
                return OK, 4            # past the 1 s timeout
            if name == "garbage":
                return b"<html>not json</html>", 0
            if c.get("remote_port") == p_reject:
                return {"reject": True, "reject_reason": "port %d is reserved" % p_reject}, 0
            if c.get("remote_port") == p_from:
                nc = dict(c)
                nc["remote_port"] = p_to
                return {"reject": False, "unchange": False, "content": nc}, 0
        if op == "NewUserConn" and c.get("remote_addr", "").startswith("127.0.0.2:"):
            return {"reject": True, "reject_reason": "address not allowed"}, 0
        return OK, 0

    plugin = Plugin(rules)
    try:
        m = env.master(start=False)
        m.sections = [("plugin.multiuser", {"addr": "%s:%d" % (LOCAL, plugin.port), "path": "/handler",
                                            "ops": "Login, NewProxy, CloseProxy, NewUserConn",
                                            "timeout": "1s"})]
        m.start()
        svc = env.service()
        pc = env.pyclient(m)
        # NewProxy rejected for one port: the plugin's reason comes back.
        r = pc.register(m.token, svc.port, p_reject, name="alice", mapping="web")
        check(r.get("status") == "fail" and r.get("error") == "port %d is reserved" % p_reject,
              "register of the reserved port: %r" % r)
        login = plugin.ops("Login")
        check(len(login) == 1, "Login calls: %r" % login)
        op, path, q, body = login[0]
        c = body["content"]
        check(path == "/handler" and q == {"version": "0.1.0", "op": "Login"} and body["version"] == "0.1.0",
              "Login request line/body: %r %r %r" % (path, q, body))
        want_pk = hashlib.md5((m.token + str(c["timestamp"])).encode()).hexdigest()
        check(c["user"] == "alice" and c["privilege_key"] == want_pk and len(c["run_id"]) == 32 and
              c["client_address"].startswith("127.0.0.1:") and c["metas"] == {},
              "Login content: %r" % c)
        # NewProxy changes the remote port; the tunnel works there.
        r = pc.register(m.token, svc.port, p_from, name="alice", mapping="web")
        check(r.get("status") == "ok" and r.get("remote_port") == p_to, "changed port: %r" % r)
        check(len(plugin.ops("Login")) == 1, "Login asked twice in one session")
        np = [b["content"] for _, _, _, b in plugin.ops("NewProxy")]
        check(np[-1]["proxy_name"] == "web" and np[-1]["proxy_type"] == "tcp" and
              np[-1]["remote_port"] == p_from and np[-1]["user"]["user"] == "alice",
              "NewProxy content: %r" % np[-1])
        echo_roundtrip(p_to, b"through the plugin's port")   # raises unless echoed
        # NewUserConn: one source address is refused, the connection closed.
        s = env.sock(connect(p_to, src="127.0.0.2", timeout=10))
        try:
            s.sendall(b"hello?")
        except OSError:
            pass
        data, closed, secs = read_until_close(s, 10)
        check(closed and data == b"", "a refused source address got %r (closed %r)" % (data, closed))
        uc = [b["content"] for _, _, _, b in plugin.ops("NewUserConn")]
        check(any(u["remote_addr"].startswith("127.0.0.2:") for u in uc) and
              all(u["proxy_name"] == "web" for u in uc), "NewUserConn contents: %r" % uc)
        echo_roundtrip(p_to, b"again")          # the allowed address still gets through
        # A plugin that does not answer in time, and one that answers garbage: rejected.
        t0 = time.monotonic()
        r = pc.register(m.token, svc.port, p_slow, name="alice", mapping="slow")
        check(r.get("status") == "fail" and "no answer" in r.get("error", ""), "slow plugin: %r" % r)
        check(time.monotonic() - t0 < 4, "the timeout did not cut the slow plugin short")
        r = pc.register(m.token, svc.port, p_garbage, name="alice", mapping="garbage")
        check(r.get("status") == "fail" and "bad answer" in r.get("error", ""), "garbage plugin: %r" % r)
        log = m.proc.log()
        check("not a plugin answer; rejected" in log and "failed" in log, "plugin failures not logged")
        # The session keeps its good mapping while others were refused.
        echo_roundtrip(p_to, b"still")          # the good mapping is unharmed
        # CloseProxy when the client goes.
        pc.close()
        wait_until(lambda: any(b["content"]["proxy_name"] == "web" for _, _, _, b in plugin.ops("CloseProxy")),
                   15, "CloseProxy for the closed mapping")
        # A refused Login ends the session with the plugin's reason.
        bad = env.pyclient(m)
        r = bad.register(m.token, svc.port, p_reject + 0, name="bad-user")
        check(r.get("status") == "fail" and r.get("error") == "user bad-user is not allowed",
              "refused login: %r" % r)
        wait_until(lambda: bad.closed.is_set(), 10, "the refused client's connection to close")
        # A wrong token never reaches the plugin.
        before = len(plugin.ops("Login"))
        stranger = env.pyclient(m)
        r = stranger.register("wrong-token", svc.port, p_reject, name="stranger")
        check(r.get("error") == "bad token" and len(plugin.ops("Login")) == before,
              "a bad token was passed to the plugin: %r" % r)
        env.note("%d plugin calls" % len(plugin.calls))
    finally:
        plugin.stop()


@test(timeout=60)
def test_plugins_config_errors(env):
    from lib import MASTER, run_cmd
    cases = [
        ({"addr": "127.0.0.1", "path": "/h", "ops": "Login"}, "host:port"),
        ({"addr": "127.0.0.1:9000", "path": "h", "ops": "Login"}, "must start with '/'"),
        ({"addr": "127.0.0.1:9000", "path": "/h", "ops": "Login, Ping"}, "unknown op 'Ping'"),
        ({"addr": "127.0.0.1:9000", "path": "/h"}, "needs addr, path and ops"),
        ({"addr": "127.0.0.1:9000", "path": "/h", "ops": "Login", "timeout": "2m"}, "1s to 60s"),
    ]
    for kv, want in cases:
        m = env.master(start=False)
        m.sections = [("plugin.x", kv)]
        m.write()
        rc, out, err = run_cmd([MASTER, "-t", "-c", m.conf])
        check(rc != 0 and want in (out + err), "%r: rc %d, %r" % (kv, rc, out + err))
