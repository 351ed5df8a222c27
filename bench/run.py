#!/usr/bin/env python3
"""hotload-host benchmark: one command, every case side by side.

    python3 bench/run.py            # full run (~3-4 min on a 2-core VM)
    python3 bench/run.py --quick    # short run (~1.5 min)

The harness itself uses only the standard library. It creates bench/.venv (numpy, pandas,
matplotlib from PyPI) with the same python3 it runs under; hotload-host and every Python tool
it is compared with run inside that venv. Results: bench/results/latest.md (table),
bench/results/latest.json (raw samples), bench/results/latency.png (plot). Timings are reported,
never asserted. See bench/README.md.
"""

import argparse
import atexit
import datetime
import gc
import json
import os
import platform
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
import bench_modules as bm  # noqa: E402

RESULTS = BENCH / "results"
VENV = BENCH / ".venv"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CASES = ["latency", "idle", "startup", "memory", "dependents"]
WANTED = ["numpy", "pandas", "matplotlib"]

# --------------------------------------------------------------------------------------------
# Children and temporary trees: always cleaned up (try/finally in each case, plus atexit and
# SIGTERM/SIGHUP handlers as a last resort). Every child runs in its own session, so a Ctrl-C
# at the terminal reaches only the harness, which then ends its children by their id.

_children = []
_tempdirs = []


def _cleanup():
    for p in _children:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # the child leads its own process group
            except OSError:
                pass
            try:
                p.wait(timeout=5)
            except Exception:
                pass
    for d in _tempdirs:
        shutil.rmtree(d, ignore_errors=True)
    _tempdirs.clear()


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


def mkdtemp(args, tag):
    d = Path(tempfile.mkdtemp(prefix="hotload-bench-%s-" % tag, dir=args.tmpdir)).resolve()
    _tempdirs.append(d)
    return d


def rmtree(d):
    shutil.rmtree(d, ignore_errors=True)
    if d in _tempdirs:
        _tempdirs.remove(d)


_T0 = time.perf_counter()


def log(msg):
    print("[bench %5.1fs] %s" % (time.perf_counter() - _T0, msg), file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Environment: explicit for every spawned process. No PYTHON* variable leaks in from the shell
# (notably PYTHONUNBUFFERED and PYTHONDONTWRITEBYTECODE, which real users do not have).

def child_env(venv):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and not k.startswith("HOTLOAD_")
           and k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "MPLBACKEND", "MPLCONFIGDIR")}
    env["NO_COLOR"] = "1"
    if venv:
        env["VIRTUAL_ENV"] = str(VENV)
        env["PATH"] = "%s:%s" % (VENV / "bin", env.get("PATH", "/usr/bin:/bin"))
    return env


# --------------------------------------------------------------------------------------------
# A child whose stdout/stderr the harness reads without blocking (poll + non-blocking reads),
# timestamping stdout with perf_counter_ns the moment poll reports data.

def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Proc:
    def __init__(self, argv, cwd, env, stdin=subprocess.DEVNULL):
        self.argv = [str(a) for a in argv]
        # Children get SIGINT's default disposition even when the harness itself was started in
        # the background (where the shell sets SIGINT to "ignore", which Python then keeps).
        self.popen = subprocess.Popen(self.argv, cwd=str(cwd), env=env, stdin=stdin,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      start_new_session=True,
                                      preexec_fn=_default_sigint)
        _children.append(self.popen)
        self.pid = self.popen.pid
        self.out_fd = self.popen.stdout.fileno()
        self.err_fd = self.popen.stderr.fileno()
        self.bufs = {self.out_fd: bytearray(), self.err_fd: bytearray()}
        self.poller = select.poll()
        self.open = set()
        for fd in (self.out_fd, self.err_fd):
            os.set_blocking(fd, False)
            self.poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
            self.open.add(fd)
        self.search_from = 0
        self.returncode = None

    @property
    def out(self):
        return self.bufs[self.out_fd]

    @property
    def err_text(self):
        return self.bufs[self.err_fd].decode(errors="replace")

    def pump(self, timeout_ms):
        """Reads whatever is ready within timeout_ms; returns the time stdout data arrived."""
        if not self.open:
            if timeout_ms > 0:
                time.sleep(timeout_ms / 1000.0)
            return None
        events = self.poller.poll(timeout_ms)
        ts = time.perf_counter_ns()
        got_out = None
        for fd, _ev in events:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            if data:
                self.bufs[fd].extend(data)
                if fd == self.out_fd:
                    got_out = ts
            else:
                self.poller.unregister(fd)
                self.open.discard(fd)
        return got_out

    def wait_for(self, needle, timeout_s):
        """perf_counter_ns at which `needle` appeared on stdout, or None on timeout/exit."""
        idx = self.out.find(needle, self.search_from)
        if idx >= 0:
            self.search_from = idx + len(needle)
            return time.perf_counter_ns()
        deadline = time.perf_counter_ns() + int(timeout_s * 1e9)
        while True:
            now = time.perf_counter_ns()
            if now >= deadline:
                return None
            before = len(self.out)
            ts = self.pump(max(1, int((deadline - now) / 1e6)))
            if ts is not None:
                idx = self.out.find(needle, max(self.search_from, before - len(needle)))
                if idx >= 0:
                    self.search_from = idx + len(needle)
                    return ts
            if not self.open and self.popen.poll() is not None:
                return None

    def idle(self, seconds):
        """Keeps draining the pipes for `seconds`."""
        end = time.perf_counter() + seconds
        while True:
            left = end - time.perf_counter()
            if left <= 0:
                return
            self.pump(max(1, int(left * 1000)))

    def alive(self):
        return self.popen.poll() is None

    def stop(self, sig=signal.SIGINT, timeout=5.0):
        """Sends `sig` (Ctrl-C by default), waits, kills if needed; returns the exit status."""
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(sig)
            except OSError:
                pass
            end = time.perf_counter() + timeout
            while self.popen.poll() is None and time.perf_counter() < end:
                self.pump(20)
        if self.popen.poll() is None:
            self.kill()
        self.returncode = self.popen.returncode
        for _ in range(50):
            if not self.open:
                break
            self.pump(10)
        return self.returncode

    def kill(self):
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
            self.popen.wait()
        for fd in list(self.open):
            self.poller.unregister(fd)
            self.open.discard(fd)
        self.popen.stdout.close()
        self.popen.stderr.close()


# --------------------------------------------------------------------------------------------
# /proc readings

def _read(path):
    with open(path) as f:
        return f.read()


