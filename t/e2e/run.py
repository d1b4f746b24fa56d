#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Run gotunnel's end-to-end tests against the real binaries.

usage: python3 t/e2e/run.py [-k] [--lane=all|idle|busy] [NAME-FILTER ...]
  GOTUNNEL_BIN   directory of gotunnel-master, gotunnel-client, gotunnelctl (default bin)
  -k             keep the temp dirs of failed tests (default: removed)
  --lane=L       all (default without filters): the tests that mostly wait on
                 the clock (IDLE_LANE) run in a second process beside the rest,
                 and their output follows; idle / busy: only one lane

Prints `ok NAME (1.2s)` or `FAIL NAME: reason` (plus log tails) per test and a
final line `N passed, N failed`; exits 1 if any test failed.
"""

import os
import shutil
import signal
import tempfile
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lib  # noqa: E402

# Tests that spend most of their time waiting on the clock (a per-minute
# alert window, a receiver kept down), not on the CPU: they run beside the
# others, which saves minutes of `make check` without loading the machine.
IDLE_LANE = ("alerts_episodes", "alerts_receiver_down_and_restart")


def on_alarm(signum, frame):
    raise lib.TestTimeout("test took too long (watchdog)")


def run_one(name, fn, limit, keep):
    env = lib.Env(name)
    t0 = time.monotonic()
    err = None
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(limit)
    try:
        fn(env)
    except lib.TestFailure as e:
        err = str(e)
    except lib.TestTimeout as e:
        err = "%s (limit %ds)" % (e, limit)
    except Exception:  # noqa: BLE001 - a crash of the test is a failure too
        err = "exception: " + traceback.format_exc().strip().replace("\n", "\n    ")
    finally:
        signal.alarm(0)
    try:
        signal.alarm(30)
        env.close()
    except lib.TestTimeout:
        err = err or "cleanup took too long"
    finally:
        signal.alarm(0)
    if err is None:
        reps = env.sanitizer_reports()
        if reps:
            err = "sanitizer report(s) in logs: " + "; ".join(reps[:5])
    if err is None:
        leaks = env.leaked_tokens()
        if leaks:
            err = "the token appears in a log: " + "; ".join(leaks[:3])
    dt = time.monotonic() - t0
    if err is None:
        note = (" [%s]" % "; ".join(env.notes)) if env.notes else ""
        print("ok %s (%.1fs)%s" % (name, dt, note), flush=True)
        env.remove()
        return True
    print("FAIL %s: %s (%.1fs)" % (name, err, dt), flush=True)
    tails = env.log_tails()
    if tails:
        print(tails, flush=True)
    if keep:
        print("  (kept %s)" % env.dir, flush=True)
    else:
        env.remove()
    return False


def main(argv):
    keep = False
    filters = []
    lane = None
    for a in argv:
        if a == "-k":
            keep = True
        elif a.startswith("--lane="):
            lane = a.split("=", 1)[1]
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            filters.append(a)
    for b in (lib.MASTER, lib.CLIENT, lib.CTL):
        if not os.access(b, os.X_OK):
            print("FAIL setup: %s is missing (build with make, or set GOTUNNEL_BIN)" % b)
            print("0 passed, 1 failed")
            return 1
    import atexit
    atexit.register(lib.release_ports)
    src = lib.BIN
    snap = tempfile.mkdtemp(prefix="gte2e-bin-", dir="/tmp")
    try:
        if not lib.snapshot_binaries(snap):
            print("FAIL setup: could not copy working binaries from %s" % src)
            print("0 passed, 1 failed")
            return 1
        if lane is None and not filters:
            return run_lanes(argv, src)
        return run_all(src, filters, keep, lane)
    finally:
        shutil.rmtree(snap, ignore_errors=True)


def run_lanes(argv, src):
    """Runs the idle lane in a child process beside the busy lane; one count."""
    import subprocess
    with tempfile.TemporaryFile(mode="w+") as out:
        child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--lane=idle"] + argv,
                                 stdout=out, stderr=subprocess.STDOUT)
        rc = run_all(src, [], "-k" in argv, "busy", summary=False)
        try:
            crc = child.wait(timeout=900)
        except subprocess.TimeoutExpired:
            child.kill()
            crc = child.wait()
        out.seek(0)
        lines = out.read().splitlines()
    counts = [l for l in lines if l.endswith(" failed") and " passed, " in l]
    print("# idle lane (ran beside the tests above):", flush=True)
    for l in lines:
        if l not in counts:
            print(l, flush=True)
    passed, failed = RESULTS
    if counts:
        p, f = counts[-1].split(" passed, ")
        passed += int(p)
        failed += int(f.split()[0])
    if crc != 0 and not (counts and failed):
        failed += 1
        print("FAIL idle lane: exit status %s" % crc, flush=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or rc or crc else 0


RESULTS = [0, 0]


def run_all(src, filters, keep, lane=None, summary=True):
    # The tests import lib's binary paths, so they are loaded after the snapshot.
    import test_tunnel  # noqa: F401
    import test_protocol  # noqa: F401
    import test_lifecycle  # noqa: F401
    import test_cli  # noqa: F401
    import test_tls  # noqa: F401
    import test_limits  # noqa: F401
    import test_retention  # noqa: F401
    import test_multi  # noqa: F401
    import test_probe  # noqa: F401
    import test_vhost  # noqa: F401
    import test_tokens  # noqa: F401
    import test_udp  # noqa: F401
    import test_heartbeat  # noqa: F401
    import test_alerts  # noqa: F401
    import test_plugins  # noqa: F401
    passed = failed = 0
    t0 = time.monotonic()
    for name, fn, limit in lib.TESTS:
        if filters and not any(f in name for f in filters):
            continue
        if (lane == "idle" and name not in IDLE_LANE) or (lane == "busy" and name in IDLE_LANE):
            continue
        if run_one(name, fn, limit, keep):
            passed += 1
        else:
            failed += 1
    print("# binaries of %s (copied at start), %.0fs total" % (src, time.monotonic() - t0))
    RESULTS[:] = [passed, failed]
    if summary:
        print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
