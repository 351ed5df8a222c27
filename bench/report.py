"""The benchmark's report: bench/results/latest.md, the block `--readme` copies into README.md,
and the targets of issue 13, each judged MET or SHORT from figures of the same run (reported,
never asserted).
"""

import bench_modules as bm
from common import REPO, BenchError, fms, log

README = REPO / "README.md"
README_START = "<!-- bench:start (written by `python3 bench/run.py --readme`) -->"
README_END = "<!-- bench:end -->"

FS_NAMES = {"tmpfs": "tmpfs", "tmp": "default temp dir"}
HOST_SHARE_TMPFS_NS = 0.12e6     # hotload-host p50 - floor p50 on tmpfs
HOST_P50_TMP_NS = 0.65e6         # hotload-host p50 on the default temp dir
P95_OVER_P50 = 2.0
PEER_FACTOR = 8.0
CHAIN_P50_NS = 4e6
STARTUP_OVER_PYTHON_NS = 3e6
RSS_GROWTH_KB = 2048
WATCH_SETUP_NS = 150e6
IDLE_CORE_PCT = 0.1


def update_readme(R):
    text = README.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise BenchError("--readme: README.md has no %s ... %s block" % (README_START, README_END))
    block = "\n".join([README_START, ""] + render_summary(R, readme=True) + [README_END])
    README.write_text(text[:start] + block + text[end + len(README_END):])
    log("updated the benchmark tables in %s" % README)


def status(ok):
    return "n/a" if ok is None else "MET" if ok else "SHORT"


def _ratio(a, b):
    return a / b if a is not None and b else None


# --------------------------------------------------------------------------------------------
# Latency: lookups

def _by(lat):
    return {(s["fs"], s["tool"], s["mode"]): s for s in lat["series"]}


def _live_fs(lat):
    return [f for f in lat["filesystems"] if not f.get("skipped")]


def fastest_peer(lat, fs, mode="in-place"):
    by = _by(lat)
    peers = [by[(fs, t["key"], mode)] for t in lat["tools"]
             if t["kind"] == "peer" and (fs, t["key"], mode) in by and by[(fs, t["key"], mode)]["p50"] is not None]
    return min(peers, key=lambda s: s["p50"]) if peers else None


def host_share(lat, fs, mode="in-place"):
    by = _by(lat)
    h, f = by.get((fs, "host", mode)), by.get((fs, "floor", mode))
    if not h or not f or h["p50"] is None or f["p50"] is None:
        return None
    return h["p50"] - f["p50"]


# --------------------------------------------------------------------------------------------
# Targets (issue 13)

