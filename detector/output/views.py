"""Views: verdicts and site reports turned into what the report template (web app and HTML export) shows.

Records in, plain dicts out; nothing here touches the request, the store or the network.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from detector.categories import DESCRIPTIONS, DISCLOSURE, NAMES, RED_FLAGS, SEVERITY
from detector.output.explain import NOTE, describe, flag_reasons
from detector.output.spreadsheet import spreadsheet_safe
from detector.records import Claim, Page, PageVerdict, SiteReport, severity_key
from detector.scoring.label import css_class, verdict_label

CONTEXT_CHARS = 240
def claim_context(page: Page | None, claim: Claim, width: int = CONTEXT_CHARS) -> tuple[str, str, str]:
    """(text before, the sentence, text after) within the claim's block, so a reader sees it in context."""
    if page is None or not 0 <= claim.block < len(page.blocks):
        return "", claim.text, ""
    block_start = sum(len(b.text) + 2 for b in page.blocks[: claim.block])
    text = page.blocks[claim.block].text
    rel = claim.start - block_start
    if text[rel : rel + len(claim.text)] != claim.text:
        rel = text.find(claim.text)
        if rel < 0:
            return "", claim.text, ""
    before, after = text[:rel], text[rel + len(claim.text):]
    if len(before) > width:
        before = "…" + before[-width:].lstrip()
    if len(after) > width:
        after = after[:width].rstrip() + "…"
    return before, claim.text, after


def claim_view(claim: Claim, page: Page | None, url: str = "", record_id: str = "") -> dict[str, Any]:
    before, text, after = claim_context(page, claim)
    kind = "flag" if claim.made_red_flags else "rep" if claim.reported_categories else "disc"
    flags = sorted(claim.flags, key=lambda f: (not f.made, -f.probability))
    cats = [
        {"name": f.category, "label": NAMES[f.category], "description": DESCRIPTIONS.get(f.category, ""),
         "probability": round(f.probability, 2), "made": f.made, "why": flag_reasons(f)}
        for f in flags
    ]
    context = [describe(e) for e in claim.context]
    return {"url": url, "record_id": record_id, "before": before, "text": text, "after": after,
            "role": claim.block_role, "kind": kind, "cats": cats, "context": context,
            "evidence": [e.to_dict() for e in claim.evidence]}


def _group(verdict: PageVerdict, page: Page | None, url: str, record_id: str = "") -> dict[str, Any]:
    label = verdict_label(verdict)
    made = verdict.made_claims
    reported = [c for c in verdict.flagged if c not in made and c.reported_categories]
    return {"url": url, "title": verdict.title, "risk_score": verdict.risk_score, "label": label,
            "cls": css_class(label), "record_id": record_id,
            "claims": [claim_view(c, page, url, record_id) for c in made + reported],
            "disclosures": [claim_view(c, page, url, record_id) for c in verdict.flagged
                            if c not in made and c not in reported]}


def _common(label: str, risk: int, red: bool, categories: dict[str, int], groups: list[str],
            products: list[str]) -> dict[str, Any]:
    return {
        "label": label, "cls": css_class(label), "risk_score": risk, "red_flag": red,
        "categories": [{"name": k, "label": NAMES[k], "count": n, "description": DESCRIPTIONS.get(k, ""),
                        "red": k in RED_FLAGS}
                       for k, n in sorted(categories.items(), key=lambda kv: _order(kv[0])) if n],
        "condition_groups": groups, "products": products, "note": NOTE,
    }


def verdict_view(kind: str, verdict: PageVerdict, page: Page | None) -> dict[str, Any]:
    """The report of one text or page."""
    label = verdict_label(verdict)
    group = _group(verdict, page, verdict.target if kind == "page" else "")
    view = _common(label, verdict.risk_score, verdict.red_flag, verdict.categories, verdict.condition_groups,
                   verdict.products)
    view.update(kind=kind, target=verdict.target, title=verdict.title, reasons=verdict.reasons,
                groups=[group] if group["claims"] or group["disclosures"] else [], pages=[], failures=[], warc=None,
                assessed=len(verdict.claims))
    view["disclosures"] = group["disclosures"]
    view["flag_count"] = sum(1 for c in group["claims"] if c["kind"] == "flag")
    return view


STRONGEST = 3  # claims a site report opens with; the rest fold below


