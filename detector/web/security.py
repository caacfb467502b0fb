"""Security measures that wrap every response: headers, body-size cap, per-client rate limit, origin check.

It is a plain ASGI middleware rather than FastAPI dependencies so that nothing escapes it: static files,
404s, 413/429 refusals and even unhandled exceptions (turned into a 500 here) all carry the same headers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass(frozen=True)
class WebLimits:
    """Limits of the web face; the crawl itself is bounded by CrawlSettings/FetchSettings.

    requests_per_minute counts every request of one client address except static files, so one
    journalist clicking around never meets it but a script hammering the API does.
    """

    max_body_bytes: int = 1_000_000
    max_text_chars: int = 200_000
    max_jobs: int = 2
    max_sync_fetches: int = 4
    requests_per_minute: int = 120
    max_kept_results: int = 100
    max_tracked_clients: int = 10_000


class RateLimiter:
    """A sliding one-minute window per client; bounded memory (the stalest clients are dropped)."""

    def __init__(self, per_minute: int, max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.per_minute, self.max_clients, self.clock = per_minute, max_clients, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> tuple[bool, int]:
        """(allowed, seconds until a slot frees up)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(client)
            if hits is None:
                if len(self._hits) >= self.max_clients:
                    self._prune(now)
                hits = self._hits[client] = deque()
            while hits and now - hits[0] >= 60.0:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return False, max(1, int(60.0 - (now - hits[0])) + 1)
            hits.append(now)
            return True, 0

    def _prune(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or now - v[-1] >= 60.0]:
            del self._hits[key]
        while len(self._hits) >= self.max_clients:
            del self._hits[next(iter(self._hits))]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class SecurityMiddleware:
    """Adds SECURITY_HEADERS to every response and refuses oversized, too frequent or cross-origin requests."""

    def __init__(self, app: ASGIApp, limits: WebLimits | None = None):
        self.app = app
        self.limits = limits or WebLimits()
        self.limiter = RateLimiter(self.limits.requests_per_minute, self.limits.max_tracked_clients)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        too_large = False
        replaced = False
        limit = self.limits.max_body_bytes
        path: str = scope.get("path", "")

        async def send_secure(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                if too_large:  # whatever the app made of a truncated body, the answer is 413
                    replaced = True
                    await _reply(send_secure_raw, path, 413, f"The request body is over the {limit:,}-byte limit.")
                    return
                started = True
            await send_secure_raw(message)

        async def send_secure_raw(message: Message) -> None:
            if message["type"] == "http.response.start":
                drop = {h.lower().encode("latin-1") for h in SECURITY_HEADERS}
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in drop]
                headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = headers
            await send(message)

        refusal = self._refusal(scope, path)
        if refusal is not None:
            await _reply(send_secure_raw, path, *refusal)
            return
        received = 0

        async def receive_capped() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # a chunked body with no Content-Length: cut it here
                    too_large = True
                    log.info("refused a body over %d bytes on %s", limit, path)
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        try:
            await self.app(scope, receive_capped, send_secure)
        except Exception:  # noqa: BLE001 - last line of defence: log it, answer 500 with the headers
            log.exception("unhandled error on %s", path)
            if not started and not replaced:
                await _reply(send_secure_raw, path, 500, "Internal error; it has been logged.")

    def _refusal(self, scope: Scope, path: str) -> tuple[int, str, dict[str, str]] | None:
        method = scope.get("method", "GET")
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                if int(length) > self.limits.max_body_bytes:
                    return 413, f"The request body is over the {self.limits.max_body_bytes:,}-byte limit.", {}
            except ValueError:
                return 400, "Bad Content-Length header.", {}
        if method not in ("GET", "HEAD", "OPTIONS"):
            # Our own pages send Origin: null (Referrer-Policy: no-referrer), so an attacker's page could too:
            # browsers' Sec-Fetch-Site is what tells a cross-site post apart; Origin covers older clients.
            site = (_header(scope, b"sec-fetch-site") or "").lower()
            origin = _header(scope, b"origin")
            host = _header(scope, b"host")
            if site in ("cross-site", "same-site") or (
                    origin and origin != "null" and host and urlsplit(origin).netloc.lower() != host.lower()):
                return 403, "Cross-origin form posts are refused.", {}
        if not path.startswith("/static/"):
            client = (scope.get("client") or ("unknown", 0))[0]
            ok, wait = self.limiter.allow(str(client))
            if not ok:
                return 429, (f"Too many requests: the limit is {self.limits.requests_per_minute} a minute per "
                             f"client. Try again in {wait} s."), {"Retry-After": str(wait)}
        return None


async def _reply(send: Send, path: str, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """A refusal in the shape the caller expects: JSON for the API, a tiny static HTML page otherwise.

    The message is built from constants and numbers only, never from the request, so it needs no escaping.
    """
    if path.startswith("/api/"):
        body = json.dumps({"error": message, "status": status}).encode()
        ctype = "application/json"
    else:
        body = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{status}</title>"
                f"<link rel='stylesheet' href='/static/app.css'></head><body><main><h1>Error {status}</h1>"
                f"<p class='error'>{message}</p><p><a href='/'>Back to Check</a></p></main></body></html>").encode()
        ctype = "text/html; charset=utf-8"
    raw = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
