"""Batch scans: WARC archives, directories of HTML files and URL lists, in one process or on Dask.

Inputs are streamed into work items; a cheap relevance gate runs before the NLP stage; results flow to
one writer (the driver) that keeps the SQLite store, so workers never write. Every bad record, file or
line becomes a failed row with its reason, and the scan goes on.

- WARC / WARC.gz (any crawler's): 200 HTML/text responses are pages, each keyed `file@offset`; other
  records are counted as skipped.
- Directories: every .html/.htm file below, keyed by path; the site is the first directory level
  below the input (or the file name for files at the top).
- URL lists (.txt or .urls files, one URL per line, # comments): grouped by site; each site is crawled
  politely (crawl.py) into a WARC under `warc_dir`, sites in parallel, never two requests to a host at
  once; the crawled pages are then analysed like any WARC.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from detector.categories import CATEGORIES, DISCLOSURE, RED_FLAGS
from detector.errors import InputError, StemcheckError
from detector.extract import looks_binary
from detector.output.store import PageResult, ResultStore
from detector.records import PageVerdict, SiteReport
from detector.settings import Settings, load_settings
from detector.source.relevance import is_relevant
from detector.source.url import canonicalize, site_key
from detector.source.warc import WarcEvent, WarcPage, iter_records

log = logging.getLogger(__name__)

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
URL_LIST_SUFFIXES = (".txt", ".urls")
WARC_SUFFIXES = (".warc", ".warc.gz")


@dataclass
class WorkItem:
    """One page to analyse, with where it came from."""

    item_key: str
    seq: int
    url: str
    site: str
    source: str
    body: bytes
    fetched_at: str = ""
    content_type: str = "text/html"
    charset: str | None = None


@dataclass
class ScanOptions:
    """What decides a scan's results (hashed into the run key, so a restart with the same ones resumes)."""

    gate: bool = True
    max_pages: int = 30
    max_depth: int = 3
    delay: float = 1.0
    allow_private: bool = False
    batch_size: int = 64


@dataclass
class ScanResult:
    """Pages and sites as DataFrames, the run id (with a store) and a summary of what happened."""

    pages: pd.DataFrame
    sites: pd.DataFrame
    summary: dict
    run_id: int | None = None
    failures: list[dict] = field(default_factory=list)


# -- worker side ------------------------------------------------------------------------------------
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
    return verdict_result(v, **base)


def verdict_result(v: PageVerdict, **base: Any) -> PageResult:
    """A page verdict as a store row: the strongest red-flag sentence and every flagged claim with its scores."""
    red = [c for c in v.claims if set(c.categories) & set(RED_FLAGS)]
    best = max(red, key=lambda c: max(c.scores.get(k, 0.0) for k in c.categories), default=None)
    claims = []
    for c in v.flagged:
        keep = set(c.categories) | set(c.reported_categories)
        claims.append({"text": c.text, "categories": c.categories, "reported_categories": c.reported_categories,
                       "scores": {k: round(c.scores.get(k, 0.0), 4) for k in sorted(keep)},
                       "negated": c.negated, "hedged": c.hedged, "reported": c.reported})
    return PageResult(
        status="analysed", risk_score=v.risk_score, red_flag=v.red_flag, title=v.title[:300],
        top_evidence=best.text[:500] if best else "", categories=dict(v.categories),
        condition_groups=list(v.condition_groups), products=list(v.products),
        disclosure=v.categories.get(DISCLOSURE, 0) > 0, claims=claims, **base,
    )


def analyse_batch(items: list[WorkItem], model_dir: str, gate: bool = True) -> list[PageResult]:
    return [analyse_item(item, model_dir, gate) for item in items]


def crawl_site(site: str, urls: list[str], warc_dir: str, opts: ScanOptions, model_dir: str,
               first_seq: int) -> list[PageResult]:
    """Crawl one site of a URL list politely into its own WARC, then analyse what was fetched."""
    import dataclasses

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


