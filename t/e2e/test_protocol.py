# SPDX-License-Identifier: ISC
"""The control protocol spoken from python: register failures, bad frames, caps, takeover."""

import json
import os
import re
import socket
import struct
import time

from lib import (check_tunnel, check, connect, echo_handler, encode, fail,
                 free_port, parse_frames, pid_alive, read_until_close, recv_exact, recv_frame,
                 register_msg, test, tunnel_works, wait_until)


def is_fail(r):
    return r.get("type") == "register_response" and r.get("status") == "fail"


def is_ok(r):
    return r.get("type") == "register_response" and r.get("status") == "ok"


def err_has(r, *words):
    e = str(r.get("error", "")).lower()
    return any(w in e for w in words)


def seed_session(env, m, svc, port):
    """Registers with the seed's exact message on a python connection; returns (client, client_id)."""
    c = env.pyclient(m)
    raw = ('{"type":"register","local_port":%d,"remote_port":%d,"protocol":"tcp",'
           '"token":"%s","name":"gotunnel-demo"}' % (svc.port, port, m.token))
    c.send(raw.encode())
    r = c.reply()
    check(is_ok(r), "seed register message: reply %r" % r)
    check(r.get("name") == "gotunnel-demo", "register_response name: %r" % r)
    check(r.get("remote_port") == port, "register_response remote_port: %r" % r)
    cid = r.get("client_id")
    check(isinstance(cid, str) and re.fullmatch(r"[0-9a-f]{32}", cid),
          "register_response client_id should be 32 hex chars (docs/design.md): %r" % r)
    c.local[port] = svc.port
    check_tunnel(port, "no echo through the seed-registered port %d (python data connections)" % port)
    return c, cid


@test(timeout=60)
def test_register_seed_message_and_failures_on_one_connection(env):
    svc = env.service(echo_handler)
    m = env.master()
    p0, p1 = env.ports[0], env.ports[1]
    not_allowed = free_port()
    tok = m.token
    c1, cid = seed_session(env, m, svc, p0)
    # Failures on the same connection get their answers and do not drop the good mapping.
    r = c1.register(tok, svc.port, not_allowed, name="gotunnel-demo")
    check(is_fail(r) and err_has(r, "not allowed"), "port outside allow_ports: reply %r" % r)
    r = c1.register(tok, svc.port, p1, name="gotunnel-demo", protocol="quic")
    check(is_fail(r) and err_has(r, "protocol"), "protocol quic: reply %r" % r)
    r = c1.register(tok, svc.port, p1, name="gotunnel-demo", protocol="sctp")
    check(is_fail(r) and err_has(r, "protocol"), "protocol sctp: reply %r" % r)
    check(not c1.closed.is_set(), "the server closed the control connection after a failed register")
    mp = m.mapping_for(p0)
    check(mp is not None and mp.get("client_id") == cid, "mapping %d gone after failed registers: %r" % (p0, mp))
    check_tunnel(p0, "mapping %d stopped working after failed registers on its connection" % p0)
    # a second good mapping on the same connection
    r = c1.register(tok, svc.port, p1, name="gotunnel-demo")
    check(is_ok(r) and r.get("remote_port") == p1, "second mapping on the same connection: %r" % r)
    check(r.get("client_id") == cid, "second mapping got another client_id: %r vs %s" % (r, cid))
    check(tunnel_works(p1) and tunnel_works(p0), "both mappings of one connection should work")
    # the same port twice on one connection
    r = c1.register(tok, svc.port, p1, name="gotunnel-demo")
    check(is_fail(r) and err_has(r, "in use"), "the same port registered twice: reply %r" % r)
    check(tunnel_works(p1) and tunnel_works(p0), "both mappings should survive a duplicate register")
    # the data connection's start frame names the public peer
    s = env.sock(connect(p0, timeout=5))
    s.sendall(b"peer?")
    check(recv_exact(s, 5) == b"peer?", "echo")
    peer = "127.0.0.1:%d" % s.getsockname()[1]
    check(any(f.get("peer") == peer and f.get("remote_port") == p0 for f in c1.starts),
          "no start frame with peer %s and remote_port %d: %r" % (peer, p0, c1.starts[-3:]))


