"""The in-process floor: importlib.reload alone, timed inside one Python that stays alive.

Run by run.py with the venv's Python (so the heavy dependencies are importable):

    python inprocess_floor.py DIR JSON_OUT --deps numpy,pandas --n 200 --gap-ms 30 --start 1

Writes lib.py in DIR the same two ways the harness does, reloads it, and times only
`importlib.reload(module)` plus the flush of stdout. Also times the extra Python-side steps
hotload-host does per run (drop the changed file's .pyc, importlib.invalidate_caches()), and
a reload that writes no .pyc, and the RSS of this process over many reloads of the 300-line module (--memory N).
"""
import argparse
import importlib
import importlib.util
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_modules  # noqa: E402  (bench/ is sys.path[0] already; explicit for clarity)


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--deps", default="")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--gap-ms", type=float, default=30)
    ap.add_argument("--start", type=int, default=1)
    ap.add_argument("--memory", type=int, default=0, help="also: RSS over this many reloads of the 300-line module")
    args = ap.parse_args()
    deps = [d for d in args.deps.split(",") if d]
    sys.path.insert(0, args.dir)
    path = os.path.join(args.dir, "lib.py")
    gap = args.gap_ms / 1000.0
    result = {"reload": {}, "host_steps": {}, "memory": None}

    bench_modules.write_inplace(path, bench_modules.latency_module(0, deps))
    import lib  # noqa: F401  (the first import pulls in the dependencies)
    module = sys.modules["lib"]
    counter = args.start
    for mode, write in bench_modules.WRITERS.items():
        samples = []
        for _ in range(args.n):
            write(path, bench_modules.latency_module(counter, deps))
            t0 = time.perf_counter_ns()
            module = importlib.reload(module)
            sys.stdout.flush()
            samples.append(time.perf_counter_ns() - t0)
            assert module.COUNTER == counter, (module.COUNTER, counter)
            counter += 1
            time.sleep(gap)
        result["reload"][mode] = samples

    # What hotload-host's Python side adds per run: forget the .pyc, invalidate caches, reload.
    samples = []
    for _ in range(args.n):
        bench_modules.write_inplace(path, bench_modules.latency_module(counter, deps))
        t0 = time.perf_counter_ns()
        try:
            os.remove(importlib.util.cache_from_source(path))
        except OSError:
            pass
        importlib.invalidate_caches()
        module = importlib.reload(module)
        sys.stdout.flush()
        samples.append(time.perf_counter_ns() - t0)
        assert module.COUNTER == counter
        counter += 1
        time.sleep(gap)
    result["host_steps"]["in-place"] = samples

    # The same reload without writing a .pyc (sys.dont_write_bytecode): what the .pyc write costs.
    samples = []
    sys.dont_write_bytecode = True
    for _ in range(args.n):
        bench_modules.write_inplace(path, bench_modules.latency_module(counter, deps))
        try:
            os.remove(importlib.util.cache_from_source(path))
        except OSError:
            pass
        t0 = time.perf_counter_ns()
        module = importlib.reload(module)
        sys.stdout.flush()
        samples.append(time.perf_counter_ns() - t0)
        assert module.COUNTER == counter
        counter += 1
        time.sleep(gap)
    sys.dont_write_bytecode = False
    result["no_pyc"] = {"in-place": samples}

    if args.memory:
        mpath = os.path.join(args.dir, "memlib.py")
        bench_modules.write_inplace(mpath, bench_modules.memory_module(0))
        import memlib  # noqa: F401
        mod = sys.modules["memlib"]
        points = {0: rss_kb()}
        for i in range(1, args.memory + 1):
            bench_modules.write_inplace(mpath, bench_modules.memory_module(i))
            mod = importlib.reload(mod)
            assert mod.COUNTER == i
            if i in (1, 100, args.memory) or i % 250 == 0:
                points[i] = rss_kb()
        result["memory"] = points

    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
