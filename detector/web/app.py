"""The FastAPI app: Check (journalists), Triage (regulators), the JSON API and its docs.

Pages are rendered on the server by Jinja2 with autoescaping on; no template marks scraped or user text
safe, so a clinic page titled `<script>...` shows up as those characters. Verdicts come from the same
Detector the CLI uses; URLs go through the crawler's and fetcher's SSRF guard with `allow_private` taken
from the server flag only, never from the request.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import re
import sqlite3
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from detector.batch.runner import record_site_report
from detector.categories import CATEGORIES, DESCRIPTIONS, DISCLOSURE, RED_FLAGS
from detector.check import Detector, site_reports
from detector.errors import FetchError, InputError, StemcheckError, UnsafeURLError
from detector.extract import decode_html, html_to_page, looks_binary, text_to_page
from detector.output.report import NOTE, to_html, verdict_label
from detector.output.store import ResultStore, diff_runs
from detector.records import Claim, Page, PageVerdict, SiteReport
from detector.settings import Settings, load_settings
from detector.source.crawl import CrawlResult
from detector.source.fetch import fetch_page, resolve_safe
from detector.source.url import canonicalize
from detector.source.warc import read_crawl
from detector.web.jobs import Job, JobLimitError, JobManager
from detector.web.security import SecurityMiddleware, WebLimits

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CONTEXT_CHARS = 240
SORTS = {
    "risk": "risk_score", "site": "site", "red_flag_pages": "red_flag_pages", "analysed": "analysed",
    "scanned": "scanned", "tld": "tld",
}
_CSV_FORMULA = re.compile(r"^[=+\-@\t\r]")


# -- the state one app holds ------------------------------------------------------------------------
@dataclass
class WebState:
    """Everything the routes share: the detector (one lock: spaCy pipelines are not re-entrant), jobs, limits."""

    detector: Detector
    settings: Settings
    db: Path
    allow_private: bool
    limits: WebLimits
    jobs: JobManager
    analysis: threading.Lock
    fetches: threading.BoundedSemaphore

    def store(self) -> ResultStore:
        if not self.db.exists():
            raise InputError(f"{self.db}: no results store; run `stemcheck scan --db {self.db.name} ...` first")
        return ResultStore(self.db)


class CheckIn(BaseModel):
    """Pasted text or one page URL, checked synchronously."""

    text: str | None = Field(None, description="Text to check (plain text; blank lines separate blocks).")
    url: str | None = Field(None, description="An http(s) URL; only that page is fetched.")


class JobIn(BaseModel):
    """A whole-site crawl."""

    url: str = Field(..., description="Start URL of the site to crawl (same site only, robots.txt obeyed).")


# -- views: records turned into what templates and exports show --------------------------------------
def _cls(label: str) -> str:
    return {"RED FLAG": "red", "review": "review"}.get(label, "low")


def _site_label(r: SiteReport) -> str:
    return "RED FLAG" if r.red_flag else "review" if r.risk_score >= 30 else "low risk"


def claim_context(page: Page | None, claim: Claim, width: int = CONTEXT_CHARS) -> tuple[str, str, str]:
    """(text before, the sentence, text after) within the claim's block, so a reader sees it in context."""
    if page is None:
        return "", claim.text, ""
    pos = 0
    spans = []
    for block in page.blocks:
        spans.append((pos, block.text))
        pos += len(block.text) + 2
    found: tuple[str, int] | None = None
    for start, text in spans:
        if start <= claim.start < start + len(text) + 1:
            rel = claim.start - start
            if text[rel:rel + len(claim.text)] == claim.text:
                found = (text, rel)
            break
    if found is None:  # offsets from another chunking: fall back to the first block holding the sentence
        for _start, text in spans:
            rel = text.find(claim.text)
            if rel >= 0:
                found = (text, rel)
                break
    if found is None:
        return "", claim.text, ""
    text, rel = found
    before, after = text[:rel], text[rel + len(claim.text):]
    if len(before) > width:
        before = "…" + before[-width:].lstrip()
    if len(after) > width:
        after = after[:width].rstrip() + "…"
    return before, claim.text, after


