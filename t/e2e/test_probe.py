# SPDX-License-Identifier: ISC
"""gotunnelctl status as a probe: exit 0 only while the master serves."""

import json
import os
import signal
import time

from lib import check, fail, pid_alive, test, wait_until


@test(timeout=90)
def test_status_probe_exit_code(env):
    m = env.master(workers=1)
    rc, out, err = m.ctl("status", "--json")
    check(rc == 0, "status of a serving master: exit %d: %s" % (rc, err))
    check(json.loads(out).get("serving") is True, "status --json lacks serving: true: %r" % out[:300])
    rc, out, err = m.ctl("status")
    check(rc == 0 and "listening on" in out, "status (text) of a serving master: exit %d %r" % (rc, err))

    # No worker running (a worker that dies right after its start is
    # respawned after a back-off of 1 s, then 2 s, ...): the master answers
    # but does not serve, and status says so with exit 1.
    seen = None
    for attempt in range(5):
        pids = [p for p in m.worker_pids() if p and pid_alive(p)]
        if not pids:
            time.sleep(0.2)
            continue
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and seen is None:
            rc, out, err = m.ctl("status", "--json")
            if rc == 1 and "not serving" in err:
                seen = (rc, out, err)
            elif rc == 0 and any(p not in pids and p and pid_alive(p) for p in
                                 [w.get("pid") for w in json.loads(out).get("workers", [])]):
                break           # respawned at once: kill the new one sooner
        if seen:
            break
    if seen is None:
        fail("status never exited 1 while the only worker was down")
    check(json.loads(seen[1]).get("serving") is False, "status --json while down: %r" % seen[1][:300])
    wait_until(lambda: m.ctl("status")[0] == 0, 60, "status to exit 0 once the worker is back")

    # No master at all.
    m.proc.stop()
    rc, out, err = m.ctl("status")
    check(rc == 1 and "cannot reach the master" in err, "status with no master: exit %d %r" % (rc, err))
    env.note("not serving seen after %d kill(s)" % (attempt + 1))
