# SPDX-License-Identifier: ISC
"""Per-client credentials (gotunnelctl token ...) and source-address ACLs."""

import json
import re
import socket
import time

from lib import (check, echo_roundtrip, fail, port_refuses, recv_frame, test, wait_until)

SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{32,}$")


def token_add(env, m, name, *opts):
    """gotunnelctl token add NAME OPTS...; returns the secret (the last line)."""
    rc, out, err = m.ctl("token", "add", name, *opts)
    check(rc == 0, "token add %s %s: exit %d: %s" % (name, " ".join(opts), rc, err.strip()[-300:]))
    lines = out.strip("\n").split("\n")
    secret = lines[-1]
    check(SECRET_RE.match(secret), "token add: last line is not a base64url secret of >= 32 characters: %r" % secret)
    check(secret not in "\n".join(lines[:-1]), "token add printed the secret more than once")
    env.secrets.append(secret)
    return secret


def token_list(m):
    rc, out, err = m.ctl("token", "list", "--json")
    check(rc == 0, "token list --json: exit %d: %s" % (rc, err.strip()[-300:]))
    try:
        return {t["name"]: t for t in json.loads(out)}
    except (ValueError, KeyError, TypeError):
        fail("token list --json printed %r" % out[:300])


def refused(port, src, timeout=5.0):
    """True when a connection from src to port is closed at once without service."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
    except OSError:
        return True
    try:
        try:
            s.sendall(b"ping")
        except OSError:
            return True
        try:
            return s.recv(16) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
    finally:
        s.close()


def works(port, src):
    try:
        return echo_roundtrip(port, b"x" * 512, timeout=5.0, src=src)
    except (OSError, EOFError):
        return False


def registered(m, port):
    return m.mapping_for(port) is not None


@test(timeout=120)
def test_token_add_revoke(env):
    m = env.master()
    svc = env.service()
    p = env.ports
    secret = token_add(env, m, "laptop", "--ports", "%d-%d" % (min(p[0], p[1]), max(p[0], p[1])))
    c = env.client(m, [{"name": "ssh", "local_port": svc.port, "remote_port": p[0]}], token=secret)
    check(works(p[0], "127.0.0.1"), "tunnel of a credential's client does not work")
    cl = [x for x in m.clients() if x.get("name") == c.name]
    check(len(cl) == 1 and cl[0].get("credential") == "laptop",
          "clients --json does not name the credential: %r" % cl)
    # A shared-token client shows an empty credential.
    c2 = env.client(m, [{"name": "web", "local_port": svc.port, "remote_port": p[2]}])
    cl2 = [x for x in m.clients() if x.get("name") == c2.name]
    check(cl2 and cl2[0].get("credential") == "", "shared-token client has credential %r" % cl2)
    # last_used is written (batched, within a few seconds), secrets are never listed.
    wait_until(lambda: token_list(m)["laptop"].get("last_used", 0) > 0, 10, "last_used of laptop")
    t = token_list(m)["laptop"]
    check(t.get("state") == "active" and t.get("revoked") is False, "token list: %r" % t)
    check(secret not in json.dumps(t), "token list shows the secret")
    rc, out, err = m.ctl("token", "list")
    check(rc == 0 and "laptop" in out and secret not in out, "token list: %r %r" % (out, err))

    rc, out, err = m.ctl("token", "revoke", "laptop")
    check(rc == 0, "token revoke: exit %d: %s" % (rc, err))
    t0 = time.monotonic()
    wait_until(lambda: not registered(m, p[0]) and port_refuses(p[0]), 2.0,
               "the revoked client to be disconnected (2 s)")
    env.note("revoked client gone after %.2fs" % (time.monotonic() - t0))
    # It keeps trying and is refused; the shared-token client is untouched.
    wait_until(lambda: "credential revoked" in c.proc.log(), 10, "the client to log 'credential revoked'")
    time.sleep(3)
    check(not registered(m, p[0]), "a revoked credential registered again")
    check(works(p[2], "127.0.0.1"), "revoking a credential broke a shared-token client")
    check(token_list(m)["laptop"].get("revoked") is True, "token list does not show the revoke")
    # The secret is not stored anywhere in the data directory.
    with open(m.data_dir + "/data.mdb", "rb") as f:
        check(secret.encode() not in f.read(), "the secret is stored in LMDB")


@test(timeout=120)
def test_token_revoke_without_master(env):
    m = env.master()
    svc = env.service()
    secret = token_add(env, m, "offline")
    m.proc.stop()
    rc, out, err = m.ctl("token", "revoke", "offline")
    check(rc == 0 and "not running" in err, "revoke without a master: exit %d %r" % (rc, err))
    m.restart_same()
    py = env.pyclient(m)
    r = py.register(secret, svc.port, env.ports[0])
    check(r.get("status") == "fail" and "revoked" in r.get("error", ""),
          "register with a credential revoked while the master was down: %r" % r)


@test(timeout=120)
def test_token_rotate(env):
    m = env.master()
    svc = env.service()
    p = env.ports
    old = token_add(env, m, "box")
    c = env.client(m, [{"name": "ssh", "local_port": svc.port, "remote_port": p[0]}], token=old)
    rc, out, err = m.ctl("token", "rotate", "box")
    check(rc == 0, "token rotate: exit %d: %s" % (rc, err))
    new = out.strip("\n").split("\n")[-1]
    check(SECRET_RE.match(new) and new != old, "rotate: last line %r" % new)
    env.secrets.append(new)
    wait_until(lambda: not registered(m, p[0]), 2.0, "the old secret's session to be closed (2 s)")
    wait_until(lambda: "bad token" in c.proc.log() or "rotated" in c.proc.log(), 10,
               "the old client to be refused")
    c2 = env.client(m, [{"name": "ssh", "local_port": svc.port, "remote_port": p[1]}], token=new)
    check(works(p[1], "127.0.0.1"), "tunnel with the rotated secret")
    py = env.pyclient(m)
    r = py.register(old, svc.port, p[2])
    check(r.get("status") == "fail", "the old secret still registers: %r" % r)
    check(c2.proc.alive(), "new client died")


@test(timeout=120)
def test_token_expire(env):
    m = env.master()
    svc = env.service()
    p = env.ports
    life = 6
    secret = token_add(env, m, "brief", "--expires", "%ds" % life)
    t_add = time.monotonic()
    c = env.client(m, [{"name": "ssh", "local_port": svc.port, "remote_port": p[0]}], token=secret, wait=False)
    try:
        c.wait_registered(life - 1)
    except Exception:
        fail("the client did not register within %d s of a %d s credential (machine too slow?)" % (life - 1, life))
    check(time.monotonic() - t_add < life, "registered too late to observe expiry")
    t = token_list(m)["brief"]
    check(t.get("expires", 0) > 0, "token list shows no expiry: %r" % t)
    wait_until(lambda: not registered(m, p[0]), life + 5 - (time.monotonic() - t_add),
               "the session of an expired credential to be closed")
    wait_until(lambda: "credential expired" in c.proc.log(), 10, "the client to log 'credential expired'")
    check(token_list(m)["brief"].get("state") == "expired", "state is not expired")
    py = env.pyclient(m)
    r = py.register(secret, svc.port, p[1])
    check(r.get("status") == "fail" and r.get("error") == "credential expired",
          "register after expiry: %r" % r)
    rc, out, err = m.ctl("token", "add", "x", "--expires", "soon")
    check(rc != 0 and "duration" in err, "--expires soon accepted: %r" % err)


@test(timeout=120)
def test_token_port_limits(env):
    m = env.master()
    svc = env.service()
    p = sorted(env.ports)
    secret = token_add(env, m, "lim", "--ports", "%d,%d,%d" % (p[0], p[1], p[2]), "--max-mappings", "2")
    py = env.pyclient(m)
    r = py.register(secret, svc.port, p[4])
    check(r.get("status") == "fail" and r.get("error") == "port not allowed",
          "port outside --ports (inside allow_ports): %r" % r)
    check(not py.closed.is_set() and not registered(m, p[4]), "refused port was published")
    r = py.register(secret, svc.port, p[0])
    check(r.get("status") == "ok", "port inside --ports: %r" % r)
    r = py.register(secret, svc.port, 0)
    check(r.get("status") == "ok" and r.get("remote_port") in (p[1], p[2]),
          "remote_port 0 must be picked inside the credential's ports: %r" % r)
    r = py.register(secret, svc.port, p[2] if r.get("remote_port") == p[1] else p[1])
    check(r.get("status") == "fail" and r.get("error") == "too many mappings",
          "third mapping with --max-mappings 2: %r" % r)
    # A session keeps its identity: the shared token cannot add mappings to it.
    r = py.register(m.token, svc.port, p[3])
    check(r.get("status") == "fail", "shared token mixed into a credential session: %r" % r)
    rc, out, err = m.ctl("token", "add", "bad", "--ports", "9-1")
    check(rc != 0 and "ports" in err, "bad --ports accepted: %r" % err)
    rc, out, err = m.ctl("token", "add", "bad name")
    check(rc != 0, "a name with a space was accepted")
    rc, out, err = m.ctl("token", "add", "lim")
    check(rc != 0 and "exists" in err, "duplicate add: %r" % err)


@test(timeout=120)
def test_token_takeover_needs_same_identity(env):
    """Presenting another client's id takes over only a session of the same credential."""
    m = env.master()
    svc = env.service()
    p = env.ports
    sa = token_add(env, m, "ida")
    sb = token_add(env, m, "idb")
    a = env.client(m, [{"name": "ssh", "local_port": svc.port, "remote_port": p[0]}], token=sa)
    aid = a.client_ids()[0]
    for tok in (sb, m.token):
        py = env.pyclient(m)
        r = py.register(tok, svc.port, p[0], client_id=aid)
        check(r.get("status") == "fail" and r.get("error") == "port in use",
              "another identity took over %s's port: %r" % (aid, r))
        time.sleep(0.5)
        check(a.client_ids() == [aid], "the victim's session was replaced: %r" % a.client_ids())
    check(works(p[0], "127.0.0.1"), "the victim's tunnel after the attempts")
    # The same credential may take its own session over (a reconnecting client).
    py = env.pyclient(m)
    r = py.register(sa, svc.port, p[0], client_id=aid)
    check(r.get("status") == "ok", "the same credential could not take over: %r" % r)
    wait_until(lambda: aid not in [c.get("id") for c in m.clients()], 5, "the replaced session to end")


