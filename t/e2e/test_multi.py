# SPDX-License-Identifier: ISC
"""One client, several masters: the server_addr list, discovery by host name,
and the --server/--token-file/--map command line.

The masters run as pods would (the same bind_port, each on its own address
127.0.0.11/.12/.13 with its own data_dir and control socket) but WITHOUT
[cluster]: each is independent, which is all the client needs to show that
it keeps a session with every one, survives losing one and rejoins it.
Discovery uses the real glibc resolver: the client runs in a private mount
namespace (unshare -m) where /etc/hosts is a file this test rewrites.
"""

import os
import socket
import threading
import time

from lib import (CLIENT, Client, Master, Proc, Service, check, connect, echo_handler, fail, free_port,
                 make_ca, make_cert, port_accepts, recv_exact, run_cmd, test, wait_until)

ADDRS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]


def bindable(addr, port):
    s = socket.socket()
    try:
        s.bind((addr, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def common_port(env):
    """A control port free on every master address (claimed like free_port)."""
    for _ in range(50):
        p = free_port()
        if all(bindable(a, p) for a in ADDRS):
            return p
    fail("no port free on all of %s" % ADDRS)


class AddrMaster(Master):
    """A master whose control and public sockets are on its own address."""

    def __init__(self, env, addr, port, name):
        super().__init__(env, name=name, bind_addr=addr, proxy_bind_addr=addr, bind_port=port)
        self.addr = addr

    def wait_ready(self, timeout=30):
        def ready():
            if not self.proc.alive():
                fail("master %s exited with status %s during start" % (self.name, self.proc.returncode()))
            st = self.status(must=False)
            return st and isinstance(st.get("workers"), list) and port_accepts(self.port, host=self.addr)
        wait_until(ready, timeout, "master %s on %s to be ready" % (self.name, self.addr))

    def start(self, timeout=30, retries=1):
        return super().start(timeout=timeout, retries=1)

    def kill_tree(self):
        """kill -9 of the master and its workers (its process group)."""
        self.proc.killgroup()
        self.proc.p.wait(timeout=10)


def three_masters(env):
    port = common_port(env)
    ms = [AddrMaster(env, a, port, "m%d" % (i + 1)) for i, a in enumerate(ADDRS)]
    for m in ms:
        env.masters.append(m)
        m.start()
    return ms


def held(m, name):
    """{mapping name: remote_port} that master m holds for client name."""
    return {x.get("name"): x.get("remote_port") for x in m.mappings() if x.get("client_name") == name}


def roundtrip(addr, port, timeout=10.0):
    """One echo through addr:port; raises on any problem."""
    payload = os.urandom(512)
    s = connect(port, host=addr, timeout=timeout)
    try:
        s.sendall(payload)
        if recv_exact(s, len(payload)) != payload:
            raise AssertionError("different bytes came back")
    finally:
        s.close()


def works(addr, port):
    try:
        roundtrip(addr, port, timeout=3)
        return True
    except (OSError, EOFError, AssertionError):
        return False


def wait_held(m, name, want, timeout=30):
    """Waits until m holds every mapping of want ({name: port or 0 for any})."""
    def done():
        got = held(m, name)
        return got if all(n in got and (not p or got[n] == p) for n, p in want.items()) else None
    return wait_until(done, timeout, "%s to hold %s for %s" % (m.name, want, name), interval=0.3)


class Traffic:
    """Echo round trips in a loop through some public addresses; counts failures."""

    def __init__(self, targets):
        self.targets = targets
        self.ok = 0
        self.failures = []
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        i = 0
        while not self.stop.is_set():
            addr, port = self.targets[i % len(self.targets)]
            i += 1
            try:
                roundtrip(addr, port)
                self.ok += 1
            except (OSError, EOFError, AssertionError) as e:
                self.failures.append("%s:%d: %r" % (addr, port, e))
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.t.join(30)


@test(timeout=240)
def test_multi_three_masters(env):
    ms = three_masters(env)
    svc = env.service()
    fixed = env.ports[0]
    c = Client(env, ms[0], [{"name": "fixed", "local_port": svc.port, "remote_port": fixed},
                            {"name": "auto", "local_port": svc.port, "remote_port": 0}],
               server_addr=",".join(ADDRS))
    c.start(wait=False)
    got = [wait_held(m, c.name, {"fixed": fixed, "auto": 0}) for m in ms]
    auto = got[0]["auto"]
    check(all(g["auto"] == auto for g in got),
          "remote_port 0 got different ports on the masters: %r (want one cluster-wide port)" % got)
    for a in ADDRS:
        for p in (fixed, auto):
            try:
                roundtrip(a, p)
            except (OSError, EOFError, AssertionError) as e:
                fail("echo through %s:%d failed: %r" % (a, p, e))

    # kill -9 of master 2's whole tree while traffic runs through 1 and 3.
    survivors = [(ADDRS[0], fixed), (ADDRS[2], auto), (ADDRS[2], fixed), (ADDRS[0], auto)]
    tr = Traffic(survivors)
    wait_until(lambda: tr.ok >= 20, 30, "traffic before the kill")
    before = tr.ok
    ms[1].kill_tree()
    t_kill = time.monotonic()
    wait_until(lambda: tr.ok >= before + 100 and time.monotonic() - t_kill >= 3, 60,
               "traffic after the kill")
    tr.finish()
    check(not tr.failures, "%d of %d connections through the surviving masters failed: %s"
          % (len(tr.failures), tr.ok + len(tr.failures), tr.failures[:3]))
    check(c.proc.alive(), "client exited after a master died")
    n_after = tr.ok - before

    # Master 2 comes back: the client rejoins it by itself, with the same
    # (sticky) port for the mapping that had remote_port 0.
    ms[1].restart_same()
    t_back = time.monotonic()
    g2 = wait_held(ms[1], c.name, {"fixed": fixed, "auto": auto}, timeout=60)
    check(g2["auto"] == auto, "after the restart master 2 gave port %r, not the sticky %d" % (g2["auto"], auto))
    wait_until(lambda: works(ADDRS[1], fixed) and works(ADDRS[1], auto), 30, "tunnels through the restarted master")
    log = c.proc.log()
    for a in ADDRS:
        check("connecting to master %s:%d" % (a, ms[0].port) in log, "client log never names master %s" % a)
    env.note("auto port %d on all 3; %d connections via masters 1+3 during/after the kill, 0 failed; "
             "rejoined master 2 %.1fs after its restart" % (auto, n_after, time.monotonic() - t_back))


def write_in_place(path, text):
    """Truncate and write (not rename): the bind mount keeps pointing at this inode."""
    with open(path, "r+") as f:
        f.seek(0)
        f.truncate()
        f.write(text)


def private_hosts(env, text):
    """A hosts file and a host.conf ("multi on") for a client's own mount namespace."""
    hosts = os.path.join(env.dir, "hosts")
    hostconf = os.path.join(env.dir, "host.conf")
    with open(hosts, "w") as f:
        f.write(text)
    with open(hostconf, "w") as f:
        f.write("multi on\n")
    return hosts, hostconf


def start_in_namespace(env, c, hosts, hostconf):
    """Starts client c where /etc/hosts is hosts (unshare -m + bind mounts)."""
    c.write()
    c.proc = Proc(c.name, ["unshare", "-m", "sh", "-c",
                           'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/host.conf && '
                           'exec "$2" -c "$3"', hosts, hostconf, CLIENT, c.conf], c.log_path)
    env.procs.append(c.proc)


@test(timeout=180)
def test_multi_tls_name_per_entry(env):
    """TLS applies per master: each session checks the certificate against
    its own entry's host (or tls_server_name), never a global name."""
    ca = make_ca(env.dir, "ca")
    cert, key, _ = make_cert(env.dir, "gtm", "gtm.test", ca=ca)
    env.master_defaults.update({"tls_cert_file": cert, "tls_key_file": key})
    ms = three_masters(env)[:2]
    svc = env.service()
    hosts, hostconf = private_hosts(env, "127.0.0.1 localhost\n%s gtm.test\n%s gtm.test\n" % (ADDRS[0], ADDRS[1]))
    # By name: both addresses of gtm.test, each checked against "gtm.test".
    c = Client(env, ms[0], [{"name": "n", "local_port": svc.port, "remote_port": env.ports[0]}],
               server_addr="gtm.test", tls_trusted_ca_file=ca[0])
    start_in_namespace(env, c, hosts, hostconf)
    for m in ms:
        wait_held(m, c.name, {"n": env.ports[0]})
    check(works(ADDRS[0], env.ports[0]) and works(ADDRS[1], env.ports[0]), "no TLS tunnel through both masters")
    check(c.proc.log().count(" with TLSv1.3") >= 2, "the client did not use TLS with both masters")
    # By address: the certificate names no address, so both sessions refuse it ...
    bad = Client(env, ms[0], [{"name": "b", "local_port": svc.port, "remote_port": env.ports[1]}],
                 server_addr=",".join(ADDRS[:2]), tls_trusted_ca_file=ca[0])
    bad.start(wait=False)
    wait_until(lambda: all("%s:%d: server certificate not trusted" % (a, ms[0].port) in bad.proc.log()
                           for a in ADDRS[:2]), 20, "both address entries to refuse the certificate")
    check(not any(held(m, bad.name) for m in ms), "a client that refused the certificate registered")
    # ... unless tls_server_name names the certificate's host for every entry.
    ok = Client(env, ms[0], [{"name": "o", "local_port": svc.port, "remote_port": env.ports[2]}],
                server_addr=",".join(ADDRS[:2]), tls_trusted_ca_file=ca[0], tls_server_name="gtm.test")
    ok.start(wait=False)
    for m in ms:
        wait_held(m, ok.name, {"o": env.ports[2]})
    env.note("CA + names: gtm.test entry ok on 2 masters; literal entries refused, ok with tls_server_name")


@test(timeout=180)
def test_multi_discovery_by_name(env):
    ms = three_masters(env)
    svc = env.service()
    fixed = env.ports[0]
    name = "gtcluster.test"
    hosts, hostconf = private_hosts(env, "127.0.0.1 localhost\n%s %s\n%s %s\n" % (ADDRS[0], name, ADDRS[1], name))
    rc, out, err = run_cmd(["unshare", "-m", "sh", "-c",
                            'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/host.conf && '
                            'exec getent ahostsv4 "$2"', hosts, hostconf, name])
    check(rc == 0 and ADDRS[0] in out and ADDRS[1] in out,
          "a private /etc/hosts through unshare -m does not work here: rc %d %r %r" % (rc, out, err))
    c = Client(env, ms[0], [{"name": "fixed", "local_port": svc.port, "remote_port": fixed}],
               server_addr=name, discovery_interval=2)
    start_in_namespace(env, c, hosts, hostconf)
    wait_held(ms[0], c.name, {"fixed": fixed})
    wait_held(ms[1], c.name, {"fixed": fixed})
    check(works(ADDRS[0], fixed) and works(ADDRS[1], fixed), "no tunnel through the two addresses of the name")
    check(not held(ms[2], c.name), "master 3 (not in the name yet) holds a mapping of the client")

    # The record set changes: .12 leaves, .13 joins.
    write_in_place(hosts, "127.0.0.1 localhost\n%s %s\n%s %s\n" % (ADDRS[0], name, ADDRS[2], name))
    t0 = time.monotonic()
    wait_held(ms[2], c.name, {"fixed": fixed}, timeout=20)
    t_join = time.monotonic() - t0
    wait_until(lambda: not held(ms[1], c.name), 20, "the client to leave master 2 (removed from the name)")
    t_leave = time.monotonic() - t0
    check(works(ADDRS[2], fixed), "no tunnel through the new address %s" % ADDRS[2])
    check(works(ADDRS[0], fixed), "the tunnel through %s (still in the name) broke" % ADDRS[0])
    check(not port_accepts(fixed, host=ADDRS[1]), "master 2 still listens on the port of the client that left")
    log = c.proc.log()
    check("has a new address %s:%d" % (ADDRS[2], ms[0].port) in log, "client log does not say it joined %s" % ADDRS[2])
    check("no longer returned" in log, "client log does not say why it left %s" % ADDRS[1])
    env.note("discovery_interval 2s: joined %s after %.1fs, left %s after %.1fs" % (ADDRS[2], t_join, ADDRS[1], t_leave))


@test(timeout=120)
def test_multi_command_line(env):
    ms = three_masters(env)[:2]
    svc = Service(echo_handler, host="127.0.0.2")
    env.services.append(svc)
    tokf = os.path.join(env.dir, "token")
    with open(tokf, "w") as f:
        f.write(env.token + "\n")
    os.chmod(tokf, 0o600)
    servers = "%s:%d,%s:%d" % (ADDRS[0], ms[0].port, ADDRS[1], ms[1].port)
    name = "e2e-cli-%s" % env.short
    argv = [CLIENT, "--server", servers, "--token-file", tokf,
            "--map", "echo=%d:%d" % (svc.port, env.ports[0]), "--map", "auto=%d:0" % svc.port,
            "--local-ip", "127.0.0.2", "--name", name]

    rc, out, err = run_cmd(argv + ["-t"])
    check(rc == 0 and "configuration OK" in out, "-t of the command-line form: rc %d %r %r" % (rc, out, err))
    bad = [
        (["--map", "x=abc:1"], "LOCAL_PORT must be 1 to 65535"),
        (["--map", "x"], "NAME=LOCAL_PORT:REMOTE_PORT"),
        (["--map", "x=1:70000"], "REMOTE_PORT 0 to 65535"),
        (["--map", "echo=1:2"], "mapping echo given twice"),
        (["--server", "[::1"], "missing ']'"),
        (["--token-file", os.path.join(env.dir, "missing")], "--token-file"),
        (["-c", "/etc/gotunnel/gotunnel-client.ini"], "either -c FILE or"),
    ]
    for extra, want in bad:
        rc, out, err = run_cmd(argv + extra + ["-t"])
        check(rc == 1 and want in err, "%s: rc %d, stderr %r (want %r)" % (" ".join(extra), rc, err, want))
    rc, out, err = run_cmd([CLIENT, "--server", servers, "--map", "e=1:2", "-t"])
    check(rc == 1 and "--token-file is required" in err, "no --token-file: rc %d %r" % (rc, err))
    rc, out, err = run_cmd([CLIENT, "--server", servers, "--token-file", tokf, "-t"])
    check(rc == 1 and "--map" in err, "no --map: rc %d %r" % (rc, err))

    p = Proc(name, argv, os.path.join(env.dir, name + ".log"))
    env.procs.append(p)
    got = [wait_held(m, name, {"echo": env.ports[0], "auto": 0}) for m in ms]
    check(got[0]["auto"] == got[1]["auto"], "remote_port 0: ports differ between masters: %r" % got)
    for a in ADDRS[:2]:
        for port in (env.ports[0], got[0]["auto"]):
            try:
                roundtrip(a, port)
            except (OSError, EOFError, AssertionError) as e:
                fail("echo through %s:%d (to --local-ip 127.0.0.2) failed: %r" % (a, port, e))
    check(svc.accepted >= 4, "the service on --local-ip 127.0.0.2 saw %d connections" % svc.accepted)
    env.note("2 masters, 2 --map, --local-ip; auto port %d" % got[0]["auto"])
