#!/usr/bin/env python3
"""Run kmem's benchmarks against glibc, jemalloc, tcmalloc and mimalloc in one
invocation and write BENCHMARKS.md.

Every measurement is the median of --repeat runs.  Peers are measured through
the same binary with LD_PRELOAD; kmem through its own API in the same binary.
Instruction counts (valgrind --tool=callgrind) give a figure that does not
depend on machine noise.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
LIBDIR = "/usr/lib/x86_64-linux-gnu"
PEERS = [
    ("glibc", None),
    ("jemalloc", os.path.join(LIBDIR, "libjemalloc.so.2")),
    ("tcmalloc", os.path.join(LIBDIR, "libtcmalloc_minimal.so.4")),
    ("mimalloc", os.path.join(LIBDIR, "libmimalloc.so.2")),
]
KMEM = [("kmem_cache", "kmem_cache"), ("kmem_alloc", "kmem_alloc")]
SIZES = [16, 64, 256, 1024, 4096]


def run(cmd, preload=None):
    env = dict(os.environ)
    if preload:
        env["LD_PRELOAD"] = preload
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return res.stdout


def pairs_once(api, size, threads, workload, ops, preload):
    out = run([os.path.join(OUT, "bench_pairs"), api, str(size), str(threads),
               workload, str(ops)], preload)
    return float(out.split()[0])


def measure_config(size, threads, workload, ops, repeat):
    """Median per allocator; the allocators take turns within each
    repetition, so a burst of noise on the shared host hits them alike."""
    who = [(name, "malloc", lib) for name, lib in PEERS] + \
          [(name, api, None) for name, api in KMEM]
    times = {name: [] for name, _, _ in who}
    for _ in range(repeat):
        for name, api, lib in who:
            times[name].append(pairs_once(api, size, threads, workload, ops, lib))
    return {name: statistics.median(t) for name, t in times.items()}


def instructions(api, size, preload):
    """Instructions per alloc+free pair, from two callgrind runs."""
    counts = []
    for ops in (100000, 200000):
        outfile = os.path.join(OUT, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outfile,
                        os.path.join(OUT, "bench_pairs"), api, str(size), "1", "pair",
                        str(ops)],
                       env=dict(os.environ, **({"LD_PRELOAD": preload} if preload else {})),
                       capture_output=True, text=True, check=True)
        with open(outfile) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    counts.append(int(line.split()[1]))
                    break
        os.unlink(outfile)
    return (counts[1] - counts[0]) / 100000.0


def fmt_ratio(peer, kmem):
    return "%.2fx" % (peer / kmem)


FINDLEAKS_SIZES = (250000, 1000000, 4000000)


def findleaks_section(repeat):
    """kmem_findleaks() at scale: median time and scratch per buffer."""
    out = ["## Leak scan: `kmem_findleaks()` at scale", "",
           "N buffers of 64 bytes on a list, every other one cut out (leaked);",
           "one scan in a fresh process (`bench/bench_findleaks.c`).  Scratch: growth",
           "of the peak resident set during the scan (its tables; it allocates",
           "nothing else).  Median of %d runs." % repeat, "",
           "| buffers | leaked | scan s | ns per buffer | scratch bytes per buffer |",
           "|---:|---:|---:|---:|---:|"]
    for n in FINDLEAKS_SIZES:
        runs = [run([os.path.join(OUT, "bench_findleaks"), str(n)]).split()
                for _ in range(repeat)]
        runs.sort(key=lambda r: float(r[1]))
        n_, secs, ns, scratch, leaked = runs[len(runs) // 2]
        out.append("| %s | %s | %s | %s | %s |" % (n_, leaked, secs, ns, scratch))
    out.append("")
    return out


def malloc_suite_section(repeat):
    """The malloc suite, by its own script: it plots with the system's
    matplotlib, which Debian installs for /usr/bin/python3."""
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    subprocess.run([py, os.path.join(HERE, "malloc_suite.py"), str(repeat)],
                   check=True)
    with open(os.path.join(OUT, "malloc_suite.md")) as f:
        return f.read().rstrip("\n").split("\n")


def splice_section(path, section):
    """Replace the section of BENCHMARKS.md that starts with section[0]."""
    with open(path) as f:
        text = f.read().split("\n")
    start = text.index(section[0]) if section[0] in text else None
    if start is None:
        start = next(i for i, l in enumerate(text) if l.startswith("## Reading"))
        end = start
    else:
        end = next((i for i in range(start + 1, len(text))
                    if text[i].startswith("## ")), len(text))
    text[start:end] = section
    with open(path, "w") as f:
        f.write("\n".join(text))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "BENCHMARKS.md"))
    ap.add_argument("--ops", type=int, default=5000000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--section", choices=("findleaks", "malloc"),
                    help="regenerate one section of --out in place")
    args = ap.parse_args()
    if args.section == "findleaks":
        splice_section(args.out, findleaks_section(3))
        return
    if args.section == "malloc":
        splice_section(args.out, malloc_suite_section(3))
        return
    if args.quick:
        args.ops, args.repeat = 500000, 1
    for name, lib in PEERS:
        if lib and not os.path.exists(lib):
            sys.exit("missing %s (%s): run scripts/deps.sh bench" % (name, lib))

    t0 = time.time()
    results = {}  # (who, size, threads, workload) -> ns per pair
    for workload in ("pair", "batch"):
        for threads in (1, 2):
            for size in SIZES:
                med = measure_config(size, threads, workload, args.ops, args.repeat)
                for name, t in med.items():
                    results[(name, size, threads, workload)] = t
                print("  %s %d thread(s) %5d bytes done" % (workload, threads, size),
                      file=sys.stderr)

    # The BSD face's cost: kmalloc/kfree (a malloc type's counts kept, free
    # without a size) against the kmem_alloc/kmem_free pair it rides on.
    face = {}
    for threads in (1, 2):
        for size in SIZES:
            t = {"kmem_alloc": [], "kmalloc": [], "kmem_cache": [],
                 "pool_cache": []}
            for _ in range(args.repeat):
                for api in t:
                    t[api].append(pairs_once(api, size, threads, "pair",
                                             args.ops, None))
            face[(size, threads)] = {a: statistics.median(v) for a, v in t.items()}
        print("  face %d thread(s) done" % threads, file=sys.stderr)

    insns = {}
    insns["kmalloc"] = instructions("kmalloc", 64, None)
    insns["pool_cache"] = instructions("pool_cache", 64, None)
    for name, lib in PEERS:
        insns[name] = instructions("malloc", 64, lib)
    for name, api in KMEM:
        insns[name] = instructions(api, 64, None)

    rss_rows = [("kmem", run([os.path.join(OUT, "bench_rss"), "kmem"]).split())]
    for name, lib in PEERS:
        rss_rows.append((name, run([os.path.join(OUT, "bench_rss"), "malloc"],
                                   lib).split()))

    vmem_rows = [line.split() for line in
                 run([os.path.join(OUT, "bench_vmem"), str(args.ops // 2)]).splitlines()]

    lines = []
    w = lines.append
    w("# kmem benchmarks")
    w("")
    w("Written by `make bench` (`bench/run.py`) on %s, %s, %d CPUs; %s." % (
        time.strftime("%Y-%m-%d"), platform.processor() or platform.machine(),
        os.cpu_count(), "quick run" if args.quick else
        "median of %d interleaved runs of %d pairs per thread" % (args.repeat, args.ops)))
    w("Peers are the Debian packages, loaded with `LD_PRELOAD` into the same")
    w("benchmark binary.  Times are wall-clock nanoseconds per alloc+free pair per")
    w("thread; **ratios are peer time / kmem time, so above 1.00x kmem is faster**.")
    w("The machine is shared and has 2 cores: treat differences under ~10% as noise;")
    w("the instruction counts at the end do not depend on noise.")
    w("")
    for workload, desc in (("pair", "allocate, touch one byte, free"),
                           ("batch", "allocate 1000, free them in reverse")):
        for threads in (1, 2):
            w("## `%s` workload (%s), %d thread%s" % (workload, desc, threads,
                                                       "s" if threads > 1 else ""))
            w("")
            w("| size | kmem_cache | kmem_alloc | glibc | jemalloc | tcmalloc | mimalloc "
              "| best peer / kmem_cache | best peer / kmem_alloc |")
            w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for size in SIZES:
                r = lambda who: results[(who, size, threads, workload)]
                best = min(r(p) for p, _ in PEERS)
                w("| %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s |" % (
                    size, r("kmem_cache"), r("kmem_alloc"), r("glibc"), r("jemalloc"),
                    r("tcmalloc"), r("mimalloc"), fmt_ratio(best, r("kmem_cache")),
                    fmt_ratio(best, r("kmem_alloc"))))
            w("")
    w("## Scaling from 1 to 2 threads")
    w("")
    w("Throughput with 2 threads divided by throughput with 1 (ideal: 2.00; the")
    w("target is 1.9).  Per-thread time is constant when scaling is perfect.")
    w("")
    w("| workload | size | kmem_cache | kmem_alloc | glibc | jemalloc | tcmalloc | mimalloc |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for workload in ("pair", "batch"):
        for size in SIZES:
            cells = []
            for who in ("kmem_cache", "kmem_alloc", "glibc", "jemalloc", "tcmalloc",
                        "mimalloc"):
                one = results[(who, size, 1, workload)]
                two = results[(who, size, 2, workload)]
                cells.append("%.2f" % (2.0 * one / two))
            w("| %s | %d | %s |" % (workload, size, " | ".join(cells)))
    w("")
    w("## Instructions per 64-byte alloc+free pair (callgrind)")
    w("")
    w("Includes the benchmark loop's own few instructions, the same for all.")
    w("")
    w("| kmem_cache | kmem_alloc | glibc | jemalloc | tcmalloc | mimalloc |")
    w("|---:|---:|---:|---:|---:|---:|")
    w("| %s |" % " | ".join("%.1f" % insns[n] for n in
                           ("kmem_cache", "kmem_alloc", "glibc", "jemalloc", "tcmalloc",
                            "mimalloc")))
    w("")
    def face_table(title, intro, base, face_api):
        w(title)
        w("")
        for line in intro:
            w(line)
        w("")
        w("| size | threads | %s | %s | %s / %s |" % (base, face_api, face_api, base))
        w("|---:|---:|---:|---:|---:|")
        for threads in (1, 2):
            for size in SIZES:
                r = face[(size, threads)]
                w("| %d | %d | %.2f | %.2f | %.2fx |" % (
                    size, threads, r[base], r[face_api], r[face_api] / r[base]))
        w("")
        w("Instructions per 64-byte pair (callgrind): %s %.1f, %s %.1f (%.2fx)." % (
            base, insns[base], face_api, insns[face_api],
            insns[face_api] / insns[base]))
        w("")

    face_table("## BSD face: `kmalloc`/`kfree` against `kmem_alloc`/`kmem_free`",
               ["DragonFly kmalloc(9) on kmem (`compat/bsd`): the same size classes and",
                "magazines, plus the malloc type's per-CPU counts and a free without a size",
                "(the owner map).  `pair` workload; the issue's target is 1.15x."],
               "kmem_alloc", "kmalloc")
    face_table("## NetBSD face: `pool_cache_get`/`put` against `kmem_cache_alloc`/`free`",
               ["NetBSD pool_cache(9) on kmem: inline translations straight to the object",
                "cache's magazines.  `pair` workload; the issue's target is 1.05x."],
               "kmem_cache", "pool_cache")
    w("## vmem: alloc+free time as the arena grows")
    w("")
    w("An identifier arena holds N allocated segments of 1-8 quanta with free gaps")
    w("between them.  *steady*: free a random segment and allocate one of the same")
    w("size; *pair*: allocate and free at once.  Target: flat within 20%.")
    w("")
    w("| segments allocated | steady ns | pair ns | segments in arena "
      "| hash steps per free | freelist segments examined per alloc |")
    w("|---:|---:|---:|---:|---:|---:|")
    for n, steady, pair, segs, lookup, search in vmem_rows:
        w("| %s | %s | %s | %s | %s | %s |" % (n, steady, pair, segs, lookup, search))
    steadies = [float(r[1]) for r in vmem_rows]
    pairs_ = [float(r[2]) for r in vmem_rows]
    w("")
    w("Largest / smallest: steady %.2fx, pair %.2fx." % (
        max(steadies) / min(steadies), max(pairs_) / min(pairs_)))
    w("")
    w("## Resident memory given back")
    w("")
    w("400,000 buffers of 16 bytes to 2 KiB and 100 of 1 MiB are allocated and")
    w("written, then freed in random order.  Resident set (MiB) at start, at peak,")
    w("right after the frees, and after a reap: `kmem_reap()` for kmem,")
    w("`malloc_trim(0)` for the others (only glibc's honours it).  Without a reap,")
    w("kmem returns idle magazines and their slabs at the periodic update (every")
    w("15 s): a magazine must sit unused for a whole interval first.")
    w("")
    w("| allocator | start | peak | after free | after reap/trim |")
    w("|---|---:|---:|---:|---:|")
    for name, vals in rss_rows:
        w("| %s | %s |" % (name, " | ".join(vals)))
    w("")
    lines.extend(malloc_suite_section(max(3, args.repeat // 2)))
    w("")
    w("Run time: %.0f s." % (time.time() - t0))
    w("")
    lines.extend(findleaks_section(3))
    with open(os.path.join(HERE, "analysis.md")) as f:
        lines.extend(f.read().rstrip("\n").split("\n"))
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s" % args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
