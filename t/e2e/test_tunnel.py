# SPDX-License-Identifier: ISC
"""Data path: integrity, concurrency, half-close, ssh, port assignment, back-pressure."""

import hashlib
import os
import queue
import re
import socket
import subprocess
import threading
import time

import lib
from lib import (Proc, check, check_tunnel, connect, socket_report, echo_handler, echo_roundtrip, fail,
                 free_port, port_accepts, read_until_close, recv_exact, rnd_bytes,
                 run_cmd, sha256, test, wait_until)

MiB = 1 << 20


def drain_count(c, h=None, limit=None):
    """Read c until EOF; returns the byte count (and feeds h if given)."""
    n = 0
    while True:
        d = c.recv(MiB)
        if not d:
            return n
        n += len(d)
        if h is not None:
            h.update(d)
        if limit is not None and n > limit:
            raise AssertionError("more than %d bytes" % limit)


@test(timeout=240)
def test_sha256_64mib_both_ways(env):
    size = 64 * MiB
    data = rnd_bytes(size, 64)
    want = sha256(data)

    def sink(c, a):
        h = hashlib.sha256()
        n = drain_count(c, h)
        c.sendall(("%s %d\n" % (h.hexdigest(), n)).encode())
        c.shutdown(socket.SHUT_WR)
        drain_count(c)

    def source(c, a):
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        drain_count(c)

    up, down = env.service(sink), env.service(source)
    m = env.master()
    pu, pd = env.ports[0], env.ports[1]
    env.client(m, [{"name": "up", "local_port": up.port, "remote_port": pu},
                   {"name": "down", "local_port": down.port, "remote_port": pd}])

    # Upload: public side -> client's local sink.
    t0 = time.monotonic()
    s = env.sock(connect(pu, timeout=120))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    reply, closed, _ = read_until_close(s, 120)
    dt_up = time.monotonic() - t0
    check(closed == "eof", "upload: reply not followed by a clean EOF (%s)" % closed)
    parts = reply.decode(errors="replace").split()
    check(len(parts) == 2, "upload: sink reply %r (the sink got no EOF, or the reply was lost)" % reply[:200])
    check(int(parts[1]) == size, "upload: sink received %s bytes, sent %d" % (parts[1], size))
    check(parts[0] == want, "upload: sha256 differs: sent %s, sink got %s" % (want, parts[0]))

    # Download: client's local source -> public side.
    t0 = time.monotonic()
    s = env.sock(connect(pd, timeout=120))
    h = hashlib.sha256()
    s.settimeout(120)
    n = drain_count(s, h, limit=size + MiB)
    dt_down = time.monotonic() - t0
    check(n == size, "download: received %d bytes, source sent %d" % (n, size))
    check(h.hexdigest() == want, "download: sha256 differs: source %s, received %s" % (want, h.hexdigest()))
    check(not up.errors and not down.errors, "service errors: %r" % (up.errors + down.errors))
    env.note("up %.0f MiB/s, down %.0f MiB/s" % (64 / dt_up, 64 / dt_down))


