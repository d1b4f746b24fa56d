#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""gotunnel benchmark driver (`make bench`).

Starts everything on 127.0.0.1 with free ports under one temporary
directory, measures three rows -- direct (no tunnel), OpenSSH `ssh -R`
(its own throwaway sshd), gotunnel (bin/gotunnel-master + bin/gotunnel-client)
-- and prints one table.  Raw results go to bench/out/results.json, the table
to bench/out/results.txt.  It reports; it asserts nothing about speed.

Every child is started here and killed here (by PID, with its descendants)
on exit, on error, on SIGINT/SIGTERM and when the global time budget runs out.
"""

import argparse
import atexit
import datetime
import hashlib
import json
import os
import platform
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
TOOLS = os.path.join(OUT, "bin")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TOKEN = "bench-token-0123456789"

CHILDREN = []          # every Popen we started, in start order
TMP = None             # the run's temporary directory


# ---------------------------------------------------------------- processes

def log(msg):
    """One progress line on stderr (the table goes to stdout)."""
    print("bench: " + msg, file=sys.stderr, flush=True)


def start(argv, name, stdout=None, stdin=None, env=None):
    """Start a child in its own session, remember it for cleanup."""
    logf = open(os.path.join(TMP, name + ".log"), "ab")
    p = subprocess.Popen(argv, stdout=stdout if stdout is not None else logf,
                         stderr=logf, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                         start_new_session=True, cwd=TMP,
                         env=dict(os.environ, **env) if env else None)
    p.bench_name = name
    CHILDREN.append(p)
    return p


def ppid_map():
    """pid -> ppid for every process now."""
    m = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
            m[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            pass
    return m


def tree(pids):
    """The given pids plus all their live descendants."""
    m = ppid_map()
    kids = {}
    for pid, pp in m.items():
        kids.setdefault(pp, []).append(pid)
    out, todo = [], [p for p in pids if p in m]
    while todo and len(out) < 10000:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def stop(p, grace=3.0):
    """Terminate a child and every descendant (by PID), then reap it."""
    if p is None:
        return
    pids = tree([p.pid]) if p.poll() is None else []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    end = time.time() + grace
    while time.time() < end and any(os.path.exists("/proc/%d" % q) and not zombie(q) for q in pids):
        p.poll()
        time.sleep(0.05)
    for pid in pids:
        try:
            if not zombie(pid):
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        p.wait(timeout=2)
    except subprocess.TimeoutExpired:
        pass


def zombie(pid):
    """True if pid is gone or a zombie (nothing left to kill)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        return s[s.rindex(")") + 2] == "Z"
    except OSError:
        return True


def cleanup():
    """Kill everything we started (newest first) and remove the temp dir."""
    for p in reversed(CHILDREN):
        stop(p, grace=2.0)
    if TMP and os.path.isdir(TMP) and not os.environ.get("BENCH_KEEP_TMP"):
        shutil.rmtree(TMP, ignore_errors=True)


class BudgetExceeded(BaseException):
    """The run's time budget ran out (BaseException: no column's `except
    Exception` may swallow it)."""


def on_signal(sig, frame):
    """SIGALRM: stop measuring, still write what was measured.
    SIGINT/SIGTERM: unwind through atexit, which kills the children."""
    if sig == signal.SIGALRM:
        raise BudgetExceeded()
    raise SystemExit("bench: stopped by signal %d" % sig)


def log_tail(name, n=15):
    """The last lines of a child's log file (stderr)."""
    try:
        with open(os.path.join(TMP, name + ".log"), "rb") as f:
            return f.read()[-4000:].decode(errors="replace").splitlines()[-n:]
    except OSError:
        return []


def run_tool(argv, timeout):
    """Run a short tool to completion; returns its parsed last JSON line."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=TMP)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (argv[0], r.returncode, r.stderr.strip()[-300:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def free_port():
    """A TCP port that is free on 127.0.0.1 right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=15.0, echo=False, proc=None):
    """Wait until 127.0.0.1:port accepts (and, with echo, echoes a byte)."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (proc.bench_name, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if echo:
                    s.sendall(b"e")
                    if s.recv(1) != b"e":
                        raise OSError("no echo")
                return
        except OSError as e:
            last = e
            time.sleep(0.1)
    raise RuntimeError("port %d not ready after %.0fs: %s" % (port, timeout, last))


def listening(port):
    """True if something listens on TCP port (IPv4 or IPv6) right now."""
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False


def wait_listen(port, timeout=15.0, proc=None):
    """Wait until port is in LISTEN state without connecting to it (a probe
    connection would count as a failed test on iperf3's server and can reset
    the next real client)."""
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (proc.bench_name, proc.returncode))
        if listening(port):
            return
        time.sleep(0.1)
    raise RuntimeError("nothing listens on port %d after %.0fs" % (port, timeout))


# ---------------------------------------------------------------- /proc

def cpu_seconds(pids):
    """utime+stime of the given pids, in seconds."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                s = f.read()
            fields = s[s.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / CLK_TCK


def system_ticks():
    """(busy, total, steal) jiffies of all CPUs from /proc/stat; steal is
    time the hypervisor gave our vCPUs to someone else."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    # guest and guest_nice (v[8:10]) are already counted in user and nice.
    total = sum(v[:8])
    return total - idle, total, v[7] if len(v) > 7 else 0


def system_share(t0, t1):
    """Machine busy and steal, % of all CPUs, between two system_ticks()."""
    dt = max(t1[1] - t0[1], 1)
    return {"system_busy_pct": round(100.0 * (t1[0] - t0[0]) / dt, 1),
            "steal_pct": round(100.0 * (t1[2] - t0[2]) / dt, 1)}


class CpuMeter:
    """CPU time of a process tree over a wall-clock window, as % of a core."""

    def __init__(self, roots):
        self.roots = roots
        self.pids = tree(roots) if roots else []
        self.c0 = cpu_seconds(self.pids)
        self.t0 = time.time()

    def stop(self):
        if not self.roots:
            return None
        # Same pid set as at the start: processes that appear in between
        # (none in a steady tunnel) would start from 0 and inflate the figure.
        dc = cpu_seconds(self.pids) - self.c0
        dt = time.time() - self.t0
        gone = [p for p in self.pids if zombie(p)]
        if gone:
            return {"error": "%d of the measured processes exited during the window" % len(gone),
                    "cpu_pct": None, "pids": len(self.pids)}
        return {"cpu_s": round(dc, 3), "wall_s": round(dt, 3),
                "cpu_pct": round(100.0 * dc / dt, 1) if dt > 0 else None,
                "pids": len(self.pids)}


def memory(roots):
    """Summed Rss and Pss (KiB) of a process tree, from smaps_rollup, and the
    anonymous part of Rss (heap and stacks: memory no other process shares;
    the rest is mapped files, e.g. LMDB's map, counted once per process)."""
    rss = pss = anon = fds = 0
    pids = tree(roots)
    for pid in pids:
        try:
            fds += len(os.listdir("/proc/%d/fd" % pid))
        except OSError:
            pass
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Anonymous:"):
                        anon += int(line.split()[1])
        except OSError:
            pass
    return {"rss_kib": rss, "pss_kib": pss, "anon_kib": anon, "procs": len(pids), "fds": fds}


# ---------------------------------------------------------------- tunnels

class Direct:
    """No tunnel: the tools talk to the services themselves."""
    name = "direct"

    def start(self, services):
        self.ports = dict(services)
        return True

    def roots(self):
        return []

    def stop(self):
        pass


class SshR:
    """OpenSSH: a throwaway sshd on a free port and `ssh -N -R` to it."""
    name = "ssh -R"

    def start(self, services):
        d = os.path.join(TMP, "ssh")
        os.makedirs(d, mode=0o700)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        os.path.join(d, "host_ed25519")], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        os.path.join(d, "id_ed25519")], check=True)
        shutil.copy(os.path.join(d, "id_ed25519.pub"), os.path.join(d, "authorized_keys"))
        # sshd (as root) refuses to start without its privilege separation
        # directory; as another user it runs without privsep, for that user only.
        if os.getuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.port = free_port()
        cfg = os.path.join(d, "sshd_config")
        with open(cfg, "w") as f:
            f.write("\n".join([
                "Port %d" % self.port, "ListenAddress 127.0.0.1",
                "HostKey %s/host_ed25519" % d, "PidFile %s/sshd.pid" % d,
                "AuthorizedKeysFile %s/authorized_keys" % d,
                "PermitRootLogin prohibit-password", "PubkeyAuthentication yes",
                "PasswordAuthentication no", "KbdInteractiveAuthentication no",
                "UsePAM no", "StrictModes no", "AllowTcpForwarding yes",
                "GatewayPorts no", "X11Forwarding no", "PermitTTY no",
                "MaxStartups 100", "LogLevel ERROR", ""]))
        self.sshd = start(["/usr/sbin/sshd", "-D", "-e", "-f", cfg], "sshd")
        wait_listen(self.port, proc=self.sshd)
        self.ports = {k: free_port() for k in services}
        argv = ["ssh", "-N", "-F", "/dev/null", "-i", os.path.join(d, "id_ed25519"),
                "-p", str(self.port), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=%s/known_hosts" % d,
                "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=ERROR"]
        for k, lport in services.items():
            argv += ["-R", "127.0.0.1:%d:127.0.0.1:%d" % (self.ports[k], lport)]
        argv.append("%s@127.0.0.1" % pwd.getpwuid(os.getuid()).pw_name)
        self.ssh = start(argv, "ssh")
        wait_port(self.ports["echo"], echo=True, proc=self.ssh)
        wait_listen(self.ports["iperf"], proc=self.ssh)
        return True

    def roots(self):
        return [self.sshd.pid, self.ssh.pid]

    def stop(self):
        stop(self.ssh)
        stop(self.sshd)


