#!/usr/bin/env python3
"""Aggregates scripts/bench.sh raw results: prints one table, writes JSON.

usage: report.py RAW.jsonl OUT.json
Every figure is the median of the runs, with [min..max].
"""
import datetime
import json
import os
import platform
import statistics
import sys


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


def main():
    raw = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    summary = {"sync": [], "load": [], "memory": {}}
    rows = []  # (metric, value)

    sizes = sorted({r["users"] for r in raw if r["bench"] == "sync"})
    for n in sizes:
        curl = [r for r in raw if r["bench"] == "curl" and r["users"] == n]
        c = stat([r["seconds"] for r in curl])
        rows.append(("curl /api/members baseline, %d users (s) [%.1f MB body]"
                     % (n, curl[0]["bytes"] / 1e6), fmt(c, digits=4)))
        entry = {"users": n, "curl_seconds": c, "curl_bytes_gzip": curl[0]["bytes"]}
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
        summary["sync"].append(entry)

    idle = stat([r["rss_kb"] for r in raw if r["bench"] == "idle"])
    summary["memory"]["idle_rss_kb"] = idle
    rows.append(("Server RSS idle, right after start (MB)", fmt(idle, 1 / 1024)))

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
        summary["load"].append(e)
    after = [r for r in raw if r["bench"] == "after_load"]
    if after:
        summary["memory"]["after_load_rss_kb"] = after[0]["rss_kb"]

    machine = {"date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
               "nproc": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release(),
               "loadavg": open("/proc/loadavg").read().split()[:3],
               "quick": os.environ.get("BENCH_QUICK", "0") == "1",
               "load_seconds": os.environ.get("LOAD_SECONDS")}
    width = max(len(r[0]) for r in rows)
    print("machine: %s, nproc %s, %s, load avg %s" % (machine["date_utc"], machine["nproc"],
                                                     machine["cpu"], " ".join(machine["loadavg"])))
    print("%-*s  %s" % (width, "metric", "median [min..max]"))
    print("%s  %s" % ("-" * width, "-" * 28))
    for name, value in rows:
        print("%-*s  %s" % (width, name, value))
    with open(sys.argv[2], "w") as f:
        json.dump({"machine": machine, "summary": summary, "raw": raw}, f, indent=1)


if __name__ == "__main__":
    main()
