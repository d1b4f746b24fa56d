# SPDX-License-Identifier: ISC
"""TLS on control and data connections: pinning, CA trust, mutual TLS,
refusals with clear errors, no clear-text fallback, and the data-path tests
of test_tunnel.py run again over TLS."""

import os
import socket
import struct
import threading
import time

import lib
from lib import (CTL, MASTER, check, connect, echo_roundtrip, fail, make_ca, make_cert, read_until_close,
                 run_cmd, test, wait_until)
import test_limits
import test_tunnel


def tls_variant(fn, timeout, asan_quarantine_mb=None):
    """Registers fn again as tls_NAME, with TLS masters and pinned clients.

    asan_quarantine_mb: OpenSSL frees its record buffers whenever they empty
    (SSL_MODE_RELEASE_BUFFERS, so idle connections hold none); under ASan
    every such free goes to the 256 MiB quarantine, which an RSS bound then
    measures instead of the relay.  The plain build shows 0 MiB of growth."""
    def run(env):
        env.enable_tls()
        old = os.environ.get("ASAN_OPTIONS")
        if asan_quarantine_mb is not None:
            os.environ["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:quarantine_size_mb=%d" % asan_quarantine_mb
            env.note("ASan quarantine %d MiB" % asan_quarantine_mb)
        try:
            fn(env)
        finally:
            if old is None:
                os.environ.pop("ASAN_OPTIONS", None)
            else:
                os.environ["ASAN_OPTIONS"] = old
        for m in env.masters:
            log = m.proc.log() if m.proc else ""
            check("(TLS)" in log, "master log shows no TLS control connection")
            check("wrong worker" not in log, "a TLS data connection reached the wrong worker")
    lib.TESTS.append(("tls_" + fn.__name__.replace("test_", "", 1), run, timeout))


for _fn, _limit in ((test_tunnel.test_sha256_64mib_both_ways, 240),
                    (test_tunnel.test_200_concurrent_connections, 180),
                    (test_tunnel.test_half_close_both_ways, 90),
                    (test_tunnel.test_ssh_through_tunnel, 90)):
    tls_variant(_fn, _limit)
tls_variant(test_tunnel.test_backpressure_bounded, 150, asan_quarantine_mb=16)
tls_variant(test_limits.test_bandwidth_limit_both_ways, 150)


def log_has(proc, text, timeout=10):
    return wait_until(lambda: text in proc.log(), timeout, "%r in %s" % (text, proc.log_path))


@test(timeout=60)
def test_tls_cert_init_and_pinned_fingerprint(env):
    """gotunnelctl cert init + fingerprint, then a pinned client forwards."""
    m = env.master(start=False, workers=2)
    m.write()
    rc, out, err = run_cmd([CTL, "-c", m.conf, "cert", "init", "--cn", "127.0.0.1"])
    check(rc == 0, "cert init: exit %d: %s" % (rc, err))
    fp_init = out.strip().splitlines()[-1]
    check(fp_init.startswith("sha256:") and len(fp_init) == 71, "cert init's last line is not a fingerprint: %r" % fp_init)
    cert, key = os.path.join(m.data_dir, "server.crt"), os.path.join(m.data_dir, "server.key")
    check(os.stat(key).st_mode & 0o077 == 0, "the key file is readable by others")
    rc, out, err = run_cmd([CTL, "-c", m.conf, "cert", "init"])
    check(rc != 0 and "exists" in err, "a second cert init replaced the key without --force")
    m.cfg.update({"tls_cert_file": cert, "tls_key_file": key})
    m.write()
    rc, out, err = run_cmd([CTL, "-c", m.conf, "fingerprint"])
    check(rc == 0 and out.strip() == fp_init, "fingerprint printed %r, cert init %r" % (out, fp_init))
    # The same pin computed from the DER by openssl.
    der = lib.subprocess.run(["openssl", "x509", "-in", cert, "-outform", "der"], capture_output=True).stdout
    check(fp_init == "sha256:" + lib.sha256(der), "fingerprint differs from sha256 of the DER")
    m.start()
    svc = env.service()
    c = env.client(m, [{"name": "e", "local_port": svc.port, "remote_port": env.ports[0]}],
                   server_fingerprint=fp_init)
    for i in range(20):		# several data connections: both workers' tickets
        check(echo_roundtrip(env.ports[0], b"tls %d" % i), "echo %d over TLS" % i)
    check("with TLSv1.3" in c.proc.log(), "client did not report TLS 1.3")


@test(timeout=60)
def test_tls_wrong_fingerprint_refused(env):
    env.enable_tls()
    m = env.master()
    bad = "sha256:" + "0" * 64
    c = env.client(m, [{"name": "e", "local_port": env.service().port, "remote_port": env.ports[0]}],
                   wait=False, server_fingerprint=bad)
    log_has(c.proc, "fingerprint mismatch")
    line = [l for l in c.proc.log().splitlines() if "fingerprint mismatch" in l][0]
    check(" error " in line and bad in line, "mismatch not logged at error level with the pin: %r" % line)
    # It retries with back-off, never in clear text and never registered.
    wait_until(lambda: c.proc.log().count("fingerprint mismatch") >= 2, 15, "a second attempt")
    check(m.mappings() == [], "a client with a wrong pin registered")
    check(c.proc.alive(), "client exited instead of retrying")
    check("accepts TLS connections only" not in c.proc.log(), "the client fell back to clear text")


@test(timeout=60)
def test_tls_plaintext_client_refused(env):
    cert, key, fp = env.enable_tls()
    m = env.master()
    # gotunnel-client without TLS settings.
    c = env.client(m, [{"name": "e", "local_port": env.service().port, "remote_port": env.ports[0]}],
                   wait=False, server_fingerprint="")
    log_has(c.proc, "accepts TLS connections only")
    check(m.mappings() == [], "a clear-text client registered on a TLS-only master")
    # A raw register frame gets the same clear error, then the close.
    s = env.sock(connect(m.port))
    s.sendall(lib.encode(lib.register_msg(m.token, 1, env.ports[1], "raw")))
    reply, closed, _ = read_until_close(s, 10)
    check(b"accepts TLS connections only" in reply and closed, "raw clear-text register got %r (%s)" % (reply[:200], closed))
    check(port_free(env.ports[1]), "the raw register published a port")


def port_free(p):
    return lib.port_refuses(p)


@test(timeout=60)
def test_tls_allow_plaintext_accepts_both(env):
    env.enable_tls()
    m = env.master(allow_plaintext="true")
    check("allow_plaintext = true" in m.proc.log(), "no warning about allow_plaintext at start")
    svc = env.service()
    env.client(m, [{"name": "t", "local_port": svc.port, "remote_port": env.ports[0]}])
    env.client(m, [{"name": "p", "local_port": svc.port, "remote_port": env.ports[1]}], server_fingerprint="")
    for p in env.ports[:2]:
        check(echo_roundtrip(p, b"both"), "echo through port %d" % p)


@test(timeout=60)
def test_tls_client_on_plain_master(env):
    m = env.master()
    cert, key, fp = make_cert(env.dir, "x", "127.0.0.1")
    c = env.client(m, [{"name": "e", "local_port": env.service().port, "remote_port": env.ports[0]}],
                   wait=False, server_fingerprint=fp)
    log_has(c.proc, "TLS handshake failed")
    log_has(m.proc, "TLS client, but this server has no tls_cert_file")
    check(m.mappings() == [], "registered without TLS")


@test(timeout=90)
def test_tls_trusted_ca_and_mutual_tls(env):
    ca = make_ca(env.dir, "ca")
    other_ca = make_ca(env.dir, "other")
    cert, key, _ = make_cert(env.dir, "srv", "127.0.0.1", ca=ca)
    ccert, ckey, _ = make_cert(env.dir, "cli", "client1", ca=ca)
    m = env.master(tls_cert_file=cert, tls_key_file=key)
    svc = env.service()
    # CA trust (chain + IP SAN) works; another CA is refused.
    env.client(m, [{"name": "a", "local_port": svc.port, "remote_port": env.ports[0]}],
               tls_trusted_ca_file=ca[0])
    check(echo_roundtrip(env.ports[0], b"ca"), "echo with CA trust")
    c = env.client(m, [{"name": "b", "local_port": svc.port, "remote_port": env.ports[1]}],
                   wait=False, tls_trusted_ca_file=other_ca[0])
    log_has(c.proc, "not trusted")
    # Mutual TLS: a client without a certificate is refused, one with a certificate works.
    m2 = env.master(tls_cert_file=cert, tls_key_file=key, tls_client_ca_file=ca[0])
    c = env.client(m2, [{"name": "n", "local_port": svc.port, "remote_port": env.ports[2]}],
                   wait=False, tls_trusted_ca_file=ca[0])
    log_has(m2.proc, "peer did not return a certificate")
    log_has(c.proc, "certificate required")
    check(m2.mappings() == [], "a client without a certificate registered with mutual TLS")
    env.client(m2, [{"name": "y", "local_port": svc.port, "remote_port": env.ports[3]}],
               tls_trusted_ca_file=ca[0], tls_cert_file=ccert, tls_key_file=ckey)
    check(echo_roundtrip(env.ports[3], b"mtls"), "echo with mutual TLS")


@test(timeout=60)
def test_tls_versions_and_suites(env):
    """The master: TLS 1.3, or TLS 1.2 with ECDHE and AEAD only (the static
    clients' mbed TLS 2.28); TLS 1.1, RSA key exchange and CBC suites refused."""
    import ssl
    env.enable_tls()
    m = env.master()

    def handshake(version, ciphers=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ctx.maximum_version = version
        if ciphers:
            ctx.set_ciphers(ciphers)
        ctx.set_alpn_protocols(["gotunnel"])
        try:
            with ctx.wrap_socket(env.sock(connect(m.port)), server_hostname="127.0.0.1") as t:
                return t.version(), t.cipher()[0]
        except (ssl.SSLError, OSError) as e:
            return None, str(e)[:80]
    v, c = handshake(ssl.TLSVersion.TLSv1_3)
    check(v == "TLSv1.3", "TLS 1.3 refused: %s" % c)
    for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305",
                  "ECDHE-ECDSA-AES256-GCM-SHA384"):
        v, c = handshake(ssl.TLSVersion.TLSv1_2, suite)
        check(v == "TLSv1.2" and c == suite, "TLS 1.2 %s: %s %s" % (suite, v, c))
    for suite in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES128-SHA256", "AES128-GCM-SHA256"):
        v, c = handshake(ssl.TLSVersion.TLSv1_2, suite + ":@SECLEVEL=0")
        check(v is None, "TLS 1.2 %s accepted (%s)" % (suite, c))
    v, c = handshake(ssl.TLSVersion.TLSv1_1, "ALL:@SECLEVEL=0")
    check(v is None, "TLS 1.1 accepted (%s)" % c)
    check(m.proc.alive(), "master died")
    # tls_min_version = 1.3 (applied by a reload): TLS 1.2 refused, 1.3 served.
    m.cfg["tls_min_version"] = "1.3"
    m.write()
    rc, _, err = m.ctl("reload")
    check(rc == 0, "reload: %s" % err)
    wait_until(lambda: handshake(ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256")[0] is None, 15,
               "TLS 1.2 refused after tls_min_version = 1.3")
    v, c = handshake(ssl.TLSVersion.TLSv1_3)
    check(v == "TLSv1.3", "TLS 1.3 refused with tls_min_version = 1.3: %s" % c)
    m.cfg["tls_min_version"] = "1.1"
    m.write()
    rc, out, err = run_cmd([MASTER, "-t", "-c", m.conf])
    check(rc != 0 and "tls_min_version must be 1.2 or 1.3" in out + err, "1.1 accepted: %r" % (out + err))


@test(timeout=60)
def test_tls_bad_client_hellos_do_not_hurt(env):
    """Garbage and cut-short ClientHellos: refused, the master keeps serving."""
    env.enable_tls()
    m = env.master()
    svc = env.service()
    env.client(m, [{"name": "e", "local_port": svc.port, "remote_port": env.ports[0]}])
    hellos = [
        b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",          # tiny hello
        b"\x16\x03\x01\xff\xff" + os.urandom(300),               # record longer than sent
        b"\x16\x03\x01\x00\x40" + b"\x01\x00\x00\x3c" + os.urandom(60),  # random body
        b"\x16\x03\x01\x00\x30" + b"\x01\x00\xff\xff" + os.urandom(44),  # handshake spans records
        b"\x16\x04" + os.urandom(100),                           # not TLS 1.x
    ]
    socks = []
    for h in hellos:
        s = env.sock(connect(m.port))
        s.sendall(h)
        socks.append(s)
    # The server answers each with an alert or a close; nothing hangs beyond the timeout.
    for i, s in enumerate(socks):
        _, closed, dt = read_until_close(s, 15)
        check(closed, "bad hello %d not closed within 15 s" % i)
    check(echo_roundtrip(env.ports[0], b"still"), "tunnel broken after bad hellos")
    w = m.worker_pids()
    check(len(w) == 2 and all(lib.pid_alive(p) for p in w), "a worker died")



@test(timeout=90)
def test_tls_handed_over_data_conns_leave_no_wakeups(env):
    """A TLS data connection that reached the wrong worker is passed to its
    owner after leaving the first worker's epoll set: while stalled relays
    keep unread bytes in those sockets, no worker spins on them."""
    env.enable_tls()
    stop = threading.Event()
    chunk = b"d" * 65536

    def source(c, a):
        c.settimeout(0.5)
        while not stop.is_set():
            try:
                c.sendall(chunk)
            except socket.timeout:
                continue
            except OSError:
                return

    svc = env.service(source)
    m = env.master(workers=2)
    env.client(m, [{"name": "down", "local_port": svc.port, "remote_port": env.ports[0]}])
    # Eight data connections: each lands on either worker (SO_REUSEPORT), so
    # some are handed over (all eight on their owner: 1 in 256).
    socks = []
    for i in range(8):
        s = env.sock(connect(env.ports[0], timeout=10))
        s.settimeout(10)
        check(s.recv(1) == b"d", "connection %d: no bytes from the local service" % i)
        socks.append(s)
    time.sleep(2)            # the relays fill their buffers and stop reading
    pids = m.worker_pids()
    before, t0 = sum(lib.cpu_secs(p) for p in pids), time.monotonic()
    time.sleep(3)
    used, wall = sum(lib.cpu_secs(p) for p in pids) - before, time.monotonic() - t0
    stop.set()
    check(used < 0.3 * wall, "the workers used %.2f s of CPU in %.1f s while every relay was stalled "
          "(a handed-over socket still wakes the worker that passed it on?)" % (used, wall))
    for i, s in enumerate(socks):
        check(s.recv(65536)[:1] == b"d", "connection %d: reading again got nothing" % i)
    env.note("workers' CPU while 8 relays were stalled: %.2f s in %.1f s" % (used, wall))