class HAProxy:
    """HAProxy (Debian's) as a plain TCP forwarder: one relay hop, the
    yardstick for the tunnel's CPU per Gbit/s per hop (gotunnel has two:
    the worker and the client)."""
    name = "haproxy"

    def start(self, services):
        if not shutil.which("haproxy"):
            raise RuntimeError("haproxy is not installed")
        d = os.path.join(TMP, "haproxy")
        os.makedirs(d)
        self.ports = {k: free_port() for k in services}
        cfg = os.path.join(d, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("\n".join(["global", "    maxconn 9000", "defaults", "    mode tcp",
                               "    timeout connect 5s", "    timeout client 600s",
                               "    timeout server 600s", ""]))
            for k, lport in services.items():
                f.write("\n".join(["listen %s" % k, "    bind 127.0.0.1:%d" % self.ports[k],
                                   "    server s 127.0.0.1:%d" % lport, ""]))
        self.proc = start(["haproxy", "-db", "-f", cfg], "haproxy")
        for k in services:
            wait_listen(self.ports[k], proc=self.proc)
        return True

    def roots(self):
        return [self.proc.pid]

    def stop(self):
        stop(self.proc)


def gotunnel_bins():
    m = os.path.join(ROOT, "bin", "gotunnel-master")
    c = os.path.join(ROOT, "bin", "gotunnel-client")
    return (m, c) if os.access(m, os.X_OK) and os.access(c, os.X_OK) else (None, None)


def write_master_ini(path, port, allow_ports, max_clients, datadir, workers):
    with open(path, "w") as f:
        f.write("\n".join([
            "[common]", "bind_addr = 127.0.0.1", "bind_port = %d" % port,
            "token = %s" % TOKEN, "allow_ports = %s" % allow_ports,
            "workers = %d" % workers, "data_dir = %s" % datadir,
            "log_level = warn", "heartbeat_timeout = 90",
            "control_socket = %s" % os.path.join(os.path.dirname(path), "ctl.sock"),
            "max_clients = %d" % max_clients, "max_conns_per_mapping = 20000", ""]))


def build_info():
    """Which gotunnel was measured: git HEAD, dirty tree, binary times."""
    info = {}
    try:
        info["head"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                      capture_output=True, text=True, timeout=10).stdout.strip()
        info["dirty_sources"] = bool(subprocess.run(
            ["git", "-C", ROOT, "status", "--porcelain", "--", "server", "client", "common"],
            capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    for b in gotunnel_bins():
        if b:
            info[os.path.basename(b) + "_mtime"] = time.strftime(
                "%Y-%m-%d %H:%M:%S UTC", time.gmtime(os.path.getmtime(b)))
    return info


def gotunnel_env(args):
    """--gotunnel-env KEY=VALUE pairs as a dict."""
    return dict(kv.split("=", 1) for kv in args.gotunnel_env)


def check_ini(binary, ini, name):
    r = subprocess.run([binary, "-t", "-c", ini], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise RuntimeError("%s -t rejected the config: %s" % (name, (r.stderr + r.stdout).strip()[-400:]))


class Gotunnel:
    """bin/gotunnel-master + bin/gotunnel-client with a temporary config."""
    name = "gotunnel"

    def __init__(self, workers, pool, env=None):
        self.workers = workers
        self.pool = pool
        self.env = env or {}
        self.master = self.client = None
        self.tls_master, self.tls_client = [], []

    def start(self, services):
        mbin, cbin = gotunnel_bins()
        if mbin is None:
            raise RuntimeError("bin/gotunnel-master or bin/gotunnel-client missing (make failed?)")
        d = os.path.join(TMP, self.name.replace(" ", "-"))
        os.makedirs(d)
        self.port = free_port()
        self.ports = {k: free_port() for k in services}
        mini = os.path.join(d, "master.ini")
        write_master_ini(mini, self.port, ",".join(str(p) for p in self.ports.values()),
                         100, os.path.join(d, "data"), self.workers)
        with open(mini, "a") as f:
            f.write("".join(x + "\n" for x in self.tls_master))
        cini = os.path.join(d, "client.ini")
        with open(cini, "w") as f:
            f.write("\n".join([
                "[common]", "server_addr = 127.0.0.1", "server_port = %d" % self.port,
                "token = %s" % TOKEN, "name = bench", "pool_count = %d" % self.pool]
                + self.tls_client + [""]))
            for k, lport in services.items():
                f.write("\n".join(["[%s]" % k, "type = tcp", "local_ip = 127.0.0.1",
                                   "local_port = %d" % lport,
                                   "remote_port = %d" % self.ports[k], ""]))
        check_ini(mbin, mini, "gotunnel-master")
        check_ini(cbin, cini, "gotunnel-client")
        self.master = start([mbin, "-c", mini], "gotunnel-master", env=self.env)
        wait_listen(self.port, proc=self.master)
        self.client = start([cbin, "-c", cini], "gotunnel-client", env=self.env)
        wait_port(self.ports["echo"], echo=True, proc=self.client)
        wait_listen(self.ports["iperf"], proc=self.client)
        time.sleep(0.5)          # let the data-connection pool fill
        return True

    def roots(self):
        return [self.master.pid, self.client.pid]

    def stop(self):
        stop(self.client)
        stop(self.master)


class GotunnelTLS(Gotunnel):
    """The same tunnel with TLS 1.3 on its control and data connections: a
    self-signed certificate made by openssl, pinned by the client."""
    name = "gotunnel TLS"

    def start(self, services):
        d = os.path.join(TMP, "gotunnel-tls-cert")
        os.makedirs(d)
        cert, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "der"],
                             check=True, capture_output=True).stdout
        self.tls_master = ["tls_cert_file = %s" % cert, "tls_key_file = %s" % key]
        self.tls_client = ["server_fingerprint = sha256:%s" % hashlib.sha256(der).hexdigest()]
        return super().start(services)


# ---------------------------------------------------------------- measurements

def iperf(port, roots, streams=1, reverse=False, secs=5):
    """iperf3 through port; Gbit/s at the receiver plus the tunnel's CPU."""
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(secs), "-J",
            "-P", str(streams)]
    if reverse:
        argv.append("-R")
    cpu = CpuMeter(roots)
    s0 = system_ticks()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 30, cwd=TMP)
    c = cpu.stop()
    s1 = system_ticks()
    try:
        j = json.loads(r.stdout)
    except ValueError:
        raise RuntimeError("iperf3 output unreadable (rc %d): %s" % (r.returncode, r.stderr[-300:]))
    if "error" in j:
        raise RuntimeError("iperf3: %s" % j["error"])
    bps = j["end"]["sum_received"]["bits_per_second"]
    res = {"gbps": round(bps / 1e9, 3), "streams": streams, "reverse": reverse,
           "secs": secs, "retransmits": j["end"].get("sum_sent", {}).get("retransmits")}
    # Whole machine, all cores: near 100 means the run was CPU-bound.
    res.update(system_share(s0, s1))
    if c:
        res["tunnel_cpu"] = c
    return res