def site_view(report: SiteReport, seconds: float | None = None) -> dict[str, Any]:
    """The report of a crawled site: it opens with the verdict, the worst pages and the strongest evidence;
    every page's claims, the disclosures and the crawl follow, folded."""
    ranked = sorted(report.analysed, key=lambda p: (-p.verdict.risk_score, p.url))  # type: ignore[union-attr]
    flagged = [p for p in ranked if p.verdict and p.verdict.flagged]
    groups = [_group(p.verdict, p.verdict.page, p.url, p.record_id) for p in flagged]  # type: ignore[union-attr]
    view = _common(verdict_label(report), report.risk_score, report.red_flag, report.categories,
                   report.condition_groups, report.products)
    view.update(kind="site", target=report.start_url, title=report.site, reasons=[], groups=groups,
                assessed=sum(len(p.verdict.claims) for p in report.analysed))  # type: ignore[union-attr]
    seen: set[str] = set()
    view["disclosures"] = []
    for g in groups:
        for c in g["disclosures"]:
            if c["text"] not in seen:
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
    view["warc"] = {"sha256": report.warc_sha256, "path": report.warc_path,
                    "bytes": Path(report.warc_path).stat().st_size if Path(report.warc_path).exists() else 0}
    view["crawl"] = {"started": report.crawl_started, "finished": report.crawl_finished,
                     "requests": report.requests, "robots": report.robots,
                     "seconds": seconds}
    view["red_flag_pages"], view["analysed"] = report.red_flag_pages, len(report.analysed)
    view["worst_pages"] = [
        {"url": p.url, "title": p.verdict.title, "risk_score": p.verdict.risk_score,  # type: ignore[union-attr]
         "label": verdict_label(p.verdict), "cls": css_class(verdict_label(p.verdict)),  # type: ignore[arg-type]
         "made": len(p.verdict.made_claims)}  # type: ignore[union-attr]
        for p in report.worst_pages()]
    view["strongest"] = _strongest(report)
    view["reasons"] = _site_reasons(report)
    return view


def _strongest(report: SiteReport, n: int = STRONGEST) -> list[dict[str, Any]]:
    """The site's most serious made claims (codebook severity, then probability), each sentence once."""
    seen: set[str] = set()
    out = []
    for page, claim in sorted(report.flagged_claims(), key=lambda pc: severity_key(pc[1])):
        if claim.text in seen:
            continue
        seen.add(claim.text)
        out.append(claim_view(claim, page.verdict.page if page.verdict else None, page.url, page.record_id))
        if len(out) == n:
            break
    return out


def _site_reasons(report: SiteReport) -> list[str]:
    """The site verdict in two plain sentences: where the score comes from and what the pages disclose."""
    worst = report.worst_pages(1)
    out = []
    if worst:
        v = worst[0].verdict
        out.append(f"The site scores as its worst page: {worst[0].url} ({v.risk_score}/100).")  # type: ignore[union-attr]
    n = len({claim.text for _, claim in report.flagged_claims()})
    if n:
        k = report.red_flag_pages
        out.append(f"{n} distinct red-flag sentence{'s' if n != 1 else ''} on {k} red-flag page{'s' if k != 1 else ''}"
                   f" of {len(report.analysed)} analysed.")
    if not report.categories.get(DISCLOSURE):
        out.append("No page discloses a risk, a limit or the approval status.")
    return out


def claims_csv(view: dict[str, Any]) -> str:
    """Every flagged sentence, one row each, with why in words; cells a spreadsheet would run as formulas are
    defused."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["url", "sentence", "kind", "categories", "reported_categories", "probabilities", "context",
                "why", "warc_record_id"])

    def cell(value: str) -> str:
        return str(spreadsheet_safe(value))

    for g in view.get("groups", []):
        for c in g["claims"] + g.get("disclosures", []):
            w.writerow([cell(x) for x in (
                c["url"], c["text"], c["kind"],
                ";".join(x["name"] for x in c["cats"] if x["made"]),
                ";".join(x["name"] for x in c["cats"] if not x["made"]),
                ";".join(f"{x['name']}={x['probability']:.2f}" for x in c["cats"]),
                ";".join(c["context"]),
                " | ".join(f"{x['label']}: " + "; ".join(x["why"]) for x in c["cats"]),
                c["record_id"],
            )])
    return buf.getvalue()


def _order(category: str) -> int:
    return SEVERITY.index(category) if category in SEVERITY else len(SEVERITY)
