# SPDX-License-Identifier: ISC
"""Command lines: -t config checks, -V, unknown options, gotunnelctl JSON output."""

import os
import re

from lib import (check_tunnel, CLIENT, CTL, MASTER, ROOT, Client, Master, check, echo_handler, run_cmd,
                 test)


def set_line(path, section, key, value):
    """Replace key's line in [section] (or add it after the header); returns its line number."""
    with open(path) as f:
        lines = f.read().split("\n")
    start = lines.index("[%s]" % section)
    end = start + 1
    while end < len(lines) and not lines[end].startswith("["):
        end += 1
    for i in range(start + 1, end):
        if lines[i].split("=")[0].strip() == key:
            lines[i] = "%s = %s" % (key, value)
            at = i
            break
    else:
        at = start + 1
        lines.insert(at, "%s = %s" % (key, value))
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return at + 1


def expect_config_error(prog, conf, line, what):
    rc, out, err = run_cmd([prog, "-t", "-c", conf])
    check(rc == 1, "%s -t with %s: exit %d (want 1); stderr %r" % (os.path.basename(prog), what, rc, err[-300:]))
    want = "%s:%d:" % (conf, line)
    check(want in err, "%s -t with %s: stderr lacks %r: %r" % (os.path.basename(prog), what, want, err[-300:]))


@test(timeout=60)
def test_config_check(env):
    problems = []
    for prog, sample in ((MASTER, "etc/gotunnel.ini"), (CLIENT, "etc/gotunnel-client.ini")):
        path = os.path.join(ROOT, sample)
        if not os.path.exists(path):
            problems.append("%s is missing" % sample)
            continue
        rc, out, err = run_cmd([prog, "-t", "-c", path])
        if rc != 0:
            problems.append("%s -t -c %s: exit %d: %s" % (os.path.basename(prog), sample, rc, err.strip()[-300:]))

    m = Master(env)
    m.cfg["data_dir"] = os.path.join(env.dir, "not", "yet", "there")
    m.write()
    rc, out, err = run_cmd([MASTER, "-t", "-c", m.conf])
    if rc != 0:
        problems.append("master -t of a generated config (data_dir not existing yet): exit %d: %s" % (rc, err.strip()[-300:]))
    c = Client(env, m, [{"name": "ssh", "local_port": 22, "remote_port": env.ports[0]}])
    c.write()
    rc, out, err = run_cmd([CLIENT, "-t", "-c", c.conf])
    if rc != 0:
        problems.append("client -t of a generated config: exit %d: %s" % (rc, err.strip()[-300:]))
    check(not problems, "; ".join(problems))

    # One bad line at a time, each reported with FILE:LINE:.
    cases_master = [
        ("unknown key", "bogus_key", "1"),
        ("bad number", "heartbeat_timeout", "soon"),
        ("port out of range", "bind_port", "70000"),
        ("bad allow_ports", "allow_ports", "20000-10000"),
        ("bad log_level", "log_level", "loud"),
        ("bad workers", "workers", "-3"),
    ]
    for i, (what, key, value) in enumerate(cases_master):
        mm = Master(env, name="bad%d" % i)
        mm.write()
        n = set_line(mm.conf, "common", key, value)
        expect_config_error(MASTER, mm.conf, n, what)
    cases_client = [
        ("unknown key in [common]", "common", "bogus_key", "1"),
        ("unknown key in a mapping", "ssh", "colour", "blue"),
        ("bad local_port", "ssh", "local_port", "99999"),
        ("bad remote_port", "ssh", "remote_port", "-5"),
        ("bad type", "ssh", "type", "udp-ish"),
        ("bad heartbeat_interval", "common", "heartbeat_interval", "often"),
    ]
    for i, (what, section, key, value) in enumerate(cases_client):
        cc = Client(env, m, [{"name": "ssh", "local_port": 22, "remote_port": env.ports[0]}], name="badc%d" % i)
        cc.write()
        n = set_line(cc.conf, section, key, value)
        expect_config_error(CLIENT, cc.conf, n, what)

    # A missing token is an error (no default).
    mm = Master(env, name="notoken")
    del mm.cfg["token"]
    mm.write()
    rc, out, err = run_cmd([MASTER, "-t", "-c", mm.conf])
    check(rc == 1 and "token" in err.lower(), "master -t without token: exit %d, stderr %r" % (rc, err[-300:]))


