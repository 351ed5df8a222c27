"""The entry module. Definitions only: the host calls main() after each (re)load
(`entrypoint = "main"` in hotload.toml), so importing this module has no side effects."""

import argparse
import configparser
import pathlib
import sys

from app.greeting import greet

SETTINGS = pathlib.Path(__file__).resolve().parent.parent / "conf" / "app.ini"

# State that survives reloads: the original hotload's NameError trick.
try:
    runs = runs  # noqa: PLW0127 (set by an earlier run)
except NameError:
    runs = 0


def main():
    global runs
    runs += 1
    parser = argparse.ArgumentParser(prog="app.main")
    parser.add_argument("--name", default="you")
    options = parser.parse_args(sys.argv[1:])

    settings = configparser.ConfigParser()
    settings.read(SETTINGS)
    punctuation = settings.get("greeting", "punctuation", fallback="!")
    times = settings.getint("greeting", "times", fallback=1)

    for _ in range(times):
        print(greet(options.name) + punctuation)
    print(f"(main() calls in this interpreter: {runs})")
