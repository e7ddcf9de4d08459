"""A webhook receiver for the end-to-end suites: verifies every delivery with the `standardwebhooks` package
from PyPI (independent of repbook's Rust signer) and logs what it got, one JSON line per request.

The control file (JSON, read on every request) says how to answer:
  {"mode": "ok" | "fail" (500) | "gone" (410) | "slow", "slow_secs": 30, "secrets": ["whsec_..."]}
Each logged line: {"id", "type", "timestamp", "verified": [one bool per secret], "answered": status, "body"}.
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--control", required=True)
parser.add_argument("--log", required=True)
args = parser.parse_args()
lock = threading.Lock()


def control():
    try:
        with open(args.control) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"mode": "ok", "secrets": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        settings = control()
        headers = {k.lower(): v for k, v in self.headers.items()}
        verified = []
        for secret in settings.get("secrets", []):
            try:
                Webhook(secret).verify(body, headers)
                verified.append(True)
            except WebhookVerificationError:
                verified.append(False)
        mode = settings.get("mode", "ok")
        status = {"ok": 204, "fail": 500, "gone": 410, "slow": 204}.get(mode, 204)
        if verified and not any(verified) and status == 204:
            status = 401
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        entry = {
            "id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "signature": headers.get("webhook-signature"),
            "type": payload.get("type") if isinstance(payload, dict) else None,
            "verified": verified,
            "answered": status,
            "body": payload,
        }
        # Logged when the request arrived (a slow answer may never reach repbook, which timed out).
        with lock, open(args.log, "a") as log:
            log.write(json.dumps(entry) + "\n")
        if mode == "slow":
            time.sleep(settings.get("slow_secs", 30))
        reply = b"" if status == 204 else json.dumps({"error": f"receiver in mode {mode}"}).encode()
        self.send_response(status)
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print("ready", flush=True)
server.serve_forever()