@test(timeout=60)
def test_data_pool_count(env):
    svc = env.service(echo_handler)
    m = env.master()
    a = env.pyclient(m)
    r = a.register(m.token, svc.port, env.ports[0], name="pool3", pool_count=3)
    check(is_ok(r), "register: %r" % r)
    time.sleep(2)
    check(len(a.data_ids) == 3, "pool_count 3: the server asked for %d data connections in 2s" % len(a.data_ids))
    check_tunnel(env.ports[0], "tunnel")
    wait_until(lambda: len(a.data_ids) == 4, 3, "the server to refill the pool after one connection was used")
    time.sleep(1)
    check(len(a.data_ids) == 4, "pool refill asked for %d data connections, want 4 in total" % len(a.data_ids))
    b = env.pyclient(m)
    r = b.register(m.token, svc.port, env.ports[1], name="pool500", pool_count=500)
    check(is_ok(r), "register: %r" % r)
    time.sleep(2)
    check(len(b.data_ids) <= 64, "pool_count 500: the server asked for %d data connections (cap is 64)" % len(b.data_ids))
    check_tunnel(env.ports[1], "tunnel of the big pool")


@test(timeout=60)
def test_register_bad_token(env):
    svc = env.service(echo_handler)
    m = env.master()
    p = env.ports[0]
    problems = []
    for label, tok in (("wrong token", "wrong-" + m.token), ("token prefix", m.token[:-1]),
                       ("token + 1 char", m.token + "x"), ("empty token", "")):
        c = env.pyclient(m)
        r = c.register(tok, svc.port, p)
        if not (is_fail(r) and err_has(r, "token")):
            problems.append("%s: reply %r (want register_response fail, error with 'token')" % (label, r))
        c.close()
    check(m.mapping_for(p) is None, "a bad token created mapping %d" % p)
    check(not problems, "; ".join(problems))


@test(timeout=60)
def test_register_bad_token_on_registered_connection(env):
    """Each register gets its own response; a failed one (bad token) does not drop the others."""
    svc = env.service(echo_handler)
    m = env.master()
    p0 = env.ports[0]
    c1, cid = seed_session(env, m, svc, p0)
    r = c1.register("wrong-" + m.token, svc.port, env.ports[1], name="gotunnel-demo")
    check(is_fail(r) and err_has(r, "token"), "bad token in a 2nd register on a registered connection: reply %r" % r)
    check(not c1.closed.wait(0.5), "the server closed the control connection after a failed register (bad token)")
    check_tunnel(p0, "mapping %d stopped working after a bad-token register on its connection" % p0)


@test(timeout=60)
def test_register_port_in_use(env):
    svc = env.service(echo_handler)
    m = env.master()
    p0 = env.ports[0]
    c1, cid = seed_session(env, m, svc, p0)
    for i in range(2):     # a few tries: the answer must not depend on which worker takes the connection
        c3 = env.pyclient(m)
        r = c3.register(m.token, svc.port, p0, name="other")
        check(is_fail(r) and err_has(r, "in use"), "port held by a live session: reply %r" % r)
        c3.close()
    mp = m.mapping_for(p0)
    check(mp is not None and mp.get("client_id") == cid, "mapping %d changed owner: %r" % (p0, mp))
    check_tunnel(p0, "mapping %d broken by another client's attempt" % p0)


@test(timeout=60)
def test_register_too_many_clients(env):
    svc = env.service(echo_handler)
    m2 = env.master(max_clients=1)
    p2 = env.ports[2]
    a = env.pyclient(m2)
    r = a.register(m2.token, svc.port, p2, name="first")
    check(is_ok(r), "max_clients=1, first client: %r" % r)
    r = a.register(m2.token, svc.port, env.ports[3], name="first")
    check(is_ok(r), "max_clients=1, second mapping of the same client: %r" % r)
    b = env.pyclient(m2)
    r = b.register(m2.token, svc.port, env.ports[4], name="second")
    check(is_fail(r) and err_has(r, "too many"), "max_clients=1, second client: reply %r" % r)
    check(m2.mapping_for(env.ports[4]) is None, "refused client still got mapping %d" % env.ports[4])
    a.local[p2] = svc.port
    check_tunnel(p2, "first client's mapping broken by the refused client")
    a.close()
    wait_until(lambda: m2.mapping_for(p2) is None, 5, "first client's mapping to go")
    c = env.pyclient(m2)
    r = c.register(m2.token, svc.port, env.ports[4], name="third")
    check(is_ok(r), "max_clients=1, a new client after the first left: %r" % r)


