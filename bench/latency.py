"""Case 1: edit-to-output latency, every tool side by side in one run.

Every long-running tool is started once per file system (tmpfs and the default temp dir), each
in a directory of its own holding the same module (it imports numpy and pandas and prints a
counter). Then, round after round, every (file system, tool, save mode) gets one save, in an
order shuffled afresh each round from one seeded generator: drift and load from the rest of the
machine hit all tools alike. Each sample runs from just before the harness's write to the moment
the tool's new counter line (the new counter, never an old line) is read from its stdout. The
restart-based tools (cold `python lib.py`, watchfiles, hmr) take part in fewer, evenly spread
rounds. A tool that cannot be installed or started is reported as skipped with the reason.
"""

import gc
import json
import random
import subprocess
import time

import bench_modules as bm
from common import (BENCH, VENV, BenchError, Proc, PtyProc, child_env, drain, running_descendants, host_phases,
                    host_runs, log, mkdtemp, proc_sample, rmtree, summary, unexpected_stderr, wake_delta)

GIVE_UP = 3  # a (tool, fs, mode) whose first GIVE_UP saves all time out is not sampled again
FAST_TIMEOUT_S = 1.0  # the slowest long-running tool (the console's 10 Hz hook) needs 0.1 s
SLOW_TIMEOUT_S = 10.0


class Tool:
    """One row of the table: how to start it in a directory, how to stop it, what it is."""

    def __init__(self, key, label, kind, how, argv=None, env=None, slow=False, pty=False, stdin=None,
                 restart_each=False, children=False, stop="sigint", skipped=None, version=None):
        self.key, self.label, self.kind, self.how = key, label, kind, how
        self.argv, self.env, self.slow, self.pty, self.stdin = argv, env, slow, pty, stdin
        self.restart_each = restart_each  # a fresh process per save (the cold run)
        self.children = children          # runs the module in a child process: settle = wait for it to exit
        self.stop_how = stop
        self.skipped = skipped
        self.version = version
        self.short = SHORT.get(key, key)

    def info(self):
        return {"key": self.key, "label": self.label, "short": self.short, "kind": self.kind, "how": self.how, "slow": self.slow,
                "skipped": self.skipped, "version": self.version,
                "argv": [str(a) for a in self.argv("DIR")] if self.argv and not self.skipped else None}


SHORT = {"floor": "floor (C)", "pyfloor": "floor (Python)", "host": "hotload-host", "host-v": "hotload-host -v",
         "host-repl": "hotload-host --repl", "jurigged-1ms": "jurigged 1 ms", "jurigged": "jurigged", "poller": "poller",
         "hmr": "hmr", "watchfiles": "watchfiles", "cold": "cold python"}
TOOL_KEYS = ["floor", "pyfloor", "host", "host-v", "host-repl", "jurigged-1ms", "jurigged", "poller", "hmr",
             "watchfiles", "cold"]