def iperf_once(t, key, streams, rev, secs):
    """One iperf3 run, retried once: iperf3's server may be resetting."""
    try:
        return iperf(t.ports["iperf"], t.roots(), streams, rev, secs)
    except RuntimeError as e:
        log("%s %s: %s; retrying once" % (t.name, key, e))
        time.sleep(2)
        r = iperf(t.ports["iperf"], t.roots(), streams, rev, secs)
        r["retried_after"] = str(e)
        return r


def measure_throughput(t, res, secs, runs=3):
    """Each column is the median of `runs` iperf3 runs (by Gbit/s): on 2
    shared cores one 5 s run of a CPU-bound tunnel moves by tens of percent."""
    for key, streams, rev in (("tp_1", 1, False), ("tp_4", 4, False), ("tp_rev", 1, True)):
        try:
            got = sorted((iperf_once(t, key, streams, rev, secs) for _ in range(max(runs, 1))),
                         key=lambda r: r["gbps"])
            res[key] = dict(got[len(got) // 2])
            res[key]["runs_gbps"] = [r["gbps"] for r in got]
            log("%s %s: %.2f Gbit/s, median of %s (machine busy %.0f%%, steal %.0f%%)" % (
                t.name, key, res[key]["gbps"], "/".join("%.2f" % r["gbps"] for r in got),
                res[key]["system_busy_pct"], res[key]["steal_pct"]))
        except Exception as e:           # report and go on with the next column
            res[key] = {"error": str(e)}
            log("%s %s failed: %s" % (t.name, key, e))


def measure_latency(t, res, rounds):
    try:
        cpu = CpuMeter(t.roots())
        s0 = system_ticks()
        res["latency"] = run_tool([os.path.join(TOOLS, "pingpong"), "-p", str(t.ports["echo"]),
                                   "-n", str(rounds), "-t", "60"], 90)
        c = cpu.stop()
        res["latency"].update(system_share(s0, system_ticks()))
        if c:
            res["latency"]["tunnel_cpu"] = c
        log("%s latency p50 %.1f us p99 %.1f us" % (t.name, res["latency"]["p50_us"],
                                                     res["latency"]["p99_us"]))
    except Exception as e:
        res["latency"] = {"error": str(e)}
        log("%s latency failed: %s" % (t.name, e))


def measure_cps(t, res, secs, threads):
    try:
        cpu = CpuMeter(t.roots())
        s0 = system_ticks()
        res["cps"] = run_tool([os.path.join(TOOLS, "cps"), "-p", str(t.ports["echo"]),
                               "-c", str(threads), "-d", str(secs), "-a", "100"], secs + 60)
        c = cpu.stop()
        res["cps"].update(system_share(s0, system_ticks()))
        if c:
            res["cps"]["tunnel_cpu"] = c
            if res["cps"]["conns"] and c.get("cpu_s") is not None:
                res["cps"]["tunnel_cpu_us_per_conn"] = round(c["cpu_s"] / res["cps"]["conns"] * 1e6, 1)
        log("%s conn/s %.0f p99 %.1f us (errors %d, steal %.0f%%)" % (
            t.name, res["cps"]["cps"], res["cps"]["p99_us"], res["cps"]["errors"], res["cps"]["steal_pct"]))
    except Exception as e:
        res["cps"] = {"error": str(e)}
        log("%s cps failed: %s" % (t.name, e))
    time.sleep(1)


def settle(t, fds, timeout=30.0):
    """Wait until the tunnel processes hold at most fds descriptors again
    (closed relays are torn down asynchronously); returns the count."""
    end = time.time() + timeout
    while True:
        n = memory(t.roots())["fds"]
        if n <= fds or time.time() > end:
            return n
        time.sleep(0.25)


def measure_memory(t, res, counts):
    """(held - idle) / N of the tunnel tree's Rss and Pss for each N."""
    out = {}
    base_fds = memory(t.roots())["fds"]
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    # The busiest tunnel process holds 2 descriptors per relayed connection
    # (gotunnel: the client's data + local sockets, the worker's public +
    # data sockets), and one process may hold `nofile`.
    cap = (nofile - 300) // 2 // 100 * 100
    for asked in counts:
        n = min(asked, cap)
        key = str(asked)
        hs = []
        try:
            settle(t, base_fds + 16)        # earlier connections fully gone
            time.sleep(1.0)
            idle = memory(t.roots())
            # bench/hold holds at most 16,000 (its own descriptor limit).
            share = [16000] * (n // 16000) + ([n % 16000] if n % 16000 else [])
            for i, k in enumerate(share):
                hs.append(start([os.path.join(TOOLS, "hold"), "-p", str(t.ports["echo"]),
                                 "-n", str(k), "-t", "300"],
                                "hold-%s-%d-%d" % (t.name.replace(" ", ""), n, i),
                                stdout=subprocess.PIPE, stdin=subprocess.PIPE))
            hj = {"held": 0, "errors": 0, "secs": 0}
            for h in hs:
                line = h.stdout.readline().decode()
                if not line:
                    raise RuntimeError("hold printed nothing (exit %s)" % h.poll())
                one = json.loads(line)
                hj = {"held": hj["held"] + one["held"], "errors": hj["errors"] + one["errors"],
                      "secs": max(hj["secs"], one["secs"])}
            time.sleep(1.0)
            held = memory(t.roots())
            for h in hs:
                h.stdin.close()
            for h in hs:
                try:
                    h.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    stop(h)
            got = max(hj["held"], 1)
            out[key] = {"n": n, "asked": asked, "held": hj["held"], "errors": hj["errors"],
                        "open_secs": hj["secs"], "idle": idle, "held_mem": held,
                        "rss_per_conn_kib": round((held["rss_kib"] - idle["rss_kib"]) / got, 2),
                        "pss_per_conn_kib": round((held["pss_kib"] - idle["pss_kib"]) / got, 2),
                        "fds_per_conn": round((held["fds"] - idle["fds"]) / got, 2)}
            log("%s hold %d: held %d errors %d, RSS/conn %.2f KiB, PSS/conn %.2f KiB" % (
                t.name, n, hj["held"], hj["errors"], out[key]["rss_per_conn_kib"],
                out[key]["pss_per_conn_kib"]))
            if n < asked:
                out[key]["capped"] = ("%d asked, %d held: the busiest tunnel process holds 2 descriptors "
                                      "per connection and may hold %d here" % (asked, n, nofile))
                log("%s hold: %s" % (t.name, out[key]["capped"]))
        except Exception as e:
            out[key] = {"n": n, "asked": asked, "error": str(e)}
            log("%s hold %d failed: %s" % (t.name, n, e))
            for h in hs:
                stop(h)
    left = settle(t, base_fds + 16)
    if left > base_fds + 16:
        res["memory_fds_not_released"] = left - base_fds
        log("%s: %d more fds than before the hold tests 30 s after release" % (t.name, left - base_fds))
    res["memory"] = out


def profile(t, what, secs):
    """perf record of the tunnel processes during one load; top symbols to bench/out."""
    slug = t.name.replace(" ", "").replace("-", "")
    data = os.path.join(TMP, "perf-%s-%s.data" % (slug, what))
    pids = ",".join(str(p) for p in tree(t.roots()))
    rec = start(["perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-p", pids,
                 "-o", data, "--", "sleep", str(secs)], "perf-%s-%s" % (slug, what))
    time.sleep(0.3)
    try:
        if what == "iperf":
            iperf(t.ports["iperf"], t.roots(), 1, False, secs - 1)
        else:
            run_tool([os.path.join(TOOLS, "cps"), "-p", str(t.ports["echo"]), "-c", "4",
                      "-d", str(secs - 1), "-a", "100"], secs + 60)
    finally:
        try:
            rec.wait(timeout=secs + 30)
        except subprocess.TimeoutExpired:
            stop(rec)
    r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                        "--percent-limit", "0.5", "--sort", "comm,dso,symbol"],
                       capture_output=True, text=True, timeout=120)
    top = [l.rstrip(" -") for l in r.stdout.splitlines() if l.strip() and not l.startswith("#")][:40]
    r2 = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                         "--sort", "comm,dso"], capture_output=True, text=True, timeout=120)
    dsos = [l.rstrip(" -") for l in r2.stdout.splitlines() if l.strip() and not l.startswith("#")][:12]
    path = os.path.join(OUT, "perf-%s-%s.txt" % (slug, what))
    with open(path, "w") as f:
        f.write("# perf record -e cpu-clock -F 999 -g -p <tunnel pids>, %d s of %s load\n" % (secs, what))
        f.write("# by process and object:\n" + "\n".join(dsos) + "\n")
        f.write("# top symbols (>= 0.5%):\n" + "\n".join(top) + "\n")
    log("perf profile of %s during %s: bench/out/%s" % (t.name, what, os.path.basename(path)))
    return {"file": os.path.relpath(path, ROOT), "by_dso": dsos, "top": top[:15]}