@test(timeout=90)
def test_register_race_same_port(env):
    """Two clients (on whatever workers) asking for one port at the same moment: exactly one wins."""
    import threading
    svc = env.service(echo_handler)
    m = env.master(workers=2)
    p = env.ports[0]
    for rnd in range(10):
        socks = [env.sock(connect(m.port, timeout=5)) for _ in range(2)]
        msgs = [encode(register_msg(m.token, svc.port, p, "racer%d" % i)) for i in range(2)]
        go = threading.Barrier(2, timeout=5)
        replies = [None, None]

        def run(i):
            go.wait()
            socks[i].sendall(msgs[i])
            try:
                while True:
                    f = recv_frame(socks[i])
                    if f.get("type") in ("register_response", "error"):
                        replies[i] = f
                        return
            except (EOFError, OSError, ValueError) as e:
                replies[i] = {"_closed": repr(e)}
        ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(10)
        oks = [r for r in replies if r and is_ok(r)]
        fails = [r for r in replies if r and is_fail(r) and err_has(r, "in use")]
        check(len(oks) == 1 and len(fails) == 1, "round %d: two registers of port %d at once: %r" % (rnd, p, replies))
        for s in socks:
            s.close()
        wait_until(lambda: m.mapping_for(p) is None, 5, "port %d to be free again (round %d)" % (p, rnd), interval=0.05)


def valid_body(tok, lp, rp, name="bad"):
    return ('{"type":"register","local_port":%d,"remote_port":%d,"protocol":"tcp",'
            '"token":"%s","name":"%s"}' % (lp, rp, tok, name))


def frame(body):
    if isinstance(body, str):
        body = body.encode()
    return struct.pack(">I", len(body)) + body


def bad_frame_cases(tok, lp, rp):
    """(label, raw bytes to send, error reply required?)"""
    v = valid_body(tok, lp, rp)
    reg = lambda extra: ('{"type":"register","local_port":%d,"remote_port":%d,"protocol":"tcp",'
                         '"token":"%s","name":"bad"%s}' % (lp, rp, tok, extra))
    regf = lambda lps, rps, tk=tok: ('{"type":"register","local_port":%s,"remote_port":%s,"protocol":"tcp",'
                                     '"token":"%s","name":"bad"}' % (lps, rps, tk))
    deep_obj = '{"a":' * 10000 + "1" + "}" * 10000
    cases = [
        ("length 0 (header only)", struct.pack(">I", 0), False),
        ("length 0xFFFFFFFF (header only)", struct.pack(">I", 0xFFFFFFFF), False),
        ("length 65537 (header only)", struct.pack(">I", 65537), False),
        ("length 1000000 (header only)", struct.pack(">I", 1000000), False),
        ("garbage", frame("this is not json at all"), True),
        ("binary garbage", frame(os.urandom(64).replace(b"{", b"x")), True),
        ("truncated JSON", frame('{"type":"register","token":'), True),
        ("nesting 100 levels", frame('{"type":"register","x":' + "[" * 100 + "]" * 100 + "}"), True),
        ("nesting 30000 arrays", frame("[" * 30000 + "]" * 30000), True),
        ("nesting 10000 objects", frame(deep_obj), True),
        ("nesting 17 in a register", frame(reg(',"x":' + '{"a":' * 17 + "1" + "}" * 17)), True),
        ("trailing bytes", frame(v + "xyz"), True),
        ("two objects in one frame", frame(v + v), True),
        ("comment before", frame("/* hi */" + v), True),
        ("comment inside", frame(reg(' /* c */')), True),
        ("line comment", frame('// c\n' + v), True),
        ("NUL byte after object", frame(v.encode() + b"\x00"), True),
        ("NUL byte after object + junk", frame(v.encode() + b"\x00garbage"), True),
        ("raw NUL inside token", frame(regf(lp, rp, tok + "\x00")), True),
        ("\\u0000 + junk in token", frame(regf(lp, rp, tok + "\\u0000junk")), True),
        ("\\u0000 at end of token", frame(regf(lp, rp, tok + "\\u0000")), True),
        ("\\u0000 in name", frame(reg("").replace('"name":"bad"', '"name":"a\\u0000b"')), True),
        ("\\u0000 in mapping", frame(reg(',"mapping":"a\\u0000b"')), True),
        ("duplicate token key", frame(reg("").replace('"token":', '"token":"wrong","token":', 1)), True),
        ("duplicate type key", frame('{"type":"register",' + reg("")[1:]), True),
        ("duplicate remote_port", frame(reg(',"remote_port":%d' % rp)), True),
        ("remote_port 70000", frame(regf(lp, 70000)), True),
        ("remote_port 65536", frame(regf(lp, 65536)), True),
        ("remote_port -1", frame(regf(lp, -1)), True),
        ("remote_port huge", frame(regf(lp, "99999999999999999999999")), True),
        ("remote_port 1.5", frame(regf(lp, "1.5")), True),
        ("remote_port 1e3", frame(regf(lp, "1e3")), True),
        ("remote_port as string", frame(regf(lp, '"%d"' % rp)), True),
        ("local_port 0", frame(regf(0, rp)), True),
        ("local_port 65536", frame(regf(65536, rp)), True),
        ("token as number", frame(regf(lp, rp).replace('"token":"%s"' % tok, '"token":12345')), True),
        ("type as number", frame('{"type":1}'), True),
        ("no type", frame('{"token":"%s"}' % tok), True),
        ("array", frame("[]"), True),
        ("string", frame('"register"'), True),
        ("number", frame("42"), True),
        ("null", frame("null"), True),
        ("invalid UTF-8", frame(reg("").encode().replace(b'"name":"bad"', b'"name":"\xff\xfe"')), True),
        ("unknown type", frame('{"type":"frobnicate"}'), True),
        ("first message heartbeat", frame('{"type":"heartbeat"}'), True),
        ("first message heartbeat_ack", frame('{"type":"heartbeat_ack"}'), True),
        ("first message register_response", frame('{"type":"register_response","status":"ok"}'), True),
        ("data with unknown id", frame('{"type":"data","data_id":"0.00000000000000000000000000000000"}'), True),
    ]
    return cases


