"""State that must outlive reloads of user modules and of this package itself.

Kept in one dict attached to the `sys` module, so it survives a user module being removed from
sys.modules and imported again, and even `hotload` itself being re-imported.
"""

import sys

_ATTR = "_hotload_state"

state = getattr(sys, _ATTR, None)
if state is None:
    state = {
        "kept": {},  # (module name, key) -> value
        "before": {},  # (module name, qualname) -> function, in registration order
        "after": {},
        "run": 0,  # run number of the current run (1 = first import)
        "changed": [],  # paths whose change triggered the current run
        "previous_run": None,  # time.time() when the previous run started
        "current_run": None,
        "under_host": False,
    }
    setattr(sys, _ATTR, state)


def begin_run(run, changed, now):
    """Called by whoever drives the loop (the host, or hotload.hotload under plain Python)."""
    state["previous_run"] = state["current_run"]
    state["current_run"] = now
    state["run"] = run
    state["changed"] = list(changed)


class LaunchHandOver(BaseException):
    """Raised by hotload() under hotload-host: the host takes over the watch list and steps.
    A BaseException, so that like the original's endless loop, the rest of the launch script
    does not run."""

    def __init__(self, files, steps):
        super().__init__("hotload() handed over to hotload-host")
        self.files = files
        self.steps = steps