def syscalls(t, what):
    """strace -c -f of the tunnel processes during a connection-rate or
    ping-pong run: syscalls per connection / per round trip. Counts do not
    depend on how busy the machine is, unlike times."""
    slug = t.name.replace(" ", "").replace("-", "")
    out = os.path.join(TMP, "strace-%s-%s.txt" % (slug, what))
    pids = tree(t.roots())
    st = start(["strace", "-c", "-f", "-o", out] + sum([["-p", str(p)] for p in pids], []),
               "strace-%s-%s" % (slug, what))
    time.sleep(1.0)                       # strace attaches asynchronously
    try:
        if what == "cps":
            r = run_tool([os.path.join(TOOLS, "cps"), "-p", str(t.ports["echo"]), "-c", "4",
                          "-d", "3", "-a", "100"], 60)
            units = r["conns"]
        else:
            r = run_tool([os.path.join(TOOLS, "pingpong"), "-p", str(t.ports["echo"]),
                          "-n", "5000"], 120)
            units = r["rounds"] + 200     # pingpong's warm-up trips count too
    finally:
        time.sleep(0.3)
        try:
            os.kill(st.pid, signal.SIGINT)
        except OSError:
            pass
        try:
            st.wait(timeout=20)
        except subprocess.TimeoutExpired:
            stop(st)
    counts = {}
    with open(out) as f:
        for line in f:          # % time, seconds, usecs/call, calls, [errors], syscall
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                counts[parts[-1]] = int(parts[3])
    per = {k: round(v / max(units, 1), 2) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}
    path = os.path.join(OUT, "syscalls-%s-%s.txt" % (slug, what))
    with open(path, "w") as f:
        f.write("# strace -c -f of %s during %s: %d %s\n" % (
            t.name, what, units, "connections" if what == "cps" else "round trips"))
        f.write(open(out).read())
    if units == 0:
        raise RuntimeError("no %s completed under strace" % ("connection" if what == "cps" else "round trip"))
    res = {"units": units, "total_per_unit": round(sum(counts.values()) / units, 1),
           "per_unit": dict(list(per.items())[:12]), "file": os.path.relpath(path, ROOT)}
    log("%s syscalls per %s: %.1f (%s)" % (t.name, "connection" if what == "cps" else "round trip",
                                           res["total_per_unit"],
                                           ", ".join("%s %s" % kv for kv in list(per.items())[:6])))
    return res


LOADGEN_MAX = 16000     # clients per bench/loadgen process (its fds stay under 20,000)


def merge_timelines(parts):
    """Sum of several loadgen timelines ([t, registered] steps) on the union of their times."""
    times = sorted({p[0] for tl in parts for p in tl})
    out = []
    for t in times:
        n = 0
        for tl in parts:
            last = 0
            for pt in tl:
                if pt[0] > t:
                    break
                last = pt[1]
            n += last
        out.append([t, n])
    return out


