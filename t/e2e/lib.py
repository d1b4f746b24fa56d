# SPDX-License-Identifier: ISC
"""Harness for gotunnel's end-to-end tests: real binaries on 127.0.0.1.

Every test gets an Env: its own temp dir, free ports, data_dir and control
socket.  Env.close() stops every process the test started (SIGTERM, then
SIGKILL of the process group) even when the test failed.  Standard library
only; every wait is bounded in time.
"""

import hashlib
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_bin = os.environ.get("GOTUNNEL_BIN", "bin")
BIN = _bin if os.path.isabs(_bin) else os.path.join(ROOT, _bin)
MASTER = os.path.join(BIN, "gotunnel-master")
CLIENT = os.path.join(BIN, "gotunnel-client")
CTL = os.path.join(BIN, "gotunnelctl")


def snapshot_binaries(dest):
    """Copies the three programs to dest and uses the copies from now on.

    A rebuild of GOTUNNEL_BIN during the run (other people work in the same
    tree) then cannot hand a test a half-written binary, or a master and
    workers from two different builds.  Each copy must answer -V.
    """
    global BIN, MASTER, CLIENT, CTL
    srcs = {"gotunnel-master": MASTER, "gotunnel-client": CLIENT, "gotunnelctl": CTL}
    for attempt in range(10):
        ok = True
        for name, src in srcs.items():
            dst = os.path.join(dest, name)
            try:
                shutil.copy2(src, dst)
            except OSError:
                ok = False
                break
            if name != "gotunnelctl":
                try:
                    r = subprocess.run([dst, "-V"], capture_output=True, timeout=20)
                    ok = ok and r.returncode == 0
                except (OSError, subprocess.TimeoutExpired):
                    ok = False
        if ok:
            break
        time.sleep(2)     # probably caught a rebuild in progress
    else:
        return False
    BIN = dest
    MASTER, CLIENT, CTL = (os.path.join(dest, n) for n in srcs)
    return True


LOCAL = "127.0.0.1"
MAX_FRAME = 65536

# Lines that mean a sanitizer caught something in a process we started.
SANITIZER_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
    r"SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)")


class TestFailure(AssertionError):
    """A test's assertion failed; the message says what and why."""


class TestTimeout(Exception):
    """The per-test watchdog fired."""


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def wait_until(fn, timeout, what, interval=0.2):
    """Call fn until it returns a true value (returned) or timeout passes."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except TestFailure:
            raise
        except Exception as e:  # noqa: BLE001 - reported below
            last = e
        if time.monotonic() >= deadline:
            extra = " (last error: %r)" % (last,) if last is not None else ""
            fail("timed out after %.0fs waiting for %s%s" % (timeout, what, extra))
        time.sleep(interval)


# ---------------------------------------------------------------- ports

_handed_out = set()
_port_lock = threading.Lock()
# Ports handed out by any run of this suite on this machine (one file per port,
# holding the pid).  bind() cannot tell: the master listens with SO_REUSEPORT,
# so two runs that picked the same "free" port would both bind it and share
# its connections.
PORT_DIR = "/tmp/gte2e-ports"


def _claim_port(p):
    """Marks port p as ours across processes; False if a live run holds it."""
    os.makedirs(PORT_DIR, exist_ok=True)
    path = os.path.join(PORT_DIR, str(p))
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                with open(path) as f:
                    owner = int(f.read().strip() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner and owner != os.getpid() and pid_alive(owner):
                return False
            try:
                os.unlink(path)       # left behind by a run that is gone
            except OSError:
                pass
            continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def release_ports():
    """Removes this process's port claims (at exit)."""
    for p in list(_handed_out):
        path = os.path.join(PORT_DIR, str(p))
        try:
            with open(path) as f:
                if f.read().strip() == str(os.getpid()):
                    os.unlink(path)
        except OSError:
            pass