def make_tools(ctx, wanted):
    """The tools of the latency case, in table order; those not wanted are left out, those that
    cannot run are kept with `skipped` set."""
    env = ctx["env"]
    py = ctx["python"]
    peers = ctx["peers"]
    fl = ctx["floor"]
    tools = []

    def add(t):
        if t.key in wanted:
            tools.append(t)

    add(Tool("floor", "event floor: C program blocked on inotify, prints the line", "floor",
             "bench/inotify_floor.c built with %s: inotify on the module's directory (IN_CLOSE_WRITE | IN_MOVED_TO); "
             "on an event for lib.py it reads the file and write(2)s the counter line to stdout" % (fl.get("cc") or "cc"),
             argv=(lambda d: [fl["path"], "%s/lib.py" % d]) if fl["ok"] else None, env=env,
             skipped=None if fl["ok"] else fl["reason"]))
    add(Tool("pyfloor", "event floor in Python (diagnostic)", "diag",
             "bench/inotify_floor.py: the same in Python (ctypes inotify), no reload",
             argv=lambda d: [py, BENCH / "inotify_floor.py", "lib.py"], env=env))
    add(Tool("host", "**hotload-host**", "host", "`hotload-host --no-clear lib.py`, as a user runs it",
             argv=lambda d: [ctx["bin"], "--no-clear", "lib.py"], env=env))
    add(Tool("host-v", "hotload-host -v (diagnostic)", "diag",
             "`hotload-host -v --no-clear lib.py`: the same with its per-phase timings",
             argv=lambda d: [ctx["bin"], "-v", "--no-clear", "lib.py"], env=env))
    repl_env = dict(env, TERM="xterm-256color", INPUTRC="/dev/null")
    add(Tool("host-repl", "hotload-host --repl", "host",
             "`hotload-host --repl --no-clear lib.py` on a pseudo-terminal (its controlling tty), the console "
             "waiting at its prompt; the line is read from the pty",
             argv=lambda d: [ctx["bin"], "--repl", "--no-clear", "lib.py"], env=repl_env, pty=True, stop="eof"))
    j = peers.get("jurigged", {})
    for key, label, extra in (("jurigged-1ms", "jurigged, debounce 1 ms", ["--debounce", "0.001"]),
                              ("jurigged", "jurigged (default: debounce 50 ms)", [])):
        add(Tool(key, label, "peer",
                 "`jurigged -i %slib.py` (jurigged %s): watchdog's inotify observer; re-runs the changed top-level "
                 "statements after the debounce. `-i` keeps it alive (its console waits on an open stdin pipe; "
                 "without it jurigged exits when the script ends)" % (" ".join(extra) + " " if extra else "",
                                                                      j.get("version", "?")),
                 argv=lambda d, extra=extra: [VENV / "bin" / "jurigged", "-i"] + extra + ["lib.py"], env=env,
                 stdin=subprocess.PIPE, stop="close-stdin", skipped=None if j.get("ok") else j.get("reason"),
                 version=j.get("version")))
    add(Tool("poller", "polling reloader (the original tool's behaviour)", "peer",
             "bench/poll_reloader.py: a stat of the file every 1/144 s, then `importlib.reload`",
             argv=lambda d: [py, BENCH / "poll_reloader.py", "lib.py"], env=env))
    h = peers.get("hmr", {})
    hskip = None if h.get("ok") else h.get("reason")
    if not hskip and sorted(h.get("deps", [])) != sorted(ctx["deps"]):
        hskip = "its venv lacks %s" % ", ".join(sorted(set(ctx["deps"]) - set(h.get("deps", []))))
    add(Tool("hmr", "hmr", "peer",
             "`hmr lib.py` (hmr %s on Python %s, %s): watchfiles' watch() (50 ms step), then re-runs the module "
             "reactively" % (h.get("version", "?"), h.get("python", "?"), h.get("venv", "?").replace(str(BENCH) + "/", "bench/")),
             argv=lambda d: [h["exe"], "lib.py"], env=child_env(h["venv"]) if h.get("ok") else None, slow=True,
             skipped=hskip, version=h.get("version")))
    w = peers.get("watchfiles", {})
    add(Tool("watchfiles", "watchfiles CLI", "peer",
             "`watchfiles --filter python 'python lib.py' .` (watchfiles %s): restarts the command after a change "
             "(50 ms step, 1.6 s debounce cap)" % w.get("version", "?"),
             argv=lambda d: [VENV / "bin" / "watchfiles", "--filter", "python", "%s lib.py" % py, "."], env=env,
             slow=True, children=True, skipped=None if w.get("ok") else w.get("reason"), version=w.get("version")))
    add(Tool("cold", "cold `python lib.py`", "peer", "a fresh `python lib.py` spawned right after each write",
             argv=lambda d: [py, "lib.py"], env=env, slow=True, restart_each=True))
    return tools


class Item:
    """One (file system, tool, save mode): its samples."""

    def __init__(self, fs, tool, mode):
        self.fs, self.tool, self.mode = fs, tool, mode
        self.samples, self.writes, self.misses, self.attempts = [], [], 0, 0
        self.after_write = []  # t1 - (end of the write): the part after the harness's own write
        self.gave_up = None
        self.busy_s = 0.0  # time spent on this item's samples (write, wait, settle), gaps not counted

    def key(self):
        return "%s/%s/%s" % (self.fs["key"], self.tool.key, self.mode)


class Running:
    """A tool started in its directory on one file system."""

    def __init__(self, tool, fs, d):
        self.tool, self.fs, self.dir = tool, fs, d
        self.path = d / "lib.py"
        self.proc = None
        self.last_size = None
        self.dead = None
        self.rc = None
        self.stderr = ""


def _version(r, c, deps):
    """Version c of r's module, never the same size as the version before it in that file: the
    counter is shared by all tools, so two saves of one file (an in-place and a rename item,
    possibly back to back) could otherwise have the same size within the same second, and
    CPython's (mtime in whole seconds, size) .pyc check would run stale bytecode in the tools
    that use importlib's cache (the poller)."""
    text = bm.latency_module(c, deps)
    if len(text) == r.last_size:
        text += "#\n"
    r.last_size = len(text)
    return text