def targets(R):
    """[(target, figure, ok or None)]."""
    rows = []
    lat = R.get("latency")
    if lat:
        by = _by(lat)
        fss = [f["key"] for f in _live_fs(lat)]
        if "tmpfs" in fss:
            sh = host_share(lat, "tmpfs")
            h, f = by.get(("tmpfs", "host", "in-place")), by.get(("tmpfs", "floor", "in-place"))
            rows.append(("host share on tmpfs ≤ 0.12 ms (hotload-host p50 − event floor p50, in-place saves)",
                         "%s (%s − %s)" % (fms(sh), fms(h and h["p50"]), fms(f and f["p50"])) if sh is not None else "n/a",
                         None if sh is None else sh <= HOST_SHARE_TMPFS_NS))
        if "tmp" in fss:
            h = by.get(("tmp", "host", "in-place"))
            sh = host_share(lat, "tmp")
            rows.append(("hotload-host p50 ≤ 0.65 ms on the default temp dir (edit → output, in-place saves)",
                         "%s (host share %s over the floor's %s)" % (
                             fms(h and h["p50"]), fms(sh), fms((by.get(("tmp", "floor", "in-place")) or {}).get("p50")))
                         if h and h["p50"] else "n/a",
                         None if not h or h["p50"] is None else h["p50"] <= HOST_P50_TMP_NS))
        parts, oks = [], []
        for fs in fss:
            h = by.get((fs, "host", "in-place"))
            r = _ratio(h and h["p95"], h and h["p50"])
            if r is not None:
                parts.append("%s %.2f× (p95 %s, p50 %s)" % (FS_NAMES[fs], r, fms(h["p95"]), fms(h["p50"])))
                oks.append(r <= P95_OVER_P50)
        rows.append(("hotload-host p95 ≤ 2× p50 (in-place saves, each file system)", "; ".join(parts) or "n/a",
                     all(oks) if oks else None))
        parts, oks = [], []
        for fs in fss:
            h, p = by.get((fs, "host", "in-place")), fastest_peer(lat, fs)
            r = _ratio(p and p["p50"], h and h["p50"])
            if r is not None:
                parts.append("%s %.1f× (%s: %s vs %s)" % (FS_NAMES[fs], r, p["label"], fms(p["p50"]), fms(h["p50"])))
                oks.append(r >= PEER_FACTOR)
        rows.append(("≥ 8× the fastest peer at p50 (same run, in-place saves, each file system)", "; ".join(parts) or "n/a",
                     all(oks) if oks else None))
        parts, oks = [], []
        for fs in fss:
            h, rp = by.get((fs, "host", "in-place")), by.get((fs, "host-repl", "in-place"))
            if h and rp and h["p95"] is not None and rp["p50"] is not None:
                parts.append("%s: p50 %s vs hotload-host p50 %s / p95 %s" % (FS_NAMES[fs], fms(rp["p50"]), fms(h["p50"]),
                                                                          fms(h["p95"])))
                oks.append(rp["p50"] <= h["p95"])
        if parts:
            rows.append(("`--repl`: a save shows at the normal latency (console p50 ≤ hotload-host's p95, same run)",
                         "; ".join(parts), all(oks)))
        ic = lat.get("idle_console") or {}
        parts, oks = [], []
        for fs in fss:
            x = (ic.get(fs) or {}).get("host-repl")
            if x:
                parts.append("%s: %d in %.0f s (%.1f/s%s)" % (
                    FS_NAMES[fs], x["wakeups"], x["wall_s"], x["per_s"],
                    "; " + ", ".join("%s %d" % kv for kv in x["threads"].items()) if x["threads"] else ""))
                oks.append(x["wakeups"] == 0)
        if parts:
            rows.append(("`--repl`: an idle console makes no periodic wake-ups (voluntary context switches, all threads)",
                         "; ".join(parts), all(oks)))
    dep = R.get("dependents")
    if dep:
        parts, oks = [], []
        for s in dep["series"]:
            if s["edit"] == "leaf" and s["p50"] is not None:
                v = ((dep["verbose"].get(s.get("fs")) or {}).get("leaf")) or {}
                parts.append("%s %s%s" % (FS_NAMES.get(s.get("fs"), s.get("fs")), fms(s["p50"]),
                                          " (%s modules, in order in %d of %d runs)" % (
                                              v["modules_max"], v["in_order"], v["runs"]) if v.get("runs") else ""))
                oks.append(s["p50"] <= CHAIN_P50_NS)
        rows.append(("201-module import chain, edit of the leaf: p50 ≤ 4 ms (write → the entry's new line)",
                     "; ".join(parts) or "n/a", all(oks) if oks else None))
    st = R.get("startup")
    if st:
        row = next((r for r in st["rows"] if r.get("key") == "trivial"), None)
        if row and row["host"]["p50"] and row["python"]["p50"]:
            d = row["host"]["p50"] - row["python"]["p50"]
            rows.append(("start-up to first output, trivial module: ≤ python + 3 ms",
                         "hotload-host %s vs python lib.py %s (%s%s; p50 of %d each)" % (
                             fms(row["host"]["p50"]), fms(row["python"]["p50"]), "+" if d > 0 else "", fms(d),
                             row["host"]["n"]), d <= STARTUP_OVER_PYTHON_NS))
    idle = R.get("idle")
    if idle:
        h = idle["host"]
        rows.append(("idle: 0 CPU with %s files (≤ 0.1 %% of a core)" % format(h["files"] or 100000, ","),
                     "%.4f %% (%.3f CPU s in %.0f s; ticks: %.2f s)" % (h["core_pct"], h["sched_cpu_s"], h["wall_s"], h["cpu_s"]),
                     h["core_pct"] <= IDLE_CORE_PCT))
        rows.append(("idle: no periodic wake-ups",
                     "%d voluntary context switches in %.0f s (all threads)%s" % (
                         h["wakeups"], h["wall_s"],
                         "" if not h["wake_threads"] else ": " + ", ".join("%s %d" % kv for kv in h["wake_threads"].items())),
                     h["wakeups"] == 0))
        rows.append(("idle: ignored dirs cost no watches",
                     "%s inotify watches for %s non-ignored dirs (+%d ignored dirs)" % (
                         format(h["watches"], ","), format(idle["expected_watches"], ","), idle["ignored_dirs"]),
                     h["watches"] <= idle["expected_watches"]))
    if st and st.get("setup"):
        s = st["setup"]
        rows.append(("watch setup ≤ 150 ms for 10k directories",
                     "%s (first output %s with the big tree vs %s tiny, p50)" % (
                         fms(s["setup_ns"]), fms(s["big"]["p50"]), fms(s["tiny"]["p50"])),
                     None if s["setup_ns"] is None else s["setup_ns"] <= WATCH_SETUP_NS))
    mem = R.get("memory")
    if mem:
        n = max(mem["points_kb"])
        rows.append(("RSS growth ≤ 2 MB over %d reloads" % n,
                     "%+.2f MiB (%s kB after 1 reload → %s kB after %d)" % (
                         mem["growth_kb"] / 1024, format(mem["points_kb"][1], ","), format(mem["points_kb"][n], ","), n),
                     mem["growth_kb"] <= RSS_GROWTH_KB))
    return rows