def _bindable_anywhere(p):
    """True if no socket on any local address (TIME_WAIT ones too) holds port p."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("0.0.0.0", p))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(host=LOCAL):
    """A TCP port that was free a moment ago and that no run of this suite holds."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, 0))
            p = s.getsockname()[1]
        finally:
            s.close()
        # Free on host is not enough: a TIME_WAIT left by a test that bound
        # its client sockets to 127.0.0.12 (say) keeps a master on that
        # address from listening there.  The wildcard conflicts with them all.
        if not _bindable_anywhere(p):
            continue
        with _port_lock:
            if p in _handed_out or not _claim_port(p):
                continue
            _handed_out.add(p)
            return p
    fail("could not find a free port")


def port_refuses(port, host=LOCAL, timeout=1.0):
    """True if a TCP connect to host:port is refused."""
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()


def port_accepts(port, host=LOCAL, timeout=1.0):
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---------------------------------------------------------------- framing

def encode(msg):
    """One frame: 4-byte big-endian length + payload (dict -> JSON, or raw bytes)."""
    if isinstance(msg, dict):
        body = json.dumps(msg, separators=(",", ":")).encode()
    elif isinstance(msg, str):
        body = msg.encode()
    else:
        body = bytes(msg)
    return struct.pack(">I", len(body)) + body


def recv_exact(sock, n):
    """Exactly n bytes; EOFError if the peer closes first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def recv_frame(sock):
    """One frame as a dict (raises EOFError on close, ValueError on bad JSON)."""
    (n,) = struct.unpack(">I", recv_exact(sock, 4))
    if n == 0 or n > MAX_FRAME:
        raise ValueError("server sent a frame of length %d" % n)
    body = recv_exact(sock, n)
    obj = json.loads(body.decode())
    if not isinstance(obj, dict):
        raise ValueError("server sent a non-object frame: %r" % body[:200])
    return obj


def parse_frames(buf):
    """Split raw bytes into frames (dicts); leftovers are reported as such."""
    out = []
    i = 0
    while i + 4 <= len(buf):
        (n,) = struct.unpack(">I", buf[i:i + 4])
        if i + 4 + n > len(buf):
            break
        body = buf[i + 4:i + 4 + n]
        try:
            out.append(json.loads(body.decode()))
        except ValueError:
            out.append({"_unparseable": body[:200]})
        i += 4 + n
    return out, buf[i:]


def read_until_close(sock, timeout):
    """Read everything until EOF/RST or timeout.

    Returns (bytes, closed, seconds): closed is "eof" or "reset", or False if
    the deadline passed with the connection still open.
    """
    t0 = time.monotonic()
    deadline = t0 + timeout
    buf = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(buf), False, time.monotonic() - t0
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return bytes(buf), False, time.monotonic() - t0
        except (ConnectionResetError, BrokenPipeError):
            return bytes(buf), "reset", time.monotonic() - t0
        if not chunk:
            return bytes(buf), "eof", time.monotonic() - t0
        buf += chunk


def connect(port, host=LOCAL, src=None, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect((host, port))
    return s


def register_msg(token, local_port, remote_port, name, protocol="tcp", **extra):
    """A register message in the seed's member order, plus extras."""
    m = {"type": "register", "local_port": local_port, "remote_port": remote_port,
         "protocol": protocol, "token": token, "name": name}
    m.update(extra)
    return m


# ---------------------------------------------------------------- processes

