"""The event floor in Python (a diagnostic beside the C floor, bench/inotify_floor.c): block on
an inotify fd watching lib.py's directory and, on each completed save of lib.py (IN_CLOSE_WRITE
or IN_MOVED_TO), print the counter found in the file. No reload: the difference to the C floor
is what waking a Python process costs, before any importlib work.

    python inotify_floor.py lib.py
"""
import ctypes, os, re, struct, sys

IN_CLOSE_WRITE, IN_MOVED_TO = 0x8, 0x80
libc = ctypes.CDLL(None, use_errno=True)
target = os.path.abspath(sys.argv[1])
fd = libc.inotify_init1(0)
if fd < 0 or libc.inotify_add_watch(fd, os.path.dirname(target).encode(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
    sys.exit("inotify: errno %d" % ctypes.get_errno())
name = os.path.basename(target).encode()
needle = re.compile(rb"bench-counter=\d+;")


def report():
    with open(target, "rb") as f:
        m = needle.search(f.read())
    if m:
        sys.stdout.write(m.group().decode() + "\n")
        sys.stdout.flush()


report()
try:
    while True:
        buf, i = os.read(fd, 65536), 0
        while i < len(buf):
            _wd, _mask, _cookie, length = struct.unpack_from("iIII", buf, i)
            if buf[i + 16:i + 16 + length].rstrip(b"\0") == name:
                report()
            i += 16 + length
except KeyboardInterrupt:
    sys.exit(130)
