"""A plain-HTTP forward proxy for tests of a client in a subprocess (HTTP_PROXY): it records every
request it forwards, and can cut the connection of the requests `fail` picks — a network that
drops in the middle of an upload, with nothing in the client told about it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

# Headers that belong to one connection, never forwarded.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
}


@dataclass
class Proxy:
    url: str
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, absolute URL) forwarded
    cut: list[tuple[str, str]] = field(default_factory=list)  # the ones whose connection was cut
    fail: Callable[[str, str], bool] = lambda method, url: False


@contextmanager
def forward_proxy() -> Iterator[Proxy]:
    proxy = Proxy("")
    upstream = httpx.Client(trust_env=False, timeout=120, follow_redirects=False)

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if proxy.fail(self.command, self.path):
                proxy.cut.append((self.command, self.path))
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)  # no answer: what a dropped network looks like
                return
            proxy.seen.append((self.command, self.path))
            headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
            answer = upstream.request(self.command, self.path, headers=headers, content=body)
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in _HOP_BY_HOP | {"content-length", "content-encoding"}:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="forward-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        upstream.close()