# -- inputs -----------------------------------------------------------------------------------------
def warc_items(path: Path, first_seq: int = 0, site_override: str | None = None) -> Iterator[WorkItem | PageResult]:
    """Pages of a WARC as work items; skipped and damaged records as rows with their reason."""
    seq = first_seq
    try:
        records = iter_records(path, pages_only=True)
        for rec in records:
            seq += 1
            if isinstance(rec, tuple):
                continue
            if isinstance(rec, WarcEvent):
                # a link to a page that does not exist (4xx) is not a failure of the scan; timeouts,
                # oversized bodies and damaged records are
                status = "skipped" if rec.kind == "skipped" or rec.reason.startswith("http_4") else "failed"
                key = f"{path}@{rec.offset}" if rec.offset is not None else f"{path}@{rec.reason}"
                yield PageResult(item_key=key, seq=seq, url=rec.url or str(path), site=_site(rec.url, site_override),
                                 source=str(path), status=status, error=f"{rec.reason}: {rec.message}",
                                 model_sha256="")
                continue
            assert isinstance(rec, WarcPage)
            yield WorkItem(f"{path}@{rec.offset}", seq, rec.url, _site(rec.url, site_override), str(path), rec.body,
                           rec.date, rec.content_type or "text/html", rec.charset)
    except InputError as exc:
        yield PageResult(item_key=str(path), seq=seq + 1, url=str(path), site="", source=str(path),
                         status="failed", error=str(exc), model_sha256="")


def _site(url: str, override: str | None = None) -> str:
    if override:
        return override
    try:
        return site_key(url)
    except (InputError, ValueError):
        return ""


def html_file_item(path: Path, seq: int, site: str, source: str, max_bytes: int) -> WorkItem | PageResult:
    """One saved HTML file as a work item, or a failed row saying why it cannot be read."""
    def failed(error: str) -> PageResult:
        return PageResult(item_key=str(path), seq=seq, url=str(path), site=site, source=source, status="failed",
                          error=error, model_sha256="")

    try:
        if path.stat().st_size > max_bytes:
            return failed(f"{path}: larger than the {max_bytes:,}-byte limit")
        body = path.read_bytes()
    except OSError as exc:
        return failed(f"{path}: cannot read ({exc.strerror})")
    return WorkItem(str(path), seq, path.as_posix(), site, source, body)