@test(timeout=180)
def test_bad_frames_close_connection(env):
    svc = env.service(echo_handler)
    m = env.master()
    p = env.ports[0]
    c = env.client(m, [{"name": "echo", "local_port": svc.port, "remote_port": p}])
    check_tunnel(p, "tunnel does not work before the bad frames")
    master_pid = m.proc.pid
    workers = sorted(m.worker_pids())
    rp = env.ports[1]
    problems = []
    for label, raw, need_reply in bad_frame_cases(m.token, svc.port, rp):
        s = connect(m.port, timeout=5)
        try:
            try:
                s.sendall(raw)
            except OSError:
                pass     # the server may close before reading everything
            data, closed, dt = read_until_close(s, 10.0)
        finally:
            s.close()
        frames, rest = parse_frames(data)
        if not closed:
            problems.append("%s: connection still open after 10s (replies %r)" % (label, frames))
        if rest:
            problems.append("%s: %d stray bytes from the server" % (label, len(rest)))
        for f in frames:
            if is_ok(f):
                problems.append("%s: ACCEPTED: %r" % (label, f))
            elif not (f.get("type") == "error" or is_fail(f)) or not f.get("error"):
                problems.append("%s: reply is not an error: %r" % (label, f))
        if need_reply and not frames:
            problems.append("%s: no error reply before the close (%s after %.1fs)" % (label, closed, dt))
        if not pid_alive(master_pid):
            problems.append("%s: master died" % label)
            break
    alive = pid_alive(master_pid)
    check(alive, "master died during the bad frames: %s" % "; ".join(problems[:5]))
    after = sorted(m.worker_pids())
    check(after == workers, "worker pids changed (a worker crashed): before %r, after %r" % (workers, after))
    check_tunnel(p, "existing tunnel broken after the bad frames")
    check(c.proc.alive(), "client died")
    check(m.mapping_for(rp) is None, "a bad frame registered port %d: %r" % (rp, m.mapping_for(rp)))
    check(not problems, "%d problem(s): %s" % (len(problems), " | ".join(problems)))


