"""What the benchmark sets up before it measures: its venvs (the heavy dependencies, the peers
from PyPI, hmr on a Python 3.12 venv), the C event floor built with the machine's compiler, the
hotload-host binary under test, and the machine description. Every peer gets a status: ok with
its version, or skipped with the reason; none is dropped silently.
"""

import datetime
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import bench_modules as bm
from common import BENCH, REPO, VENV, BenchError, child_env, fs_of, log, mkdtemp, read_text, rmtree

DEPS = ["numpy", "pandas"]           # the latency module imports these
PLOT = ["matplotlib"]                # the plot
PEERS_MAIN = ["jurigged", "watchfiles"]  # peers installed into the main venv (hotload-host's Python)
HMR_MIN = (3, 12)                    # hmr needs Python >= 3.12
VENV_HMR = BENCH / ".venv-py312"


def _py(venv):
    return Path(venv) / "bin" / "python"


def _run(argv, venv, timeout=900):
    return subprocess.run([str(a) for a in argv], env=child_env(venv), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _versions(venv, names):
    """{name: version} of the distributions installed in venv, plus 'python'."""
    code = ("import sys, json, importlib.metadata as md\n"
            "v = {'python': sys.version.split()[0]}\n"
            "for m in %r:\n"
            "    try: v[m] = md.version(m)\n"
            "    except Exception: pass\n"
            "print(json.dumps(v))" % list(names))
    r = _run([_py(venv), "-c", code], venv, timeout=120)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def _make_venv(venv, python, want_version):
    py = _py(venv)
    if py.exists():
        r = _run([py, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], venv, timeout=60)
        if r.returncode != 0 or r.stdout.strip() != want_version:
            log("%s is not a Python %s venv: recreating it" % (venv, want_version))
            shutil.rmtree(venv)
    if not py.exists():
        log("creating %s with %s -m venv" % (venv.relative_to(REPO), python))
        r = subprocess.run([str(python), "-m", "venv", str(venv)], env=child_env(None), capture_output=True, text=True)
        if r.returncode != 0:
            return "%s -m venv failed: %s" % (python, (r.stderr or r.stdout).strip()[-500:])
    return None


def _pip_install(venv, specs, args):
    """None, or why `pip install specs` into venv did not happen / failed."""
    if args.no_install:
        return "--no-install"
    log("pip install %s into %s" % (" ".join(specs), Path(venv).relative_to(REPO)))
    try:
        r = _run([_py(venv), "-m", "pip", "install", "--disable-pip-version-check", "-q"] + specs, venv)
    except subprocess.TimeoutExpired:
        return "pip install timed out"
    if r.returncode != 0:
        return "pip install %s failed: %s" % (" ".join(specs), (r.stderr or r.stdout).strip().splitlines()[-1][-300:]
                                              if (r.stderr or r.stdout).strip() else "exit %d" % r.returncode)
    return None


def setup_venvs(args):
    """The main venv (hotload-host's Python: deps, matplotlib, jurigged, watchfiles) and hmr's.
    Returns {"ok", "deps", "versions", "matplotlib", "error", "peers": {name: status}}."""
    info = {"ok": False, "deps": [], "versions": {}, "matplotlib": False, "error": None, "peers": {}}
    want = "%d.%d" % sys.version_info[:2]
    err = _make_venv(VENV, sys.executable, want)
    if err:
        info["error"] = err
        for p in PEERS_MAIN + ["hmr"]:
            info["peers"][p] = {"ok": False, "reason": "no venv: " + err}
        return info
    info["ok"] = True
    names = DEPS + PLOT + PEERS_MAIN
    have = _versions(VENV, names)
    missing = [m for m in DEPS + PLOT if m not in have]
    if missing:
        e = _pip_install(VENV, missing, args)
        if e:
            info["error"] = "%s not installed (%s)" % (" ".join(missing), e)
            log("WARNING: %s -- running without them" % info["error"])
    for peer in PEERS_MAIN:  # one at a time: one failing peer does not take the others with it
        if peer not in have:
            e = _pip_install(VENV, [peer], args)
            if e:
                info["peers"][peer] = {"ok": False, "reason": "not installed: %s" % e}
    have = _versions(VENV, names)
    info["versions"] = have
    info["deps"] = [m for m in DEPS if m in have]
    info["matplotlib"] = "matplotlib" in have
    for peer in PEERS_MAIN:
        if peer in have:
            info["peers"][peer] = {"ok": True, "version": have[peer], "python": have.get("python")}
        elif peer not in info["peers"]:
            info["peers"][peer] = {"ok": False, "reason": "not installed"}
    info["peers"]["hmr"] = setup_hmr(args, have)
    return info


def _pyenv_versions():
    return Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def _pyenv_312():
    """The newest pyenv CPython >= 3.12 (3.12.* preferred, as the issue asks), or None."""
    root = _pyenv_versions()

    def key(p):
        return tuple(int(x) for x in re.findall(r"\d+", p.name)[:3])

    for pattern in ("3.12.*", "3.1[3-9].*"):
        found = sorted((Path(p) for p in glob.glob(str(root / pattern)) if re.match(r"^3\.\d+\.\d+$", Path(p).name)),
                       key=key)
        found = [p for p in found if (p / "bin" / "python3").exists()]
        if found:
            return found[-1] / "bin" / "python3"
    return None


def setup_hmr(args, main_versions):
    """hmr needs Python >= 3.12: the main venv if it is one, else bench/.venv-py312 made from
    pyenv's 3.12, with the same numpy/pandas versions as the main venv where they exist."""
    if sys.version_info[:2] >= HMR_MIN:
        venv, python = VENV, sys.executable
    else:
        python = _pyenv_312()
        if python is None:
            return {"ok": False, "reason": "needs Python >= 3.12; none under %s" % _pyenv_versions()}
        venv = VENV_HMR
        r = subprocess.run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, env=child_env(None))
        err = _make_venv(venv, python, r.stdout.strip())
        if err:
            return {"ok": False, "reason": err}
    have = _versions(venv, ["hmr"] + DEPS)
    want = [m for m in ["hmr"] + DEPS if m not in have]
    if want:
        pinned = ["%s==%s" % (m, main_versions[m]) if m in main_versions else m for m in want]
        e = _pip_install(venv, pinned, args)
        if e and pinned != want and not args.no_install:
            log("pinned install failed (%s); trying the newest versions" % e)
            e = _pip_install(venv, want, args)
        have = _versions(venv, ["hmr"] + DEPS)
        if "hmr" not in have:
            return {"ok": False, "reason": "not installed: %s" % (e or "pip gave no hmr")}
    exe = Path(venv) / "bin" / "hmr"
    if not exe.exists():
        return {"ok": False, "reason": "no %s after install" % exe}
    return {"ok": True, "version": have["hmr"], "python": have.get("python"), "venv": str(venv), "exe": str(exe),
            "deps": [m for m in DEPS if m in have],
            "dep_versions": {m: have[m] for m in DEPS if m in have}}


