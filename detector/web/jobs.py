"""Background site crawls for the web app, and the short-lived memory of every check's result.

A site crawl takes tens of seconds (politeness delays), so it runs in a small thread pool and the browser
polls a job page. At most `max_jobs` crawls are queued or running at once; one more is refused at once
(HTTP 429) rather than queued for minutes behind others. Finished results, sync checks included, are kept
in memory (the newest `max_kept` of them, with their WARCs on disk) so the report can be exported.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detector.errors import JobLimitError, StemcheckError
from detector.settings import Settings
from detector.source.crawl import Crawler, CrawlResult

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One check: a site crawl in the background, or a finished sync check kept for its exports."""

    id: str
    kind: str  # text, page, site
    target: str
    status: str = "queued"  # queued, running, done, failed
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    finished: str = ""
    requests: int = 0
    pages: int = 0
    last_url: str = ""
    stage: str = "waiting for a free crawler"
    error: str = ""
    warc_path: Path | None = None
    warc_sha256: str = ""
    view: dict[str, Any] | None = None  # what the report page renders
    data: dict[str, Any] | None = None  # the JSON export (verdict or site report dict)
    html_report: str = ""
    render: Callable[[], str] | None = None  # builds html_report on first export: most checks are never exported
    started_at: float = field(default_factory=time.monotonic)
    ended: threading.Event = field(default_factory=threading.Event)  # set once done or failed: wait on it

    def report_html(self) -> str:
        if not self.html_report and self.render is not None:
            self.html_report = self.render()
        return self.html_report

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def public(self, base: str = "") -> dict[str, Any]:
        """The job as the API shows it: status and progress, and the result once done."""
        out: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "target": self.target, "status": self.status,
            "created": self.created, "finished": self.finished or None,
            "progress": {"stage": self.stage, "requests": self.requests, "pages": self.pages,
                         "last_url": self.last_url, "seconds": round(time.monotonic() - self.started_at, 1)},
            "links": {"page": f"{base}/jobs/{self.id}", "status": f"{base}/api/jobs/{self.id}"},
        }
        if self.error:
            out["error"] = self.error
        if self.status == "done":
            out["result"] = self.data
            out["links"].update({
                "json": f"{base}/jobs/{self.id}/report.json", "html": f"{base}/jobs/{self.id}/report.html",
                "csv": f"{base}/jobs/{self.id}/claims.csv",
            })
            if self.warc_path is not None:
                out["links"]["warc"] = f"{base}/jobs/{self.id}/evidence.warc.gz"
                out["warc_sha256"] = self.warc_sha256
        return out


# A job runner turns (job, warc path, crawler) into the finished job: report, view and exports.
Analyse = Callable[[Job, Path, CrawlResult], None]


class JobManager:
    """Owns the crawl thread pool, the job table and the work directory holding the WARCs."""

    def __init__(self, settings: Settings, allow_private: bool, analyse: Analyse, max_jobs: int = 2,
                 max_kept: int = 100, work_dir: Path | None = None):
        self.settings, self.allow_private, self.analyse = settings, allow_private, analyse
        self.max_jobs, self.max_kept = max_jobs, max_kept
        self._own_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="stemcheck-web-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.pool = ThreadPoolExecutor(max_workers=max_jobs, thread_name_prefix="stemcheck-crawl")
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def keep(self, kind: str, target: str) -> Job:
        """A new job record (sync checks are born running and finished by the caller)."""
        job = Job(id=secrets.token_urlsafe(12), kind=kind, target=target, status="running", stage="checking")
        with self.lock:
            self.jobs[job.id] = job
            self._evict()
        return job

    def submit_site(self, url: str) -> Job:
        """Queue a whole-site crawl; JobLimitError when max_jobs crawls are already in progress."""
        with self.lock:
            active = sum(1 for j in self.jobs.values() if j.kind == "site" and j.active)
            if active >= self.max_jobs:
                raise JobLimitError(
                    f"{active} site crawls are already in progress (the limit is {self.max_jobs}); "
                    "try again when one has finished")
            job = Job(id=secrets.token_urlsafe(12), kind="site", target=url)
            self.jobs[job.id] = job
            self._evict()
        self.pool.submit(self._run, job)
        return job

    def _run(self, job: Job) -> None:
        job.status, job.stage = "running", "reading robots.txt"
        warc = self.work_dir / f"{job.id}.warc.gz"

        def on_request(url: str, result: CrawlResult) -> None:
            job.requests = result.requests + 1
            job.pages = len(result.fetched)
            job.last_url = url
            job.stage = "crawling"

        try:
            crawler = Crawler(self.settings, allow_private=self.allow_private, on_request=on_request)
            result = crawler.crawl(job.target, warc)
            job.pages, job.requests, job.stage = len(result.fetched), result.requests, "analysing pages"
            job.warc_path = warc
            self.analyse(job, warc, result)
            job.status, job.stage = "done", "done"
        except StemcheckError as exc:
            job.status, job.stage, job.error = "failed", "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - a job must end, and the page must say why
            log.exception("site job %s for %s failed", job.id, job.target)
            job.status, job.stage, job.error = "failed", "failed", f"internal error ({type(exc).__name__})"
        finally:
            job.finished = datetime.now(UTC).isoformat(timespec="seconds")
            job.ended.set()

    def _evict(self) -> None:
        """Forget the oldest finished jobs (and delete their WARCs) beyond max_kept; running ones stay."""
        while len(self.jobs) > self.max_kept:
            victim = next((j for j in self.jobs.values() if not j.active), None)
            if victim is None:
                return
            del self.jobs[victim.id]
            if victim.warc_path is not None:
                victim.warc_path.unlink(missing_ok=True)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
