"""Web archives as a source of a page's past: the capture index, which captures to read, and their bytes.

`ArchiveSource` is the interface a history reads. `WaybackArchive` implements it over the CDX API of the
Wayback Machine (which pywb also serves) and its `id_` replays, the page as archived without banner or
rewritten links. A second source (Common Crawl's index server, with WARC byte ranges instead of replays)
implements the same three methods. Every request goes through our SSRF-guarded fetcher, one at a time,
`delay` seconds apart, backing off on 429/503 as Retry-After asks; the index is read by our own small
parser so no client library makes requests we cannot guard.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlencode

from detector.errors import ArchiveError, FetchError, InputError
from detector.settings import Settings, load_settings
from detector.source.crawl import parse_retry_after
from detector.source.fetch import HTML_TYPES, REDIRECTS, Resolver, Response, fetch, refuse_form
from detector.source.url import join_url

log = logging.getLogger(__name__)

EVERY = ("capture", "month", "year")
HTML_MIMES = ("text/html", "application/xhtml+xml")
TIMESTAMP = re.compile(r"\d{14}")
# The fields we ask the CDX server for, and the names pywb's JSON-lines output gives them.
FIELDS = ("timestamp", "original", "mimetype", "statuscode", "digest", "length")
ALIASES = {"url": "original", "mime": "mimetype", "status": "statuscode"}


@dataclass(frozen=True)
class Capture:
    """One row of a capture index: when the archive saw the URL, what came back, and a content digest."""

    timestamp: str  # 14 digits, UTC, as the CDX index writes it
    url: str
    mimetype: str
    status: int | None  # None for revisit records ("-")
    digest: str
    length: int | None = None

    @property
    def when(self) -> datetime:
        return datetime.strptime(self.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)

    @property
    def is_html(self) -> bool:
        return self.mimetype.lower().startswith(HTML_MIMES)


@dataclass
class Selection:
    """The captures a history reads, oldest first, and what the index held beside them.

    `seen` maps each chosen capture's digest to every capture time with identical content (in range), so a
    page unchanged from 2018 to 2020 is read once yet known to have said the same thing until 2020.
    """

    captures: list[Capture]
    seen: dict[str, list[str]]
    rows: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


class ArchiveSource(Protocol):
    """A web archive that can list a URL's captures and give back a capture's original bytes."""

    name: str
    base: str

    def captures(self, url: str, since: int | None = None, until: int | None = None) -> tuple[list[Capture], int]:
        """The index rows for exactly this URL (years inclusive), and how many rows were unreadable."""

    def replay_url(self, capture: Capture) -> str:
        """A link a reader can open to see the capture in the archive."""

    def fetch(self, capture: Capture) -> Response:
        """The capture's bytes as archived; FetchError (with a reason) when they cannot be had."""


def parse_cdx(data: bytes, source: str, max_rows: int) -> tuple[list[Capture], int]:
    """Captures from a CDX JSON answer: the Wayback form (a header row, then rows of strings) or pywb's JSON
    lines (one object per capture). Unreadable rows are counted, not fatal: archives hold odd records."""
    text = data.decode("utf-8", errors="replace").strip()
    if not text:
        return [], 0
    if text.startswith("["):
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise ArchiveError(f"{source}: the capture index is not valid JSON ({exc})") from exc
        if not isinstance(rows, list):
            raise ArchiveError(f"{source}: the capture index is not a list of captures")
        names = list(FIELDS)
        if rows and isinstance(rows[0], list) and "timestamp" in rows[0] and "original" in rows[0]:
            names = [ALIASES.get(str(n), str(n)) for n in rows[0]]
            rows = rows[1:]
        records = [dict(zip(names, r, strict=False)) if isinstance(r, list) and len(r) == len(names) else None
                   for r in rows[:max_rows]]
    elif not text.startswith("{"):
        raise ArchiveError(f"{source}: the capture index is not valid JSON (it begins {text[:40]!r})")
    else:
        records = []
        for line in text.splitlines()[:max_rows]:
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            records.append({ALIASES.get(k, k): v for k, v in obj.items()} if isinstance(obj, dict) else None)
    captures, junk = [], 0
    for rec in records:
        capture = _capture(rec)
        if capture is None:
            junk += 1
        else:
            captures.append(capture)
    if records and not captures:
        raise ArchiveError(f"{source}: none of the {len(records)} rows of the capture index could be read")
    if junk:
        log.info("%s: %d unreadable rows in the capture index were skipped", source, junk)
    return captures, junk