def html_dir_items(root: Path, first_seq: int, max_bytes: int) -> Iterator[WorkItem | PageResult]:
    """Every .html/.htm file below root, in path order; the site is the first folder level (or the file)."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in HTML_SUFFIXES)
    if not files:
        yield PageResult(item_key=str(root), seq=first_seq + 1, url=str(root), site="", source=str(root),
                         status="failed", error=f"{root}: no .html or .htm files in this directory", model_sha256="")
        return
    for n, path in enumerate(files, first_seq + 1):
        rel = path.relative_to(root)
        yield html_file_item(path, n, rel.parts[0] if len(rel.parts) > 1 else path.stem, str(root), max_bytes)


def read_url_list(path: Path) -> tuple[dict[str, list[str]], list[PageResult]]:
    """URLs grouped by site (in file order), and a failed row per junk line naming its line number."""
    sites: dict[str, list[str]] = {}
    bad: list[PageResult] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return {}, [PageResult(item_key=str(path), seq=0, url=str(path), site="", source=str(path),
                               status="failed", error=f"{path}: cannot read ({exc.strerror})", model_sha256="")]
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            url = canonicalize(text)
            site = site_key(url)
        except InputError as exc:
            bad.append(PageResult(item_key=f"{path}:{n}", seq=n, url=text[:200], site="", source=str(path),
                                  status="failed", error=f"{path}:{n}: {str(exc)[:200]}", model_sha256=""))
            continue
        urls = sites.setdefault(site, [])
        if url not in urls:
            urls.append(url)
    return sites, bad


_ROW_FIELDS = [f.name for f in fields(PageResult) if f.name != "claims"]


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
    ):
        self.settings = settings or load_settings()
        self.model_dir = str(Path(model_dir or self.settings.model.model_dir).resolve())
        self.opts = options or ScanOptions()
        self.db_path = db
        self.workers, self.scheduler = workers, scheduler
        self.warc_dir = warc_dir
        self.progress = progress
        self.counts = {"analysed": 0, "irrelevant": 0, "failed": 0, "skipped": 0, "red_flag": 0, "reused": 0}

    def _run_key(self, inputs: list[str], model_sha: str) -> str:
        blob = json.dumps({"inputs": inputs, "options": asdict(self.opts), "model": model_sha}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def run(self, inputs: list[str | Path]) -> ScanResult:
        if not inputs:
            raise InputError("scan: no inputs given")
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
        rows: list[dict] = []
        site_claims: dict[str, set[tuple[str, str]]] = {}
        failures: list[dict] = []
        started = time.monotonic()

        def sink(results: list[PageResult]) -> None:
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
                self.counts["reused"] += int(r.reused_from is not None)
                if r.status == "failed":
                    failures.append({"item": r.item_key, "error": r.error})
                for c in r.claims:
                    for cat in c.get("categories", []):
                        site_claims.setdefault(r.site, set()).add((c["text"], cat))
                rows.append({f: getattr(r, f) for f in _ROW_FIELDS})  # shallow: asdict deep-copies
            if self.progress:
                self.progress({**self.counts, "elapsed": time.monotonic() - started})

        try:
            with _Executor(self.workers, self.scheduler) as submit:
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
            failures = [{"item": r, "error": e} for r, e in store.db.execute(
                "SELECT item_key, error FROM pages WHERE run_id=? AND status='failed' ORDER BY seq", (run_id,))]
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
        url_sites: list[tuple[str, list[str], int]] = []

        def flush() -> None:
            nonlocal batch
            if batch:
                submit.batch(batch, self.model_dir, self.opts.gate, sink)
                batch = []

        for name in names:
            path = Path(name)
            if name.startswith(("http://", "https://")):
                try:
                    url = canonicalize(name)
                    url_sites.append((site_key(url), [url], seq))
                except InputError as exc:
                    sink([PageResult(item_key=name, seq=seq, url=name, site="", source=name, status="failed",
                                     error=str(exc), model_sha256=model_sha)])
                seq += 100_000
                continue
            if not path.exists():
                sink([PageResult(item_key=name, seq=seq, url=name, site="", source=name, status="failed",
                                 error=f"{name}: no such file or directory", model_sha256=model_sha)])
                seq += 1
                continue
            if path.is_dir():
                items: Iterator[WorkItem | PageResult] = html_dir_items(path, seq, self.settings.extract.max_html_bytes)
            elif name.lower().endswith(WARC_SUFFIXES):
                items = warc_items(path, seq)
            elif name.lower().endswith(URL_LIST_SUFFIXES):
                groups, bad = read_url_list(path)
                for r in bad:
                    r.seq += seq
                sink(bad)
                for site, urls in groups.items():
                    url_sites.append((site, urls, seq))
                    seq += 100_000
                continue
            elif name.lower().endswith(HTML_SUFFIXES):
                max_bytes = self.settings.extract.max_html_bytes
                items = iter([html_file_item(path, seq + 1, path.stem, str(path), max_bytes)])
            else:
                sink([PageResult(item_key=name, seq=seq, url=name, site="", source=name, status="failed",
                                 error=f"{name}: not a WARC (.warc, .warc.gz), a directory of HTML files, an .html "
                                       f"file or a URL list (.txt, .urls)", model_sha256=model_sha)])
                seq += 1
                continue
            last = seq
            for item in items:
                last = max(last, item.seq)
                if item.item_key in done:
                    continue
                if isinstance(item, PageResult):
                    sink([item])
                    continue
                if store is not None:
                    sha = hashlib.sha256(item.body).hexdigest()
                    prior = store.reusable(item.url, sha, model_sha)
                    if prior is not None:
                        sink([reused_result(store, prior, item)])
                        continue
                batch.append(item)
                if len(batch) >= self.opts.batch_size:
                    flush()
            flush()
            seq = last + 1
        flush()
        if url_sites:
            warc_dir = Path(self.warc_dir or "stemcheck-scan-warcs")
            warc_dir.mkdir(parents=True, exist_ok=True)
            for site, urls, first in url_sites:
                prefix = str((warc_dir / f"{site.replace(':', '_')}.warc.gz").resolve()) + "@"
                if any(k.startswith(prefix) for k in done):
                    continue  # crawled and written before an interruption: resume does not crawl it again
                submit.site(site, urls, str(warc_dir.resolve()), self.opts, self.model_dir, first, sink)
        submit.wait(sink)


def reused_result(store: ResultStore, page_id: int, item: WorkItem) -> PageResult:
    row = store.db.execute("SELECT * FROM pages WHERE page_id=?", (page_id,)).fetchone()
    return PageResult(
        item_key=item.item_key, seq=item.seq, url=item.url, site=item.site, source=item.source, status="analysed",
        model_sha256=row["model_sha256"], fetched_at=item.fetched_at, content_sha256=row["content_sha256"],
        risk_score=row["risk_score"], red_flag=bool(row["red_flag"]), title=row["title"] or "",
        top_evidence=row["top_evidence"] or "", categories=json.loads(row["categories"] or "{}"),
        condition_groups=json.loads(row["condition_groups"] or "[]"), products=json.loads(row["products"] or "[]"),
        disclosure=bool(row["disclosure"]), reused_from=page_id,
    )


class _Executor:
    """Inline (one process), a thread pool for URL-list crawls, or Dask futures with bounded in-flight work."""

    def __init__(self, workers: int | None, scheduler: str | None):
        self.workers, self.scheduler = workers, scheduler
        self.client = self.cluster = None
        self.pending: list = []
        self.threads: ThreadPoolExecutor | None = None

    def __enter__(self) -> _Executor:
        if self.scheduler or self.workers:
            try:
                from dask.distributed import Client, LocalCluster
            except ImportError as exc:
                raise InputError("--workers/--scheduler need dask[distributed]: pip install 'stemcheck[dask]'") from exc
            if self.scheduler:
                try:
                    self.client = Client(self.scheduler, timeout="20s")
                except OSError as exc:
                    raise InputError(f"{self.scheduler}: cannot reach the Dask scheduler ({exc})") from exc
            else:
                self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
            self.in_flight = 2 * max(1, len(self.client.scheduler_info().get("workers", {})) or (self.workers or 1))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.threads is not None:
            self.threads.shutdown(wait=True, cancel_futures=True)
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def batch(self, items: list[WorkItem], model_dir: str, gate: bool, sink: Callable) -> None:
        if self.client is None:
            sink(analyse_batch(items, model_dir, gate))
            return
        self.pending.append(self.client.submit(analyse_batch, items, model_dir, gate, pure=False))
        self._drain(sink, self.in_flight)

    def site(self, site: str, urls: list[str], warc_dir: str, opts: ScanOptions, model_dir: str, first: int,
             sink: Callable) -> None:
        """One task per site keeps all of a host's URLs in one sequential, polite crawl."""
        if self.client is not None:
            self.pending.append(self.client.submit(crawl_site, site, urls, warc_dir, opts, model_dir, first,
                                                   pure=False))
            self._drain(sink, self.in_flight)
            return
        if self.threads is None:
            self.threads = ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 2) * 4))
        self.pending.append(self.threads.submit(crawl_site, site, urls, warc_dir, opts, model_dir, first))

    def _drain(self, sink: Callable, keep: int) -> None:
        from dask.distributed import wait

        while len(self.pending) > keep:
            finished, _ = wait(self.pending, return_when="FIRST_COMPLETED")
            for fut in list(finished):
                self.pending.remove(fut)
                sink(fut.result())

    def wait(self, sink: Callable) -> None:
        if self.client is not None:
            self._drain(sink, 0)
            return
        for fut in self.pending:
            sink(fut.result())
        self.pending.clear()


