"""What one app holds and the checks its routes run: the detector, the jobs, the limits and the renderer.

Routes stay thin: they parse a request, call one of these methods and render its records.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from detector.check import Detector
from detector.errors import FetchError, InputError, JobLimitError, StemcheckError, UnsafeURLError
from detector.output.report import NOTE, to_html
from detector.output.report import templates as report_templates
from detector.output.store import ResultStore
from detector.output.views import site_view, verdict_view
from detector.records import PageVerdict
from detector.settings import Settings
from detector.source.crawl import CrawlResult
from detector.source.fetch import fetch_page, resolve_safe
from detector.source.url import canonicalize
from detector.web.jobs import Job, JobManager
from detector.web.pool import Analyser
from detector.web.security import WebLimits

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent


class TextTooLong(StemcheckError):
    """Pasted text over WebLimits.max_text_chars: answered 413 like an oversized body."""


def markdown(text: str) -> Markup:
    """Our own API descriptions (route docstrings) as HTML: CommonMark with raw HTML turned off, so even a
    stray tag is shown as text. Never used on scraped or user text."""
    return Markup(MarkdownIt("commonmark", {"html": False}).render(text or ""))


def clean_url(url: str) -> str:
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise InputError("Only http:// and https:// URLs can be checked.")
    return url


def status_of(exc: StemcheckError) -> int:
    """The HTTP status for a project error: 429 limits, 400 bad or refused input, 502 fetch failures."""
    if isinstance(exc, JobLimitError):
        return 429
    if isinstance(exc, UnsafeURLError):
        return 400
    if isinstance(exc, FetchError):
        return 502
    return 400 if isinstance(exc, InputError) else 500


def api_error(status: int, exc: Exception | str, reason: str = "") -> JSONResponse:
    body: dict[str, Any] = {"error": str(exc), "status": status}
    reason = reason or getattr(exc, "reason", "")
    if reason:
        body["reason"] = reason
    return JSONResponse(body, status_code=status)


@dataclass
class WebState:
    """Everything the routes share: the detector, the analyser that runs checks concurrently, jobs, limits."""

    detector: Detector
    settings: Settings
    db: Path
    allow_private: bool
    limits: WebLimits
    record_crawls: bool = True
    work_dir: Path | None = None
    analyser: Analyser | None = None
    env: Environment = field(default_factory=lambda: Environment(
        loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), report_templates().loader]),
        autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True))

    def __post_init__(self) -> None:
        if self.analyser is None:
            self.analyser = Analyser(self.detector, self.settings)
        self.env.filters["markdown"] = markdown
        self.fetches = threading.BoundedSemaphore(self.limits.max_sync_fetches)
        self.jobs = JobManager(self.settings, self.allow_private, self.analyse_site, self.limits.max_jobs,
                               self.limits.max_kept_results, self.work_dir)

    def store(self) -> ResultStore:
        if not self.db.exists():
            raise InputError(f"{self.db}: no results store; run `stemcheck scan --db {self.db.name} ...` first")
        return ResultStore(self.db)

    def render(self, name: str, code: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("note", NOTE)
        ctx.setdefault("allow_private", self.allow_private)
        return HTMLResponse(self.env.get_template(name).render(**ctx), status_code=code)

    # -- checks ------------------------------------------------------------------------------------
    def check_text(self, text: str) -> Job:
        if len(text) > self.limits.max_text_chars:
            raise TextTooLong(f"The text is {len(text):,} characters; the limit is {self.limits.max_text_chars:,}.")
        verdict = self.analyser.check_text(text, "<pasted text>")  # type: ignore[union-attr]
        return self._finish(self.jobs.keep("text", "pasted text"), verdict_view("text", verdict, verdict.page),
                            verdict)

    def check_page(self, url: str) -> Job:
        url = clean_url(url)
        if not self.fetches.acquire(blocking=False):
            raise JobLimitError(
                f"{self.limits.max_sync_fetches} page fetches are already in progress; try again shortly")
        try:
            resp = fetch_page(url, self.settings.fetch, allow_private=self.allow_private)
        finally:
            self.fetches.release()
        verdict = self.analyser.check_bytes(resp.body, url, resp.content_type, resp.charset)  # type: ignore[union-attr]
        return self._finish(self.jobs.keep("page", url), verdict_view("page", verdict, verdict.page), verdict)

    def _finish(self, job: Job, view: dict[str, Any], verdict: PageVerdict) -> Job:
        job.view, job.data = view, {"note": NOTE, **verdict.to_dict()}
        job.render = lambda: to_html([verdict])
        job.status, job.stage = "done", "done"
        job.ended.set()
        return job

    def start_site(self, url: str) -> Job:
        url = clean_url(url)
        resolve_safe(canonicalize(url), self.settings.fetch, self.allow_private)  # refuse now, not in the background
        return self.jobs.submit_site(url)

    def analyse_site(self, job: Job, warc: Path, result: CrawlResult) -> None:
        """The background half of a site check: report from the WARC, then record it in the store."""
        reports = self.analyser.site_reports(warc)  # type: ignore[union-attr]
        if not reports:
            raise InputError(f"{job.target}: the crawl found no pages to analyse")
        report = next((r for r in reports if r.site == result.site), reports[0])
        job.view = site_view(report, result.seconds)
        job.html_report = to_html([], sites=[dataclasses.replace(report, warc_path=warc.name)])
        job.warc_sha256 = report.warc_sha256
        job.data = {"note": NOTE, **report.to_dict()}
        job.data["warc"]["path"] = warc.name
        if not self.record_crawls:
            return
        try:  # the crawl joins the store's history, so Triage shows it beside batch scans
            with ResultStore(self.db) as store:
                job.data["store_run"] = store.record_site_report(report, job.target)
        except (StemcheckError, sqlite3.Error) as exc:
            log.warning("site job %s: not recorded in %s (%s)", job.id, self.db, exc)
