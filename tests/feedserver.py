"""A real HTTP server on 127.0.0.1 serving feed fixtures, error pages, truncated and slow bodies."""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FeedServer:
    """Routes map a path to (status, body bytes, delay seconds); every request is recorded."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host  # any 127.x.y.z is loopback: two servers, two host names
        self.routes: dict[str, tuple[int, bytes, float]] = {}
        self.headers: dict[str, dict[str, str]] = {}  # extra response headers by path
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlparse(self.path)
                server.requests.append((url.path, parse_qs(url.query), dict(self.headers)))
                status, body, delay = server.routes.get(url.path, (404, b"not found", 0.0))
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                for name, value in server.headers.get(url.path, {}).items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (timeout tests)
                    self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.httpd.server_port}{path}"

    def route(self, path: str, body: bytes | str, status: int = 200, delay: float = 0.0) -> str:
        self.routes[path] = (status, body.encode() if isinstance(body, str) else body, delay)
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        """A route answering `status` with `Location: location`."""
        self.headers[path] = {"Location": location}
        return self.route(path, b"", status)

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
