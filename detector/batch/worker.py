"""What a worker process does with one page or one site: gate, check, and turn the verdict into a row.

Every failure becomes a failed row naming the item and the cause, never an exception: one bad page never
stops a batch. The model loads once per worker process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from detector.batch.inputs import Seed, WorkItem, warc_items
from detector.errors import FetchError, OutputError, StemcheckError
from detector.records import Page, PageResult
from detector.settings import load_settings
from detector.source.page import looks_binary, page_from_bytes
from detector.source.relevance import is_relevant

log = logging.getLogger(__name__)


@dataclass
class ScanOptions:
    """What decides a scan's results (hashed into the run key, so a restart with the same ones resumes)."""

    gate: bool = True
    max_pages: int = 30
    max_depth: int = 3
    delay: float = 1.0
    allow_private: bool = False
    batch_size: int = 64



# -- worker side --------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def _worker_detector(model_dir: str):  # noqa: ANN202
    """The model and spaCy pipeline, loaded once per worker process (hash-verified by Detector.load)."""
    from detector.check import Detector

    return Detector.load(Path(model_dir))


def warm_worker(model_dir: str) -> str:
    """Load the model in a Dask worker before its first task; returns the bundle's SHA-256."""
    return _worker_detector(model_dir).bundle.sha256


def _prepare(item: WorkItem, detector, gate: bool) -> PageResult | tuple[Page, dict]:  # noqa: ANN001
    """Gate and parse one item: a finished row (failed, irrelevant), or its Page and its row's base fields."""
    base = dict(item_key=item.item_key, seq=item.seq, url=item.url, site=item.site, source=item.source,
                model_sha256=detector.bundle.sha256, fetched_at=item.fetched_at,
                content_sha256=hashlib.sha256(item.body).hexdigest())
    if not item.body.strip():
        return PageResult(status="failed", error=f"{item.url}: empty body", **base)
    if looks_binary(item.body):
        return PageResult(status="failed", error=f"{item.url}: binary content, not HTML or text", **base)
    if gate and not is_relevant(item.body):
        return PageResult(status="irrelevant", **base)
    try:
        return page_from_bytes(item.body, item.url, item.content_type, item.charset, detector.settings.extract), base
    except StemcheckError as exc:
        return PageResult(status="failed", error=str(exc), **base)
    except Exception as exc:  # noqa: BLE001 - one bad page never stops a batch
        return _internal(item, exc, base)


def _internal(item: WorkItem, exc: Exception, base: dict) -> PageResult:
    log.debug("unexpected failure on %s", item.item_key, exc_info=True)
    return PageResult(status="failed", error=f"{item.url}: internal error ({exc.__class__.__name__}: {exc})", **base)


def analyse_item(item: WorkItem, model_dir: str, gate: bool = True) -> PageResult:
    """Gate, then check one page; every failure becomes a failed row, never an exception."""
    return analyse_batch([item], model_dir, gate)[0]


def analyse_batch(items: list[WorkItem], model_dir: str, gate: bool = True, explain: bool = True) -> list[PageResult]:
    """Gate and parse each item, then classify all relevant pages of the batch with one feature matrix.

    explain=False (a scan without a store: no claim is kept) skips the model's word evidence.
    """
    detector = _worker_detector(model_dir)
    rows: list[PageResult | None] = []
    todo: list[tuple[int, Page, dict]] = []
    for k, item in enumerate(items):
        prepared = _prepare(item, detector, gate)
        if isinstance(prepared, PageResult):
            rows.append(prepared)
        else:
            rows.append(None)
            todo.append((k, *prepared))
    try:
        verdicts = detector.check_pages([page for _, page, _ in todo], explain)
    except Exception:  # noqa: BLE001 - a batch-level failure: retry page by page so it costs one row, not 64
        log.debug("batch failed; checking its pages one by one", exc_info=True)
        verdicts = []
        for _, page, _ in todo:
            try:
                verdicts.append(detector.check_pages([page], explain)[0])
            except Exception as exc:  # noqa: BLE001
                verdicts.append(exc)
    for (k, _page, base), v in zip(todo, verdicts, strict=True):
        if isinstance(v, StemcheckError):
            rows[k] = PageResult(status="failed", error=str(v), **base)
        elif isinstance(v, Exception):
            rows[k] = _internal(items[k], v, base)
        else:
            rows[k] = PageResult.from_verdict(v, **base)
    return rows  # type: ignore[return-value] - every slot is filled


