"""Run with `hotload-host examples/entrypoint/app.py --entrypoint main -- --name you`.

Definitions live at module level; `main()` is called after every successful reload, so the
module can also be imported without side effects.
"""

import sys


def greet(name):
    return f"hello, {name}!"


def main():
    args = sys.argv[1:]
    name = args[args.index("--name") + 1] if "--name" in args else "world"
    print(greet(name))
