"""A real HTTP endpoint on 127.0.0.1 for outbox tests: fails the first N requests, then accepts."""

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def endpoint(*, fail_first: int = 0):
    state = {"requests": [], "accepted": [], "fail_left": fail_first}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state["requests"].append(self.headers.get("Idempotency-Key"))
                failing = state["fail_left"] > 0
                if failing:
                    state["fail_left"] -= 1
                else:
                    state["accepted"].append((self.headers.get("Idempotency-Key"), json.loads(body)))
            self.send_response(503 if failing else 200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/orders", state
    finally:
        server.shutdown()
        server.server_close()