# --------------------------------------------------------------------------------------------
# The latency tables

def _cell(s):
    """p50 / p95 cells of one series, or why there are none."""
    if s is None:
        return ["", ""]
    if s.get("gave_up"):
        return [s["gave_up"], ""]
    if s["p50"] is None:
        return ["no samples (%d missed)" % s["misses"], ""]
    return [fms(s["p50"]), fms(s["p95"])]


def latency_table(lat, mode, compact=False):
    """One table: a row per tool, p50/p95 per file system; then the host-share row."""
    by = _by(lat)
    fss = _live_fs(lat)
    L = []
    head = "| tool | " + " | ".join("%s p50 | p95" % FS_NAMES[f["key"]] for f in fss) + " | n | × hotload-host |"
    L.append(head)
    L.append("| --- | " + " | ".join("---: | ---:" for _ in fss) + " | ---: | ---: |")
    ref_fs = "tmpfs" if any(f["key"] == "tmpfs" for f in fss) else (fss[0]["key"] if fss else None)
    for t in lat["tools"]:
        if compact and t["kind"] == "diag":
            continue
        if t["skipped"]:
            L.append("| %s | skipped: %s |%s" % (t["label"], t["skipped"], " |" * (2 * len(fss) + 1)))
            continue
        cells, ns = [], []
        for f in fss:
            s = by.get((f["key"], t["key"], mode))
            cells += _cell(s)
            if s:
                ns.append("%d%s" % (s["n"], " (+%d missed)" % s["misses"] if s["misses"] else ""))
        h = by.get((ref_fs, "host", mode))
        s = by.get((ref_fs, t["key"], mode))
        ratio = _ratio(s and s["p50"], h and h["p50"])
        L.append("| %s | %s | %s | %s |" % (t["label"], " | ".join(cells), "/".join(ns),
                                           "" if t["key"] == "host" or ratio is None else "%.3g×" % ratio))
    share = []
    for f in fss:
        sh = host_share(lat, f["key"], mode)
        share += [("**%s**" % fms(sh)) if sh is not None else "n/a", ""]
    L.append("| host share: hotload-host p50 − event floor p50 | %s | | |" % " | ".join(share))
    return L