# -- tables -----------------------------------------------------------------------------------------
PAGE_COLUMNS = ["url", "site", "fetched_at", "status", "risk_score", "red_flag", *CATEGORIES, "top_evidence",
                "error", "title", "source", "item_key", "content_sha256", "model_sha256", "reused"]


def pages_frame(rows: list[dict]) -> pd.DataFrame:
    """One row per page, in input order; category counts as columns."""
    records = []
    for r in sorted(rows, key=lambda r: (r["seq"], r["item_key"])):
        cats = r.get("categories") or {}
        records.append({
            "url": r["url"], "site": r["site"], "fetched_at": r["fetched_at"], "status": r["status"],
            "risk_score": r["risk_score"], "red_flag": r["red_flag"], **{c: int(cats.get(c, 0)) for c in CATEGORIES},
            "top_evidence": r["top_evidence"], "error": r["error"], "title": r["title"], "source": r["source"],
            "item_key": r["item_key"], "content_sha256": r["content_sha256"], "model_sha256": r["model_sha256"],
            "reused": r.get("reused_from") is not None,
            "_groups": r.get("condition_groups") or [], "_products": r.get("products") or [],
            "_disclosure": bool(r.get("disclosure")),
        })
    frame = pd.DataFrame.from_records(records, columns=[*PAGE_COLUMNS, "_groups", "_products", "_disclosure"])
    frame["risk_score"] = frame["risk_score"].astype("Int64")
    frame["red_flag"] = frame["red_flag"].astype("boolean")
    return frame