class Proc:
    """A process we started, in its own process group, output to a log file."""

    def __init__(self, name, argv, log_path, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.logf = open(log_path, "ab")
        self.logf.write(("=== start %s: %s\n" % (time.strftime("%H:%M:%S"), " ".join(argv))).encode())
        self.logf.flush()
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if env:
            e.update(env)
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                  stderr=subprocess.STDOUT, start_new_session=True,
                                  cwd=ROOT, env=e)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def returncode(self):
        return self.p.poll()

    def kill9(self):
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.p.wait(timeout=10)

    def term_wait(self, timeout=10.0):
        """SIGTERM and wait; returns the exit status or None if still running."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        return self.p.poll()

    def stop(self, timeout=10.0):
        """SIGTERM, wait up to timeout; then SIGKILL. Returns the exit status."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.killgroup()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        return self.p.poll()

    def killgroup(self):
        """SIGKILL whatever is left in this process's group (e.g. workers)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self):
        self.stop(timeout=5.0)
        try:
            self.logf.close()
        except OSError:
            pass

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def run_cmd(argv, timeout=20, env=None):
    """Run a short command; returns (rc, stdout, stderr)."""
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    if env:
        e.update(env)
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, cwd=ROOT, env=e)
    except subprocess.TimeoutExpired:
        fail("command timed out after %ss: %s" % (timeout, " ".join(argv)))
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def socket_report(ports, limit=40):
    """`ss` lines of TCP sockets on these ports that hold unread or unsent bytes.

    Taken when a relay seems stuck, to show at which hop the bytes wait.
    """
    flt = " or ".join("sport = :%d or dport = :%d" % (p, p) for p in ports)
    try:
        r = subprocess.run(["ss", "-tnpH", "state", "all", "( %s )" % flt], capture_output=True,
                           text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return ["ss failed: %r" % e]
    out = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 5 and (f[1] != "0" or f[2] != "0"):
            out.append(" ".join(f[:5] + [x for x in f[5:] if x.startswith("users:")])[:200])
    return out[:limit] or ["(no socket on %r holds bytes)" % (ports,)]


def proc_status(pid, key):
    """The number after `key:` in /proc/PID/status (0 if the process is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_secs(pid):
    """User + system CPU seconds of a process (0 if it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); look at its state.
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read().rsplit(")", 1)[1].split()[0]
        return st != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------- configs

def write_ini(path, sections):
    """sections: list of (name, dict) in order."""
    lines = []
    for name, kv in sections:
        lines.append("[%s]" % name)
        for k, v in kv.items():
            lines.append("%s = %s" % (k, v))
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


class Master:
    """A gotunnel-master with a config of its own."""

    def __init__(self, env, name="master", **overrides):
        self.env = env
        self.name = name
        self.conf = os.path.join(env.dir, name + ".ini")
        self.log_path = os.path.join(env.dir, name + ".log")
        self.data_dir = os.path.join(env.dir, name + "-data")
        self.cfg = {
            "bind_addr": LOCAL,
            "bind_port": free_port(),
            "proxy_bind_addr": LOCAL,
            "token": env.token,
            "allow_ports": ",".join(str(p) for p in env.ports),
            "workers": 2,
            "data_dir": self.data_dir,
            "log_level": "debug",
            "heartbeat_timeout": 5,
            "control_socket": os.path.join(env.dir, name + ".sock"),
            "max_clients": 100,
            "max_conns_per_mapping": 1000,
        }
        self.cfg.update(env.master_defaults)
        self.cfg.update(overrides)
        self.sections = []          # more (name, dict) after [common], e.g. [alert.ops]
        self.proc = None

    @property
    def port(self):
        return int(self.cfg["bind_port"])

    @property
    def token(self):
        return self.cfg["token"]

    def write(self):
        write_ini(self.conf, [("common", self.cfg)] + list(self.sections))

    def start(self, timeout=30, retries=3):
        """Start and wait until all workers run and the control port answers."""
        for attempt in range(retries):
            self.write()
            self.proc = Proc(self.name, [MASTER, "-c", self.conf], self.log_path)
            self.env.procs.append(self.proc)
            try:
                self.wait_ready(timeout)
                return self
            except TestFailure:
                log = self.proc.log()
                if not self.proc.alive() and "in use" in log and attempt + 1 < retries:
                    # Someone else took our port between probe and bind.
                    self.cfg["bind_port"] = free_port()
                    continue
                raise
        fail("master did not start")

    def wait_ready(self, timeout=30):
        nworkers = int(self.cfg["workers"])

        def ready():
            if not self.proc.alive():
                fail("master exited with status %s during start" % self.proc.returncode())
            st = self.status(must=False)
            if not st or not isinstance(st.get("workers"), list):
                return False
            pids = [w.get("pid") for w in st["workers"]]
            if len(pids) != nworkers or not all(isinstance(p, int) and p > 0 and pid_alive(p) for p in pids):
                return False
            return port_accepts(self.port)
        wait_until(ready, timeout, "master %s to be ready" % self.name, interval=0.2)

    def restart_same(self, timeout=30):
        """Start again with the same config (after stop)."""
        self.proc = Proc(self.name, [MASTER, "-c", self.conf], self.log_path)
        self.env.procs.append(self.proc)
        self.wait_ready(timeout)

    def ctl(self, *args, timeout=15):
        return run_cmd([CTL, "-c", self.conf] + list(args), timeout=timeout)

    def ctl_json(self, cmd, must=True):
        rc, out, err = self.ctl(cmd, "--json")
        # status exits 1 while the master does not serve (a probe's answer),
        # but still prints the JSON: tests read it (e.g. during a crash loop).
        if rc == 1 and cmd == "status" and out.startswith("{"):
            rc = 0
        if rc != 0:
            if must:
                fail("gotunnelctl %s --json: exit %d: %s" % (cmd, rc, err.strip()[-500:]))
            return None
        try:
            return json.loads(out)
        except ValueError:
            if must:
                fail("gotunnelctl %s --json printed invalid JSON: %r" % (cmd, out[:500]))
            return None

    def status(self, must=True):
        return self.ctl_json("status", must)

    def clients(self):
        v = self.ctl_json("clients")
        check(isinstance(v, list), "clients --json is not an array: %r" % (v,))
        return v

    def mappings(self):
        v = self.ctl_json("mappings")
        check(isinstance(v, list), "mappings --json is not an array: %r" % (v,))
        return v

    def mapping_for(self, port):
        for m in self.mappings():
            if m.get("remote_port") == port:
                return m
        return None

    def worker_pids(self):
        return [w.get("pid") for w in self.status()["workers"]]


class Client:
    """A gotunnel-client with its own config.

    mappings: list of dicts {name, local_port, remote_port[, local_ip]}.
    """

    def __init__(self, env, master, mappings, name=None, **overrides):
        self.env = env
        self.master = master
        env.nclients += 1
        self.name = name or "e2e-%s-%d" % (env.short, env.nclients)
        self.conf = os.path.join(env.dir, self.name + ".ini")
        self.log_path = os.path.join(env.dir, self.name + ".log")
        self.cfg = {
            "server_addr": LOCAL,
            "server_port": master.port,
            "token": master.token,
            "name": self.name,
            "heartbeat_interval": 1,
            "heartbeat_timeout": 5,
            "pool_count": 8,
            "log_level": "debug",
        }
        self.cfg.update(env.client_defaults)
        self.cfg.update(overrides)
        self.maps = mappings
        self.proc = None

    def write(self):
        secs = [("common", self.cfg)]
        for m in self.maps:
            kv = {"type": "tcp", "local_ip": m.get("local_ip", LOCAL),
                  "local_port": m["local_port"], "remote_port": m["remote_port"]}
            kv.update(m.get("extra", {}))   # more mapping keys (limits, ...)
            for k in ("allow_cidrs", "deny_cidrs"):
                if k in m:
                    kv[k] = m[k]
            secs.append((m["name"], kv))
        write_ini(self.conf, secs)

    def start(self, wait=True, timeout=20):
        self.write()
        self.proc = Proc(self.name, [CLIENT, "-c", self.conf], self.log_path)
        self.env.procs.append(self.proc)
        if wait:
            return self.wait_registered(timeout)
        return None

    def my_mappings(self):
        return [m for m in self.master.mappings() if m.get("client_name") == self.name]

    def wait_registered(self, timeout=20):
        """Wait until all our mappings are in the table; returns {name: remote_port}."""
        want = {m["name"]: int(m["remote_port"]) for m in self.maps}

        def done():
            if not self.proc.alive():
                fail("client %s exited with status %s" % (self.name, self.proc.returncode()))
            got = {m.get("name"): m.get("remote_port") for m in self.my_mappings()}
            for n, rp in want.items():
                if n not in got or (rp and got[n] != rp):
                    return None
            return got
        return wait_until(done, timeout, "client %s to register %s" % (self.name, want))

    def client_ids(self):
        return [c.get("id") for c in self.master.clients() if c.get("name") == self.name]


# ---------------------------------------------------------------- local services

def quiet_shutdown(sock):
    """shutdown(SHUT_RDWR), ignoring errors: wakes a thread blocked on sock."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def quiet_close(sock):
    try:
        sock.close()
    except OSError:
        pass


class Service:
    """A threaded TCP server on 127.0.0.1 (port 0) running handler(conn, addr).

    close() wakes every thread with shutdown() and waits for it before the
    descriptors are closed: a thread still inside accept()/recv() on a number
    that close() freed would otherwise act on whatever socket the next test
    gets under that number (an old handler answering a new connection).
    """

    def __init__(self, handler, host=LOCAL):
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.threads = []
        self.errors = []
        self.accepted = 0
        self.lock = threading.Lock()
        self.closed = False
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.closed:
            try:
                c, a = self.sock.accept()
            except OSError:
                return
            if self.closed:
                quiet_close(c)
                return
            t = threading.Thread(target=self._run, args=(c, a), daemon=True)
            with self.lock:
                self.conns.append(c)
                self.threads.append(t)
                self.accepted += 1
            t.start()

    def _run(self, c, a):
        c.settimeout(120)
        try:
            self.handler(c, a)
        except Exception as e:  # noqa: BLE001 - recorded for the test
            if not self.closed:
                with self.lock:
                    self.errors.append(repr(e))
        finally:
            quiet_close(c)

    def close(self, timeout=5.0):
        self.closed = True
        deadline = time.monotonic() + timeout
        quiet_shutdown(self.sock)           # accept() returns
        self.t.join(max(0.1, deadline - time.monotonic()))
        with self.lock:
            conns, threads = list(self.conns), list(self.threads)
        for c in conns:
            quiet_shutdown(c)               # recv()/send() return
        for t in threads:
            t.join(max(0.05, deadline - time.monotonic()))
        if not self.t.is_alive():
            quiet_close(self.sock)
        # A handler still running (e.g. waiting on an event) closes its own socket.


def echo_handler(c, a):
    """Echo everything; on EOF half-close back."""
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)


