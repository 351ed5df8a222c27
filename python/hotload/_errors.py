"""How a failure in user code becomes text the host can print: tracebacks without the host's
and importlib's frames, with undecodable bytes escaped."""

import os

# Frames from these files are host plumbing, never shown in a user's traceback.
_INTERNAL_PREFIXES = (
    "<frozen importlib",
    "<hotload-host",
    os.path.join(os.path.dirname(os.__file__), "importlib") + os.sep,  # the importlib package
    os.path.dirname(__file__) + os.sep,  # this package, installed as files (the wheel)
)


class PlainError(Exception):
    """A failure whose message says it all (shown without a traceback)."""


def format_exception(exc):
    """A traceback with the host's and importlib's frames left out."""
    import traceback

    if isinstance(exc, PlainError):
        return _printable("%s\n" % exc)
    seen = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = _user_frames(current.__traceback__)
        current = current.__cause__ or current.__context__
    return _printable("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def exit_code_text(code):
    if code is None:
        return "0"
    return str(code) if isinstance(code, int) else repr(code)


def _printable(text):
    """Text the host can print: undecodable bytes (surrogates from os.listdir and the like)
    shown as escapes instead of failing."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _user_frames(tb):
    kept = []
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith(_INTERNAL_PREFIXES):
            kept.append(tb)
        tb = tb.tb_next
    for a, b in zip(kept, kept[1:]):
        a.tb_next = b
    if kept:
        kept[-1].tb_next = None
        return kept[0]
    return None
