/* The event floor: what any event-driven tool pays before it does any work of its own.
 *
 *     inotify_floor /path/to/lib.py
 *
 * Blocks on an inotify fd watching lib.py's directory for IN_CLOSE_WRITE | IN_MOVED_TO (a
 * finished in-place save, a rename over the file). For each such event on lib.py it reads the
 * file and writes the `bench-counter=N;` token found in it, with a newline, straight to fd 1
 * (write(2): nothing buffered). The benchmark times it like every tool: from just before its own
 * write of the file to the moment this new line is read from the pipe, so the figure is
 * write -> OS event -> wake-up -> read -> pipe -> reader. Also prints the counter once at start.
 * Built by bench/run.py with the machine's gcc into a temporary directory; never committed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

static const char *path;

static void report(void) {
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf - 2);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *start = strstr(buf, "bench-counter=");
    if (!start)
        return;
    char *end = strchr(start, ';');
    if (!end)
        return;
    end[1] = '\n'; /* end + 1 <= buf + n: the slot after the text is free */
    size_t len = (size_t)(end + 2 - start);
    while (len > 0) {
        ssize_t w = write(1, start, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            exit(1);
        }
        start += w;
        len -= (size_t)w;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    path = argv[1];
    char dir[4096];
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (slash) {
        size_t dl = (size_t)(slash - path);
        if (dl == 0)
            dl = 1; /* "/lib.py" */
        if (dl >= sizeof dir) {
            fprintf(stderr, "path too long\n");
            return 2;
        }
        memcpy(dir, path, dl);
        dir[dl] = '\0';
    } else {
        strcpy(dir, ".");
    }
    int in = inotify_init1(IN_CLOEXEC);
    if (in < 0 || inotify_add_watch(in, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
        perror("inotify");
        return 1;
    }
    report();
    alignas(struct inotify_event) static char events[1 << 16];
    for (;;) {
        ssize_t n = read(in, events, sizeof events);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("read");
            return 1;
        }
        for (char *p = events; p < events + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->len && strcmp(ev->name, name) == 0)
                report();
            p += sizeof *ev + ev->len;
        }
    }
}