def claim_view(claim: Claim, page: Page | None, url: str = "", record_id: str = "") -> dict[str, Any]:
    before, text, after = claim_context(page, claim)
    red = bool(set(claim.categories) & set(RED_FLAGS))
    kind = "flag" if red else "rep" if claim.reported_categories else "disc"
    cats = [
        {"name": cat, "description": DESCRIPTIONS.get(cat, ""), "probability": round(claim.scores.get(cat, 0.0), 2),
         "made": cat in claim.categories, "why": claim.explanation.get(cat, [])}
        for cat in claim.categories + claim.reported_categories
    ]
    context = [f for f in ("negated", "hedged", "reported") if getattr(claim, f)]
    return {"url": url, "record_id": record_id, "before": before, "text": text, "after": after,
            "role": claim.block_role, "kind": kind, "cats": cats, "context": context,
            "cues": [f"{c.label}: {c.text}" + (" (negated)" if c.negated else "") for c in claim.cues]}


def _group(verdict: PageVerdict, page: Page | None, url: str, record_id: str = "") -> dict[str, Any]:
    label = verdict_label(verdict)
    order = sorted(verdict.flagged, key=lambda c: (not set(c.categories) & set(RED_FLAGS), c.start))
    return {"url": url, "title": verdict.title, "risk_score": verdict.risk_score, "label": label,
            "cls": _cls(label), "record_id": record_id,
            "claims": [claim_view(c, page, url, record_id) for c in order]}


def _common(label: str, risk: int, red: bool, categories: dict[str, int], groups: list[str],
            products: list[str]) -> dict[str, Any]:
    return {
        "label": label, "cls": _cls(label), "risk_score": risk, "red_flag": red,
        "categories": [{"name": k, "count": n, "description": DESCRIPTIONS.get(k, ""), "red": k in RED_FLAGS}
                       for k, n in categories.items() if n],
        "condition_groups": groups, "products": products, "note": NOTE,
    }


def verdict_view(kind: str, verdict: PageVerdict, page: Page | None) -> dict[str, Any]:
    """The report of one text or page."""
    label = verdict_label(verdict)
    group = _group(verdict, page, verdict.target if kind == "page" else "")
    view = _common(label, verdict.risk_score, verdict.red_flag, verdict.categories, verdict.condition_groups,
                   verdict.products)
    view.update(kind=kind, target=verdict.target, title=verdict.title, reasons=verdict.reasons,
                groups=[group] if group["claims"] else [], pages=[], failures=[], warc=None,
                assessed=len(verdict.claims))
    view["disclosures"] = [c for c in group["claims"] if any(x["name"] == DISCLOSURE for x in c["cats"])]
    view["flag_count"] = sum(1 for c in group["claims"] if c["kind"] == "flag")
    return view


def _warc_pages(report: SiteReport, detector: Detector, urls: set[str]) -> dict[str, Page]:
    """Pages re-read from the WARC evidence, only to show each flagged sentence inside its block."""
    out: dict[str, Page] = {}
    try:
        crawl = read_crawl(Path(report.warc_path), detector.settings.extract.max_html_bytes)
    except StemcheckError:
        return out
    for wp in crawl.pages:
        if wp.url not in urls or wp.url in out or wp.status != 200 or looks_binary(wp.body):
            continue
        text, _how = decode_html(wp.body, wp.charset, wp.url)
        try:
            out[wp.url] = (text_to_page(text, wp.url, detector.settings.extract)
                           if wp.content_type.startswith("text/plain")
                           else html_to_page(text, wp.url, detector.settings.extract))
        except InputError:
            continue
    return out


