"""Render verdicts for people and programs: terminal text, JSON lines and a self-contained HTML report.

Everything that came from a page is escaped before it reaches HTML: scraped text is hostile input.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from detector.categories import DISCLOSURE, NAMES, SEVERITY
from detector.output.explain import NOTE, claim_summary, flag_reasons
from detector.records import Claim, PageVerdict, SiteReport
from detector.scoring.label import verdict_label


def _dumps(data: dict) -> str:
    """UTF-8 JSON; falls back to \\u escapes when a string holds a lone surrogate (an undecodable file name)."""
    text = json.dumps(data, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data)
    return text


def to_json_line(v: PageVerdict, all_claims: bool = False) -> str:
    return _dumps(v.to_dict(all_claims=all_claims))


def error_json_line(target: str, message: str) -> str:
    return _dumps({"target": target, "error": message})


def _summary_lines(categories: dict[str, int], groups: list[str], products: list[str], label: str) -> list[str]:
    """The category counts, condition groups and products lines shared by page and site reports."""
    lines = []
    red = [f"{NAMES[k]} {categories[k]}" for k in SEVERITY if categories.get(k)]
    if red:
        lines.append(f"  {label}: " + ", ".join(red))
    if categories.get(DISCLOSURE):
        lines.append(f"  honest disclosures: {categories[DISCLOSURE]}")
    if groups:
        lines.append("  condition groups: " + ", ".join(g.replace("_", " ") for g in groups))
    if products:
        lines.append("  products: " + ", ".join(products[:10]))
    return lines


def demo_lines(verdicts: list[PageVerdict]) -> list[tuple[str, str, str, str]]:
    """(page, risk, verdict, strongest evidence) rows for a ranked list; the sentence is whole, never cut."""
    from pathlib import PurePath

    rows = []
    for v in verdicts:
        best = v.top_claim
        evidence = f"“{best.text}”" if best else f"no red-flag claim among {len(v.claims)} sentences"
        rows.append((PurePath(v.target).name, str(v.risk_score), verdict_label(v), evidence))
    return rows


def sections(v: PageVerdict) -> list[tuple[str, list[Claim]]]:
    """A page's flagged claims in the order a reader needs them: made red flags by severity, disclosures,
    then claims the page reports or quotes (context, not counted)."""
    made = v.made_claims
    disclosures = [c for c in v.flagged if c not in made and DISCLOSURE in c.categories]
    reported = [c for c in v.flagged if c not in made and c not in disclosures]
    return [("red-flag claims made by the page", made), ("honest disclosures", disclosures),
            ("claims reported or quoted (context, not counted)", reported)]


def to_text(v: PageVerdict, max_claims: int = 25) -> str:
    """A plain readable report; the CLI prints it through rich without markup interpretation."""
    lines = [f"{v.target}", f"  verdict: {verdict_label(v)}   risk score: {v.risk_score}/100"]
    if v.title:
        lines.append(f"  title: {v.title}")
    lines += _summary_lines(v.categories, v.condition_groups, v.products, "red-flag claims")
    for r in v.reasons:
        lines.append(f"  - {r}")
    for title, group in sections(v):
        if not group:
            continue
        lines.append(f"  {title}:")
        for c in group[:max_claims]:
            lines.append(f"    * \"{c.text}\"")
            lines.append(f"      {claim_summary(c)}")
            for flag in c.flags:
                if flag.made or title.startswith("claims reported"):
                    lines.append(f"      why {NAMES[flag.category].lower()}: " + "; ".join(flag_reasons(flag)))
        if len(group) > max_claims:
            lines.append(f"    ... and {len(group) - max_claims} more (use --format json for all)")
    if not v.flagged:
        lines.append(f"  no flagged sentences among {len(v.claims)} assessed")
    return "\n".join(lines)


_TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def templates() -> Environment:
    """The report templates, autoescaped: the HTML export renders them, and the web app loads them too, so a
    report looks the same in both (one report template, not two)."""
    return Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(default=True),
                       trim_blocks=True, lstrip_blocks=True)


def to_html(
    verdicts: list[PageVerdict], errors: list[tuple[str, str]] | None = None, sites: list[SiteReport] | None = None
) -> str:
    """One self-contained page: no scripts, no external resources, every scraped string escaped. It opens with
    the verdicts; a summary table appears only when there is more than one to compare."""
    from detector.output.views import site_view, verdict_view
    from detector.version import __version__

    views = [site_view(s) for s in sites or []] + [verdict_view("page", v, v.page) for v in verdicts]
    summary = [{"target": v["target"], "label": v["label"], "cls": v["cls"], "risk_score": v["risk_score"]}
               for v in views]
    return templates().get_template("report.html").render(
        views=views, errors=errors or [], summary=summary, note=NOTE, version=__version__, job=None)


def site_json(report: SiteReport) -> str:
    return _dumps(report.to_dict())


def site_text(report: SiteReport, max_claims: int = 25) -> str:
    """A site report for the terminal: verdict, worst pages, each flagged claim with its page and record."""
    label = verdict_label(report)
    lines = [
        f"site {report.site}  (start {report.start_url})",
        f"  verdict: {label}   site risk score: {report.risk_score}/100   "
        f"red-flag pages: {report.red_flag_pages} of {len(report.analysed)} analysed",
        f"  evidence: {report.warc_path}  sha256 {report.warc_sha256}",
        f"  crawled: {report.crawl_started or '?'} to {report.crawl_finished or '?'}"
        + (f", {report.requests} requests" if report.requests is not None else ""),
    ]
    for url, state in report.robots.items():
        lines.append(f"  robots: {url}: {state}")
    lines += _summary_lines(report.categories, report.condition_groups, report.products,
                            "categories (distinct claims)")
    worst = report.worst_pages()
    if worst:
        lines.append("  worst pages:")
        for p in worst:
            v = p.verdict
            lines.append(f"    {v.risk_score:>3}  {verdict_label(v):<8}  {p.url}")  # type: ignore[union-attr]
    claims = report.flagged_claims()
    if claims:
        lines.append("  red-flag claims:")
        for page, c in claims[:max_claims]:
            lines.append(f"    * \"{c.text}\"")
            lines.append(f"      {claim_summary(c)}  on {page.url}  record {page.record_id}")
        if len(claims) > max_claims:
            lines.append(f"    ... and {len(claims) - max_claims} more (use --format json for all)")
    failed = [p for p in report.pages if p.error]
    if report.events or failed:
        lines.append(f"  not analysed ({len(report.events) + len(failed)}):")
        for e in report.events[:15]:
            lines.append(f"    {e.kind}: {e.reason}: {e.message}")
        for p in failed[:15]:
            lines.append(f"    error: unparsed: {p.url}: {p.error}")
    return "\n".join(lines)


def _score_change(d: dict) -> str:
    """'score 40 -> 78 (+38)', or what it means when only one run covers the site."""
    if d["score_before"] is None:
        return f"new in this scan, score {d['score_after']}"
    if d["score_after"] is None:
        return f"not in the later scan (score was {d['score_before']})"
    change = f" ({d['score_change']:+d})" if d["score_change"] else ""
    return f"score {d['score_before']} -> {d['score_after']}{change}"


def diff_text(run_a: int, run_b: int, changes: list[dict]) -> str:
    """What changed per site between two runs, for the terminal: + appeared, - disappeared."""
    lines = [f"run {run_a} -> run {run_b}: {len(changes)} sites changed"]
    for d in changes:
        lines.append(f"{d['site']}: {_score_change(d)}")
        for sign, key, what in (("+", "appeared", ""), ("-", "disappeared", ""),
                                ("+", "disclosures_appeared", "disclosure"),
                                ("-", "disclosures_disappeared", "disclosure")):
            for c in d.get(key, []):
                lines.append(f"  {sign} [{what or NAMES.get(c['category'], c['category'])}] {c['text']}")
    return "\n".join(lines)


def diff_html(run_a: int, run_b: int, changes: list[dict]) -> str:
    """The same comparison as one self-contained page (report.css, no scripts, every string escaped)."""
    from detector.version import __version__

    for d in changes:
        d["summary"] = _score_change(d)
        for key in ("appeared", "disappeared"):
            for c in d.get(key, []):
                c["label"] = NAMES.get(c["category"], c["category"])
    return templates().get_template("diff.html").render(
        run_a=run_a, run_b=run_b, changes=changes, note=NOTE, version=__version__)
