"""robots.txt policy per host, read with protego and applied the RFC 9309 way.

- 2xx: parsed (only the first ``robots_max_bytes``; RFC 9309 asks parsers to read at least 500 KiB).
- 4xx (404 and friends): no rules, everything allowed.
- 5xx, 429, timeouts, refused connections: everything disallowed (the server may be in trouble).
- Redirects are followed (up to five hops, each re-checked by the SSRF guard).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from protego import Protego

from detector.errors import FetchError, RobotsDisallowedError, UnsafeURLError
from detector.source.fetch import Response, fetch

log = logging.getLogger(__name__)

ROBOTS_AGENT = "stemcheck"


@dataclass
class RobotsPolicy:
    """What one host's robots.txt allows, and how it was obtained (for the report and the WARC)."""

    url: str
    status: str  # "parsed", "missing" (4xx: allow all), "unavailable" (5xx/error: disallow all)
    detail: str = ""
    parser: Protego | None = None
    response: Response | None = None
    sitemaps: list[str] = field(default_factory=list)

    def allowed(self, url: str) -> bool:
        if self.status == "unavailable":
            return False
        if self.parser is None:
            return True
        return bool(self.parser.can_fetch(url, ROBOTS_AGENT))

    def check(self, url: str) -> None:
        """Raise RobotsDisallowedError when url may not be fetched."""
        if not self.allowed(url):
            why = f"robots.txt unavailable ({self.detail})" if self.status == "unavailable" else "robots.txt"
            raise RobotsDisallowedError(f"{url}: disallowed by {why}")

    def crawl_delay(self, cap: float) -> float | None:
        """Crawl-delay (or the interval of a Request-rate) for our agent, capped; None if not set."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(ROBOTS_AGENT)
        rate = self.parser.request_rate(ROBOTS_AGENT)
        if rate is not None and rate.requests:
            interval = rate.seconds / rate.requests
            delay = max(delay or 0.0, interval)
        if delay is None:
            return None
        return min(max(0.0, float(delay)), cap)


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def load_policy(url: str, fetch_settings, robots_max_bytes: int, allow_private: bool = False) -> RobotsPolicy:  # noqa: ANN001
    """Fetch and parse the robots.txt that governs url."""
    target = robots_url(url)
    try:
        resp = fetch(target, fetch_settings, allow_private=allow_private, accept=None)
    except UnsafeURLError:
        raise  # a refused address is the caller's error to report, not an unavailable robots.txt
    except FetchError as exc:
        log.info("robots.txt %s unavailable: %s", target, exc)
        return RobotsPolicy(target, "unavailable", f"{exc.reason}: {exc}")
    if resp.status == 429 or resp.status >= 500:
        return RobotsPolicy(target, "unavailable", f"HTTP {resp.status}", response=resp)
    if resp.status >= 400:
        return RobotsPolicy(target, "missing", f"HTTP {resp.status}", response=resp)
    if resp.status != 200:
        return RobotsPolicy(target, "missing", f"HTTP {resp.status}", response=resp)
    text = resp.body[:robots_max_bytes].decode("utf-8", errors="replace")
    try:
        parser = Protego.parse(text)
    except Exception as exc:  # protego is lenient; a failure here means a body we cannot read at all
        log.warning("robots.txt %s unparseable: %s", target, exc)
        return RobotsPolicy(target, "missing", f"unparseable ({exc.__class__.__name__})", response=resp)
    detail = f"HTTP 200, {len(resp.body):,} bytes" + (" (truncated)" if len(resp.body) > robots_max_bytes else "")
    return RobotsPolicy(target, "parsed", detail, parser, resp, list(parser.sitemaps))


class RobotsCache:
    """One policy per scheme+host+port, fetched before the first page of that host."""

    def __init__(self, fetch_settings, robots_max_bytes: int, allow_private: bool = False):  # noqa: ANN001
        self.fetch_settings, self.max_bytes, self.allow_private = fetch_settings, robots_max_bytes, allow_private
        self._policies: dict[str, RobotsPolicy] = {}

    def get(self, url: str) -> tuple[RobotsPolicy, bool]:
        """The policy for url's host and whether it was fetched just now."""
        key = robots_url(url)
        if key in self._policies:
            return self._policies[key], False
        policy = load_policy(url, self.fetch_settings, self.max_bytes, self.allow_private)
        self._policies[key] = policy
        return policy, True
