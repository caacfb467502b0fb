"""Triage: sites of the results store ranked, filtered and paged, and one site's history across runs.

Read-only views over the store; every query is a store method (all SQL lives in output/store.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from detector.categories import CATEGORIES, NAMES, RED_FLAGS
from detector.errors import InputError
from detector.output.explain import stored_reasons
from detector.output.store import ResultStore, diff_runs
from detector.scoring.label import css_class, label

SORTS = {
    "risk": "risk_score", "site": "site", "red_flag_pages": "red_flag_pages", "analysed": "analysed",
    "scanned": "scanned", "tld": "tld",
}


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
        "site": row["site"], "run_id": row["run_id"], "scanned": row["as_of"], "captured": row["captured"],
        "risk_score": row["risk_score"],
        "pages": row["pages"], "analysed": row["analysed"], "red_flag_pages": row["red_flag_pages"],
        "worst_page": row["worst_page"], "categories": {k: v for k, v in cats.items() if v},
        "condition_groups": json.loads(row["condition_groups"] or "[]"),
        "products": json.loads(row["products"] or "[]"), "disclosure": bool(row["disclosure"]),
        "tld": site_tld(row["site"]),
        "label": row["label"] or label(row["risk_score"], row["red_flag_pages"] > 0),
        "cls": css_class(row["label"] or label(row["risk_score"], row["red_flag_pages"] > 0)),
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
    latest: dict[str, dict[str, Any]] = {}
    for row in store.site_rows(until=q.until):
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
    rows = store.site_rows(site=site)
    if not rows:
        raise LookupError(site)
    history = [_site_row(r) for r in rows]
    diffs = []
    for a, b in zip(history, history[1:], strict=False):
        diffs.append(site_diff(store, site, a["run_id"], b["run_id"]))
    latest = history[-1]
    claims: dict[tuple[str, str], dict[str, Any]] = {}
    for r in store.made_flags(latest["run_id"], site):
        item = claims.setdefault((r["url"], r["text"]), {"url": r["url"], "text": r["text"], "categories": []})
        evidence = json.loads(r["evidence"] or "[]")
        item["categories"].append({"name": r["category"], "label": NAMES.get(r["category"], r["category"]),
                                   "probability": round(r["probability"], 2), "red": r["category"] in RED_FLAGS,
                                   "why": stored_reasons(evidence, r["category"])})
    return {"site": site, "tld": site_tld(site), "latest": latest, "history": history,
            "diffs": list(reversed(diffs)), "claims": list(claims.values())}


def site_diff(store: ResultStore, site: str, run_a: int, run_b: int) -> dict[str, Any]:
    """The claims of one site that appeared and disappeared from run A to run B (store.diff_runs)."""
    started = {r["run_id"]: r["started"] for r in store.runs()}
    found = next((d for d in diff_runs(store, run_a, run_b) if d["site"] == site), None)
    scores_a, scores_b = store.site_scores(run_a).get(site), store.site_scores(run_b).get(site)
    for change in [c for key in ("appeared", "disappeared", "disclosures_appeared", "disclosures_disappeared")
                   for c in (found or {}).get(key, [])]:
        change["label"] = NAMES.get(change["category"], change["category"])
        change["why"] = stored_reasons(change.get("evidence", []), change["category"])
    out = found or {"site": site, "score_before": scores_a, "score_after": scores_b,
                    "score_change": None if scores_a is None or scores_b is None else scores_b - scores_a,
                    "appeared": [], "disappeared": [], "disclosures_appeared": [], "disclosures_disappeared": []}
    return {**out, "run_a": run_a, "run_b": run_b, "started_a": started.get(run_a), "started_b": started.get(run_b)}


def triage_query(raw: dict[str, str]) -> TriageQuery:
    try:
        page, per_page = int(raw.get("page") or 1), int(raw.get("per_page") or 25)
    except ValueError as exc:
        raise InputError("page and per_page must be whole numbers") from exc
    return TriageQuery(raw.get("category", ""), raw.get("condition", ""), raw.get("product", ""),
                       raw.get("tld", ""), raw.get("since", ""), raw.get("until", ""),
                       raw.get("sort", "risk") or "risk", raw.get("order", "desc") or "desc", page, per_page).check()


def echo_query(raw: dict[str, str]) -> TriageQuery:
    """The submitted filters, unvalidated, so the form shows (escaped) what the user typed."""
    q = TriageQuery()
    for key in ("category", "condition", "product", "tld", "since", "until", "sort", "order"):
        setattr(q, key, str(raw.get(key, getattr(q, key)))[:200])
    return q
