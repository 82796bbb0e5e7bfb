#!/usr/bin/env python3
"""The malloc benchmark suite: every workload of malloc_bench on glibc,
jemalloc, tcmalloc, mimalloc and kmem (libkmem_malloc.so), in one
invocation, each under LD_PRELOAD.  Medians of interleaved runs; wall time,
CPU time and peak resident memory; ratios to kmem; a PNG plot.

Writes bench/out/malloc_suite.md (a section for BENCHMARKS.md) and
bench/results/malloc_suite.png.
"""
import math
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
LIBDIR = "/usr/lib/x86_64-linux-gnu"
KMEM = os.path.join(HERE, "..", "build", "release", "libkmem_malloc.so")
ALLOCATORS = [
    ("kmem", os.path.abspath(KMEM)),
    ("glibc", None),
    ("jemalloc", os.path.join(LIBDIR, "libjemalloc.so.2")),
    ("tcmalloc", os.path.join(LIBDIR, "libtcmalloc_minimal.so.4")),
    ("mimalloc", os.path.join(LIBDIR, "libmimalloc.so.2")),
]
DEBUG_MODES = ["default", "guards", "lite"]
WORKLOADS = ["server", "prodcons", "larson", "mixed", "realloc", "frag",
             "randsmall", "randsmall1", "large", "small", "xthread", "base"]
# base measures footprint only: its time is a process start, not a ratio.
TIMED = [w for w in WORKLOADS if w != "base"]


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def run(workload, lib, extra_env=None):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("KMEM_DEBUG", None)
    if lib:
        env["LD_PRELOAD"] = lib
    env.update(extra_env or {})
    out = subprocess.run([os.path.join(OUT, "malloc_bench"), workload], env=env,
                         capture_output=True, text=True, check=True).stdout
    wall, cpu, rss = (float(x) for x in out.split())
    return wall, cpu, rss