def proc_sample(pid):
    """CPU (stat ticks and schedstat ns, all threads), voluntary context switches (all
    threads, and per thread), RSS, and the number of inotify watches."""
    stat = _read("/proc/%d/stat" % pid)
    fields = stat[stat.rindex(")") + 2:].split()
    cpu_ticks = int(fields[11]) + int(fields[12])
    sample = {"cpu_s": cpu_ticks / CLK_TCK, "user_s": int(fields[11]) / CLK_TCK, "sys_s": int(fields[12]) / CLK_TCK,
              "sched_ns": 0, "vcsw": 0, "ivcsw": 0, "threads": {}}
    status = _read("/proc/%d/status" % pid)
    sample["rss_kb"] = int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))
    sample["hwm_kb"] = int(re.search(r"^VmHWM:\s+(\d+)", status, re.M).group(1))
    sample["vcsw_leader"] = int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1))
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s/" % (pid, tid)
        try:
            tstatus = _read(base + "status")
            comm = _read(base + "comm").strip()
            sched = int(_read(base + "schedstat").split()[0])
        except OSError:
            continue
        v = int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", tstatus, re.M).group(1))
        nv = int(re.search(r"^nonvoluntary_ctxt_switches:\s+(\d+)", tstatus, re.M).group(1))
        sample["vcsw"] += v
        sample["ivcsw"] += nv
        sample["sched_ns"] += sched
        sample["threads"][tid] = {"comm": comm, "vcsw": v, "sched_ns": sched}
    sample["watches"] = inotify_watches(pid)
    return sample


def inotify_watches(pid):
    n = 0
    d = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(d):
        try:
            n += sum(1 for line in _read(os.path.join(d, fd)).splitlines() if line.startswith("inotify wd:"))
        except OSError:
            pass
    return n


def rss_kb(pid):
    return int(re.search(r"^VmRSS:\s+(\d+)", _read("/proc/%d/status" % pid), re.M).group(1))


# --------------------------------------------------------------------------------------------
# Statistics and formatting

def pct(samples, p):
    s = sorted(samples)
    if not s:
        return None
    k = max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))
    return s[int(k)]


def summary(samples):
    if not samples:
        return {"n": 0, "p50": None, "p95": None, "max": None, "min": None}
    return {"n": len(samples), "p50": pct(samples, 50), "p95": pct(samples, 95),
            "max": max(samples), "min": min(samples)}


def fms(ns):
    if ns is None:
        return "n/a"
    ms = ns / 1e6
    if ms < 1:
        return "%.3f ms" % ms
    if ms < 10:
        return "%.2f ms" % ms
    if ms < 1000:
        return "%.1f ms" % ms
    return "%.2f s" % (ms / 1000)


def parse_duration(text):
    """'0.31 ms' / '165 ms' / '1.20 s' (the host's format_duration) -> ns."""
    m = re.match(r"([\d.]+) (ms|s)$", text.strip())
    if not m:
        return None
    v = float(m.group(1))
    return int(v * (1e6 if m.group(2) == "ms" else 1e9))


# "[hotload] ok: lib ran in 0.31 ms (run 3)", "... (run 3, after saving lib.py)", "error: lib failed after ...",
# "interrupted: lib interrupted by Ctrl-C after ...", "exit: lib called sys.exit(1) after ..."
STATUS_RE = re.compile(r"^\[hotload\] (\w+): (\S+) (?:ran in|failed after|interrupted by Ctrl-C after|called sys\.exit\(.*?\) after) "
                       r"([\d.]+ m?s) \(run (\d+)[,)]", re.M)
PHASES_RE = re.compile(r"^\[hotload\] (save→done [^\n]*)$", re.M)
WATCHING_RE = re.compile(r"watching (\d+) files? in (\d+) director(?:y|ies) \(([^)]*)\)")


def host_runs(stderr):
    """[(outcome, run_no, ran_in_ns)] from the host's status lines."""
    return [(m.group(1), int(m.group(4)), parse_duration(m.group(3))) for m in STATUS_RE.finditer(stderr)]


def host_phases(stderr):
    """[{phase: ns}] from -v's per-run timing lines ('save→done 0.81 ms, reload 0.48 ms')."""
    out = []
    for m in PHASES_RE.finditer(stderr):
        d = {}
        for part in m.group(1).split(", "):
            pm = re.match(r"(.+) ([\d.]+ m?s)$", part.strip())
            if pm:
                d[pm.group(1)] = parse_duration(pm.group(2))
        out.append(d)
    return out


def unexpected_stderr(stderr):
    """Host lines that are neither status lines, -v detail, nor empty."""
    odd = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        if STATUS_RE.match(line) or line.startswith("[hotload] save→done") or line.startswith("[hotload] changed:") \
                or WATCHING_RE.search(line) or line.startswith("[hotload] import "):
            continue
        odd.append(line)
    return odd


# --------------------------------------------------------------------------------------------
# Setup: the venv and the binary

