"""A local HTTP server on 127.0.0.1 for download tests (there is no internet here)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HTML = b"<!DOCTYPE html><html><head><title>Error</title></head><body>Not here</body></html>"


class Handler(SimpleHTTPRequestHandler):
    """Serves /good/<file> from disk, and misbehaves under /forbidden, /html and /truncated.

    Every request path is appended to the server's ``requests`` list.
    """

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        kind, _, name = self.path.strip("/").partition("/")
        if kind == "forbidden":
            self.send_error(403, "Forbidden")
            return
        if kind == "html":  # an error page with status 200, as some proxies and portals send
            self._send(HTML, "text/html")
            return
        path = Path(self.directory) / name
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        if kind == "truncated":
            self._send(data[: len(data) // 2], "application/gzip")
        elif kind == "good":
            self._send(data, "application/gzip")
        else:
            self.send_error(404, "Not Found")

    def _send(self, data: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Served:
    base: str  # http://127.0.0.1:PORT
    root: Path  # the directory served under /good/
    requests: list[str] = field(default_factory=list)


@contextmanager
def serve(root: Path) -> Iterator[Served]:
    """Serve ``root`` on 127.0.0.1 (a free port) while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    served = Served(f"http://127.0.0.1:{server.server_address[1]}", root)
    server.requests = served.requests  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def closed_port() -> str:
    """``http://127.0.0.1:PORT`` where nothing listens: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
