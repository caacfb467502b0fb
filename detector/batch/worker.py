"""What a worker process does with one page or one site: gate, check, and turn the verdict into a row.

Every failure becomes a failed row naming the item and the cause, never an exception: one bad page never
stops a batch. The model loads once per worker process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from detector.batch.inputs import WorkItem, warc_items
from detector.errors import StemcheckError
from detector.records import PageResult
from detector.settings import load_settings
from detector.source.page import looks_binary
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


def analyse_item(item: WorkItem, model_dir: str, gate: bool = True) -> PageResult:
    """Gate, then check one page; every failure becomes a failed row, never an exception."""
    detector = _worker_detector(model_dir)
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
        v = detector.check_bytes(item.body, item.url, item.content_type, item.charset)
    except StemcheckError as exc:
        return PageResult(status="failed", error=str(exc), **base)
    except Exception as exc:  # noqa: BLE001 - one bad page never stops a batch
        log.debug("unexpected failure on %s", item.item_key, exc_info=True)
        return PageResult(status="failed", error=f"{item.url}: internal error ({exc.__class__.__name__}: {exc})",
                          **base)
    return PageResult.from_verdict(v, **base)


def analyse_batch(items: list[WorkItem], model_dir: str, gate: bool = True) -> list[PageResult]:
    return [analyse_item(item, model_dir, gate) for item in items]


def crawl_site(site: str, urls: list[str], warc_dir: str, opts: ScanOptions, model_dir: str,
               first_seq: int) -> list[PageResult]:
    """Crawl one site of a URL list politely into its own WARC, then analyse what was fetched."""
    from detector.source.crawl import Crawler

    settings = load_settings()
    settings = dataclasses.replace(settings, crawl=dataclasses.replace(
        settings.crawl, max_pages=opts.max_pages, max_depth=opts.max_depth, delay=opts.delay))
    warc = (Path(warc_dir) / f"{site.replace(':', '_')}.warc.gz").resolve()
    model_sha = _worker_detector(model_dir).bundle.sha256
    try:
        Crawler(settings, allow_private=opts.allow_private).crawl(urls[0], warc, seeds=urls[1:])
    except StemcheckError as exc:
        return [PageResult(item_key=f"url:{urls[0]}", seq=first_seq, url=urls[0], site=site, source=urls[0],
                           status="failed", error=str(exc), model_sha256=model_sha)]
    out = []
    for n, item in enumerate(warc_items(warc, first_seq, site_override=site)):
        if isinstance(item, PageResult):
            item.model_sha256 = model_sha
            out.append(item)
        else:
            item.seq = first_seq + n
            out.append(analyse_item(item, model_dir, opts.gate))
    return out