def render_latency(R):
    lat = R["latency"]
    L = ["## 1. Edit-to-output latency", ""]
    fss = lat["filesystems"]
    L.append("All tools in one run, interleaved: every round gives each (file system, tool, save mode) one save, in an "
             "order shuffled from seed **%d** (`--seed %d` repeats it); %d rounds, the restart-based tools in %d of them; "
             "%d ms pause after each sample (so each tool's saves are far apart). Each sample runs from just before the "
             "harness's write to the moment the tool's line with the new counter is read from its stdout. The module "
             "imports %s and prints its counter (flushed). `in-place`: truncate and write; `rename`: write a temporary "
             "file, then rename it over lib.py. ×: p50 over hotload-host's p50 on %s." % (
                 lat["seed"], lat["seed"], lat["rounds"], lat["slow_samples"], lat["gap_ms"],
                 " and ".join(lat["deps"]) or "nothing", "tmpfs" if any(f["key"] == "tmpfs" for f in fss) else "the temp dir"))
    L.append("")
    for f in fss:
        L.append("- %s: %s" % (FS_NAMES[f["key"]], "skipped: %s" % f["skipped"] if f.get("skipped") else
                               "`%s` (%s, mounted `%s`)" % (f["dir"], f["type"], f["options"])))
    L.append("")
    for mode in lat["modes"]:
        L.append("**%s saves**" % mode)
        L.append("")
        L += latency_table(lat, mode)
        L.append("")
    by = _by(lat)
    L.append("The harness's own write (open/truncate/write/close or write+rename), p50: %s." % "; ".join(
        "%s %s %s" % (FS_NAMES[f["key"]], m, fms(((by.get((f["key"], "host", m)) or {}).get("write") or {}).get("p50")))
        for f in _live_fs(lat) for m in lat["modes"]))
    L.append("")
    ic = lat.get("idle_console") or {}
    if ic:
        L.append("Idle, after the last round, nothing written (voluntary context switches of all threads):")
        L.append("")
        L.append("| file system | process | wake-ups | per second | CPU | by thread |")
        L.append("| --- | --- | ---: | ---: | ---: | --- |")
        for fs, d in ic.items():
            for key, name in (("host", "hotload-host"), ("host-repl", "hotload-host --repl, console at its prompt")):
                x = d.get(key)
                if x:
                    L.append("| %s | %s | %d in %.0f s | %.1f | %.1f ms | %s |" % (
                        FS_NAMES[fs], name, x["wakeups"], x["wall_s"], x["per_s"], x["cpu_s"] * 1e3,
                        ", ".join("%s %d" % kv for kv in x["threads"].items()) or "none"))
        L.append("")
    ia = lat.get("idle_all") or {}
    if ia:
        cols = [f["key"] for f in _live_fs(lat)]
        L.append("Background cost of each long-running tool in the same idle window (CPU from schedstat, all threads; "
                 "wake-ups = voluntary context switches): what every tool adds to the load while the others are timed.")
        L.append("")
        L.append("| tool | " + " | ".join("%s CPU | wake-ups/s" % FS_NAMES[c] for c in cols) + " |")
        L.append("| --- | " + " | ".join("---: | ---:" for _ in cols) + " |")
        for t in lat["tools"]:
            d = ia.get(t["key"])
            if not d:
                continue
            cells = []
            for c in cols:
                x = d.get(c)
                cells += ["%.1f ms" % (x["cpu_s"] * 1e3), "%.1f" % x["per_s"]] if x else ["", ""]
            L.append("| %s | %s |" % (t["label"], " | ".join(cells)))
        L.append("")
    ex = lat.get("extra") or {}
    ip = lat.get("inprocess") or {}
    if ex or ip:
        L.append("Where hotload-host's time goes (in-place saves, p50):")
        L.append("")
        cols = [f["key"] for f in _live_fs(lat)]
        L.append("| stage | " + " | ".join(FS_NAMES[c] for c in cols) + " | source |")
        L.append("| --- | " + " | ".join("---:" for _ in cols) + " | --- |")

        def row(name, fn, source):
            L.append("| %s | %s | %s |" % (name, " | ".join(fms(fn(c)) for c in cols), source))

        def p50(fs, tool):
            return (by.get((fs, tool, "in-place")) or {}).get("p50")

        row("edit → output, hotload-host", lambda c: p50(c, "host"), "harness")
        row("edit → output, hotload-host -v", lambda c: p50(c, "host-v"), "harness")
        row("the harness's write itself", lambda c: ((by.get((c, "host", "in-place")) or {}).get("write") or {}).get("p50"),
            "harness")
        row("write → event → C program prints (the floor)", lambda c: p50(c, "floor"), "harness")
        row("write → event → a Python process prints (no reload)", lambda c: p50(c, "pyfloor"), "harness")
        for tool, name in (("floor", "the floor"), ("pyfloor", "Python floor"), ("host", "hotload-host")):
            row("%s: from the end of the harness's write to the output" % name,
                lambda c, tool=tool: ((by.get((c, tool, "in-place")) or {}).get("after_write") or {}).get("p50"), "harness")
        row("host: event received → run finished (`save→done`)",
            lambda c: ((ex.get(c) or {}).get("host-v") or {}).get("save_to_done", {}).get("p50"), "`-v`")
        row("host: `reload` phase", lambda c: ((ex.get(c) or {}).get("host-v") or {}).get("reload", {}).get("p50"), "`-v`")
        row("host: whole run (`ran in`)", lambda c: ((ex.get(c) or {}).get("host") or {}).get("ran_in", {}).get("p50"),
            "status line")
        row("plain `importlib.reload` + flush, in one Python",
            lambda c: ((ip.get(c) or {}).get("reload") or {}).get("in-place", {}).get("p50"), "in-process")
        row("drop the .pyc + `invalidate_caches()` + reload + flush",
            lambda c: ((ip.get(c) or {}).get("host_steps") or {}).get("p50"), "in-process")
        row("drop the .pyc + reload without writing one + flush",
            lambda c: ((ip.get(c) or {}).get("no_pyc") or {}).get("p50"), "in-process")
        L.append("")
        for fs, d in ex.items():
            for key in ("host", "host-v", "host-repl"):
                x = d.get(key)
                if x:
                    L.append("- %s on %s: %d status lines for %d edits (+1 initial run); failed runs: %d." % (
                        key, FS_NAMES[fs], x["status_lines"] - 1, x["edits"], len(x["failed"])))
        L.append("")
    L.append("How each tool runs:")
    L.append("")
    for t in lat["tools"]:
        L.append("- **%s**: %s%s" % (t["label"].strip("*"), t["how"], " — skipped: %s" % t["skipped"] if t["skipped"] else ""))
    L.append("")
    for n in lat["notes"]:
        L.append("- " + n)
    if lat["notes"]:
        L.append("")
    L.append("![latency](latency.png)" if R.get("plot") == "ok" else "Plot: %s" % R.get("plot"))
    L.append("")
    return L


