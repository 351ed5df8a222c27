#!/usr/bin/env python3
"""Benchmark of `hotload-host test` (issue 14): from the save of one module to the result of
the tests it affects.

    python3 bench/test_bench.py            # 30 saves, 10 cold runs of each kind
    python3 bench/test_bench.py --quick    # 10 saves, 3 cold runs
    python3 bench/test_bench.py --readme   # and put the table into README.md

The project: a package of 20 modules that each import numpy, and 200 tests in 20 files, test
file k importing module k (so a save of one module affects 10 tests). Three ways to get the
affected tests' result after a save, each measured from just before the write, interleaved in
one run (a cold run of each kind after every few saves):

  hotload-host test   the warm host (target/release/hotload-host): until its status line
  pytest (same)       a cold `python -m pytest tests/test_07.py` started at the save: until it exits
  pytest (all)        a cold `python -m pytest`, the whole suite: until it exits

The harness uses only the standard library. It creates bench/.venv-test (numpy and pytest from
PyPI) with the python3 it runs under, the Python hotload-host is built against. Every child
gets an explicit environment: no PYTHON* or HOTLOAD_* variable from the shell, NO_COLOR=1, the
venv activated. Results: bench/results/test.md and bench/results/test.json; timings are
reported, never asserted. `run(options)` returns the same dictionary, for bench/run.py.
"""

import argparse
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".venv-test"
RESULTS = BENCH / "results"
MODULES = 20
TESTS_PER_FILE = 10
SAVED = 7  # the module whose saves are measured


def log(msg):
    print("[test-bench] %s" % msg, file=sys.stderr, flush=True)


def setup_venv():
    python = VENV / "bin" / "python"
    if not python.exists():
        log("creating %s" % VENV)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import numpy, pytest"], capture_output=True)
    if probe.returncode != 0:
        log("pip install numpy pytest into %s" % VENV)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "numpy", "pytest"],
                       check=True)
    out = subprocess.run([str(python), "-c", "import numpy, pytest; print(numpy.__version__, pytest.__version__)"],
                         capture_output=True, text=True, check=True)
    return dict(zip(("numpy", "pytest"), out.stdout.split()))


def child_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "HOTLOAD_")) and k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["NO_COLOR"] = "1"
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = "%s:%s" % (VENV / "bin", env.get("PATH", "/usr/bin:/bin"))
    return env


def module_source(k, version):
    return ("import numpy as np\n\n# version %d\n\ndef value(x):\n    return int(np.add(x, %d))\n" % (version, k))


def make_project(root):
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "tests").mkdir()
    for k in range(MODULES):
        (root / "pkg" / ("mod_%02d.py" % k)).write_text(module_source(k, 0))
        tests = "".join("def test_%d():\n    assert mod.value(%d) == %d\n\n\n" % (j, j, j + k)
                        for j in range(TESTS_PER_FILE))
        (root / "tests" / ("test_%02d.py" % k)).write_text("from pkg import mod_%02d as mod\n\n\n%s" % (k, tests))


