"""HTML pages for journalists: the Check form, job pages and every export of a finished check."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Form
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from detector.errors import InputError, StemcheckError
from detector.output.views import claims_csv
from detector.web.routes import done, job_or_404, state
from detector.web.state import TextTooLong, WebState, status_of

router = APIRouter(include_in_schema=False)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/", response_class=HTMLResponse)
@router.get("/check", response_class=HTMLResponse)
def check_form(web: WebState = Depends(state)) -> HTMLResponse:
    return web.render("check.html", form={"url": "", "text": "", "whole_site": False}, limits=web.limits)


@router.post("/check", response_class=HTMLResponse)
def check_submit(url: str = Form(""), text: str = Form(""), whole_site: str = Form(""),
                 web: WebState = Depends(state)) -> Response:
    form = {"url": url, "text": text, "whole_site": bool(whole_site)}
    try:
        if url.strip() and text.strip():
            raise InputError("Give either a URL or a text, not both.")
        if url.strip():
            if whole_site:
                job = web.start_site(url)
                return RedirectResponse(f"/jobs/{job.id}", status_code=303)
            job = web.check_page(url)
        elif text.strip():
            job = web.check_text(text)
        else:
            raise InputError("Give a URL or paste a text to check.")
    except TextTooLong as exc:
        return web.render("check.html", 413, form=form, error=str(exc), limits=web.limits)
    except StemcheckError as exc:
        return web.render("check.html", status_of(exc), form=form, error=str(exc), limits=web.limits)
    return web.render("check.html", form=form, job=job, view=job.view, limits=web.limits)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, web: WebState = Depends(state)) -> HTMLResponse:
    job = job_or_404(web, job_id)
    return web.render("job.html", job=job, view=job.view, progress=job.public()["progress"],
                      max_pages=web.settings.crawl.max_pages)


@router.get("/jobs/{job_id}/report.json")
def export_json(job_id: str, web: WebState = Depends(state)) -> Response:
    job = done(job_or_404(web, job_id))
    return Response(json.dumps(job.data, ensure_ascii=False, indent=1), media_type="application/json",
                    headers=_attachment(f"stemcheck-{job.id}.json"))


@router.get("/jobs/{job_id}/report.html")
def export_html(job_id: str, web: WebState = Depends(state)) -> Response:
    job = done(job_or_404(web, job_id))
    return Response(job.report_html(), media_type="text/html; charset=utf-8",
                    headers=_attachment(f"stemcheck-{job.id}.html"))


@router.get("/jobs/{job_id}/claims.csv")
def export_csv(job_id: str, web: WebState = Depends(state)) -> Response:
    job = done(job_or_404(web, job_id))
    return Response(claims_csv(job.view or {}), media_type="text/csv; charset=utf-8",
                    headers=_attachment(f"stemcheck-{job.id}-claims.csv"))


@router.get("/jobs/{job_id}/evidence.warc.gz")
def export_warc(job_id: str, web: WebState = Depends(state)) -> Response:
    job = done(job_or_404(web, job_id))
    if job.warc_path is None or not job.warc_path.exists():
        raise StarletteHTTPException(404, "This check has no WARC evidence (only site crawls keep one).")
    return FileResponse(job.warc_path, media_type="application/warc", filename=f"stemcheck-{job.id}.warc.gz",
                        headers={"X-Content-SHA256": job.warc_sha256})
