"""What every fake vendor server shares: a quiet JSON request handler and a background-thread runner."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import orjson

S = TypeVar("S", bound=ThreadingHTTPServer)


class JsonHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, no access log, and :meth:`send` for JSON (or raw) bodies."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read results, not access logs
        pass

    def send(self, status: int, body: Any, headers: dict[str, str] | None = None,
             content_type: str = "application/json") -> None:
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def serve_in_thread(server: S) -> Iterator[S]:
    """Run ``server`` on a daemon thread for the duration of the block, then shut it down."""
    thread = threading.Thread(target=server.serve_forever, name=type(server).__name__, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
