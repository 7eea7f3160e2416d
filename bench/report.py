#!/usr/bin/env python3
"""Aggregates scripts/bench.sh raw results: prints the tables, writes JSON and a chart.

usage: report.py RAW.jsonl OUT.json [--micro MICRO.json] [--chart OUT.png]
Every figure is the median of the runs, with [min..max]. --micro is Google
Benchmark's JSON output (bench-micro --benchmark_out=...). --chart writes a
PNG with gnuplot (pngcairo, else png); without gnuplot it is skipped.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def stat(values):
    values = [float(v) for v in values]
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def fmt(s, scale=1.0, digits=1):
    return "%.*f [%.*f..%.*f]" % (digits, s["median"] * scale, digits, s["min"] * scale,
                                  digits, s["max"] * scale)


def print_table(header, rows):
    """Prints rows (tuples of strings) under header, first column left-aligned."""
    if not rows:
        return
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    def line(r):
        cells = ["%-*s" % (widths[0], r[0])] + ["%*s" % (w, c) for w, c in zip(widths[1:], r[1:])]
        return "  ".join(cells)
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def summarize_sync(raw, rows):
    out = []
    sizes = sorted({r["users"] for r in raw if r["bench"] == "sync"})
    for n in sizes:
        curl = [r for r in raw if r["bench"] == "curl" and r["users"] == n]
        c = stat([r["seconds"] for r in curl])
        rows.append(("curl /api/members baseline, %d users (s) [%.1f MB on the wire]"
                     % (n, curl[0]["bytes"] / 1e6), fmt(c, digits=4)))
        entry = {"users": n, "curl_seconds": c, "curl_bytes": curl[0]["bytes"]}
        for kind in ("first", "unchanged", "changed1pct"):
            rs = [r for r in raw if r["bench"] == "sync" and r["users"] == n and r["kind"] == kind]
            secs = stat([r["seconds"] for r in rs])
            ups = stat([n / r["seconds"] for r in rs])
            hwm = stat([r["hwm_kb"] for r in rs])
            counts = {k: rs[0][k] for k in ("active", "added", "updated", "removed")}
            entry[kind] = {"seconds": secs, "users_per_second": ups, "peak_rss_kb": hwm,
                           "counts_run1": counts}
            label = {"first": "first sync (empty store)", "unchanged": "re-sync, unchanged",
                     "changed1pct": "re-sync, 1% changed"}[kind]
            rows.append(("Sync %d users, %s (s)" % (n, label), fmt(secs, digits=4)))
            rows.append(("Sync %d users, %s (users/s)" % (n, label), fmt(ups, digits=0)))
            if kind == "first":
                rows.append(("Sync %d users, server peak RSS after first sync (MB)" % n,
                             fmt(hwm, 1 / 1024)))
                rows.append(("Sync %d users vs curl (x slower)" % n,
                             "%.1f" % (secs["median"] / c["median"])))
        last = [r for r in raw if r["bench"] == "sync" and r["users"] == n
                and r["kind"] == "changed1pct"]
        entry["rss_after_syncs_kb"] = stat([r["rss_kb"] for r in last])
        entry["peak_rss_all_syncs_kb"] = stat([r["hwm_kb"] for r in last])
        rows.append(("Server RSS with %d users stored, after 3 syncs (MB)" % n,
                     fmt(entry["rss_after_syncs_kb"], 1 / 1024)))
        rows.append(("Server peak RSS over 3 syncs of %d users (MB)" % n,
                     fmt(entry["peak_rss_all_syncs_kb"], 1 / 1024)))
        db = stat([r["db_bytes"] for r in raw if r["bench"] == "store" and r["users"] == n])
        entry["store_bytes"] = db
        rows.append(("SQLite store size, %d users (bytes/user)" % n, fmt(db, 1 / n, 0)))
        out.append(entry)
    return out


def summarize_load(raw, rows):
    out = []
    conc = sorted({r["concurrency"] for r in raw if r["bench"] == "load"})
    for cc in conc:
        e = {"concurrency": cc}
        for method in ("health", "list"):
            rs = [r for r in raw if r["bench"] == "load" and r["concurrency"] == cc
                  and r["method"] == method]
            name = "Health.Check" if method == "health" else "ListUsers(page_size=100)"
            e[method] = {k: stat([r[k] for r in rs]) for k in ("qps", "p50_ms", "p99_ms")}
            e[method]["errors"] = sum(r["errors"] for r in rs)
            rows.append(("%s c=%d QPS" % (name, cc), fmt(e[method]["qps"], digits=0)))
            rows.append(("%s c=%d p50 (ms)" % (name, cc), fmt(e[method]["p50_ms"], digits=3)))
            rows.append(("%s c=%d p99 (ms)" % (name, cc), fmt(e[method]["p99_ms"], digits=3)))
        e["list_over_health_qps"] = e["list"]["qps"]["median"] / e["health"]["qps"]["median"]
        rows.append(("ListUsers/Health QPS ratio c=%d" % cc, "%.2f" % e["list_over_health_qps"]))
        out.append(e)
    return out


def ratio(grown, single):
    return grown["median"] / single["median"] if single["median"] else float("nan")


def summarize_growth(raw):
    """Returns (summary dict, table rows) for the growth phase, or (None, [])."""
    stores = {r["stage"]: r for r in raw if r["bench"] == "growth_store"}
    if not stores:
        return None, []
    g = {"stages": {}, "load": [], "sync": {}}
    rows = []
    for stage in ("single", "grown"):
        st = stores.get(stage)
        if st:
            g["stages"][stage] = {"connections": st["connections"], "users": st["users"],
                                  "db_bytes": st["db_bytes"],
                                  "db_bytes_per_user": st["db_bytes"] / st["users"],
                                  "rss_kb": st["rss_kb"], "hwm_kb": st["hwm_kb"]}
    s1, s2 = g["stages"].get("single"), g["stages"].get("grown")
    if s1 and s2:
        rows.append(("connections x users", "1 x %d" % s1["users"],
                     "%d x %d" % (s2["connections"], s2["users"] // s2["connections"]), ""))
        rows.append(("store size (MB, dir incl. -wal)", "%.1f" % (s1["db_bytes"] / 1e6),
                     "%.1f" % (s2["db_bytes"] / 1e6), ""))
        rows.append(("store bytes/user", "%.0f" % s1["db_bytes_per_user"],
                     "%.0f" % s2["db_bytes_per_user"],
                     "%.2f" % (s2["db_bytes_per_user"] / s1["db_bytes_per_user"])))
        rows.append(("server RSS (MB)", "%.1f" % (s1["rss_kb"] / 1024),
                     "%.1f" % (s2["rss_kb"] / 1024), "%.2f" % (s2["rss_kb"] / s1["rss_kb"])))
    conc = sorted({r["concurrency"] for r in raw if r["bench"] == "growth_load"})
    for cc in conc:
        e = {"concurrency": cc}
        for stage in ("single", "grown"):
            rs = [r for r in raw if r["bench"] == "growth_load" and r["stage"] == stage
                  and r["concurrency"] == cc]
            if rs:
                e[stage] = {k: stat([r[k] for r in rs]) for k in ("qps", "p50_ms", "p99_ms")}
                e[stage]["errors"] = sum(r["errors"] for r in rs)
        if "single" in e and "grown" in e:
            for k, label, digits in (("qps", "QPS", 0), ("p50_ms", "p50 (ms)", 3),
                                     ("p99_ms", "p99 (ms)", 3)):
                e[k + "_ratio"] = ratio(e["grown"][k], e["single"][k])
                rows.append(("ListUsers c=%d %s" % (cc, label), fmt(e["single"][k], digits=digits),
                             fmt(e["grown"][k], digits=digits), "%.2f" % e[k + "_ratio"]))
        g["load"].append(e)
    labels = {"first": "Sync, first (new connection) (s)", "unchanged": "Sync #1, unchanged (s)",
              "changed1pct": "Sync #1, 1% changed (s)"}
    for kind in ("first", "unchanged", "changed1pct"):
        e = {}
        for stage in ("single", "grown"):
            rs = [r for r in raw if r["bench"] == "growth_sync" and r["stage"] == stage
                  and r["kind"] == kind]
            if rs:
                e[stage] = {"seconds": stat([r["seconds"] for r in rs]),
                            "counts_run1": {k: rs[0][k] for k in
                                            ("active", "added", "updated", "removed")}}
        if "single" in e and "grown" in e:
            e["ratio"] = ratio(e["grown"]["seconds"], e["single"]["seconds"])
            rows.append((labels[kind], fmt(e["single"]["seconds"], digits=4),
                         fmt(e["grown"]["seconds"], digits=4), "%.2f" % e["ratio"]))
        g["sync"][kind] = e
    pop = [r for r in raw if r["bench"] == "growth_populate"]
    if pop:
        p = pop[0]
        g["populate"] = p
        rows.append(("populate: Connect+Sync of %d connections (s)" % p["connections"], "",
                     "%.1f" % p["seconds"], ""))
        rows.append(("populate: per connection (ms, %d in parallel)" % p["concurrency"], "",
                     "%.1f" % (1000 * p["seconds"] / max(1, p["connections"])), ""))
    return g, rows


def summarize_micro(path):
    """Returns (list of benchmark dicts, table rows) from Google Benchmark JSON."""
    with open(path) as f:
        doc = json.load(f)
    out, rows = [], []
    for b in doc.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration":
            continue
        e = {k: b.get(k) for k in ("name", "iterations", "real_time", "cpu_time", "time_unit",
                                    "items_per_second", "bytes_per_second", "error_message")}
        out.append(e)
        if b.get("error_occurred"):
            rows.append((b["name"], "error: %s" % b.get("error_message", ""), "", "", ""))
            continue
        unit = b.get("time_unit", "ns")
        ips = b.get("items_per_second")
        bps = b.get("bytes_per_second")
        rows.append((b["name"], "%.4g %s" % (b["real_time"], unit),
                     "%.4g %s" % (b["cpu_time"], unit),
                     "%.4g" % ips if ips else "", "%.1f" % (bps / 1e6) if bps else ""))
    return {"context": doc.get("context", {}), "benchmarks": out}, rows


def gnuplot_terminal():
    try:
        terms = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True,
                               text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    text = terms.stdout + terms.stderr
    if "pngcairo" in text:
        return "pngcairo size 1400,%d font 'sans,10'"
    if re.search(r"^\s*png\s", text, re.M):
        return "png size 1400,%d"
    return None


def write_chart(path, summary, machine):
    """Writes a multiplot PNG of the sync, load and growth figures with gnuplot."""
    if shutil.which("gnuplot") is None:
        print("report: no gnuplot, no chart", file=sys.stderr)
        return False
    term = gnuplot_terminal()
    if term is None:
        print("report: gnuplot has no png terminal, no chart", file=sys.stderr)
        return False
    tmp = tempfile.mkdtemp(prefix="bench-chart-")
    plots = []

    def dat(name, lines):
        p = os.path.join(tmp, name)
        with open(p, "w") as f:
            f.write("\n".join(lines) + "\n")
        return p

    def mmm(s):
        return "%g %g %g" % (s["median"], s["min"], s["max"])

    if summary.get("sync"):
        lines = ["# users curl(med min max) first unchanged changed1pct"]
        for e in summary["sync"]:
            lines.append("%d %s %s %s %s" % (e["users"], mmm(e["curl_seconds"]),
                                             mmm(e["first"]["seconds"]),
                                             mmm(e["unchanged"]["seconds"]),
                                             mmm(e["changed1pct"]["seconds"])))
        f = dat("sync.dat", lines)
        plots.append("""