class Host:
    """hotload-host test, its stderr read line by line (timestamped on arrival)."""

    def __init__(self, binary, root):
        self.proc = subprocess.Popen([str(binary), "test", "--", "-q"], cwd=str(root), env=child_env(),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.put((time.perf_counter_ns(), line.decode(errors="replace")))
        self.lines.put((None, None))

    def wait_status(self, timeout=60):
        """(arrival time, line) of the next status line."""
        deadline = time.monotonic() + timeout
        while True:
            ts, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError("hotload-host exited (status %s)" % self.proc.wait())
            if line.startswith("[hotload] ") and " (run " in line:
                return ts, line.strip()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def cpu_seconds(pid):
    """User + system CPU time of a running process so far (clock-tick resolution)."""
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(binary, root, saves, colds):
    """Latency of each save (ms), and of each cold run of each kind, interleaved in one run (a
    cold run of each kind after every few saves), so that a machine whose speed drifts is as
    fast or slow for all three; with the CPU time per save or run (ms, averaged)."""
    host = Host(binary, root)
    same = (["tests/test_%02d.py" % SAVED], "10 passed")
    whole = ([], "200 passed")
    cold = {"same": ([], 0.0), "whole": ([], 0.0)}
    try:
        _, first = host.wait_status(timeout=120)
        if "200 passed" not in first:
            raise RuntimeError("unexpected first run: %s" % first)
        path = root / "pkg" / ("mod_%02d.py" % SAVED)
        every = max(1, saves // max(1, colds))
        samples, cpu = [], 0.0
        for i in range(1, saves + 1):
            time.sleep(0.1)  # a person saves again long after the last result
            cpu0 = cpu_seconds(host.proc.pid)
            t0 = time.perf_counter_ns()
            path.write_text(module_source(SAVED, i))
            ts, line = host.wait_status()
            if "ok: 10 passed (affected tests)" not in line:
                raise RuntimeError("unexpected status after a save: %s" % line)
            samples.append((ts - t0) / 1e6)
            cpu += cpu_seconds(host.proc.pid) - cpu0
            if i % every == 0 and len(cold["same"][0]) < colds:
                for kind, (args, expect) in (("same", same), ("whole", whole)):
                    took, used = cold_run(root, args, expect)
                    cold[kind][0].append(took)
                    cold[kind] = (cold[kind][0], cold[kind][1] + used)
        host_result = (samples, cpu * 1000 / saves)
    finally:
        host.stop()
    runs = {kind: (taken, used / max(1, len(taken))) for kind, (taken, used) in cold.items()}
    return host_result, runs["same"], runs["whole"]


def cold_run(root, args, expect):
    """One cold `python -m pytest -q ARGS`: its latency and CPU time (ms)."""
    python = VENV / "bin" / "python"
    t0 = time.perf_counter_ns()
    proc = subprocess.Popen([str(python), "-m", "pytest", "-q"] + args, cwd=str(root), env=child_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    took = (time.perf_counter_ns() - t0) / 1e6
    if os.waitstatus_to_exitcode(status) != 0 or expect not in out:
        raise RuntimeError("cold pytest failed:\n%s" % out)
    return took, (usage.ru_utime + usage.ru_stime) * 1000


def stats(measured):
    samples, cpu = measured
    ordered = sorted(samples)
    return {
        "cpu_ms": cpu,
        "n": len(samples),
        "median_ms": statistics.median(ordered),
        "p10_ms": ordered[int(0.1 * (len(ordered) - 1))],
        "p90_ms": ordered[int(0.9 * (len(ordered) - 1))],
        "min_ms": ordered[0],
        "samples_ms": samples,
    }


def run(options):
    binary = Path(options.binary).resolve()
    if not binary.exists():
        raise SystemExit("no %s: build it first (cargo build --release)" % binary)
    versions = setup_venv()
    root = Path(tempfile.mkdtemp(prefix="hotload-test-bench-", dir=options.tmpdir)).resolve()
    try:
        make_project(root)
        log("hotload-host test: %d saves of pkg/mod_%02d.py, with %d cold pytest runs of each kind among them"
            % (options.saves, SAVED, options.cold))
        host, same, whole = measure(binary, root, options.saves, options.cold)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": "%s, %d CPUs, load average %.1f at the end" % (platform.platform(), os.cpu_count(),
                                                                 os.getloadavg()[0]),
        "python": platform.python_version(),
        "versions": versions,
        "hotload-host test": stats(host),
        "pytest (same selection)": stats(same),
        "pytest (whole suite)": stats(whole),
    }
    same, warm = result["pytest (same selection)"], result["hotload-host test"]
    result["speedup_vs_same"] = same["median_ms"] / warm["median_ms"]
    result["cpu_ratio_vs_same"] = same["cpu_ms"] / warm["cpu_ms"] if warm["cpu_ms"] else None
    return result


def markdown(result):
    rows = ["| from a save of one module to the affected tests' result | median | p10 | p90 | CPU per run | runs |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name, what in (("hotload-host test", "`hotload-host test` (warm; 10 affected tests)"),
                       ("pytest (same selection)", "`pytest tests/test_07.py` cold (the same 10 tests)"),
                       ("pytest (whole suite)", "`pytest` cold (all 200 tests)")):
        s = result[name]
        rows.append("| %s | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %d |" % (
            what, s["median_ms"], s["p10_ms"], s["p90_ms"], s["cpu_ms"], s["n"]))
    rows.append("")
    cpu_ratio = result["cpu_ratio_vs_same"]
    rows.append("Median %.1f× faster than the cold run of the same selection (%s less CPU). %s; Python %s, numpy %s, "
                "pytest %s; %s. CPU per run: the host's CPU time over all saves / saves (clock ticks), a cold run's "
                "from wait4." % (
                    result["speedup_vs_same"], "%.1f×" % cpu_ratio if cpu_ratio else "?", result["machine"],
                    result["python"], result["versions"].get("numpy"), result["versions"].get("pytest"),
                    result["date"]))
    return "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 saves, 3 cold runs of each kind")
    ap.add_argument("--saves", type=int, default=None, help="saves measured (default 30)")
    ap.add_argument("--cold", type=int, default=None, help="cold pytest runs of each kind (default 10)")
    ap.add_argument("--binary", default=str(REPO / "target" / "release" / "hotload-host"))
    ap.add_argument("--tmpdir", default=None, help="where the project is made (default: the system temp dir)")
    ap.add_argument("--readme", action="store_true", help="also put the table into README.md (between the test-bench marks)")
    options = ap.parse_args()
    options.saves = options.saves or (10 if options.quick else 30)
    options.cold = options.cold or (3 if options.quick else 10)
    result = run(options)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "test.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (RESULTS / "test.md").write_text("# hotload-host test benchmark\n\n" + table)
    if options.readme:
        readme = REPO / "README.md"
        text = readme.read_text()
        start, end = "<!-- test-bench:start -->\n", "<!-- test-bench:end -->"
        head, rest = text.split(start, 1)
        readme.write_text(head + start + table + rest[rest.index(end):])
    print(table)


if __name__ == "__main__":
    main()