# --------------------------------------------------------------------------------------------

def render_summary(R, readme=False):
    """The run line, the machine, the headline latency table and the targets: what `latest.md`
    opens with and `--readme` copies."""
    m = R["machine"]
    b = R["binary"]
    v = R["venv"]
    L = []
    L.append("`%s` — %s run, %.0f s; load average %s at start, %s at the end; seed %d." % (
        R["command"], "quick" if R["quick"] else "full", R["elapsed_s"], R["load_start"], R["load_end"], R["seed"]))
    L.append("")
    L.append("| machine | |")
    L.append("| --- | --- |")
    L.append("| date | %s |" % m["date"])
    L.append("| CPU | %s, %d cores (%d usable) |" % (m["cpu"], m["cores"], m["cores_usable"]))
    L.append("| memory / kernel | %s GB / Linux %s |" % (m["mem_gb"], m["kernel"]))
    L.append("| Python | %s (venv from %s) |" % (m["python"], m["python_exe"]))
    L.append("| packages | %s |" % (", ".join("%s %s" % kv for kv in v["versions"].items() if kv[0] != "python") or "none"))
    hm = (v.get("peers") or {}).get("hmr") or {}
    if hm.get("ok"):
        L.append("| hmr's venv | Python %s: hmr %s, %s |" % (hm.get("python"), hm.get("version"), ", ".join(
            "%s %s" % kv for kv in (hm.get("dep_versions") or {}).items())))
    fl = R.get("floor") or {}
    L.append("| event floor | %s |" % ("bench/inotify_floor.c, %s" % fl.get("cc") if fl.get("ok") else
                                      "not built: %s" % fl.get("reason")))
    L.append("| temp trees | %s |" % m["tmp"])
    L.append("| hotload-host | %s, `%s` (built %s; repo HEAD %s%s)%s |" % (
        b["version"], b["path"], b["built"], b["repo_head"], ", working tree modified" if b["repo_dirty"] else "",
        " **binary older than sources**" if b["stale"] else ""))
    if v.get("error"):
        L.append("| venv | **%s** |" % v["error"].replace("\n", " ")[:300])
    L.append("")
    lat = R.get("latency")
    if lat:
        L.append("Edit → output, in-place saves, all tools interleaved in one run (p50 / p95; full tables in "
                 "`bench/results/latest.md`):")
        L.append("")
        L += latency_table(lat, "in-place", compact=readme)
        L.append("")
        if readme and R.get("plot") == "ok":
            L.append("![latency](bench/results/latency.png)")
            L.append("")
    L.append("## Targets" if not readme else "Targets (issue 13), judged from this run:")
    L.append("")
    L.append("| target | figure | status |")
    L.append("| --- | --- | --- |")
    for name, fig, ok in targets(R):
        L.append("| %s | %s | **%s** |" % (name, fig, status(ok)))
    dep = R.get("dependents")
    if dep:
        by = {(s["edit"], s["reload"], s.get("fs")): s for s in dep["series"]}
        parts = []
        for key, name in ((("side", "changed", "tmp"), "side edit"), (("thread", "deep", "tmp"), "thread, deep")):
            s = by.get(key)
            if s:
                parts.append("%s p50 %s" % (name, fms(s["p50"])))
        s = by.get(("thread", "changed", "tmp"))
        if s:
            parts.append("thread, changed: %s" % ("never" if s["never"] else fms(s["p50"])))
        L.append("| dependents and live patching (no target set; default temp dir) | %s | informational |" % "; ".join(parts))
    L.append("")
    return L