# --------------------------------------------------------------------------------------------
# The C event floor: built with the machine's compiler into a temporary directory each run.

def build_floor():
    """{"ok", "path" | "reason", "cc"}: bench/inotify_floor.c compiled with cc -O2."""
    cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if not cc:
        return {"ok": False, "reason": "no C compiler (gcc or cc) on PATH"}
    d = mkdtemp("floor-build")
    out = d / "inotify_floor"
    r = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-o", str(out), str(BENCH / "inotify_floor.c")],
                       capture_output=True, text=True)
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    if r.returncode != 0:
        return {"ok": False, "reason": "%s failed: %s" % (cc, r.stderr.strip()[-300:]), "cc": version}
    if r.stderr.strip():
        log("inotify_floor.c: compiler warnings:\n" + r.stderr.strip())
    return {"ok": True, "path": str(out), "cc": version}


# --------------------------------------------------------------------------------------------
# The binary under test

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
    d = mkdtemp("preflight", args.tmpdir)
    try:
        bm.write_inplace(d / "lib.py", "import sys\nprint('preflight', sys.prefix)\n")
        r = subprocess.run([ctx["bin"], "--once", "--no-clear", "lib.py"], cwd=str(d), env=ctx["env"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or "preflight" not in r.stdout:
            raise BenchError("hotload-host --once failed (exit %s):\n%s%s" % (r.returncode, r.stdout, r.stderr))
        return r.stdout.split(None, 1)[1].strip()
    finally:
        rmtree(d)


# --------------------------------------------------------------------------------------------
# File systems and the machine

def filesystems(args):
    """The two rows of the latency case: tmpfs (/dev/shm) and the default temp dir. Each:
    {"key", "label", "dir", "mount", "type", "options"} or with "skipped": reason."""
    out = []
    shm = args.shm
    mnt, typ, opts = fs_of(shm) if os.path.isdir(shm) else ("", "?", "")
    row = {"key": "tmpfs", "dir": shm, "mount": mnt, "type": typ, "options": opts,
           "label": "tmpfs (%s)" % shm}
    if not os.path.isdir(shm):
        row["skipped"] = "%s does not exist" % shm
    elif typ != "tmpfs":
        row["skipped"] = "%s is %s, not tmpfs" % (shm, typ)
    elif not os.access(shm, os.W_OK):
        row["skipped"] = "%s is not writable" % shm
    out.append(row)
    tmp = args.tmpdir or tempfile.gettempdir()
    mnt, typ, opts = fs_of(tmp)
    discard = "discard" in opts.split(",")
    out.append({"key": "tmp", "dir": tmp, "mount": mnt, "type": typ, "options": opts,
                "label": "default temp dir (%s, %s%s)" % (tmp, typ, ", discard" if discard else "")})
    return out


def machine_info(venv_info, args):
    cpu = "unknown"
    try:
        for line in read_text("/proc/cpuinfo").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = re.search(r"^MemTotal:\s+(\d+)", read_text("/proc/meminfo"), re.M)
    tmp = args.tmpdir or tempfile.gettempdir()
    _mnt, fstype, opts = fs_of(tmp)
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "mem_gb": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "kernel": platform.release(),
        "python": venv_info["versions"].get("python", platform.python_version()),
        "python_exe": sys.executable,
        "tmp": "%s (%s%s)" % (tmp, fstype, ", discard" if "discard" in opts.split(",") else ""),
        "max_user_watches": read_text("/proc/sys/fs/inotify/max_user_watches").strip(),
    }
