"""A scripted HTTPS webhook target for the dispatcher tests.

    python3 scripted_target.py CERT KEY LOG PORTFILE

Serves HTTP/1.1 over TLS on 127.0.0.1 (a free port, written to PORTFILE) and
appends every request it receives to LOG as one JSON line. The path says how
to answer; the last segment is a tag that keeps each test's counts apart:

    /ok/TAG             200
    /status/CODE/TAG    CODE
    /flaky/K/TAG        500 for the first K requests, then 200
    /busy/TAG           429 with Retry-After: 1 on the first request, then 200
    /slow/TAG           200 after 3 seconds
"""

import base64
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

cert, key, log_path, port_path = sys.argv[1:5]
counts = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        with lock:
            n = counts.get(path, 0) + 1
            counts[path] = n
            with open(log_path, "a") as log:
                log.write(json.dumps({
                    "method": self.command,
                    "path": path,
                    "headers": [[k, v] for k, v in self.headers.items()],
                    "body": base64.b64encode(body).decode(),
                    "count": n,
                    "peer": self.client_address[1],
                    "at": time.time(),
                }) + "\n")
        parts = path.strip("/").split("/")
        status, headers = 200, {}
        if parts[0] == "status":
            status = int(parts[1])
        elif parts[0] == "flaky":
            status = 500 if n <= int(parts[1]) else 200
        elif parts[0] == "busy" and n == 1:
            status, headers = 429, {"Retry-After": "1"}
        elif parts[0] == "slow":
            time.sleep(3)
        payload = json.dumps({"status": status, "count": n}).encode()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


server = Server(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_path + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_path + ".tmp", port_path)
server.serve_forever()