@test(timeout=60)
def test_bad_message_on_registered_connection(env):
    """After a good register, an invalid message still gets an error, the close, and the ports go."""
    svc = env.service(echo_handler)
    m = env.master()
    problems = []
    for i, (label, raw) in enumerate((("garbage", frame("garbage")),
                                      ("unknown type", frame('{"type":"frobnicate"}')),
                                      ("trailing bytes", frame('{"type":"heartbeat"}x')),
                                      ("length 70000", struct.pack(">I", 70000)))):
        p = env.ports[i]
        c = env.pyclient(m)
        r = c.register(m.token, svc.port, p, name="then-bad")
        check(is_ok(r), "register: %r" % r)
        c.send(raw)
        r = c.reply(5)
        if "_closed" in r:
            if label != "length 70000":
                problems.append("%s: closed without an error reply" % label)
        elif r.get("type") != "error":
            problems.append("%s: reply %r, want an error" % (label, r))
        if not c.closed.wait(10):
            problems.append("%s: connection still open 10s later" % label)
        try:
            wait_until(lambda: m.mapping_for(p) is None, 3, "mapping %d to go" % p)
        except AssertionError as e:
            problems.append("%s: %s" % (label, e))
    check(not problems, "; ".join(problems))


@test(timeout=60)
def test_frame_length_65536_accepted(env):
    svc = env.service(echo_handler)
    m = env.master()
    rp = env.ports[0]
    head = ('{"type":"register","local_port":%d,"remote_port":%d,"protocol":"tcp","token":"%s",'
            '"name":"big","pad":"' % (svc.port, rp, m.token))
    tail = '"}'
    body = head + "p" * (65536 - len(head) - len(tail)) + tail
    check(len(body) == 65536, "test bug: body is %d bytes" % len(body))
    json.loads(body)
    s = connect(m.port, timeout=5)
    try:
        s.sendall(frame(body))
        s.settimeout(5)
        try:
            r = recv_frame(s)
        except (EOFError, OSError) as e:
            fail("a 65536-byte frame got no reply (%r): the limit is 65536 JSON bytes inclusive" % e)
    finally:
        s.close()
    size_words = ("length", "large", "long", "size", "big", "65536", "limit")
    if r.get("type") == "error" or is_fail(r):
        check(not err_has(r, *size_words), "a 65536-byte frame was refused for its size: %r" % r)
    else:
        check(is_ok(r), "65536-byte register: unexpected reply %r" % r)
    # 65537 with its payload: refused, no reply needed, closed quickly.
    s = connect(m.port, timeout=5)
    try:
        try:
            s.sendall(frame(body + " "))
        except OSError:
            pass
        data, closed, dt = read_until_close(s, 10.0)
    finally:
        s.close()
    check(closed, "a 65537-byte frame did not close the connection within 10s")
    for f in parse_frames(data)[0]:
        check(not is_ok(f), "a 65537-byte frame was accepted: %r" % f)


@test(timeout=60)
def test_frames_split_and_coalesced(env):
    svc = env.service(echo_handler)
    m = env.master()
    p0, p1, p2 = env.ports[0], env.ports[1], env.ports[2]
    # one byte per write
    s = connect(m.port, timeout=10)
    env.sock(s)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    raw = encode(register_msg(m.token, svc.port, p0, "split"))
    for b in raw:
        s.send(bytes([b]))
        time.sleep(0.01)
    r = recv_frame(s)
    check(is_ok(r) and r.get("remote_port") == p0, "register sent byte by byte: %r" % r)
    # two registers in one write
    s2 = connect(m.port, timeout=10)
    env.sock(s2)
    s2.sendall(encode(register_msg(m.token, svc.port, p1, "coal")) + encode(register_msg(m.token, svc.port, p2, "coal")))
    got = []
    t0 = time.monotonic()
    while len(got) < 2 and time.monotonic() - t0 < 10:
        f = recv_frame(s2)
        if f.get("type") == "register_response":
            got.append(f)
    check(len(got) == 2 and all(is_ok(f) for f in got) and {f.get("remote_port") for f in got} == {p1, p2},
          "two coalesced registers: %r" % got)