@test(timeout=120)
def test_token_empty_shared(env):
    """token = (empty): the shared token is off and an empty token never authenticates."""
    m = env.master(token="")
    svc = env.service()
    p = env.ports
    for tok in ("", " ", "tok"):
        py = env.pyclient(m)
        r = py.register(tok, svc.port, p[0])
        check(r.get("status") == "fail" and "token" in r.get("error", ""),
              "register with token %r on a credentials-only master: %r" % (tok, r))
        check(py.closed.wait(5), "the connection stayed open after a bad token")
        check(not registered(m, p[0]), "a mapping was published with token %r" % tok)
    # A register without any token member, too.
    py = env.pyclient(m)
    py.send({"type": "register", "local_port": svc.port, "remote_port": p[0], "name": "x"})
    r = py.reply()
    check(r.get("status") == "fail", "register without a token: %r" % r)
    secret = token_add(env, m, "only")
    env.client(m, [{"name": "ssh", "local_port": svc.port, "remote_port": p[1]}], token=secret)
    check(works(p[1], "127.0.0.1"), "credential on a credentials-only master")


@test(timeout=150)
def test_acl_cidrs(env):
    """allow/deny from the client config, the server and the credential; deny wins."""
    m = env.master(deny_cidrs="127.0.0.4/32")
    svc = env.service()
    p = env.ports
    c = env.client(m, [
        {"name": "allow2", "local_port": svc.port, "remote_port": p[0], "allow_cidrs": "127.0.0.2/32"},
        {"name": "deny2", "local_port": svc.port, "remote_port": p[1], "deny_cidrs": "127.0.0.2"},
        {"name": "both", "local_port": svc.port, "remote_port": p[2],
         "allow_cidrs": "127.0.0.0/24, ::1", "deny_cidrs": "127.0.0.3/32"},
        {"name": "open", "local_port": svc.port, "remote_port": p[3]},
    ])
    expect = {  # (port, source) -> works
        (p[0], "127.0.0.2"): True, (p[0], "127.0.0.3"): False,
        (p[1], "127.0.0.2"): False, (p[1], "127.0.0.3"): True,
        (p[2], "127.0.0.2"): True, (p[2], "127.0.0.3"): False,
        (p[3], "127.0.0.2"): True, (p[3], "127.0.0.3"): True,
        # the server's deny_cidrs applies to every mapping, even allowed ones
        (p[3], "127.0.0.4"): False, (p[2], "127.0.0.4"): False,
    }
    for (port, src), want in expect.items():
        if want:
            check(works(port, src), "port %d from %s: refused, want served" % (port, src))
        else:
            check(refused(port, src), "port %d from %s: served, want refused" % (port, src))
    # Refusals are counted in the metrics.
    def counted():
        rc, out, err = m.ctl("stats")
        g = re.search(r'^gotunnel_connections_refused_total\{reason="acl"\} (\d+)$', out, re.M)
        return g and int(g.group(1)) >= 5
    wait_until(counted, 10, "gotunnel_connections_refused_total{reason=\"acl\"} >= 5")
    # ... and logged at a bounded rate: 60 refusals in a burst, a few lines.
    before = c.master.proc.log().count("refused: not in allow_cidrs")
    t0 = time.monotonic()
    for _ in range(60):
        refused(p[0], "127.0.0.3")
    time.sleep(1.2)
    check(refused(p[0], "127.0.0.3"), "still refused")
    secs = time.monotonic() - t0
    # The server logs after it closed the connection: wait for the line.
    wait_until(lambda: "more refused" in m.proc.log(), 10, "the count of suppressed refusals in the log")
    lines = m.proc.log().count("refused: not in allow_cidrs") - before
    check(1 <= lines <= secs + 3, "%d log lines for 61 refusals in %.1fs (want at most one a second)" % (lines, secs))
    check(works(p[0], "127.0.0.2"), "allowed source after a burst of refusals")


