"""A polite, same-site crawler that keeps everything it saw in a WARC.

Politeness is built from small parts: a robots policy per host (robots.py), one request at a time per host
with a delay between them, back-off on 429/503 honouring Retry-After, conditional requests on re-crawl,
and limits (pages, depth, redirects, spider-trap shapes) from `CrawlSettings`. Every request goes through
the SSRF-guarded fetcher; every failure or skip is recorded with its reason and the crawl goes on.
"""

from __future__ import annotations

import contextlib
import email.utils
import heapq
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from detector.errors import FetchError, InputError
from detector.guard import refuse_clobber
from detector.settings import CrawlSettings, FetchSettings, Settings
from detector.source.fetch import HTML_TYPES, Resolver, Response, fetch, resolve_safe
from detector.source.page import decode_html
from detector.source.robots import RobotsCache, RobotsPolicy
from detector.source.sitemap import sitemap_entries, sitemap_urls  # noqa: F401 - sitemap_urls: public here too
from detector.source.url import canonicalize, join_url, priority, same_site, site_key, skip_reason, url_pattern
from detector.source.warc import WarcPage, WarcRecorder, iter_records, partial_path

log = logging.getLogger(__name__)

_REFRESH = re.compile(r"^\s*\d*\s*[;,]?\s*url\s*=\s*['\"]?([^'\"\s]+)", re.IGNORECASE)


@dataclass
class CrawledPage:
    """One URL the crawl dealt with and how it ended."""

    url: str
    depth: int
    status: int | None = None
    record_id: str = ""
    outcome: str = "fetched"  # fetched, unchanged, error, skipped
    reason: str = ""
    links: int = 0
    via: str = ""
    final_url: str = ""  # where redirects ended, when they did


