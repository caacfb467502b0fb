"""The FastAPI app: Check (journalists), Triage (regulators), the JSON API and its docs.

Pages are rendered on the server by Jinja2 with autoescaping on; no template marks scraped or user text
safe, so a clinic page titled `<script>...` shows up as those characters. Verdicts come from the same
Detector the CLI uses; URLs go through the crawler's and fetcher's SSRF guard with `allow_private` taken
from the server flag only, never from the request. The routes live in web/routes/; this module only
assembles them.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from detector.check import Detector
from detector.errors import StemcheckError
from detector.output.report import NOTE
from detector.output.views import claims_csv
from detector.settings import Settings, load_settings
from detector.web.pool import Analyser
from detector.web.routes import api, check, triage
from detector.web.security import SecurityMiddleware, WebLimits
from detector.web.state import HERE, WebState, api_error, status_of
from detector.web.triage import site_tld

__all__ = ["claims_csv", "create_app", "site_tld"]
log = logging.getLogger(__name__)


def create_app(db: Path, model_dir: Path | None = None, allow_private: bool = False,
               settings: Settings | None = None, *, limits: WebLimits | None = None,
               detector: Detector | None = None, work_dir: Path | None = None,
               record_crawls: bool = True, hosts: Iterable[str] | None = None,
               workers: int | None = None) -> FastAPI:
    """Build the app; `detector` lets tests share one loaded model, `work_dir` is where job WARCs go,
    `record_crawls` writes each whole-site check into the store as a run of its own, `hosts` are the Host
    names it answers to (default: localhost's names; see security.allowed_hosts), `workers` the analysis
    processes (default: limits.workers, or none when a loaded `detector` is shared)."""
    settings = settings or load_settings()
    limits = limits or settings.web
    loaded = detector or Detector.load(model_dir, settings)
    if workers is None:
        workers = 0 if detector is not None else limits.workers
    analyser = Analyser(loaded, settings, model_dir, workers)
    state = WebState(
        detector=loaded, settings=settings, db=Path(db), allow_private=allow_private, limits=limits,
        record_crawls=record_crawls, work_dir=work_dir, analyser=analyser,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        yield
        state.jobs.shutdown()
        analyser.close()

    app = FastAPI(
        title="stemcheck", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
        openapi_url="/openapi.json", description="Flags unproven stem-cell clinic marketing. " + NOTE,
    )
    app.state.web = state
    app.add_middleware(SecurityMiddleware, limits=limits, hosts=hosts)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return api_error(exc.status_code, exc.detail)
        return state.render("error.html", exc.status_code, status=exc.status_code, message=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                             for e in exc.errors())
        if request.url.path.startswith("/api/"):
            return api_error(422, f"invalid request: {problems}")
        return state.render("error.html", 422, status=422, message=f"Invalid request: {problems}")

    @app.exception_handler(StemcheckError)
    async def refused(request: Request, exc: StemcheckError) -> Response:
        """Any project error a route did not answer itself (a missing or unreadable store...) is a 4xx."""
        return _error(request, status_of(exc), str(exc))

    @app.exception_handler(sqlite3.DatabaseError)
    async def unreadable(request: Request, exc: sqlite3.DatabaseError) -> Response:
        log.warning("results store %s unreadable on %s: %s", state.db, request.url.path, exc)
        return _error(request, 400, f"The results store {state.db.name} cannot be read.")

    def _error(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return api_error(status, message)
        return state.render("error.html", status, status=status, message=message)

    for router in (check.router, triage.router, api.router):
        app.include_router(router)
    return app