def main():
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    res = {}
    for w in WORKLOADS:
        samples = {name: [] for name, _ in ALLOCATORS}
        for mode in DEBUG_MODES:
            samples["kmem+" + mode] = []
        for _ in range(repeat):
            for name, lib in ALLOCATORS:
                samples[name].append(run(w, lib))
            for mode in DEBUG_MODES:
                samples["kmem+" + mode].append(run(w, ALLOCATORS[0][1],
                                                   {"KMEM_DEBUG": mode}))
        for name, s in samples.items():
            res[(w, name)] = tuple(statistics.median(x[i] for x in s) for i in range(3))
        print("  malloc suite: %s done" % w, file=sys.stderr)

    peers = [n for n, _ in ALLOCATORS if n != "kmem"]
    lines = ["## The malloc suite: real-use workloads (`bench/malloc_bench.c`)", ""]
    w_ = lines.append
    w_("Each workload runs under `LD_PRELOAD` on every allocator, median of %d "
       "interleaved runs." % repeat)
    w_("Ratios are **peer / kmem** for time (above 1.00x kmem is faster; "
       "*best* is the fastest peer of the workload, the target at least "
       "0.95x) and **kmem / best** for peak resident memory (the target is "
       "at most 1.10x).  `base` allocates a few KiB: its peak is the "
       "allocator's own footprint, its time a process start (not counted).")
    w_("")
    w_("| workload | kmem wall s | kmem CPU s | kmem peak MiB | " +
       " | ".join("%s wall" % p for p in peers) +
       " | best peer / kmem | peak RSS kmem / best |")
    w_("|---|---:|---:|---:|" + "---:|" * len(peers) + "---:|---:|")
    geo = {p: [] for p in peers}
    geo_best = []
    for w in WORKLOADS:
        kw, kc, kr = res[(w, "kmem")]
        cells = []
        for p in peers:
            pw = res[(w, p)][0]
            if w in TIMED:
                geo[p].append(pw / kw)
            cells.append("%.3f (%.2fx)" % (pw, pw / kw) if w in TIMED
                         else "%.3f" % pw)
        best = min(res[(w, p)][0] for p in peers)
        if w in TIMED:
            geo_best.append(best / kw)
        best_rss = min(res[(w, n)][2] for n, _ in ALLOCATORS)
        w_("| %s | %.3f | %.3f | %.1f | %s | %s | %.2fx |" % (
            w, kw, kc, kr, " | ".join(cells),
            "%.2fx" % (best / kw) if w in TIMED else "-", kr / best_rss))
    w_("")
    w_("Geometric mean of wall-time ratios (peer / kmem): " + ", ".join(
        "%s %.2fx" % (p, geomean(geo[p])) for p in peers) +
       "; against the best peer of each workload: %.2fx." % geomean(geo_best))
    w_("")
    w_("Peak resident MiB per allocator:")
    w_("")
    w_("| workload | " + " | ".join(n for n, _ in ALLOCATORS) + " |")
    w_("|---|" + "---:|" * len(ALLOCATORS))
    for w in WORKLOADS:
        w_("| %s | %s |" % (w, " | ".join("%.1f" % res[(w, n)][2] for n, _ in ALLOCATORS)))
    w_("")
    w_("Geometric mean of peak resident memory over the workloads: " + ", ".join(
        "%s %.1f MiB" % (n, geomean([res[(w, n)][2] for w in WORKLOADS]))
        for n, _ in ALLOCATORS) + "; of kmem / best per workload: %.2fx." %
        geomean([res[(w, "kmem")][2] / min(res[(w, m)][2] for m, _ in ALLOCATORS)
                 for w in WORKLOADS]))
    w_("")
    w_("### The cost of debugging")
    w_("")
    w_("kmem with `KMEM_DEBUG=default` (guards plus audit: each malloc and free")
    w_("also records its thread, time and stack), `guards` (every malloc and free")
    w_("checks the buffer's tag, redzone, ownership and free pattern) and `lite`")
    w_("(the same, with the free pattern in the first word only); see")
    w_("`kmem_debug(9)`.  Against kmem without.  The target of issue 5 is at most 3x.")
    w_("")
    w_("| workload | kmem wall s | " + " | ".join(
        "%s wall s | cost" % mode for mode in DEBUG_MODES) + " |")
    w_("|---|---:|" + "---:|---:|" * len(DEBUG_MODES))
    costs = {mode: [] for mode in DEBUG_MODES}
    for w in TIMED:
        plain = res[(w, "kmem")][0]
        cells = []
        for mode in DEBUG_MODES:
            t = res[(w, "kmem+" + mode)][0]
            costs[mode].append(t / plain)
            cells.append("%.3f | %.2fx" % (t, t / plain))
        w_("| %s | %.3f | %s |" % (w, plain, " | ".join(cells)))
    w_("")
    w_("Geometric mean: " + ", ".join(
        "%s %.2fx" % (mode, geomean(costs[mode])) for mode in DEBUG_MODES) + ".")
    w_("")
    w_("![malloc suite](bench/results/malloc_suite.png)")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(OUT, "malloc_suite.md"), "w") as f:
        f.write("\n".join(lines) + "\n")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    names = [n for n, _ in ALLOCATORS]
    width = 0.16
    for k, metric, title in ((0, 0, "wall time, relative to kmem (lower is better)"),
                             (1, 2, "peak resident memory, relative to kmem")):
        ax = axes[k]
        for j, n in enumerate(names):
            ws = TIMED if metric == 0 else WORKLOADS
            vals = [res[(w, n)][metric] / res[(w, "kmem")][metric] for w in ws]
            ax.bar([i + (j - 2) * width for i in range(len(ws))], vals, width,
                   label=n)
        ax.set_xticks(range(len(ws)))
        ax.set_xticklabels(ws, rotation=45, fontsize=8)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_title(title)
        ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "results", "malloc_suite.png"), dpi=90)


if __name__ == "__main__":
    main()