set title 'Sync time vs curl of the same /api/members (median, min..max)'
set logscale xy
set xlabel 'users'
set ylabel 'seconds'
set format x '%%.0s%%c'
set xrange [%g:%g]
set key top left
plot '%s' using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'curl baseline', \\
     '' using 1:5:6:7 with yerrorlines lw 2 pt 5 title 'first sync', \\
     '' using 1:8:9:10 with yerrorlines lw 2 pt 9 title 're-sync unchanged', \\
     '' using 1:11:12:13 with yerrorlines lw 2 pt 11 title 're-sync 1%% changed'
unset logscale; unset format; unset xrange
""" % (min(e["users"] for e in summary["sync"]) / 1.5,
       max(e["users"] for e in summary["sync"]) * 1.5, f))

    if summary.get("load"):
        lines = ["# concurrency health(med min max) list(med min max)"]
        for e in summary["load"]:
            lines.append("%d %s %s" % (e["concurrency"], mmm(e["health"]["qps"]),
                                       mmm(e["list"]["qps"])))
        f = dat("load.dat", lines)
        cs = [e["concurrency"] for e in summary["load"]]
        plots.append("""
set title 'QPS by concurrency (1,000-user connection, page_size 100; median, min..max)'
set logscale x 2
set xrange [%g:%g]
set xtics (%s)
set xlabel 'concurrent calls'
set ylabel 'QPS'
set yrange [0:*]
set key top left
plot '%s' using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'Health.Check', \\
     '' using 1:5:6:7 with yerrorlines lw 2 pt 5 title 'ListUsers'
