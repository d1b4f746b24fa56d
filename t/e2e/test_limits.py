# SPDX-License-Identifier: ISC
"""Limits and the operator's switch: concurrent connections per mapping and
per client, the new-connection rate, bandwidth each way, mapping disable/enable."""

import re
import socket
import threading
import time

from lib import (check, connect, echo_roundtrip, fail, read_until_close,
                 recv_exact, test, wait_until)

MiB = 1 << 20


def held_echo(env, port, tag):
    """Opens a connection through port that is known to be relayed (echoes)."""
    s = env.sock(connect(port, timeout=10))
    s.sendall(tag)
    check(recv_exact(s, len(tag)) == tag, "connection %r through port %d did not echo" % (tag, port))
    return s


def refused(env, port, timeout=5):
    """True when a new connection to port is closed without a byte, promptly."""
    s = env.sock(connect(port, timeout=10))
    try:
        s.sendall(b"hello?")
    except OSError:
        pass
    data, closed, secs = read_until_close(s, timeout)
    return bool(closed) and data == b"" and secs < timeout


def refused_count(master, reason):
    """The gotunnel_connections_refused_total{reason=...} counter (0 if absent)."""
    rc, out, err = master.ctl("stats")
    check(rc == 0, "gotunnelctl stats failed: %s" % err)
    m = re.search(r'^gotunnel_connections_refused_total\{reason="%s"\} (\d+)$' % reason, out, re.M)
    return int(m.group(1)) if m else 0


def wait_refused_counted(master, reason, at_least):
    wait_until(lambda: refused_count(master, reason) >= at_least, 10,
               "gotunnel_connections_refused_total{reason=%r} >= %d" % (reason, at_least))


@test(timeout=90)
def test_max_conns_per_mapping_client_key(env):
    """The client's max_conns caps one mapping; its other mapping is not capped."""
    svc = env.service()
    m = env.master()
    pa, pb = env.ports[0], env.ports[1]
    env.client(m, [{"name": "a", "local_port": svc.port, "remote_port": pa, "extra": {"max_conns": 2}},
                   {"name": "b", "local_port": svc.port, "remote_port": pb}])
    held = [held_echo(env, pa, b"a%d" % i) for i in range(2)]
    check(refused(env, pa), "a 3rd connection to a mapping with max_conns = 2 was not refused promptly")
    others = [held_echo(env, pb, b"b%d" % i) for i in range(4)]
    for i, s in enumerate(held + others):
        s.sendall(b"still%d" % i)
        check(recv_exact(s, 6) == b"still%d" % i, "a held connection broke after a refusal")
    wait_refused_counted(m, "max_conns", 1)
    held.pop().close()
    wait_until(lambda: echo_roundtrip(pa, b"again", timeout=3), 10,
               "a new connection once one of the 2 closed")


@test(timeout=90)
def test_max_conns_per_client(env):
    """[common] max_conns_per_client counts every mapping of a client, not other clients."""
    svc = env.service()
    m = env.master(max_conns_per_client=3)
    pa, pb, pc = env.ports[0], env.ports[1], env.ports[2]
    env.client(m, [{"name": "a", "local_port": svc.port, "remote_port": pa},
                   {"name": "b", "local_port": svc.port, "remote_port": pb}])
    env.client(m, [{"name": "c", "local_port": svc.port, "remote_port": pc}])
    held = [held_echo(env, pa, b"a0"), held_echo(env, pa, b"a1"), held_echo(env, pb, b"b0")]
    check(refused(env, pb), "a 4th connection of a client with max_conns_per_client = 3 was not refused")
    check(refused(env, pa), "a 4th connection (other mapping) was not refused")
    others = [held_echo(env, pc, b"c%d" % i) for i in range(3)]   # its own 3
    check(len(others) == 3, "another client was limited")
    wait_refused_counted(m, "max_conns_per_client", 2)
    held[0].close()
    wait_until(lambda: echo_roundtrip(pb, b"again", timeout=3), 10,
               "a new connection once the client is under its limit")