@test(timeout=180)
def test_200_concurrent_connections(env):
    n = 200
    counts = {"in": 0, "out": 0, "conns": 0}
    clock = threading.Lock()

    def counting_echo(c, a):
        with clock:
            counts["conns"] += 1
        while True:
            d = c.recv(65536)
            if not d:
                break
            with clock:
                counts["in"] += len(d)
            c.sendall(d)
            with clock:
                counts["out"] += len(d)
        c.shutdown(socket.SHUT_WR)
    svc = env.service(counting_echo)
    sent = [0]
    m = env.master()
    p = env.ports[0]
    env.client(m, [{"name": "echo", "local_port": svc.port, "remote_port": p}])
    barrier = threading.Barrier(n + 1, timeout=90)
    errors = []
    done = []
    lock = threading.Lock()

    t_start = time.monotonic()
    report = []

    def one(i):
        s = None
        where = "?"
        try:
            s = connect(p, timeout=60)
            s.settimeout(20)       # a stalled relay shows up in 20 s, not 60
            where = "127.0.0.1:%d" % s.getsockname()[1]
            payload = ("conn %03d|" % i).encode() + rnd_bytes(8192 + i * 37, 1000 + i)
            s.sendall(payload)
            with lock:
                sent[0] += len(payload)
            got = recv_exact(s, len(payload))
            if got != payload:
                raise AssertionError("conn %d: echoed data differs (first bytes %r)" % (i, got[:120]))
            barrier.wait()     # all n are open and verified at the same time
            where += " second exchange"
            # a second exchange while all the others are still open
            s.sendall(payload[::-1])
            with lock:
                sent[0] += len(payload)
            got = recv_exact(s, len(payload))
            if got != payload[::-1]:
                raise AssertionError("conn %d: second echo differs" % i)
            with lock:
                done.append(i)
        except threading.BrokenBarrierError:
            with lock:
                errors.append("conn %d: barrier broken (some connection failed or hung)" % i)
        except Exception as e:  # noqa: BLE001
            first = False
            with lock:
                errors.append("conn %d (%s, %.1fs after start): %r" % (i, where, time.monotonic() - t_start, e))
                first = len(errors) == 1
            if first:      # where do the bytes wait? (before anything is closed)
                report.extend(socket_report([p, m.port, svc.port]))
                with clock:
                    report.append("local echo service: %d accepted, %d handled, %d bytes in, %d echoed; "
                                  "public side sent %d" % (svc.accepted, counts["conns"], counts["in"],
                                                           counts["out"], sent[0]))
            barrier.abort()
        finally:
            if s:
                s.close()

    ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    try:
        barrier.wait()
        live = svc.accepted
    except threading.BrokenBarrierError:
        live = svc.accepted
    deadline = time.monotonic() + 120
    for t in ts:
        t.join(timeout=max(0.1, deadline - time.monotonic()))
    real = [e for e in errors if "barrier broken" not in e]
    check(not errors, "%d of %d connections failed; first: %s\n  sockets holding bytes at the first failure:\n    %s"
          % (len(errors), n, "; ".join((real or errors)[:5]), "\n    ".join(report)))
    check(len(done) == n, "only %d of %d connections finished" % (len(done), n))
    check(live >= n, "local service saw only %d connections while %d were open" % (live, n))


@test(timeout=90)
def test_half_close_both_ways(env):
    body = rnd_bytes(2 * MiB, 7)
    got2 = queue.Queue()

    def reply_after_eof(c, a):
        # Only answers once it has seen EOF from the public side.
        h = hashlib.sha256()
        n = drain_count(c, h)
        c.sendall(("after eof: %d %s" % (n, h.hexdigest())).encode())
        c.shutdown(socket.SHUT_WR)

    def banner_then_fin(c, a):
        c.sendall(b"banner, then FIN from the local side")
        c.shutdown(socket.SHUT_WR)
        buf = bytearray()
        while True:
            d = c.recv(65536)
            if not d:
                break
            buf += d
        got2.put(bytes(buf))

    s1, s2 = env.service(reply_after_eof), env.service(banner_then_fin)
    m = env.master()
    p1, p2 = env.ports[0], env.ports[1]
    env.client(m, [{"name": "hc1", "local_port": s1.port, "remote_port": p1},
                   {"name": "hc2", "local_port": s2.port, "remote_port": p2}])

    # 1. public side shuts down its write side; the local service sees EOF and still answers.
    s = env.sock(connect(p1, timeout=30))
    s.sendall(body)
    s.shutdown(socket.SHUT_WR)
    reply, closed, dt = read_until_close(s, 30)
    want = ("after eof: %d %s" % (len(body), sha256(body))).encode()
    check(reply == want, "public->local half-close: got %r, want %r (closed=%s after %.1fs)" % (reply[:120], want, closed, dt))
    check(closed == "eof", "public->local half-close: connection ended with %s, not EOF" % closed)

    # 2. the local service shuts down its write side; the public side sees EOF and can still send.
    s = env.sock(connect(p2, timeout=30))
    s.settimeout(15)
    buf = bytearray()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 15:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            fail("local->public half-close: public side got a reset instead of EOF")
        if not d:
            break
        buf += d
    else:
        fail("local->public half-close: no EOF within 15s")
    check(bytes(buf) == b"banner, then FIN from the local side",
          "local->public half-close: public side got %r before EOF" % bytes(buf)[:100])
    answer = rnd_bytes(300000, 9)
    try:
        s.sendall(answer)
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        fail("local->public half-close: public side could not send after EOF: %r" % e)
    try:
        got = got2.get(timeout=15)
    except queue.Empty:
        fail("local->public half-close: local service never saw the public side's data + EOF")
    check(got == answer, "local->public half-close: local service got %d bytes, want %d (data after EOF lost?)" % (len(got), len(answer)))
    _, closed, _ = read_until_close(s, 10)
    check(closed, "local->public half-close: connection not closed after both sides finished")


