"""Safe HTTP GET: SSRF guard, pinned address, timeouts, raw and decoded size caps, re-checked redirects.

The checked address is the one connected to (no second DNS lookup), so a name cannot resolve to a public
address for the check and a private one for the request. Bodies are streamed and cut at a byte limit both
before and after content decoding, so a small gzip or brotli bomb is refused without being inflated.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import SplitResult, urlsplit

from detector.errors import FetchError, InputError, UnsafeURLError
from detector.settings import FetchSettings
from detector.source.url import join_url, split_url, valid_host

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
REDIRECTS = (301, 302, 303, 307, 308)

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0].split("%")[0] for info in infos]


@dataclass
class Response:
    """One HTTP exchange: what was sent, what came back (raw and decoded), and where it went."""

    url: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    content_type: str
    charset: str | None
    body: bytes
    raw_body: bytes = b""
    http_version: str = "HTTP/1.1"
    ip: str = ""
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    redirects: list[str] = field(default_factory=list)
    started: float = 0.0
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def is_html(self) -> bool:
        return not self.content_type or self.content_type.startswith(HTML_TYPES)


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable unicast only; IPv4-mapped and 6to4-style embeddings are unwrapped first."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    return ip.is_global and not ip.is_multicast and not ip.is_reserved and not ip.is_unspecified


def refuse_form(url: str, settings: FetchSettings) -> SplitResult:
    """The checks a URL's spelling alone decides (length, scheme, userinfo, host); UnsafeURLError if refused.

    URL lists run these per line before any crawl, so one refused line never takes its site's other lines
    with it; resolve_safe runs them again before every request.
    """
    if len(url) > settings.max_url_length:
        raise UnsafeURLError(f"{url[:80]}...: URL longer than {settings.max_url_length} characters", "url")
    try:
        parts = split_url(url)
    except InputError as exc:
        raise UnsafeURLError(str(exc), "url") from exc
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise UnsafeURLError(f"{url}: only http and https URLs are fetched", "scheme")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeURLError(f"{url}: URLs with user names or passwords are refused", "userinfo")
    if not parts.hostname:
        raise UnsafeURLError(f"{url}: no host name", "url")
    if not valid_host(parts.hostname):
        raise UnsafeURLError(f"{url}: {parts.hostname!r} is not a valid host name", "url")
    return parts


def resolve_safe(
    url: str, settings: FetchSettings, allow_private: bool = False, resolver: Resolver | None = None
) -> tuple[str, str, int, str]:
    """Validate a URL and resolve its host; returns (scheme, host, port, ip) or raises UnsafeURLError."""
    parts = refuse_form(url, settings)
    scheme, host = parts.scheme.lower(), str(parts.hostname)
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURLError(f"{url}: invalid port", "port") from exc
    try:
        raw = (resolver or system_resolver)(host, port)
        addrs = [ipaddress.ip_address(a) for a in raw]
    except (OSError, UnicodeError, ValueError) as exc:
        raise FetchError(f"{url}: cannot resolve host {host!r}", "dns") from exc
    if not addrs:
        raise FetchError(f"{url}: host {host!r} has no address", "dns")
    if not allow_private:
        bad = [str(a) for a in addrs if not is_public(a)]
        if bad:
            raise UnsafeURLError(
                f"{url}: {host} resolves to a non-public address ({bad[0]}); refused "
                "(use --allow-private for intranet or test servers)",
                "private_address",
            )
    if not allow_private and port not in settings.allowed_ports:
        raise UnsafeURLError(f"{url}: port {port} is refused (only {settings.allowed_ports})", "port")
    return scheme, host, port, str(addrs[0])


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed IP while verifying the certificate for the real host name (SNI)."""

    def __init__(self, ip: str, host: str, port: int, timeout: float):
        super().__init__(ip, port, timeout=timeout, context=ssl.create_default_context())
        self._sni_host = host

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self._raw_sock = sock  # the deadline watchdog can cut a handshake that drips
        self.sock = self._context.wrap_socket(sock, server_hostname=self._sni_host)


