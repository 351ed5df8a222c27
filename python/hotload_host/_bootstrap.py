# Which interpreters can run hotload-host, and the first code the project venv's Python runs
# when a tool install re-executes itself there (see _venv.py):
#
#     <venv>/bin/python .../hotload_host/_bootstrap.py TOOL_SITE_DIR ARGV0 ARGS...
#
# That Python can be anything the venv was made with, so this file keeps to syntax that every
# Python (2.7 included) can run far enough to say in one line why it cannot run hotload-host.
import os
import sys

MIN_VERSION = (3, 9)


def refusal():
    """Why this interpreter cannot run hotload-host, or None."""
    version = ".".join(str(part) for part in sys.version_info[:3])
    impl = getattr(sys, "implementation", None)
    if sys.version_info[:2] < MIN_VERSION:
        return "%s is Python %s; hotload-host needs CPython %d.%d or newer" % (
            (sys.executable, version) + MIN_VERSION
        )
    if impl.name != "cpython":
        return "%s is %s %s; hotload-host runs on CPython only" % (
            sys.executable,
            impl.name,
            version,
        )
    # A free-threaded build (3.13t) cannot load abi3 extension modules; abiflags says "t".
    if "t" in getattr(sys, "abiflags", ""):
        return "%s is a free-threaded build of Python %s; hotload-host needs the default build" % (
            sys.executable,
            version,
        )
    return None


def fail(message):
    """Bad environment: one line on stderr, exit status 2 (as for every bad input)."""
    sys.stderr.write("hotload-host: error: %s\n" % message)
    sys.stderr.flush()
    sys.exit(2)


def _run_reexecuted():
    # sys.path[0] is this file's directory: hotload_host's own modules are not top-level ones.
    if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
        del sys.path[0]
    why = refusal()
    if why:
        fail("the project's venv (VIRTUAL_ENV or .venv) cannot run hotload-host: " + why)
    tool_dir, argv = sys.argv[1], sys.argv[2:]
    # Only hotload_host and hotload come from the tool's environment; they are imported now
    # and the directory leaves sys.path again, so the project sees only its own packages.
    sys.path.insert(0, tool_dir)
    try:
        import hotload_host
    finally:
        if sys.path and sys.path[0] == tool_dir:
            del sys.path[0]
    sys.exit(hotload_host.run(argv))  # run() imports hotload from tool_dir the same way


if __name__ == "__main__":
    _run_reexecuted()
