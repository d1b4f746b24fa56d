# SPDX-License-Identifier: ISC
"""Charts of one benchmark run (bench/out/results.json) as SVG, drawn by
gnuplot (Debian's gnuplot-nox): throughput and CPU per Gbit/s by row,
connection rate, latency percentiles, memory per held connection, and
clients registered over time.  Used by bench/run.py at the end of a run, or
by hand: python3 bench/charts.py [results.json [outdir]]."""

import json
import os
import shutil
import subprocess
import sys

ROWS = ("direct", "ssh -R", "haproxy", "gotunnel", "gotunnel TLS")


def get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def rows_of(results):
    return [(n, results["rows"][n]) for n in ROWS
            if isinstance(results.get("rows", {}).get(n), dict) and "error" not in results["rows"][n]]


def bar_chart(path, title, ylabel, series, rows, value):
    """Grouped bars: one group per row, one bar per series (name, key)."""
    data = []
    for name, r in rows:
        vals = [value(r, key) for _, key in series]
        if all(v is None for v in vals):
            continue
        data.append('"%s" %s' % (name, " ".join("NaN" if v is None else "%.4g" % v for v in vals)))
    if not data:
        return None
    plots = ", ".join("$d using %d:xtic(1) title '%s'" % (i + 2, s[0]) for i, s in enumerate(series))
    script = "\n".join([
        "set terminal svg size 720,400 dynamic font 'sans,11'",
        "set output '%s'" % path,
        "set title '%s'" % title,
        "set ylabel '%s'" % ylabel,
        "set style data histograms", "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1", "set boxwidth 0.9", "set grid ytics",
        "set yrange [0:*]", "set key top right",
        "$d << EOD", *data, "EOD",
        "plot " + plots, ""])
    return script


def line_chart(path, title, xlabel, ylabel, curves):
    """curves: [(title, [(x, y), ...])]"""
    curves = [(t, pts) for t, pts in curves if pts]
    if not curves:
        return None
    lines = ["set terminal svg size 720,400 dynamic font 'sans,11'", "set output '%s'" % path,
             "set title '%s'" % title, "set xlabel '%s'" % xlabel, "set ylabel '%s'" % ylabel,
             "set grid", "set key top left"]
    for i, (_, pts) in enumerate(curves):
        lines += ["$c%d << EOD" % i] + ["%g %g" % p for p in pts] + ["EOD"]
    lines.append("plot " + ", ".join("$c%d using 1:2 with linespoints title '%s'" % (i, t)
                                     for i, (t, _) in enumerate(curves)))
    return "\n".join(lines) + "\n"


def cpu_per_gbit(r, key):
    g, c = get(r, key, "gbps"), get(r, key, "tunnel_cpu", "cpu_pct")
    return c / 100.0 / g if g and c is not None else None


def held_n(tunnels, asked):
    """The count measured for a requested one (capped by the descriptor limit)."""
    return max([get(r, "memory", str(asked), "n") or 0 for _, r in tunnels] + [0]) or asked


def write(results, outdir):
    """Writes the charts; returns the list of files written (empty without gnuplot)."""
    if shutil.which("gnuplot") is None:
        return []
    rows = rows_of(results)
    tunnels = [(n, r) for n, r in rows if n != "direct"]
    mem_ns = sorted({int(n) for _, r in tunnels for n in (get(r, "memory") or {})})
    cp = results.get("control_plane") or {}
    reg_curve = [(p[0], p[1]) for p in (get(cp, "register", "timeline") or [])]
    charts = {
        "throughput.svg": bar_chart(
            os.path.join(outdir, "throughput.svg"), "Throughput (iperf3)", "Gbit/s",
            [("1 stream", "tp_1"), ("4 streams", "tp_4"), ("reverse", "tp_rev")],
            rows, lambda r, k: get(r, k, "gbps")),
        "cpu_per_gbit.svg": bar_chart(
            os.path.join(outdir, "cpu_per_gbit.svg"), "Tunnel CPU per Gbit/s (lower is better)",
            "cores per Gbit/s", [("1 stream", "tp_1"), ("4 streams", "tp_4"), ("reverse", "tp_rev")],
            tunnels, cpu_per_gbit),
        "conn_rate.svg": bar_chart(
            os.path.join(outdir, "conn_rate.svg"), "New connections per second (connect, 1-byte echo, close)",
            "conn/s", [("conn/s", "cps")], rows, lambda r, k: get(r, k, "cps")),
        "latency.svg": bar_chart(
            os.path.join(outdir, "latency.svg"), "Ping-pong latency (64 bytes)", "microseconds",
            [("p50", "p50_us"), ("p90", "p90_us"), ("p99", "p99_us")],
            rows, lambda r, k: get(r, "latency", k)),
        "memory.svg": bar_chart(
            os.path.join(outdir, "memory.svg"), "Memory per held idle connection", "KiB RSS",
            [("N = %d" % held_n(tunnels, n), str(n)) for n in mem_ns], tunnels,
            lambda r, k: get(r, "memory", k, "rss_per_conn_kib")),
        "clients.svg": line_chart(
            os.path.join(outdir, "clients.svg"), "Clients registered over time (bench/loadgen)",
            "seconds", "clients registered", [("gotunnel", reg_curve)]),
    }
    written = []
    for name, script in charts.items():
        if script is None:
            continue
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, timeout=60)
        if r.returncode == 0:
            written.append(os.path.join(outdir, name))
        else:
            sys.stderr.write("charts: %s: %s\n" % (name, r.stderr.strip()[-300:]))
    return written


def main(argv):
    src = argv[0] if argv else os.path.join(os.path.dirname(__file__), "out", "results.json")
    outdir = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(src))
    with open(src) as f:
        results = json.load(f)
    for p in write(results, outdir):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