def _start(r, deps, counter):
    c0 = counter.next()
    bm.write_inplace(r.path, _version(r, c0, deps))
    t = r.tool
    if t.restart_each:
        return None
    if t.pty:
        # HOME: the console keeps its history in ~/.hotload_history; not the user's.
        r.proc = PtyProc(t.argv(r.dir), r.dir, dict(t.env, HOME=str(r.dir)))
    else:
        r.proc = Proc(t.argv(r.dir), r.dir, t.env, stdin=t.stdin if t.stdin is not None else subprocess.DEVNULL)
    return c0


def _stop(r):
    p = r.proc
    if p is None:
        return
    try:
        if not p.alive():
            r.rc = p.wait_exit(1)
        elif r.tool.stop_how == "eof":
            p.send(b"\x04")  # Ctrl-D at the console's empty prompt
            r.rc = p.wait_exit(5)
        elif r.tool.stop_how == "close-stdin":
            try:
                p.popen.stdin.close()
            except OSError:
                pass
            r.rc = p.wait_exit(5)
        else:
            r.rc = p.stop()
        r.stderr = p.err_text
    finally:
        p.kill()


def _settle_children(r, timeout_s=5.0):
    """For a tool that runs the module in a child (watchfiles): wait until that child has exited."""
    end = time.perf_counter() + timeout_s
    while running_descendants(r.proc.pid) and time.perf_counter() < end:
        r.proc.pump(5)


