"""`python -m hotload_host ARGS`: the same as the `hotload-host` console script."""

from hotload_host import main

main()