@test(timeout=90)
def test_ssh_through_tunnel(env):
    sshd = "/usr/sbin/sshd"
    check(os.access(sshd, os.X_OK), "%s missing: `make deps` installs openssh-server" % sshd)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    d = env.dir
    for k in ("hostkey", "userkey"):
        rc, out, err = run_cmd(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(d, k)])
        check(rc == 0, "ssh-keygen failed: %s" % err)
    with open(os.path.join(d, "userkey.pub")) as f, open(os.path.join(d, "authorized_keys"), "w") as g:
        g.write(f.read())
    cfg = os.path.join(d, "sshd_config")
    with open(cfg, "w") as f:
        f.write("\n".join([
            "ListenAddress 127.0.0.1",
            "HostKey %s/hostkey" % d,
            "PidFile %s/sshd.pid" % d,
            "AuthorizedKeysFile %s/authorized_keys" % d,
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "LogLevel VERBOSE", ""]))
    for attempt in range(3):
        sport = free_port()
        sp = Proc("sshd", [sshd, "-D", "-e", "-f", cfg, "-p", str(sport)], os.path.join(d, "sshd.log"))
        env.procs.append(sp)
        try:
            wait_until(lambda: sp.alive() and port_accepts(sport), 10, "sshd to listen")
            break
        except AssertionError:
            sp.close()
            if attempt == 2:
                raise
    m = env.master()
    p = env.ports[0]
    env.client(m, [{"name": "ssh", "local_port": sport, "remote_port": p}])
    base = ["ssh", "-p", str(p), "-i", os.path.join(d, "userkey"), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
            "root@127.0.0.1"]
    rc, out, err = run_cmd(base + ["echo", "hello"], timeout=30)
    check(rc == 0 and out.strip() == "hello", "ssh echo hello: exit %d, out %r, err %r" % (rc, out, err.strip()[-300:]))
    # a few MiB each way through the same ssh session
    blob = rnd_bytes(3 * MiB, 22)
    r = subprocess.run(base + ["sha256sum; head -c 2000000 /dev/zero | sha256sum"], input=blob,
                       capture_output=True, timeout=60)
    lines = r.stdout.decode().split("\n")
    zero = hashlib.sha256(b"\0" * 2000000).hexdigest()
    check(r.returncode == 0 and len(lines) >= 2 and lines[0].split()[:1] == [sha256(blob)]
          and lines[1].split()[:1] == [zero],
          "ssh bulk transfer: exit %d, out %r, err %r" % (r.returncode, r.stdout[:200], r.stderr[-300:]))


@test(timeout=60)
def test_remote_port_zero_assigned(env):
    svc = env.service(echo_handler)
    allowed = env.ports[:3]
    m = env.master(allow_ports=",".join(str(p) for p in allowed))
    c = env.client(m, [{"name": "auto", "local_port": svc.port, "remote_port": 0}], wait=False)
    got = c.wait_registered()
    rp = got.get("auto")
    check(isinstance(rp, int) and rp in allowed, "assigned remote_port %r is not one of allow_ports %r" % (rp, allowed))
    maps = [x for x in m.mappings() if x.get("remote_port") == rp]
    check(len(maps) == 1 and maps[0].get("local_port") == svc.port,
          "mappings --json entry for %d: %r" % (rp, maps))
    check(echo_roundtrip(rp, os.urandom(5000)), "no echo through the assigned port")
    check(re.search(r"\b%d\b" % rp, c.proc.log()), "client log does not mention the assigned port %d" % rp)