def netns_prefix(name):
    """A fresh network namespace (root only), so that the control-plane test
    has all ports of 127.0.0.1 to itself and disturbs nobody else's tests;
    returns the argv prefix that runs a command in it, or None."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return None
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    atexit.register(lambda: subprocess.run(["ip", "netns", "del", name], capture_output=True))
    pre = ["ip", "netns", "exec", name]
    # Public ports come from allow_ports, the load generator's own sockets from
    # the ephemeral range: keep the two apart.
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=58000 65535"],
                ["sysctl", "-q", "-w", "net.core.somaxconn=4096"]):
        subprocess.run(pre + cmd, capture_output=True)
    return pre


def measure_control_plane(args):
    """A fresh master with max_clients = N; bench/loadgen registers N clients
    (one loadgen process per 16,000: each process is capped at 20,000 fds)."""
    mbin, _ = gotunnel_bins()
    if mbin is None:
        return {"error": "bin/gotunnel-master missing"}
    d = os.path.join(TMP, "loadgen")
    os.makedirs(d)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    pre = netns_prefix("gtbench%d" % os.getpid())
    allow = args.allow_range
    if pre is not None:
        port = 7000
        if args.allow_range == ap_default("allow_range"):
            allow = "1024-57999"
    else:
        port = free_port()
    lo, hi = (int(x) for x in allow.split("-"))
    clients = min(args.clients, hi - lo + 1)
    # Each client holds two descriptors in its worker (control connection and
    # public listener); SO_REUSEPORT spreads clients over workers by hash, so
    # leave 10% room.  The master process itself holds none per client.
    workers = max(args.workers, -(-int(clients * 2 * 1.1) // max(nofile - 500, 1)))
    write_master_ini(os.path.join(d, "master.ini"), port, allow, clients, os.path.join(d, "data"),
                     workers)
    ini = os.path.join(d, "master.ini")
    if pre is not None:
        with open(ini, "a") as f:
            f.write("proxy_bind_addr = 127.0.0.1\n")
    res = {"clients": clients, "clients_asked": args.clients, "allow_ports": allow,
           "workers": workers, "nofile": nofile, "netns": pre is not None}
    if clients < args.clients:
        res["note"] = "allow_ports %s holds only %d ports: %d clients measured" % (allow, hi - lo + 1, clients)
    if workers != args.workers:
        res["workers_note"] = ("%d workers (not %d): each client holds 2 descriptors in its worker and "
                               "a process may hold %d" % (workers, args.workers, nofile))
    m = None
    gens = []
    try:
        check_ini(mbin, ini, "gotunnel-master")
        m = start((pre or []) + [mbin, "-c", ini], "loadgen-master", env=gotunnel_env(args))
        if pre is None:
            wait_listen(port, proc=m)
        else:
            end = time.time() + 15
            while time.time() < end and m.poll() is None and ":%d " % port not in subprocess.run(
                    pre + ["ss", "-Hltn"], capture_output=True, text=True).stdout:
                time.sleep(0.2)
        time.sleep(1.5)
        res["pids"] = tree([m.pid])
        res["idle"] = memory([m.pid])
        nproc = -(-clients // LOADGEN_MAX)
        share = [clients // nproc + (1 if i < clients % nproc else 0) for i in range(nproc)]
        cpu = CpuMeter([m.pid])
        for i, n in enumerate(share):
            gens.append(start((pre or []) + [
                os.path.join(TOOLS, "loadgen"), "-p", str(port), "-k", TOKEN,
                "-n", str(n), "-w", str(max(256 // nproc, 32)), "-a", "64", "-P", "0",
                "-t", "90", "-H", str(args.hb_secs), "-i", "30"], "loadgen-%d" % i,
                stdout=subprocess.PIPE))
        regs = []
        for g in gens:
            line = g.stdout.readline().decode()
            if not line:
                raise RuntimeError("loadgen printed nothing (exit %s)" % g.poll())
            regs.append(json.loads(line))
        reg_cpu = cpu.stop()
        ok = sum(r["ok"] for r in regs)
        secs = max(r["secs"] for r in regs)
        res["register"] = {
            "processes": nproc, "ok": ok, "fail": sum(r["fail"] for r in regs), "secs": secs,
            "rate": round(ok / max(secs, 0.001), 1),
            "lat_p99_ms": max(r.get("lat_p99_ms", 0) for r in regs),
            "first_error": next((r["first_error"] for r in regs if r.get("first_error")), ""),
            "timeline": merge_timelines([r.get("timeline") or [] for r in regs]),
            "per_process": [{k: v for k, v in r.items() if k != "timeline"} for r in regs],
            "master_cpu": reg_cpu}
        res["at_clients"] = memory([m.pid])
        log("loadgen: %d ok, %d failed in %.2f s (%.0f/s, %d processes); master tree RSS %.1f MiB, "
            "%d workers" % (ok, res["register"]["fail"], secs, res["register"]["rate"], nproc,
                            res["at_clients"]["rss_kib"] / 1024, workers))
        if res["register"].get("first_error"):
            log("loadgen first error: %s" % res["register"]["first_error"])
        # Steady state: skip the first 2 s, measure until 2 s before the end.
        time.sleep(2.0)
        cpu = CpuMeter([m.pid])
        time.sleep(max(args.hb_secs - 4, 1))
        res["heartbeat_cpu"] = cpu.stop()
        hbs = []
        for g in gens:
            line = g.stdout.readline().decode()
            if line:
                hbs.append(json.loads(line))
        for g in gens:
            try:
                g.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop(g)
        if hbs:
            hb = {k: sum(h.get(k, 0) for h in hbs) for k in hbs[0] if isinstance(hbs[0][k], (int, float))}
            hb["secs"] = max(h["secs"] for h in hbs)
            hb["interval"] = hbs[0].get("interval", 30)
            hb["rate_per_s"] = round(hb.get("sent", 0) / max(hb["secs"], 0.001), 1)
            res["heartbeat"] = hb
        log("loadgen: steady-state master CPU %.1f%% of a core (%s)" % (
            res["heartbeat_cpu"]["cpu_pct"], res.get("heartbeat")))
        res["master_alive"] = m.poll() is None
        if not res["master_alive"]:
            res["master_exit"] = m.returncode
            res["master_log_tail"] = log_tail("loadgen-master")
            log("loadgen master exited with %s; log tail: %s" % (m.returncode, res["master_log_tail"]))
    except Exception as e:
        res["error"] = str(e)
        log("control-plane test failed: %s" % e)
    finally:
        for g in gens:
            stop(g)
        stop(m)
    return res


HOLD_PER_MAPPING = 8400     # relayed connections per mapping: 2 fds each in its worker and client


def measure_hold_spread(args):
    """N idle public connections held through one master when no process
    may hold 2N descriptors: in its own network namespace (root), N is
    spread over ceil(N / 8,400) clients with one mapping each, each mapping
    on a worker of its own (a mapping's connections live in the worker that
    owns its client's session; a client whose session lands on a worker
    that already has one is reconnected, which rehashes it), one hold
    process and one echo server per mapping.  (held - idle) / held of the
    summed RSS and PSS of master, workers and clients."""
    mbin, cbin = gotunnel_bins()
    if mbin is None:
        return {"error": "bin/gotunnel-master missing"}
    n = args.hold_spread
    pre = netns_prefix("gthold%d" % os.getpid())
    if pre is None:
        return {"error": "needs root and ip(8) for a network namespace of its own"}
    # Every connection to the master's port needs a source port of its own.
    subprocess.run(pre + ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535"],
                   capture_output=True)
    nmap = -(-n // HOLD_PER_MAPPING)
    workers = nmap + 2
    d = os.path.join(TMP, "hold-spread")
    os.makedirs(d)
    ctl = os.path.join(d, "ctl.sock")
    ini = os.path.join(d, "master.ini")
    write_master_ini(ini, 7000, "2000-2999", nmap + 4, os.path.join(d, "data"), workers)
    res = {"asked": n, "mappings": nmap, "workers": workers,
           "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
    m, clients, echods, holds = None, {}, [], []

    def start_client(i):
        cini = os.path.join(d, "client%d.ini" % i)
        with open(cini, "w") as f:
            f.write("\n".join(["[common]", "server_addr = 127.0.0.1", "server_port = 7000",
                               "token = %s" % TOKEN, "name = hold%d" % i, "pool_count = 8",
                               "[echo]", "type = tcp", "local_ip = 127.0.0.1",
                               "local_port = %d" % echo_ports[i], "remote_port = %d" % (2000 + i), ""]))
        clients[i] = start(pre + [cbin, "-c", cini], "hold-client-%d" % i)

    def placement():
        """worker pid of each mapping's port (from gotunnelctl mappings)."""
        r = subprocess.run([os.path.join(ROOT, "bin", "gotunnelctl"), "-c", ini, "--json", "mappings"],
                           capture_output=True, text=True, timeout=10)
        try:
            return {mp["remote_port"]: mp["worker_pid"] for mp in json.loads(r.stdout or "[]")}
        except (ValueError, KeyError, TypeError):
            return {}
    try:
        check_ini(mbin, ini, "gotunnel-master")
        m = start(pre + [mbin, "-c", ini], "hold-master")
        end = time.time() + 15
        while time.time() < end and m.poll() is None and ":7000 " not in subprocess.run(
                pre + ["ss", "-Hltn"], capture_output=True, text=True).stdout:
            time.sleep(0.2)
        echo_ports = []
        for i in range(nmap):
            e = start(pre + [os.path.join(TOOLS, "echod"), "-t", str(args.budget + 60)],
                      "hold-echod-%d" % i, stdout=subprocess.PIPE)
            echods.append(e)
            echo_ports.append(int(e.stdout.readline().split()[1]))
        for i in range(nmap):
            start_client(i)
        # One mapping per worker: reconnect the clients that share one.
        for attempt in range(40):
            time.sleep(1.0)
            pl = placement()
            if len(pl) < nmap:
                continue
            seen, clash = set(), []
            for port in sorted(pl):
                if pl[port] in seen:
                    clash.append(port - 2000)
                seen.add(pl[port])
            if not clash:
                break
            for i in clash:
                stop(clients[i])
                start_client(i)
        else:
            raise RuntimeError("could not place %d mappings on %d workers" % (nmap, workers))
        res["placement_attempts"] = attempt + 1
        time.sleep(1.0)
        roots = [m.pid] + [c.pid for c in clients.values()]
        idle = memory(roots)
        idle_parts = {"master_tree": memory([m.pid]),
                      "clients": memory([c.pid for c in clients.values()])}
        share = [n // nmap + (1 if i < n % nmap else 0) for i in range(nmap)]
        for i, k in enumerate(share):
            holds.append(start(pre + [os.path.join(TOOLS, "hold"), "-p", str(2000 + i), "-n", str(k),
                                      "-t", "300"], "hold-spread-%d" % i,
                               stdout=subprocess.PIPE, stdin=subprocess.PIPE))
        got = errors = 0
        secs = 0.0
        for h in holds:
            line = h.stdout.readline().decode()
            if not line:
                raise RuntimeError("hold printed nothing (exit %s)" % h.poll())
            one = json.loads(line)
            got += one["held"]
            errors += one["errors"]
            secs = max(secs, one["secs"])
        time.sleep(1.0)
        held = memory(roots)
        # Which side holds it: the master tree (master + workers) or the clients.
        res["held_parts"] = {"master_tree": memory([m.pid]),
                             "clients": memory([c.pid for c in clients.values()])}
        res["idle_parts"] = idle_parts
        res.update({"held": got, "errors": errors, "open_secs": secs, "idle": idle, "held_mem": held,
                    "rss_per_conn_kib": round((held["rss_kib"] - idle["rss_kib"]) / max(got, 1), 2),
                    "pss_per_conn_kib": round((held["pss_kib"] - idle["pss_kib"]) / max(got, 1), 2),
                    "anon_per_conn_kib": round((held["anon_kib"] - idle["anon_kib"]) / max(got, 1), 2),
                    "fds_per_conn": round((held["fds"] - idle["fds"]) / max(got, 1), 2)})
        log("hold spread: %d held (%d errors) over %d mappings / %d workers in %.1f s; RSS/conn %.2f KiB, "
            "PSS/conn %.2f KiB, anonymous RSS/conn %.2f KiB" % (
                got, errors, nmap, workers, secs, res["rss_per_conn_kib"], res["pss_per_conn_kib"],
                res["anon_per_conn_kib"]))
    except Exception as e:
        res["error"] = str(e)
        log("hold spread failed: %s" % e)
    finally:
        for h in holds:
            try:
                h.stdin.close()
            except OSError:
                pass
            stop(h)
        for c in clients.values():
            stop(c)
        stop(m)
        for e in echods:
            stop(e)
    return res


# ---------------------------------------------------------------- table

def fmt(v, d, base=None, unit=""):
    """A number with its ratio to direct, or '-'."""
    if v is None:
        return "-"
    s = ("%." + str(d) + "f") % v
    if base:
        s += " (%.2fx)" % (v / base)
    return s + unit


def get(res, *path):
    for p in path:
        if not isinstance(res, dict) or p not in res:
            return None
        res = res[p]
    return res


def table(results):
    """The one table: a row per tunnel, a column per figure."""
    gm = get(results["rows"], "gotunnel", "memory") or {}
    ns = "|".join("%gk" % (n / 1000) if n >= 1000 else str(n) for n in (
        get(gm, str(a), "n") or a for a in results["params"]["hold"]))
    cl = (results.get("control_plane") or {}).get("clients", results["params"]["clients"])
    cl = "%gk" % (cl / 1000) if cl >= 1000 else str(cl)
    cols = ["", "1 stream", "4 streams", "reverse", "CPU% 1s/4s/rev", "cores/Gbit 1s",
            "ping p50 us", "ping p99 us", "conn/s", "conn p99 us",
            "RSS KiB/conn " + ns, "PSS KiB/conn " + ns, "reg/s", "RSS|PSS@%s MiB" % cl, "hb CPU%"]
    direct = results["rows"].get("direct", {})
    rows = []
    for name in ("direct", "ssh -R", "haproxy", "gotunnel", "gotunnel TLS"):
        r = results["rows"].get(name)
        if r is None and name == "gotunnel" and results.get("control_plane"):
            r = {}
        if r is None:
            continue
        if "error" in r and len(r) == 1:
            rows.append([name, "failed, see Notes"] + [""] * (len(cols) - 2))
            continue
        base = lambda *p: get(direct, *p) if name != "direct" else None  # noqa: E731
        cpu = [get(r, k, "tunnel_cpu", "cpu_pct") for k in ("tp_1", "tp_4", "tp_rev")]
        mem = lambda k: "|".join(  # noqa: E731
            fmt(get(r, "memory", n, k), 2) for n in sorted(get(r, "memory") or {}, key=int)) or "-"
        cp = results.get("control_plane") if name == "gotunnel" else None
        rows.append([
            name,
            fmt(get(r, "tp_1", "gbps"), 2, base("tp_1", "gbps")),
            fmt(get(r, "tp_4", "gbps"), 2, base("tp_4", "gbps")),
            fmt(get(r, "tp_rev", "gbps"), 2, base("tp_rev", "gbps")),
            "/".join("-" if c is None else "%.0f" % c for c in cpu),
            ("%.2f" % (cpu[0] / 100.0 / get(r, "tp_1", "gbps"))
             if cpu[0] is not None and get(r, "tp_1", "gbps") else "-"),
            fmt(get(r, "latency", "p50_us"), 1, base("latency", "p50_us")),
            fmt(get(r, "latency", "p99_us"), 1, base("latency", "p99_us")),
            fmt(get(r, "cps", "cps"), 0, base("cps", "cps")),
            fmt(get(r, "cps", "p99_us"), 0, base("cps", "p99_us")),
            mem("rss_per_conn_kib") if name != "direct" else "-",
            mem("pss_per_conn_kib") if name != "direct" else "-",
            fmt(get(cp, "register", "rate"), 0),
            (fmt(get(cp, "at_clients", "rss_kib") / 1024, 0) + "|" + fmt(get(cp, "at_clients", "pss_kib") / 1024, 0)
             if get(cp, "at_clients", "rss_kib") else "-"),
            fmt(get(cp, "heartbeat_cpu", "cpu_pct"), 1),
        ])
    widths = [max(len(str(x[i])) for x in [cols] + rows) for i in range(len(cols))]
    line = lambda x: " | ".join(str(v).ljust(widths[i]) for i, v in enumerate(x)).rstrip()  # noqa
    out = [line(cols), "-+-".join("-" * w for w in widths)] + [line(x) for x in rows]
    return "\n".join(out)


def legend(results):
    m = results["machine"]
    cp = results.get("control_plane") or {}
    lines = [
        "gotunnel benchmark, %s, %s, %d cores, kernel %s" % (
            results["started"], m["cpu"], m["cores"], m["kernel"]),
        "Throughput in Gbit/s (iperf3, %d s each, median of %d runs), (x) = ratio to direct; CPU%% = tunnel "
        "processes' CPU time as %% of one core during the 1-stream / 4-stream / reverse runs (the median's)." % (
            results["params"]["secs"], results["params"].get("tp_runs", 1)),
        "ping = %d round trips of 64 bytes over one connection; conn/s = connect, 1-byte echo, close "
        "(%d threads, %d s), p99 = connect-to-echo time." % (
            results["params"]["rounds"], results["params"]["cps_threads"], results["params"]["cps_secs"]),
        "RSS/PSS per connection = (held - idle) / N of the tunnel processes (gotunnel: master + workers "
        "+ client; ssh -R: sshd tree + ssh) for N = %s idle relayed connections." % "|".join(
            str(get(results["rows"], "gotunnel", "memory", str(n), "n") or n)
            for n in results["params"]["hold"]),
        "reg/s, RSS@N, hb CPU%%: %s clients (1 mapping each) registered by bench/loadgen against a fresh "
        "master (%s workers%s); RSS (summed; pages shared by the workers, e.g. LMDB's map, count once per process) and PSS of the master tree with all of them connected; master CPU while they "
        "send heartbeats (every %s s, spread out)." % (
            cp.get("clients", results["params"]["clients"]), cp.get("workers", "?"),
            ", own network namespace" if cp.get("netns") else "",
            get(cp, "heartbeat", "interval") or 30),
    ]
    lines.append("CPU idle: %s." % (m.get("pm_qos") or "default idle states (wake-up latency of idle "
                                         "CPUs included in every figure)"))
    b = results.get("gotunnel_build") or {}
    if b.get("head"):
        lines.append("gotunnel at git %s%s, binaries built %s." % (
            b["head"], " (sources modified)" if b.get("dirty_sources") else "",
            b.get("gotunnel-master_mtime", "?")))
    notes = []
    la = max(m["loadavg_start"][0], m.get("loadavg_end", [0])[0])
    if la > 0.8:
        notes.append("other work was running on this machine (load average %.1f at start, %.1f at end "
                      "on %d cores): figures are noisy, compare rows of this run only" % (
                          m["loadavg_start"][0], m.get("loadavg_end", [0])[0], m["cores"]))
    for name, r in results["rows"].items():
        for k, v in sorted(r.items()):
            if isinstance(v, dict) and "error" in v:
                notes.append("%s %s: %s" % (name, k, v["error"]))
            if k == "memory" and isinstance(v, dict):
                for n, mm in v.items():
                    if "error" in mm:
                        notes.append("%s memory %s: %s" % (name, n, mm["error"]))
                    elif mm.get("errors"):
                        notes.append("%s memory %s: only %d of %d held (%d errors)" % (
                            name, n, mm["held"], mm["n"], mm["errors"]))
            if k == "cps" and isinstance(v, dict) and v.get("errors"):
                notes.append("%s conn/s: %d failed connections" % (name, v["errors"]))
        if "error" in r:
            notes.append("%s: %s" % (name, r["error"]))
    if m.get("run_steal_pct", 0) >= 2:
        notes.append("the hypervisor stole %.1f%% of the CPU time during the run (steal in /proc/stat): "
                     "figures are noisy" % m["run_steal_pct"])
    if results.get("nofile_note"):
        notes.append(results["nofile_note"])
    if results.get("aborted"):
        notes.append(results["aborted"])
    if cp.get("error"):
        notes.append("control plane: %s" % cp["error"])
    for k in ("note", "workers_note"):
        if cp.get(k):
            notes.append("control plane: %s" % cp[k])
    if get(cp, "register", "fail"):
        notes.append("control plane: %d registrations failed, first error: %s" % (
            cp["register"]["fail"], cp["register"].get("first_error")))
    if get(cp, "heartbeat", "lost"):
        notes.append("control plane: %d clients lost during the heartbeat phase" % cp["heartbeat"]["lost"])
    return lines, notes


def measure_row(t, res, args, results):
    """Every column of one tunnel row; a failing column is recorded, not fatal."""
    try:
        t.start(results["services"])
    except Exception as e:
        res["error"] = "did not start: %s" % e
        log("%s did not start: %s" % (t.name, e))
        return
    res["pids"] = tree(t.roots())         # to match against other logs if one dies
    measure_throughput(t, res, args.secs, args.tp_runs)
    measure_latency(t, res, args.rounds)
    measure_cps(t, res, args.cps_secs, args.cps_threads)
    if not t.roots():
        return
    # The largest counts only for the plain tunnel: ssh -R opens a channel in
    # ~7 ms and the TLS tunnel handshakes each connection, minutes at 10,000.
    counts = results["params"]["hold"]
    if t.name != "gotunnel" and len(counts) > 2:
        counts = [n for n in counts if n <= 5000] or counts[:1]
    measure_memory(t, res, counts)
    res["alive_after"] = all(os.path.exists("/proc/%d" % p) and not zombie(p) for p in t.roots())
    if not res["alive_after"]:
        res["error"] = "a tunnel process died during the run: " + ", ".join(
            "%s exit %s" % (c.bench_name, c.poll()) for c in CHILDREN
            if c.pid in t.roots() and c.poll() is not None)
        return
    if args.syscalls and shutil.which("strace"):
        res["syscalls"] = {}
        for what in ("cps", "pingpong"):
            try:
                res["syscalls"][what] = syscalls(t, what)
            except Exception as e:
                res["syscalls"][what] = {"error": str(e)}
                log("strace %s failed: %s" % (what, e))
    if args.perf and shutil.which("perf"):
        res["perf"] = {}
        for what in ("iperf", "cps"):
            try:
                res["perf"][what] = profile(t, what, 6)
            except Exception as e:
                res["perf"][what] = {"error": str(e)}
                log("perf %s failed: %s" % (what, e))


# ---------------------------------------------------------------- main

AP_DEFAULTS = {}


def ap_default(name):
    """The default of a command-line option (to tell whether it was changed)."""
    return AP_DEFAULTS.get(name)


def main():
    global TMP
    ap = argparse.ArgumentParser(description="gotunnel benchmark")
    ap.add_argument("--rows", default="direct,ssh,haproxy,gotunnel,tls,holdspread,loadgen",
                    help="which parts to run (loadgen = gotunnel control-plane columns, "
                    "holdspread = --hold-spread connections over several mappings)")
    ap.add_argument("--secs", type=int, default=5, help="seconds per iperf3 run")
    ap.add_argument("--tp-runs", type=int, default=3,
                    help="iperf3 runs per throughput column (the median is reported)")
    ap.add_argument("--rounds", type=int, default=20000, help="ping-pong round trips")
    ap.add_argument("--cps-secs", type=int, default=5)
    ap.add_argument("--cps-threads", type=int, default=4)
    ap.add_argument("--hold", default="1000,5000,50000", help="held connection counts")
    ap.add_argument("--hold-spread", type=int, default=50000,
                    help="connections held over several mappings (row holdspread)")
    ap.add_argument("--clients", type=int, default=50000, help="load generator clients")
    ap.add_argument("--hb-secs", type=int, default=20, help="heartbeat phase seconds")
    ap.add_argument("--allow-range", default="12000-31999", help="allow_ports of the loadgen master")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--pool", type=int, default=8, help="gotunnel client pool_count")
    ap.add_argument("--no-loadgen", action="store_true")
    ap.add_argument("--gotunnel-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for the gotunnel processes (experiments), repeatable")
    ap.add_argument("--perf", action="store_true", help="perf-profile the tunnels (iperf, conn/s)")
    ap.add_argument("--no-syscalls", dest="syscalls", action="store_false",
                    help="skip the strace -c counts (syscalls per connection and per round trip)")
    ap.add_argument("--budget", type=int, default=900, help="hard limit for the whole run, seconds")
    ap.add_argument("--no-pm-qos", dest="pm_qos", action="store_false",
                    help="do not hold /dev/cpu_dma_latency at 0 during the run")
    args = ap.parse_args()
    AP_DEFAULTS.update({a.dest: a.default for a in ap._actions})

    # Children inherit this: N held connections need 2N fds in the busiest
    # tunnel process, N clients 2N/workers per worker.  As root, try to raise
    # the hard limit too (needs CAP_SYS_RESOURCE, which a container may lack).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(2 * max([int(x) for x in args.hold.split(",") if x] + [0]) + 1000, hard)
    nofile_note = None
    if os.geteuid() == 0 and want > hard:
        try:
            with open("/proc/sys/fs/nr_open") as f:
                want = min(want, int(f.read()))
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            nofile_note = "descriptor limit raised from %d to %d (root)" % (hard, want)
            hard = want
        except (OSError, ValueError) as e:
            nofile_note = ("descriptor limit stays at %d: raising it to %d as root failed (%s; "
                           "no CAP_SYS_RESOURCE here)" % (hard, want, e))
    log(nofile_note or "descriptor limit %d" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):             # no stale profiles next to new results
        if f.startswith(("perf-", "syscalls-")) and f.endswith(".txt"):
            os.unlink(os.path.join(OUT, f))
    TMP = tempfile.mkdtemp(prefix="gotunnel-bench-")
    atexit.register(cleanup)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(args.budget)

    cpu_model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    cpu_model = l.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    results = {
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpu": cpu_model, "cores": os.cpu_count(), "kernel": platform.release(),
                    "loadavg_start": os.getloadavg(), "nofile": hard, "iperf3": subprocess.run(["iperf3", "--version"], capture_output=True,
                                                             text=True).stdout.split("\n")[0],
                    "ssh": subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()},
        "params": {"secs": args.secs, "tp_runs": args.tp_runs, "rounds": args.rounds, "cps_secs": args.cps_secs,
                   "cps_threads": args.cps_threads, "hold": [int(x) for x in args.hold.split(",") if x],
                   "clients": args.clients, "workers": args.workers, "pool_count": args.pool,
                   "gotunnel_env": gotunnel_env(args)},
        "rows": {},
        "nofile_note": nofile_note,
        "tmp": TMP,
        "gotunnel_build": build_info(),
    }
    t_start = time.time()
    run_ticks0 = system_ticks()
    # An idle CPU of this VM (cpuidle haltpoll) takes ~80 us to wake up, which
    # would swamp loopback latency (direct ping p50 ~100 us idle vs ~20 us busy).
    # A PM QoS request of 0 keeps idle CPUs polling while we hold the fd; the
    # kernel drops the request when the fd closes (at our exit at the latest).
    results["machine"]["pm_qos"] = None
    if args.pm_qos and os.access("/dev/cpu_dma_latency", os.W_OK):
        try:
            qos_fd = os.open("/dev/cpu_dma_latency", os.O_WRONLY)
            os.write(qos_fd, (0).to_bytes(4, sys.byteorder, signed=True))
            results["machine"]["pm_qos"] = "cpu_dma_latency=0 (idle CPUs poll)"
        except OSError as e:
            log("could not set /dev/cpu_dma_latency: %s" % e)

    # The local services every tunnel points at.
    iperf_port = free_port()
    iperf_srv = start(["iperf3", "-s", "-B", "127.0.0.1", "-p", str(iperf_port)], "iperf3-server")
    echod = start([os.path.join(TOOLS, "echod"), "-t", str(args.budget + 60)], "echod",
                  stdout=subprocess.PIPE)
    echo_port = int(echod.stdout.readline().split()[1])
    wait_listen(iperf_port, proc=iperf_srv)
    services = {"iperf": iperf_port, "echo": echo_port}
    results["services"] = services

    wanted = args.rows.split(",")
    tunnels = []
    if "direct" in wanted:
        tunnels.append(Direct())
    if "ssh" in wanted:
        tunnels.append(SshR())
    if "haproxy" in wanted:
        tunnels.append(HAProxy())
    if "gotunnel" in wanted:
        tunnels.append(Gotunnel(args.workers, args.pool, gotunnel_env(args)))
    if "tls" in wanted:
        tunnels.append(GotunnelTLS(args.workers, args.pool, gotunnel_env(args)))
    try:
        for t in tunnels:
            res = {}
            results["rows"][t.name] = res
            log("--- %s" % t.name)
            try:
                measure_row(t, res, args, results)
            finally:
                t.stop()
        if "holdspread" in wanted:
            log("--- %d held connections over several mappings" % args.hold_spread)
            results["hold_spread"] = measure_hold_spread(args)
        if "loadgen" in wanted and not args.no_loadgen:
            log("--- control plane (%d clients)" % args.clients)
            results["control_plane"] = measure_control_plane(args)
    except BudgetExceeded:
        results["aborted"] = "time budget of %d s exceeded; the table shows what was measured" % args.budget
        log(results["aborted"])
    signal.alarm(0)

    results["elapsed_s"] = round(time.time() - t_start, 1)
    results["machine"].update({"run_" + k: v for k, v in system_share(run_ticks0, system_ticks()).items()})
    results["machine"]["loadavg_end"] = os.getloadavg()
    lines, notes = legend(results)
    text = "\n".join(lines) + "\n\n" + table(results) + "\n"
    sc = [(n, r["syscalls"]) for n, r in results["rows"].items() if isinstance(r.get("syscalls"), dict)]
    if sc:
        text += "\nSyscalls of the tunnel processes (strace -c -f; counts, immune to machine load):\n"
        for n, v in sc:
            def one(k):
                x = v.get(k) or {}
                if "total_per_unit" not in x:
                    return "- (%s)" % x["error"] if x.get("error") else "-"
                return "%.1f (%s)" % (x["total_per_unit"], ", ".join(
                    "%s %g" % kv for kv in list(x["per_unit"].items())[:4]))
            text += "  %-9s per new connection %s\n  %-9s per 64-byte round trip %s\n" % (
                n, one("cps"), "", one("pingpong"))
    hsp = results.get("hold_spread")
    if hsp:
        text += "\nHeld connections over several mappings (row holdspread): "
        if "rss_per_conn_kib" in hsp:
            text += ("%d of %d held (%d errors) through %d mappings on %d workers, each mapping on a "
                     "worker of its own; per connection RSS %.2f KiB, PSS %.2f KiB, anonymous "
                     "RSS %.2f KiB (master, workers and clients summed)\n" % (
                         hsp["held"], hsp["asked"], hsp["errors"], hsp["mappings"], hsp["workers"],
                         hsp["rss_per_conn_kib"], hsp["pss_per_conn_kib"], hsp["anon_per_conn_kib"]))
        else:
            text += "- (%s)\n" % hsp.get("error")
    if notes:
        text += "\nNotes:\n" + "\n".join("- " + n for n in notes) + "\n"
    text += "\n(%.0f s; raw results in bench/out/results.json)\n" % results["elapsed_s"]
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(OUT, "results.txt"), "w") as f:
        f.write(text)
    import charts  # bench/charts.py: SVG charts of this run (gnuplot)
    for p in charts.write(results, OUT):
        log("chart: %s" % p)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
