#!/usr/bin/env python3
"""report.py OUTDIR -- turn contrib/bench/run's results.tsv into markdown.

Medians with [min-max] over the interleaved repetitions, CPU steal % (median
over the cell's repetitions, and the max), and the ratios the targets are set on.
With gnuplot on PATH (Debian: gnuplot-nox) it also draws every backend's
ratio to fuse-passthrough per job as OUTDIR/ratios.png (ratios.dat and
ratios.gp beside it)."""
import os
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict

out = sys.argv[1]
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "results.tsv")) if l.strip()]
BACK = ["raw-host", "fuse-passthrough", "qsd-raw", "qsd-qcow2", "qsd-qcow2-luks", "hangar", "hangar-z",
        "hangar-enc"]
JOBS = [("randwrite", "4k randwrite QD16", "IOPS"),
        ("randread", "4k randread QD16", "IOPS"),
        ("seqwrite", "1M seq write QD16", "MB/s"),
        ("seqread", "1M seq read QD16", "MB/s"),
        ("fsync32", "4k randwrite fsync=32", "IOPS"),
        ("randwrite_nj4", "4k randwrite numjobs=4", "IOPS"),
        ("fsync_idle", "4k randwrite QD1 fsync=1, alone", "IOPS"),
        ("fsync_4readers", "4k randwrite QD1 fsync=1, 4 readers 1M", "IOPS")]


def num(x):
    try:
        return float(x)
    except ValueError:
        return None


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def fmt(x, unit=""):
    if x is None:
        return "n/a"
    if unit == "s":
        return f"{x:.2f}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}"


def cell(vals, unit=""):
    v = [x for x in vals if x is not None]
    if not v:
        return "n/a"
    return f"{fmt(statistics.median(v), unit)} [{fmt(min(v), unit)}–{fmt(max(v), unit)}]"


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "n/a"


print(open(os.path.join(out, "meta.txt")).read().strip().replace("\n", "  \n"))
print()

fio = defaultdict(list)     # (job, backend) -> [value]
steal = defaultdict(list)   # (job, backend) -> [steal]
busy = defaultdict(list)
lat = defaultdict(list)     # backend -> [(p50, p99)]
rlat = defaultdict(list)    # (job, backend) -> [(p50, p99)], fsync under readers
for r in rows:
    if r[0] == "fio":
        _, job, b, rep, v, st, bu, p50, p99 = r
        fio[job, b].append(num(v))
        steal[job, b].append(num(st))
        busy[job, b].append(num(bu))
        if job == "fsync32":
            lat[b].append((num(p50), num(p99)))
        elif job in ("fsync_idle", "fsync_4readers"):
            rlat[job, b].append((num(p50), num(p99)))
