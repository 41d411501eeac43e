"""A real HTTP server on 127.0.0.1 for the source clients: scripted answers per path (recorded
bodies, slow answers, 429 with Retry-After, 500s, dropped connections), and a log of what was
asked, when and with which headers."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between body chunks of 64 bytes
    drop: bool = False  # close the connection without answering


@dataclass(frozen=True)
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


Responder = Callable[[Request], Reply]


@dataclass
class Server:
    url: str
    routes: dict[str, list[Reply] | Responder] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def script(self, path: str, *replies: Reply) -> None:
        """Answer ``path`` with these replies in turn; the last one repeats."""
        self.routes[path] = list(replies)

    def respond(self, path: str, responder: Responder) -> None:
        self.routes[path] = responder

    def asked(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def next_reply(self, request: Request) -> Reply:
        route = self.routes.get(request.path)
        if route is None:
            return Reply(404, b"not found")
        if callable(route):
            return route(request)
        return route.pop(0) if len(route) > 1 else route[0]


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            request = Request(parts.path, query, dict(self.headers.items()), time.monotonic())
            server.requests.append(request)
            reply = server.next_reply(request)
            time.sleep(reply.delay)
            try:
                self._answer(reply)
            except OSError:  # the client gave up first (timeouts, size limits): expected here
                self.close_connection = True

        def _answer(self, reply: Reply) -> None:
            if reply.drop:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if not reply.drip:
                self.wfile.write(reply.body)
                return
            for start in range(0, len(reply.body), 64):
                self.wfile.write(reply.body[start : start + 64])
                self.wfile.flush()
                time.sleep(reply.drip)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is expected
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def http_server() -> Iterator[Server]:
    state = Server(url="")
    httpd = _QuietServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
