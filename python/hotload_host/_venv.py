"""Which Python runs the session when hotload-host is installed as a tool.

`uv tool install`, `pipx install` and `uvx` give hotload-host an environment of its own, whose
Python cannot import the project's packages. So when a project venv is active (VIRTUAL_ENV) or
the project has a .venv, and that venv is not the environment running us, the process
re-executes itself in the venv's Python: the same process (pid, terminal, signals, exit status),
now with the project's sys.path. The wheel is abi3, so its extension module loads into any
CPython >= 3.9 there; _bootstrap.py puts the tool's directory on sys.path only while it imports
hotload_host and hotload, so the project sees its own packages and none of the tool's.
"""

import os
import sys


class VenvError(Exception):
    """The project's venv cannot be used; the message says why and what to do."""


def enter_project_venv(argv):
    """Re-executes `argv` in the project venv's Python if that is not the one running; returns
    when there is no project venv or we already run in it. Raises VenvError for a broken one."""
    found = project_venv(os.getcwd())
    if found is None:
        return
    venv, how = found
    if _same_path(venv, sys.prefix):
        return
    python = venv_python(venv, how)
    here = os.path.dirname(os.path.abspath(__file__))
    bootstrap = os.path.join(here, "_bootstrap.py")
    tool_dir = os.path.dirname(here)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(python, [python, bootstrap, tool_dir] + list(argv))
    except OSError as e:
        raise VenvError(f"cannot run {python} ({how}): {e.strerror}") from None


def project_venv(cwd):
    """(venv directory, how it was found) or None: VIRTUAL_ENV if set, else the first .venv
    directory from `cwd` upwards, stopping at the project root (a directory holding
    pyproject.toml or .git)."""
    active = os.environ.get("VIRTUAL_ENV")
    if active:
        return os.path.abspath(active), "VIRTUAL_ENV"
    d = os.path.abspath(cwd)
    while True:
        candidate = os.path.join(d, ".venv")
        if os.path.isdir(candidate):
            return candidate, "the project's .venv"
        if any(os.path.exists(os.path.join(d, marker)) for marker in ("pyproject.toml", ".git")):
            return None
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def venv_python(venv, how):
    """The venv's interpreter, once the venv looks whole (pyvenv.cfg and a python that exists:
    a venv whose base Python was removed has a dangling bin/python)."""
    fix = "unset VIRTUAL_ENV" if how == "VIRTUAL_ENV" else "remove it"
    if not os.path.isdir(venv):
        raise VenvError(f"{how} is {venv}, which is not a directory; {fix}")
    if not os.path.isfile(os.path.join(venv, "pyvenv.cfg")):
        raise VenvError(
            f"{venv} ({how}) has no pyvenv.cfg, so it is not a venv; recreate it "
            f"(python3 -m venv {venv}) or {fix}"
        )
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        raise VenvError(
            f"{venv} ({how}) has no working bin/python (missing, or its base Python was "
            f"removed); recreate it (python3 -m venv --clear {venv}) or {fix}"
        )
    return python


def _same_path(a, b):
    return os.path.realpath(a) == os.path.realpath(b)