def site_view(report: SiteReport, detector: Detector, result: CrawlResult | None = None) -> dict[str, Any]:
    """The report of a crawled site: its verdict, each page's flagged claims in context, the evidence."""
    ranked = sorted(report.analysed, key=lambda p: (-p.verdict.risk_score, p.url))  # type: ignore[union-attr]
    flagged = [p for p in ranked if p.verdict and p.verdict.flagged]
    pages = _warc_pages(report, detector, {p.url for p in flagged})
    groups = [_group(p.verdict, pages.get(p.url), p.url, p.record_id) for p in flagged]  # type: ignore[arg-type]
    view = _common(_site_label(report), report.risk_score, report.red_flag, report.categories,
                   report.condition_groups, report.products)
    view.update(kind="site", target=report.start_url, title=report.site, reasons=[], groups=groups,
                assessed=sum(len(p.verdict.claims) for p in report.analysed))  # type: ignore[union-attr]
    seen: set[str] = set()
    view["disclosures"] = []
    for g in groups:
        for c in g["claims"]:
            if any(x["name"] == DISCLOSURE for x in c["cats"]) and c["text"] not in seen:
                seen.add(c["text"])
                view["disclosures"].append(c)
    view["flag_count"] = len({c["text"] for g in groups for c in g["claims"] if c["kind"] == "flag"})
    view["pages"] = [
        {"url": p.url, "status": p.status, "title": p.verdict.title if p.verdict else "",
         "risk_score": p.verdict.risk_score if p.verdict else None,
         "label": verdict_label(p.verdict) if p.verdict else "not analysed", "error": p.error,
         "record_id": p.record_id}
        for p in report.pages
    ]
    view["failures"] = [{"url": e.url, "kind": e.kind, "reason": e.reason, "message": e.message}
                        for e in report.events]
    view["warc"] = {"sha256": report.warc_sha256,
                    "bytes": Path(report.warc_path).stat().st_size if Path(report.warc_path).exists() else 0}
    view["crawl"] = {"started": report.crawl_started, "finished": report.crawl_finished,
                     "requests": report.requests, "robots": report.robots,
                     "seconds": result.seconds if result else None}
    view["red_flag_pages"], view["analysed"] = report.red_flag_pages, len(report.analysed)
    return view


def claims_csv(view: dict[str, Any]) -> str:
    """Every flagged sentence, one row each; cells that a spreadsheet would run as formulas are defused."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["url", "sentence", "kind", "categories", "reported_categories", "probabilities", "context",
                "explanation", "warc_record_id"])

    def cell(value: str) -> str:
        return "'" + value if _CSV_FORMULA.match(value) else value

    for g in view.get("groups", []):
        for c in g["claims"]:
            w.writerow([cell(x) for x in (
                c["url"], c["text"], c["kind"],
                ";".join(x["name"] for x in c["cats"] if x["made"]),
                ";".join(x["name"] for x in c["cats"] if not x["made"]),
                ";".join(f"{x['name']}={x['probability']:.2f}" for x in c["cats"]),
                ";".join(c["context"]),
                " | ".join(f"{x['name']}: " + "; ".join(x["why"]) for x in c["cats"]),
                c["record_id"],
            )])
    return buf.getvalue()


# -- triage: queries over the results store ---------------------------------------------------------
def site_tld(site: str) -> str:
    """The site's top-level domain ('mx', 'com'), 'ip' for an address, '' for a folder name."""
    host = site.rsplit(":", 1)[0] if site.count(":") == 1 else site
    if re.fullmatch(r"[\d.]+", host) or ":" in host:
        return "ip"
    return host.rsplit(".", 1)[1].lower() if "." in host else ""


