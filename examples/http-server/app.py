"""A small HTTP server whose handler changes on save while the server keeps its port.

The server is started once (hotload.keep) and runs in a daemon thread; reloads never touch the
listening socket. After each successful reload the post hook points the running server at the
new Handler class, so the next request is answered by the new code. See README.md.
"""

import argparse
import http.server
import sys
import threading

import hotload


def options():
    """Host and port from sys.argv (the `args` of hotload.toml; re-read on every run)."""
    parser = argparse.ArgumentParser(prog="app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    return parser.parse_args(sys.argv[1:])


def render(path):
    """The response body: edit this and save."""
    return f"Hello from version 1! You asked for {path}\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = render(self.path).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print(f"{self.address_string()} {format % args}", flush=True)


def start_server():
    wanted = options()
    server = http.server.ThreadingHTTPServer((wanted.host, wanted.port), Handler)
    server.requested = (wanted.host, wanted.port)  # what stop_if_moved compares against
    threading.Thread(target=server.serve_forever, name="http-server", daemon=True).start()
    host, port = server.server_address[:2]
    print(f"serving on http://{host}:{port}/", flush=True)
    return server


# Built on the first run (or after stop_if_moved dropped it); the same server on every reload.
server = hotload.keep("server", start_server)


def install_handler():
    """post hook: from now on the running server answers with this version's Handler."""
    server.RequestHandlerClass = Handler
    print(f"handler updated; still serving on port {server.server_address[1]}", flush=True)


def stop_if_moved():
    """pre hook (runs with the old code, before the reload): if the wanted address changed
    (the config's `args` were edited; sys.argv already holds the new ones), shut the server
    down cleanly and forget it, so that the reload starts a new one on the new port."""
    wanted = options()
    if server.requested == (wanted.host, wanted.port):
        return
    print(f"pre: address changed to {wanted.host}:{wanted.port}; stopping the server on port "
          f"{server.server_address[1]}", flush=True)
    server.shutdown()  # waits for serve_forever() to return
    server.server_close()  # releases the port
    hotload.drop("server")
