"""What every case of the benchmark shares: logging, the registry of children and temporary
trees (always cleaned up), the explicit child environment, a child whose output is read without
blocking (pipes or a pty), /proc readings, statistics and formatting. Standard library only.
"""

import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".venv"
CLK_TCK = os.sysconf("SC_CLK_TCK")

_T0 = time.perf_counter()


def log(msg):
    print("[bench %5.1fs] %s" % (time.perf_counter() - _T0, msg), file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Children and temporary trees: always cleaned up (try/finally in each case, plus atexit and
# SIGTERM/SIGHUP handlers as a last resort). Every child runs in its own session, so a Ctrl-C
# at the terminal reaches only the harness, which then ends its children (and whatever they
# started: watchfiles' command, a cold run) by their id.

_children = []  # Proc objects
_tempdirs = []


def descendants(pid):
    """Every process below `pid` (from /proc/PID/task/*/children), deepest last."""
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        try:
            tids = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for t in tids:
            try:
                kids = _read("/proc/%d/task/%s/children" % (p, t)).split()
            except OSError:
                continue
            for k in kids:
                out.append(int(k))
                stack.append(int(k))
    return out


def running_descendants(pid):
    """descendants() less the zombies (exited, not yet reaped by their parent)."""
    out = []
    for d in descendants(pid):
        try:
            stat = _read("/proc/%d/stat" % d)
        except OSError:
            continue
        if stat[stat.rindex(")") + 2:].split()[0] != "Z":
            out.append(d)
    return out


def kill_tree(popen):
    """SIGKILL for the child, its process group and every descendant; then reap the child."""
    if popen.poll() is None:
        for pid in descendants(popen.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(popen.pid, signal.SIGKILL)  # the child leads its own process group
        except OSError:
            pass
    try:
        popen.wait(timeout=5)
    except Exception:
        pass


def cleanup():
    for p in list(_children):
        p.kill()
    _children.clear()
    for d in _tempdirs:
        shutil.rmtree(d, ignore_errors=True)
    _tempdirs.clear()


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def mkdtemp(tag, base=None):
    d = Path(tempfile.mkdtemp(prefix="hotload-bench-%s-" % tag, dir=base)).resolve()
    _tempdirs.append(d)
    return d


def rmtree(d):
    shutil.rmtree(d, ignore_errors=True)
    if d in _tempdirs:
        _tempdirs.remove(d)


# --------------------------------------------------------------------------------------------
# Environment: explicit for every spawned process. No PYTHON* variable leaks in from the shell
# (notably PYTHONUNBUFFERED and PYTHONDONTWRITEBYTECODE, which real users do not have).

def child_env(venv=VENV):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and not k.startswith("HOTLOAD_") and not k.startswith("WATCHFILES_")
           and k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "MPLBACKEND", "MPLCONFIGDIR")}
    env["NO_COLOR"] = "1"
    if venv:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = "%s:%s" % (Path(venv) / "bin", env.get("PATH", "/usr/bin:/bin"))
    return env


# --------------------------------------------------------------------------------------------
# A child whose stdout/stderr the harness reads without blocking (poll + non-blocking reads),
# timestamping stdout with perf_counter_ns the moment poll reports data. PtyProc: the same on a
# pseudo-terminal (stdin, stdout and stderr all on it, and it is the child's controlling tty).

def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Proc:
    def __init__(self, argv, cwd, env, stdin=subprocess.DEVNULL):
        self.argv = [str(a) for a in argv]
        # Children get SIGINT's default disposition even when the harness itself was started in
        # the background (where the shell sets SIGINT to "ignore", which Python then keeps).
        self.popen = subprocess.Popen(self.argv, cwd=str(cwd), env=env, stdin=stdin,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      start_new_session=True, preexec_fn=_default_sigint)
        self._setup(self.popen.stdout.fileno(), self.popen.stderr.fileno())

    def _setup(self, out_fd, err_fd):
        _children.append(self)
        self.pid = self.popen.pid
        self.out_fd, self.err_fd = out_fd, err_fd
        self.bufs = {fd: bytearray() for fd in (out_fd, err_fd) if fd is not None}
        self.poller = select.poll()
        self.open = set()
        for fd in self.bufs:
            os.set_blocking(fd, False)
            self.poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
            self.open.add(fd)
        self.search_from = 0
        self.returncode = None
        self._killed = False

    @property
    def out(self):
        return self.bufs[self.out_fd]

    @property
    def err_text(self):
        return self.bufs[self.err_fd].decode(errors="replace")

    def _read(self, fd):
        try:
            return os.read(fd, 1 << 16)
        except BlockingIOError:
            return None

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
            data = self._read(fd)
            if data is None:
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
        """perf_counter_ns at which `needle` appeared on stdout, or None on timeout/exit. Only
        output after the previous match is searched, so a sample can end only on new output."""
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
        """Sends `sig` (Ctrl-C by default; 0: just wait), waits, kills if needed; returns the exit
        status."""
        if self.popen.poll() is None and sig:
            try:
                self.popen.send_signal(sig)
            except OSError:
                pass
        return self.wait_exit(timeout)

    def wait_exit(self, timeout):
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
        if self._killed:
            return
        self._killed = True
        kill_tree(self.popen)
        for fd in list(self.open):
            self.poller.unregister(fd)
            self.open.discard(fd)
        self._close_fds()
        if self in _children:
            _children.remove(self)

    def _close_fds(self):
        for f in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass


class PtyProc(Proc):
    """A child on a pseudo-terminal: stdin, stdout and stderr are its slave side (so `out` holds
    both streams) and it is the child's controlling terminal, as in a terminal emulator."""

    def __init__(self, argv, cwd, env, rows=24, cols=100):
        self.argv = [str(a) for a in argv]
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

        def pre():
            _default_sigint()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # after setsid: this tty controls the session

        try:
            self.popen = subprocess.Popen(self.argv, cwd=str(cwd), env=env, stdin=slave, stdout=slave, stderr=slave,
                                          start_new_session=True, preexec_fn=pre)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.master = master
        self._setup(master, None)

    @property
    def err_text(self):
        return self.out.decode(errors="replace")

    def _read(self, fd):
        try:
            return os.read(fd, 1 << 16)
        except BlockingIOError:
            return None
        except OSError:  # EIO: the slave side is closed (the child exited)
            return b""

    def send(self, data):
        try:
            os.write(self.master, data)
        except OSError:
            pass

    def _close_fds(self):
        if self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass
            self.master = None


def drain(procs, seconds):
    """Keeps every child's pipes drained for `seconds` (so no pipe fills while others are timed)."""
    end = time.perf_counter() + seconds
    live = [p for p in procs if p is not None and p.open]
    if not live:
        time.sleep(max(0.0, seconds))
        return
    poller = select.poll()
    owner = {}
    for p in live:
        for fd in p.open:
            poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
            owner[fd] = p
    while True:
        left = end - time.perf_counter()
        if left <= 0:
            return
        for fd, _ev in poller.poll(max(1, int(left * 1000))):
            p = owner[fd]
            p.pump(0)
            if fd not in p.open:
                try:
                    poller.unregister(fd)
                except KeyError:
                    pass


# --------------------------------------------------------------------------------------------
# /proc readings

def _read(path):
    with open(path) as f:
        return f.read()


read_text = _read


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


def wake_delta(a, b):
    """Voluntary context switches between two proc_samples, in all and per thread name."""
    per = {}
    for tid, t in b["threads"].items():
        d = t["vcsw"] - a["threads"].get(tid, {"vcsw": 0})["vcsw"]
        if d:
            per[t["comm"]] = per.get(t["comm"], 0) + d
    return b["vcsw"] - a["vcsw"], per


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


def fs_of(path):
    """(mount point, fs type, options) of the mount holding `path`."""
    real = os.path.realpath(path)
    best = ("", "?", "")
    for line in _read("/proc/mounts").splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        mnt = parts[1]
        if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
            best = (mnt, parts[2], parts[3])
    return best


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
    if abs(ms) < 1:
        return "%.3f ms" % ms
    if abs(ms) < 10:
        return "%.2f ms" % ms
    if abs(ms) < 1000:
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
