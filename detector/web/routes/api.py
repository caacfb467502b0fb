"""The JSON API: synchronous checks, background site crawls and the triage data, described at /openapi.json."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from detector.errors import InputError, StemcheckError
from detector.output.report import NOTE
from detector.web.routes import job_or_404, state
from detector.web.state import TextTooLong, WebState, api_error, status_of
from detector.web.triage import TriageQuery, site_diff, site_history, triage

router = APIRouter(prefix="/api")


class CheckIn(BaseModel):
    """Pasted text or one page URL, checked synchronously."""

    text: str | None = Field(None, description="Text to check (plain text; blank lines separate blocks).")
    url: str | None = Field(None, description="An http(s) URL; only that page is fetched.")


class JobIn(BaseModel):
    """A whole-site crawl."""

    url: str = Field(..., description="Start URL of the site to crawl (same site only, robots.txt obeyed).")


@router.post("/check", summary="Check a text or one page (synchronous)",
             responses={400: {"description": "bad input or a refused (private) URL"},
                        413: {"description": "body or text too large"}, 429: {"description": "too many requests"},
                        502: {"description": "the page could not be fetched"}})
def api_check(body: CheckIn, web: WebState = Depends(state)) -> JSONResponse:
    """Give `text` or `url` (one page, redirects followed, SSRF guard on). Returns the verdict with every
    flagged claim, its probabilities and explanation; `links` point to the HTML/CSV/JSON exports."""
    try:
        if bool(body.text and body.text.strip()) == bool(body.url and body.url.strip()):
            raise InputError("give exactly one of `text` or `url`")
        job = web.check_text(body.text or "") if body.text and body.text.strip() else web.check_page(body.url or "")
    except TextTooLong as exc:
        return api_error(413, exc, "text_too_long")
    except StemcheckError as exc:
        return api_error(status_of(exc), exc)
    return JSONResponse(job.public())


@router.post("/jobs", status_code=202, summary="Start a whole-site crawl (background job)",
             responses={400: {"description": "bad or refused URL"},
                        429: {"description": "two crawls already running, or too many requests"}})
def api_jobs(body: JobIn, web: WebState = Depends(state)) -> JSONResponse:
    """Crawls the site politely (robots.txt, delays, limits) into a WARC, then reports on it. Poll
    `GET /api/jobs/{id}` until `status` is `done` or `failed`."""
    try:
        job = web.start_site(body.url)
    except StemcheckError as exc:
        return api_error(status_of(exc), exc)
    return JSONResponse(job.public(), status_code=202, headers={"Location": f"/api/jobs/{job.id}"})


@router.get("/jobs/{job_id}", summary="A job's status, progress and (when done) result")
def api_job(job_id: str, web: WebState = Depends(state)) -> JSONResponse:
    return JSONResponse(job_or_404(web, job_id).public())


@router.get("/sites", summary="Sites in the store ranked by risk (filters, sort, paging)")
def api_sites(category: str = "", condition: str = "", product: str = "", tld: str = "", since: str = "",
              until: str = "", sort: str = "risk", order: str = "desc", page: int = 1, per_page: int = 25,
              web: WebState = Depends(state)) -> JSONResponse:
    """The latest finished run per site (runs started on or before `until`), filtered by codebook
    `category`, `condition` group, `product` (substring), `tld` and `since` (scan date, YYYY-MM-DD);
    `sort` is one of risk, site, red_flag_pages, analysed, scanned, tld."""
    try:
        q = TriageQuery(category, condition, product, tld, since, until, sort, order, page, per_page).check()
        with web.store() as store:
            data = triage(store, q)
    except InputError as exc:
        return api_error(400, exc)
    return JSONResponse({"note": NOTE, **data})


@router.get("/sites/{site}", summary="A site's history across runs and its latest claims")
def api_site(site: str, web: WebState = Depends(state)) -> JSONResponse:
    try:
        with web.store() as store:
            data = site_history(store, site)
    except LookupError:
        return api_error(404, "no finished scan covers this site")
    except InputError as exc:
        return api_error(400, exc)
    return JSONResponse({"note": NOTE, **data})


@router.get("/sites/{site}/diff", summary="Claims that appeared/disappeared between two runs of a site")
def api_site_diff(site: str, run_a: str = "", run_b: str = "", web: WebState = Depends(state)) -> JSONResponse:
    """`run_a`/`run_b` are run ids, `latest`, `previous` or dates; by default the site's last two runs."""
    try:
        with web.store() as store:
            runs = store.site_runs(site)
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
