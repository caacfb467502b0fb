"""Local test web sites for the crawler: clinic sites built from corpora/pages plus hostile behaviours.

Servers listen on 127.0.0.1 only, on a free port, log every request (time, path, headers) and how many
requests were in flight at once, and stop themselves when the `serve` context ends. Every handler loop
is bounded, so a test that goes wrong cannot hang the suite.
"""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PAGES = Path(__file__).resolve().parent.parent / "corpora" / "pages"
HTML = {"Content-Type": "text/html; charset=utf-8"}

Route = tuple[int, dict[str, str], bytes] | Callable[["Handler"], None]


@dataclass
class Hit:
    at: float
    path: str
    headers: dict[str, str]


@dataclass
class Log:
    hits: list[Hit] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]

    def gaps(self) -> list[float]:
        return [b.at - a.at for a, b in zip(self.hits, self.hits[1:], strict=False)]


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, Route] = {}
    log: Log

    def do_GET(self) -> None:  # noqa: N802
        log = self.log
        with log.lock:
            log.hits.append(Hit(time.monotonic(), self.path, {k.lower(): v for k, v in self.headers.items()}))
            log.active += 1
            log.max_active = max(log.max_active, log.active)
        try:
            route = self.routes.get(self.path) or self.routes.get(self.path.split("?")[0])
            if route is None:
                self.reply(404, {"Content-Type": "text/plain"}, b"not found")
            elif callable(route):
                route(self)
            else:
                self.reply(*route)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with log.lock:
                log.active -= 1

    def reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[tuple[str, Log]]:
    """Serve routes on 127.0.0.1; yields (base URL, request log)."""
    log = Log()
    handler = type("SiteHandler", (Handler,), {"routes": routes, "log": log})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def nav(links: dict[str, str], body: str = "") -> bytes:
    items = "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in links.items())
    return (f"<html><head><title>Clinic home</title></head><body><nav><ul>{items}</ul></nav>"
            f"<main><h1>Welcome</h1><p>{body or 'We are a regenerative medicine practice.'}</p></main>"
            "</body></html>").encode()


def clinic_site(pages: dict[str, str], robots: str = "User-agent: *\nAllow: /\n", extra: dict | None = None
                ) -> dict[str, Route]:
    """A small site: a home page linking to corpus pages at the given paths, plus robots.txt."""
    routes: dict[str, Route] = {
        "/robots.txt": (200, {"Content-Type": "text/plain"}, robots.encode()),
        "/": (200, HTML, nav({path: path.strip("/").replace("-", " ") or "home" for path in pages})),
    }
    for path, name in pages.items():
        routes[path] = (200, HTML, page(name))
    routes.update(extra or {})
    return routes


def drip(total_bytes: int = 200, every: float = 0.1) -> Callable[[Handler], None]:
    """A body sent one byte at a time; stops after total_bytes or when the client goes away."""
    def handle(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(total_bytes))
        h.end_headers()
        for _ in range(total_bytes):
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(every)
    return handle


_BOMB: bytes | None = None


def gzip_bomb() -> bytes:
    """About 50 KB of gzip that inflates to 50 MB."""
    global _BOMB
    if _BOMB is None:
        _BOMB = gzip.compress(b"\0" * 50_000_000, compresslevel=9)
    return _BOMB


def calendar(h: Handler) -> None:
    """An endless calendar: every month links to the next one."""
    month = int(h.path.split("month=")[1]) if "month=" in h.path else 0
    body = f'<html><body><h1>Events {month}</h1><a href="/calendar?month={month + 1}">next month</a></body></html>'
    h.reply(200, HTML, body.encode())


def once_busy(status: int, retry_after: str, then: bytes) -> Callable[[Handler], None]:
    """First request: status with Retry-After; later requests: the page."""
    state = {"n": 0}

    def handle(h: Handler) -> None:
        state["n"] += 1
        if state["n"] == 1:
            h.reply(status, {"Retry-After": retry_after, "Content-Type": "text/plain"}, b"busy")
        else:
            h.reply(200, HTML, then)
    return handle


def with_etag(body: bytes, etag: str = '"v1"') -> Callable[[Handler], None]:
    """A page that answers If-None-Match with 304."""
    def handle(h: Handler) -> None:
        if h.headers.get("If-None-Match") == etag:
            h.reply(304, {"ETag": etag}, b"")
        else:
            h.reply(200, {**HTML, "ETag": etag, "Last-Modified": "Mon, 02 Nov 2026 10:00:00 GMT"}, body)
    return handle