def echo_roundtrip(port, payload=None, timeout=5.0, src=None):
    """Send payload through port, expect it echoed back. Raises on any problem."""
    if payload is None:
        payload = os.urandom(1024)
    s = connect(port, timeout=timeout, src=src)
    try:
        s.sendall(payload)
        got = recv_exact(s, len(payload))
        if got != payload:
            raise TestFailure("echo through port %d returned different bytes" % port)
        return True
    finally:
        s.close()


def check_tunnel(port, what, timeout=5.0):
    """Fail with the reason if a small echo through port does not work."""
    t0 = time.monotonic()
    try:
        echo_roundtrip(port, os.urandom(256), timeout=timeout)
    except (OSError, EOFError, TestFailure) as e:
        fail("%s: echo through port %d failed after %.1fs: %r" % (what, port, time.monotonic() - t0, e))


def tunnel_works(port, timeout=3.0):
    """True if a small echo roundtrip through port works (for polling)."""
    try:
        return echo_roundtrip(port, os.urandom(256), timeout=timeout)
    except (OSError, EOFError, TestFailure):
        return False


# ---------------------------------------------------------------- protocol client in python

class PyClient:
    """A gotunnel client spoken from python (control + data connections)."""

    def __init__(self, server_port, src=None, heartbeat=1.0):
        self.server_port = server_port
        self.sock = connect(server_port, src=src, timeout=10)
        self.sock.settimeout(None)
        self.wlock = threading.Lock()
        self.local = {}           # remote_port -> local_port
        self.replies = queue.Queue()
        self.closed = threading.Event()
        self.data_ids = []
        self.data_socks = []
        self.data_errors = []
        self.open_data = threading.Event()
        self.heartbeat = heartbeat
        self.client_id = None
        self.ack = True           # answer the server's heartbeats
        self.hb_time = False      # send the optional "time" member in heartbeats
        self.server_heartbeats = 0
        self.starts = []          # the "start" frames seen on data connections
        self.threads = []
        self.reader = self._spawn(self._read)
        if heartbeat:
            self._spawn(self._beat)

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        self.threads.append(t)
        t.start()
        return t

    def send(self, msg):
        with self.wlock:
            self.sock.sendall(encode(msg))

    def _beat(self):
        while not self.closed.wait(self.heartbeat):
            try:
                self.send({"type": "heartbeat", "time": int(time.time())} if self.hb_time else {"type": "heartbeat"})
            except OSError:
                return

    def _read(self):
        try:
            while True:
                m = recv_frame(self.sock)
                t = m.get("type")
                if t == "heartbeat":
                    self.server_heartbeats += 1
                    if not self.ack:
                        continue
                    try:
                        self.send({"type": "heartbeat_ack"})
                    except OSError:
                        pass
                elif t == "heartbeat_ack":
                    pass
                elif t == "open_data":
                    self.data_ids.append(m.get("data_id"))
                    self.open_data.set()
                    if not self.closed.is_set():
                        self._spawn(lambda i=m.get("data_id"): self._data(i))
                else:
                    self.replies.put(m)
        except (EOFError, OSError, ValueError) as e:
            self.replies.put({"_closed": repr(e)})
        finally:
            self.closed.set()

    def reply(self, timeout=10.0):
        """The next non-heartbeat, non-open_data message, or {'_closed':..}."""
        try:
            return self.replies.get(timeout=timeout)
        except queue.Empty:
            fail("no reply from the server within %.0fs" % timeout)

    def register(self, token, local_port, remote_port, name="pyclient", **extra):
        self.send(register_msg(token, local_port, remote_port, name, **extra))
        r = self.reply()
        if r.get("type") == "register_response" and r.get("status") == "ok":
            self.local[r.get("remote_port")] = local_port
            self.client_id = r.get("client_id")
        return r

    def _data(self, data_id):
        if self.closed.is_set():
            return
        try:
            s = connect(self.server_port, timeout=10)
        except OSError as e:
            self.data_errors.append("connect: %r" % e)
            return
        self.data_socks.append(s)
        try:
            s.sendall(encode({"type": "data", "data_id": data_id}))
            s.settimeout(300)
            m = recv_frame(s)
            self.starts.append(m)
            if m.get("type") != "start":
                self.data_errors.append("data conn got %r" % m)
                s.close()
                return
            lp = self.local.get(m.get("remote_port"))
            if lp is None:
                self.data_errors.append("start for unknown port %r" % m)
                s.close()
                return
            l = connect(lp, timeout=10)
            self.data_socks.append(l)
            relay(s, l)
        except (OSError, EOFError, ValueError) as e:
            self.data_errors.append(repr(e))
            try:
                s.close()
            except OSError:
                pass

    def close(self, timeout=3.0):
        """Wakes every thread (shutdown), waits for them, then closes the sockets."""
        self.closed.set()
        socks = [self.sock] + list(self.data_socks)
        for s in socks:
            quiet_shutdown(s)
        deadline = time.monotonic() + timeout
        for t in list(self.threads):
            if t is not threading.current_thread():
                t.join(max(0.05, deadline - time.monotonic()))
        for s in socks:
            quiet_close(s)


