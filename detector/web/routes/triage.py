"""HTML pages for regulators: Triage (sites ranked by risk), one site's history, and the API docs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from detector.errors import InputError
from detector.web.routes import state
from detector.web.state import WebState
from detector.web.triage import SORTS, TriageQuery, echo_query, site_history, triage, triage_query

router = APIRouter(include_in_schema=False)


@router.get("/triage", response_class=HTMLResponse)
def triage_page(request: Request, web: WebState = Depends(state)) -> HTMLResponse:
    raw = dict(request.query_params)
    q = TriageQuery()
    try:
        q = triage_query(raw)
        with web.store() as store:
            data = triage(store, q)
    except InputError as exc:
        return web.render("triage.html", 400, q=echo_query(raw), error=str(exc), data=None, sorts=SORTS)
    return web.render("triage.html", q=q, data=data, sorts=SORTS)


@router.get("/sites/{site}", response_class=HTMLResponse)
def site_page(site: str, web: WebState = Depends(state)) -> HTMLResponse:
    try:
        with web.store() as store:
            data = site_history(store, site)
    except LookupError as exc:
        raise StarletteHTTPException(404, "No finished scan covers this site.") from exc
    return web.render("site.html", data=data)


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request, web: WebState = Depends(state)) -> HTMLResponse:
    return web.render("docs.html", endpoints=_endpoints(request.app.openapi()))


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