unset logscale; unset xrange; unset yrange; set xtics autofreq
""" % (min(cs) / 1.6, max(cs) * 1.6, ", ".join("'%d' %d" % (c, c) for c in cs), f))

    g = summary.get("growth")
    if g and any("single" in e and "grown" in e for e in g["load"]):
        lines = ["# concurrency single p50 p99 grown p50 p99 (med min max each)"]
        rows = [e for e in g["load"] if "single" in e and "grown" in e]
        for e in rows:
            lines.append("%d %s %s %s %s" % (e["concurrency"], mmm(e["single"]["p50_ms"]),
                                             mmm(e["single"]["p99_ms"]),
                                             mmm(e["grown"]["p50_ms"]),
                                             mmm(e["grown"]["p99_ms"])))
        f = dat("growth_load.dat", lines)
        cs = [e["concurrency"] for e in rows]
        n = g["stages"].get("grown", {}).get("connections", 0)
        plots.append("""
set title 'Growth: ListUsers latency of connection #1, alone vs among %d connections'
set logscale x 2
set logscale y
set xrange [%g:%g]
set xtics (%s)
set xlabel 'concurrent calls'
set ylabel 'ms'
set key top left
plot '%s' using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 1 lc 1 title 'p50, 1 connection', \\
     '' using 1:8:9:10 with yerrorlines lw 2 pt 7 dt 2 lc 1 title 'p50, %d connections', \\
     '' using 1:5:6:7 with yerrorlines lw 2 pt 5 dt 1 lc 2 title 'p99, 1 connection', \\
     '' using 1:11:12:13 with yerrorlines lw 2 pt 5 dt 2 lc 2 title 'p99, %d connections'
