"""The module's stdout and stderr, as the host keeps them: standard text streams that also
remember the last byte that reached their file descriptor, so that the host's status line
always starts on a line of its own (after `print("x", end="")`, say). Only the raw layer under
the buffer is ours: it is called when the buffer is written out (at a flush, or every line on
a terminal), never per `print`, so output is as fast as with the interpreter's own streams.
A module that closes them gets working ones again on its next run.
"""

import io
import os
import sys

# The last byte written to each descriptor (None: nothing yet).
_last = {1: None, 2: None}


class _TrackedFile(io.FileIO):
    def write(self, data):
        n = super().write(data)
        if n:
            _last[self.fileno()] = memoryview(data)[n - 1 : n].tobytes()
        return n


def install():
    """Replaces sys.stdout/sys.stderr (and sys.__stdout__/__stderr__) with tracked streams on
    the same descriptors and with the same encoding and buffering."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        current = getattr(sys, name)
        if current is None or getattr(current, "closed", True):
            current = getattr(sys, "__%s__" % name)
        stream = _tracked(fd, current)
        if stream is not None:
            setattr(sys, name, stream)
            setattr(sys, "__%s__" % name, stream)


def repair():
    """Working streams again if the module closed (or dropped) sys.stdout or sys.stderr."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if stream is not None and not getattr(stream, "closed", False):
            continue
        original = getattr(sys, "__%s__" % name)
        if original is None or original.closed:
            original = _tracked(fd, original)
            if original is None:
                continue  # the descriptor itself is gone
            setattr(sys, "__%s__" % name, original)
        setattr(sys, name, original)


def line_open():
    """Whether the module left a line without its newline where the host is about to print
    (stderr, or stdout when both go to the same place)."""
    if _last[2] not in (None, b"\n"):
        return True
    return _last[1] not in (None, b"\n") and _same_file(1, 2)


def line_closed():
    """The host ended the line itself."""
    _last[1] = _last[2] = None


def _tracked(fd, like):
    try:
        raw = _TrackedFile(fd, "wb", closefd=False)
    except (OSError, ValueError):
        return None
    # Unbuffered stdio (python -u, PYTHONUNBUFFERED) has no buffer layer: keep it that way.
    unbuffered = isinstance(getattr(like, "buffer", None), io.RawIOBase)
    buffered = raw if unbuffered else io.BufferedWriter(raw)
    return io.TextIOWrapper(
        buffered,
        encoding=getattr(like, "encoding", None),
        errors=getattr(like, "errors", None) or ("backslashreplace" if fd == 2 else None),
        line_buffering=getattr(like, "line_buffering", os.isatty(fd)),
        write_through=getattr(like, "write_through", fd == 2),
    )


def _same_file(a, b):
    try:
        sa, sb = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
