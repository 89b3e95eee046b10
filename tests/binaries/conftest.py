"""A local HTTP server on 127.0.0.1 standing in for the nightly bucket, and a user cache in tmp_path.

The server serves `files` (name -> bytes, changeable by a test: "good" and the official arm file names hold
the same bytes, the x86_64 name other bytes) with the response headers in `headers` (name -> {header: value},
e.g. Last-Modified and ETag as the nightly bucket sends them), transfers that break off (`broken` names, `truncated` from the
start: Content-Length of the whole body, a third of it sent, then the connection closes) and 404 for the rest.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

GOOD = bytes(range(256)) * 800  # 200 KiB: several read chunks
NEWER = b"a newer nightly build " * 5000
TRUNCATED = "truncated"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        body = self.server.files.get(name)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        for header, value in self.server.headers.get(name, {}).items():
            self.send_header(header, value)
        self.end_headers()
        if name in self.server.broken:
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # keep pytest output clean
        pass


class BucketServer:
    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.files = {}
        self.httpd.broken = set()
        self.httpd.headers = {}
        # A short poll interval: shutdown() waits for the next poll.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def files(self) -> dict[str, bytes]:
        return self.httpd.files

    @property
    def headers(self) -> dict[str, dict[str, str]]:
        """Extra response headers by file name."""
        return self.httpd.headers

    @property
    def broken(self) -> set[str]:
        """Names whose transfer breaks off after a third of the body."""
        return self.httpd.broken

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def bucket() -> BucketServer:
    server = BucketServer()
    server.files.update({"good": GOOD, "android_aarch64_benchmark_model": GOOD,
                         "android_arm_benchmark_model": GOOD, "android_x86_64_benchmark_model": NEWER,
                         TRUNCATED: GOOD})
    server.broken.add(TRUNCATED)
    server.thread.start()
    yield server
    server.stop()
    assert not server.thread.is_alive()


@pytest.fixture
def offline_url() -> str:
    """A 127.0.0.1 URL nothing listens on: connections are refused, as when offline."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_CACHE_HOME in tmp_path; returns the binaries cache folder under it (not created yet)."""
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("MAI_BENCH_BINARY_BASE_URL", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    return home / "mai-bench" / "binaries"
