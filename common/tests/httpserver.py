"""A real HTTP server on 127.0.0.1 for tests of outbound requests: routes by path, records every request."""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    send_length: bool = True


@dataclass
class Served:
    url: str
    port: int
    routes: dict[str, Route]
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    clients: list[tuple[str, int]] = field(default_factory=list)  # the client address of each request

    def paths(self) -> list[str]:
        return [p for _, p, _ in self.requests]


@contextmanager
def http_server(routes: dict[str, Route], *, tls: tuple[str, str] | None = None, keep_alive: bool = False):
    """Serve `routes` on 127.0.0.1 (HTTPS with `tls=(certfile, keyfile)`; HTTP/1.1 keep-alive with
    `keep_alive`)."""
    served: Served | None = None
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with lock:
                served.requests.append((self.command, self.path, dict(self.headers)))
                served.clients.append(self.client_address[:2])
            route = served.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.delay:
                time.sleep(route.delay)
            self.send_response(route.status)
            for k, v in route.headers.items():
                self.send_header(k, v.replace("{port}", str(served.port)))
            if route.send_length:
                self.send_header("Content-Length", str(len(route.body)))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            with contextlib.suppress(OSError):  # the client hung up (a refused body)
                self.wfile.write(route.body)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, *args) -> None:
            pass

    if keep_alive:
        Handler.protocol_version = "HTTP/1.1"
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    served = Served(
        url=f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}", port=server.server_port, routes=routes
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
