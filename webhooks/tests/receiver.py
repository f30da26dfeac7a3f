"""A real HTTP receiver for tests: http.server in a thread on 127.0.0.1, an ephemeral port that survives
stop/start (so a test can take it down and bring it back), and a mode per phase: "ok", "500" or "slow"
(answers after `slow_seconds`, longer than the sender's timeout)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


class Receiver:
    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.mode = "ok"
        self.slow_seconds = 2.5
        self.accepted: list[tuple[dict, bytes]] = []  # (headers, body) of requests answered 2xx
        self.requests = 0
        self.times: list[float] = []  # time.monotonic() of each request's arrival
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests += 1
                receiver.times.append(time.monotonic())
                mode = receiver.mode
                if mode == "slow":
                    time.sleep(receiver.slow_seconds)
                if mode == "500":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"receiver is broken today")
                    return
                if mode == "ok":
                    receiver.accepted.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self, *, secret: str) -> list[dict]:
        """The accepted bodies, each verified against `secret` (raises if a signature does not match)."""
        hook = Webhook(secret)
        return [hook.verify(body, headers) for headers, body in self.accepted]

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.accepted]