backs = [b for b in BACK if any(k[1] == b for k in fio)]
if fio:
    print("## fio (median [min–max] over repetitions; higher is better)\n")
    print("| job | unit | " + " | ".join(backs) + " | steal % med (max) | hangar/pt | hangar/qsd-qcow2 | hangar-z/pt | hangar-z/qsd-qcow2 |")
    print("|---" * (len(backs) + 7) + "|")
    for job, name, unit in JOBS:
        if not any(k[0] == job for k in fio):
            continue
        st = [x for b in backs for x in steal[job, b] if x is not None]
        m = {b: med(fio[job, b]) for b in backs}
        print(f"| {name} | {unit} | " + " | ".join(cell(fio[job, b]) for b in backs) +
              f" | {fmt(med(st))} ({fmt(max(st) if st else None)}) | {ratio(m.get('hangar'), m.get('fuse-passthrough'))}"
              f" | {ratio(m.get('hangar'), m.get('qsd-qcow2'))} | {ratio(m.get('hangar-z'), m.get('fuse-passthrough'))}"
              f" | {ratio(m.get('hangar-z'), m.get('qsd-qcow2'))} |")
    if any(k[1] == "hangar-enc" for k in fio):
        print("\nEncryption at rest, hangar-enc/hangar in the same run (medians; targets: >= 0.6 on 4k random write, >= 0.8 on 4k random read): " + ", ".join(
            f"{name} {ratio(med(fio[job, 'hangar-enc']), med(fio[job, 'hangar']))}"
            for job, name, unit in JOBS if fio.get((job, "hangar-enc"))))
    if any(k[1] == "qsd-qcow2-luks" for k in fio):
        print("\nhangar-enc/qsd-qcow2-luks in the same run (medians; target: >= 1.0 on every job): " + ", ".join(
            f"{name} {ratio(med(fio[job, 'hangar-enc']), med(fio[job, 'qsd-qcow2-luks']))}"
            for job, name, unit in JOBS if fio.get((job, "qsd-qcow2-luks"))))
    if any(k[0] == "randwrite_nj4" for k in fio):
        print("\nScaling, 4k randwrite numjobs=4 / numjobs=1 (medians): " + ", ".join(
            f"{b} {ratio(med(fio['randwrite_nj4', b]), med(fio['randwrite', b]))}" for b in backs))
    print("\nSteal % per cell (median over repetitions):\n")
    print("| job | " + " | ".join(backs) + " |")
    print("|---" * (len(backs) + 1) + "|")
    for job, name, unit in JOBS:
        if any(k[0] == job for k in fio):
            print(f"| {name} | " + " | ".join(
                f"{fmt(med(steal[job, b]))} (busy {fmt(med(busy[job, b]))})" for b in backs) + " |")
    if lat:
        print("\nCommit (fsync) latency in the fsync=32 job, µs, median over repetitions of fio's p50 / p99:\n")
        print("| | " + " | ".join(backs) + " |")
        print("|---" * (len(backs) + 1) + "|")
        print("| p50 | " + " | ".join(fmt(med([x[0] for x in lat[b]])) for b in backs) + " |")
        print("| p99 | " + " | ".join(fmt(med([x[1] for x in lat[b]])) for b in backs) + " |")
    if rlat:
        print("\nfsync latency of one writer (4k, QD1, fsync after each write), alone and beside 4 readers of 1M randread QD16, µs, median over repetitions of fio's p50 / p99:\n")
        print("| | " + " | ".join(backs) + " |")
        print("|---" * (len(backs) + 1) + "|")
        for job, what in (("fsync_idle", "alone"), ("fsync_4readers", "4 readers")):
            for i, p in ((0, "p50"), (1, "p99")):
                print(f"| {what} {p} | " + " | ".join(
                    fmt(med([x[i] for x in rlat[job, b]])) for b in backs) + " |")

io = defaultdict(list)  # (job, backend) -> [(fio fsyncs, writes, wbytes, data, meta, syncs, commits, flushes)]
for r in rows:
    if r[0] == "io":
        io[r[1], r[2]].append(tuple(num(x) for x in r[4:12]))
if io:
    print("\nWhat a flush costs hangar (user.hangar.io deltas over each job, ramp included; a flush is a guest fsync "
          "or a committer tick; median over repetitions):\n")
    print("| job | backend | flushes | fio fsyncs (no ramp) | meta bytes / flush | fdatasyncs / flush | commits / flush | data bytes / flush |")
    print("|---" * 8 + "|")
    for job, name, unit in JOBS:
        for b in BACK:
            v = io.get((job, b))
            if not v:
                continue
            per = lambda i: med([x[i] / x[7] for x in v if x[i] is not None and x[7]])
            print(f"| {name} | {b} | {fmt(med([x[7] for x in v]))} | {fmt(med([x[0] for x in v]))}"
                  f" | {fmt(per(4))} | {fmt(per(5))} | {fmt(per(6))} | {fmt(per(3))} |")

if fio and "fuse-passthrough" in backs:
    others = [b for b in backs if b != "fuse-passthrough"]
    jobs = [(job, name) for job, name, unit in JOBS if any(k[0] == job for k in fio)]
    pt = {job: med(fio[job, "fuse-passthrough"]) for job, name in jobs}
    rt = {(job, b): (med(fio[job, b]) / pt[job] if med(fio[job, b]) and pt[job] else None)
          for job, name in jobs for b in others}
    print("\nEvery backend / fuse-passthrough (medians; the chart ratios.png draws this table):\n")
    print("| job | " + " | ".join(others) + " |")
    print("|---" * (len(others) + 1) + "|")
    for job, name in jobs:
        print(f"| {name} | " + " | ".join(f"{rt[job, b]:.2f}" if rt[job, b] else "–" for b in others) + " |")
    if shutil.which("gnuplot"):
        with open(os.path.join(out, "ratios.dat"), "w") as f:
            f.write("job\t" + "\t".join(others) + "\n")
            for job, name in jobs:
                f.write(f'"{name}"\t' + "\t".join(f"{rt[job, b]:.4f}" if rt[job, b] else "NaN" for b in others) + "\n")
        gp = os.path.join(out, "ratios.gp")
        with open(gp, "w") as f:
            f.write(f"""set terminal pngcairo size 1400,640 noenhanced font ",10"
set output "{os.path.join(out, 'ratios.png')}"
set title "Ratio to fuse-passthrough per fio job (median over repetitions; log scale; 1 = the FUSE ceiling)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 2
set yrange [0.005:8]
set ytics (0.005, 0.01, 0.03, 0.1, 0.25, 0.5, 1, 2, 4, 8)
set grid ytics
set key outside right top vertical
set xtics rotate by -20 left
set datafile missing "NaN"
set datafile separator "\\t"
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb "black"
plot for [i=2:{len(others) + 1}] "{os.path.join(out, 'ratios.dat')}" using i:xtic(1) title columnheader(i)
""")
        r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
        if r.returncode == 0:
            print("\n![every backend's ratio to fuse-passthrough](ratios.png)")
        else:
            print(f"\n(gnuplot failed: {r.stderr.strip()[:300]})")