@test(timeout=60)
def test_registration_timeout(env):
    m = env.master()
    quiet = env.sock(connect(m.port, timeout=5))
    partial = env.sock(connect(m.port, timeout=5))
    partial.sendall(b"\x00\x00")
    t0 = time.monotonic()
    res = {}
    for label, s in (("silent", quiet), ("partial header", partial)):
        left = max(0.5, t0 + 16 - time.monotonic())
        data, closed, _ = read_until_close(s, left)
        res[label] = (closed, time.monotonic() - t0)
    for label, (closed, t) in res.items():
        check(closed, "%s connection still open %.1fs after connecting (registration timeout is 10s)" % (label, t))
        check(t >= 7, "%s connection closed after only %.1fs (registration timeout is 10s)" % (label, t))
    env.note("closed after %.1fs / %.1fs" % (res["silent"][1], res["partial header"][1]))


def open_silent(port, src, n):
    """n silent connections from src (bounded); returns the sockets and the refused count."""
    out, refused = [], 0
    for _ in range(n):
        try:
            out.append(connect(port, src=src, timeout=2))
        except OSError:
            refused += 1
    return out, refused


def count_open(socks):
    n = 0
    for s in socks:
        _, closed, _ = read_until_close(s, 0.005)
        if not closed:
            n += 1
    return n


@test(timeout=90)
def test_unauthenticated_flood_from_one_address(env):
    """300 silent connections from 127.0.0.2 (one worker, so over the per-address cap) do not
    keep a real client from 127.0.0.1 out; the oldest of the flood are closed to make room."""
    svc = env.service(echo_handler)
    m = env.master(workers=1)
    p = env.ports[0]
    t0 = time.monotonic()
    flood, refused = open_silent(m.port, "127.0.0.2", 300)
    for s in flood:
        env.sock(s)
    time.sleep(1.0)
    still = count_open(flood)
    check(still < len(flood), "all %d silent connections from one address still open after 1s: no per-address cap"
          % len(flood))
    check(count_open(flood[:20]) == 0, "the oldest flood connections are still open (evict the oldest first)")
    # A real client from 127.0.0.1 must still register and work.
    pc = env.pyclient(m)
    r = pc.register(m.token, svc.port, p, name="realone")
    check(is_ok(r), "register from 127.0.0.1 during a flood of %d silent connections from 127.0.0.2: %r"
          % (len(flood), r))
    check_tunnel(p, "python client's tunnel during the flood")
    pc.close()
    wait_until(lambda: m.mapping_for(p) is None, 10, "python client's mapping to go away")
    # and the real client binary (its data connections are unauthenticated at first)
    c = env.client(m, [{"name": "echo", "local_port": svc.port, "remote_port": p}])
    check_tunnel(p, "real client binary's tunnel during the flood")
    # Every flood connection is closed by the server within ~10 s (+ margin).
    deadline = t0 + 20
    left = count_open(flood)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = count_open(flood)
    check(not left, "%d of %d silent flood connections still open %.0fs after the flood began"
          % (left, len(flood), time.monotonic() - t0))
    check(c.proc.alive(), "client died")
    check_tunnel(p, "tunnel after the flood")
    env.note("%d open of %d after 1s (%d refused at connect)" % (still, len(flood), refused))


@test(timeout=120)
def test_unauthenticated_flood_global_cap(env):
    """Silent connections from many addresses (over the total cap): a real client still gets in."""
    svc = env.service(echo_handler)
    m = env.master(workers=1)
    p = env.ports[0]
    flood = []
    for i in range(5):
        socks, _ = open_silent(m.port, "127.0.1.%d" % (i + 1), 240)
        flood += socks
        for s in socks:
            env.sock(s)
    time.sleep(1.0)
    still = count_open(flood)
    check(still < len(flood), "all %d silent connections from 5 addresses still open after 1s: no total cap" % len(flood))
    pc = env.pyclient(m)
    r = pc.register(m.token, svc.port, p, name="realone")
    check(is_ok(r), "register from 127.0.0.1 with %d silent connections open: %r" % (still, r))
    check_tunnel(p, "python client's tunnel during the flood")
    env.note("%d of %d silent connections open after 1s" % (still, len(flood)))


