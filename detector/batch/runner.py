"""Batch scans: WARC archives, directories of HTML files and URL lists, in one process or on Dask.

Inputs are expanded by their kind (batch/inputs.py) into work items; a cheap relevance gate runs before
the NLP stage (batch/worker.py); results flow to one writer (the driver) that keeps the SQLite store, so
workers never write. Every bad record, file or line becomes a failed row with its reason, and the scan goes
on. URL-list sites are crawled politely, one task per site, never two requests to a host at once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from detector.batch.inputs import Seed, WorkItem, expand
from detector.batch.worker import ScanOptions, _worker_detector, analyse_batch, crawl_site, warm_worker
from detector.errors import InputError
from detector.guard import portable, write_error
from detector.output.store import ResultStore
from detector.output.table import pages_frame, pages_frame_from_store, public, sites_frame, sites_frame_from_store
from detector.records import PageResult
from detector.settings import Settings, load_settings

log = logging.getLogger(__name__)


@dataclass
class ScanResult:
    """Pages and sites as DataFrames, the run id (with a store) and a summary of what happened."""

    def __repr__(self) -> str:
        s = self.summary
        return (f"ScanResult({len(self.pages)} pages, {len(self.sites)} sites; {s.get('analysed', 0)} analysed, "
                f"{s.get('failed', 0)} failed; run_id={self.run_id})")

    pages: pd.DataFrame
    sites: pd.DataFrame
    summary: dict
    run_id: int | None = None
    failures: list[dict] = field(default_factory=list)



_ROW_FIELDS = [f.name for f in fields(PageResult) if f.name != "claims"]
_TEXT_FIELDS = ("item_key", "url", "site", "source", "title", "top_evidence", "error")


def _portable_row(r: PageResult) -> None:
    """Every row passes here before any sink (store, CSV, Parquet, terminal): a file name that is not UTF-8
    is written losslessly as `\\xNN` (guard.portable) instead of failing the whole write."""
    for name in _TEXT_FIELDS:
        value = getattr(r, name)
        if isinstance(value, str):
            setattr(r, name, portable(value))




# -- the driver -------------------------------------------------------------------------------------
class Scanner:
    """Runs a scan: streams inputs, dispatches batches (inline or Dask), writes results, resumes."""

    def __init__(
        self,
        model_dir: Path | None = None,
        settings: Settings | None = None,
        options: ScanOptions | None = None,
        db: Path | None = None,
        workers: int | None = None,
        scheduler: str | None = None,
        warc_dir: Path | None = None,
        progress: Callable[[dict], None] | None = None,
        help_start: bool = True,
    ):
        self.settings = settings or load_settings()
        self.model_dir = str(Path(model_dir or self.settings.model.model_dir).resolve())
        self.opts = options or ScanOptions()
        self.db_path = db
        self.workers, self.scheduler = workers, scheduler
        self.warc_dir = warc_dir
        self.progress = progress
        self.help_start = help_start  # with a local cluster: check batches here until its workers are ready
        self.counts = {"analysed": 0, "irrelevant": 0, "failed": 0, "skipped": 0, "red_flag": 0, "reused": 0,
                       "repeated": 0}
        self.repeats: set[str] = set()

    def _run_key(self, inputs: list[str], model_sha: str) -> str:
        blob = json.dumps({"inputs": inputs, "options": asdict(self.opts), "model": model_sha}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def run(self, inputs: list[str | Path]) -> ScanResult:
        if not inputs:
            raise InputError("scan: no inputs given")
        # A local cluster starts first, so its workers load the model while this process loads its own.
        with _Executor(self.workers, self.scheduler, self.model_dir, self.help_start) as submit:
            return self._run(inputs, submit)

    def _run(self, inputs: list[str | Path], submit: _Executor) -> ScanResult:
        detector = _worker_detector(self.model_dir)
        model_sha = detector.bundle.sha256
        names = [str(Path(i).resolve()) if not str(i).startswith(("http://", "https://")) else str(i) for i in inputs]
        store = ResultStore(self.db_path) if self.db_path else None
        run_id, resumed, done = None, False, set()
        if store is not None:
            run_id, resumed = store.open_run(self._run_key(names, model_sha), model_sha, names, asdict(self.opts))
            done = store.done_keys(run_id) if resumed else set()
            if resumed:
                log.info("resuming run %s: %d items already written", run_id, len(done))
        self.run_id = run_id
        rows: list[dict] = []
        site_claims: dict[str, set[tuple[str, str]]] = {}
        failures: list[dict] = []
        started = time.monotonic()

        def sink(results: list[PageResult]) -> None:
            for r in results:
                _portable_row(r)
            fresh = [r for r in results if r.item_key not in done]
            for r in fresh:
                if not r.model_sha256:
                    r.model_sha256 = model_sha
            if store is not None and run_id is not None:
                store.add(run_id, fresh)
            for r in fresh:
                done.add(r.item_key)
                self.counts[r.status] += 1
                self.counts["red_flag"] += int(bool(r.red_flag))
                again = r.item_key in self.repeats  # reused from this very scan, not from an earlier one
                self.counts["reused"] += int(r.reused_from is not None and not again)
                self.counts["repeated"] += int(again)
                if r.status == "failed":
                    failures.append({"item": r.item_key, "error": r.error})
                for c in r.claims:
                    for cat in c.get("categories", []):
                        site_claims.setdefault(r.site, set()).add((c["text"], cat))
                rows.append({f: getattr(r, f) for f in _ROW_FIELDS})  # shallow: asdict deep-copies
            if self.progress:  # the cluster's line once it is up (it may start after the first batches)
                self.progress({**self.counts, "elapsed": time.monotonic() - started,
                               **({"cluster": submit.line} if submit.line else {})})

        try:
            self._dispatch(names, submit, sink, store, model_sha, done)
        except KeyboardInterrupt:
            log.warning("interrupted: %d items written; run the same command again to resume", len(done))
            if store is not None:
                store.close()
            raise
        elapsed = time.monotonic() - started
        summary = {**self.counts, "seconds": round(elapsed, 2), "resumed": resumed,
                   "pages_per_second": round((self.counts["analysed"] + self.counts["irrelevant"]) / max(elapsed, 1e-9),
                                             1)}
        if store is not None and run_id is not None:
            store.finish_run(run_id, summary)
            pages = pages_frame_from_store(store, run_id)
            sites = sites_frame_from_store(store, run_id)
            failures = store.failures(run_id)
            store.close()
        else:
            pages = pages_frame(rows)
            sites = sites_frame(pages, site_claims)
        summary["failed"] = len(failures)
        return ScanResult(pages, sites, summary, run_id, failures)

    # -- execution backends -------------------------------------------------------------------------
    def _dispatch(self, names: list[str], submit: _Executor, sink: Callable[[list[PageResult]], None],
                  store: ResultStore | None, model_sha: str, done: set[str]) -> None:
        seq = 0
        batch: list[WorkItem] = []
        url_sites: dict[str, tuple[list[Seed], int]] = {}
        listed: dict[str, str] = {}

        def flush() -> None:
            nonlocal batch
            if batch:
                submit.batch(batch, self.model_dir, self.opts.gate, sink, explain=store is not None)
                batch = []

        def decided(item: PageResult) -> None:
            if portable(item.item_key) not in done:
                item.model_sha256 = item.model_sha256 or model_sha
                sink([item])

        for name in names:
            found = expand(name, seq, self.settings)
            for site, seeds in found.sites:
                group = url_sites.setdefault(site, ([], seq))[0]  # a site listed twice is crawled once
                for s in seeds:
                    if s.url in listed:  # every line still gets its row
                        decided(PageResult(item_key=s.key, seq=s.seq, url=s.url, site=site, source=s.key,
                                           status="skipped", error=f"{s.key}: the same URL as {listed[s.url]}; "
                                           "crawled once", model_sha256=model_sha))
                        continue
                    listed[s.url] = s.key
                    group.append(s)
                seq += 100_000
            last = seq
            for item in found.items:
                last = max(last, item.seq)
                if isinstance(item, PageResult):
                    decided(item)
                    continue
                if portable(item.item_key) in done:
                    continue
                if store is not None:
                    sha = hashlib.sha256(item.body).hexdigest()
                    prior = store.reusable(portable(item.url), sha, model_sha)
                    if prior is not None:
                        if store.page_run(prior) == self.run_id:
                            self.repeats.add(item.item_key)
                        sink([store.reused(prior, item_key=item.item_key, seq=item.seq, url=item.url, site=item.site,
                                           source=item.source, fetched_at=item.fetched_at)])
                        continue
                batch.append(item)
                if len(batch) >= self.opts.batch_size:
                    flush()
            flush()
            seq = last + 1
        flush()
        if url_sites:
            warc_dir = Path(self.warc_dir or "stemcheck-scan-warcs")
            try:
                warc_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise write_error(exc, warc_dir) from exc
            for site, (seeds, first) in url_sites.items():
                if not seeds or any(s.key in done for s in seeds):
                    continue  # crawled and written before an interruption: resume does not crawl it again
                submit.site(site, seeds, str(warc_dir.resolve()), self.opts, self.model_dir, first, sink)
        submit.wait(sink)


def _quiet_cluster(local_cluster: Callable, workers: int) -> Any:
    """A local cluster that logs errors only: its scheduler, nannies and workers otherwise print some 35 INFO
    lines. Worker processes read the level from the environment they are spawned with."""
    import dask

    logging.getLogger("distributed").setLevel(logging.ERROR)
    before = os.environ.get("DASK_LOGGING__DISTRIBUTED")
    os.environ["DASK_LOGGING__DISTRIBUTED"] = "error"
    try:
        with dask.config.set({"logging.distributed": "error"}):
            dashboard = "127.0.0.1:0" if importlib.util.find_spec("bokeh") else None
            return local_cluster(n_workers=workers, threads_per_worker=1, processes=True,
                                 dashboard_address=dashboard, silence_logs=logging.ERROR)
    finally:
        if before is None:
            os.environ.pop("DASK_LOGGING__DISTRIBUTED", None)
        else:
            os.environ["DASK_LOGGING__DISTRIBUTED"] = before


class _Executor:
    """Inline (one process), a thread pool for URL-list crawls, or Dask futures with bounded in-flight work.

    This process checks the first batches itself. A local cluster starts in the background once HEAD_START
    batches are done (a scan smaller than that never pays for a cluster); its workers start and load the
    model (once each, before their first task) while this process goes on checking batches, so `--workers N`
    never waits idle for start-up. From the moment the workers are ready, every batch goes to them.
    """

    HEAD_START = 4

    def __init__(self, workers: int | None, scheduler: str | None, model_dir: str = "", help_start: bool = True):
        self.workers, self.scheduler, self.model_dir, self.help_start = workers, scheduler, model_dir, help_start
        self.client = self.cluster = None
        self.line = ""  # one line naming the cluster, for the progress display
        self.pending: list = []
        self.threads: ThreadPoolExecutor | None = None
        self.in_flight = 2
        self.line = ""  # one line naming the cluster, for the progress display
        self._ready = threading.Event()
        self._closing = threading.Event()
        self._starter: threading.Thread | None = None
        self._inline = 0  # batches this process checked itself

    def __enter__(self) -> _Executor:
        if self.scheduler or self.workers:
            if importlib.util.find_spec("distributed") is None:  # found, not imported: a small scan never needs it
                raise InputError("--workers/--scheduler need dask[distributed]: pip install 'stemcheck[dask]'")
            if self.scheduler:
                from dask.distributed import Client

                try:
                    client = Client(self.scheduler, timeout="20s")
                except OSError as exc:
                    raise InputError(f"{self.scheduler}: cannot reach the Dask scheduler ({exc})") from exc
                self._use(client)
            elif not self.help_start:
                self._start()
                self._ready.wait()
        return self

    def _start(self) -> None:
        self._starter = threading.Thread(target=self._start_local, name="stemcheck-dask-start", daemon=True)
        self._starter.start()

    def _start_local(self) -> None:
        from dask.distributed import Client, LocalCluster

        client = None
        try:
            self.cluster = _quiet_cluster(LocalCluster, self.workers)
            client = Client(self.cluster)
            self._use(client)
        except Exception as exc:  # noqa: BLE001 - the scan goes on in this process
            log.warning("the Dask workers did not start (%s); scanning in this process", exc)
            if client is not None:
                client.close()
            self._ready.set()

    def _use(self, client: Any) -> None:
        """Adopt a client once every worker has loaded the model (so the first tasks do not queue behind it)."""
        if self.model_dir and not self._closing.is_set():  # a scan that finished first needs no warm workers
            client.run(warm_worker, self.model_dir)
        self.in_flight = 2 * max(1, len(client.scheduler_info().get("workers", {})) or (self.workers or 1))
        dashboard = client.dashboard_link if importlib.util.find_spec("bokeh") else ""
        self.line = (f"dask: {len(client.scheduler_info().get('workers', {}))} workers, scheduler "
                     f"{client.scheduler.address}" + (f", dashboard {dashboard}" if dashboard else ""))
        self.client = client
        self._ready.set()

    def __exit__(self, *exc: object) -> None:
        if self.threads is not None:
            self.threads.shutdown(wait=True, cancel_futures=True)
        if self._starter is not None:
            self._closing.set()
            self._starter.join()
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def batch(self, items: list[WorkItem], model_dir: str, gate: bool, sink: Callable, explain: bool = True) -> None:
        if self.client is None:
            if self.workers and not self.scheduler and self._starter is None and self._inline >= self.HEAD_START:
                self._start()
            sink(analyse_batch(items, model_dir, gate, explain))
            self._inline += 1
            return
        self.pending.append(self.client.submit(analyse_batch, items, model_dir, gate, explain, pure=False))
        self._drain(sink, self.in_flight)

    def site(self, site: str, seeds: list[Seed], warc_dir: str, opts: ScanOptions, model_dir: str, first: int,
             sink: Callable) -> None:
        """One task per site keeps all of a host's URLs in one sequential, polite crawl."""
        if self.workers and not self.scheduler and self._starter is None:
            self._start()
        if self._starter is not None:
            self._ready.wait()
        if self.client is not None:
            self.pending.append(self.client.submit(crawl_site, site, seeds, warc_dir, opts, model_dir, first,
                                                   pure=False))
            self._drain(sink, self.in_flight)
            return
        if self.threads is None:
            self.threads = ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 2) * 4))
        self.pending.append(self.threads.submit(crawl_site, site, seeds, warc_dir, opts, model_dir, first))

    def _drain(self, sink: Callable, keep: int) -> None:
        from dask.distributed import Future, wait

        while len([f for f in self.pending if isinstance(f, Future)]) > keep:
            finished, _ = wait([f for f in self.pending if isinstance(f, Future)], return_when="FIRST_COMPLETED")
            for fut in list(finished):
                self.pending.remove(fut)
                sink(fut.result())

    def wait(self, sink: Callable) -> None:
        if self.client is not None:
            self._drain(sink, 0)
        for fut in self.pending:
            sink(fut.result())
        self.pending.clear()


def scan(inputs: list[str | Path], *, workers: int | None = None, scheduler: str | None = None,
         db: str | Path | None = None, model_dir: str | Path | None = None, gate: bool = True,
         warc_dir: str | Path | None = None, allow_private: bool = False, max_pages: int = 30) -> ScanResult:
    """Scan WARCs, HTML directories or URL lists.

    Returns a ScanResult: ``.pages`` (one row per page) and ``.sites`` (ranked by risk) as DataFrames, and
    ``.summary``, ``.run_id`` and ``.failures``. The site table is an attribute of its own, not a DataFrame
    ``attrs`` entry, so it survives merges and copies.
    """
    opts = ScanOptions(gate=gate, allow_private=allow_private, max_pages=max_pages)
    result = Scanner(Path(model_dir) if model_dir else None, options=opts, db=Path(db) if db else None,
                     workers=workers, scheduler=scheduler, warc_dir=Path(warc_dir) if warc_dir else None).run(inputs)
    return ScanResult(public(result.pages), public(result.sites), result.summary, result.run_id, result.failures)


