"""Edit and save this file while `hotload-host examples/basic/lib.py` runs.

The slow part (here a stand-in for `import numpy, pandas` or opening a database connection) runs
once; every save re-runs only the module body, and module globals survive between runs.
"""

import time

# The original hotload's state trick: computed on the first run, kept on every reload.
try:
    expensive = expensive  # noqa: PLW0127 (defined by an earlier run)
except NameError:
    time.sleep(0.5)  # pretend this is a heavy import or a slow query
    expensive = 42

try:
    runs = runs + 1
except NameError:
    runs = 1

x, y = 3, 4
print(f"run {runs}: x*x + y*y = {x * x + y * y}, expensive = {expensive}")
