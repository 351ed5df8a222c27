"""Cases 2-5 of the benchmark: idle cost with a big tree, start-up (and watch setup), memory over
many reloads, and dependents (the 201-module chain) with live patching. See bench/README.md.
"""

import gc
import os
import random
import time

import bench_modules as bm
from common import (BENCH, WATCHING_RE, BenchError, Proc, host_phases, host_runs, log, mkdtemp, proc_sample,
                    rmtree, rss_kb, summary, unexpected_stderr)

# --------------------------------------------------------------------------------------------
# The big tree (cases 2 and 3): 100,000 .py files in 10,000 directories, plus a .gitignore'd
# directory holding 50,000 files (in 500 subdirectories).

def build_tree(root, top=100, sub=99, per_dir=10, ignored_sub=500, ignored_per=100):
    t0 = time.perf_counter()
    data = b"X = 1\n"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    dirs = files = 0
    listing = []

    def fill(d):
        nonlocal files
        for k in range(per_dir):
            p = "%s/mod_%d.py" % (d, k)
            fd = os.open(p, flags, 0o644)
            os.write(fd, data)
            os.close(fd)
            files += 1
            if len(listing) < 5000:
                listing.append(p)

    for i in range(top):
        d = "%s/src_%03d" % (root, i)
        os.mkdir(d)
        dirs += 1
        fill(d)
        for j in range(sub):
            dd = "%s/m_%02d" % (d, j)
            os.mkdir(dd)
            dirs += 1
            fill(dd)
    ign = "%s/ignored_data" % root
    os.mkdir(ign)
    for i in range(ignored_sub):
        d = "%s/part_%03d" % (ign, i)
        os.mkdir(d)
        for k in range(ignored_per):
            fd = os.open("%s/x_%d.py" % (d, k), flags, 0o644)
            os.write(fd, data)
            os.close(fd)
    (root / ".gitignore").write_text("ignored_data/\n")
    bm.write_inplace(root / "lib.py", bm.trivial_module(0))
    return {"dirs": dirs, "files": files, "ignored_dirs": ignored_sub + 1, "ignored_files": ignored_sub * ignored_per,
            "watched_dirs_expected": dirs + 1, "build_s": time.perf_counter() - t0, "listing": listing}