unset logscale; unset xrange; set xtics autofreq
""" % (n, min(cs) / 1.6, max(cs) * 1.6, ", ".join("'%d' %d" % (c, c) for c in cs), f, n, n))

    if g and any("single" in e and "grown" in e for e in g["sync"].values()):
        lines = ["# kind single(med min max) grown(med min max), ms"]
        names = {"first": "new connection, first", "unchanged": "#1, unchanged",
                 "changed1pct": "#1, 1% changed"}
        for kind in ("first", "unchanged", "changed1pct"):
            e = g["sync"].get(kind, {})
            if "single" in e and "grown" in e:
                sm = {k: v * 1000 for k, v in e["single"]["seconds"].items() if k != "n"}
                gm = {k: v * 1000 for k, v in e["grown"]["seconds"].items() if k != "n"}
                lines.append('"%s" %s %s' % (names[kind], mmm(sm), mmm(gm)))
        f = dat("growth_sync.dat", lines)
        n = g["stages"].get("grown", {}).get("connections", 0)
        plots.append("""
set title 'Growth: Sync of one connection, alone vs among %d (median, min..max)'
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set boxwidth 0.9
set xtics nomirror
set xlabel ''
set ylabel 'ms'
set yrange [0:*]
set key top left
plot '%s' using 2:3:4:xtic(1) title '1 connection', \\
     '' using 5:6:7 title '%d connections'