def sites_frame(pages: pd.DataFrame, site_claims: dict[str, set[tuple[str, str]]]) -> pd.DataFrame:
    """Sites ranked by risk: score = worst page, with its categories over distinct claims."""
    out = []
    for site, group in pages.groupby("site", sort=False):
        analysed = group[group["status"] == "analysed"]
        worst = analysed.sort_values(["risk_score", "url"], ascending=[False, True]).head(1)
        counts = {c: 0 for c in CATEGORIES}
        for _text, cat in site_claims.get(site, ()):
            counts[cat] += 1
        out.append({
            "site": site, "risk_score": int(worst["risk_score"].iloc[0]) if len(worst) else 0,
            "pages": len(group), "analysed": len(analysed), "red_flag_pages": int(analysed["red_flag"].sum()),
            "worst_page": worst["url"].iloc[0] if len(worst) else None,
            "categories": ", ".join(f"{c}={n}" for c, n in counts.items() if n and c in RED_FLAGS),
            **{c: counts[c] for c in CATEGORIES},
            "condition_groups": ", ".join(sorted({g for gs in analysed["_groups"] for g in gs})),
            "products": ", ".join(sorted({p for ps in analysed["_products"] for p in ps})),
            "disclosure": bool(analysed["_disclosure"].any()) or counts[DISCLOSURE] > 0,
        })
    frame = pd.DataFrame(out, columns=["site", "risk_score", "pages", "analysed", "red_flag_pages", "worst_page",
                                       "categories", *CATEGORIES, "condition_groups", "products", "disclosure"])
    return frame.sort_values(["risk_score", "red_flag_pages", "site"], ascending=[False, False, True],
                             ignore_index=True)