@test(timeout=120)
def test_acl_credential(env):
    """token add --allow/--deny applies to all of that credential's mappings; deny wins."""
    m = env.master()
    svc = env.service()
    p = env.ports
    secret = token_add(env, m, "acl", "--allow", "127.0.0.0/29", "--deny", "127.0.0.3")
    env.client(m, [
        {"name": "a", "local_port": svc.port, "remote_port": p[0]},
        {"name": "b", "local_port": svc.port, "remote_port": p[1], "allow_cidrs": "127.0.0.2,127.0.0.3,127.0.0.9"},
    ], token=secret)
    for port in (p[0], p[1]):
        check(works(port, "127.0.0.2"), "port %d from 127.0.0.2 (allowed by the credential)" % port)
        check(refused(port, "127.0.0.3"), "port %d from 127.0.0.3 (allowed, but denied by the credential)" % port)
    check(works(p[0], "127.0.0.5"), "port %d from 127.0.0.5 (in the credential's allow list)" % p[0])
    check(refused(p[1], "127.0.0.5"), "port %d from 127.0.0.5 (not in the mapping's allow_cidrs)" % p[1])
    check(refused(p[1], "127.0.0.9"), "port %d from 127.0.0.9 (not in the credential's allow list)" % p[1])
    # A bad list in the register message is refused with a clear reason.
    py = env.pyclient(m)
    r = py.register(m.token, svc.port, p[2], allow_cidrs="10.0.0.0/99")
    check(r.get("status") == "fail" and "allow_cidrs" in r.get("error", "") and "prefix" in r.get("error", ""),
          "bad allow_cidrs in register: %r" % r)
    check(not registered(m, p[2]), "mapping with a bad allow_cidrs published")
