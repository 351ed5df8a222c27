"""hotload-host installed with pip: the Rust session core (the extension module `_core`, built
for the stable ABI) runs inside the user's own CPython >= 3.9. `hotload-host ARGS` (the console
script) and `python -m hotload_host ARGS` both call main().

Installed as a tool (uv tool install, pipx, uvx), the Python running this is the tool's own;
main() first moves into the project's venv if there is one (see _venv.py).
"""

import os
import sys


def main(argv=None):
    """The console script: picks the interpreter, then runs the session. Exits, never returns."""
    from hotload_host import _bootstrap, _venv

    argv = list(sys.argv if argv is None else argv)
    why = _bootstrap.refusal()
    if why:
        _bootstrap.fail(why)
    try:
        _venv.enter_project_venv(argv)  # replaces this process, or returns
    except _venv.VenvError as e:
        _bootstrap.fail(str(e))
    sys.exit(run(argv))


def run(argv):
    """Runs the session in this interpreter as it is; returns the exit status (130 after
    Ctrl-C while idle). The caller exits right after: a watchdog ends the process if Python's
    shutdown then hangs."""
    _import_own_packages()
    from hotload_host._core import main as core_main

    return core_main(["hotload-host"] + list(argv[1:]))


def _import_own_packages():
    # The core drives `hotload._host`. A hotload.py or hotload/ of the project's (the original
    # tool is one file that people copy in) or an older hotload in the venv must not stand in
    # for it: import ours, from the directory this package was installed into, first. Its
    # submodules are found through the package's own __path__ later, whatever sys.path holds.
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, here)
    try:
        import hotload._host  # noqa: F401
    finally:
        if sys.path and sys.path[0] == here:
            del sys.path[0]
