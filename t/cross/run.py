#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The clients for other machines, proven against this machine's amd64 master.

Usage: python3 t/cross/run.py [-k] [FILTER...]

Each client in dist/ (make static-client, make cross-client ARCH=arm64|armhf)
runs against bin/gotunnel-master on 127.0.0.1: the arm64 and armhf builds
under qemu-user-static (the dynamic ones with -L build-cross/ARCH/sysroot),
the static amd64 one from an empty chroot that holds only the binary, its
config, /etc/hosts and /etc/resolv.conf.  Each registers, forwards a 16 MiB
sha256-checked transfer both ways, reconnects after a master restart and
exits with status 0 on SIGTERM; `file` confirms its architecture.  The
chroot client finds the master by a name that only the chroot's /etc/hosts
knows, and in a second test by a name that only a DNS server (dnsmasq on a
loopback address, named in the chroot's resolv.conf) knows.

The static clients carry mbed TLS (TLS 1.2) instead of OpenSSL: each ARM
client repeats its proof against a TLS master it pins (TLS 1.3 for the
dynamic, OpenSSL ones), and the TLS tests run the static amd64 client from the empty chroot against a TLS
master, once pinning the master's certificate and once trusting a CA for
the name only the chroot's /etc/hosts knows, each with the full proof
above; a wrong pin or a name the certificate does not hold is refused,
retried and never registered; and with mutual TLS the client forwards with
its certificate and is refused without one.

Uses the e2e harness (t/e2e/lib.py) and prints `N passed, N failed`.
"""

import hashlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import lib  # noqa: E402
from lib import (check, connect, fail, make_ca, make_cert, read_until_close, rnd_bytes,  # noqa: E402
                 sha256, wait_until)

# The e2e runner's run_one (watchdog, cleanup, sanitizer and token checks, log
# tails), loaded by path: this file has the same name.
_spec = importlib.util.spec_from_file_location("e2e_run", os.path.join(HERE, "..", "e2e", "run.py"))
e2e_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e_run)

MiB = 1 << 20
SIZE = 16 * MiB
DIST = os.path.join(lib.ROOT, "dist")
XROOT = os.path.join(lib.ROOT, "build-cross")

# name: (binary in dist/, argv prefix, what `file` must say)
VARIANTS = {
    "arm64": ("gotunnel-client-linux-arm64",
              ["qemu-aarch64-static", "-L", os.path.join(XROOT, "arm64", "sysroot")],
              ["ARM aarch64", "dynamically linked"]),
    "arm64-static": ("gotunnel-client-linux-arm64-static", ["qemu-aarch64-static"],
                     ["ARM aarch64", "statically linked"]),
    "armhf": ("gotunnel-client-linux-armhf",
              ["qemu-arm-static", "-L", os.path.join(XROOT, "armhf", "sysroot")],
              ["32-bit", "ARM, EABI5", "dynamically linked"]),
    "armhf-static": ("gotunnel-client-linux-armhf-static", ["qemu-arm-static"],
                     ["32-bit", "ARM, EABI5", "statically linked"]),
    "amd64-static": ("gotunnel-client-linux-amd64-static", [],
                     ["x86-64", "statically linked"]),
}


class CrossClient(lib.Client):
    """A gotunnel-client started through qemu or chroot instead of bin/."""

    def __init__(self, env, master, mappings, argv, conf_path=None, conf_arg=None, **kw):
        super().__init__(env, master, mappings, **kw)
        self.argv = argv
        if conf_path:
            self.conf = conf_path           # where the test writes it
        self.conf_arg = conf_arg or self.conf   # what the client is told (-c)

    def start(self, wait=True, timeout=60):
        self.write()
        self.proc = lib.Proc(self.name, self.argv + ["-c", self.conf_arg], self.log_path)
        self.env.procs.append(self.proc)
        if wait:
            return self.wait_registered(timeout)
        return None


class ChrootClient(CrossClient):
    """The static client in an empty root: the binary, its config and /etc."""

    def __init__(self, env, master, mappings, binary, hosts, resolv, root="root", **kw):
        self.root = os.path.join(env.dir, root)
        os.makedirs(os.path.join(self.root, "etc"))
        shutil.copy2(binary, os.path.join(self.root, "gotunnel-client"))
        with open(os.path.join(self.root, "etc", "hosts"), "w") as f:
            f.write(hosts)
        with open(os.path.join(self.root, "etc", "resolv.conf"), "w") as f:
            f.write(resolv)
        super().__init__(env, master, mappings, ["chroot", self.root, "/gotunnel-client"],
                         conf_path=os.path.join(self.root, "client.ini"),
                         conf_arg="/client.ini", **kw)

    def files(self):
        """Every file in the root, relative to it."""
        out = []
        for d, _, fs in os.walk(self.root):
            out += [os.path.relpath(os.path.join(d, f), self.root) for f in fs]
        return sorted(out)


def check_file(binary, want):
    """`file` names the architecture and linkage we built for."""
    r = subprocess.run(["file", "-b", binary], capture_output=True, text=True, timeout=20)
    desc = r.stdout.strip()
    for w in want:
        check(w in desc, "file %s: %r does not say %r" % (os.path.basename(binary), desc, w))
    return desc


def transfer_both_ways(env, up_port, down_port, data, want):
    """16 MiB up to the client's sink and down from its source, sha256-checked."""
    t0 = time.monotonic()
    s = env.sock(connect(up_port, timeout=120))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    reply, closed, _ = read_until_close(s, 120)
    dt_up = time.monotonic() - t0
    check(closed == "eof", "upload: reply not followed by a clean EOF (%s)" % closed)
    parts = reply.decode(errors="replace").split()
    check(len(parts) == 2, "upload: sink reply %r" % reply[:200])
    check(int(parts[1]) == len(data), "upload: sink got %s bytes, sent %d" % (parts[1], len(data)))
    check(parts[0] == want, "upload: sha256 differs: sent %s, sink got %s" % (want, parts[0]))

    t0 = time.monotonic()
    s = env.sock(connect(down_port, timeout=120))
    s.settimeout(120)
    h = hashlib.sha256()
    n = 0
    while n <= len(data):
        d = s.recv(MiB)
        if not d:
            break
        n += len(d)
        h.update(d)
    dt_down = time.monotonic() - t0
    check(n == len(data), "download: received %d bytes, source sent %d" % (n, len(data)))
    check(h.hexdigest() == want, "download: sha256 differs: source %s, got %s" % (want, h.hexdigest()))
    return dt_up, dt_down


def services(env, data):
    """A sink that answers 'sha256 count' and a source that sends data."""
    def sink(c, a):
        h = hashlib.sha256()
        n = 0
        while True:
            d = c.recv(MiB)
            if not d:
                break
            n += len(d)
            h.update(d)
        c.sendall(("%s %d\n" % (h.hexdigest(), n)).encode())
        c.shutdown(socket.SHUT_WR)

    def source(c, a):
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        while c.recv(MiB):
            pass
    return env.service(sink), env.service(source)


def exercise(env, variant, make_client):
    """The whole proof for one client: file, register, transfer, restart, SIGTERM."""
    binary = os.path.join(DIST, VARIANTS[variant][0])
    check(os.access(binary, os.X_OK), "%s is missing (make static-client / cross-client)" % binary)
    desc = check_file(binary, VARIANTS[variant][2])
    data = rnd_bytes(SIZE, 16)
    want = sha256(data)
    up, down = services(env, data)
    # Idle pooled data connections would hold the master's drain for its 10 s.
    m = env.master(drain_timeout=1)
    pu, pd = env.ports[0], env.ports[1]
    maps = [{"name": "up", "local_port": up.port, "remote_port": pu},
            {"name": "down", "local_port": down.port, "remote_port": pd}]
    c = make_client(m, maps)
    t0 = time.monotonic()
    c.start(timeout=60)
    dt_reg = time.monotonic() - t0
    dt_up, dt_down = transfer_both_ways(env, pu, pd, data, want)

    # The master goes away and comes back on the same port: the client re-registers.
    t0 = time.monotonic()
    rc = m.proc.stop(timeout=20)
    check(rc == 0, "master exited with %s on SIGTERM" % rc)
    check(c.proc.alive(), "client exited when the master stopped")
    t1 = time.monotonic()
    m.restart_same()
    dt_stop = t1 - t0
    t0 = time.monotonic()
    c.wait_registered(timeout=60)
    dt_back = time.monotonic() - t0
    # The same transfer through the re-registered tunnel proves the data path too.
    dt_up2, dt_down2 = transfer_both_ways(env, pu, pd, data, want)

    rc = c.proc.term_wait(timeout=20)
    check(rc == 0, "client exit status on SIGTERM: %s (want 0)" % rc)
    check(not up.errors and not down.errors, "service errors: %r" % (up.errors + down.errors))
    env.note("%s; registered in %.1fs; 16 MiB up %.2fs down %.2fs; master stopped in %.1fs, "
             "client re-registered %.1fs after its restart; 16 MiB up %.2fs down %.2fs"
             % (desc.split(",")[1].strip(), dt_reg, dt_up, dt_down, dt_stop, dt_back, dt_up2, dt_down2))
    return c


def qemu_test(variant, tls=False):
    """A test for one qemu-run client (tls: against a TLS master, pinned)."""
    def fn(env):
        prefix = VARIANTS[variant][1]
        check(shutil.which(prefix[0]) is not None, "%s is missing (make deps-cross)" % prefix[0])
        binary = os.path.join(DIST, VARIANTS[variant][0])
        if tls:
            env.enable_tls()    # a self-signed master certificate, clients pin it
        holder = {}

        def make(m, maps):
            holder["c"] = CrossClient(env, m, maps, prefix + [binary])
            return holder["c"]
        exercise(env, variant, make)
        if tls:
            log = holder["c"].proc.log()
            version = "TLSv1.2" if variant.endswith("-static") else "TLSv1.3"
            check(log.count("with " + version) >= 2, "the client did not connect with %s twice" % version)
            env.note("TLS: %s, pinned" % version)
    return fn


def unknown_to_host(name):
    """True if this machine cannot resolve name (so only the chroot can)."""
    try:
        socket.getaddrinfo(name, 1, type=socket.SOCK_STREAM)
        return False
    except socket.gaierror:
        return True


def test_chroot_hosts(env):
    name = "gt-master-%s.invalid" % os.urandom(4).hex()
    check(unknown_to_host(name), "%s resolves on this machine" % name)
    binary = os.path.join(DIST, VARIANTS["amd64-static"][0])
    holder = {}

    def make(m, maps):
        # resolv.conf names a closed port so that only /etc/hosts can answer.
        c = ChrootClient(env, m, maps, binary, "127.0.0.1 localhost\n127.0.0.1 %s\n" % name,
                         "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
                         server_addr=name)
        holder["c"] = c
        return c
    exercise(env, "amd64-static", make)
    files = holder["c"].files()
    check(files == ["client.ini", "etc/hosts", "etc/resolv.conf", "gotunnel-client"],
          "the root held more than the client needs: %r" % files)
    env.note("root: %s; server_addr %s from the chroot's /etc/hosts" % (" ".join(files), name))


def test_chroot_dns(env):
    """server_addr known only to a DNS server on a loopback address."""
    dnsmasq = shutil.which("dnsmasq")
    check(dnsmasq is not None, "dnsmasq is missing (make deps-cross installs dnsmasq-base)")
    name = "gt-master-%s.test" % os.urandom(4).hex()
    check(unknown_to_host(name), "%s resolves on this machine" % name)
    # A loopback address of our own: port 53 on it is free even where a local
    # resolver listens on 127.0.0.1 or 127.0.0.53.
    r = os.urandom(2)
    dns_ip = "127.53.%d.%d" % (r[0], 1 + r[1] % 254)
    log = os.path.join(env.dir, "dnsmasq.log")
    dns = lib.Proc("dnsmasq", [dnsmasq, "-k", "--no-resolv", "--no-hosts", "--bind-interfaces",
                               "--listen-address=" + dns_ip, "--port=53", "--user=root",
                               "--pid-file=" + os.path.join(env.dir, "dnsmasq.pid"),
                               "--address=/%s/127.0.0.1" % name, "--log-queries",
                               "--log-facility=" + log], os.path.join(env.dir, "dnsmasq.out"))
    env.procs.append(dns)

    def dns_ready():
        if not dns.alive():
            fail("dnsmasq exited: %s" % dns.log()[-500:])
        return os.path.exists(log) and "started" in open(log).read()
    wait_until(dns_ready, 20, "dnsmasq to start")
    binary = os.path.join(DIST, VARIANTS["amd64-static"][0])
    exercise(env, "amd64-static",
             lambda m, maps: ChrootClient(env, m, maps, binary, "127.0.0.1 localhost\n",
                                          "nameserver %s\n" % dns_ip, server_addr=name))
    with open(log) as f:
        queries = [line for line in f if "query[A" in line and name in line]
    check(queries, "dnsmasq saw no query for %s: the client did not use DNS" % name)
    env.note("server_addr %s answered by dnsmasq on %s (%d queries)" % (name, dns_ip, len(queries)))


def tls_master_setup(env, name):
    """A CA, a master certificate for name signed by it, TLS-only masters from here on."""
    ca = make_ca(env.dir, "ca")
    cert, key, fp = make_cert(env.dir, "srv", name, ca=ca)
    env.master_defaults.update({"tls_cert_file": cert, "tls_key_file": key})
    return ca, fp


def tls_ip_master(env, ca, ip):
    """A TLS master whose CA-signed certificate names the address ip."""
    cert, key, fp = make_cert(env.dir, "ip-" + ip, ip, ca=ca)
    return env.master(tls_cert_file=cert, tls_key_file=key), fp


def tls_chroot_client(env, m, maps, name, ca, root="root", **kw):
    """The static client in an empty root that also holds the CA file (/ca.crt)."""
    binary = os.path.join(DIST, VARIANTS["amd64-static"][0])
    c = ChrootClient(env, m, maps, binary, "127.0.0.1 localhost\n127.0.0.1 %s\n" % name,
                     "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", root=root,
                     server_addr=name, **kw)
    shutil.copy2(ca[0], os.path.join(c.root, "ca.crt"))
    return c


def tls_test(how):
    """The static client (mbed TLS) against a TLS master: pinned, or CA + name."""
    def fn(env):
        name = "gt-tls-%s.invalid" % os.urandom(4).hex()
        check(unknown_to_host(name), "%s resolves on this machine" % name)
        ca, fp = tls_master_setup(env, name)
        trust = {"server_fingerprint": fp} if how == "pin" else {"tls_trusted_ca_file": "/ca.crt"}
        holder = {}

        def make(m, maps):
            holder["c"] = tls_chroot_client(env, m, maps, name, ca, **trust)
            return holder["c"]
        exercise(env, "amd64-static", make)
        log = holder["c"].proc.log()
        # Both the control and the data connections were TLS 1.2 (mbed TLS).
        check(log.count("with TLSv1.2") >= 2, "the client did not connect with TLS 1.2 twice")
        check("accepts TLS connections only" not in log, "the client tried clear text")
        env.note("mbed TLS, %s; server_addr %s from the chroot's /etc/hosts"
                 % ("pinned " + fp[:19] + "..." if how == "pin" else "CA /ca.crt + name check", name))
    return fn


def test_chroot_tls_refused(env):
    """A wrong pin, and a CA-trusted certificate for another name: refused, never registered."""
    name = "gt-tls-%s.invalid" % os.urandom(4).hex()
    ca, fp = tls_master_setup(env, name)
    m = env.master()
    svc = env.service()
    bad = "sha256:" + "0" * 64
    maps = [{"name": "e", "local_port": svc.port, "remote_port": env.ports[0]}]
    c1 = tls_chroot_client(env, m, maps, name, ca, root="root1", server_fingerprint=bad)
    c1.start(wait=False)
    # The certificate holds `name`; the client is told to expect another one.
    c2 = tls_chroot_client(env, m, [dict(maps[0], remote_port=env.ports[1])], name, ca,
                           root="root2", tls_trusted_ca_file="/ca.crt",
                           tls_server_name="other-" + name)
    c2.start(wait=False)
    wait_until(lambda: c1.proc.log().count("fingerprint mismatch") >= 2, 30,
               "two refused attempts with the wrong pin")
    line = [x for x in c1.proc.log().splitlines() if "fingerprint mismatch" in x][0]
    check(bad in line and fp in line, "the mismatch line lacks the pin or the presented key: %r" % line)
    wait_until(lambda: c2.proc.log().count("not trusted") >= 2, 30,
               "two refused attempts with the wrong name")
    for c in (c1, c2):
        check(c.proc.alive(), "%s exited instead of retrying" % c.name)
        check("accepts TLS connections only" not in c.proc.log(), "%s fell back to clear text" % c.name)
        check("published on remote port" not in c.proc.log(), "%s registered" % c.name)
    check(m.mappings() == [], "a refused client registered: %r" % m.mappings())
    check(lib.port_refuses(env.ports[0]) and lib.port_refuses(env.ports[1]), "a refused client's port is open")
    # Addresses: mbed TLS 2.28 checks DNS names only, ctls_mbed.c the
    # iPAddress names: a CA-signed certificate for 127.0.0.2 is refused at
    # 127.0.0.1, one for 127.0.0.1 accepted.
    other, _ = tls_ip_master(env, ca, "127.0.0.2")
    right, _ = tls_ip_master(env, ca, "127.0.0.1")
    c3 = tls_chroot_client(env, other, [dict(maps[0], remote_port=env.ports[2])], "127.0.0.1", ca,
                           root="root3", tls_trusted_ca_file="/ca.crt")
    c3.start(wait=False)
    c4 = tls_chroot_client(env, right, [dict(maps[0], remote_port=env.ports[3])], "127.0.0.1", ca,
                           root="root4", tls_trusted_ca_file="/ca.crt")
    c4.start(timeout=60)
    wait_until(lambda: c3.proc.log().count("not trusted") >= 2, 30,
               "two refused attempts at an address the certificate does not hold")
    check(other.mappings() == [], "a client registered with a certificate for another address")
    check(right.mappings() != [], "the client did not register with its address in the certificate")
    env.note("wrong pin: %s" % line.split(": ", 2)[-1][:90])


def test_chroot_tls_mutual(env):
    """Mutual TLS: the master wants a client certificate from its CA; the
    static client without one is refused, with one (in its root) forwards."""
    name = "gt-tls-%s.invalid" % os.urandom(4).hex()
    ca, fp = tls_master_setup(env, name)
    ccert, ckey, _ = make_cert(env.dir, "cli", "client1", ca=ca)
    m = env.master(tls_client_ca_file=ca[0])
    svc = env.service()
    maps = [{"name": "e", "local_port": svc.port, "remote_port": env.ports[0]}]
    c1 = tls_chroot_client(env, m, maps, name, ca, root="root1", tls_trusted_ca_file="/ca.crt")
    c1.start(wait=False)
    c2 = tls_chroot_client(env, m, [dict(maps[0], remote_port=env.ports[1])], name, ca,
                           root="root2", tls_trusted_ca_file="/ca.crt",
                           tls_cert_file="/cli.crt", tls_key_file="/cli.key")
    shutil.copy2(ccert, os.path.join(c2.root, "cli.crt"))
    shutil.copy2(ckey, os.path.join(c2.root, "cli.key"))
    c2.start(timeout=60)
    check(lib.echo_roundtrip(env.ports[1], b"mutual tls from the chroot"), "no echo with mutual TLS")
    wait_until(lambda: c1.proc.log().count("handshake failed") >= 2, 30,
               "two refused attempts without a client certificate")
    check("published on remote port" not in c1.proc.log(), "a client without a certificate registered")
    check(lib.port_refuses(env.ports[0]), "the refused client's port is open")
    env.note("with a client certificate: registered, echo; without: %s"
             % [x for x in c1.proc.log().splitlines() if "handshake failed" in x][0].split(": ", 3)[-1][:70])


TESTS = [("%s_qemu" % v, qemu_test(v), 300) for v in ("arm64", "arm64-static", "armhf", "armhf-static")]
# The static ARM clients carry mbed TLS, the dynamic ones OpenSSL: each with TLS.
TESTS += [("%s_qemu_tls" % v, qemu_test(v, tls=True), 300)
          for v in ("arm64", "arm64-static", "armhf", "armhf-static")]
TESTS += [("amd64_static_chroot_hosts", test_chroot_hosts, 300),
          ("amd64_static_chroot_dns", test_chroot_dns, 300),
          ("amd64_static_chroot_tls_pinned", tls_test("pin"), 300),
          ("amd64_static_chroot_tls_ca_name", tls_test("ca"), 300),
          ("amd64_static_chroot_tls_refused", test_chroot_tls_refused, 120),
          ("amd64_static_chroot_tls_mutual", test_chroot_tls_mutual, 120)]


def main(argv):
    keep = "-k" in argv
    filters = [a for a in argv if a != "-k"]
    if os.geteuid() != 0:
        print("FAIL setup: chroot and DNS on port 53 need root")
        print("0 passed, 1 failed")
        return 1
    for b in (lib.MASTER, lib.CTL):
        if not os.access(b, os.X_OK):
            print("FAIL setup: %s is missing (make c)" % b)
            print("0 passed, 1 failed")
            return 1
    import atexit
    atexit.register(lib.release_ports)
    passed = failed = 0
    t0 = time.monotonic()
    for name, fn, limit in TESTS:
        if filters and not any(f in name for f in filters):
            continue
        if e2e_run.run_one(name, fn, limit, keep):
            passed += 1
        else:
            failed += 1
    print("# master %s, clients from %s, %.0fs total" % (lib.MASTER, DIST, time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