@dataclass
class CrawlResult:
    """What a crawl did: the WARC it wrote, the pages it fetched and every failure or skip."""

    start_url: str
    site: str
    warc_path: Path
    started: str
    finished: str = ""
    seconds: float = 0.0
    requests: int = 0
    pages: list[CrawledPage] = field(default_factory=list)
    robots: dict[str, str] = field(default_factory=dict)

    @property
    def fetched(self) -> list[CrawledPage]:
        return [p for p in self.pages if p.outcome in ("fetched", "unchanged")]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.pages:
            key = p.outcome if p.outcome in ("fetched", "unchanged") else f"{p.outcome}:{p.reason}"
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["warc_path"] = str(self.warc_path)
        data["counts"] = self.counts()
        return data


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def extract_links(html: str, base_url: str, limit: int) -> tuple[list[tuple[str, str]], bool]:
    """(url, anchor text) pairs from a page, plus whether its robots meta says nofollow."""
    tree = LexborHTMLParser(html)
    nofollow = False
    for meta in tree.css("meta[name]"):
        name = (meta.attributes.get("name") or "").lower()
        if name in ("robots", "stemcheck") and "nofollow" in (meta.attributes.get("content") or "").lower():
            nofollow = True
    base = tree.css_first("base[href]")
    if base is not None and base.attributes.get("href"):
        with contextlib.suppress(InputError):  # a broken <base> leaves the page's own URL as the base
            base_url = join_url(base_url, base.attributes["href"].strip())
    links: list[tuple[str, str]] = []
    for meta in tree.css("meta[http-equiv]"):
        if (meta.attributes.get("http-equiv") or "").lower() == "refresh":
            m = _REFRESH.match(meta.attributes.get("content") or "")
            if m:
                with contextlib.suppress(InputError):
                    links.append((join_url(base_url, m.group(1)), "refresh"))
    if nofollow:
        return links, True
    for a in tree.css("a[href], area[href]"):
        href = (a.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
            continue
        try:
            link = join_url(base_url, href)
        except InputError:
            continue  # `http://[::1/` in a hostile page is no link, and no reason to stop the crawl
        links.append((link, a.text(separator=" ", strip=True)[:200]))
        if len(links) >= limit:
            break
    return links, nofollow


class Crawler:
    """Crawls one site into a WARC. Injected `sleep`/`clock` let tests run it on a fake timeline."""

    def __init__(
        self,
        settings: Settings | None = None,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_request: Callable[[str, CrawlResult], None] | None = None,
    ):
        self.settings = settings or Settings()
        self.on_request = on_request  # progress: told of each request before it is made
        self.cfg: CrawlSettings = self.settings.crawl
        self.fetch_cfg: FetchSettings = self.settings.fetch
        self.allow_private, self.resolver = allow_private, resolver
        self.sleep, self.clock = sleep, clock
        self.robots = RobotsCache(self.fetch_cfg, self.cfg.robots_max_bytes, allow_private)
        self._last_request: dict[str, float] = {}
        self._host_delay: dict[str, float] = {}

    # -- politeness ---------------------------------------------------------------------------------
    def _host(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.netloc.lower()

    def _wait_turn(self, url: str) -> None:
        host = self._host(url)
        last = self._last_request.get(host)
        if last is not None:
            gap = self._host_delay.get(host, self.cfg.delay) - (self.clock() - last)
            if gap > 0:
                self.sleep(gap)

    def _request(self, url: str, result: CrawlResult, **kwargs: object) -> Response:
        self._wait_turn(url)
        if self.on_request is not None:
            self.on_request(url, result)
        result.requests += 1
        try:
            return fetch(url, self.fetch_cfg, self.allow_private, resolver=self.resolver, follow_redirects=False,
                         **kwargs)  # type: ignore[arg-type]
        finally:
            self._last_request[self._host(url)] = self.clock()

    def _policy(self, url: str, result: CrawlResult, warc: WarcRecorder) -> RobotsPolicy:
        host = self._host(url)
        if host not in self._host_delay:
            self._wait_turn(url)
        policy, fresh = self.robots.get(url)
        if fresh:
            result.requests += 1 if policy.response is not None or policy.status == "unavailable" else 0
            self._last_request[host] = self.clock()
            if policy.response is not None:
                warc.exchange(policy.response)
            else:
                warc.event(policy.url, "error", "robots_unavailable", policy.detail)
            result.robots[policy.url] = f"{policy.status} ({policy.detail})" if policy.detail else policy.status
            robots_delay = policy.crawl_delay(self.cfg.max_crawl_delay)
            self._host_delay[host] = max(self.cfg.delay, robots_delay or 0.0)
        return policy

    # -- the crawl ----------------------------------------------------------------------------------
    def crawl(
        self, start_url: str, warc_path: Path, previous: Path | None = None,
        max_pages: int | None = None, max_depth: int | None = None, seeds: list[str] | None = None,
    ) -> CrawlResult:
        """Crawl the site of start_url into warc_path; raises UnsafeURLError if the start is refused.

        seeds are further same-site URLs to visit at depth 0 (a URL list naming several pages of one site).
        Listed URLs are fetched before any discovered link and never count as traps, and the page cap is
        raised to cover them all: the user asked for them.
        """
        start = canonicalize(start_url)
        resolve_safe(start, self.fetch_cfg, self.allow_private, self.resolver)  # refuse early and clearly
        max_pages = self.cfg.max_pages if max_pages is None else max_pages
        max_pages = max(max_pages, 1 + len(seeds or []))
        max_depth = self.cfg.max_depth if max_depth is None else max_depth
        site = site_key(start)
        t0 = self.clock()
        result = CrawlResult(start, site, Path(warc_path), datetime.now(UTC).isoformat(timespec="seconds"))
        if previous is not None:  # the new crawl's revisits point into the old file: it must survive
            refuse_clobber([warc_path, partial_path(Path(warc_path))], [previous])
        validators = self._validators(previous) if previous else {}
        info = {
            "start-url": start, "site": site, "started": result.started, "user-agent": self.fetch_cfg.user_agent,
            "crawl-settings": {**asdict(self.cfg), "max_pages": max_pages, "max_depth": max_depth},
            "fetch-settings": asdict(self.fetch_cfg), "allow-private": str(self.allow_private).lower(),
        }
        if previous:
            info["previous-warc"] = Path(previous).name
        with WarcRecorder(Path(warc_path), info) as warc:
            self._run(start, site, max_pages, max_depth, result, warc, validators, seeds or [])
            result.finished = datetime.now(UTC).isoformat(timespec="seconds")
            result.seconds = round(self.clock() - t0, 3)
            warc.summary(start, {
                "start_url": start, "site": site, "started": result.started, "finished": result.finished,
                "seconds": result.seconds, "requests": result.requests, "robots": result.robots,
                "counts": result.counts(), "pages_fetched": len(result.fetched),
            })
            warc.complete()
        return result

    def _run(self, start: str, site: str, max_pages: int, max_depth: int, result: CrawlResult,
             warc: WarcRecorder, validators: dict[str, WarcPage], seeds: list[str]) -> None:
        # (0 for a listed URL, else 1; depth, less for promising links; -priority; order; url; depth; via)
        frontier: list[tuple[int, float, int, int, str, int, str]] = []
        seen: set[str] = set()
        listed: set[str] = set()
        patterns: dict[str, int] = {}
        seq = 0

        def push(url: str, depth: int, anchor: str = "", via: str = "", seed: bool = False) -> None:
            nonlocal seq
            try:
                canon = canonicalize(url)
            except InputError:
                return
            if canon in seen or not same_site(canon, site):
                return
            seen.add(canon)
            if seed:
                listed.add(canon)
            score = priority(canon, anchor)
            seq += 1
            heapq.heappush(frontier, (0 if seed else 1, depth + (0 if score > 0 else 2), -score, seq, canon, depth,
                                      via))

        # The user's own URLs come first and are never traps: a list of 25 pages of one shape is a request.
        push(start, 0, seed=True)
        for seed in seeds:
            push(seed, 0, seed=True)
        policy = self._policy(start, result, warc)
        for sm in self._sitemaps(start, policy, result, warc, site):
            push(sm, 1, via="sitemap")

        while frontier and len(result.fetched) < max_pages:
            *_, url, depth, via = heapq.heappop(frontier)
            page = CrawledPage(url, depth, via=via)
            result.pages.append(page)
            pattern = url_pattern(url)
            why = None
            if url not in listed:
                why = skip_reason(url, self.fetch_cfg.max_url_length, self.cfg.max_path_segments,
                                  self.cfg.max_segment_repeats)
                if why is None and patterns.get(pattern, 0) >= self.cfg.max_per_pattern:
                    why = f"spider trap: more than {self.cfg.max_per_pattern} URLs of the pattern {pattern}"
            if why is not None:
                self._skip(page, "trap" if why.startswith("spider trap") else "filtered", why, warc)
                continue
            patterns[pattern] = patterns.get(pattern, 0) + 1
            html = self._visit(page, result, warc, validators, site, seen)
            if html is None or depth >= max_depth:
                continue
            links, _nofollow = extract_links(html, page.final_url or page.url, self.cfg.max_links_per_page)
            page.links = len(links)
            for link, anchor in links:
                push(link, depth + 1, anchor, page.url)
        for *_, url, depth, via in sorted(frontier):
            result.pages.append(CrawledPage(url, depth, outcome="skipped", reason="page_limit", via=via))

    def _skip(self, page: CrawledPage, reason: str, message: str, warc: WarcRecorder) -> None:
        page.outcome, page.reason = "skipped", reason
        page.record_id = warc.event(page.url, "skipped", reason, message)
        log.info("skip %s: %s", page.url, message)

    def _fail(self, page: CrawledPage, reason: str, message: str, warc: WarcRecorder) -> None:
        page.outcome, page.reason = "error", reason
        page.record_id = warc.event(page.url, "error", reason, message)
        log.info("error %s: %s", page.url, message)

    def _visit(self, page: CrawledPage, result: CrawlResult, warc: WarcRecorder,
               validators: dict[str, WarcPage], site: str, seen: set[str]) -> str | None:
        """Fetch one frontier URL (following its redirects hop by hop); returns its HTML or None."""
        url = page.url
        for _hop in range(self.fetch_cfg.max_redirects + 1):
            try:
                policy = self._policy(url, result, warc)
            except FetchError as exc:
                self._fail(page, exc.reason, str(exc), warc)
                return None
            if not policy.allowed(url):
                self._skip(page, "robots", f"{url}: disallowed by robots.txt ({policy.status})", warc)
                return None
            resp = self._get_with_backoff(url, page, result, warc, validators.get(url))
            if resp is None:
                return None
            page.status = resp.status
            if resp.status in (301, 302, 303, 307, 308):
                warc.exchange(resp)
                location = resp.header("Location")
                if not location:
                    self._fail(page, "redirect", f"{url}: redirect without a Location header", warc)
                    return None
                try:
                    target = canonicalize(location, base=url)
                except InputError as exc:
                    self._fail(page, "redirect", f"{url}: redirect to an unusable URL ({exc})", warc)
                    return None
                if not same_site(target, site):
                    self._skip(page, "off_site", f"{url}: redirects off the site to {target}", warc)
                    return None
                if target in seen and target != url:
                    self._skip(page, "redirect_seen", f"{url}: redirects to {target}, already queued or fetched",
                               warc)
                    return None
                if target == url:
                    self._fail(page, "redirect_loop", f"{url}: redirects to itself", warc)
                    return None
                seen.add(target)
                page.final_url = url = target
                continue
            if resp.status == 304 and url in validators:
                old = validators[url]
                page.record_id = warc.revisit(resp, old.record_id, old.date, old.digest or "sha1:")
                page.outcome = "unchanged"
                text, _how = decode_html(old.body, old.charset, url)
                return text
            if resp.status >= 300:
                rid = warc.exchange(resp)
                self._fail(page, f"http_{resp.status}", f"{url}: HTTP {resp.status} {resp.reason}", warc)
                page.record_id = rid
                return None
            page.record_id = warc.exchange(resp)
            if not resp.is_html:
                self._skip(page, "not_html", f"{url}: content type {resp.content_type}", warc)
                return None
            text, _how = decode_html(resp.body, resp.charset, url)
            return text
        self._fail(page, "redirect_limit", f"{page.url}: more than {self.fetch_cfg.max_redirects} redirects", warc)
        return None

    def _get_with_backoff(self, url: str, page: CrawledPage, result: CrawlResult, warc: WarcRecorder,
                          old: WarcPage | None) -> Response | None:
        headers = {}
        if old is not None:
            if old.headers.get("etag"):
                headers["If-None-Match"] = old.headers["etag"]
            if old.headers.get("last-modified"):
                headers["If-Modified-Since"] = old.headers["last-modified"]
        for attempt in range(self.cfg.max_retries + 1):
            try:
                resp = self._request(url, result, headers=headers, accept=HTML_TYPES)
            except FetchError as exc:
                self._fail(page, exc.reason, str(exc), warc)
                return None
            if resp.status not in (429, 503):
                return resp
            warc.exchange(resp)
            wait = parse_retry_after(resp.header("Retry-After"))
            if wait is None:
                wait = self._host_delay.get(self._host(url), self.cfg.delay) * (2 ** (attempt + 1))
            if wait > self.cfg.max_retry_after:
                self._fail(page, f"http_{resp.status}",
                           f"{url}: HTTP {resp.status}, Retry-After {wait:.0f}s is over the "
                           f"{self.cfg.max_retry_after:.0f}s limit; not retried", warc)
                return None
            if attempt == self.cfg.max_retries:
                break
            log.info("%s: HTTP %s, waiting %.1fs before retry %d", url, resp.status, wait, attempt + 1)
            host = self._host(url)
            self._last_request[host] = self.clock() + wait - self._host_delay.get(host, self.cfg.delay)
        self._fail(page, "http_retry", f"{url}: still busy after {self.cfg.max_retries} retries", warc)
        return None

    def _sitemaps(self, start: str, policy: RobotsPolicy, result: CrawlResult, warc: WarcRecorder,
                  site: str) -> list[str]:
        """Page URLs from the sitemaps robots.txt names (or /sitemap.xml); indexes nest to any depth, and at most
        max_sitemaps sitemap files are read."""
        queue = list(dict.fromkeys(policy.sitemaps)) or [urljoin(start, "/sitemap.xml")]
        found: list[str] = []
        done = 0
        while queue and done < self.cfg.max_sitemaps and len(found) < self.cfg.max_sitemap_urls:
            sm = queue.pop(0)
            try:
                sm = canonicalize(sm)
            except InputError:
                continue
            if not same_site(sm, site) or not self._policy(sm, result, warc).allowed(sm):
                continue
            done += 1
            try:
                resp = self._request(sm, result, accept=None)
            except FetchError as exc:
                warc.event(sm, "error", exc.reason, str(exc))
                continue
            warc.exchange(resp)
            if resp.status != 200:
                continue
            for loc, is_sitemap in sitemap_entries(resp.body, self.cfg.max_sitemap_urls):
                (queue if is_sitemap else found).append(loc)
        return found

    def _validators(self, previous: Path) -> dict[str, WarcPage]:
        """Responses of an earlier crawl, for conditional requests (ETag / Last-Modified)."""
        out: dict[str, WarcPage] = {}
        for item in iter_records(Path(previous)):
            if isinstance(item, WarcPage) and item.status == 200 and not item.revisit_of:
                out[item.url] = item
        return out
