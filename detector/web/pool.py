"""Where the web app's analyses run: a small pool of worker processes, or the request's own thread.

Python threads share one interpreter lock, so analyses in threads take turns however many cores there are;
`serve` therefore hands them to `WebSettings.workers` processes, each with its own model loaded once at start
(while the server starts, not on the first request). Fetches, crawls and every request limit stay in the
server process: a worker only ever sees bytes and text. With workers=0 (and in tests, which share one loaded
model) analyses run in the calling thread, unlocked: the detector keeps no per-call state outside the
documents it builds, so concurrent checks give the same verdicts as sequential ones (a test checks this).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from detector.check import Detector, site_reports
from detector.errors import StemcheckError
from detector.records import PageVerdict, SiteReport
from detector.settings import Settings
from detector.source.page import page_from_bytes

log = logging.getLogger(__name__)

_detector: Detector | None = None


def _load(model_dir: str | None, settings: Settings) -> None:
    global _detector
    _detector = Detector.load(Path(model_dir) if model_dir else None, settings)


def _ready() -> bool:
    return _detector is not None


def _worker(detector: Detector | None) -> Detector:
    """The app's detector when run in its thread, else this worker process's own."""
    found = detector or _detector
    if found is None:
        raise StemcheckError("the analysis worker has no model loaded")
    return found


def _check_text(text: str, source: str, detector: Detector | None = None) -> PageVerdict:
    return _worker(detector).check_text(text, source)


def _check_bytes(body: bytes, url: str, content_type: str, charset: str | None,
                 detector: Detector | None = None) -> PageVerdict:
    d = _worker(detector)
    return d.check_page(page_from_bytes(body, url, content_type, charset, d.settings.extract))


def _site_reports(warc: str, detector: Detector | None = None) -> list[SiteReport]:
    return site_reports(_worker(detector), Path(warc))


class Analyser:
    """Runs checks for the web app, in worker processes (workers > 0) or in the caller's thread."""

    def __init__(self, detector: Detector, settings: Settings, model_dir: Path | None = None, workers: int = 0):
        self.detector, self.settings, self.model_dir, self.workers = detector, settings, model_dir, workers
        self._pool: ProcessPoolExecutor | None = None
        self._guard = threading.Lock()  # guards only the pool's replacement, never an analysis
        if workers:
            self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn: the server runs threads, and forking a threaded process can copy a held lock into the child
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_load,
                                   initargs=(str(self.model_dir) if self.model_dir else None, self.settings))
        for _ in range(self.workers):  # start every worker now: each loads the model while the server starts
            pool.submit(_ready)
        return pool

    def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        pool = self._pool
        if pool is None:
            return fn(*args, detector=self.detector)
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool:  # a worker died (killed, out of memory): replace the pool, try once more
            log.warning("an analysis worker died; starting a new pool")
            with self._guard:
                if self._pool is pool:
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._start()
                pool = self._pool
            try:
                return pool.submit(fn, *args).result()
            except BrokenProcessPool as exc:
                raise StemcheckError("the analysis worker stopped unexpectedly; try again") from exc

    def check_text(self, text: str, source: str) -> PageVerdict:
        return self._run(_check_text, text, source)

    def check_bytes(self, body: bytes, url: str, content_type: str, charset: str | None) -> PageVerdict:
        return self._run(_check_bytes, body, url, content_type, charset)

    def site_reports(self, warc: Path) -> list[SiteReport]:
        return self._run(_site_reports, str(warc))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

