#!/usr/bin/env python3
"""
The gdb extension (tools/gdb/kmem.py) against the library's own printers.

Usage: tests/gdb/run.py TARGET        (make test-gdb)

TARGET is tests/gdb/target.c built against libkmem.a.  For each mode --
"debug" (KMEM_DEBUG=audit,guards,contents and every log) and "plain" (no
debugging) -- it runs the target under gdb -batch to target_stop_here(),
runs every kmem subcommand there, makes a core file with
generate-core-file, and runs them all again on the core.  Both runs must
agree with the files the target wrote with the library's printers before
it stopped:
  kmem kmastat    = kmem_kmastat(), line for line
  kmem vmem       = vmem_print(), line for line
  kmem verify     = kmem_verify(), line for line (debug: the seeded
                    corruption in gdb_guarded is reported)
  kmem whatis     = kmem_whatis() of each whatis_targets[] address (the
                    time of an audit record aside), and names the right
                    cache and state
  kmem findleaks  = the target's known leaks (7 buffers, their callers),
                    and kmem_findleaks()'s report when the library has it
and the others run and say what they should (cache, vmem_seg,
bufctl_audit, the logs, findleaks -w).  Then the layout checks: a wrong
kmem_layout_version, or a field the script needs gone, must stop gdb
-batch with status 1 and a message naming it.

Exit status: the number of failed checks (0: all passed).  A mismatch is
shown as a diff.
"""

import difflib
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(ROOT, "tools", "gdb", "kmem.py")

MODES = {
    "debug": {"KMEM_OPTIONS": "reap_interval=0",
              "KMEM_DEBUG": "audit,guards,contents",
              "KMEM_LOGGING": "transaction,contents,fail"},
    "plain": {"KMEM_OPTIONS": "reap_interval=0"},
}
LIBRARY_FILES = ("whatis", "verify", "findleaks", "kmastat", "vmem")
WHATIS_SLOTS = 9                # whatis_targets[] in target.c
OVERSIZE_LEAK = 3 << 20         # LEAK_OVERSIZE in target.c
LEAK_TOTAL = "   Total 7 buffers, %d bytes" % (
    3 * 200 + 2 * 768 + 128 + OVERSIZE_LEAK)
# Expected leak groups: cache -> (buffers, caller when audited).
LEAKS = {"gdb_leaky": (3, "leak_three+"),
         "kmem_alloc_768": (2, "leak_two_alloc+"),
         "gdb_arena_cache": (1, "leak_in_static_arena+"),
         "kmem_oversize": (1, None)}
# What kmem whatis must say of each whatis_targets[i] (target.c).
WHATIS = ["allocated from gdb_node",
          "allocated from kmem_alloc_112",
          "freed from gdb_node",
          "allocated from the kmem_oversize vmem arena",
          "allocated from gdb_arena_cache",
          "is in no kmem cache or vmem arena",
          "allocated from kmem_alloc_5120",
          "freed from the kmem_oversize vmem arena (kept for reuse)",
          "freed from gdb_guarded"]


