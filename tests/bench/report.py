#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn tests/bench/run.sh's results.tsv into the table (stdout and
table.txt), results.json, and gnuplot data + script (plot.gp -> bench.png).

usage: report.py RESULTS.TSV OUTDIR META_JSON
"""
import csv
import fnmatch
import json
import os
import re
import sys

MODES = ("xsock", "tcp", "unix")


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def cell(rec):
    if rec is None:
        return "-"
    if rec["status"] == "ok":
        return rec["value"]
    return rec["status"]


def build_rows(recs):
    rows, order = {}, []
    for r in recs:
        key = (r["row"], r["label"])
        if key not in rows:
            rows[key] = {"row": r["row"], "label": r["label"], "unit": r["unit"],
                         "better": r["better"], "family": r["family"],
                         "size": int(r["size"] or 0), "modes": {}}
            order.append(key)
        mode = "xsock" if r["mode"] == "ring" else r["mode"]
        rows[key]["modes"][mode] = r
    return [rows[k] for k in order]


def ratio(row):
    x, t = row["modes"].get("xsock"), row["modes"].get("tcp")
    if not x or not t or x["status"] != "ok" or t["status"] != "ok":
        return None
    try:
        return float(x["value"]) / float(t["value"])
    except (ValueError, ZeroDivisionError):
        return None


# Issue 18's targets, as ratios xsock/TCP of rows of this run: (what,
# row ids or fnmatch patterns of them, "min" = every ratio at least the
# bound, "max" = every ratio at most it, "better" = each row's ratio on its
# better side of the bound (at most it for lower-better rows, at least it
# otherwise), bound). Lower-better rows (times) are compared as they are
# (a time ratio of 0.05 is 1/20 of TCP's).
TARGETS = (
    ("README demo: socat file -> file >= 1.5x", ("socat_file",), "min", 1.5),
    ("64 B RTT back to back <= 1/20 (p50, p99)", ("sp_pp_p50_64", "sp_pp_p99_64"), "max", 0.05),
    ("64 B RTT at 10,000 msg/s <= 1/20", ("sp_pp_p50_64_mps10000", "sp_pp_p99_64_mps10000"),
     "max", 0.05),
    ("64 B RTT at 1,000 msg/s <= 1/20", ("sp_pp_p50_64_mps1000", "sp_pp_p99_64_mps1000"),
     "max", 0.05),
    ("64 B writes >= 20x (sockperf tp, iperf3 -l 64)", ("sp_tp_64", "ip_64_P1"), "min", 20),
    ("128 KiB writes, one stream >= 3x", ("ip_128K_P1",), "min", 3),
    ("redis-benchmark -c 50 and -c 1000 >= 1.0x", ("rb_*_c50", "rb_*_c1000"), "min", 1.0),
    ("applications (tests/apps) >= 1.0x", ("app_*",), "better", 1.0),
    ("connect + request + close >= 1.0x", ("conn_rate",), "min", 1.0),
    ("CPU per GB <= TCP's", ("ipcpu_*",), "max", 1.0),
    ("both ends on one CPU: no slower than TCP", ("sp_pp_p50_64_cpu0", "socat_file_cpu0"),
     "better", 1.0),
)


def targets(rows):
    """Lines saying, for each target, the ratios of this run and whether
    every one of them meets it."""
    by_id = {r["row"]: r for r in rows}
    out = ["", "issue 18 targets (this run's xsock/tcp ratios):"]
    for what, ids, how, bound in TARGETS:
        sel = []
        for i in ids:
            if "*" in i:
                sel += [r for r in rows if fnmatch.fnmatchcase(r["row"], i)]
            elif i in by_id:
                sel.append(by_id[i])
        vals, ok = [], bool(sel)
        for r in sel:
            rt = ratio(r)
            if rt is None:
                ok = False
                vals.append("-")
                continue
            vals.append("%.2f" % rt)
            if how == "min":
                ok = ok and rt >= bound
            elif how == "max":
                ok = ok and rt <= bound
            else:	# "better"
                ok = ok and (rt <= bound if r["better"] == "lower" else rt >= bound)
        out.append("  %-4s %-50s %s" % ("met" if ok else "MISS", what, " ".join(vals) or "no rows"))
    return out


def table(rows, meta):
    out = []
    hdr = ("test", "unit", "xsock", "tcp", "unix", "xsock/tcp")
    lines = []
    for r in rows:
        rt = ratio(r)
        unit = r["unit"] + (" (lower better)" if r["better"] == "lower" else "")
        lines.append((r["label"], unit, cell(r["modes"].get("xsock")),
                      cell(r["modes"].get("tcp")), cell(r["modes"].get("unix")),
                      "%.2f" % rt if rt is not None else "-"))
    w = [max(len(hdr[i]), *(len(l[i]) for l in lines)) if lines else len(hdr[i])
         for i in range(len(hdr))]
    fmt = "  ".join(("%%-%ds" if i == 0 else "%%%ds") % w[i] for i in range(len(hdr)))
    out.append("xsock benchmark: %s CPUs (%s), kernel %s, load average %s at start, %s at end"
               % (meta.get("cpus"), meta.get("cpu"), meta.get("kernel"),
                  meta.get("load_start"), meta.get("load_end")))
    out.append("xsock = domain 1 -> domain 2 through libxsock_preload.so (local backend, "
               "XSOCK_FALLBACK=0); ring floor rows: xsock-ringbench, no shim")
    out.append("")
    out.append(fmt % hdr)
    out.append(fmt % tuple("-" * x for x in w))
    for l in lines:
        out.append(fmt % l)
    notes = []
    for r in rows:
        for m in MODES:
            rec = r["modes"].get(m)
            if rec and rec["status"] == "FAIL":
                notes.append("FAIL %s [%s]: %s" % (r["label"], m, rec["error"]))
    seen = set()
    na = []
    for r in rows:
        for m in MODES:
            rec = r["modes"].get(m)
            if rec and rec["status"] == "n/a" and rec["error"] not in seen:
                seen.add(rec["error"])
                na.append("n/a: %s" % rec["error"])
    out.extend(targets(rows))
    if notes or na:
        out.append("")
        out.extend(notes)
        out.extend(na)
    return "\n".join(out) + "\n"


def num(rec):
    if rec and rec["status"] == "ok":
        return rec["value"]
    return "NaN"


def write_plot(rows, outdir):
    """Six panels: RTT p50/p99 vs message size, throughput vs write size,
    redis requests/s for xsock/tcp/unix, 64 B RTT at a rate and on one
    CPU, socat's file transfer, the applications' speed-ups."""
    fam = {}
    for r in rows:
        fam.setdefault(r["family"], []).append(r)

    def series(family, fname, modes):
        with open(os.path.join(outdir, fname), "w") as f:
            f.write("# size " + " ".join(modes) + "\n")
            for r in sorted(fam.get(family, []), key=lambda r: r["size"]):
                f.write("%d %s\n" % (r["size"], " ".join(num(r["modes"].get(m))
                                                         for m in modes)))

    series("sockperf_pp_p50", "lat_p50.dat", ("xsock", "tcp"))
    series("sockperf_pp_p99", "lat_p99.dat", ("xsock", "tcp"))
    series("ring_pp_p50", "ring_p50.dat", ("xsock",))
    series("iperf3_P1", "tput_P1.dat", ("xsock", "tcp"))
    series("iperf3_P4", "tput_P4.dat", ("xsock", "tcp"))
    series("ring_stream", "ring_stream.dat", ("xsock",))
    with open(os.path.join(outdir, "redis.dat"), "w") as f:
        f.write("# test xsock tcp unix\n")
        for r in fam.get("redis", []):
            if "-c 50" in r["label"]:
                continue
            name = r["label"].replace("redis-benchmark ", "").split(" (")[0]
            f.write('"%s" %s\n' % (name, " ".join(num(r["modes"].get(m)) for m in MODES)))
    # Request/response at a rate and on one CPU (64 B): one cluster a case.
    cases = (("back to back", "sockperf_pp", 64), ("10,000/s", "sockperf_rate", "_mps10000"),
             ("1,000/s", "sockperf_rate", "_mps1000"), ("one CPU", "pinned", 64))
    with open(os.path.join(outdir, "rates.dat"), "w") as f:
        f.write("# case xsock_p50 tcp_p50 xsock_p99 tcp_p99\n")
        for name, family, key in cases:
            vals = []
            for pct in ("p50", "p99"):
                hit = [r for r in fam.get(family + "_" + pct, [])
                       if (r["row"].endswith(key) if isinstance(key, str) else r["size"] == key)]
                r = hit[0] if hit else None
                vals += [num(r["modes"].get(m)) if r else "NaN" for m in ("xsock", "tcp")]
            f.write('"%s" %s %s %s %s\n' % (name, vals[0], vals[1], vals[2], vals[3]))
    with open(os.path.join(outdir, "socat.dat"), "w") as f:
        f.write("# case xsock tcp\n")
        for r in fam.get("socat", []):
            name = "one CPU" if r["row"].endswith("_cpu0") else "two CPUs"
            f.write('"%s" %s %s\n' % (name, num(r["modes"].get("xsock")),
                                       num(r["modes"].get("tcp"))))
    # Applications at their own benchmarks (apps.sh): xsock's speed-up,
    # TCP's figure over xsock's where lower is better, so > 1 is faster.
    with open(os.path.join(outdir, "apps.dat"), "w") as f:
        f.write("# application speed-up (xsock over TCP, > 1: xsock faster)\n")
        for r in fam.get("apps", []):
            rt = ratio(r)
            if rt is None:
                continue
            up = 1 / rt if r["better"] == "lower" and rt else rt
            f.write('"%s" %.3f\n' % (r["label"].replace('"', "'")[:28], up))
    gp = r'''set terminal pngcairo size 1500,960 font "sans,10"
set output "bench.png"
set datafile missing "NaN"
set multiplot layout 2,3 title "xsock (shim, domain 1 -> 2) vs TCP loopback vs UNIX socket -- see results.json for the machine and load"
set logscale xy
set grid
set key bottom right
set xlabel "message size (bytes)"
set ylabel "round-trip time (us)"
set title "sockperf ping-pong RTT"
set xtics ("64" 64, "1K" 1024, "16K" 16384, "64K" 65536)
plot "lat_p50.dat" u 1:2 w lp lw 2 pt 7 lc rgb "#d62728" t "xsock p50", \
     "lat_p50.dat" u 1:3 w lp lw 2 pt 5 lc rgb "#1f77b4" t "TCP p50", \
     "lat_p99.dat" u 1:2 w lp dt 2 pt 6 lc rgb "#d62728" t "xsock p99", \
     "lat_p99.dat" u 1:3 w lp dt 2 pt 4 lc rgb "#1f77b4" t "TCP p99", \
     "ring_p50.dat" u 1:2 w lp lw 1 pt 9 lc rgb "#2ca02c" t "ring floor p50 (ringbench)"
set ylabel "throughput (Gbit/s)"
set xlabel "write size (bytes)"
set title "iperf3 / ring stream throughput"
set xtics ("64" 64, "4K" 4096, "64K" 65536, "128K" 131072)
set key bottom right
plot "tput_P1.dat" u 1:2 w lp lw 2 pt 7 lc rgb "#d62728" t "xsock iperf3 -P 1", \
     "tput_P1.dat" u 1:3 w lp lw 2 pt 5 lc rgb "#1f77b4" t "TCP iperf3 -P 1", \
     "tput_P4.dat" u 1:2 w lp dt 2 pt 6 lc rgb "#d62728" t "xsock iperf3 -P 4", \
     "tput_P4.dat" u 1:3 w lp dt 2 pt 4 lc rgb "#1f77b4" t "TCP iperf3 -P 4", \
     "ring_stream.dat" u 1:2 w lp lw 1 pt 9 lc rgb "#2ca02c" t "ring floor (ringbench)"
unset logscale
unset xtics
set xtics rotate by -20
set title "redis-benchmark"
set ylabel "thousand requests/s"
set xlabel ""
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set key top left
plot "redis.dat" u 2:xtic(1) lc rgb "#d62728" t "xsock", \
     "" u 3 lc rgb "#1f77b4" t "TCP", \
     "" u 4 lc rgb "#ff7f0e" t "UNIX"
set title "sockperf 64 B ping-pong RTT: rate, one CPU"
set ylabel "round-trip time (us, log)"
set logscale y
set yrange [*:*]
set xtics norotate
set key top left
plot "rates.dat" u 2:xtic(1) lc rgb "#d62728" t "xsock p50", \
     "" u 3 lc rgb "#1f77b4" t "TCP p50", \
     "" u 4 lc rgb "#ff9896" t "xsock p99", \
     "" u 5 lc rgb "#aec7e8" t "TCP p99"
unset logscale
set yrange [0:*]
set title "socat file -> file, 8 KiB blocks (the README demo)"
set ylabel "throughput (Gbit/s)"
plot "socat.dat" u 2:xtic(1) lc rgb "#d62728" t "xsock", \
     "" u 3 lc rgb "#1f77b4" t "TCP"
set title "applications at their own benchmarks (tests/apps)"
set ylabel "speed-up, xsock over TCP (1 = same)"
set xtics rotate by -30 font ",8"
set key top left
plot "apps.dat" u 2:xtic(1) lc rgb "#d62728" t "xsock / TCP", \
     1 w l lc rgb "black" dt 2 t "TCP"
unset multiplot
'''
    gp = blank_missing(gp, outdir)
    with open(os.path.join(outdir, "plot.gp"), "w") as f:
        f.write('cd "%s"\n' % outdir)
        f.write(gp)


def has_data(path):
    """True if a .dat file has a row with a measured value (a run of a
    subset, BENCH_ONLY, leaves some empty, and gnuplot fails on those)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("#"):
                    continue
                vals = line.replace('"', " ").split()[1:]
                if any(v != "NaN" for v in vals):
                    return True
    except OSError:
        pass
    return False


