from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from detector.check import Detector
from detector.nlp.pipeline import ClaimExtractor, build_nlp

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpora"
REALWORLD = ROOT.parent / "shared" / "realworld-dev" / "pages.jsonl"


@pytest.fixture(scope="session")
def detector() -> Detector:
    return Detector.load(ROOT / "models")


@pytest.fixture(scope="session")
def nlp():
    return build_nlp(CORPUS / "lexicons")


@pytest.fixture(scope="session")
def extractor(nlp) -> ClaimExtractor:
    return ClaimExtractor(nlp)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self) -> None:  # noqa: N802
        status, headers, body = self.routes.get(self.path, (404, {}, b"nope"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@contextmanager
def local_server(routes: dict) -> Iterator[str]:
    """A web server on 127.0.0.1 (never another address) serving fixed routes; stops itself."""
    handler = type("Handler", (_Handler,), {"routes": routes})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