@test(timeout=60)
def test_reconnect_takeover_by_client_id(env):
    svc = env.service(echo_handler)
    m = env.master()
    p = env.ports[0]
    a = env.pyclient(m)
    r = a.register(m.token, svc.port, p, name="roamer")
    check(is_ok(r), "first session: %r" % r)
    old_id = r["client_id"]
    check_tunnel(p, "first session's tunnel")
    # A different client without the id cannot take it.
    x = env.pyclient(m)
    r = x.register(m.token, svc.port, p, name="intruder")
    check(is_fail(r) and err_has(r, "in use"), "port held by a live session, no client_id: %r" % r)
    x.close()
    # The same client on a new connection, presenting its previous client_id.
    b = env.pyclient(m)
    t0 = time.monotonic()
    r = b.register(m.token, svc.port, p, name="roamer", client_id=old_id)
    check(is_ok(r) and r.get("remote_port") == p, "takeover register with client_id: %r" % r)
    new_id = r["client_id"]
    closed = a.closed.wait(5)
    check(closed, "old control connection still open 5s after the takeover")
    env.note("old session closed %.2fs after takeover" % (time.monotonic() - t0))
    mp = wait_until(lambda: (lambda x: x if x and x.get("client_id") == new_id else None)(m.mapping_for(p)),
                    5, "mapping %d to belong to the new session %s" % (p, new_id))
    check(mp.get("client_id") == new_id, "mapping owner: %r" % mp)
    ids = [c.get("id") for c in m.clients()]
    check(old_id not in ids, "old client_id %s still listed after takeover: %r" % (old_id, ids))
    try:
        check_tunnel(p, "tunnel through the new session")
    except AssertionError as e:
        fail("%s; old session: starts %r errors %r; new session: starts %r errors %r"
             % (e, a.starts, a.data_errors, b.starts, b.data_errors))


@test(timeout=60)
def test_data_id_reuse_refused(env):
    svc = env.service(echo_handler)
    m = env.master()
    p = env.ports[0]
    a = env.pyclient(m)
    r = a.register(m.token, svc.port, p, name="reuser", pool_count=1)
    check(is_ok(r), "register: %r" % r)
    check(a.open_data.wait(10), "server sent no open_data within 10s of a register")
    wait_until(lambda: len(a.data_socks) >= 1, 5, "python data connection")
    check_tunnel(p, "tunnel via python data connection")
    used = a.data_ids[0]
    s = connect(m.port, timeout=5)
    try:
        s.sendall(encode({"type": "data", "data_id": used}))
        data, closed, _ = read_until_close(s, 3)
    finally:
        s.close()
    frames, _ = parse_frames(data)
    check(closed, "reused data_id: connection not closed within 10s")
    check(any(f.get("type") == "error" for f in frames), "reused data_id: no error reply: %r" % frames)
    check_tunnel(p, "tunnel broken after a reused data id")


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\S* +(debug|info|notice|warn|warning|error|fatal)\b.*\S")


@test(timeout=60)
def test_log_one_line_per_event(env):
    svc = env.service(echo_handler)
    m = env.master()
    p = env.ports[0]
    not_allowed = free_port()
    pc = env.pyclient(m)
    r = pc.register(m.token, svc.port, p, name="logger")
    check(is_ok(r), "register: %r" % r)
    cid = r["client_id"]
    r = pc.register(m.token, svc.port, not_allowed, name="logger")
    check(is_fail(r), "register outside allow_ports: %r" % r)
    check_tunnel(p, "tunnel")
    for raw in (frame("garbage"), frame('{"type":"register"}x'), frame('{"a":' * 20 + "1" + "}" * 20),
                frame('{"type":"register","token":"x"'), struct.pack(">I", 70000)):
        s = connect(m.port, timeout=5)
        s.sendall(raw)
        read_until_close(s, 3)
        s.close()
    pc.close()
    wait_until(lambda: m.mapping_for(p) is None, 5, "mapping to go after the client closed")
    time.sleep(0.3)
    bad = []
    for line in m.proc.log().splitlines():
        if line.startswith("=== start"):
            continue
        if not LOG_LINE.match(line):
            bad.append(line)
    check(not bad, "%d log line(s) not of the form 'TIME LEVEL process: message' (one line per event): %r"
          % (len(bad), bad[:5]))
    log = m.proc.log()
    check(re.search(r"logger.*%s|%s.*logger" % (cid, cid), log) and re.search(r"register.*\b%d\b" % p, log),
          "no log line with the client's name, id and port for the register")
    check(re.search(r"\b%d\b.*not allowed|not allowed.*\b%d\b" % (not_allowed, not_allowed), log),
          "no log line with the port and reason of the failed register")
    check(re.search(r"%s.*disconnect|disconnect.*%s" % (cid, cid), log),
          "no log line with the client id saying it disconnected")
