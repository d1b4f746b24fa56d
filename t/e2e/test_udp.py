# SPDX-License-Identifier: ISC
"""UDP mappings: datagrams of mixed sizes up to 65,507 bytes from two source
addresses, each answered to its own source and never merged or split; flows
that expire after udp_idle_timeout; the same over TLS; a garbage record from
a fake client's data connection refused while the master keeps serving."""

import os
import random
import socket
import struct
import threading
import time

import lib
from lib import LOCAL, Service, check, fail, test, wait_until

MAX_DGRAM = 65507


class UdpEcho:
    """A UDP echo service on 127.0.0.1 that remembers the sources it saw."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((LOCAL, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.sources = []         # in order of first datagram
        self.count = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop.is_set():
            try:
                d, a = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if a not in self.sources:
                self.sources.append(a)
            self.count += 1
            try:
                self.sock.sendto(d, a)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def udp_env(env, **master_kw):
    """A master, a UDP echo and a client publishing it: (master, client, echo, port)."""
    echo = UdpEcho()
    env.services.append(echo)
    m = env.master(**master_kw)
    port = env.ports[0]
    c = env.client(m, [{"name": "dns", "local_port": echo.port, "remote_port": port,
                        "extra": {"type": "udp"}}])
    return m, c, echo, port


def src_socket(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((src, 0))
    s.settimeout(20)
    return s


def sizes(n, seed):
    """n sizes from 0 to 65,507: the edges, then a mix of small and large."""
    r = random.Random(seed)
    out = [0, 1, 2, 1400, MAX_DGRAM - 1, MAX_DGRAM]
    while len(out) < n:
        out.append(r.choice((r.randint(1, 512), r.randint(512, 9000),
                             r.randint(9000, MAX_DGRAM))))
    r.shuffle(out)
    return out


def exchange(sock, port, tag, n, seed, errors, stats):
    """Sends n datagrams one at a time and checks each reply is the same datagram."""
    r = random.Random(seed)
    try:
        for i, size in enumerate(sizes(n, seed)):
            # Each datagram names its source and number, so a reply that went to
            # the wrong source, or two datagrams merged or split, cannot match.
            head = struct.pack("!4sI", tag, i)[:size]
            d = head + r.randbytes(size - len(head))
            sock.sendto(d, (LOCAL, port))
            got, a = sock.recvfrom(65536)
            if got != d:
                errors.append("%s #%d: sent %d bytes, got %d back (%s)" % (
                    tag.decode(), i, len(d), len(got),
                    "same size, other bytes" if len(got) == len(d) else "size differs"))
                return
            stats[tag] = stats.get(tag, 0) + 1
            stats["bytes"] = stats.get("bytes", 0) + size
    except OSError as e:
        errors.append("%s: %r after %d datagrams" % (tag.decode(), e, stats.get(tag, 0)))


def echo_two_sources(env):
    """1,000 datagrams, 500 from 127.0.0.2 and 500 from 127.0.0.3, all through."""
    m, c, echo, port = udp_env(env)
    errors, stats, threads = [], {}, []
    for src, tag, seed in (("127.0.0.2", b"src2", 2), ("127.0.0.3", b"src3", 3)):
        s = env.sock(src_socket(src))
        t = threading.Thread(target=exchange, args=(s, port, tag, 500, seed, errors, stats), daemon=True)
        threads.append(t)
        t.start()
    for t in threads:
        t.join(300)
    check(not errors, "; ".join(errors[:5]))
    check(stats.get(b"src2") == 500 and stats.get(b"src3") == 500,
          "not every datagram came back: %r" % stats)
    # Two public sources are two flows: the service saw two client sockets.
    check(len(echo.sources) == 2, "the local service saw %d sources, not 2: %r" % (len(echo.sources), echo.sources))
    check(echo.count == 1000, "the local service got %d datagrams, not 1000" % echo.count)
    mp = m.mapping_for(port)
    check(mp is not None and mp.get("type") == "udp", "mappings --json shows no type udp: %r" % mp)
    rc, out, err = m.ctl("mappings")
    check(rc == 0 and any(str(port) in l and " udp " in l for l in out.splitlines()),
          "gotunnelctl mappings shows no udp row for %d: %r" % (port, out))
    mp = wait_until(lambda: (lambda x: x if x and x.get("total_conns") == 2 and
                             x.get("bytes_in", 0) >= stats["bytes"] else None)(m.mapping_for(port)),
                    15, "the mapping to count 2 flows and every byte")
    rc, out, err = m.ctl("stats")
    check(rc == 0 and "gotunnel_udp_datagrams_dropped_total 0" in out,
          "datagrams were dropped: %r" % [l for l in out.splitlines() if "udp" in l])
    check('gotunnel_mapping_bytes_in_total{port="%d",type="udp",' % port in out,
          "per-mapping metrics not labelled type=udp: %r" % [l for l in out.splitlines() if "mapping_bytes_in" in l])
    env.note("%d datagrams, %.1f MiB each way, sizes 0..%d" % (
        stats[b"src2"] + stats[b"src3"], stats["bytes"] / 1048576.0, MAX_DGRAM))


@test(timeout=300)
def test_udp_echo_1000_datagrams_two_sources(env):
    echo_two_sources(env)


@test(timeout=300)
def test_tls_udp_echo_1000_datagrams_two_sources(env):
    env.enable_tls()
    echo_two_sources(env)
    log = env.masters[0].proc.log()
    check("(TLS)" in log, "master log shows no TLS control connection")
    check("wrong worker" not in log, "a TLS data connection reached the wrong worker")


def live_flows(m, port):
    mp = m.mapping_for(port)
    return mp.get("live_conns") if mp else None


@test(timeout=120)
def test_udp_flow_expires_after_idle_timeout(env):
    """udp_idle_timeout = 3s: a busy flow stays, an idle one ends on both sides."""
    m, c, echo, port = udp_env(env, udp_idle_timeout="3s")
    s = env.sock(src_socket("127.0.0.2"))
    # Busy for 6 s (twice the timeout, a datagram every 0.1 s): one flow, one
    # client socket throughout.
    t_end = time.monotonic() + 6
    n = 0
    while time.monotonic() < t_end:
        s.sendto(b"ping%d" % n, (LOCAL, port))
        check(s.recvfrom(65536)[0] == b"ping%d" % n, "busy flow: wrong reply")
        n += 1
        time.sleep(0.1)
    check(len(echo.sources) == 1, "a busy flow was replaced (sources %r)" % echo.sources)
    wait_until(lambda: live_flows(m, port) == 1, 10, "the flow to show as live")
    # Idle: the master ends it, and the client follows (its socket closes).
    wait_until(lambda: live_flows(m, port) == 0, 20, "the idle flow to expire")
    wait_until(lambda: "closed by the server" in c.proc.log(), 10, "the client to end its flow")
    check("closed: idle" in m.proc.log(), "master log does not say the flow ended idle")
    # The next datagram from the same source starts a new flow (a new client socket).
    s.sendto(b"again", (LOCAL, port))
    check(s.recvfrom(65536)[0] == b"again", "no reply after the flow expired")
    check(len(echo.sources) == 2, "no new flow after expiry (sources %r)" % echo.sources)
    env.note("%d datagrams while busy" % n)


@test(timeout=90)
def test_udp_garbage_record_from_fake_client(env):
    """A fake client's data connection returns a record longer than 65,507
    bytes: that flow is closed, the master keeps serving everyone."""
    echo = UdpEcho()
    env.services.append(echo)
    m = env.master()
    pids = m.worker_pids()
    good, bad = env.ports[0], env.ports[1]
    env.client(m, [{"name": "dns", "local_port": echo.port, "remote_port": good,
                    "extra": {"type": "udp"}}])
    seen = []

    def evil(c, a):
        # The python client relays our bytes to the master's flow: read the
        # first record the master framed, then answer with a bad length.
        c.settimeout(10)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
            d = c.recv(65536)
            if not d:
                return
            buf += d
        seen.append(buf)
        c.sendall(b"\xff\xff" + b"x" * 100)
        try:
            c.recv(1)
        except OSError:
            pass
    svc = Service(evil)
    env.services.append(svc)
    pc = env.pyclient(m)
    r = pc.register(m.token, svc.port, bad, name="fake", protocol="udp")
    check(r.get("status") == "ok", "register of protocol udp refused: %r" % r)
    s = env.sock(src_socket("127.0.0.2"))
    s.sendto(b"hello", (LOCAL, bad))
    wait_until(lambda: seen, 15, "the fake client's service to get a record")
    check(seen[0] == b"\x00\x05hello", "record on the data connection is %r, not 2-byte length + datagram" % seen[0][:20])
    starts = [x for x in pc.starts if x.get("protocol") == "udp"]
    check(starts and starts[0].get("remote_port") == bad and starts[0].get("peer", "").startswith("127.0.0.2:"),
          "start message without protocol udp, port or peer: %r" % pc.starts)
    wait_until(lambda: "record of 65535 bytes" in m.proc.log(), 15, "the master to refuse the bad record")
    wait_until(lambda: live_flows(m, bad) == 0, 15, "the bad flow to be closed")
    # Everyone else is still served: the real client's UDP mapping, and the fake
    # client's control session.
    g = env.sock(src_socket("127.0.0.3"))
    for i in range(20):
        g.sendto(b"ok%d" % i, (LOCAL, good))
        check(g.recvfrom(65536)[0] == b"ok%d" % i, "good mapping broken after the bad record")
    check(not pc.closed.is_set(), "the fake client's control session was dropped")
    check(m.proc.alive(), "master died")
    check(m.worker_pids() == pids, "a worker was restarted: %r -> %r" % (pids, m.worker_pids()))


class NoDataPyClient(lib.PyClient):
    """A client that registers but never opens the data connections asked for."""

    def _data(self, data_id):
        return


def dropped(m, reason):
    rc, out, err = m.ctl("stats")
    check(rc == 0, "gotunnelctl stats failed: %s" % err)
    key = 'gotunnel_udp_datagrams_dropped_total{reason="%s"} ' % reason
    for line in out.splitlines():
        if line.startswith(key):
            return int(line.split()[-1])
    return 0


@test(timeout=120)
def test_udp_flow_without_data_connection_queues_then_drops(env):
    """A client that never opens data connections: each flow queues 64
    datagrams, drops the rest (queue_full), and after 10 s drops its queue
    (no_data_connection); other mappings' flows go on meanwhile."""
    echo = UdpEcho()
    env.services.append(echo)
    # What is tested is the 10 s wait for a data connection, not heartbeats:
    # a long heartbeat_timeout keeps a stall of the machine (seen: ~5 s, every
    # process at once) from ending the sessions before that wait fires.
    m = env.master(heartbeat_timeout=60)
    good, stuck = env.ports[0], env.ports[1]
    env.client(m, [{"name": "dns", "local_port": echo.port, "remote_port": good,
                    "extra": {"type": "udp"}}])
    pc = NoDataPyClient(m.port)
    env.pyclients.append(pc)
    r = pc.register(m.token, echo.port, stuck, name="nodata", protocol="udp")
    check(r.get("status") == "ok", "register of protocol udp refused: %r" % r)
    a = env.sock(src_socket("127.0.0.2"))
    b = env.sock(src_socket("127.0.0.3"))
    for i in range(100):
        a.sendto(b"a%03d" % i, (LOCAL, stuck))
        time.sleep(0.002)
    for i in range(5):
        b.sendto(b"b%03d" % i, (LOCAL, stuck))
    # Other flows are not held up by the stuck ones.
    g = env.sock(src_socket("127.0.0.4"))
    for i in range(20):
        g.sendto(b"g%d" % i, (LOCAL, good))
        check(g.recvfrom(65536)[0] == b"g%d" % i, "a good flow was held up by a stuck one")
    wait_until(lambda: dropped(m, "queue_full") == 36, 15, "36 datagrams counted as queue_full")
    wait_until(lambda: (m.mapping_for(stuck) or {}).get("total_conns") == 2, 10,
               "two flows (one per source) on the stuck mapping")
    # After the 10 s wait for a data connection, the queued 64 + 5 go.
    wait_until(lambda: dropped(m, "no_data_connection") == 69, 30,
               "69 datagrams counted as no_data_connection")
    wait_until(lambda: live_flows(m, stuck) == 0, 10, "the stuck flows to be closed")
    check(dropped(m, "queue_full") == 36, "more queue_full drops than datagrams over the bound")
    check(echo.count == 20, "the local service got %d datagrams, not the 20 of the good flow" % echo.count)
    check(pc.data_ids, "the master asked for no data connection")


@test(timeout=60)
def test_udp_source_acl(env):
    """deny_cidrs on a udp mapping: a denied source starts no flow (its
    datagrams are dropped and counted), an allowed one is answered."""
    echo = UdpEcho()
    env.services.append(echo)
    m = env.master()
    port = env.ports[0]
    env.client(m, [{"name": "dns", "local_port": echo.port, "remote_port": port,
                    "extra": {"type": "udp", "deny_cidrs": "127.0.0.3"}}])
    bad = env.sock(src_socket("127.0.0.3"))
    bad.sendto(b"let me in", (LOCAL, port))
    wait_until(lambda: dropped(m, "refused") >= 1, 15, "the denied datagram to be counted as refused")
    good = env.sock(src_socket("127.0.0.2"))
    good.sendto(b"hello", (LOCAL, port))
    check(good.recvfrom(65536)[0] == b"hello", "an allowed source got no reply")
    check(echo.count == 1 and len(echo.sources) == 1,
          "the denied datagram reached the local service (%d datagrams)" % echo.count)
