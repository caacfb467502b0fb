"""Views: verdicts and site reports turned into what the templates and the exports show.

Records in, plain dicts out; nothing here touches the request, the store or the network.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from detector.categories import DESCRIPTIONS, DISCLOSURE, RED_FLAGS
from detector.check import Detector
from detector.errors import InputError, StemcheckError
from detector.output.report import NOTE
from detector.records import Claim, Page, PageVerdict, SiteReport
from detector.scoring.label import css_class, verdict_label
from detector.source.crawl import CrawlResult
from detector.source.page import page_from_bytes
from detector.source.warc import read_crawl

CONTEXT_CHARS = 240
_CSV_FORMULA = re.compile(r"^[=+\-@\t\r]")


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
            "cls": css_class(label), "record_id": record_id,
            "claims": [claim_view(c, page, url, record_id) for c in order]}


def _common(label: str, risk: int, red: bool, categories: dict[str, int], groups: list[str],
            products: list[str]) -> dict[str, Any]:
    return {
        "label": label, "cls": css_class(label), "risk_score": risk, "red_flag": red,
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
        if wp.url not in urls or wp.url in out or wp.status != 200:
            continue
        try:
            out[wp.url] = page_from_bytes(wp.body, wp.url, wp.content_type or "text/html", wp.charset,
                                          detector.settings.extract)
        except InputError:
            continue
    return out


def site_view(report: SiteReport, detector: Detector, result: CrawlResult | None = None) -> dict[str, Any]:
    """The report of a crawled site: its verdict, each page's flagged claims in context, the evidence."""
    ranked = sorted(report.analysed, key=lambda p: (-p.verdict.risk_score, p.url))  # type: ignore[union-attr]
    flagged = [p for p in ranked if p.verdict and p.verdict.flagged]
    pages = _warc_pages(report, detector, {p.url for p in flagged})
    groups = [_group(p.verdict, pages.get(p.url), p.url, p.record_id) for p in flagged]  # type: ignore[arg-type]
    view = _common(verdict_label(report), report.risk_score, report.red_flag, report.categories,
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
