#!/usr/bin/env python3
"""hotload-host benchmark: one command, every case side by side.

    python3 bench/run.py            # full run
    python3 bench/run.py --quick    # short run
    python3 bench/run.py --readme   # full run, then copy the summary into README.md

The harness itself uses only the standard library. It creates bench/.venv (numpy, pandas,
matplotlib and the peers jurigged and watchfiles, from PyPI) with the same python3 it runs
under, and bench/.venv-py312 for hmr (which needs Python >= 3.12, from pyenv); it builds the C
event floor with the machine's gcc. hotload-host and every tool it is compared with run inside
those venvs. Results: bench/results/latest.md (tables), bench/results/latest.json (raw samples),
bench/results/latency.png (plot). Timings are reported, never asserted. See bench/README.md.

Modules: common.py (children, /proc, stats), environment.py (venvs, peers, floor, binary),
latency.py (case 1, all tools interleaved), cases.py (cases 2-5), report.py (tables, targets).
"""

import argparse
import atexit
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import cases  # noqa: E402
import common  # noqa: E402
import environment  # noqa: E402
import latency  # noqa: E402
import report  # noqa: E402
from common import VENV, BenchError, child_env, cleanup, log, mkdtemp, read_text, rmtree  # noqa: E402

RESULTS = BENCH / "results"
CASES = ["latency", "idle", "startup", "memory", "dependents"]
TOOLS = latency.TOOL_KEYS + ["inprocess"]


class Counter:
    """Module versions: one counter for the whole run, so no two saves anywhere print the same line."""

    def __init__(self, start=1):
        self.n = start

    def next(self):
        self.n += 1
        return self.n


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short run: fewer rounds and repetitions, shorter idle windows")
    ap.add_argument("--n", type=int, help="latency rounds: saves per (tool, file system, save mode) (default 60; quick 15)")
    ap.add_argument("--cold-n", type=int,
                    help="rounds the restart-based tools (cold python, watchfiles, hmr) take part in (default 15; quick 4)")
    ap.add_argument("--gap-ms", type=float, default=30.0, help="pause after each sample (default 30)")
    ap.add_argument("--seed", type=int, help="seed of the interleaving order (default: random, printed)")
    ap.add_argument("--tools", help="latency tools to run, comma-separated (default all): " + ",".join(TOOLS))
    ap.add_argument("--fs", default="tmpfs,tmp", help="file systems for the latency and chain rows: tmpfs,tmp (default both)")
    ap.add_argument("--shm", default="/dev/shm", help="the tmpfs directory (default /dev/shm)")
    ap.add_argument("--console-idle-seconds", type=float,
                    help="idle window for the wake-ups of hotload-host and its --repl console (default 10; quick 3)")
    ap.add_argument("--idle-seconds", type=float, help="idle window with the big tree (default 30; quick 5)")
    ap.add_argument("--reps", type=int, help="startup repetitions, module importing numpy+pandas (default 5; quick 2)")
    ap.add_argument("--startup-reps", type=int, help="startup repetitions, trivial module (default 20; quick 6)")
    ap.add_argument("--setup-reps", type=int, help="watch-setup repetitions per tree (default 5; quick 2)")
    ap.add_argument("--no-scan", dest="scan", action="store_false",
                    help="skip the read-only scan of the big tree in the idle case")
    ap.add_argument("--reloads", type=int, default=1000, help="reloads in the memory case (default 1000)")
    ap.add_argument("--mem-gap-ms", type=float, default=20.0, help="pause between edits in the memory case (default 20)")
    ap.add_argument("--dep-n", type=int, help="edits per kind in the dependents case (default 20; quick 10)")
    ap.add_argument("--only", help="comma-separated subset of: " + ",".join(CASES))
    ap.add_argument("--bin", help="hotload-host binary (default: target/release/hotload-host, built if missing)")
    ap.add_argument("--build", action="store_true", help="run cargo build --release first")
    ap.add_argument("--no-install", action="store_true", help="do not pip install into the venvs (missing peers are skipped)")
    ap.add_argument("--tmpdir", help="the default temp dir row: where temporary trees go (default: the system temp dir)")
    ap.add_argument("--readme", action="store_true",
                    help="also copy the summary (machine, latency table, targets) into README.md between its bench markers")
    ap.add_argument("--out", default=str(RESULTS), help="results directory (default bench/results)")
    args = ap.parse_args()
    q = args.quick
    args.n = args.n or (15 if q else 60)
    args.cold_n = args.cold_n if args.cold_n is not None else (4 if q else 15)
    args.console_idle_seconds = args.console_idle_seconds or (3.0 if q else 10.0)
    args.idle_seconds = args.idle_seconds or (5.0 if q else 30.0)
    args.reps = args.reps or (2 if q else 5)
    args.startup_reps = args.startup_reps or (6 if q else 20)
    args.setup_reps = args.setup_reps or (2 if q else 5)
    args.dep_n = args.dep_n or (10 if q else 20)
    args.only_set = set((args.only or ",".join(CASES)).split(","))
    if args.only_set - set(CASES):
        ap.error("--only: unknown case %s (cases: %s)" % (", ".join(sorted(args.only_set - set(CASES))), ",".join(CASES)))
    args.tools_list = (args.tools or ",".join(TOOLS)).split(",")
    if set(args.tools_list) - set(TOOLS):
        ap.error("--tools: unknown %s (tools: %s)" % (", ".join(sorted(set(args.tools_list) - set(TOOLS))), ",".join(TOOLS)))
    args.fs_list = args.fs.split(",")
    if set(args.fs_list) - {"tmpfs", "tmp"} or not args.fs_list:
        ap.error("--fs: tmpfs, tmp or both")
    if args.readme and report.README_START not in report.README.read_text():
        ap.error("--readme: README.md has no %s line" % report.README_START)
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    return args