def setup_venv(args):
    info = {"ok": False, "deps": [], "versions": {}, "matplotlib": False, "error": None, "watchfiles": None}
    py = VENV / "bin" / "python"
    want_version = "%d.%d" % sys.version_info[:2]
    if py.exists():
        r = subprocess.run([str(py), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           env=child_env(True), capture_output=True, text=True)
        if r.returncode != 0 or r.stdout.strip() != want_version:
            log("bench/.venv is not a Python %s venv: recreating it" % want_version)
            shutil.rmtree(VENV)
    if not py.exists():
        log("creating bench/.venv with %s -m venv" % sys.executable)
        r = subprocess.run([sys.executable, "-m", "venv", str(VENV)], env=child_env(False),
                           capture_output=True, text=True)
        if r.returncode != 0:
            info["error"] = "python3 -m venv failed: " + (r.stderr or r.stdout).strip()[-500:]
            return info
    info["ok"] = True
    probe = ("import importlib.util, json; print(json.dumps({m: bool(importlib.util.find_spec(m)) "
             "for m in %r}))" % (WANTED + ["watchfiles"]))

    def have():
        r = subprocess.run([str(py), "-c", probe], env=child_env(True), capture_output=True, text=True)
        return json.loads(r.stdout) if r.returncode == 0 else {}

    present = have()
    install = [m for m in WANTED if not present.get(m)]
    if args.install_watchfiles and not present.get("watchfiles"):
        install.append("watchfiles")
    if install and not args.no_install:
        log("pip install %s into bench/.venv" % " ".join(install))
        try:
            r = subprocess.run([str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"] + install,
                               env=child_env(True), capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                info["error"] = "pip install %s failed: %s" % (" ".join(install), (r.stderr or r.stdout).strip()[-800:])
        except subprocess.TimeoutExpired:
            info["error"] = "pip install %s timed out" % " ".join(install)
        present = have()
    if install and args.no_install:
        info["error"] = "--no-install: not installing %s" % " ".join(install)
    info["deps"] = [m for m in ("numpy", "pandas") if present.get(m)]
    info["matplotlib"] = bool(present.get("matplotlib"))
    r = subprocess.run([str(py), "-c", "import sys, json, importlib.metadata as md\n"
                        "v = {'python': sys.version.split()[0]}\n"
                        "for m in %r:\n"
                        "    try: v[m] = md.version(m)\n"
                        "    except Exception: pass\n"
                        "print(json.dumps(v))" % (WANTED + ["watchfiles"])],
                       env=child_env(True), capture_output=True, text=True)
    if r.returncode == 0:
        info["versions"] = json.loads(r.stdout)
    wf = shutil.which("watchfiles", path=child_env(True)["PATH"])
    info["watchfiles"] = wf
    if info["error"]:
        log("WARNING: " + info["error"] + " -- running without them")
    return info


def newest_source_mtime():
    newest = 0.0
    for pattern in ("src/**/*", "python/hotload/*.py", "Cargo.toml", "Cargo.lock", "build.rs"):
        for p in REPO.glob(pattern):
            if p.is_file():
                newest = max(newest, p.stat().st_mtime)
    return newest


def setup_binary(args, env):
    default = REPO / "target" / "release" / "hotload-host"
    path = Path(args.bin).resolve() if args.bin else default
    if args.build or (not args.bin and not path.exists()):
        log("cargo build --release")
        r = subprocess.run(["cargo", "build", "--release"], cwd=str(REPO), env=dict(os.environ))
        if r.returncode != 0:
            raise BenchError("cargo build --release failed (see above); pass --bin PATH to use another build")
    if not path.exists():
        raise BenchError("no hotload-host binary at %s: build it (cargo build --release) or pass --bin" % path)
    info = {"path": str(path), "stale": False}
    r = subprocess.run([str(path), "--version"], env=env, capture_output=True, text=True)
    info["version"] = (r.stdout or r.stderr).strip()
    info["built"] = datetime.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")
    if path == default and newest_source_mtime() > path.stat().st_mtime:
        info["stale"] = True
        log("WARNING: %s is older than the sources (run cargo build --release, or pass --build)" % path)
    r = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    info["repo_head"] = r.stdout.strip()
    r = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "python", "Cargo.toml", "build.rs"],
                       capture_output=True, text=True)
    info["repo_dirty"] = bool(r.stdout.strip())
    return info


def preflight(args, ctx):
    """hotload-host --once on a trivial module inside the venv: catches a wrong build early."""
    d = mkdtemp(args, "preflight")
    try:
        bm.write_inplace(d / "lib.py", "import sys\nprint('preflight', sys.prefix)\n")
        r = subprocess.run([ctx["bin"], "--once", "--no-clear", "lib.py"], cwd=str(d), env=ctx["env"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or "preflight" not in r.stdout:
            raise BenchError("hotload-host --once failed (exit %s):\n%s%s" % (r.returncode, r.stdout, r.stderr))
        return r.stdout.split(None, 1)[1].strip()
    finally:
        rmtree(d)


def machine_info(venv_info, args):
    cpu = "unknown"
    try:
        for line in _read("/proc/cpuinfo").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = re.search(r"^MemTotal:\s+(\d+)", _read("/proc/meminfo"), re.M)
    tmp = args.tmpdir or tempfile.gettempdir()
    fstype = "?"
    best = ""
    for line in _read("/proc/mounts").splitlines():
        parts = line.split()
        if len(parts) > 2 and os.path.realpath(tmp).startswith(parts[1]) and len(parts[1]) > len(best):
            best, fstype = parts[1], parts[2]
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "mem_gb": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "kernel": platform.release(),
        "python": venv_info["versions"].get("python", platform.python_version()),
        "python_exe": sys.executable,
        "tmp": "%s (%s)" % (tmp, fstype),
        "max_user_watches": _read("/proc/sys/fs/inotify/max_user_watches").strip(),
    }


# --------------------------------------------------------------------------------------------
# Case 1: edit-to-output latency

class Counter:
    def __init__(self, start=1):
        self.n = start

    def next(self):
        self.n += 1
        return self.n


def watcher_latency(ctx, argv, workdir, modes, n, timeout_s, first_timeout_s=180):
    """Starts a long-running reloader on workdir/lib.py and rewrites the file n times per mode,
    timing each write -> new counter line on the tool's stdout."""
    path = workdir / "lib.py"
    counter = ctx["counter"]
    c0 = counter.next()
    bm.write_inplace(path, bm.latency_module(c0, ctx["deps"]))
    proc = Proc(argv, workdir, ctx["env"])
    result = {"modes": {}, "rc": None, "stderr": ""}
    try:
        if proc.wait_for(bm.needle(c0), first_timeout_s) is None:
            raise BenchError("%s printed nothing: %s" % (" ".join(proc.argv), proc.err_text[-2000:]))
        proc.idle(0.5)
        for mode in modes:
            write = bm.WRITERS[mode]
            samples, writes, misses = [], [], 0
            gc.disable()
            try:
                for _ in range(n):
                    c = counter.next()
                    text = bm.latency_module(c, ctx["deps"])
                    proc.pump(0)
                    t0 = time.perf_counter_ns()
                    write(path, text)
                    writes.append(time.perf_counter_ns() - t0)
                    t1 = proc.wait_for(bm.needle(c), timeout_s)
                    if t1 is None:
                        misses += 1
                        if not proc.alive():
                            break
                    else:
                        samples.append(t1 - t0)
                    proc.idle(ctx["gap"])
            finally:
                gc.enable()
            result["modes"][mode] = {"samples": samples, "misses": misses, "write": summary(writes)}
        proc.idle(0.2)
        result["rc"] = proc.stop()
        result["stderr"] = proc.err_text
        return result
    finally:
        proc.kill()


def cold_latency(ctx, workdir, modes, n):
    """A restart tool's floor: after each write, a fresh `python lib.py`; time to its output."""
    path = workdir / "lib.py"
    out = {}
    for mode in modes:
        samples, misses = [], 0
        for _ in range(n):
            c = ctx["counter"].next()
            text = bm.latency_module(c, ctx["deps"])
            t0 = time.perf_counter_ns()
            bm.WRITERS[mode](path, text)
            proc = Proc([ctx["python"], "lib.py"], workdir, ctx["env"])
            try:
                t1 = proc.wait_for(bm.needle(c), 120)
                proc.stop(sig=0, timeout=30)  # just wait for it to exit
            finally:
                proc.kill()
            if t1 is None:
                misses += 1
            else:
                samples.append(t1 - t0)
            time.sleep(ctx["gap"])
        out[mode] = {"samples": samples, "misses": misses}
    return out


def case_latency(args, ctx, R):
    modes = list(bm.WRITERS)
    series = []
    notes = []
    host_rcs = []
    extra = {}

    def add(label, tool, mode, data, **kw):
        s = {"label": label, "tool": tool, "mode": mode, "samples_ns": data["samples"], "misses": data["misses"],
             "write": data.get("write")}
        s.update(summary(data["samples"]))
        s.update(kw)
        series.append(s)

    # hotload-host, as a user runs it (status line on, no -v).
    d = mkdtemp(args, "latency")
    try:
        log("latency: hotload-host, %d edits x %s" % (args.n, ", ".join(modes)))
        res = watcher_latency(ctx, [ctx["bin"], "--no-clear", "lib.py"], d, modes, args.n, 10)
        host_rcs.append(res["rc"])
        runs = host_runs(res["stderr"])
        ran = [ns for (_o, run, ns) in runs if run > 1 and ns is not None]
        for mode in modes:
            add("hotload-host (%s)" % mode, "hotload-host", mode, res["modes"][mode])
        extra["host_runs"] = {"status_lines": len(runs), "edits": args.n * len(modes),
                              "failed": [r for r in runs if r[0] != "ok"], "ran_in": summary(ran)}
        odd = unexpected_stderr(res["stderr"])
        if odd:
            notes.append("hotload-host printed unexpected lines: %s" % " | ".join(odd[:5]))

        # The same with -v: the host's own per-phase timings (where the time goes).
        log("latency: hotload-host -v (phase breakdown), %d edits in-place" % args.n)
        res = watcher_latency(ctx, [ctx["bin"], "-v", "--no-clear", "lib.py"], d, ["in-place"], args.n, 10)
        host_rcs.append(res["rc"])
        phases = host_phases(res["stderr"])
        ran_v = [ns for (_o, run, ns) in host_runs(res["stderr"]) if run > 1 and ns is not None]
        extra["verbose"] = {
            "latency": summary(res["modes"]["in-place"]["samples"]),
            "save_to_done": summary([p["save→done"] for p in phases if "save→done" in p]),
            "reload": summary([p["reload"] for p in phases if "reload" in p]),
            "ran_in": summary(ran_v),
        }
    finally:
        rmtree(d)

    # The polling reloader (the original tool's behaviour: stat every 1/144 s, then reload).
    d = mkdtemp(args, "latency-poll")
    try:
        log("latency: polling reloader, %d edits x %s" % (args.n, ", ".join(modes)))
        res = watcher_latency(ctx, [ctx["python"], BENCH / "poll_reloader.py", "lib.py"], d, modes, args.n, 10)
        for mode in modes:
            add("poll reloader 1/144 s (%s)" % mode, "poller", mode, res["modes"][mode])
    finally:
        rmtree(d)

    # Diagnostic: the event floor, a process that only waits on inotify and prints (no reload).
    d = mkdtemp(args, "latency-event")
    try:
        log("latency: inotify event floor (no reload), %d edits x %s" % (args.n, ", ".join(modes)))
        res = watcher_latency(ctx, [ctx["python"], BENCH / "inotify_floor.py", "lib.py"], d, modes, args.n, 10)
        for mode in modes:
            add("inotify event floor, no reload (%s)" % mode, "event floor", mode, res["modes"][mode])
    finally:
        rmtree(d)

    # The in-process floor: importlib.reload alone, timed inside Python.
    d = mkdtemp(args, "latency-floor")
    try:
        log("latency: in-process floor (importlib.reload inside one Python), %d edits x %s" % (args.n, ", ".join(modes)))
        out = d / "floor.json"
        r = subprocess.run([ctx["python"], BENCH / "inprocess_floor.py", d, out, "--deps", ",".join(ctx["deps"]),
                            "--n", str(args.n), "--gap-ms", str(args.gap_ms), "--start", "1000000",
                            "--memory", str(args.reloads)],
                           cwd=str(d), env=ctx["env"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, timeout=900)
        if r.returncode != 0:
            raise BenchError("inprocess_floor.py failed: %s" % r.stderr[-2000:])
        floor = json.loads(out.read_text())
        for mode in modes:
            add("in-process reload floor (%s)" % mode, "floor", mode, {"samples": floor["reload"][mode], "misses": 0})
        extra["floor_host_steps"] = summary(floor["host_steps"]["in-place"])
        extra["floor_no_pyc"] = summary(floor["no_pyc"]["in-place"])
        extra["floor_memory"] = floor["memory"]
    finally:
        rmtree(d)

    # Cold `python lib.py` per edit: the floor for restart-based tools.
    d = mkdtemp(args, "latency-cold")
    try:
        log("latency: cold python lib.py per edit, %d x %s" % (args.cold_n, ", ".join(modes)))
        res = cold_latency(ctx, d, modes, args.cold_n)
        for mode in modes:
            add("cold python lib.py (%s)" % mode, "cold", mode, res[mode])
    finally:
        rmtree(d)

    # watchfiles' CLI, only if it is installed.
    if ctx["watchfiles"]:
        d = mkdtemp(args, "latency-watchfiles")
        try:
            log("latency: watchfiles CLI, %d x %s" % (args.cold_n, ", ".join(modes)))
            cmd = "%s lib.py" % ctx["python"]
            res = watcher_latency(ctx, [ctx["watchfiles"], "--filter", "python", cmd, "."], d, modes, args.cold_n, 60)
            for mode in modes:
                add("watchfiles CLI (%s)" % mode, "watchfiles", mode, res["modes"][mode])
        finally:
            rmtree(d)
    else:
        notes.append("watchfiles CLI: not installed, skipped (pass --install-watchfiles to include it)")

    R["latency"] = {"series": series, "notes": notes, "host_sigint_rcs": host_rcs, "extra": extra,
                    "deps": ctx["deps"], "gap_ms": args.gap_ms}


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
    poll_dir = mkdtemp(args, "idle-poll")
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
    d = mkdtemp(args, "startup")
    tiny = mkdtemp(args, "startup-tiny")
    try:
        deps_label = "+".join(ctx["deps"]) or "no deps"
        bm.write_inplace(d / "lib.py", bm.latency_module(0, ctx["deps"]))
        bm.write_inplace(tiny / "lib.py", bm.trivial_module(0))
        for label, cwd in (("module importing %s" % deps_label, d), ("trivial module", tiny)):
            log("startup: %s, %d reps" % (label, args.reps))
            host, cold = [], []
            for _ in range(args.reps):
                ns, rc, _ = first_output(ctx, [ctx["bin"], "--no-clear", "lib.py"], cwd, bm.needle(0), True)
                res["sigint_rcs"].append(rc)
                if ns:
                    host.append(ns)
                ns, _rc, _ = first_output(ctx, [ctx["python"], "lib.py"], cwd, bm.needle(0), False)
                if ns:
                    cold.append(ns)
            res["rows"].append({"label": label, "host": summary(host), "python": summary(cold),
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
    d = mkdtemp(args, "memory")
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
    d = mkdtemp(args, "dependents")
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
            log("dependents: %d-module chain, hotload-host%s, %d edits of the leaf, %d of side.py" % (
                CHAIN, " -v" if verbose else "", args.dep_n, args.dep_n))
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
            check_runs("chain%s" % (" -v" if verbose else ""), stderr, 1 + 2 * args.dep_n)
            if not verbose:
                add("leaf", "leaf %s of the %d-module chain" % (bm.chain_name(0), CHAIN), "changed", by_edit["leaf"])
                add("side", "side.py (imported only by the entry)", "changed", by_edit["side"])
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
                res["verbose"][kind] = {
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
    d = mkdtemp(args, "live")
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
            add("thread", "f, called by a running thread through a stale reference", mode, data,
                body_ran=body_ran, never=never, timeout_s=timeout_s,
                deep_notes=[line for line in stderr.splitlines() if line.startswith("[hotload] deep:")][:5])
    finally:
        rmtree(d)
    R["dependents"] = res


# --------------------------------------------------------------------------------------------
# Report

README = BENCH.parent / "README.md"
README_START = "<!-- bench:start (written by `python3 bench/run.py --readme`) -->"
README_END = "<!-- bench:end -->"


def update_readme(R):
    text = README.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise BenchError("--readme: README.md has no %s ... %s block" % (README_START, README_END))
    block = "\n".join([README_START, ""] + render_summary(R) + [README_END])
    README.write_text(text[:start] + block + text[end + len(README_END):])
    log("updated the benchmark tables in %s" % README)


def status(ok):
    return "MET" if ok else "SHORT"


def targets(R):
    rows = []
    lat = R.get("latency")
    if lat:
        by = {(s["tool"], s["mode"]): s for s in lat["series"]}
        hosts = [by[("hotload-host", m)] for m in bm.WRITERS if ("hotload-host", m) in by]
        ok = all(h["p50"] is not None and h["p50"] <= 0.5e6 and h["p95"] <= 2e6 for h in hosts)
        rows.append(("latency p50 ≤ 0.5 ms and p95 ≤ 2 ms (hotload-host, small module, numpy+pandas imported)",
                     "; ".join("%s: p50 %s, p95 %s" % (h["mode"], fms(h["p50"]), fms(h["p95"])) for h in hosts), ok))
        for other, factor, name in (("poller", 10, "polling reloader"), ("cold", 1000, "cold python lib.py")):
            parts, ok = [], True
            for h in hosts:
                o = by.get((other, h["mode"]))
                if not o or not o["p50"] or not h["p50"]:
                    ok = False
                    continue
                ratio = o["p50"] / h["p50"]
                ok = ok and ratio >= factor
                parts.append("%s: %.0f× (%s vs %s)" % (h["mode"], ratio, fms(o["p50"]), fms(h["p50"])))
            rows.append(("≥ %d× faster than the %s at p50" % (factor, name), "; ".join(parts) or "n/a", ok))
    idle = R.get("idle")
    if idle:
        h = idle["host"]
        rows.append(("idle: ≤ 0.1 %% of a core with %s files" % format(h["files"] or 100000, ","),
                     "%.4f %% (%.3f CPU s in %.0f s; ticks: %.2f s)" % (h["core_pct"], h["sched_cpu_s"], h["wall_s"], h["cpu_s"]),
                     h["core_pct"] <= 0.1))
        rows.append(("idle: no periodic wakeups",
                     "%d voluntary context switches in %.0f s (all threads)%s" % (
                         h["wakeups"], h["wall_s"],
                         "" if not h["wake_threads"] else ": " + ", ".join("%s %d" % kv for kv in h["wake_threads"].items())),
                     h["wakeups"] == 0))
        rows.append(("idle: ignored dirs cost no watches",
                     "%s inotify watches for %s non-ignored dirs (+%d ignored dirs)" % (
                         format(h["watches"], ","), format(idle["expected_watches"], ","), idle["ignored_dirs"]),
                     h["watches"] <= idle["expected_watches"]))
    st = R.get("startup")
    if st and st.get("setup"):
        s = st["setup"]
        rows.append(("watch setup ≤ 200 ms for 10k directories",
                     "%s (first output %s with the big tree vs %s tiny, p50)" % (
                         fms(s["setup_ns"]), fms(s["big"]["p50"]), fms(s["tiny"]["p50"])),
                     s["setup_ns"] is not None and s["setup_ns"] <= 200e6))
    mem = R.get("memory")
    if mem:
        n = max(mem["points_kb"])
        rows.append(("RSS growth ≤ 2 MB over %d reloads" % n,
                     "%+.2f MiB (%s kB after 1 reload → %s kB after %d)" % (
                         mem["growth_kb"] / 1024, format(mem["points_kb"][1], ","), format(mem["points_kb"][n], ","), n),
                     mem["growth_kb"] <= 2048))
    return rows


def render_summary(R):
    """The run line, the machine and the targets: what `latest.md` opens with and `--readme` copies."""
    m = R["machine"]
    b = R["binary"]
    v = R["venv"]
    L = []
    L.append("`%s` — %s run, %.0f s; load average %s at start, %s at the end." % (
        R["command"], "quick" if R["quick"] else "full", R["elapsed_s"], R["load_start"], R["load_end"]))
    L.append("")
    L.append("| machine | |")
    L.append("| --- | --- |")
    L.append("| date | %s |" % m["date"])
    L.append("| CPU | %s, %d cores (%d usable) |" % (m["cpu"], m["cores"], m["cores_usable"]))
    L.append("| memory / kernel | %s GB / Linux %s |" % (m["mem_gb"], m["kernel"]))
    L.append("| Python | %s (venv from %s) |" % (m["python"], m["python_exe"]))
    L.append("| packages | %s |" % (", ".join("%s %s" % kv for kv in v["versions"].items() if kv[0] != "python") or "none"))
    L.append("| temp trees | %s |" % m["tmp"])
    L.append("| hotload-host | %s, `%s` (built %s; repo HEAD %s%s)%s |" % (
        b["version"], b["path"], b["built"], b["repo_head"], ", working tree modified" if b["repo_dirty"] else "",
        " **binary older than sources**" if b["stale"] else ""))
    if v.get("error"):
        L.append("| venv | **%s** |" % v["error"].replace("\n", " ")[:300])
    L.append("")

    L.append("## Targets")
    L.append("")
    L.append("| target | figure | status |")
    L.append("| --- | --- | --- |")
    for name, fig, ok in targets(R):
        L.append("| %s | %s | **%s** |" % (name, fig, status(ok)))
    dep = R.get("dependents")
    if dep:
        by = {(s["edit"], s["reload"]): s for s in dep["series"]}
        parts = []
        for key, name in ((("leaf", "changed"), "leaf edit"), (("side", "changed"), "side edit"),
                          (("thread", "deep"), "thread, deep")):
            s = by.get(key)
            if s:
                mods = (dep["verbose"].get(key[0]) or {}).get("modules_max")
                parts.append("%s p50 %s%s" % (name, fms(s["p50"]), " (%d modules)" % mods if mods else ""))
        s = by.get(("thread", "changed"))
        if s:
            parts.append("thread, changed: %s" % ("never" if s["never"] else fms(s["p50"])))
        L.append("| dependents and live patching (no target set) | %s | informational |" % "; ".join(parts))
    L.append("")
    return L


def render(R):
    L = ["# hotload-host benchmark results", ""] + render_summary(R)
    lat = R.get("latency")
    if lat:
        L.append("## 1. Edit-to-output latency")
        L.append("")
        L.append("From just before the write to the moment the new counter line is read from the tool's stdout "
                 "(module imports %s; %d ms gap between edits). `in-place`: truncate and write; `rename`: write a "
                 "temporary file, then rename it over lib.py." % (" and ".join(lat["deps"]) or "nothing", lat["gap_ms"]))
        L.append("")
        L.append("| tool | save | n | p50 | p95 | max | missed |")
        L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for s in lat["series"]:
            L.append("| %s | %s | %d | %s | %s | %s | %d |" % (s["tool"], s["mode"], s["n"], fms(s["p50"]), fms(s["p95"]),
                                                             fms(s["max"]), s["misses"]))
        L.append("")
        by = {(s["tool"], s["mode"]): s for s in lat["series"]}
        L.append("| ratio at p50 (other ÷ hotload-host) | in-place | rename |")
        L.append("| --- | ---: | ---: |")
        for tool, name in (("poller", "polling reloader"), ("cold", "cold python lib.py"), ("watchfiles", "watchfiles CLI"),
                           ("floor", "in-process reload floor")):
            cells = []
            for mode in bm.WRITERS:
                h, o = by.get(("hotload-host", mode)), by.get((tool, mode))
                cells.append("%.3g×" % (o["p50"] / h["p50"]) if h and o and h["p50"] and o["p50"] else "n/a")
            if any(c != "n/a" for c in cells):
                L.append("| %s | %s |" % (name, " | ".join(cells)))
        L.append("")
        ex = lat["extra"]
        vb = ex.get("verbose")
        if vb:
            host = by.get(("hotload-host", "in-place"), {})
            ev = by.get(("event floor", "in-place"), {})
            fl = by.get(("floor", "in-place"), {})
            L.append("Where hotload-host's time goes (in-place saves, p50s):")
            L.append("")
            L.append("| stage | p50 | source |")
            L.append("| --- | ---: | --- |")
            L.append("| whole edit → output (default flags) | %s | harness |" % fms(host.get("p50")))
            L.append("| whole edit → output with `-v` | %s | harness |" % fms(vb["latency"]["p50"]))
            L.append("| the harness's write itself (open/truncate/write/close) | %s | harness |" % fms((host.get("write") or {}).get("p50")))
            L.append("| write → OS event → a waiting Python process prints (no reload) | %s | inotify event floor |" % fms(ev.get("p50")))
            L.append("| host: event received → run finished (`save→done`) | %s | `-v` |" % fms(vb["save_to_done"]["p50"]))
            L.append("| host: whole run (`ran in`) | %s | `-v` status line |" % fms(vb["ran_in"]["p50"]))
            L.append("| host: `importlib.reload` of the module (`reload`) | %s | `-v` |" % fms(vb["reload"]["p50"]))
            L.append("| plain `importlib.reload` + flush in one Python | %s | in-process floor |" % fms(fl.get("p50")))
            L.append("| drop the old .pyc + `importlib.invalidate_caches()` + reload + flush (the host's steps) | %s | in-process floor |" % fms(ex.get("floor_host_steps", {}).get("p50")))
            L.append("| drop the old .pyc + reload with `sys.dont_write_bytecode = True` + flush | %s | in-process floor |" % fms(ex.get("floor_no_pyc", {}).get("p50")))
            L.append("")
        hr = ex.get("host_runs")
        if hr:
            L.append("hotload-host ran %d times for %d edits (+1 initial import); failed runs: %d." % (
                hr["status_lines"] - 1, hr["edits"], len(hr["failed"])))
            L.append("")
        for n in lat["notes"]:
            L.append("- " + n)
        if lat["notes"]:
            L.append("")
        L.append("![latency](latency.png)" if R.get("plot") == "ok" else "Plot: %s" % R.get("plot"))
        L.append("")

    idle = R.get("idle")
    if idle:
        L.append("## 2. Idle cost")
        L.append("")
        L.append("Nothing changes for %.0f s. CPU from /proc/PID/task/*/schedstat (ns; /proc/PID/stat ticks in brackets), "
                 "wakeups = voluntary context switches summed over all threads, watches = `inotify wd:` lines in "
                 "/proc/PID/fdinfo/*." % idle["host"]["wall_s"])
        L.append("")
        L.append("| tool | files | CPU s | % of a core | wakeups | wakeups/s | RSS | inotify watches |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, x in (("hotload-host (OS events)", idle["host"]), ("poll reloader 1/144 s", idle["poller"])):
            L.append("| %s | %s | %.3f [%.2f] | %.4f %% | %d | %.1f | %.1f MiB | %s |" % (
                name, format(x["files"], ",") if x["files"] else "?", x["sched_cpu_s"], x["cpu_s"], x["core_pct"],
                x["wakeups"], x["wakeups_per_s"], x["rss_kb"] / 1024, format(x["watches"], ",")))
        L.append("")
        L.append("Tree: %s .py files in %s directories (+ root), and a .gitignore'd directory of %s files in %d directories "
                 "(created in %.1f s); expected watches: %s. Host said: `%s`. Host threads: %s." % (
                     "100,000", "10,000", format(idle["ignored_files"], ","), idle["ignored_dirs"],
                     (R.get("tree") or {}).get("build_s", float("nan")),
                     format(idle["expected_watches"], ","), idle["host_watching_line"],
                     ", ".join(idle["host"]["threads"])))
        L.append("")
        sc = idle.get("scan")
        if sc:
            L.append("Idle but read: while the host watched, the harness opened and read every watched file once "
                     "(%s files in %.1f s, like `grep -r` or an indexer; nothing written). The host spent **%.0f ms CPU and "
                     "%s wakeups** (%s) and ran the module %d times." % (
                         format(sc["files_read"], ","), sc["scan_s"], sc["cpu_s"] * 1e3, format(sc["wakeups"], ","),
                         ", ".join("%s %s" % (k, format(v, ",")) for k, v in sc["wake_threads"].items()), sc["runs_during"]))
            L.append("")

    st = R.get("startup")
    if st:
        L.append("## 3. Startup")
        L.append("")
        L.append("Time from spawning the process to its first output line (p50 / min of %d)." % len(st["rows"][0]["host_samples"]))
        L.append("")
        L.append("| module | hotload-host | python lib.py | difference |")
        L.append("| --- | ---: | ---: | ---: |")
        for r in st["rows"]:
            h, p = r["host"], r["python"]
            diff = (h["p50"] - p["p50"]) if h["p50"] and p["p50"] else None
            L.append("| %s | %s / %s | %s / %s | %s%s |" % (r["label"], fms(h["p50"]), fms(h["min"]), fms(p["p50"]), fms(p["min"]),
                                                       "+" if diff and diff > 0 else "", fms(diff) if diff is not None else "n/a"))
        s = st.get("setup")
        if s:
            L.append("| trivial module, big tree (-v) | %s / %s | | |" % (fms(s["big"]["p50"]), fms(s["big"]["min"])))
            L.append("| trivial module, tiny dir (-v) | %s / %s | | |" % (fms(s["tiny"]["p50"]), fms(s["tiny"]["min"])))
            L.append("")
            L.append("Watch setup for the big tree (difference of the p50s): **%s**; host said `%s`." % (
                fms(s["setup_ns"]), s["watching_line"]))
            c = s.get("cost_at_first_output")
            if c:
                L.append("")
                L.append("What the host had spent by its first output in the big tree (median run): %.0f ms CPU over all threads "
                         "(user %.2f s, system %.2f s in ticks), %s voluntary context switches (%s)." % (
                             c["cpu_s"] * 1e3, c["user_s"], c["sys_s"], format(c["vcsw"], ","),
                             ", ".join("%s %s" % (k, format(v, ",")) for k, v in c["threads"].items())))
        L.append("")

    mem = R.get("memory")
    if mem:
        L.append("## 4. Memory")
        L.append("")
        pts = mem["points_kb"]
        floor = (R.get("latency") or {}).get("extra", {}).get("floor_memory") or {}
        floor = {int(k): v for k, v in floor.items()}
        L.append("RSS of hotload-host after N reloads of a 300-line module (and, for comparison, of a plain Python "
                 "process doing the same reloads in-process).")
        L.append("")
        L.append("| reloads | hotload-host RSS | growth since 1 | plain Python: growth since 1 |")
        L.append("| ---: | ---: | ---: | ---: |")
        for k in sorted(pts):
            L.append("| %d | %s kB | %s | %s |" % (k, format(pts[k], ","), "%+d kB" % (pts[k] - pts[1]) if k >= 1 else "",
                                                  ("%+d kB" % (floor[k] - floor[1])) if k in floor and 1 in floor and k >= 1 else ""))
        L.append("")
        L.append("%d status lines (last run %s), %d edits without output, failed runs: %s." % (
            mem["runs"], mem["last_run"], mem["misses"], len(mem["failed"])))
        L.append("")

    dep = R.get("dependents")
    if dep:
        L.append("## 5. Dependents and live patching")
        L.append("")
        L.append("From just before the write (truncate + write) to the moment the new value is read from stdout; %d ms gap "
                 "between edits. **Chain**: %s … %s, each importing the previous one (`import m000` / "
                 "`VALUE = m000.VALUE`); the entry `lib.py` imports %s and `side` and prints %s's counter, copied down the "
                 "chain, and side's. With `--reload changed` (the default) a save of %s reloads the whole chain in order, "
                 "then the entry; a save of `side.py`, which only the entry imports, reloads side and the entry. "
                 "**Live patching**: a daemon thread started once (`hotload.keep`) calls `f`, passed to it as an argument, "
                 "every 1 ms and prints its value when it changes; each edit changes `f`'s return value." % (
                     dep["gap_ms"], bm.chain_name(0), bm.chain_name(dep["chain"] - 1), bm.chain_name(dep["chain"] - 1),
                     bm.chain_name(0), bm.chain_name(0)))
        L.append("")
        L.append("| edit | `--reload` | n | p50 | p95 | max | missed |")
        L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for s in dep["series"]:
            if s.get("never"):
                L.append("| %s | %s | %d | never (stale reference) | | | %d (timeout %.0f s) |" % (
                    s["label"], s["reload"], s["misses"], s["misses"], s["timeout_s"]))
            else:
                L.append("| %s | %s | %d | %s | %s | %s | %d |" % (s["label"], s["reload"], s["n"], fms(s["p50"]),
                                                                 fms(s["p95"]), fms(s["max"]), s["misses"]))
        L.append("")
        vb = dep["verbose"]
        if vb:
            L.append("The host's own figures, from a second run of the same edits with `-v` (its line lists every module "
                     "it reloaded with its time: `reload m000 0.21 ms, …, reload 0.30 ms` for the entry); p50 / max over "
                     "the runs:")
            L.append("")
            L.append("| edit | modules reloaded | in dependency order | sum of per-module reload times | of which the entry | "
                     "host: `save→done` | edit → output with `-v` |")
            L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
            for kind, name, expect in (("leaf", "leaf %s" % bm.chain_name(0), "%d + entry" % dep["chain"]),
                                       ("side", "side.py", "1 + entry")):
                v = vb.get(kind)
                if not v:
                    continue
                mods = "n/a" if v["modules_min"] is None else str(v["modules_min"]) if v["modules_min"] == v["modules_max"] \
                    else "%d–%d" % (v["modules_min"], v["modules_max"])
                L.append("| %s | %s (%s) | %d of %d runs | %s / %s | %s | %s / %s | %s / %s |" % (
                    name, mods, expect, v["in_order"], v["runs"], fms(v["total"]["p50"]), fms(v["total"]["max"]),
                    fms(v["entry"]["p50"]), fms(v["save_to_done"]["p50"]), fms(v["save_to_done"]["max"]),
                    fms(v["latency"]["p50"]), fms(v["latency"]["max"])))
            L.append("")
            L.append("The sums add up the host's figures as printed (0.01 ms resolution); `save→done` also covers finding "
                     "the dependents (reading the loaded project modules' imports) and the status line.")
            L.append("")
            first = (vb.get("leaf") or {}).get("runs_detail") or []
            leaf = next((s for s in dep["series"] if s["edit"] == "leaf"), None)
            if first and leaf and leaf["samples_ns"]:
                f = first[0]
                L.append("The first save after start costs more (leaf: %s edit → output, vs p50 %s; with `-v`: `save→done` %s, "
                         "of which reloads %s): the imports of every loaded project module are read from source once, then "
                         "cached per file." % (fms(leaf["samples_ns"][0]), fms(leaf["p50"]), fms(f["save_to_done"]),
                                               fms(f["total_ns"])))
                L.append("")
        for s in dep["series"]:
            if s["edit"] == "thread" and s["reload"] == "changed":
                if s.get("never"):
                    L.append("- `--reload changed`: the save reloaded the module (its body printed the new line, %d of %d "
                             "edits), but the thread kept calling the old `f`: no new value within %.0f s." % (
                                 s["body_ran"], s["n"] + s["misses"], s["timeout_s"]))
                elif s["samples_ns"]:
                    L.append("- `--reload changed`: the thread saw the new value (%s); a stale reference was expected to "
                             "keep the old one." % fms(s["p50"]))
                else:
                    L.append("- `--reload changed`: no new value within %.0f s, but the module body ran in only %d of %d "
                             "edits: inconclusive." % (s["timeout_s"], s["body_ran"], s["misses"]))
            if s.get("deep_notes"):
                L.append("- `--reload %s`: the host said %s" % (s["reload"], " | ".join("`%s`" % x for x in s["deep_notes"])))
        for n in dep["notes"]:
            L.append("- " + n)
        L.append("")
    rcs = []
    for x in (R.get("latency", {}).get("host_sigint_rcs", []), R.get("startup", {}).get("sigint_rcs", []),
              [R.get("idle", {}).get("host_sigint_rc")], [R.get("memory", {}).get("sigint_rc")],
              R.get("dependents", {}).get("sigint_rcs", [])):
        rcs += [r for r in x if r is not None]
    if rcs:
        L.append("## Behaviour checks")
        L.append("")
        L.append("- Ctrl-C (SIGINT) while idle: exit status 130 in %d of %d stops%s." % (
            sum(1 for r in rcs if r == 130), len(rcs),
            "" if all(r == 130 for r in rcs) else " (others: %s)" % sorted({r for r in rcs if r != 130})))
        odd = (R.get("idle") or {}).get("unexpected") or []
        if odd:
            L.append("- Unexpected host output while idle: %s" % " | ".join(odd[:5]))
        L.append("")
    return "\n".join(L) + "\n"


# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short run (~1.5 min): fewer edits, 5 s idle")
    ap.add_argument("--n", type=int, help="edits per tool and save mode (default 200; quick 50)")
    ap.add_argument("--cold-n", type=int, help="edits per save mode for restart tools: cold python, watchfiles (default 15; quick 3)")
    ap.add_argument("--gap-ms", type=float, default=30.0, help="pause between edits (default 30)")
    ap.add_argument("--idle-seconds", type=float, help="idle window (default 30; quick 5)")
    ap.add_argument("--reps", type=int, help="startup repetitions (default 5; quick 2)")
    ap.add_argument("--setup-reps", type=int, help="watch-setup repetitions per tree (default 5; quick 2)")
    ap.add_argument("--no-scan", dest="scan", action="store_false",
                    help="skip the read-only scan of the big tree in the idle case")
    ap.add_argument("--reloads", type=int, default=1000, help="reloads in the memory case (default 1000)")
    ap.add_argument("--mem-gap-ms", type=float, default=20.0, help="pause between edits in the memory case (default 20)")
    ap.add_argument("--dep-n", type=int, help="edits per kind in the dependents case (default 20; quick 10)")
    ap.add_argument("--only", help="comma-separated subset of: latency,idle,startup,memory,dependents")
    ap.add_argument("--bin", help="hotload-host binary (default: target/release/hotload-host, built if missing)")
    ap.add_argument("--build", action="store_true", help="run cargo build --release first")
    ap.add_argument("--no-install", action="store_true", help="do not pip install into bench/.venv")
    ap.add_argument("--install-watchfiles", action="store_true", help="also pip install watchfiles and compare its CLI")
    ap.add_argument("--tmpdir", help="where temporary trees go (default: the system temp dir)")
    ap.add_argument("--readme", action="store_true",
                    help="also copy the machine and targets tables into README.md (between its bench markers)")
    ap.add_argument("--out", default=str(RESULTS), help="results directory (default bench/results)")
    args = ap.parse_args()
    q = args.quick
    args.n = args.n or (50 if q else 200)
    args.cold_n = args.cold_n or (3 if q else 15)
    args.idle_seconds = args.idle_seconds or (5.0 if q else 30.0)
    args.reps = args.reps or (2 if q else 5)
    args.setup_reps = args.setup_reps or (2 if q else 5)
    args.dep_n = args.dep_n or (10 if q else 20)
    only = set((args.only or ",".join(CASES)).split(","))
    if only - set(CASES):
        ap.error("--only: unknown case %s (cases: %s)" % (", ".join(sorted(only - set(CASES))), ",".join(CASES)))
    if args.readme and README_START not in README.read_text():
        ap.error("--readme: README.md has no %s line" % README_START)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    load_start = " ".join(_read("/proc/loadavg").split()[:3])
    venv = setup_venv(args)
    env = child_env(venv["ok"])
    binary = setup_binary(args, env)
    ctx = {
        "bin": binary["path"], "env": env, "gap": args.gap_ms / 1000.0, "counter": Counter(),
        "python": str(VENV / "bin" / "python") if venv["ok"] else sys.executable,
        "deps": venv["deps"], "watchfiles": venv["watchfiles"],
    }
    prefix = preflight(args, ctx)
    log("hotload-host %s runs with sys.prefix %s" % (binary["version"], prefix))
    R = {"quick": q, "machine": machine_info(venv, args), "binary": binary, "venv": venv,
         "command": " ".join(["python3", "bench/run.py"] + sys.argv[1:]), "load_start": load_start,
         "args": {k: v for k, v in vars(args).items()}}
    tree = None
    try:
        if "latency" in only:
            case_latency(args, ctx, R)
        if only & {"idle", "startup"}:
            tree = mkdtemp(args, "tree")
            log("building the big tree in %s" % tree)
            info = build_tree(tree)
            log("built %d files in %d dirs (+%d ignored files) in %.1f s" % (
                info["files"], info["dirs"], info["ignored_files"], info["build_s"]))
            R["tree"] = {k: v for k, v in info.items() if k != "listing"}
            if "idle" in only:
                case_idle(args, ctx, R, tree, info)
            if "startup" in only:
                case_startup(args, ctx, R, tree)
            log("removing the big tree")
            rmtree(tree)
            tree = None
        elif "startup" in only:
            case_startup(args, ctx, R, None)
        if "memory" in only:
            case_memory(args, ctx, R)
        if "dependents" in only:
            case_dependents(args, ctx, R)
    finally:
        _cleanup()
    R["elapsed_s"] = time.perf_counter() - started
    R["load_end"] = " ".join(_read("/proc/loadavg").split()[:3])

    json_path = out_dir / "latest.json"
    json_path.write_text(json.dumps(R, indent=1, default=str))
    if "latency" in R:
        if venv["matplotlib"]:
            r = subprocess.run([ctx["python"], BENCH / "plot.py", json_path, out_dir / "latency.png"],
                               env=dict(env, MPLBACKEND="Agg", MPLCONFIGDIR=str(mkdtemp(args, "mpl"))),
                               capture_output=True, text=True, timeout=300)
            R["plot"] = "ok" if r.returncode == 0 else "failed: " + r.stderr.strip()[-300:]
            _cleanup()
        else:
            R["plot"] = "skipped (matplotlib not installed in bench/.venv)"
    json_path.write_text(json.dumps(R, indent=1, default=str))
    md = render(R)
    (out_dir / "latest.md").write_text(md)
    print(md)
    if args.readme:
        update_readme(R)
    log("wrote %s, %s%s" % (out_dir / "latest.md", json_path, ", latency.png" if R.get("plot") == "ok" else ""))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log("error: %s" % e)
        sys.exit(1)
    except KeyboardInterrupt:
        log("interrupted: children stopped, temporary trees removed")
        sys.exit(130)