def burst_of_connections(port, n):
    """Opens n connections at once; returns (served, refused, seconds)."""
    t0 = time.monotonic()
    socks = [connect(port, timeout=10) for _ in range(n)]
    for i, s in enumerate(socks):
        s.sendall(b"%04d" % i)
    served = ref = 0
    for i, s in enumerate(socks):
        s.settimeout(15)
        try:
            got = recv_exact(s, 4)
        except (OSError, EOFError):
            got = b""
        if got == b"%04d" % i:
            served += 1
        else:
            ref += 1
        s.close()
    return served, ref, time.monotonic() - t0


@test(timeout=120)
def test_conn_rate_limit(env):
    """conn_rate = 2 with conn_burst = 3: a burst of 30 gets about 3 through."""
    svc = env.service()
    m = env.master()
    pa, pb = env.ports[0], env.ports[1]
    env.client(m, [{"name": "rated", "local_port": svc.port, "remote_port": pa,
                    "extra": {"conn_rate": 2, "conn_burst": 3}},
                   {"name": "free", "local_port": svc.port, "remote_port": pb}], pool_count=40)
    served, ref, secs = burst_of_connections(pa, 30)
    # Every accept happened within secs: at most burst + rate * secs tokens.
    bound = 3 + 2 * secs + 1
    check(served >= 3, "only %d of a burst of 30 were served (burst 3)" % served)
    check(served <= bound, "%d of 30 served in %.1f s, the bucket allows %.0f" % (served, secs, bound))
    check(ref == 30 - served, "accounting: %d served + %d refused != 30" % (served, ref))
    fserved, fref, _ = burst_of_connections(pb, 30)
    check(fserved == 30, "the unlimited mapping of the same client served %d of 30" % fserved)
    wait_refused_counted(m, "conn_rate", 1)
    time.sleep(1.0)   # tokens come back at 2 a second
    wait_until(lambda: echo_roundtrip(pa, b"later", timeout=3), 10, "a connection once tokens are back")
    env.note("burst of 30 at conn_rate 2/burst 3: %d served in %.1f s" % (served, secs))


class Counter:
    """Bytes received by a thread, readable from another."""

    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def add(self, k):
        with self.lock:
            self.n += k

    def get(self):
        with self.lock:
            return self.n


def receive_into(sock, counter, stop):
    try:
        while not stop.is_set():
            d = sock.recv(MiB)
            if not d:
                return
            counter.add(len(d))
    except OSError:
        return


def send_forever(sock, stop):
    chunk = b"\x5a" * (256 * 1024)
    try:
        while not stop.is_set():
            sock.sendall(chunk)
    except OSError:
        return


@test(timeout=150)
def test_bandwidth_limit_both_ways(env):
    """bandwidth_limit = 2MB: each direction runs at 2 MiB/s (within 20% over 5 s);
    another mapping of the same client is not slowed."""
    rate = 2 * MiB
    stop = threading.Event()
    up_count = Counter()        # public -> local sink, counted at the sink
    big = 48 * MiB

    def sink(c, a):
        receive_into(c, up_count, stop)

    def source(c, a):
        send_forever(c, stop)

    def big_source(c, a):
        c.sendall(b"\xa5" * big)
        c.shutdown(socket.SHUT_WR)

    up, down, free = env.service(sink), env.service(source), env.service(big_source)
    m = env.master()
    pu, pd, pf = env.ports[0], env.ports[1], env.ports[2]
    env.client(m, [{"name": "bwup", "local_port": up.port, "remote_port": pu,
                    "extra": {"bandwidth_limit": "2MB"}},
                   {"name": "bwdown", "local_port": down.port, "remote_port": pd,
                    "extra": {"bandwidth_limit": "2MB"}},
                   {"name": "free", "local_port": free.port, "remote_port": pf}])
    down_count = Counter()
    su = env.sock(connect(pu, timeout=10))
    sd = env.sock(connect(pd, timeout=10))
    threads = [threading.Thread(target=send_forever, args=(su, stop), daemon=True),
               threading.Thread(target=receive_into, args=(sd, down_count, stop), daemon=True)]
    try:
        for t in threads:
            t.start()
        t0 = time.monotonic()
        # Skip the first second (the bucket starts full, queues fill).
        time.sleep(1.0)
        u1, d1, t1 = up_count.get(), down_count.get(), time.monotonic()
        # Meanwhile the unlimited mapping of the same client moves 48 MiB.
        sf = env.sock(connect(pf, timeout=10))
        f0 = time.monotonic()
        data, closed, _ = read_until_close(sf, 60)
        fsecs = time.monotonic() - f0
        left = t1 + 5.0 - time.monotonic()
        if left > 0:
            time.sleep(left)
        u2, d2, t2 = up_count.get(), down_count.get(), time.monotonic()
    finally:
        stop.set()
    up_rate = (u2 - u1) / (t2 - t1)
    down_rate = (d2 - d1) / (t2 - t1)
    frate = len(data) / max(fsecs, 1e-3)
    env.note("limit 2 MiB/s: up %.2f, down %.2f MiB/s over %.1f s; free mapping %.1f MiB/s"
             % (up_rate / MiB, down_rate / MiB, t2 - t1, frate / MiB))
    check(closed and len(data) == big, "the unlimited mapping delivered %d of %d bytes" % (len(data), big))
    for what, r in (("public -> client", up_rate), ("client -> public", down_rate)):
        check(abs(r - rate) <= 0.2 * rate, "%s ran at %.2f MiB/s with bandwidth_limit = 2MB (allowed 1.6-2.4)"
              % (what, r / MiB))
    check(frate > 2 * rate, "the unlimited mapping of the same client ran at only %.1f MiB/s" % (frate / MiB))
    check(t1 - t0 < 3, "sampling started late")


