"""Source text of the modules the benchmark edits, and the two ways it saves them.

Shared by run.py (stdlib Python) and inprocess_floor.py (the venv's Python).
"""

import os

NEEDLE = "bench-counter=%d;"


def needle(counter):
    """The exact bytes a run of module version `counter` prints (never a prefix of another)."""
    return (NEEDLE % counter).encode()


def _parity_pad(counter, body):
    # Consecutive versions always differ in size: CPython's .pyc check is (mtime in whole
    # seconds, size), so two same-size saves within one second would otherwise run stale
    # bytecode in a plain importlib.reload (the poller, the in-process floor).
    return "#" * ((counter - len(body)) % 2)


def latency_module(counter, deps):
    """A small module that imports the heavy dependencies (already imported after the first
    run) and prints its counter. It flushes the line itself: every tool's stdout is a pipe here
    (block-buffered in Python), and not every peer flushes after running the module, while a
    user's terminal shows each line at once."""
    lines = ["import %s" % d for d in deps]
    lines += ["COUNTER = %d" % counter, "print(%r, flush=True)" % (NEEDLE % counter)]
    body = "\n".join(lines) + "\n"
    return body + _parity_pad(counter, body) + "\n"


def trivial_module(counter):
    body = "COUNTER = %d\nprint(%r)\n" % (counter, NEEDLE % counter)
    return body + _parity_pad(counter, body) + "\n"


def memory_module(counter, lines_total=300):
    """A 300-line module: functions, a class, a table, module-level state; prints its counter."""
    out = ["import math", "import functools", "COUNTER = %d" % counter, "TABLE = {"]
    for k in range(20):
        out.append("    %r: (%d, %r, %d.5)," % ("key%d" % k, k, "v" * (k % 7 + 1), k))
    out.append("}")
    out += ["", "class Shape:", "    def __init__(self, w, h):", "        self.w = w", "        self.h = h",
            "    def area(self):", "        return self.w * self.h", "    def __repr__(self):",
            "        return 'Shape(%r, %r)' % (self.w, self.h)", ""]
    k = 0
    tail = ["", "SHAPES = [Shape(i, i + 1) for i in range(50)]",
            "TOTAL = sum(s.area() for s in SHAPES) + sum(f(1) for f in FUNCS)",
            "print(%r)" % (NEEDLE % counter)]
    body_funcs = []
    while len(out) + len(body_funcs) + 5 + len(tail) + 1 <= lines_total - 1:
        body_funcs += ["@functools.lru_cache(maxsize=None)" if k % 5 == 0 else "# plain function %d" % k,
                       "def f_%d(x, y=%d):" % (k, k),
                       "    z = x * y + %d - len(TABLE)" % k,
                       "    return math.sqrt(abs(z)) + len(str(z)) + %d" % (k % 3),
                       ""]
        k += 1
    out += body_funcs
    out.append("FUNCS = [%s]" % ", ".join("f_%d" % i for i in range(k)))
    out += tail
    while len(out) < lines_total - 1:
        out.append("# padding")
    body = "\n".join(out) + "\n"
    return body + _parity_pad(counter, body) + "\n"


CHAIN_NEEDLE = "bench-chain=%d;"
SIDE_NEEDLE = "bench-side=%d;"
LIVE_NEEDLE = "bench-live=%d;"
LIVE_BODY_NEEDLE = "bench-live-body=%d;"


def chain_name(i):
    return "m%03d" % i


def chain_leaf(counter):
    """m000, the leaf of the dependents chain: imports nothing, holds the counter."""
    body = "VALUE = %d\n" % counter
    return body + _parity_pad(counter, body) + "\n"


def chain_link(i):
    """m<i> (i >= 1): imports the previous module of the chain and copies its value, so it
    prints the new counter only if it was reloaded after the leaf."""
    prev = chain_name(i - 1)
    return "import %s\n\nVALUE = %s.VALUE\n" % (prev, prev)


def side_module(counter):
    """side.py: a project module that only the entry imports, and that imports nothing."""
    body = "VALUE = %d\n" % counter
    return body + _parity_pad(counter, body) + "\n"


def chain_entry(length):
    """The entry of the dependents case: imports the last module of the chain and `side`, and
    prints both values (the leaf's counter reaches it through every module of the chain).
    The first import nests `length` imports deep, hence the raised recursion limit."""
    last = chain_name(length - 1)
    return ("import sys\n\nsys.setrecursionlimit(max(sys.getrecursionlimit(), 20 * %d + 1000))\n\n"
            "import %s\nimport side\n\nprint(%r %% (%s.VALUE, side.VALUE), flush=True)\n"
            % (length, last, CHAIN_NEEDLE + SIDE_NEEDLE, last))


def live_module(counter):
    """A module whose daemon thread (started once, kept with hotload.keep) calls `f`, received
    as an argument, every millisecond and prints its value when it changes. The thread holds
    the function object of the first version: only in-place patching (--reload deep) makes it
    run an edited body. The module body prints its own line, which shows that a run happened."""
    body = (
        "import threading\n"
        "import time\n\n"
        "import hotload\n\n\n"
        "def f():\n"
        "    return %r\n\n\n"
        "def loop(fn):\n"
        "    last = None\n"
        "    while True:\n"
        "        value = fn()\n"
        "        if value != last:\n"
        "            print(value, flush=True)\n"
        "            last = value\n"
        "        time.sleep(0.001)\n\n\n"
        "hotload.keep(\"thread\", lambda: threading.Thread(target=loop, args=(f,), daemon=True).start() or True)\n"
        "print(%r, flush=True)\n"
    ) % (LIVE_NEEDLE % counter, LIVE_BODY_NEEDLE % counter)
    return body + _parity_pad(counter, body) + "\n"


def write_inplace(path, text):
    """Truncate and rewrite the file (what most editors do by default)."""
    with open(path, "w") as f:
        f.write(text)


def write_rename(path, text):
    """Write a temporary file next to it, then rename it over the original (atomic save)."""
    path = os.fspath(path)
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".bench.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


WRITERS = {"in-place": write_inplace, "rename": write_rename}