def case_latency(args, ctx, R):
    deps = ctx["deps"]
    counter = ctx["counter"]
    modes = list(bm.WRITERS)
    seed = ctx["seed"]
    rng = random.Random(seed)
    wanted = ctx["tools"]
    tools = make_tools(ctx, wanted)
    fss = list(ctx["filesystems"])
    notes = []
    res = {"seed": seed, "rounds": args.n, "slow_samples": args.cold_n, "gap_ms": args.gap_ms, "deps": deps,
           "modes": modes, "filesystems": fss, "tools": [t.info() for t in tools], "series": [], "notes": notes,
           "host_sigint_rcs": [], "extra": {}, "idle_console": {}, "dead": []}
    R["latency"] = res
    running = []
    try:
        # Start every long-running tool on every file system, then wait for each first line.
        log("latency: starting %s on %s" % (", ".join(t.key for t in tools if not t.skipped),
                                            ", ".join(f["key"] for f in fss if not f.get("skipped"))))
        first = {}
        for fs in fss:
            if fs.get("skipped"):
                continue
            root = mkdtemp("latency-%s" % fs["key"], fs["dir"])
            for t in tools:
                if t.skipped:
                    continue
                d = root / t.key
                d.mkdir()
                r = Running(t, fs, d)
                running.append(r)
                first[id(r)] = _start(r, deps, counter)
        for r in running:
            if r.proc is None:
                continue
            if r.proc.wait_for(bm.needle(first[id(r)]), 180) is None:
                rc = r.proc.popen.poll()
                r.dead = "not started: %s: %s" % (
                    "printed nothing within 180 s" if rc is None else "exited with status %s before its first line" % rc,
                    " | ".join(r.proc.err_text.strip().splitlines()[-3:])[-400:] or "(no output)")
                log("latency: %s on %s: %s" % (r.tool.key, r.fs["key"], r.dead))
                res["dead"].append({"tool": r.tool.key, "fs": r.fs["key"], "reason": r.dead})
                _stop(r)
        for r in running:  # the console: wait for its prompt after the first run's output
            if r.tool.pty and not r.dead and r.proc.wait_for(b">>> ", 30) is None:
                r.dead = "not started: no console prompt within 30 s: %s" % r.proc.err_text[-300:]
                res["dead"].append({"tool": r.tool.key, "fs": r.fs["key"], "reason": r.dead})
                _stop(r)
        procs = [r.proc for r in running if r.proc is not None]
        drain(procs, 1.0)

        items = [Item(r.fs, r.tool, m) for r in running for m in modes]
        for it in items:
            r = next(x for x in running if x.fs is it.fs and x.tool is it.tool)
            if r.dead:
                it.gave_up = r.dead  # shown in the table with the reason
        run_of = {(r.fs["key"], r.tool.key): r for r in running}
        n_rounds = args.n
        slow_n = min(args.cold_n, n_rounds)
        slow_rounds = {(i * n_rounds) // slow_n for i in range(slow_n)} if slow_n else set()
        log("latency: %d rounds, seed %d (rerun this order with --seed %d); %d items per full round, restart tools in "
            "%d rounds" % (n_rounds, seed, seed, len(items), len(slow_rounds)))
        order_record = []
        gap = args.gap_ms / 1000.0
        gc.disable()
        t_start = time.perf_counter()
        try:
            for rnd in range(n_rounds):
                batch = [it for it in items if it.gave_up is None and (not it.tool.slow or rnd in slow_rounds)]
                rng.shuffle(batch)
                if rnd < 3:
                    order_record.append([it.key() for it in batch])
                for it in batch:
                    if it.gave_up is not None:
                        continue
                    r = run_of[(it.fs["key"], it.tool.key)]
                    t_item = time.perf_counter()
                    _sample(it, r, deps, counter, ctx)
                    if r.proc is not None and not r.proc.alive() and not r.dead:
                        r.dead = "stopped: it exited with status %s after %d samples: %s" % (
                            r.proc.popen.poll(), len(it.samples), " | ".join(r.proc.err_text.strip().splitlines()[-3:])[-400:])
                        res["dead"].append({"tool": r.tool.key, "fs": r.fs["key"], "reason": r.dead})
                        for other in items:
                            if other.fs is r.fs and other.tool is r.tool and other.gave_up is None:
                                other.gave_up = r.dead
                    if it.gave_up is None and it.attempts == GIVE_UP and not it.samples:
                        it.gave_up = "missed: no new line within %.0f s of each of the first %d saves; not sampled " \
                                     "further" % (SLOW_TIMEOUT_S if it.tool.slow else FAST_TIMEOUT_S, GIVE_UP)
                        log("latency: %s: %s" % (it.key(), it.gave_up))
                    if r.tool.children and r.proc is not None:
                        _settle_children(r)
                    it.busy_s += time.perf_counter() - t_item
                    drain(procs, gap)
                    gc.collect(0)
                if rnd % 10 == 9 or rnd == n_rounds - 1:
                    log("latency: round %d/%d (%.0f s)" % (rnd + 1, n_rounds, time.perf_counter() - t_start))
        finally:
            gc.enable()
        res["order_first_rounds"] = order_record
        res["sampling_s"] = time.perf_counter() - t_start
        busy = {}
        for it in items:
            busy[it.tool.key] = busy.get(it.tool.key, 0.0) + it.busy_s
        res["busy_s"] = busy
        log("latency: sampling took %.0f s; per tool (without the gaps): %s" % (
            res["sampling_s"], ", ".join("%s %.1f s" % kv for kv in sorted(busy.items(), key=lambda kv: -kv[1]))))

        # Idle: the console (and the plain host beside it) with nothing happening.
        idle_s = args.console_idle_seconds
        watch = [r for r in running if r.tool.key in ("host", "host-repl") and not r.dead]
        if watch:
            log("latency: %.0f s idle: wake-ups of hotload-host, of its open --repl console and of the other tools" % idle_s)
            drain(procs, 1.0)
            alive = [r for r in running if r.proc is not None and r.proc.alive()]
            before = {id(r): proc_sample(r.proc.pid) for r in alive}
            w0 = time.perf_counter()
            drain(procs, idle_s)
            wall = time.perf_counter() - w0
            res["idle_all"] = {}
            for r in alive:
                after = proc_sample(r.proc.pid)
                n, per = wake_delta(before[id(r)], after)
                x = {"wall_s": wall, "wakeups": n, "per_s": n / wall, "threads": per,
                     "cpu_s": (after["sched_ns"] - before[id(r)]["sched_ns"]) / 1e9}
                res["idle_all"].setdefault(r.tool.key, {})[r.fs["key"]] = x
                if r in watch:
                    res["idle_console"].setdefault(r.fs["key"], {})[r.tool.key] = x
    finally:
        for r in running:
            _stop(r)
        for r in running:
            rmtree(r.dir.parent)

    for it in items:
        s = {"fs": it.fs["key"], "tool": it.tool.key, "kind": it.tool.kind, "label": it.tool.label, "mode": it.mode,
             "samples_ns": it.samples, "misses": it.misses, "attempts": it.attempts, "gave_up": it.gave_up,
             "busy_s": it.busy_s,
             "write": summary(it.writes), "after_write": summary(it.after_write),
             "after_write_ns": it.after_write, "write_ns": it.writes}
        s.update(summary(it.samples))
        res["series"].append(s)

    # What the hosts said: status lines, -v phases, anything unexpected.
    for r in running:
        if r.tool.key not in ("host", "host-v", "host-repl") or r.proc is None:
            continue
        ex = res["extra"].setdefault(r.fs["key"], {})
        runs = host_runs(r.stderr)
        n_edits = sum(it.attempts for it in items if it.fs is r.fs and it.tool is r.tool)
        ex[r.tool.key] = {"status_lines": len(runs), "edits": n_edits, "failed": [x for x in runs if x[0] != "ok"][:3],
                          "ran_in": summary([ns for (_o, run, ns) in runs if run > 1 and ns is not None]), "rc": r.rc}
        if r.tool.key == "host-v":
            phases = host_phases(r.stderr)
            ex[r.tool.key]["save_to_done"] = summary([p["save→done"] for p in phases if "save→done" in p])
            ex[r.tool.key]["reload"] = summary([p["reload"] for p in phases if "reload" in p])
        if r.tool.key != "host-repl":
            res["host_sigint_rcs"].append(r.rc)
            odd = unexpected_stderr(r.stderr)
            if odd:
                notes.append("%s on %s printed unexpected lines: %s" % (r.tool.key, r.fs["key"], " | ".join(odd[:5])))
        else:
            ex[r.tool.key]["eof_rc"] = r.rc
    for r in running:
        if r.dead:
            notes.append("%s on %s: %s" % (r.tool.label, r.fs["key"], r.dead))

    # The floor really is the floor: nothing measured through the same path should beat it.
    by = {(s["fs"], s["tool"], s["mode"]): s for s in res["series"]}
    for fs in fss:
        for mode in modes:
            fl = by.get((fs["key"], "floor", mode))
            if not fl or fl["p50"] is None:
                continue
            for s in res["series"]:
                if s["fs"] == fs["key"] and s["mode"] == mode and s["tool"] != "floor" and s["p50"] is not None \
                        and s["p50"] < fl["p50"]:
                    notes.append("SUSPICIOUS: %s beat the event floor on %s, %s saves (p50 %.3f ms < %.3f ms)" % (
                        s["tool"], fs["key"], mode, s["p50"] / 1e6, fl["p50"] / 1e6))

    if "inprocess" in ctx["tools"]:
        inprocess_floor(args, ctx, res)


def _sample(it, r, deps, counter, ctx):
    """One save of r's module and the time to its new line."""
    c = counter.next()
    text = _version(r, c, deps)
    write = bm.WRITERS[it.mode]
    it.attempts += 1
    timeout = SLOW_TIMEOUT_S if it.tool.slow else FAST_TIMEOUT_S
    if it.tool.restart_each:
        t0 = time.perf_counter_ns()
        write(r.path, text)
        t_w = time.perf_counter_ns()
        proc = Proc(it.tool.argv(r.dir), r.dir, it.tool.env)
        try:
            t1 = proc.wait_for(bm.needle(c), timeout)
            proc.stop(sig=0, timeout=30)  # just wait for it to exit
        finally:
            proc.kill()
    else:
        r.proc.pump(0)
        t0 = time.perf_counter_ns()
        write(r.path, text)
        t_w = time.perf_counter_ns()
        t1 = r.proc.wait_for(bm.needle(c), timeout)
    it.writes.append(t_w - t0)
    if t1 is None:
        it.misses += 1
    else:
        it.samples.append(t1 - t0)
        it.after_write.append(t1 - t_w)


def inprocess_floor(args, ctx, res):
    """`importlib.reload` alone, timed inside one Python (a diagnostic), on each file system."""
    res["inprocess"] = {}
    for fs in ctx["filesystems"]:
        if fs.get("skipped"):
            continue
        d = mkdtemp("latency-inprocess", fs["dir"])
        try:
            log("latency: in-process floor (importlib.reload inside one Python) on %s, %d edits x 2 modes" % (
                fs["key"], args.n))
            out = d / "floor.json"
            argv = [ctx["python"], BENCH / "inprocess_floor.py", d, out, "--deps", ",".join(ctx["deps"]),
                    "--n", str(args.n), "--gap-ms", str(args.gap_ms), "--start", "1000000"]
            if fs["key"] == "tmp":
                argv += ["--memory", str(args.reloads)]
            r = subprocess.run([str(a) for a in argv], cwd=str(d), env=ctx["env"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900)
            if r.returncode != 0:
                raise BenchError("inprocess_floor.py failed: %s" % r.stderr[-2000:])
            floor = json.loads(out.read_text())
            res["inprocess"][fs["key"]] = {
                "reload": {m: summary(floor["reload"][m]) for m in floor["reload"]},
                "host_steps": summary(floor["host_steps"]["in-place"]),
                "no_pyc": summary(floor["no_pyc"]["in-place"]),
                "memory": floor.get("memory"),
            }
        finally:
            rmtree(d)