def relay(a, b):
    """Copy both ways with half-close until both directions end."""
    a.settimeout(300)
    b.settimeout(300)

    def pump(src, dst):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join(300)
    for s in (a, b):
        try:
            s.close()
        except OSError:
            pass


# ---------------------------------------------------------------- the per-test environment

class Env:
    """Everything one test owns; close() cleans it all up."""

    def __init__(self, name):
        self.name = name
        self.short = re.sub(r"[^a-z0-9]", "", name.lower())[:12]
        self.dir = tempfile.mkdtemp(prefix="gte2e-%s-" % self.short, dir="/tmp")
        self.token = "tok-" + os.urandom(12).hex()
        self.ports = [free_port() for _ in range(6)]
        self.procs = []
        self.services = []
        self.pyclients = []
        self.socks = []
        self.masters = []
        self.nclients = 0
        self.notes = []
        self.master_defaults = {}
        self.client_defaults = {}
        self.secrets = []         # per-client credential secrets: never to be logged

    def enable_tls(self):
        """Makes masters TLS-only and clients pin them, from here on.

        The certificate comes from the openssl command line and the pin is
        computed here from its DER, independently of gotunnel's own code."""
        cert, key, fp = make_cert(self.dir, "tls", "127.0.0.1")
        self.master_defaults.update({"tls_cert_file": cert, "tls_key_file": key})
        self.client_defaults.update({"server_fingerprint": fp})
        return cert, key, fp

    def master(self, start=True, **kw):
        m = Master(self, name="master%d" % len(self.masters) if self.masters else "master", **kw)
        self.masters.append(m)
        if start:
            m.start()
        return m

    def client(self, master, mappings, start=True, wait=True, **kw):
        c = Client(self, master, mappings, **kw)
        if start:
            c.start(wait=wait)
        return c

    def service(self, handler=echo_handler):
        s = Service(handler)
        self.services.append(s)
        return s

    def pyclient(self, master, src=None, heartbeat=1.0):
        c = PyClient(master.port, src=src, heartbeat=heartbeat)
        self.pyclients.append(c)
        return c

    def sock(self, s):
        self.socks.append(s)
        return s

    def note(self, msg):
        self.notes.append(msg)

    def close(self):
        for c in self.pyclients:
            c.close()
        # Wake threads that use the test's sockets (e.g. a forwarder) before the
        # descriptors are freed for reuse.
        for s in self.socks:
            quiet_shutdown(s)
        if self.socks:
            time.sleep(0.1)
        for s in self.socks:
            quiet_close(s)
        # Clients first, then masters, so the masters see clean disconnects.
        procs = sorted(self.procs, key=lambda p: 0 if p.argv[0] == CLIENT else 1)
        for p in procs:
            p.close()
        for s in self.services:
            s.close()

    def sanitizer_reports(self):
        """Sanitizer lines found in any log of this test."""
        out = []
        seen = set()
        for p in self.procs:
            if p.log_path in seen:
                continue
            seen.add(p.log_path)
            for line in p.log().splitlines():
                if SANITIZER_RE.search(line):
                    out.append("%s: %s" % (os.path.basename(p.log_path), line.strip()))
        return out

    def leaked_tokens(self):
        """Log lines that contain one of this test's tokens (tokens must never be logged)."""
        toks = {self.token} | {str(m.cfg.get("token")) for m in self.masters if m.cfg.get("token")}
        toks |= set(self.secrets)
        out = []
        seen = set()
        for p in self.procs:
            if p.log_path in seen:
                continue
            seen.add(p.log_path)
            for line in p.log().splitlines():
                if line.startswith("=== start"):
                    continue
                if any(t in line for t in toks):
                    out.append("%s: %s" % (os.path.basename(p.log_path), line.strip()[:200]))
        return out

    def log_tails(self, n=25):
        out = []
        seen = set()
        for p in self.procs:
            if p.log_path in seen:
                continue
            seen.add(p.log_path)
            lines = p.log().splitlines()
            out.append("  --- %s (last %d of %d lines)" % (os.path.basename(p.log_path), min(n, len(lines)), len(lines)))
            out += ["  | " + l for l in lines[-n:]]
        return "\n".join(out)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- test registry

