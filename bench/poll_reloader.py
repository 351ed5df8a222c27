"""A polling reloader with the original hotload tool's behaviour: stat every watched file every
1/144 s and importlib.reload the module when any modification time changed.

    python poll_reloader.py lib.py [FILE_LIST]     # FILE_LIST: more files to watch, one a line

Like the original, the first pass runs the module; unlike it, output is flushed after each run
(the original relies on a terminal's line buffering; the benchmark reads a pipe).
"""
import importlib, os, sys, time, traceback

target = os.path.abspath(sys.argv[1])
files = {target}
if len(sys.argv) > 2:
    with open(sys.argv[2]) as listing:
        files.update(os.path.abspath(line.strip()) for line in listing if line.strip())
files = sorted(files)
sys.path.insert(0, os.path.dirname(target))
name = os.path.splitext(os.path.basename(target))[0]


def mtimes():
    stamps = {}
    for path in files:
        try:
            stamps[path] = os.stat(path).st_mtime
        except OSError:
            stamps[path] = -1.0
    return stamps


module, last = None, None
try:
    while True:
        now = mtimes()
        if now == last:
            time.sleep(1.0 / 144)
            continue
        last = now
        try:
            module = importlib.import_module(name) if module is None else importlib.reload(module)
        except Exception:
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
except KeyboardInterrupt:
    sys.exit(130)