@test(timeout=30)
def test_command_line_options(env):
    for prog in (MASTER, CLIENT):
        name = os.path.basename(prog)
        rc, out, err = run_cmd([prog, "-V"])
        check(rc == 0 and re.search(r"\d+\.\d+", out + err), "%s -V: exit %d, output %r" % (name, rc, (out + err)[:200]))
        rc, out, err = run_cmd([prog, "-h"])
        check(rc == 0 and "-c" in (out + err), "%s -h: exit %d, output %r" % (name, rc, (out + err)[:200]))
    for prog, args in ((MASTER, ["--no-such-option"]), (CLIENT, ["--no-such-option"]),
                       (MASTER, ["-Q"]), (CLIENT, ["-Q"]), (CTL, ["--no-such-option", "status"])):
        name = os.path.basename(prog)
        rc, out, err = run_cmd([prog] + args)
        check(rc != 0, "%s %s: exit 0, want an error" % (name, " ".join(args)))
        check(err.strip(), "%s %s: nothing on stderr" % (name, " ".join(args)))
    # An unknown gotunnelctl command is an error too; so is a master that is not running.
    m = Master(env)
    m.write()
    rc, out, err = run_cmd([CTL, "-c", m.conf, "frobnicate"])
    check(rc != 0, "gotunnelctl frobnicate: exit 0")
    rc, out, err = run_cmd([CTL, "-c", m.conf, "status"], timeout=15)
    check(rc != 0 and err.strip(), "gotunnelctl status without a master: exit %d, stderr %r" % (rc, err))


def check_types(obj, spec, what):
    for k, t in spec.items():
        check(k in obj, "%s lacks %r: %r" % (what, k, obj))
        check(isinstance(obj[k], t) and not (t is int and isinstance(obj[k], bool)),
              "%s.%s has type %s, want %s: %r" % (what, k, type(obj[k]).__name__, t, obj))