def case_idle(args, ctx, R, tree, info):
    """hotload-host watching the big tree, and the poller on 2,000 files, both idle."""
    poll_dir = mkdtemp("idle-poll", args.tmpdir)
    host = poller = None
    try:
        bm.write_inplace(poll_dir / "lib.py", bm.trivial_module(0))
        listing = poll_dir / "files.txt"
        listing.write_text("\n".join(info["listing"][:1999]) + "\n")  # + lib.py = 2,000 files
        log("idle: hotload-host on %d files / %d dirs, poller on 2,000 files, %.0f s"
            % (info["files"], info["dirs"] + 1, args.idle_seconds))
        host = Proc([ctx["bin"], "-v", "--no-clear", "lib.py"], tree, ctx["env"])
        poller = Proc([ctx["python"], BENCH / "poll_reloader.py", "lib.py", listing], poll_dir, ctx["env"])
        for p in (host, poller):
            if p.wait_for(bm.needle(0), 120) is None:
                raise BenchError("idle: %s printed nothing: %s" % (p.argv[0], p.err_text[-2000:]))
        end = time.perf_counter() + 2.0  # settle
        while time.perf_counter() < end:
            host.pump(50)
            poller.pump(0)
        h0, p0, w0 = proc_sample(host.pid), proc_sample(poller.pid), time.perf_counter()
        end = w0 + args.idle_seconds
        while time.perf_counter() < end:
            time.sleep(min(0.5, max(0.0, end - time.perf_counter())))
            host.pump(0)
            poller.pump(0)
        h1, p1, w1 = proc_sample(host.pid), proc_sample(poller.pid), time.perf_counter()
        wall = w1 - w0
        scan = None
        if args.scan:
            # Nothing changes, but something reads every file (grep -r, an indexer, a test
            # collector): what does the host pay for reads it has no use for?
            log("idle: a read-only scan of the tree while hotload-host watches it")
            s0, t_s0 = proc_sample(host.pid), time.perf_counter()
            nread = 0
            for root, dirs, files in os.walk(tree):
                dirs[:] = [x for x in dirs if x != "ignored_data"]
                for f in files:
                    with open(os.path.join(root, f), "rb") as fh:
                        fh.read()
                    nread += 1
                host.pump(0)
            t_s1 = time.perf_counter()
            host.idle(1.0)
            s1 = proc_sample(host.pid)
            scan = {"files_read": nread, "scan_s": t_s1 - t_s0, "cpu_s": (s1["sched_ns"] - s0["sched_ns"]) / 1e9,
                    "wakeups": s1["vcsw"] - s0["vcsw"], "runs_during": len(host_runs(host.err_text)) - 1,
                    "wake_threads": {t["comm"]: t["vcsw"] - s0["threads"].get(tid, {"vcsw": 0})["vcsw"]
                                     for tid, t in s1["threads"].items()}}
        rc = host.stop()
        poller.stop()
        m = WATCHING_RE.search(host.err_text)

        def delta(a, b, files, watched_dirs):
            wake_threads = {}
            for tid, t in b["threads"].items():
                before = a["threads"].get(tid, {"vcsw": 0})["vcsw"]
                if t["vcsw"] - before:
                    wake_threads[t["comm"]] = wake_threads.get(t["comm"], 0) + t["vcsw"] - before
            return {
                "files": files, "watched_dirs": watched_dirs, "wall_s": wall,
                "cpu_s": b["cpu_s"] - a["cpu_s"], "sched_cpu_s": (b["sched_ns"] - a["sched_ns"]) / 1e9,
                "core_pct": 100.0 * (b["sched_ns"] - a["sched_ns"]) / 1e9 / wall,
                "core_pct_ticks": 100.0 * (b["cpu_s"] - a["cpu_s"]) / wall,
                "wakeups": b["vcsw"] - a["vcsw"], "wakeups_leader": b["vcsw_leader"] - a["vcsw_leader"],
                "wakeups_per_s": (b["vcsw"] - a["vcsw"]) / wall, "wake_threads": wake_threads,
                "rss_kb": b["rss_kb"], "watches": b["watches"], "threads": sorted(t["comm"] for t in b["threads"].values()),
            }

        R["idle"] = {
            "host": delta(h0, h1, int(m.group(1)) if m else None, int(m.group(2)) if m else None),
            "poller": delta(p0, p1, 2000, 0),
            "expected_watches": info["watched_dirs_expected"],
            "ignored_dirs": info["ignored_dirs"], "ignored_files": info["ignored_files"],
            "host_runs": len(host_runs(host.err_text)), "host_sigint_rc": rc, "scan": scan,
            "host_watching_line": m.group(0) if m else None,
            "unexpected": unexpected_stderr(host.err_text),
        }
    finally:
        for p in (host, poller):
            if p is not None:
                p.kill()
        rmtree(poll_dir)


# --------------------------------------------------------------------------------------------
# Case 3: startup

def first_output(ctx, argv, cwd, needle, stop_host, sample=None):
    t0 = time.perf_counter_ns()
    proc = Proc(argv, cwd, ctx["env"])
    try:
        t1 = proc.wait_for(needle, 180)
        if sample is not None and t1 is not None and proc.alive():
            sample.update(proc_sample(proc.pid))  # what setting up cost, as of the first output
        if stop_host:
            # Ctrl-C only once the host is idle again (its status line is out): a Ctrl-C that
            # lands while the run is finishing counts as interrupting the run, not as idle.
            end = time.perf_counter() + 10
            while "(run 1)" not in proc.err_text and proc.alive() and time.perf_counter() < end:
                proc.pump(20)
            proc.idle(0.05)
        rc = proc.stop() if stop_host else proc.stop(sig=0, timeout=60)
        return (None if t1 is None else t1 - t0), rc, proc.err_text
    finally:
        proc.kill()


