#!/usr/bin/env python3
"""The benchmark's webhook target: a typical small receiver (Python's standard
library, HTTP/1.1 keep-alive, a thread per connection) answering 200 to any
POST. scripts/bench.py measures its raw capacity with wrk and harepost's
delivery rate against it.

    python3 scripts/bench_target.py PORT
"""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Target(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Target).serve_forever()