def _day(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError as exc:
        raise InputError(f"{name}: expected a date YYYY-MM-DD") from exc


def _site_row(row: Any) -> dict[str, Any]:
    cats = json.loads(row["categories"] or "{}")
    return {
        "site": row["site"], "run_id": row["run_id"], "scanned": row["started"], "risk_score": row["risk_score"],
        "pages": row["pages"], "analysed": row["analysed"], "red_flag_pages": row["red_flag_pages"],
        "worst_page": row["worst_page"], "categories": {k: v for k, v in cats.items() if v},
        "condition_groups": json.loads(row["condition_groups"] or "[]"),
        "products": json.loads(row["products"] or "[]"), "disclosure": bool(row["disclosure"]),
        "tld": site_tld(row["site"]),
    }


@dataclass
class TriageQuery:
    """Filters, sort and page of the triage table; validated so a bad value gets a clear message."""

    category: str = ""
    condition: str = ""
    product: str = ""
    tld: str = ""
    since: str = ""
    until: str = ""
    sort: str = "risk"
    order: str = "desc"
    page: int = 1
    per_page: int = 25

    def check(self) -> TriageQuery:
        if self.category and self.category not in CATEGORIES:
            raise InputError(f"category: expected one of {', '.join(CATEGORIES)}")
        if self.sort not in SORTS:
            raise InputError(f"sort: expected one of {', '.join(SORTS)}")
        if self.order not in ("asc", "desc"):
            raise InputError("order: expected asc or desc")
        if self.page < 1 or not 1 <= self.per_page <= 100:
            raise InputError("page must be 1 or more and per_page between 1 and 100")
        self.since = _day(self.since, "since") or ""
        self.until = _day(self.until, "until") or ""
        self.tld = self.tld.strip().lstrip(".").lower()
        return self

    def params(self, **change: Any) -> str:
        """The query string of this view with some values changed (links keep the other filters)."""
        values = {**self.__dict__, **change}
        defaults = TriageQuery().__dict__
        return urlencode({k: v for k, v in values.items() if v != defaults[k] and v != ""})


def triage(store: ResultStore, q: TriageQuery) -> dict[str, Any]:
    """Sites ranked by the latest finished run that covers each (run started on or before `until`)."""
    rows = store.db.execute(
        "SELECT s.*, r.started FROM sites s JOIN runs r ON r.run_id = s.run_id WHERE r.status = 'finished' "
        "AND (? = '' OR substr(r.started, 1, 10) <= ?) ORDER BY s.run_id", (q.until, q.until)).fetchall()
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        latest[row["site"]] = _site_row(row)
    sites = list(latest.values())
    facets = {
        "categories": list(CATEGORIES),
        "condition_groups": sorted({g for s in sites for g in s["condition_groups"]}),
        "tlds": sorted({s["tld"] for s in sites if s["tld"]}),
    }
    if q.category:
        sites = [s for s in sites if s["categories"].get(q.category)]
    if q.condition:
        sites = [s for s in sites if q.condition in s["condition_groups"]]
    if q.product:
        needle = q.product.lower()
        sites = [s for s in sites if any(needle in p.lower() for p in s["products"])]
    if q.tld:
        sites = [s for s in sites if s["tld"] == q.tld]
    if q.since:
        sites = [s for s in sites if s["scanned"][:10] >= q.since]
    key = SORTS[q.sort]
    sites.sort(key=lambda s: s["site"])
    sites.sort(key=lambda s: s[key], reverse=q.order == "desc")
    total = len(sites)
    first = (q.page - 1) * q.per_page
    return {"total": total, "page": q.page, "per_page": q.per_page, "pages": max(1, -(-total // q.per_page)),
            "sort": q.sort, "order": q.order, "sites": sites[first:first + q.per_page], "facets": facets}


def site_history(store: ResultStore, site: str) -> dict[str, Any]:
    """A site across runs: score per run, the claim diff between consecutive runs, the latest claims."""
    rows = store.db.execute(
        "SELECT s.*, r.started FROM sites s JOIN runs r ON r.run_id = s.run_id "
        "WHERE s.site = ? AND r.status = 'finished' ORDER BY s.run_id", (site,)).fetchall()
    if not rows:
        raise LookupError(site)
    history = [_site_row(r) for r in rows]
    diffs = []
    for a, b in zip(history, history[1:], strict=False):
        diffs.append(site_diff(store, site, a["run_id"], b["run_id"]))
    latest = history[-1]
    claims: dict[tuple[str, str], dict[str, Any]] = {}
    for r in store.db.execute(
        "SELECT p.url, c.text, f.category, f.probability FROM flags f JOIN claims c USING (claim_id) "
        "JOIN pages p USING (page_id) WHERE p.run_id = ? AND p.site = ? AND f.made = 1 "
        "ORDER BY p.risk_score DESC, p.url, c.position LIMIT 500", (latest["run_id"], site)):
        item = claims.setdefault((r["url"], r["text"]), {"url": r["url"], "text": r["text"], "categories": []})
        item["categories"].append({"name": r["category"], "probability": round(r["probability"], 2),
                                   "red": r["category"] in RED_FLAGS})
    return {"site": site, "tld": site_tld(site), "latest": latest, "history": history,
            "diffs": list(reversed(diffs)), "claims": list(claims.values())}


def site_diff(store: ResultStore, site: str, run_a: int, run_b: int) -> dict[str, Any]:
    """The claims of one site that appeared and disappeared from run A to run B (store.diff_runs)."""
    started = {r["run_id"]: r["started"] for r in store.runs()}
    found = next((d for d in diff_runs(store, run_a, run_b) if d["site"] == site), None)
    scores_a, scores_b = store.site_scores(run_a).get(site), store.site_scores(run_b).get(site)
    out = found or {"site": site, "score_before": scores_a, "score_after": scores_b,
                    "score_change": None if scores_a is None or scores_b is None else scores_b - scores_a,
                    "appeared": [], "disappeared": []}
    return {**out, "run_a": run_a, "run_b": run_b, "started_a": started.get(run_a), "started_b": started.get(run_b)}


# -- the app ------------------------------------------------------------------------------------------
def create_app(db: Path, model_dir: Path | None = None, allow_private: bool = False,
               settings: Settings | None = None, *, limits: WebLimits | None = None,
               detector: Detector | None = None, work_dir: Path | None = None,
               record_crawls: bool = True) -> FastAPI:
    """Build the app; `detector` lets tests share one loaded model, `work_dir` is where job WARCs go,
    `record_crawls` writes each whole-site check into the store as a run of its own."""
    settings = settings or load_settings()
    limits = limits or WebLimits()
    detector = detector or Detector.load(model_dir, settings)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)

    def analyse_site(job: Job, warc: Path, result: CrawlResult) -> None:
        with state.analysis:
            reports = site_reports(detector, warc)
            if not reports:
                raise InputError(f"{job.target}: the crawl found no pages to analyse")
            report = next((r for r in reports if r.site == result.site), reports[0])
            job.view = site_view(report, detector, result)
            job.html_report = to_html([], sites=[dataclasses.replace(report, warc_path=warc.name)])
        job.warc_sha256 = report.warc_sha256
        job.data = {"note": NOTE, **report.to_dict()}
        job.data["warc"]["path"] = warc.name
        if not record_crawls:
            return
        try:  # the crawl joins the store's history, so Triage shows it beside batch scans
            job.data["store_run"] = record_site_report(Path(db), report, job.target)
        except (StemcheckError, sqlite3.Error) as exc:
            log.warning("site job %s: not recorded in %s (%s)", job.id, db, exc)

    state = WebState(
        detector=detector, settings=settings, db=Path(db), allow_private=allow_private, limits=limits,
        jobs=JobManager(settings, allow_private, analyse_site, limits.max_jobs, limits.max_kept_results, work_dir),
        analysis=threading.Lock(), fetches=threading.BoundedSemaphore(limits.max_sync_fetches),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        yield
        state.jobs.shutdown()

    app = FastAPI(
        title="stemcheck", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
        openapi_url="/openapi.json",
        description="Flags unproven stem-cell clinic marketing. " + NOTE,
    )
    app.state.web = state
    app.add_middleware(SecurityMiddleware, limits=limits)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def render(name: str, code: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("note", NOTE)
        ctx.setdefault("allow_private", allow_private)
        return HTMLResponse(env.get_template(name).render(**ctx), status_code=code)

    def api_error(status: int, exc: Exception | str, reason: str = "") -> JSONResponse:
        body: dict[str, Any] = {"error": str(exc), "status": status}
        reason = reason or getattr(exc, "reason", "")
        if reason:
            body["reason"] = reason
        return JSONResponse(body, status_code=status)

    def status_of(exc: StemcheckError) -> int:
        if isinstance(exc, JobLimitError):
            return 429
        if isinstance(exc, UnsafeURLError):
            return 400
        if isinstance(exc, FetchError):
            return 502
        return 400 if isinstance(exc, InputError) else 500

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return api_error(exc.status_code, exc.detail)
        return render("error.html", exc.status_code, status=exc.status_code, message=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                             for e in exc.errors())
        if request.url.path.startswith("/api/"):
            return api_error(422, f"invalid request: {problems}")
        return render("error.html", 422, status=422, message=f"Invalid request: {problems}")

    # -- checking ----------------------------------------------------------------------------------
    def check_text(text: str) -> Job:
        if len(text) > limits.max_text_chars:
            raise _TooLong(f"The text is {len(text):,} characters; the limit is {limits.max_text_chars:,}.")
        with state.analysis:
            verdict = detector.check_text(text, "<pasted text>")
            page = text_to_page(text, "<pasted text>", settings.extract)
        return finish(state.jobs.keep("text", "pasted text"), verdict_view("text", verdict, page), verdict)

    def check_page(url: str) -> Job:
        url = _clean_url(url)
        if not state.fetches.acquire(blocking=False):
            raise JobLimitError(f"{limits.max_sync_fetches} page fetches are already in progress; try again shortly")
        try:
            resp = fetch_page(url, settings.fetch, allow_private=allow_private)
        finally:
            state.fetches.release()
        with state.analysis:
            verdict = detector.check_bytes(resp.body, url, resp.content_type, resp.charset)
            page = _page_of(resp.body, url, resp.content_type, resp.charset, settings)
        return finish(state.jobs.keep("page", url), verdict_view("page", verdict, page), verdict)

    def finish(job: Job, view: dict[str, Any], verdict: PageVerdict) -> Job:
        job.view, job.data = view, {"note": NOTE, **verdict.to_dict()}
        job.html_report = to_html([verdict])
        job.status, job.stage = "done", "done"
        return job

    def start_site(url: str) -> Job:
        url = _clean_url(url)
        resolve_safe(canonicalize(url), settings.fetch, allow_private)  # refuse now, not in the background
        return state.jobs.submit_site(url)

    # -- HTML pages --------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    @app.get("/check", response_class=HTMLResponse, include_in_schema=False)
    def check_form() -> HTMLResponse:
        return render("check.html", form={"url": "", "text": "", "whole_site": False}, limits=limits)

    @app.post("/check", response_class=HTMLResponse, include_in_schema=False)
    def check_submit(url: str = Form(""), text: str = Form(""), whole_site: str = Form("")) -> Response:
        form = {"url": url, "text": text, "whole_site": bool(whole_site)}
        try:
            if url.strip() and text.strip():
                raise InputError("Give either a URL or a text, not both.")
            if url.strip():
                if whole_site:
                    job = start_site(url)
                    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
                job = check_page(url)
            elif text.strip():
                job = check_text(text)
            else:
                raise InputError("Give a URL or paste a text to check.")
        except _TooLong as exc:
            return render("check.html", 413, form=form, error=str(exc), limits=limits)
        except StemcheckError as exc:
            return render("check.html", status_of(exc), form=form, error=str(exc), limits=limits)
        return render("check.html", form=form, job=job, view=job.view, limits=limits)

    def job_or_404(job_id: str) -> Job:
        job = state.jobs.get(job_id)
        if job is None:
            raise StarletteHTTPException(404, "No such check (results are kept for the latest checks only).")
        return job

    @app.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(job_id: str) -> HTMLResponse:
        job = job_or_404(job_id)
        return render("job.html", job=job, view=job.view, progress=job.public()["progress"],
                      max_pages=settings.crawl.max_pages)

    @app.get("/jobs/{job_id}/report.json", include_in_schema=False)
    def export_json(job_id: str) -> Response:
        job = _done(job_or_404(job_id))
        return Response(json.dumps(job.data, ensure_ascii=False, indent=1), media_type="application/json",
                        headers=_attachment(f"stemcheck-{job.id}.json"))

    @app.get("/jobs/{job_id}/report.html", include_in_schema=False)
    def export_html(job_id: str) -> Response:
        job = _done(job_or_404(job_id))
        return Response(job.html_report, media_type="text/html; charset=utf-8",
                        headers=_attachment(f"stemcheck-{job.id}.html"))

    @app.get("/jobs/{job_id}/claims.csv", include_in_schema=False)
    def export_csv(job_id: str) -> Response:
        job = _done(job_or_404(job_id))
        return Response(claims_csv(job.view or {}), media_type="text/csv; charset=utf-8",
                        headers=_attachment(f"stemcheck-{job.id}-claims.csv"))

    @app.get("/jobs/{job_id}/evidence.warc.gz", include_in_schema=False)
    def export_warc(job_id: str) -> Response:
        job = _done(job_or_404(job_id))
        if job.warc_path is None or not job.warc_path.exists():
            raise StarletteHTTPException(404, "This check has no WARC evidence (only site crawls keep one).")
        return FileResponse(job.warc_path, media_type="application/warc",
                            filename=f"stemcheck-{job.id}.warc.gz",
                            headers={"X-Content-SHA256": job.warc_sha256})

    @app.get("/triage", response_class=HTMLResponse, include_in_schema=False)
    def triage_page(request: Request) -> HTMLResponse:
        raw = dict(request.query_params)
        q = TriageQuery()
        try:
            q = _triage_query(raw)
            with state.store() as store:
                data = triage(store, q)
        except InputError as exc:
            return render("triage.html", 400, q=_echo_query(raw), error=str(exc), data=None, sorts=SORTS)
        return render("triage.html", q=q, data=data, sorts=SORTS)

    @app.get("/sites/{site}", response_class=HTMLResponse, include_in_schema=False)
    def site_page(site: str) -> HTMLResponse:
        try:
            with state.store() as store:
                data = site_history(store, site)
        except LookupError as exc:
            raise StarletteHTTPException(404, "No finished scan covers this site.") from exc
        return render("site.html", data=data)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return render("docs.html", endpoints=_endpoints(app.openapi()))

    # -- JSON API ----------------------------------------------------------------------------------
    @app.post("/api/check", summary="Check a text or one page (synchronous)",
              responses={400: {"description": "bad input or a refused (private) URL"},
                         413: {"description": "body or text too large"}, 429: {"description": "too many requests"},
                         502: {"description": "the page could not be fetched"}})
    def api_check(body: CheckIn) -> JSONResponse:
        """Give `text` or `url` (one page, redirects followed, SSRF guard on). Returns the verdict with every
        flagged claim, its probabilities and explanation; `links` point to the HTML/CSV/JSON exports."""
        try:
            if bool(body.text and body.text.strip()) == bool(body.url and body.url.strip()):
                raise InputError("give exactly one of `text` or `url`")
            job = check_text(body.text or "") if body.text and body.text.strip() else check_page(body.url or "")
        except _TooLong as exc:
            return api_error(413, exc, "text_too_long")
        except StemcheckError as exc:
            return api_error(status_of(exc), exc)
        return JSONResponse(job.public())

    @app.post("/api/jobs", status_code=202, summary="Start a whole-site crawl (background job)",
              responses={400: {"description": "bad or refused URL"},
                         429: {"description": "two crawls already running, or too many requests"}})
    def api_jobs(body: JobIn) -> JSONResponse:
        """Crawls the site politely (robots.txt, delays, limits) into a WARC, then reports on it. Poll
        `GET /api/jobs/{id}` until `status` is `done` or `failed`."""
        try:
            job = start_site(body.url)
        except StemcheckError as exc:
            return api_error(status_of(exc), exc)
        return JSONResponse(job.public(), status_code=202, headers={"Location": f"/api/jobs/{job.id}"})

    @app.get("/api/jobs/{job_id}", summary="A job's status, progress and (when done) result")
    def api_job(job_id: str) -> JSONResponse:
        job = job_or_404(job_id)
        return JSONResponse(job.public())

    @app.get("/api/sites", summary="Sites in the store ranked by risk (filters, sort, paging)")
    def api_sites(category: str = "", condition: str = "", product: str = "", tld: str = "", since: str = "",
                  until: str = "", sort: str = "risk", order: str = "desc", page: int = 1,
                  per_page: int = 25) -> JSONResponse:
        """The latest finished run per site (runs started on or before `until`), filtered by codebook
        `category`, `condition` group, `product` (substring), `tld` and `since` (scan date, YYYY-MM-DD);
        `sort` is one of risk, site, red_flag_pages, analysed, scanned, tld."""
        try:
            q = TriageQuery(category, condition, product, tld, since, until, sort, order, page, per_page).check()
            with state.store() as store:
                data = triage(store, q)
        except InputError as exc:
            return api_error(400, exc)
        return JSONResponse({"note": NOTE, **data})

    @app.get("/api/sites/{site}", summary="A site's history across runs and its latest claims")
    def api_site(site: str) -> JSONResponse:
        try:
            with state.store() as store:
                data = site_history(store, site)
        except LookupError:
            return api_error(404, "no finished scan covers this site")
        except InputError as exc:
            return api_error(400, exc)
        return JSONResponse({"note": NOTE, **data})

    @app.get("/api/sites/{site}/diff", summary="Claims that appeared/disappeared between two runs of a site")
    def api_site_diff(site: str, run_a: str = "", run_b: str = "") -> JSONResponse:
        """`run_a`/`run_b` are run ids, `latest`, `previous` or dates; by default the site's last two runs."""
        try:
            with state.store() as store:
                runs = [r["run_id"] for r in store.db.execute(
                    "SELECT s.run_id FROM sites s JOIN runs r ON r.run_id = s.run_id WHERE s.site = ? "
                    "AND r.status = 'finished' ORDER BY s.run_id", (site,))]
                if not runs:
                    return api_error(404, "no finished scan covers this site")
                a = store.resolve_run(run_a) if run_a else (runs[-2] if len(runs) > 1 else None)
                b = store.resolve_run(run_b) if run_b else runs[-1]
                if a is None:
                    return JSONResponse({"site": site, "diff": None, "runs": runs,
                                         "message": "only one finished run covers this site"})
                return JSONResponse({"site": site, "runs": runs, "diff": site_diff(store, site, a, b)})
        except InputError as exc:
            return api_error(400, exc)

    return app


class _TooLong(StemcheckError):
    """Pasted text over WebLimits.max_text_chars: answered 413 like an oversized body."""


def _clean_url(url: str) -> str:
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise InputError("Only http:// and https:// URLs can be checked.")
    return url


def _page_of(body: bytes, source: str, content_type: str, charset: str | None, settings: Settings) -> Page | None:
    """The Page behind a fetched body (the same routing as Detector.check_bytes), for claim context."""
    try:
        text, _how = decode_html(body, charset, source)
        if "html" in content_type or (not content_type and "<" in text[:2000] and ">" in text[:2000]):
            return html_to_page(text, source, settings.extract)
        return text_to_page(text, source, settings.extract)
    except InputError:
        return None


def _done(job: Job) -> Job:
    if job.status != "done":
        raise StarletteHTTPException(409, "This check has not finished yet.")
    return job


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _triage_query(raw: dict[str, str]) -> TriageQuery:
    try:
        page, per_page = int(raw.get("page") or 1), int(raw.get("per_page") or 25)
    except ValueError as exc:
        raise InputError("page and per_page must be whole numbers") from exc
    return TriageQuery(raw.get("category", ""), raw.get("condition", ""), raw.get("product", ""),
                       raw.get("tld", ""), raw.get("since", ""), raw.get("until", ""),
                       raw.get("sort", "risk") or "risk", raw.get("order", "desc") or "desc", page, per_page).check()


def _echo_query(raw: dict[str, str]) -> TriageQuery:
    """The submitted filters, unvalidated, so the form shows (escaped) what the user typed."""
    q = TriageQuery()
    for key in ("category", "condition", "product", "tld", "since", "until", "sort", "order"):
        setattr(q, key, str(raw.get(key, getattr(q, key)))[:200])
    return q


def _endpoints(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The OpenAPI paths flattened for the plain docs page (no Swagger UI: it loads scripts from a CDN)."""
    out = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ref = body.get("$ref", "").rsplit("/", 1)[-1]
            fields = spec.get("components", {}).get("schemas", {}).get(ref, {}).get("properties", {})
            out.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "params": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                            "type": p.get("schema", {}).get("type", "")} for p in op.get("parameters", [])],
                "body": [{"name": k, "description": v.get("description", "")} for k, v in fields.items()],
                "responses": sorted(op.get("responses", {})),
            })
    return out
