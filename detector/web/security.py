"""Security measures that wrap every response: headers, allowed Host names, body-size cap, a body timeout,
per-client rate limit, origin check.

It is a plain ASGI middleware rather than FastAPI dependencies so that nothing escapes it: static files,
404s, 413/429 refusals and even unhandled exceptions (turned into a 500 here) all carry the same headers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from detector.settings import WebSettings

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


WebLimits = WebSettings  # the web face's limits are a settings section (STEMCHECK_WEB_*, `serve --rate-limit`)


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


LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
ALL_INTERFACES = ("0.0.0.0", "::", "")


def host_name(value: str) -> str:
    """The name in a Host header, without port, brackets or trailing dot, lower-cased ('' if unusable)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else ""
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    elif ":" in value:  # an IPv6 address without brackets is not a valid Host
        return ""
    return value.rstrip(".")


def allowed_hosts(bind: str | None = None, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names the app answers to: localhost's names, the address it is bound to, and any named ones.

    A server on 127.0.0.1 that answered any Host could be driven by a web page through DNS rebinding (a
    name the attacker controls, re-pointed at 127.0.0.1); one that checks the name cannot.
    """
    names = {host_name(n) or n.strip().lower() for n in (*LOCAL_NAMES, *extra)}
    if bind and bind not in ALL_INTERFACES:
        names.add(host_name(bind) or bind.strip("[]").lower())
    return frozenset(n for n in names if n)


class SecurityMiddleware:
    """Adds SECURITY_HEADERS to every response and refuses requests to unknown Host names, and oversized,
    too slow, too frequent or cross-origin requests."""

    def __init__(self, app: ASGIApp, limits: WebLimits | None = None, hosts: Iterable[str] | None = None):
        self.app = app
        self.limits = limits or WebLimits()
        self.hosts = frozenset(hosts) if hosts is not None else allowed_hosts()
        self.limiter = RateLimiter(self.limits.requests_per_minute, self.limits.max_tracked_clients)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        too_large = False
        too_slow = False
        replaced = False
        limit = self.limits.max_body_bytes
        path: str = scope.get("path", "")
        slow = f"The request body did not arrive within {self.limits.body_timeout:g} s."

        async def send_secure(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                if too_large or too_slow:  # whatever the app made of a cut body, the answer is 413 or 408
                    replaced = True
                    if too_large:
                        await _reply(send_secure_raw, path, 413, f"The request body is over the {limit:,}-byte limit.")
                    else:
                        await _reply(send_secure_raw, path, 408, slow, {"Connection": "close"})
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
        body_done = False
        loop = asyncio.get_running_loop()
        body_deadline = loop.time() + self.limits.body_timeout  # the whole body, however it is dripped

        async def receive_capped() -> Message:
            nonlocal received, too_large, too_slow, body_done
            if too_large:
                return {"type": "http.request", "body": b"", "more_body": False}
            if too_slow:
                return {"type": "http.disconnect"}
            if body_done:  # after the body, the app may wait for a disconnect as long as it likes
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, body_deadline - loop.time()))
            except TimeoutError:
                too_slow = True
                log.info("cut a request body that took over %g s on %s", self.limits.body_timeout, path)
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > limit:  # a chunked body with no Content-Length: cut it here
                    too_large = True
                    log.info("refused a body over %d bytes on %s", limit, path)
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        try:
            await self.app(scope, receive_capped, send_secure)
        except Exception:  # noqa: BLE001 - last line of defence: log it, answer 500 with the headers
            if too_slow:
                if not started and not replaced:
                    await _reply(send_secure_raw, path, 408, slow, {"Connection": "close"})
                return
            log.exception("unhandled error on %s", path)
            if not started and not replaced:
                await _reply(send_secure_raw, path, 500, "Internal error; it has been logged.")

    def _refusal(self, scope: Scope, path: str) -> tuple[int, str, dict[str, str]] | None:
        method = scope.get("method", "GET")
        if host_name(_header(scope, b"host") or "") not in self.hosts:
            return 400, ("Unknown Host: this server answers only to the names it was started for "
                         "(stemcheck serve --allowed-host NAME adds one)."), {}
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
                    origin and origin != "null" and host and _netloc(origin) != host.lower()):
                return 403, "Cross-origin form posts are refused.", {}
        if not path.startswith("/static/"):
            client = (scope.get("client") or ("unknown", 0))[0]
            ok, wait = self.limiter.allow(str(client))
            if not ok:
                return 429, (f"Too many requests: the limit is {self.limits.requests_per_minute} a minute per "
                             f"client. Try again in {wait} s."), {"Retry-After": str(wait)}
        return None


def _netloc(origin: str) -> str:
    """An Origin header's host:port; '' for one urllib cannot parse (a hostile `http://[::1`)."""
    try:
        return urlsplit(origin).netloc.lower()
    except ValueError:
        return ""


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