def render(R):
    L = ["# hotload-host benchmark results", ""] + render_summary(R)
    if R.get("latency"):
        L += render_latency(R)
    render_cases(R, L)
    return "\n".join(L) + "\n"


def render_cases(R, L):
    """Cases 2-5 and the behaviour checks, appended to L."""
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
        L.append("Time from spawning the process to its first output line (p50 / min over n runs; hotload-host and "
                 "`python lib.py` alternate in random order, in the default temp dir).")
        L.append("")
        L.append("| module | n | hotload-host | python lib.py | difference of p50s |")
        L.append("| --- | ---: | ---: | ---: | ---: |")
        for r in st["rows"]:
            h, p = r["host"], r["python"]
            diff = (h["p50"] - p["p50"]) if h["p50"] and p["p50"] else None
            L.append("| %s | %d | %s / %s | %s / %s | %s%s |" % (
                r["label"], h["n"], fms(h["p50"]), fms(h["min"]), fms(p["p50"]), fms(p["min"]),
                "+" if diff and diff > 0 else "", fms(diff) if diff is not None else "n/a"))
        s = st.get("setup")
        if s:
            L.append("| trivial module, big tree (-v) | %d | %s / %s | | |" % (s["big"]["n"], fms(s["big"]["p50"]),
                                                                          fms(s["big"]["min"])))
            L.append("| trivial module, tiny dir (-v) | %d | %s / %s | | |" % (s["tiny"]["n"], fms(s["tiny"]["p50"]),
                                                                          fms(s["tiny"]["min"])))
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
        floor = (((R.get("latency") or {}).get("inprocess") or {}).get("tmp") or {}).get("memory") or {}
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
        L.append("| edit | file system | `--reload` | n | p50 | p95 | max | missed |")
        L.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for s in dep["series"]:
            fsn = FS_NAMES.get(s.get("fs"), s.get("fs"))
            if s.get("never"):
                L.append("| %s | %s | %s | %d | never (stale reference) | | | %d (timeout %.0f s) |" % (
                    s["label"], fsn, s["reload"], s["misses"], s["misses"], s["timeout_s"]))
            else:
                L.append("| %s | %s | %s | %d | %s | %s | %s | %d |" % (s["label"], fsn, s["reload"], s["n"], fms(s["p50"]),
                                                                      fms(s["p95"]), fms(s["max"]), s["misses"]))
        L.append("")
        vb = dep["verbose"]
        if vb:
            L.append("The host's own figures, from a second run of the same edits with `-v` (its line lists every module "
                     "it reloaded with its time: `reload m000 0.21 ms, …, reload 0.30 ms` for the entry); p50 / max over "
                     "the runs:")
            L.append("")
            L.append("| edit | file system | modules reloaded | in dependency order | sum of per-module reload times | "
                     "of which the entry | host: `save→done` | edit → output with `-v` |")
            L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
            for fs, kind, name, expect in [(fs, k, n, e) for fs in vb for (k, n, e) in (
                    ("leaf", "leaf %s" % bm.chain_name(0), "%d + entry" % dep["chain"]), ("side", "side.py", "1 + entry"))]:
                v = vb[fs].get(kind)
                if not v:
                    continue
                mods = "n/a" if v["modules_min"] is None else str(v["modules_min"]) if v["modules_min"] == v["modules_max"] \
                    else "%d–%d" % (v["modules_min"], v["modules_max"])
                L.append("| %s | %s | %s (%s) | %d of %d runs | %s / %s | %s | %s / %s | %s / %s |" % (
                    name, FS_NAMES.get(fs, fs), mods, expect, v["in_order"], v["runs"], fms(v["total"]["p50"]), fms(v["total"]["max"]),
                    fms(v["entry"]["p50"]), fms(v["save_to_done"]["p50"]), fms(v["save_to_done"]["max"]),
                    fms(v["latency"]["p50"]), fms(v["latency"]["max"])))
            L.append("")
            L.append("The sums add up the host's figures as printed (0.01 ms resolution); `save→done` also covers finding "
                     "the dependents (reading the loaded project modules' imports) and the status line.")
            L.append("")
            first = ((vb.get("tmp") or {}).get("leaf") or {}).get("runs_detail") or []
            leaf = next((s for s in dep["series"] if s["edit"] == "leaf" and s.get("fs") == "tmp"), None)
            if first and leaf and leaf["samples_ns"]:
                f = first[0]
                L.append("The first save after start costs more (leaf, default temp dir: %s edit → output, vs p50 %s; with `-v`: `save→done` %s, "
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
    for x in ((R.get("latency") or {}).get("host_sigint_rcs", []), (R.get("startup") or {}).get("sigint_rcs", []),
              [(R.get("idle") or {}).get("host_sigint_rc")], [(R.get("memory") or {}).get("sigint_rc")],
              (R.get("dependents") or {}).get("sigint_rcs", [])):
        rcs += [r for r in x if r is not None]
    if rcs:
        L.append("## Behaviour checks")
        L.append("")
        L.append("- Ctrl-C (SIGINT) while idle: exit status 130 in %d of %d stops%s." % (
            sum(1 for r in rcs if r == 130), len(rcs),
            "" if all(r == 130 for r in rcs) else " (others: %s)" % sorted({r for r in rcs if r != 130})))
        eof = [((R.get("latency") or {}).get("extra") or {}).get(fs, {}).get("host-repl", {}).get("eof_rc")
               for fs in ("tmpfs", "tmp")]
        eof = [r for r in eof if r is not None]
        if eof:
            L.append("- `--repl` console ended with Ctrl-D at its prompt: exit status %s." % ", ".join(map(str, eof)))
        odd = (R.get("idle") or {}).get("unexpected") or []
        if odd:
            L.append("- Unexpected host output while idle: %s" % " | ".join(odd[:5]))
        L.append("")
