#!/usr/bin/env python3
"""A webhook receiver for trying harepost: prints each delivery and checks
its X-Harepost-Signature when a signing secret is given.

    python3 docs/examples/receiver.py [PORT] [SIGNING_SECRET]

Answers 200, or 500 for paths under /fail/ (to watch retries and the
dead-letter queue). Standard library only.
"""

import hashlib
import hmac
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
SECRET = sys.argv[2].encode() if len(sys.argv) > 2 else None


def signature_ok(header, body):
    """X-Harepost-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    expected = hmac.new(SECRET, parts.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_delivery(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        delivery = self.headers.get("X-Harepost-Delivery-Id", "-")
        attempt = self.headers.get("X-Harepost-Attempt", "-")
        signature = self.headers.get("X-Harepost-Signature")
        verdict = ""
        if signature and SECRET:
            verdict = "signature ok" if signature_ok(signature, body) else "SIGNATURE MISMATCH"
        status = 500 if self.path.startswith("/fail/") else 200
        print(f"{self.command} {self.path} delivery={delivery} attempt={attempt} {verdict} -> {status}")
        print(f"  {body.decode(errors='replace')}", flush=True)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = handle_delivery

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    print(f"listening on http://127.0.0.1:{PORT}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", PORT), Receiver).serve_forever()