def _capture(rec: dict | None) -> Capture | None:
    """One index row as a Capture, or None when a field is missing or malformed."""
    if rec is None:
        return None
    ts, url = rec.get("timestamp"), rec.get("original")
    status, digest, mime = rec.get("statuscode", ""), rec.get("digest", ""), rec.get("mimetype", "")
    if not (isinstance(ts, str) and TIMESTAMP.fullmatch(ts) and isinstance(url, str)
            and url.lower().startswith(("http://", "https://")) and url.isprintable() and " " not in url
            and isinstance(mime, str)
            and isinstance(digest, str) and isinstance(status, str | int)):
        return None
    try:  # the constructor, not strptime: a big index has 100,000s of rows
        datetime(int(ts[:4]), int(ts[4:6]), int(ts[6:8]), int(ts[8:10]), int(ts[10:12]), int(ts[12:14]))
    except ValueError:
        return None
    status_s = str(status)
    if status_s not in ("-", "") and not status_s.isdigit():
        return None
    length = rec.get("length")
    return Capture(ts, url, mime, int(status_s) if status_s.isdigit() else None, digest,
                   int(length) if isinstance(length, str | int) and str(length).isdigit() else None)


def _spread(items: list[Capture], n: int) -> list[Capture]:
    """n items evenly spread over the list, always the first and the last."""
    if len(items) <= n:
        return items
    picks = sorted({round(i * (len(items) - 1) / (n - 1)) for i in range(n)})
    return [items[i] for i in picks]


def select_captures(captures: list[Capture], every: str = "capture", max_snapshots: int | None = None,
                    since: int | None = None, until: int | None = None, rows: int | None = None) -> Selection:
    """Which captures to read: HTML with status 200 in the years asked, identical content (same digest) once,
    then at most one new content per month or year (`every`), then an even spread of `max_snapshots`.

    Deduplication comes before thinning, so a month whose first capture repeats older content still gives
    its first *new* content; the server's `collapse=digest` merges only neighbours, so we do it ourselves.
    """
    if every not in EVERY:
        raise InputError(f"--every {every}: expected one of {', '.join(EVERY)}")
    skipped: Counter[str] = Counter()
    seen: dict[str, list[str]] = {}
    firsts: list[Capture] = []
    for c in sorted(captures, key=lambda c: c.timestamp):
        year = int(c.timestamp[:4])
        if (since is not None and year < since) or (until is not None and year > until):
            skipped["outside the years asked"] += 1
        elif c.status != 200:
            skipped["not status 200 (redirect, error or revisit)"] += 1
        elif not c.is_html:
            skipped["not HTML"] += 1
        else:
            key = c.digest or c.timestamp  # no digest: nothing to compare, read it
            if key in seen:
                seen[key].append(c.timestamp)
                skipped["identical to an earlier capture"] += 1
            else:
                seen[key] = [c.timestamp]
                firsts.append(c)
    chosen = firsts
    if every != "capture":
        width = 6 if every == "month" else 4
        periods: set[str] = set()
        chosen = []
        for c in firsts:
            if c.timestamp[:width] not in periods:
                periods.add(c.timestamp[:width])
                chosen.append(c)
        skipped[f"another content in the same {every}"] += len(firsts) - len(chosen)
    if max_snapshots is not None and len(chosen) > max_snapshots:
        skipped[f"over --max-snapshots {max_snapshots}"] += len(chosen) - max_snapshots
        chosen = _spread(chosen, max_snapshots)
    keys = {c.digest or c.timestamp for c in chosen}
    return Selection(chosen, {k: v for k, v in seen.items() if k in keys},
                     len(captures) if rows is None else rows, {k: v for k, v in skipped.items() if v})