TESTS = []


def test(timeout=120):
    """Decorator: register fn(env) as a test with a time limit."""
    def deco(fn):
        TESTS.append((fn.__name__.replace("test_", "", 1), fn, timeout))
        return fn
    return deco


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def openssl(*args):
    rc, out, err = run_cmd(["openssl"] + list(args), timeout=60)
    check(rc == 0, "openssl %s: exit %d: %s" % (args[0], rc, err.strip()[-300:]))
    return out


def make_cert(d, name, cn, ca=None):
    """A P-256 key and certificate for cn (IP SAN for an address), signed by
    ca=(cert, key) or self-signed; returns (cert, key, 'sha256:<hex of DER>')."""
    cert, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    san = ("IP:" if re.match(r"^[0-9.]+$", cn) else "DNS:") + cn
    if ca is None:
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
                "-addext", "subjectAltName=" + san)
    else:
        csr = os.path.join(d, name + ".csr")
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\n" % san)
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
                "-out", cert, "-days", "2", "-extfile", ext)
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "der"],
                         capture_output=True, check=True).stdout
    return cert, key, "sha256:" + hashlib.sha256(der).hexdigest()


def make_ca(d, name):
    """A self-signed CA (cert, key)."""
    cert, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + name,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign")
    return cert, key


def rnd_bytes(n, seed):
    """Deterministic pseudo-random bytes (fast enough for tens of MiB)."""
    r = random.Random(seed)
    return r.randbytes(n)