def blank_missing(gp, outdir):
    """Replace each plot statement whose data file holds nothing with an
    empty panel that says so."""
    out, stmt = [], []
    for line in gp.splitlines(True):
        if not stmt and not line.startswith("plot "):
            out.append(line)
            continue
        stmt.append(line)
        if line.rstrip().endswith("\\"):
            continue
        m = re.match(r'plot "([^"]+)"', stmt[0])
        if m and not has_data(os.path.join(outdir, m.group(1))):
            out.append('set label 9 "not measured in this run" at graph 0.5,0.5 center\n'
                       'plot [0:1] [0:1] 2 notitle\n'
                       'unset label 9\n')
        else:
            out.extend(stmt)
        stmt = []
    return "".join(out)


def main():
    tsv, outdir, meta = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    recs = load(tsv)
    rows = build_rows(recs)
    txt = table(rows, meta)
    sys.stdout.write(txt)
    with open(os.path.join(outdir, "table.txt"), "w") as f:
        f.write(txt)
    res = {"meta": meta, "results": []}
    for r in rows:
        ent = {"id": r["row"], "test": r["label"], "unit": r["unit"], "better": r["better"],
               "family": r["family"], "size": r["size"], "xsock_over_tcp": ratio(r)}
        for m in MODES:
            rec = r["modes"].get(m)
            if rec is None:
                ent[m] = None
            elif rec["status"] == "ok":
                ent[m] = float(rec["value"])
            else:
                ent[m] = {"status": rec["status"], "error": rec["error"]}
        res["results"].append(ent)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    write_plot(rows, outdir)


if __name__ == "__main__":
    main()