class Checks:
    """Counts failures; a failure prints what differs."""

    def __init__(self):
        self.failed = 0
        self.passed = 0

    def ok(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            return True
        self.failed += 1
        print("FAIL: %s" % what)
        if detail:
            print(detail.rstrip("\n"))
        return False

    def same(self, want, got, what, want_name, got_name):
        diff = "".join(difflib.unified_diff(
            [l + "\n" for l in want], [l + "\n" for l in got],
            want_name, got_name))
        return self.ok(not diff, what, diff)


def sections(commands):
    """gdb -ex arguments: each command after a marker line."""
    args = []
    for name, command in commands:
        args += ["-ex", "echo @@%s\\n" % name, "-ex", command]
    return args + ["-ex", "echo @@end\\n"]


def split_sections(stdout):
    out = {}
    name = None
    for line in stdout.splitlines():
        found = re.match(r"^@@(\S+)$", line)
        if found:
            name = found.group(1)
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def gdb(args, env=None):
    cmd = ["gdb", "-batch", "-nx", "-x", SCRIPT] + args
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def commands(mode):
    cmds = [("kmastat", "kmem kmastat"), ("vmem", "kmem vmem"),
            ("verify", "kmem verify"), ("findleaks", "kmem findleaks")]
    cmds += [("whatis%d" % i, "kmem whatis whatis_targets[%d]" % i)
             for i in range(WHATIS_SLOTS)]
    cmds += [("count", "print whatis_count"),
             ("cache", "kmem cache"),
             ("cache_name", "kmem cache gdb_node"),
             ("cache_addr", "kmem cache node_cache"),
             ("vmem_seg_arena", "kmem vmem_seg kmem_oversize"),
             ("vmem_seg_one",
              "kmem vmem_seg kmem_oversize_arena->vm_seg0.vs_anext"),
             ("reach_list", "kmem findleaks -w g_list->next->next"),
             ("reach_interior", "kmem findleaks -w g_interior"),
             ("log", "kmem log"),
             ("log_contents", "kmem log contents"),
             ("log_fail", "kmem log fail"),
             ("bufctl_audit", "kmem bufctl_audit whatis_targets[0]")]
    # Bad arguments: each a clear error (BAD_ARGUMENTS), nothing printed.
    cmds += [("bad%d" % i, command) for i, (command, _) in
             enumerate(BAD_ARGUMENTS)]
    return cmds


# What a mistyped command must say (on gdb's error stream).
BAD_ARGUMENTS = [
    ("kmem bogus", "kmem: no subcommand 'bogus' (see help kmem)"),
    ("kmem kmastat extra", "kmem kmastat takes no argument"),
    ('kmem whatis "str"', "kmem: no string literals: the commands never "
     "make the program run"),
    ("kmem whatis 1.5", "kmem: 1.5 is not an address"),
    ("kmem cache nosuch", "kmem: no cache named nosuch"),
    ("kmem vmem_seg &g_list", "is no vmem segment of any arena"),
]


def library_whatis(lines):
    """The library's whatis file, by target index."""
    out = {}
    index = None
    for line in lines:
        found = re.match(r"^== (\d+)$", line)
        if found:
            index = int(found.group(1))
            out[index] = []
        elif index is not None:
            out[index].append(line)
    return out


def untimed(lines):
    """An audit record's T-... depends on 'now': left out of compares."""
    return [re.sub(r"time=T-\d+\.\d+", "time=T-*", l) for l in lines]


def check_findleaks(checks, got, mode, where):
    checks.ok(got[-1:] == [LEAK_TOTAL], "%s %s: findleaks total" %
              (mode, where),
              "want %r\ngot:\n%s" % (LEAK_TOTAL, "\n".join(got)))
    header = "BUFCTL" if mode == "debug" else "BUFFER"
    checks.ok(got and got[0].split()[2:3] == [header],
              "%s %s: findleaks header says %s" % (mode, where, header),
              "\n".join(got))
    counts = {}
    for line in got[1:-2]:
        fields = line.split()
        cache, count, caller = fields[0], int(fields[1]), fields[3]
        counts[cache] = counts.get(cache, 0) + count
        want_caller = LEAKS.get(cache, (0, None))[1]
        if mode == "debug" and want_caller is not None:
            checks.ok(caller.startswith(want_caller), "%s %s: %s leaks "
                      "from %s" % (mode, where, cache, want_caller), line)
        elif mode == "plain" or want_caller is None:
            checks.ok(caller == "?", "%s %s: %s caller unknown" %
                      (mode, where, cache), line)
    checks.ok(counts == {c: n for c, (n, _) in LEAKS.items()},
              "%s %s: findleaks groups" % (mode, where), "\n".join(got))


def check_whatis(checks, got, library, count, mode, where):
    for i in range(count):
        lines = got.get("whatis%d" % i, [])
        checks.same(untimed(library.get(i, [])), untimed(lines),
                    "%s %s: whatis whatis_targets[%d] = kmem_whatis()" %
                    (mode, where, i), "kmem_whatis()", "kmem whatis")
        checks.ok(lines and WHATIS[i] in lines[0], "%s %s: whatis "
                  "whatis_targets[%d] says '%s'" % (mode, where, i,
                                                    WHATIS[i]),
                  "\n".join(lines))


def check_logs(checks, got, err, mode, where):
    audit = got.get("bufctl_audit", [])
    if mode == "plain":
        checks.ok("the transaction log is off" in err, "%s %s: kmem log "
                  "says the log is off" % (mode, where), err)
        checks.ok("which is not audited" in err, "%s %s: bufctl_audit "
                  "of a buffer not audited says so" % (mode, where), err)
        return
    checks.ok(untimed(audit) == untimed(got.get("whatis0", [])[1:]),
              "%s %s: bufctl_audit of a buffer prints its audit record" %
              (mode, where), "\n".join(audit))
    log = got.get("log", [])
    # The newest transaction: the last free of traffic(NULL, 5000, 50).
    checks.ok(len(log) > 10 and log[0].startswith("record 0x") and
              " FREE " in log[0] and "cache: kmem_alloc_5120" in log[1] and
              "time=T-0.000000000" in log[1],
              "%s %s: transaction log, newest first" % (mode, where),
              "\n".join(log[:10]))
    contents = got.get("log_contents", [])
    checks.ok(contents and "cache: kmem_alloc_5120" in contents[0] and
              "size 256" in contents[0] and len(contents) > 17 and
              contents[1].startswith("    0000  "), "%s %s: contents log" %
              (mode, where), "\n".join(contents[:8]))
    fail = got.get("log_fail", [])
    checks.ok(fail and " FAIL " in fail[0] and "cache: kmem_oversize" in
              fail[1] and any("fail_once+" in l for l in fail),
              "%s %s: failure log" % (mode, where), "\n".join(fail))


def check_others(checks, got, mode, where):
    cache = got.get("cache", [])
    checks.ok(cache and cache[0].split() == ["ADDR", "NAME", "FLAG",
                                             "CFLAG", "BUFSIZE", "BUFTOTL"]
              and any(l.split()[1:2] == ["gdb_node"] for l in cache),
              "%s %s: kmem cache" % (mode, where), "\n".join(cache[:4]))
    one = got.get("cache_name", [])
    checks.ok(len(one) == 2 and one[1].split()[1] == "gdb_node" and
              one == got.get("cache_addr"), "%s %s: kmem cache NAME|ADDR" %
              (mode, where), "\n".join(one + got.get("cache_addr", [])))
    segs = got.get("vmem_seg_arena", [])
    checks.ok(any(l.split()[1:2] == ["SPAN"] for l in segs) and
              any(l.split()[1:2] == ["ALLC"] and
                  l.split()[4] == str(OVERSIZE_LEAK) for l in segs),
              "%s %s: kmem vmem_seg ARENA lists the oversize leak" %
              (mode, where), "\n".join(segs))
    one = got.get("vmem_seg_one", [])
    checks.ok(len(one) == 2 and len(segs) > 1 and one[1] == segs[1],
              "%s %s: kmem vmem_seg ADDR" % (mode, where), "\n".join(one))
    chain = got.get("reach_list", [])
    checks.ok(len(chain) == 3 and chain[-1].endswith(", a root") and
              all("(gdb_node)" in l for l in chain),
              "%s %s: findleaks -w follows the list from its root" %
              (mode, where), "\n".join(chain))
    inner = got.get("reach_interior", [])
    checks.ok(len(inner) == 1 and "(kmem_alloc_112)" in inner[0] and
              inner[0].endswith(", a root"), "%s %s: findleaks -w: an "
              "interior pointer reaches its buffer" % (mode, where),
              "\n".join(inner))


def check_run(checks, got, err, library, mode, where):
    for name in ("kmastat", "vmem", "verify"):
        checks.same(library[name], got.get(name, []), "%s %s: kmem %s = "
                    "the library's" % (mode, where, name), "library",
                    "kmem " + name)
    if mode == "debug":
        checks.ok(any(re.match(r"^gdb_guarded +0x[0-9a-f]+  1 corrupt "
                               r"buffers$", l) for l in got.get("verify", []))
                  and any("(free) seems corrupted, at" in l
                          for l in got.get("verify", [])),
                  "%s %s: verify reports the seeded corruption" %
                  (mode, where), "\n".join(got.get("verify", [])))
    findleaks = got.get("findleaks", [])
    check_findleaks(checks, findleaks, mode, where)
    checks.same(library["findleaks"], findleaks, "%s %s: kmem "
                "findleaks = kmem_findleaks()" % (mode, where),
                "kmem_findleaks()", "kmem findleaks")
    count = re.search(r"= (\d+)", "\n".join(got.get("count", [])))
    count = int(count.group(1)) if count else 0
    checks.ok(count == len(WHATIS) - (mode == "plain"), "%s %s: "
              "whatis_count" % (mode, where), str(count))
    check_whatis(checks, got, library_whatis(library["whatis"]), count,
                 mode, where)
    check_logs(checks, got, err, mode, where)
    check_others(checks, got, mode, where)
    for command, message in BAD_ARGUMENTS:
        checks.ok(message in err and not got.get("bad%d" %
                                                  BAD_ARGUMENTS.index(
                                                      (command, message))),
                  "%s %s: %s says '%s'" % (mode, where, command, message),
                  err)
    expected = [m for _, m in BAD_ARGUMENTS]
    bad = [l for l in err.splitlines() if "Traceback" in l or
           "Python Exception" in l or (l.startswith("kmem") and
                                       "log is off" not in l and
                                       "not audited" not in l and
                                       not any(m in l for m in expected))]
    checks.ok(not bad, "%s %s: no errors from kmem.py" % (mode, where),
              err)


def run_mode(checks, target, mode, outdir):
    files = [os.path.join(outdir, name + ".txt") for name in LIBRARY_FILES]
    core = os.path.join(outdir, "core")
    for path in files + [core]:
        if os.path.exists(path):
            os.unlink(path)
    env = dict(os.environ)
    for name in ("KMEM_DEBUG", "KMEM_LOGGING", "KMEM_OPTIONS"):
        env.pop(name, None)
    env.update(MODES[mode])
    live = ["-ex", "handle SIGPWR nostop noprint pass",
            "-ex", "break target_stop_here", "-ex", "run"] + \
        sections(commands(mode)) + \
        ["-ex", "generate-core-file %s" % core, "-ex", "kill",
         "--args", target] + files
    rc, out, err = gdb(live, env)
    if not checks.ok(all(os.path.exists(p) for p in files + [core]),
                     "%s: the target stopped and the core was written" %
                     mode, "gdb status %d\n%s\n%s" % (rc, out[-3000:],
                                                      err[-3000:])):
        return
    library = {}
    for name, path in zip(LIBRARY_FILES, files):
        with open(path) as f:
            library[name] = f.read().splitlines()
    check_run(checks, split_sections(out), err, library, mode, "live")
    rc, out, err = gdb(sections(commands(mode)) + [target, core])
    check_run(checks, split_sections(out), err, library, mode, "core")
    return core


def check_layout(checks, target, core):
    """A layout the script does not know stops gdb -batch with status 1."""
    rc, out, err = gdb([
        "-ex", "handle SIGPWR nostop noprint pass",
        "-ex", "break target_stop_here", "-ex", "run",
        "-ex", "set var *(unsigned int *)&kmem_layout_version = 999",
        "-ex", "kmem kmastat", "-ex", "echo not reached\\n",
        "--args", target] + ["/dev/null"] * len(LIBRARY_FILES),
        dict(os.environ, KMEM_OPTIONS="reap_interval=0"))
    checks.ok(rc == 1 and "layout is version 999" in err and
              "not reached" not in out, "layout: a wrong "
              "kmem_layout_version stops gdb -batch", "status %d\n%s" %
              (rc, err[-2000:]))
    rc, out, err = gdb([
        "-ex", "python REQUIRED['kmem_cache_t'] += ('cache_gone',)",
        "-ex", "kmem whatis keep[0]", "-ex", "echo not reached\\n",
        target, core])
    checks.ok(rc == 1 and "kmem_cache_t has no field cache_gone" in err and
              "not reached" not in out, "layout: a missing field stops "
              "gdb -batch and is named", "status %d\n%s" % (rc, err[-2000:]))


def main():
    if len(sys.argv) != 2:
        print("usage: run.py TARGET", file=sys.stderr)
        return 2
    target = os.path.abspath(sys.argv[1])
    checks = Checks()
    core = None
    for mode in MODES:
        outdir = os.path.join(os.path.dirname(target), mode)
        os.makedirs(outdir, exist_ok=True)
        core = run_mode(checks, target, mode, outdir) or core
    if core is not None:
        check_layout(checks, target, core)
    print("gdb: %d checks passed, %d failed" % (checks.passed, checks.failed))
    return min(checks.failed, 125)


if __name__ == "__main__":
    sys.exit(main())
