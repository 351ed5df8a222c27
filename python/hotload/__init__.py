"""hotload: cooperate with hotload-host from inside a reloaded module.

Under hotload-host this package is provided by the host itself; under plain Python it can be
installed with `pip install ./python`, and its helpers degrade gracefully.
"""

import os

__all__ = ["running"]


def running():
    """True when this module runs under hotload (the host or the original tool)."""
    return os.environ.get("HOTLOAD_RUNNING") == "HOTLOAD_RUNNING"