class _Deadline:
    """Shuts the connection's socket down when the total timeout passes.

    Socket timeouts bound each recv, not their sum: a server that drips its status line, headers or
    chunk-size lines one byte at a time would otherwise hold a request far past total_timeout.
    """

    def __init__(self, conn: http.client.HTTPConnection, seconds: float):
        self.conn, self.sock, self.fired = conn, None, False
        self._timer = threading.Timer(max(0.0, seconds), self._cut)
        self._timer.daemon = True
        self._timer.start()

    def _cut(self) -> None:
        self.fired = True
        for s in (getattr(self.conn, "_raw_sock", None), self.conn.sock, self.sock):
            if s is not None:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(s, socket.SHUT_RDWR)  # the plain call: no TLS state is torn down

    def cancel(self) -> None:
        self._timer.cancel()


class _Decoder:
    """One content-encoding layer, streamed, with the decoded output capped."""

    def __init__(self, encoding: str, limit: int, url: str):
        self.limit, self.url, self.size = limit, url, 0
        enc = encoding.strip().lower()
        self._brotli = None
        self._zlib = None
        if enc in ("", "identity", "none"):
            self.kind = "identity"
        elif enc in ("gzip", "x-gzip"):
            self.kind, self._zlib = "gzip", zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self.kind, self._zlib = "deflate", zlib.decompressobj()
        elif enc == "br":
            try:
                import brotli
            except ImportError as exc:  # pragma: no cover - brotli is a dependency
                raise FetchError(f"{url}: brotli content encoding needs the brotli package", "encoding") from exc
            self.kind, self._brotli = "br", brotli.Decompressor()
        elif "," in enc:
            raise FetchError(f"{url}: stacked content encodings ({encoding}) are not decoded", "encoding")
        else:
            raise FetchError(f"{url}: unsupported content encoding {encoding!r}", "encoding")

    def _grow(self, n: int) -> None:
        self.size += n
        if self.size > self.limit:
            raise FetchError(f"{self.url}: decoded body larger than {self.limit:,} bytes", "too_large")

    def feed(self, data: bytes) -> bytes:
        try:
            if self.kind == "identity":
                self._grow(len(data))
                return data
            if self._zlib is not None:
                out = bytearray()
                chunk = self._zlib.decompress(data, self.limit - self.size + 1)
                while True:
                    self._grow(len(chunk))
                    out += chunk
                    if not self._zlib.unconsumed_tail:
                        return bytes(out)
                    chunk = self._zlib.decompress(self._zlib.unconsumed_tail, self.limit - self.size + 1)
            out = bytearray()
            chunk = self._brotli.process(data, output_buffer_limit=self.limit - self.size + 1)
            while True:
                self._grow(len(chunk))
                out += chunk
                if self._brotli.can_accept_more_data():
                    return bytes(out)
                chunk = self._brotli.process(b"", output_buffer_limit=self.limit - self.size + 1)
        except zlib.error as exc:
            raise FetchError(f"{self.url}: corrupt {self.kind} body ({exc})", "encoding") from exc
        except Exception as exc:
            if isinstance(exc, FetchError):
                raise
            raise FetchError(f"{self.url}: corrupt {self.kind} body ({exc})", "encoding") from exc


def _content_type(value: str | None) -> tuple[str, str | None]:
    msg = Message()
    msg["content-type"] = value or ""
    if not value:
        return "", None
    charset = msg.get_param("charset")
    return msg.get_content_type(), charset if isinstance(charset, str) else None


