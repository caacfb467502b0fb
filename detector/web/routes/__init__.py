"""The app's routers: HTML pages for checking, HTML pages for triage, and the JSON API."""

from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from detector.web.jobs import Job
from detector.web.state import WebState


def state(request: Request) -> WebState:
    """The app's shared state, as a FastAPI dependency."""
    return request.app.state.web


def job_or_404(web: WebState, job_id: str) -> Job:
    job = web.jobs.get(job_id)
    if job is None:
        raise StarletteHTTPException(404, "No such check (results are kept for the latest checks only).")
    return job


def done(job: Job) -> Job:
    if job.status != "done":
        raise StarletteHTTPException(409, "This check has not finished yet.")
    return job