def pages_frame_from_store(store: ResultStore, run_id: int) -> pd.DataFrame:
    rows = []
    for r in store.db.execute("SELECT * FROM pages WHERE run_id=? ORDER BY seq, item_key", (run_id,)):
        rows.append({
            "item_key": r["item_key"], "seq": r["seq"], "url": r["url"], "site": r["site"], "source": r["source"],
            "fetched_at": r["fetched_at"], "status": r["status"], "risk_score": r["risk_score"],
            "red_flag": None if r["red_flag"] is None else bool(r["red_flag"]), "title": r["title"],
            "top_evidence": r["top_evidence"], "error": r["error"], "categories": json.loads(r["categories"] or "{}"),
            "content_sha256": r["content_sha256"], "model_sha256": r["model_sha256"], "reused_from": r["reused_from"],
            "condition_groups": json.loads(r["condition_groups"] or "[]"),
            "products": json.loads(r["products"] or "[]"), "disclosure": bool(r["disclosure"]),
        })
    return pages_frame(rows)


def sites_frame_from_store(store: ResultStore, run_id: int) -> pd.DataFrame:
    pages = pages_frame_from_store(store, run_id)
    claims: dict[str, set[tuple[str, str]]] = {}
    for row in store.db.execute(
        "SELECT p.site, c.text, f.category FROM claims c JOIN pages p USING (page_id) JOIN flags f USING (claim_id) "
        "WHERE p.run_id=? AND f.made=1", (run_id,)
    ):
        claims.setdefault(row["site"], set()).add((row["text"], row["category"]))
    return sites_frame(pages, claims)


def public(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without the helper columns used to build the site table."""
    return frame.drop(columns=[c for c in frame.columns if c.startswith("_")])


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """CSV or Parquet by suffix."""
    frame = public(frame)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        raise InputError(f"{path}: output must end in .csv or .parquet")


def scan(inputs: list[str | Path], *, workers: int | None = None, scheduler: str | None = None,
         db: str | Path | None = None, model_dir: str | Path | None = None, gate: bool = True,
         warc_dir: str | Path | None = None, allow_private: bool = False, max_pages: int = 30) -> pd.DataFrame:
    """Scan WARCs, HTML directories or URL lists; returns one row per page.

    The site table and the run summary ride along in ``frame.attrs["sites"]`` and ``frame.attrs["summary"]``.
    """
    opts = ScanOptions(gate=gate, allow_private=allow_private, max_pages=max_pages)
    result = Scanner(Path(model_dir) if model_dir else None, options=opts, db=Path(db) if db else None,
                     workers=workers, scheduler=scheduler, warc_dir=Path(warc_dir) if warc_dir else None).run(inputs)
    frame = public(result.pages)
    frame.attrs["sites"] = result.sites
    frame.attrs["summary"] = result.summary
    frame.attrs["run_id"] = result.run_id
    return frame


def record_site_report(db: Path, report: SiteReport, source: str) -> int:
    """Write a site report (a crawl checked in the web app or by `check --site`) into the store as a finished
    run of its own, so triage and history see it beside batch scans. Returns the run id."""
    pages = []
    for n, page in enumerate(report.pages, 1):
        base = dict(item_key=f"{report.warc_path}@{page.record_id}", seq=n, url=page.url, site=report.site,
                    source=source, model_sha256=report.model_sha256, fetched_at=page.date)
        if page.verdict is None:
            pages.append(PageResult(status="failed", error=f"{page.url}: {page.error}", **base))
        else:
            pages.append(verdict_result(page.verdict, **base))
    with ResultStore(db) as store:
        run_key = hashlib.sha256(f"site:{report.warc_sha256}:{report.model_sha256}".encode()).hexdigest()
        run_id, _ = store.open_run(run_key, report.model_sha256, [source],
                                   {"kind": "site crawl", "warc": report.warc_path, "warc_sha256": report.warc_sha256})
        store.add(run_id, pages)
        store.finish_run(run_id, {"analysed": len(report.analysed), "failed": len(pages) - len(report.analysed),
                                  "red_flag": report.red_flag_pages, "kind": "site crawl"})
    return run_id
