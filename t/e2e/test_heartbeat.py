# SPDX-License-Identifier: ISC
"""Heartbeats at scale: the master heartbeats only clients that have been
silent for half its heartbeat_timeout (gotunnel-protocol(7)); a client that
heartbeats hears the acks and gets no heartbeat of the master's."""

import time

from lib import check, echo_handler, test, wait_until


@test(timeout=60)
def test_master_heartbeats_only_silent_clients(env):
    hb = 12                     # the master's timer ticks every 4 s
    svc = env.service(echo_handler)
    m = env.master(heartbeat_timeout=hb)
    beating = env.pyclient(m, heartbeat=1.0)
    r = beating.register(m.token, svc.port, env.ports[0], name="beating")
    check(r.get("status") == "ok", "register: %r" % r)
    quiet = env.pyclient(m, heartbeat=None)     # says nothing, but acks
    r = quiet.register(m.token, svc.port, env.ports[1], name="quiet")
    check(r.get("status") == "ok", "register: %r" % r)
    t0 = time.monotonic()
    wait_until(lambda: quiet.server_heartbeats >= 1, hb + 4,
               "the master to heartbeat a client silent for half its timeout")
    # Past the timeout: the acks to the master's heartbeats kept it alive.
    left = hb + 1 - (time.monotonic() - t0)
    if left > 0:
        time.sleep(left)
    check(not quiet.closed.is_set(), "a silent client that acks was dropped")
    check(not beating.closed.is_set(), "a heartbeating client was dropped")
    check(beating.server_heartbeats == 0,
          "the master sent %d heartbeats to a client that heartbeats every second"
          % beating.server_heartbeats)
    env.note("silent client: %d master heartbeats in %.0f s" % (
        quiet.server_heartbeats, time.monotonic() - t0))