cp = defaultdict(list)
cpst = defaultdict(list)
cpbad = []
for r in rows:
    if r[0] == "cp":
        _, tool, b, rep, s, st, bu, blocks, ok = r
        cp[tool, b].append(num(s))
        cpst[tool, b].append(num(st))
        if ok != "ok":
            cpbad.append(f"{tool} from {b} rep {rep}: {ok}")
if cp:
    cb = [b for b in BACK if any(k[1] == b for k in cp)]
    print("\n## Sparse copy of a half-sparse disk (size in the header) out of the mount (seconds, median [min–max]; lower is better)\n")
    print("| tool | " + " | ".join(cb) + " | steal % med | qsd-raw/hangar (speed) | qsd-raw/hangar-z |")
    print("|---" * (len(cb) + 4) + "|")
    for tool, name in (("cp", "cp --sparse=always"), ("rsync", "rsync -a --sparse")):
        m = {b: med(cp[tool, b]) for b in cb}
        st = [x for b in cb for x in cpst[tool, b] if x is not None]
        print(f"| {name} | " + " | ".join(cell(cp[tool, b], "s") for b in cb) +
              f" | {fmt(med(st))} | {ratio(m.get('qsd-raw'), m.get('hangar'))} | {ratio(m.get('qsd-raw'), m.get('hangar-z'))} |")
    if cpbad:
        print("\nCOPY ERRORS: " + "; ".join(cpbad))

save = defaultdict(list)
zs = {}
for r in rows:
    if r[0] == "save":
        _, b, rep, wm, rm, wst, rst, stored, logical, cd, ok = r
        save[b].append((num(wm), num(rm), num(wst), num(rst), num(stored), num(logical), num(cd), ok))
    elif r[0] == "zstd":
        zs[r[1]] = (num(r[2]), num(r[3]), num(r[4]))
if save:
    print("\n## memory.save: dd bs=1M of the save stream in, then out (MB/s of logical bytes, median [min–max])\n")
    print("| backend | write MB/s | write steal % | read MB/s | read steal % | stored/logical (st_blocks) | container growth/logical (rep 1) | check |")
    print("|---" * 8 + "|")
    for b in ["raw-host", "fuse-passthrough", "hangar"]:
        if b not in save:
            continue
        v = save[b]
        sl = [x[4] / x[5] for x in v if x[4] is not None and x[5]]
        cg = v[0][6] / v[0][5] if v[0][6] is not None and v[0][5] else None
        print(f"| {b} | {cell([x[0] for x in v])} | {fmt(med([x[2] for x in v]))} | {cell([x[1] for x in v])}"
              f" | {fmt(med([x[3] for x in v]))} | {f'{med(sl):.3f}' if sl else 'n/a'}"
              f" | {f'{cg:.3f}' if cg is not None else '-'} | {','.join(sorted(set(x[7] for x in v)))} |")
    for lvl in ("1", "3"):
        if lvl in zs:
            z, n, mbps = zs[lvl]
            print(f"| zstd -{lvl} (one thread, same bytes) | {fmt(mbps)} (compress) | | | | {z / n:.3f} | | |")

rss = defaultdict(dict)
for r in rows:
    if r[0] == "rss":
        rss[r[2]][r[1]] = int(r[3] or 0)
if rss:
    phases = ["fio", "cp", "save"]
    print("\n## Daemon max RSS (VmHWM, MiB) per phase\n")
    print("| backend | " + " | ".join(phases) + " |")
    print("|---" * 4 + "|")
    for b in BACK:
        if b in rss:
            print(f"| {b} | " + " | ".join(
                f"{rss[b][p] / 1024:.1f}" if p in rss[b] else "-" for p in phases) + " |")
for r in rows:
    if r[0] == "store" and r[3]:
        print(f"\nContainer after phase 1 ({r[2]}): {int(r[3]) / 2**20:.0f} MiB on the host (du) for a 1 GiB disk")
