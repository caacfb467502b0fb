"""Fetch one page safely: SSRF guard, pinned address, timeouts, size cap, re-checked redirects.

The checked address is the one connected to (no second DNS lookup), so a name cannot resolve to a public
address for the check and a private one for the request.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urljoin, urlsplit

from detector.errors import FetchError, UnsafeURLError
from detector.settings import FetchSettings

log = logging.getLogger(__name__)

_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


@dataclass
class Response:
    """A fetched page: final URL, status, headers we need, and the capped body."""

    url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes
    redirects: list[str]


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def resolve_safe(url: str, settings: FetchSettings, allow_private: bool = False) -> tuple[str, str, int, str]:
    """Validate a URL and resolve its host; returns (scheme, host, port, ip) or raises UnsafeURLError."""
    if len(url) > settings.max_url_length:
        raise UnsafeURLError(f"{url[:80]}...: URL longer than {settings.max_url_length} characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise UnsafeURLError(f"{url}: only http and https URLs are fetched")
    if parts.username or parts.password:
        raise UnsafeURLError(f"{url}: URLs with user names or passwords are refused")
    host = parts.hostname
    if not host:
        raise UnsafeURLError(f"{url}: no host name")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURLError(f"{url}: invalid port") from exc
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"{url}: cannot resolve host {host!r}") from exc
    addrs = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addrs:
        raise FetchError(f"{url}: host {host!r} has no address")
    if not allow_private:
        bad = [str(a) for a in addrs if not _is_public(a)]
        if bad:
            raise UnsafeURLError(
                f"{url}: {host} resolves to a non-public address ({bad[0]}); refused "
                "(use --allow-private for intranet or test servers)"
            )
    if not allow_private and port not in settings.allowed_ports:
        raise UnsafeURLError(f"{url}: port {port} is refused (only {settings.allowed_ports})")
    return scheme, host, port, str(addrs[0])


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed IP while verifying the certificate for the real host name (SNI)."""

    def __init__(self, ip: str, host: str, port: int, timeout: float):
        super().__init__(ip, port, timeout=timeout, context=ssl.create_default_context())
        self._sni_host = host

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._sni_host)


def fetch_page(url: str, settings: FetchSettings | None = None, allow_private: bool = False) -> Response:
    """GET one page, following at most ``max_redirects`` redirects, each re-checked against the guard."""
    cfg = settings or FetchSettings()
    deadline = time.monotonic() + cfg.total_timeout
    redirects: list[str] = []
    current = url
    for _hop in range(cfg.max_redirects + 1):
        scheme, host, port, ip = resolve_safe(current, cfg, allow_private)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"{url}: total timeout of {cfg.total_timeout:.0f}s exceeded")
        timeout = min(cfg.connect_timeout, cfg.read_timeout, remaining)
        conn = (
            _PinnedHTTPS(ip, host, port, timeout)
            if scheme == "https"
            else http.client.HTTPConnection(ip, port, timeout=timeout)
        )
        parts = urlsplit(current)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = host if port in (80, 443) else f"{host}:{port}"
        try:
            conn.request("GET", path, headers={
                "Host": host_header, "User-Agent": cfg.user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.5",
                "Accept-Encoding": "identity",
            })
            resp = conn.getresponse()
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.getheader("Location")
                conn.close()
                if not location:
                    raise FetchError(f"{current}: redirect without a Location header")
                current = urljoin(current, location)
                redirects.append(current)
                continue
            if resp.status >= 400:
                raise FetchError(f"{current}: HTTP {resp.status} {resp.reason}")
            msg = Message()
            msg["content-type"] = resp.getheader("Content-Type") or ""
            ctype = msg.get_content_type() if msg["content-type"] else ""
            if ctype and not ctype.startswith(_HTML_TYPES):
                raise FetchError(f"{current}: content type {ctype} is not HTML or text")
            body = bytearray()
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(f"{url}: total timeout of {cfg.total_timeout:.0f}s exceeded")
                chunk = resp.read(65536)
                if not chunk:
                    break
                body += chunk
                if len(body) > cfg.max_bytes:
                    raise FetchError(f"{current}: body larger than {cfg.max_bytes:,} bytes")
            return Response(current, resp.status, ctype, msg.get_param("charset"), bytes(body), redirects)
        except TimeoutError as exc:
            raise FetchError(f"{current}: timed out") from exc
        except ssl.SSLError as exc:
            raise FetchError(f"{current}: TLS error ({exc.reason})") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(f"{current}: connection failed ({exc.__class__.__name__}: {exc})") from exc
        finally:
            conn.close()
    raise FetchError(f"{url}: more than {cfg.max_redirects} redirects")