def main():
    args = parse_args()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_start = " ".join(read_text("/proc/loadavg").split()[:3])
    log("seed %d (repeat this run's order with --seed %d)" % (args.seed, args.seed))
    venv = environment.setup_venvs(args)
    env = child_env(VENV if venv["ok"] else None)
    binary = environment.setup_binary(args, env)
    floor = environment.build_floor() if "latency" in args.only_set and "floor" in args.tools_list else \
        {"ok": False, "reason": "not requested"}
    if not floor["ok"]:
        log("event floor: %s" % floor["reason"])
    filesystems = [f for f in environment.filesystems(args) if f["key"] in args.fs_list]
    for f in filesystems:
        if f.get("skipped"):
            log("file system %s: skipped: %s" % (f["key"], f["skipped"]))
    for name, p in sorted(venv["peers"].items()):
        log("peer %s: %s" % (name, "%s (Python %s)" % (p["version"], p.get("python")) if p["ok"] else "skipped: " + p["reason"]))
    ctx = {
        "bin": binary["path"], "env": env, "gap": args.gap_ms / 1000.0, "counter": Counter(),
        "python": str(VENV / "bin" / "python") if venv["ok"] else sys.executable,
        "deps": venv["deps"], "peers": venv["peers"], "floor": floor, "filesystems": filesystems,
        "seed": args.seed, "tools": args.tools_list,
    }
    prefix = environment.preflight(args, ctx)
    log("hotload-host %s runs with sys.prefix %s" % (binary["version"], prefix))
    R = {"quick": args.quick, "seed": args.seed, "machine": environment.machine_info(venv, args), "binary": binary,
         "venv": venv, "floor": floor,
         "command": " ".join(["python3", "bench/run.py"] + sys.argv[1:]), "load_start": load_start,
         "args": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items()}}
    only = args.only_set
    tree = None
    try:
        if "latency" in only:
            latency.case_latency(args, ctx, R)
        if only & {"idle", "startup"}:
            tree = mkdtemp("tree", args.tmpdir)
            log("building the big tree in %s" % tree)
            info = cases.build_tree(tree)
            log("built %d files in %d dirs (+%d ignored files) in %.1f s" % (
                info["files"], info["dirs"], info["ignored_files"], info["build_s"]))
            R["tree"] = {k: v for k, v in info.items() if k != "listing"}
            if "idle" in only:
                cases.case_idle(args, ctx, R, tree, info)
            if "startup" in only:
                cases.case_startup(args, ctx, R, tree)
            log("removing the big tree")
            rmtree(tree)
            tree = None
        if "memory" in only:
            cases.case_memory(args, ctx, R)
        if "dependents" in only:
            cases.case_dependents(args, ctx, R)
    finally:
        cleanup()
    R["elapsed_s"] = time.perf_counter() - started
    R["load_end"] = " ".join(read_text("/proc/loadavg").split()[:3])

    json_path = out_dir / "latest.json"
    json_path.write_text(json.dumps(R, indent=1, default=str))
    if "latency" in R:
        if venv["matplotlib"]:
            r = subprocess.run([ctx["python"], str(BENCH / "plot.py"), str(json_path), str(out_dir / "latency.png")],
                               env=dict(env, MPLBACKEND="Agg", MPLCONFIGDIR=str(mkdtemp("mpl"))),
                               capture_output=True, text=True, timeout=300)
            R["plot"] = "ok" if r.returncode == 0 else "failed: " + r.stderr.strip()[-300:]
            cleanup()
        else:
            R["plot"] = "skipped (matplotlib not installed in bench/.venv)"
    json_path.write_text(json.dumps(R, indent=1, default=str))
    md = report.render(R)
    (out_dir / "latest.md").write_text(md)
    print(md)
    if args.readme:
        report.update_readme(R)
    log("wrote %s, %s%s (%.0f s)" % (out_dir / "latest.md", json_path, ", latency.png" if R.get("plot") == "ok" else "",
                                     R["elapsed_s"]))
    return 0


if __name__ == "__main__":
    atexit.register(common.cleanup)
    signal.signal(signal.SIGTERM, common.on_signal)
    signal.signal(signal.SIGHUP, common.on_signal)
    try:
        sys.exit(main())
    except BenchError as e:
        log("error: %s" % e)
        sys.exit(1)
    except KeyboardInterrupt:
        cleanup()
        log("interrupted: children stopped, temporary trees removed")
        sys.exit(130)