def case_startup(args, ctx, R, tree):
    res = {"rows": [], "setup": None, "sigint_rcs": []}
    d = mkdtemp("startup", args.tmpdir)
    tiny = mkdtemp("startup-tiny", args.tmpdir)
    try:
        deps_label = "+".join(ctx["deps"]) or "no deps"
        bm.write_inplace(d / "lib.py", bm.latency_module(0, ctx["deps"]))
        bm.write_inplace(tiny / "lib.py", bm.trivial_module(0))
        rng = random.Random(ctx["seed"] + 1)
        for label, key, cwd, reps in (("module importing %s" % deps_label, "deps", d, args.reps),
                                      ("trivial module", "trivial", tiny, args.startup_reps)):
            log("startup: %s, %d reps, hotload-host and python lib.py in random order" % (label, reps))
            host, cold = [], []
            for _ in range(reps):
                order = ["host", "python"]
                rng.shuffle(order)
                for who in order:
                    if who == "host":
                        ns, rc, _ = first_output(ctx, [ctx["bin"], "--no-clear", "lib.py"], cwd, bm.needle(0), True)
                        res["sigint_rcs"].append(rc)
                        if ns:
                            host.append(ns)
                    else:
                        ns, _rc, _ = first_output(ctx, [ctx["python"], "lib.py"], cwd, bm.needle(0), False)
                        if ns:
                            cold.append(ns)
                    time.sleep(0.05)
            res["rows"].append({"label": label, "key": key, "host": summary(host), "python": summary(cold),
                                "host_samples": host, "python_samples": cold})
        if tree is not None:
            log("startup: watch setup, big tree vs tiny dir, %d reps each" % args.setup_reps)
            big, small, line, costs = [], [], None, []
            for _ in range(args.setup_reps):
                cost = {}
                ns, rc, err = first_output(ctx, [ctx["bin"], "-v", "--no-clear", "lib.py"], tree, bm.needle(0), True, cost)
                if cost:
                    costs.append({"cpu_s": cost["sched_ns"] / 1e9, "user_s": cost["user_s"], "sys_s": cost["sys_s"],
                                  "vcsw": cost["vcsw"], "threads": {t["comm"]: t["vcsw"] for t in cost["threads"].values()}})
                res["sigint_rcs"].append(rc)
                if ns:
                    big.append(ns)
                m = WATCHING_RE.search(err)
                line = m.group(0) if m else line
                ns, rc, _ = first_output(ctx, [ctx["bin"], "-v", "--no-clear", "lib.py"], tiny, bm.needle(0), True)
                res["sigint_rcs"].append(rc)
                if ns:
                    small.append(ns)
            b, s = summary(big), summary(small)
            costs.sort(key=lambda c: c["cpu_s"])
            res["setup"] = {"big": b, "tiny": s, "big_samples": big, "tiny_samples": small, "watching_line": line,
                            "cost_at_first_output": costs[len(costs) // 2] if costs else None,
                            "setup_ns": (b["p50"] - s["p50"]) if b["p50"] and s["p50"] else None}
    finally:
        rmtree(d)
        rmtree(tiny)
    R["startup"] = res


# --------------------------------------------------------------------------------------------
# Case 4: memory over many reloads of a 300-line module

def case_memory(args, ctx, R):
    d = mkdtemp("memory", args.tmpdir)
    path = d / "lib.py"
    bm.write_inplace(path, bm.memory_module(0))
    checkpoints = sorted({1, 10, 100, 250, 500, 750, args.reloads})
    proc = Proc([ctx["bin"], "--no-clear", "lib.py"], d, ctx["env"])
    try:
        log("memory: %d reloads of a 300-line module" % args.reloads)
        if proc.wait_for(bm.needle(0), 120) is None:
            raise BenchError("memory: hotload-host printed nothing: " + proc.err_text[-2000:])
        proc.idle(0.3)
        points = {0: rss_kb(proc.pid)}
        misses = 0
        for i in range(1, args.reloads + 1):
            bm.write_inplace(path, bm.memory_module(i))
            if proc.wait_for(bm.needle(i), 10) is None:
                misses += 1
            if i in checkpoints:
                proc.idle(0.15)
                points[i] = rss_kb(proc.pid)
            else:
                proc.idle(args.mem_gap_ms / 1000.0)
        proc.idle(0.2)
        rc = proc.stop()
        runs = host_runs(proc.err_text)
        R["memory"] = {"points_kb": points, "misses": misses, "runs": len(runs),
                       "last_run": runs[-1][1] if runs else None, "sigint_rc": rc,
                       "growth_kb": points[args.reloads] - points[1],
                       "failed": [r for r in runs if r[0] != "ok"][:3]}
    finally:
        proc.kill()
        rmtree(d)


# --------------------------------------------------------------------------------------------
# Case 5: dependents (--reload changed reloads what imports a saved module) and live patching
# (--reload deep brings a running thread's stale function up to date)

CHAIN = 200  # modules in the dependents chain: m000 <- m001 <- ... <- m199 <- lib
STALE_TIMEOUT_S = 2.0  # how long --reload changed gets to show the thread a new value


def edit_series(proc, n, gap, make, timeout_s):
    """n in-place saves; make() -> (path, text, needle). Times each write -> needle on stdout."""
    samples, misses = [], 0
    gc.disable()
    try:
        for _ in range(n):
            path, text, needle = make()
            proc.pump(0)
            t0 = time.perf_counter_ns()
            bm.write_inplace(path, text)
            t1 = proc.wait_for(needle, timeout_s)
            if t1 is None:
                misses += 1
                if not proc.alive():
                    break
            else:
                samples.append(t1 - t0)
            proc.idle(gap)
    finally:
        gc.enable()
    return {"samples": samples, "misses": misses}


def reloads_of(phases):
    """The (module, ns) pairs a -v line lists: 'reload m000 0.21 ms' and the entry's 'reload'."""
    return [(k[len("reload "):] if k != "reload" else "(entry)", ns) for k, ns in phases.items()
            if k == "reload" or k.startswith("reload ")]


def case_dependents(args, ctx, R):
    counter = ctx["counter"]
    res = {"chain": CHAIN, "n": args.dep_n, "gap_ms": args.gap_ms, "series": [], "verbose": {}, "notes": [],
           "sigint_rcs": [], "stale_timeout_s": STALE_TIMEOUT_S}

    def add(edit, label, mode, data, **kw):
        s = {"edit": edit, "label": label, "reload": mode, "samples_ns": data["samples"], "misses": data["misses"]}
        s.update(summary(data["samples"]))
        s.update(kw)
        res["series"].append(s)

    def check_runs(name, stderr, expected):
        runs = host_runs(stderr)
        failed = [r for r in runs if r[0] != "ok"]
        if len(runs) != expected or failed:
            res["notes"].append("%s: %d status lines for %d expected (initial import + one per edit); failed runs: %d" % (
                name, len(runs), expected, len(failed)))
        odd = [line for line in unexpected_stderr(stderr) if not line.startswith("[hotload] reload ")]
        if odd:
            res["notes"].append("%s: unexpected host lines: %s" % (name, " | ".join(odd[:5])))

    # (a) A chain of CHAIN modules, each importing the previous one; the entry imports the last
    # one and `side`, which nothing else imports. Default mode (--reload changed).
    for fs in ctx["filesystems"]:
        if fs.get("skipped"):
            continue
        d = mkdtemp("dependents", fs["dir"])
        try:
            leaf, side = d / (bm.chain_name(0) + ".py"), d / "side.py"
            cur = {"leaf": counter.next(), "side": counter.next()}
            bm.write_inplace(leaf, bm.chain_leaf(cur["leaf"]))
            for i in range(1, CHAIN):
                bm.write_inplace(d / (bm.chain_name(i) + ".py"), bm.chain_link(i))
            bm.write_inplace(side, bm.side_module(cur["side"]))
            bm.write_inplace(d / "lib.py", bm.chain_entry(CHAIN))

            def edit_leaf():
                cur["leaf"] = c = counter.next()
                return leaf, bm.chain_leaf(c), (bm.CHAIN_NEEDLE % c).encode()

            def edit_side():
                cur["side"] = c = counter.next()
                return side, bm.side_module(c), (bm.SIDE_NEEDLE % c).encode()

            for verbose in (False, True):
                argv = [ctx["bin"], "--no-clear"] + (["-v"] if verbose else []) + ["lib.py"]
                log("dependents: %d-module chain on %s, hotload-host%s, %d edits of the leaf, %d of side.py" % (
                    CHAIN, fs["key"], " -v" if verbose else "", args.dep_n, args.dep_n))
                proc = Proc(argv, d, ctx["env"])
                try:
                    first = (bm.CHAIN_NEEDLE % cur["leaf"] + bm.SIDE_NEEDLE % cur["side"]).encode()
                    if proc.wait_for(first, 120) is None:
                        raise BenchError("dependents: hotload-host printed nothing: " + proc.err_text[-2000:])
                    proc.idle(0.5)
                    by_edit = {"leaf": edit_series(proc, args.dep_n, ctx["gap"], edit_leaf, 10),
                               "side": edit_series(proc, args.dep_n, ctx["gap"], edit_side, 10)}
                    proc.idle(0.2)
                    res["sigint_rcs"].append(proc.stop())
                    stderr = proc.err_text
                finally:
                    proc.kill()
                check_runs("chain on %s%s" % (fs["key"], " -v" if verbose else ""), stderr, 1 + 2 * args.dep_n)
                if not verbose:
                    add("leaf", "leaf %s of the %d-module chain" % (bm.chain_name(0), CHAIN), "changed", by_edit["leaf"],
                        fs=fs["key"])
                    add("side", "side.py (imported only by the entry)", "changed", by_edit["side"], fs=fs["key"])
                    continue
                # The host's own figures: which modules each run reloaded, and how long each took.
                per = {"leaf": [], "side": []}
                for phases in host_phases(stderr):
                    mods = reloads_of(phases)
                    names = {m for m, _ns in mods}
                    kind = "leaf" if bm.chain_name(0) in names else "side" if "side" in names else None
                    if kind is None:
                        res["notes"].append("-v: a run reloaded neither the leaf nor side.py: %s" % ", ".join(sorted(names)))
                        continue
                    per[kind].append({"modules": len(mods), "total_ns": sum(ns for _m, ns in mods if ns is not None),
                                      "entry_ns": phases.get("reload"), "save_to_done": phases.get("save→done"),
                                      "order_ok": [m for m, _ns in mods] == (
                                          [bm.chain_name(i) for i in range(CHAIN)] + ["(entry)"] if kind == "leaf"
                                          else ["side", "(entry)"])})
                for kind, runs in per.items():
                    counts = [r["modules"] for r in runs]
                    res["verbose"].setdefault(fs["key"], {})[kind] = {
                        "runs": len(runs), "modules_min": min(counts) if counts else None,
                        "modules_max": max(counts) if counts else None,
                        "in_order": sum(1 for r in runs if r["order_ok"]),
                        "total": summary([r["total_ns"] for r in runs]),
                        "entry": summary([r["entry_ns"] for r in runs if r["entry_ns"] is not None]),
                        "save_to_done": summary([r["save_to_done"] for r in runs if r["save_to_done"] is not None]),
                        "latency": summary(by_edit[kind]["samples"]), "misses": by_edit[kind]["misses"],
                        "runs_detail": runs,
                    }
        finally:
            rmtree(d)


    # (b) A daemon thread started once (hotload.keep) calls `f`, passed to it as an argument, every
    # millisecond. --reload deep patches the old function in place, so the thread runs the new
    # body; --reload changed reloads the module but leaves the thread with the old function.
    d = mkdtemp("live", args.tmpdir)
    path = d / "lib.py"
    try:
        for mode, n, timeout_s in (("deep", args.dep_n, 10), ("changed", 1, STALE_TIMEOUT_S)):
            c = counter.next()
            bm.write_inplace(path, bm.live_module(c))
            log("dependents: thread with a stale reference, --reload %s, %d edit%s" % (mode, n, "s" if n != 1 else ""))
            proc = Proc([ctx["bin"], "--no-clear", "--reload", mode, "lib.py"], d, ctx["env"])
            cs = []
            try:
                if proc.wait_for((bm.LIVE_NEEDLE % c).encode(), 120) is None:
                    raise BenchError("dependents: the thread printed nothing: " + proc.err_text[-2000:])
                proc.idle(0.5)

                def edit_f():
                    cs.append(counter.next())
                    return path, bm.live_module(cs[-1]), (bm.LIVE_NEEDLE % cs[-1]).encode()

                data = edit_series(proc, n, ctx["gap"], edit_f, timeout_s)
                proc.idle(0.2)
                # Each save did run: the module body printed its new line (whatever the thread saw).
                body_ran = sum(1 for k in cs if (bm.LIVE_BODY_NEEDLE % k).encode() in proc.out)
                res["sigint_rcs"].append(proc.stop())
                stderr = proc.err_text
            finally:
                proc.kill()
            check_runs("thread, --reload %s" % mode, stderr, 1 + n)
            never = not data["samples"] and data["misses"] == n and body_ran == n
            add("thread", "f, called by a running thread through a stale reference", mode, data, fs="tmp",
                body_ran=body_ran, never=never, timeout_s=timeout_s,
                deep_notes=[line for line in stderr.splitlines() if line.startswith("[hotload] deep:")][:5])
    finally:
        rmtree(d)
    R["dependents"] = res