@test(timeout=120)
def test_mapping_disable_enable(env):
    """gotunnelctl mapping disable/enable: refused while disabled, client stays,
    open relays finish, the state survives a client restart."""
    svc = env.service()
    m = env.master()
    pa, pb = env.ports[0], env.ports[1]
    c = env.client(m, [{"name": "a", "local_port": svc.port, "remote_port": pa},
                       {"name": "b", "local_port": svc.port, "remote_port": pb}], name="switchy")
    ids = c.client_ids()
    old = held_echo(env, pa, b"before")
    rc, out, err = m.ctl("mapping", "disable", str(pa))
    check(rc == 0, "mapping disable failed: %s %s" % (out, err))
    check(refused(env, pa), "a connection to a disabled mapping was not refused promptly")
    check(echo_roundtrip(pb, b"other", timeout=5), "the other mapping stopped working")
    old.sendall(b"still")
    check(recv_exact(old, 5) == b"still", "a relay opened before disable was cut")
    st = {x["remote_port"]: x.get("enabled") for x in m.mappings()}
    check(st.get(pa) is False and st.get(pb) is True, "mappings --json enabled flags: %r" % st)
    cl = [x for x in m.clients() if x.get("name") == "switchy"]
    check(len(cl) == 1 and cl[0]["id"] in ids, "the client did not stay connected: %r" % cl)
    flags = {x["remote_port"]: x.get("enabled") for x in cl[0]["mappings"]}
    check(flags.get(pa) is False, "clients --json mapping items: %r" % flags)
    wait_refused_counted(m, "disabled", 1)
    rc, out, err = m.ctl("mapping", "disable", "1")
    check(rc != 0 and "no such mapping" in err, "disable of an unknown port: rc %d %r" % (rc, err))

    # The same client name comes back: still disabled.
    c.proc.stop()
    wait_until(lambda: not c.my_mappings(), 20, "the client's mappings to go")
    c.start()
    check(refused(env, pa), "the mapping was enabled again by a client restart")
    check((m.mapping_for(pa) or {}).get("enabled") is False, "mappings --json after restart")
    check(echo_roundtrip(pb, b"other", timeout=5), "the other mapping does not work after restart")

    rc, out, err = m.ctl("mapping", "enable", str(pa))
    check(rc == 0, "mapping enable failed: %s %s" % (out, err))
    check(echo_roundtrip(pa, b"back", timeout=5), "the enabled mapping does not relay")
    check((m.mapping_for(pa) or {}).get("enabled") is True, "mappings --json after enable")
    rc, out, err = m.ctl("mapping", "disable")
    check(rc != 0, "mapping disable without a port succeeded")
    if not c.proc.alive():
        fail("the client exited")