def crawl_site(site: str, seeds: list[Seed], warc_dir: str, opts: ScanOptions, model_dir: str,
               first_seq: int) -> list[PageResult]:
    """Crawl one site of a URL list politely into its own WARC, then analyse what was fetched.

    Every listed URL (seed) ends as exactly one row, keyed by its line: the page it led to, the failure or
    skip the crawl recorded for it, or why it was never fetched. A start URL that is refused (a private
    address, a name that does not resolve) fails the seeds of its host only; the next host's seeds go on.
    The WARC gets a name of its own per crawl, so no scan ever overwrites an earlier scan's evidence.
    """
    from detector.source.crawl import Crawler

    settings = load_settings()
    settings = dataclasses.replace(settings, crawl=dataclasses.replace(
        settings.crawl, max_pages=opts.max_pages, max_depth=opts.max_depth, delay=opts.delay))
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    warc = (Path(warc_dir) / f"{site.replace(':', '_')}-{stamp}.warc.gz").resolve()
    model_sha = _worker_detector(model_dir).bundle.sha256
    rows: dict[str, PageResult] = {}

    def seed_row(seed: Seed, status: str, error: str) -> PageResult:
        return PageResult(item_key=seed.key, seq=seed.seq, url=seed.url, site=site, source=str(warc), status=status,
                          error=error, model_sha256=model_sha)

    pending, result = list(seeds), None
    while pending and result is None:
        start = pending[0]
        try:
            result = Crawler(settings, allow_private=opts.allow_private).crawl(
                start.url, warc, seeds=[s.url for s in pending[1:]], max_pages=max(opts.max_pages, len(pending)))
        except OutputError as exc:  # the WARC cannot be written (disk full): no seed of this site can be crawled
            for s in pending:
                rows[s.key] = seed_row(s, "failed", f"{s.url}: not crawled: {exc}")
            pending = []
        except StemcheckError as exc:
            host = urlsplit(start.url).hostname
            same_host = isinstance(exc, FetchError)  # the host was refused or does not resolve
            for s in [s for s in pending if s is start or (same_host and urlsplit(s.url).hostname == host)]:
                rows[s.key] = seed_row(s, "failed", str(exc) if s is start else
                                       f"{s.url}: not crawled: its host was refused ({exc})")
            pending = [s for s in pending if s.key not in rows]
    out: list[PageResult] = []
    if result is not None:
        keys = {s.key for s in pending}
        by_url = {s.url: s for s in pending}
        by_record = {p.record_id: by_url[p.url] for p in result.pages if p.url in by_url and p.record_id}
        for n, item in enumerate(warc_items(warc, first_seq, site_override=site, seeds=by_record,
                                                    listed=set(by_url))):
            if isinstance(item, PageResult):
                item.model_sha256 = model_sha
                row = item
            else:
                if item.item_key not in keys:
                    item.seq = first_seq + n
                row = analyse_item(item, model_dir, opts.gate)
            if row.item_key in keys:
                rows[row.item_key] = row
            else:
                out.append(row)
        outcome = {p.url: p for p in result.pages}
        for s in pending:
            if s.key in rows:
                continue
            page = outcome.get(s.url)
            if page is None:
                rows[s.key] = seed_row(s, "failed", f"{s.url}: not fetched (the crawl ended before it)")
            else:
                rows[s.key] = seed_row(s, "skipped" if page.outcome == "skipped" else "failed",
                                       f"{s.url}: not fetched ({page.outcome}: {page.reason or 'no record'})")
    return [rows[s.key] for s in seeds if s.key in rows] + out