class WaybackArchive:
    """The Wayback Machine's CDX API and `id_` replays (pywb serves the same paths); see ArchiveSource.

    `sleep` and `clock` are injectable so tests run the delays and back-offs on a fake timeline.
    """

    name = "Wayback Machine"

    def __init__(self, base: str | None = None, settings: Settings | None = None, allow_private: bool = False,
                 delay: float | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, resolver: Resolver | None = None):
        self.settings = settings or load_settings()
        self.base = (base or self.settings.archive.base).strip().rstrip("/")
        refuse_form(self.base + "/", self.settings.fetch)
        if "?" in self.base or "#" in self.base:
            raise InputError(f"--archive {self.base}: give the archive's address without a query or fragment")
        self.allow_private, self.resolver = allow_private, resolver
        self.delay = self.settings.archive.delay if delay is None else delay
        self.sleep, self.clock = sleep, clock
        self.requests = 0
        self._last: float | None = None

    def cdx_url(self, url: str, since: int | None = None, until: int | None = None) -> str:
        query = {"url": url, "output": "json", "fl": ",".join(FIELDS), "filter": "statuscode:200",
                 "collapse": "digest"}
        if since is not None:
            query["from"] = str(since)
        if until is not None:
            query["to"] = str(until)
        return f"{self.base}/cdx/search/cdx?{urlencode(query)}"

    def captures(self, url: str, since: int | None = None, until: int | None = None) -> tuple[list[Capture], int]:
        where = self.cdx_url(url, since, until)
        try:
            resp = self._get(where, accept=None)
        except FetchError as exc:
            hint = "; ask for fewer years with --since/--until" if exc.reason == "too_large" else ""
            raise ArchiveError(f"{url}: cannot read the archive's capture index at {self.base} ({exc}){hint}") from exc
        return parse_cdx(resp.body, where, self.settings.archive.max_cdx_rows)

    def raw_url(self, capture: Capture) -> str:
        return f"{self.base}/web/{capture.timestamp}id_/{capture.url}"

    def replay_url(self, capture: Capture) -> str:
        return f"{self.base}/web/{capture.timestamp}/{capture.url}"

    def fetch(self, capture: Capture) -> Response:
        """The capture as archived. The archive may redirect to a neighbouring capture of the same URL; such
        hops are followed inside the archive only, and the response's `redirects` say where it ended."""
        url, hops = self.raw_url(capture), []
        for _ in range(self.settings.fetch.max_redirects + 1):
            resp = self._get(url, accept=HTML_TYPES)
            if resp.status not in REDIRECTS:
                resp.redirects = hops
                return resp
            location = (resp.header("Location") or "").strip()
            try:
                url = join_url(url, location) if location else ""
            except InputError:
                url = ""
            if not url.startswith(f"{self.base}/web/"):
                raise FetchError(f"{self.raw_url(capture)}: the archive redirected outside its replays "
                                 f"({location[:200] or 'no Location'})", "redirect")
            hops.append(url)
        raise FetchError(f"{self.raw_url(capture)}: more than {self.settings.fetch.max_redirects} redirects",
                         "redirect_limit")

    def _get(self, url: str, accept: tuple[str, ...] | None) -> Response:
        """One guarded GET, `delay` after the previous request, retried on 429/503 as Retry-After asks."""
        crawl = self.settings.crawl
        for attempt in range(crawl.max_retries + 1):
            if self._last is not None:
                wait = self._last + self.delay - self.clock()
                if wait > 0:
                    self.sleep(wait)
            try:
                resp = fetch(url, self.settings.fetch, self.allow_private, follow_redirects=False, accept=accept,
                             resolver=self.resolver)
            finally:
                self.requests += 1
                self._last = self.clock()
            if resp.status not in (429, 503):
                if resp.status >= 400:
                    raise FetchError(f"{url}: HTTP {resp.status} {resp.reason}".rstrip(), "http_status")
                return resp
            wait = parse_retry_after(resp.header("Retry-After"))
            if wait is None:
                wait = max(self.delay, 1.0) * 2 ** (attempt + 1)
            if wait > crawl.max_retry_after:
                raise FetchError(f"{url}: the archive is busy (HTTP {resp.status}) and asks us to wait {wait:.0f}s, "
                                 f"over the {crawl.max_retry_after:.0f}s limit", "archive_busy")
            if attempt == crawl.max_retries:
                break
            log.info("%s: HTTP %s, waiting %.1fs before retry %d", url, resp.status, wait, attempt + 1)
            self.sleep(wait)
        raise FetchError(f"{url}: the archive is still busy after {crawl.max_retries} retries", "archive_busy")