@test(timeout=60)
def test_ctl_json_output(env):
    svc = env.service(echo_handler)
    m = env.master()
    p = env.ports[0]
    c = env.client(m, [{"name": "web", "local_port": svc.port, "remote_port": p}])
    check_tunnel(p, "tunnel")
    outs = {}
    for args in (["clients", "--json"], ["--json", "clients"]):
        rc, out, err = m.ctl(*args)
        check(rc == 0, "gotunnelctl %s: exit %d: %s" % (" ".join(args), rc, err.strip()))
        try:
            import json
            v = json.loads(out)
        except ValueError:
            raise AssertionError("gotunnelctl %s: not JSON: %r" % (" ".join(args), out[:300]))
        check(isinstance(v, list) and len(v) == 1, "gotunnelctl %s: want an array of 1 client: %r" % (" ".join(args), v))
        o = v[0]
        check_types(o, {"id": str, "name": str, "address": str, "connected_since": int,
                        "last_heartbeat": int, "mappings": list}, "clients[0]")
        check(o["name"] == c.name, "clients[0].name %r, want %r" % (o["name"], c.name))
        check(o["address"].startswith("127.0.0.1:"), "clients[0].address %r" % o["address"])
        check(o["connected_since"] > 1600000000 and o["last_heartbeat"] >= o["connected_since"],
              "clients[0] times: %r" % o)
        check(any(isinstance(x, dict) and x.get("remote_port") == p for x in o["mappings"]),
              "clients[0].mappings lacks remote_port %d: %r" % (p, o["mappings"]))
        outs[tuple(args)] = o
    a, b = outs.values()
    check(a["id"] == b["id"], "the two argument orders show different clients")

    maps = m.mappings()
    check(len(maps) == 1, "mappings --json: %r" % maps)
    check_types(maps[0], {"remote_port": int, "name": str, "client_id": str, "client_name": str,
                          "local_port": int}, "mappings[0]")
    check(maps[0]["remote_port"] == p and maps[0]["local_port"] == svc.port and maps[0]["name"] == "web"
          and maps[0]["client_id"] == a["id"] and maps[0]["client_name"] == c.name, "mappings[0]: %r" % maps[0])

    for k in ("worker_pid", "live_conns", "bytes_in", "bytes_out"):
        check(k in a, "clients[0] lacks %r (docs/design.md): %r" % (k, a))
    for x in a["mappings"]:
        check_types(x, {"name": str, "remote_port": int, "local_ip": str, "local_port": int}, "clients[0].mappings[]")
    for k in ("local_ip", "since", "worker_pid", "live_conns", "total_conns", "bytes_in", "bytes_out"):
        check(k in maps[0], "mappings[0] lacks %r (docs/design.md): %r" % (k, maps[0]))

    st = m.status()
    check(isinstance(st, dict), "status --json: %r" % st)
    check_types(st, {"version": str, "pid": int, "uptime": int, "workers": list, "clients": int,
                     "mappings": int, "connections": int}, "status")
    for w in st["workers"]:
        check_types(w, {"index": int, "pid": int, "restarts": int, "started": int}, "status.workers[]")
    check(st["clients"] == 1 and st["mappings"] == 1, "status counts: %r" % st)
    mode = os.stat(m.cfg["control_socket"]).st_mode & 0o777
    check(mode == 0o600, "control_socket mode %o, want 600" % mode)
    check(st["pid"] == m.proc.pid, "status pid %r, master pid %d" % (st["pid"], m.proc.pid))
    check(len(st["workers"]) == int(m.cfg["workers"]), "status workers: %r" % st["workers"])
    for cmd in ("status", "mappings"):
        rc, out, err = m.ctl("--json", cmd)
        check(rc == 0 and out.strip().startswith(("{", "[")), "gotunnelctl --json %s: exit %d, out %r" % (cmd, rc, out[:100]))
    for args in (["status"], ["clients"], ["mappings"]):
        rc, out, err = m.ctl(*args)
        check(rc == 0 and out.strip(), "gotunnelctl %s (text): exit %d, out %r" % (args[0], rc, out[:200]))
    check(str(p) in m.ctl("mappings")[1], "gotunnelctl mappings (text) does not show port %d" % p)


@test(timeout=60)
def test_log_level_and_verbose(env):
    """log_level = warn hides info lines; -v turns on debug lines."""
    import time
    from lib import Proc, connect, wait_until, port_accepts
    for name, level, args, want_debug, want_info in (("warn", "warn", [], False, False),
                                                     ("verbose", "info", ["-v"], True, True)):
        m = Master(env, name="lvl-" + name, log_level=level)
        m.write()
        p = Proc(m.name, [MASTER] + args + ["-c", m.conf], m.log_path)
        env.procs.append(p)
        wait_until(lambda: port_accepts(m.port), 15, "master %s to listen" % name)
        s = connect(m.port, timeout=5)     # "closed before its first message" is a debug line
        s.close()
        time.sleep(0.5)
        rc = p.stop()
        log = [l for l in p.log().splitlines() if not l.startswith("===")]
        has_debug = any(" debug " in l for l in log)
        has_info = any(" info " in l for l in log)
        check(has_debug == want_debug, "%s: debug lines %s, want %s: %r" % (name, has_debug, want_debug, log[:5]))
        check(has_info == want_info, "%s: info lines %s, want %s: %r" % (name, has_info, want_info, log[:5]))
        check(rc == 0, "%s: exit status %r after SIGTERM" % (name, rc))
