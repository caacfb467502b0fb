"""The one `check` path shared by the CLI, the batch runner and the web app: target -> Page -> verdict."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from detector.errors import InputError, StemcheckError
from detector.extract import html_to_page, text_to_page
from detector.model.artifact import ModelBundle, load_bundle
from detector.model.scorer import ScoreSlice
from detector.nlp.pipeline import ClaimExtractor
from detector.records import Claim, Page, PageVerdict, SitePage, SiteReport, WarcEvent
from detector.scoring.claims import flag_claims
from detector.scoring.page import score_page
from detector.scoring.site import PageSummary, score_site
from detector.settings import Settings, load_settings
from detector.source.page import page_from_bytes
from detector.source.url import site_key
from detector.source.warc import WarcCrawl, WarcPage, read_crawl

log = logging.getLogger(__name__)

_HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
_TEXT_SUFFIXES = {".txt", ".text", ".md"}


class Detector:
    """Holds the loaded model once; every check goes through ``check_page``."""

    def __init__(self, bundle: ModelBundle, settings: Settings | None = None):
        self.bundle = bundle
        self.settings = settings or load_settings()
        self.extractor = ClaimExtractor(bundle.nlp, self.settings.nlp)

    @classmethod
    def load(cls, model_dir: Path | None = None, settings: Settings | None = None) -> Detector:
        settings = settings or load_settings()
        return cls(load_bundle(model_dir or settings.model.model_dir), settings)

    def classify(self, claims: list[Claim]) -> None:
        """Score claims in place and flag them, each flag with its evidence."""
        if claims:
            model = self.bundle.claim_model
            flag_claims(claims, model.score(claims), model.thresholds, self.bundle.rules)

    def check_page(self, page: Page) -> PageVerdict:
        result = self.check_pages([page])[0]
        if isinstance(result, StemcheckError):
            raise result
        return result

    def check_pages(self, pages: Sequence[Page], explain: bool = True) -> list[PageVerdict | StemcheckError]:
        """Verdicts for many pages with one feature matrix and one product for all their claims.

        A page that cannot be checked gets its error in its place; the others go on. Each claim's scores are
        computed from its own features only, so a page's verdict is the same alone or in any batch. explain=False
        skips the model's word evidence (see flag_claims) for scans that neither show nor store claims.
        """
        out: list[PageVerdict | StemcheckError] = []
        claims_of: list[list[Claim]] = []
        for page in pages:
            try:
                if not page.blocks:
                    raise InputError(f"{page.source}: no readable text found")
                claims_of.append(self.extractor.extract(page))
                out.append(None)  # type: ignore[arg-type] - filled below
            except StemcheckError as exc:
                claims_of.append([])
                out.append(exc)
        everything = [c for claims in claims_of for c in claims]
        model = self.bundle.claim_model
        scores = model.score(everything) if everything else None
        at = 0
        for k, (page, claims) in enumerate(zip(pages, claims_of, strict=True)):
            if out[k] is not None:
                continue
            if claims and scores is not None:
                flag_claims(claims, ScoreSlice(scores, at, len(claims)), model.thresholds, self.bundle.rules,
                            explain)
            at += len(claims)
            out[k] = self._verdict(page, claims)
        return out

    def _verdict(self, page: Page, claims: list[Claim]) -> PageVerdict:
        verdict = score_page(page.source, claims, self.bundle.page_model, self.bundle.rules, page.title,
                             self.bundle.sha256, page)
        if not claims:
            verdict.reasons = ["no sentence of two or more words to assess"]
        verdict.reasons.extend(f"limit: {note}" for note in page.notes)
        return verdict

    def check_text(self, text: str, source: str = "<text>") -> PageVerdict:
        if not text or not text.strip():
            raise InputError(f"{source}: empty text")
        return self.check_page(text_to_page(text, source, self.settings.extract))

    def check_html(self, html: str, source: str = "<html>") -> PageVerdict:
        if not html or not html.strip():
            raise InputError(f"{source}: empty HTML")
        return self.check_page(html_to_page(html, source, self.settings.extract))

    def check_bytes(
        self, data: bytes, source: str, content_type: str = "", charset: str | None = None
    ) -> PageVerdict:
        """Bytes from a file or a response: refuse binaries, decode, route HTML vs plain text."""
        return self.check_page(page_from_bytes(data, source, content_type, charset, self.settings.extract))

    def check_file(self, path: Path) -> PageVerdict:
        source = str(path)
        if not path.exists():
            raise InputError(f"{source}: no such file")
        if not path.is_file():
            raise InputError(f"{source}: not a regular file")
        suffix = path.suffix.lower()
        if suffix not in _HTML_SUFFIXES | _TEXT_SUFFIXES:
            raise InputError(f"{source}: unsupported file type {suffix or '(none)'}; expected .html, .htm or .txt")
        limit = self.settings.extract.max_html_bytes
        try:
            with path.open("rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise InputError(f"{source}: cannot read ({exc.strerror})") from exc
        if len(data) > limit:
            raise InputError(f"{source}: larger than the {limit:,}-byte limit")
        return self.check_bytes(data, source, "text/html" if suffix in _HTML_SUFFIXES else "text/plain")

    def check_url(self, url: str, allow_private: bool = False) -> PageVerdict:
        from detector.source.fetch import fetch_page  # the core needs no network code unless a URL is given

        resp = fetch_page(url, self.settings.fetch, allow_private=allow_private)
        return self.check_bytes(resp.body, url, resp.content_type, resp.charset)

    def check_target(self, target: str, allow_private: bool = False, stdin=None) -> PageVerdict:  # noqa: ANN001
        """A CLI target: an http(s) URL, a file path, or '-' for text on stdin."""
        if target == "-":
            stream = stdin if stdin is not None else sys.stdin
            data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read().encode("utf-8")
            return self.check_bytes(data, "<stdin>", "text/plain")
        if target.lower().startswith(("http://", "https://")):
            return self.check_url(target, allow_private=allow_private)
        if "://" in target:
            raise InputError(f"{target}: only http and https URLs are supported")
        return self.check_file(Path(target))


_default: Detector | None = None


def default_detector() -> Detector:
    """The detector for the bundled model, loaded once per process (once per Dask worker)."""
    global _default
    if _default is None:
        _default = Detector.load()
    return _default


def check_text(text: str, source: str = "<text>") -> PageVerdict:
    """Check pasted text with the bundled model."""
    return default_detector().check_text(text, source)


def check_html(html: str, source: str = "<html>") -> PageVerdict:
    """Check an HTML document with the bundled model."""
    return default_detector().check_html(html, source)


def check_file(path: str | Path) -> PageVerdict:
    """Check a saved .html/.htm/.txt file with the bundled model."""
    return default_detector().check_file(Path(path))


def check_warc_page(detector: Detector, page: WarcPage) -> SitePage:
    """Verdict for one WARC response; an unreadable page becomes an error entry, never 'no claims'."""
    out = SitePage(page.url, page.status, page.record_id, page.date)
    try:
        parsed = page_from_bytes(page.body, page.url, page.content_type or "text/html", page.charset,
                                 detector.settings.extract)
        out.encoding = parsed.encoding
        out.verdict = detector.check_page(parsed)
    except InputError as exc:
        out.error = str(exc).removeprefix(f"{page.url}: ")
    return out


def _site_report(site: str, crawl: WarcCrawl, pages: list[SitePage], events: list[WarcEvent],
                 model_sha256: str, review_score: int) -> SiteReport:
    score = score_site([PageSummary.of(p.url, p.verdict) for p in pages], review_score)
    summary = crawl.summary
    return SiteReport(
        site=site,
        start_url=summary.get("start_url") or crawl.info.get("start-url") or (pages[0].url if pages else ""),
        warc_path=str(crawl.path),
        warc_sha256=crawl.sha256,
        crawl_started=summary.get("started") or crawl.info.get("started", ""),
        crawl_finished=summary.get("finished", ""),
        requests=summary.get("requests"),
        risk_score=score.risk_score,
        red_flag=score.red_flag,
        pages=pages,
        events=events,
        categories=score.categories,
        condition_groups=score.condition_groups,
        products=score.products,
        robots=summary.get("robots", {}),
        model_sha256=model_sha256,
        label=score.label,
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
    reports = [_site_report(s, crawl, by_site.get(s, []), events_by_site.get(s, []) + file_events,
                            detector.bundle.sha256, detector.bundle.rules.review_score)
               for s in sites if s]
    reports.sort(key=lambda r: (-r.risk_score, -r.red_flag_pages, r.site))
    return reports