@test(timeout=60)
def test_local_service_down_refuses_one_connection(env):
    svc = env.service(echo_handler)
    dead = free_port()   # nothing listens here
    m = env.master()
    pd, pe = env.ports[0], env.ports[1]
    c = env.client(m, [{"name": "dead", "local_port": dead, "remote_port": pd},
                       {"name": "echo", "local_port": svc.port, "remote_port": pe}])
    for i in range(3):
        s = env.sock(connect(pd, timeout=10))
        s.sendall(b"anyone there?")
        data, closed, dt = read_until_close(s, 10)
        check(closed, "public connection to a mapping whose local service is down stayed open for 10s")
        check(data == b"", "got data %r from a dead local service" % data[:50])
    check(echo_roundtrip(pe), "the other mapping stopped working after the dead local service")
    check(c.proc.alive(), "client exited")
    names = {x.get("name") for x in c.my_mappings()}
    check(names == {"dead", "echo"}, "mappings after refused connections: %r" % names)


def vm_rss_kib(pid):
    return lib.proc_status(pid, "VmRSS")


@test(timeout=150)
def test_backpressure_bounded(env):
    """A receiver that stops reading must not make the relays buffer without bound."""
    total = 192 * MiB
    stall_limit = 96 * MiB
    chunk = rnd_bytes(MiB, 5)
    sent_down = [0]
    up_count = queue.Queue()
    release_up = threading.Event()

    def source(c, a):
        while sent_down[0] < total:
            c.sendall(chunk)
            sent_down[0] += len(chunk)
        c.shutdown(socket.SHUT_WR)

    def lazy_sink(c, a):
        release_up.wait(60)
        up_count.put(drain_count(c))

    src, sink = env.service(source), env.service(lazy_sink)
    m = env.master(workers=1)
    pd, pu = env.ports[0], env.ports[1]
    cl = env.client(m, [{"name": "down", "local_port": src.port, "remote_port": pd},
                        {"name": "up", "local_port": sink.port, "remote_port": pu}])
    pids = m.worker_pids() + [cl.proc.pid]
    rss0 = {p: vm_rss_kib(p) for p in pids}

    # Download direction: public reader does not read for 6 s.
    s = env.sock(connect(pd, timeout=60))
    time.sleep(6)
    stalled = sent_down[0]
    rss1 = {p: vm_rss_kib(p) for p in pids}
    s.settimeout(60)
    n = drain_count(s, limit=total + MiB)
    check(stalled <= stall_limit,
          "download: local source could push %d MiB while the public reader did not read (bound %d MiB)"
          % (stalled // MiB, stall_limit // MiB))
    check(n == total, "download: public side received %d bytes after resuming, source sent %d" % (n, total))

    # Upload direction: local sink does not read for 6 s.
    u = env.sock(connect(pu, timeout=60))
    u.settimeout(0.2)
    sent = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 6 and sent < total:
        try:
            sent += u.send(chunk)
        except socket.timeout:
            pass
    rss2 = {p: vm_rss_kib(p) for p in pids}
    release_up.set()
    check(sent <= stall_limit, "upload: public side could push %d MiB while the local sink did not read (bound %d MiB)"
          % (sent // MiB, stall_limit // MiB))
    u.settimeout(60)
    u.shutdown(socket.SHUT_WR)
    try:
        got = up_count.get(timeout=60)
    except queue.Empty:
        fail("upload: local sink never saw EOF after resuming")
    check(got == sent, "upload: sink received %d bytes, public side sent %d" % (got, sent))
    grow = max(max(rss1[p], rss2[p]) - rss0[p] for p in pids) // 1024
    check(grow < 200, "a gotunnel process grew by %d MiB of RSS while a receiver stalled" % grow)
    env.note("stalled down %d MiB, up %d MiB, max RSS growth %d MiB" % (stalled // MiB, sent // MiB, grow))


@test(timeout=60)
def test_max_conns_per_mapping(env):
    svc = env.service(echo_handler)
    m = env.master(max_conns_per_mapping=3)
    p = env.ports[0]
    env.client(m, [{"name": "echo", "local_port": svc.port, "remote_port": p}])
    held = []
    for i in range(3):
        s = env.sock(connect(p, timeout=10))
        s.sendall(b"x%d" % i)
        check(recv_exact(s, 2) == b"x%d" % i, "connection %d of 3 did not echo" % i)
        held.append(s)
    s = env.sock(connect(p, timeout=10))
    try:
        s.sendall(b"over")
    except OSError:
        pass
    data, closed, _ = read_until_close(s, 5)
    check(closed and data == b"", "a 4th connection with max_conns_per_mapping=3 was served (%r, %s)" % (data, closed))
    held.pop().close()

    def fourth_ok():
        return echo_roundtrip(p, b"again", timeout=3)
    wait_until(fourth_ok, 5, "a new connection to work after one of 3 closed")
    for s in held:
        s.sendall(b"still")
        check(recv_exact(s, 5) == b"still", "a held connection broke")


@test(timeout=60)
def test_proxy_bind_addr_used(env):
    """Public ports listen on proxy_bind_addr, not on bind_addr."""
    svc = env.service(echo_handler)
    m = env.master(proxy_bind_addr="127.0.0.3")
    p = env.ports[0]
    env.client(m, [{"name": "echo", "local_port": svc.port, "remote_port": p}])
    s = env.sock(connect(p, host="127.0.0.3", timeout=5))
    s.sendall(b"via 127.0.0.3")
    check(recv_exact(s, 13) == b"via 127.0.0.3", "no echo through 127.0.0.3:%d" % p)
    check(not port_accepts(p, host="127.0.0.1"), "public port %d also listens on 127.0.0.1 (bind_addr)" % p)


@test(timeout=60)
def test_local_ip_honored(env):
    """local_ip of a mapping is where the client dials (a service only on 127.0.0.5)."""
    from lib import Service
    svc = Service(echo_handler, host="127.0.0.5")
    env.services.append(svc)
    m = env.master()
    p = env.ports[0]
    env.client(m, [{"name": "five", "local_ip": "127.0.0.5", "local_port": svc.port, "remote_port": p}])
    check_tunnel(p, "mapping to 127.0.0.5")
    mp = m.mapping_for(p)
    check(mp and mp.get("local_ip") == "127.0.0.5", "mappings --json local_ip: %r" % mp)


@test(timeout=90)
def test_many_clients_across_workers(env):
    """30 sessions (python clients) spread over 3 workers, all tunnels working at once."""
    import threading
    from lib import free_port
    n = 30
    ports = [free_port() for _ in range(n)]
    svc = env.service(echo_handler)
    m = env.master(workers=3, allow_ports=",".join(str(x) for x in ports))
    pcs = []
    for i, port in enumerate(ports):
        pc = env.pyclient(m)
        r = pc.register(m.token, svc.port, port, name="many%02d" % i, pool_count=2)
        check(r.get("status") == "ok", "client %d: %r" % (i, r))
        pcs.append(pc)
    workers = {x.get("worker_pid") for x in m.clients()}
    errors = []

    def run(port):
        for _ in range(3):
            try:
                echo_roundtrip(port, os.urandom(2000), timeout=10)
            except Exception as e:  # noqa: BLE001
                errors.append("port %d: %r" % (port, e))
    ts = [threading.Thread(target=run, args=(port,), daemon=True) for port in ports]
    for t in ts:
        t.start()
    deadline = time.monotonic() + 60
    for t in ts:
        t.join(max(0.1, deadline - time.monotonic()))
    check(not errors, "%d failures: %s" % (len(errors), "; ".join(errors[:5])))
    check(len(m.mappings()) == n, "mappings --json has %d entries, want %d" % (len(m.mappings()), n))
    env.note("sessions on %d workers" % len(workers))


@test(timeout=60)
def test_public_conn_without_data_conn_is_closed(env):
    """A client that never opens data connections must not pin public connections forever."""
    svc = env.service(echo_handler)
    m = env.master()
    p = env.ports[0]
    pc = env.pyclient(m)
    pc._data = lambda data_id: None          # ignore open_data
    r = pc.register(m.token, svc.port, p, name="nodata")
    check(r.get("status") == "ok", "register: %r" % r)
    s = env.sock(connect(p, timeout=5))
    s.sendall(b"hello?")
    data, closed, dt = read_until_close(s, 20)
    check(closed, "a public connection waited 20s for a data connection that never came")
    check(data == b"", "got %r" % data[:50])
    env.note("closed after %.1fs" % dt)


@test(timeout=60)
def test_conn_accounting(env):
    """mappings --json counts live and total connections and bytes each way; RSTs are cleaned up."""
    import struct as st

    def double(c, a):
        n = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            n += len(d)
        c.sendall(b"y" * (2 * n))
        c.shutdown(socket.SHUT_WR)

    svc = env.service(double)
    m = env.master()
    p = env.ports[0]
    env.client(m, [{"name": "acct", "local_port": svc.port, "remote_port": p}])
    held = []
    for i in range(5):
        held.append(env.sock(connect(p, timeout=5)))
    wait_until(lambda: (m.mapping_for(p) or {}).get("live_conns") == 5, 5, "live_conns to reach 5")
    try:
        wait_until(lambda: svc.accepted >= 5, 5, "the local service to see 5 connections")
    except AssertionError as e:
        fail("%s (it saw %d)" % (e, svc.accepted))
    # close 3 with a RST (no bytes either way), 2 normally after one byte each
    for s in held[:3]:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, st.pack("ii", 1, 0))
        s.close()
    for s in held[3:]:
        s.sendall(b"z")
        s.shutdown(socket.SHUT_WR)
        data, closed, _ = read_until_close(s, 5)
        check(data == b"yy" and closed, "half-closed conn got %r" % data)
    total_in = 2
    for n in (1000, 20000):
        s = env.sock(connect(p, timeout=5))
        s.sendall(b"x" * n)
        s.shutdown(socket.SHUT_WR)
        data, closed, _ = read_until_close(s, 5)
        check(len(data) == 2 * n, "got %d bytes, want %d" % (len(data), 2 * n))
        total_in += n
    want = {"live_conns": 0, "total_conns": 7, "bytes_in": total_in, "bytes_out": 2 * total_in}

    def counted():
        mp = m.mapping_for(p) or {}
        return all(mp.get(k) == v for k, v in want.items()) and mp
    try:
        wait_until(counted, 8, "mappings --json counters %r" % want)
    except AssertionError as e:
        mp = m.mapping_for(p) or {}
        fail("%s; got %r" % (e, {k: mp.get(k) for k in want}))
    check(svc.accepted >= 7, "local service saw %d connections, want 7" % svc.accepted)


@test(timeout=60)
def test_client_sigkill_mid_transfer(env):
    """Public connections of a client that dies are closed, not left hanging."""
    big = rnd_bytes(MiB, 3)

    def endless(c, a):
        for _ in range(512):
            c.sendall(big)

    svc = env.service(endless)
    hb = 3
    m = env.master(heartbeat_timeout=hb)
    p = env.ports[0]
    c = env.client(m, [{"name": "big", "local_port": svc.port, "remote_port": p}])
    s = env.sock(connect(p, timeout=5))
    check(len(recv_exact(s, 65536)) == 65536, "no data")
    c.proc.kill9()
    t0 = time.monotonic()
    s.settimeout(hb + 5)
    got = 0
    try:
        while time.monotonic() - t0 < hb + 5:
            d = s.recv(MiB)
            if not d:
                break
            got += len(d)
        else:
            fail("public connection still open %.0fs after the client was killed" % (hb + 5))
    except ConnectionResetError:
        pass
    except socket.timeout:
        fail("public connection hangs (no data, no close) after the client was killed")
    env.note("closed %.1fs after the kill" % (time.monotonic() - t0))
