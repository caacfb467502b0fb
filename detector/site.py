"""Site reports: every page of a crawl (read back from its WARC) checked, and the site scored.

The report is always derived from the WARC, never from the live crawl, so `stemcheck check FILE.warc.gz`
reproduces what `stemcheck check URL --site` printed. Site score = the worst page's score (a site is as
risky as the worst thing it tells patients); ties rank by how many pages are red-flag pages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from detector.categories import CATEGORIES, RED_FLAGS
from detector.check import Detector
from detector.errors import InputError
from detector.extract import decode_html, looks_binary
from detector.records import Claim, PageVerdict
from detector.url import site_key
from detector.warc import WarcCrawl, WarcEvent, WarcPage, read_crawl

log = logging.getLogger(__name__)


@dataclass
class SitePage:
    """One page of the site: where it came from in the WARC and its verdict (or why there is none)."""

    url: str
    status: int
    record_id: str
    date: str
    encoding: str = ""
    verdict: PageVerdict | None = None
    error: str = ""


@dataclass
class SiteReport:
    """The site verdict with its evidence: worst pages, flagged claims with their URL and WARC record."""

    site: str
    start_url: str
    warc_path: str
    warc_sha256: str
    crawl_started: str
    crawl_finished: str
    requests: int | None
    risk_score: int
    red_flag: bool
    pages: list[SitePage]
    events: list[WarcEvent] = field(default_factory=list)
    categories: dict[str, int] = field(default_factory=dict)
    condition_groups: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    robots: dict[str, str] = field(default_factory=dict)
    model_sha256: str = ""

    @property
    def analysed(self) -> list[SitePage]:
        return [p for p in self.pages if p.verdict is not None]

    @property
    def red_flag_pages(self) -> int:
        return sum(1 for p in self.analysed if p.verdict and p.verdict.red_flag)

    def worst_pages(self, n: int = 5) -> list[SitePage]:
        return sorted(self.analysed, key=lambda p: (-p.verdict.risk_score, p.url))[:n]  # type: ignore[union-attr]

    def flagged_claims(self) -> list[tuple[SitePage, Claim]]:
        out = []
        for page in sorted(self.analysed, key=lambda p: (-p.verdict.risk_score, p.url)):  # type: ignore[union-attr]
            for claim in page.verdict.claims:  # type: ignore[union-attr]
                if set(claim.categories) & set(RED_FLAGS):
                    out.append((page, claim))
        return out

    def to_dict(self) -> dict:
        return {
            "site": self.site,
            "start_url": self.start_url,
            "risk_score": self.risk_score,
            "red_flag": self.red_flag,
            "warc": {"path": self.warc_path, "sha256": self.warc_sha256},
            "crawl": {"started": self.crawl_started, "finished": self.crawl_finished, "requests": self.requests,
                      "robots": self.robots},
            "pages_analysed": len(self.analysed),
            "red_flag_pages": self.red_flag_pages,
            "categories": self.categories,
            "condition_groups": self.condition_groups,
            "products": self.products,
            "worst_pages": [
                {"url": p.url, "risk_score": p.verdict.risk_score, "red_flag": p.verdict.red_flag,  # type: ignore[union-attr]
                 "title": p.verdict.title, "warc_record_id": p.record_id}  # type: ignore[union-attr]
                for p in self.worst_pages()
            ],
            "claims": [
                {"url": page.url, "warc_record_id": page.record_id, **claim.to_dict()}
                for page, claim in self.flagged_claims()
            ],
            "pages": [
                {"url": p.url, "status": p.status, "date": p.date, "warc_record_id": p.record_id,
                 "encoding": p.encoding, "risk_score": p.verdict.risk_score if p.verdict else None,
                 "red_flag": p.verdict.red_flag if p.verdict else None, "error": p.error or None}
                for p in self.pages
            ],
            "failures": [
                {"url": e.url, "kind": e.kind, "reason": e.reason, "message": e.message, "warc_record_id": e.record_id}
                for e in self.events
            ],
            "model": {"sha256": self.model_sha256},
        }


def check_warc_page(detector: Detector, page: WarcPage) -> SitePage:
    """Verdict for one WARC response; an unreadable page becomes an error entry, never 'no claims'."""
    out = SitePage(page.url, page.status, page.record_id, page.date)
    if not page.body.strip():
        out.error = "empty body"
        return out
    if looks_binary(page.body):
        out.error = "binary content, not HTML or text"
        return out
    text, how = decode_html(page.body, page.charset, page.url)
    out.encoding = how
    try:
        if page.content_type.startswith("text/plain"):
            out.verdict = detector.check_text(text, page.url)
        else:
            out.verdict = detector.check_html(text, page.url)
    except InputError as exc:
        out.error = str(exc).removeprefix(f"{page.url}: ")
    return out


def _aggregate(site: str, crawl: WarcCrawl, pages: list[SitePage], events: list[WarcEvent],
               detector: Detector) -> SiteReport:
    verdicts = [p.verdict for p in pages if p.verdict is not None]
    counts = {c: 0 for c in CATEGORIES}
    seen_claims: set[tuple[str, str]] = set()
    groups: set[str] = set()
    products: set[str] = set()
    for v in verdicts:
        groups.update(v.condition_groups)
        products.update(v.products)
        for claim in v.claims:
            key = (claim.text, ",".join(claim.categories))
            if key in seen_claims:  # menus and footers repeat on every page: count a claim once per site
                continue
            seen_claims.add(key)
            for cat in claim.categories:
                counts[cat] = counts.get(cat, 0) + 1
    score = max((v.risk_score for v in verdicts), default=0)
    summary = crawl.summary
    return SiteReport(
        site=site,
        start_url=summary.get("start_url") or crawl.info.get("start-url") or (pages[0].url if pages else ""),
        warc_path=str(crawl.path),
        warc_sha256=crawl.sha256,
        crawl_started=summary.get("started") or crawl.info.get("started", ""),
        crawl_finished=summary.get("finished", ""),
        requests=summary.get("requests"),
        risk_score=score,
        red_flag=any(v.red_flag for v in verdicts),
        pages=pages,
        events=events,
        categories=counts,
        condition_groups=sorted(groups),
        products=sorted(products),
        robots=summary.get("robots", {}),
        model_sha256=detector.bundle.sha256,
    )


def site_reports(detector: Detector, warc_path: Path) -> list[SiteReport]:
    """One report per site found in a WARC (a stemcheck crawl holds one site; other WARCs may hold many)."""
    crawl = read_crawl(Path(warc_path), detector.settings.extract.max_html_bytes)
    if not crawl.pages and not crawl.events and not crawl.info:
        raise InputError(f"{warc_path}: the WARC holds no responses")
    by_site: dict[str, list[SitePage]] = {}
    events_by_site: dict[str, list[WarcEvent]] = {}
    for page in crawl.pages:
        try:
            site = site_key(page.url)
        except InputError:
            crawl.events.append(WarcEvent(page.url, "error", "bad_url", f"{page.url}: unusable URL", page.record_id))
            continue
        if page.status != 200:
            continue  # redirects and errors are in the events (our crawls) or are not pages (foreign WARCs)
        ctype = page.content_type
        if ctype and not ctype.startswith(("text/html", "application/xhtml+xml", "text/plain")):
            events_by_site.setdefault(site, []).append(
                WarcEvent(page.url, "skipped", "not_html", f"{page.url}: content type {ctype}", page.record_id))
            continue
        by_site.setdefault(site, []).append(check_warc_page(detector, page))
    file_events: list[WarcEvent] = []  # damage to the file itself (no URL) concerns every site in it
    for event in crawl.events:
        try:
            site = site_key(event.url) if event.url else ""
        except InputError:
            site = ""
        if site:
            events_by_site.setdefault(site, []).append(event)
        else:
            file_events.append(event)
    sites = sorted(set(by_site) | set(events_by_site) | ({crawl.info["site"]} if crawl.info.get("site") else set()))
    if not sites and file_events:
        sites = [crawl.info.get("site") or Path(warc_path).name]
    reports = [_aggregate(s, crawl, by_site.get(s, []), events_by_site.get(s, []) + file_events, detector)
               for s in sites if s]
    reports.sort(key=lambda r: (-r.risk_score, -r.red_flag_pages, r.site))
    return reports