def _exchange(
    url: str, cfg: FetchSettings, allow_private: bool, headers: dict[str, str], deadline: float,
    accept: tuple[str, ...] | None, resolver: Resolver | None,
) -> Response:
    scheme, host, port, ip = resolve_safe(url, cfg, allow_private, resolver)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError(f"{url}: total timeout of {cfg.total_timeout:.0f}s exceeded", "timeout")
    timeout = min(cfg.connect_timeout, cfg.read_timeout, remaining)
    conn = (
        _PinnedHTTPS(ip, host, port, timeout)
        if scheme == "https"
        else http.client.HTTPConnection(ip, port, timeout=timeout)
    )
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if scheme == "https" else 80
    sent = {
        "Host": host if port == default_port else f"{host}:{port}",
        "User-Agent": cfg.user_agent,
        "Accept": "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.5",
        "Accept-Encoding": cfg.accept_encoding,
        **headers,
    }
    started = time.time()
    t0 = time.monotonic()
    watchdog = _Deadline(conn, deadline - t0)
    try:
        conn.request("GET", path, headers=sent)
        sock = watchdog.sock = conn.sock  # kept: http.client drops it when the server closes after the response
        resp = conn.getresponse()
        raw_headers = [(k, v) for k, v in resp.getheaders() if k.lower() != "transfer-encoding"]
        ctype, charset = _content_type(resp.getheader("Content-Type"))
        result = Response(
            url=url, status=resp.status, reason=resp.reason or "", headers=raw_headers, content_type=ctype,
            charset=charset, body=b"", http_version="HTTP/1.0" if resp.version == 10 else "HTTP/1.1",
            ip=ip, request_headers=[("GET", path)] + list(sent.items()), started=started,
        )
        if resp.status in REDIRECTS or resp.status == 304 or resp.status >= 400:
            result.elapsed = time.monotonic() - t0
            return result
        if accept is not None and ctype and not ctype.startswith(accept):
            raise FetchError(f"{url}: content type {ctype} is not HTML or text", "not_html")
        length = resp.getheader("Content-Length")
        if length and length.strip().isdigit() and int(length) > cfg.max_bytes:
            raise FetchError(
                f"{url}: Content-Length {int(length):,} is larger than the {cfg.max_bytes:,}-byte cap", "too_large"
            )
        decoder = _Decoder(resp.getheader("Content-Encoding") or "", cfg.max_decoded_bytes, url)
        raw, body = bytearray(), bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FetchError(f"{url}: total timeout of {cfg.total_timeout:.0f}s exceeded", "timeout")
            if sock is not None:
                sock.settimeout(max(0.05, min(cfg.read_timeout, left)))
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                if watchdog.fired:
                    raise TimeoutError
                break
            raw += chunk
            if len(raw) > cfg.max_bytes:
                raise FetchError(f"{url}: body larger than {cfg.max_bytes:,} bytes", "too_large")
            body += decoder.feed(chunk)
        result.raw_body, result.body = bytes(raw), bytes(body)
        result.elapsed = time.monotonic() - t0
        return result
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if watchdog.fired:
            raise FetchError(f"{url}: total timeout of {cfg.total_timeout:.0f}s exceeded", "timeout") from exc
        if isinstance(exc, TimeoutError):
            raise FetchError(f"{url}: timed out", "timeout") from exc
        if isinstance(exc, ssl.SSLError):
            raise FetchError(f"{url}: TLS error ({exc.reason})", "tls") from exc
        if isinstance(exc, http.client.IncompleteRead):
            raise FetchError(f"{url}: connection closed before the body was complete", "connection") from exc
        raise FetchError(f"{url}: connection failed ({exc.__class__.__name__}: {exc})", "connection") from exc
    finally:
        watchdog.cancel()
        conn.close()


def fetch(
    url: str,
    settings: FetchSettings | None = None,
    allow_private: bool = False,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = True,
    accept: tuple[str, ...] | None = HTML_TYPES,
    resolver: Resolver | None = None,
) -> Response:
    """GET url; with follow_redirects, at most ``max_redirects`` hops, each re-checked against the guard.

    Without follow_redirects a 3xx comes back as it is (the crawler records each hop). 4xx/5xx and 304
    responses are returned, not raised, so callers can apply robots and back-off rules to them.
    """
    cfg = settings or FetchSettings()
    deadline = time.monotonic() + cfg.total_timeout
    chain: list[str] = []
    current = url
    for _hop in range(cfg.max_redirects + 1):
        resp = _exchange(current, cfg, allow_private, headers or {}, deadline, accept, resolver)
        if not follow_redirects or resp.status not in REDIRECTS:
            resp.redirects = chain
            return resp
        location = resp.header("Location")
        if not location:
            raise FetchError(f"{current}: redirect without a Location header", "redirect")
        try:
            current = join_url(current, location.strip())
        except InputError as exc:
            raise FetchError(f"{current}: redirect to an unusable URL ({exc})", "redirect") from exc
        chain.append(current)
    raise FetchError(f"{url}: more than {cfg.max_redirects} redirects", "redirect_limit")


def fetch_page(url: str, settings: FetchSettings | None = None, allow_private: bool = False) -> Response:
    """One page for `stemcheck check URL`: redirects followed, HTML or text only, errors raised."""
    resp = fetch(url, settings, allow_private)
    if resp.status >= 400:
        raise FetchError(f"{resp.url}: HTTP {resp.status} {resp.reason}", "http_status")
    if resp.status != 200 and not resp.body:
        raise FetchError(f"{resp.url}: HTTP {resp.status} with no body", "http_status")
    return resp