unset style data; unset yrange; set style fill empty
""" % (n, f, n))

    if not plots:
        return False
    cols = 2 if len(plots) > 1 else 1
    nrows = (len(plots) + cols - 1) // cols
    title = "workato-connector bench %s - nproc %s, %s, load avg %s, gzip %s" % (
        machine["date_utc"], machine["nproc"], machine["cpu"], " ".join(machine["loadavg"]),
        "on" if machine.get("gzip") else "off")
    script = ["set terminal " + (term % (500 * nrows + 40)),
              "set output '%s'" % path,
              "set termoption noenhanced",
              "set grid",
              "set multiplot layout %d,%d title '%s'" % (nrows, cols, title.replace("'", ""))]
    script += plots
    script.append("unset multiplot")
    gp = dat("chart.gp", script)
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        print("report: gnuplot failed:\n" + r.stderr, file=sys.stderr)
        return False
    shutil.rmtree(tmp, ignore_errors=True)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("out")
    ap.add_argument("--micro", help="Google Benchmark JSON of bench-micro")
    ap.add_argument("--chart", help="PNG to write")
    args = ap.parse_args()

    raw = [json.loads(line) for line in open(args.raw) if line.strip()]
    config = next((r for r in raw if r["bench"] == "config"), {})
    summary = {"sync": [], "load": [], "memory": {}}
    rows = []  # (metric, value)

    summary["sync"] = summarize_sync(raw, rows)
    idle = [r["rss_kb"] for r in raw if r["bench"] == "idle"]
    if idle:
        summary["memory"]["idle_rss_kb"] = stat(idle)
        rows.append(("Server RSS idle, right after start (MB)",
                     fmt(summary["memory"]["idle_rss_kb"], 1 / 1024)))
    summary["load"] = summarize_load(raw, rows)
    after = [r for r in raw if r["bench"] == "after_load"]
    if after:
        summary["memory"]["after_load_rss_kb"] = after[0]["rss_kb"]
    growth, growth_rows = summarize_growth(raw)
    if growth:
        summary["growth"] = growth
    micro, micro_rows = (None, [])
    if args.micro and os.path.exists(args.micro):
        micro, micro_rows = summarize_micro(args.micro)
        summary["micro"] = micro

    machine = {"date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
               "nproc": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release(),
               "loadavg": open("/proc/loadavg").read().split()[:3],
               "quick": os.environ.get("BENCH_QUICK", "0") == "1",
               "load_seconds": os.environ.get("LOAD_SECONDS"),
               "gzip": bool(config.get("gzip", 0)),
               "client_decodes": bool(config.get("decode", 0))}
    print("machine: %s, nproc %s, %s, load avg %s, stand-in gzip %s, load client decodes %s"
          % (machine["date_utc"], machine["nproc"], machine["cpu"], " ".join(machine["loadavg"]),
             "on" if machine["gzip"] else "off", "yes" if machine["client_decodes"] else "no"))
    if rows:
        print()
        print_table(("metric", "median [min..max]"), rows)
    if growth_rows:
        n = growth["stages"].get("grown", {}).get("connections", "?")
        print()
        print("Growth: connection #1 alone (single) vs among %s connections (grown); "
              "median [min..max]" % n)
        print_table(("metric", "single", "grown", "grown/single"), growth_rows)
    if micro_rows:
        print()
        print("Micro-benchmarks (bench-micro, Google Benchmark)")
        print_table(("benchmark", "time/iter", "CPU/iter", "items/s", "MB/s"), micro_rows)
    if args.chart:
        machine["chart"] = os.path.basename(args.chart) if write_chart(args.chart, summary,
                                                                       machine) else None
    with open(args.out, "w") as f:
        json.dump({"machine": machine, "summary": summary, "raw": raw}, f, indent=1)


if __name__ == "__main__":
    main()
