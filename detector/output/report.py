"""Render verdicts for people and programs: terminal text, JSON lines and a self-contained HTML report.

Everything that came from a page is escaped before it reaches HTML: scraped text is hostile input.
"""

from __future__ import annotations

import html
import json

from detector.categories import DESCRIPTIONS, DISCLOSURE, NAMES, SEVERITY
from detector.output.explain import claim_summary, flag_line, flag_reasons
from detector.records import Claim, PageVerdict, SiteReport
from detector.scoring.label import css_class, verdict_label

NOTE = "Flags are machine-made and need human verification before any conclusion is drawn."


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


_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem 1rem}
.page{border:1px solid #ddd;border-radius:6px;padding:1rem;margin:1rem 0}
.red{color:#b00020;font-weight:bold}.low{color:#2e7d32;font-weight:bold}.review{color:#ad6800;font-weight:bold}
mark.flag{background:#ffd7d7}mark.disc{background:#d7f5dd}mark.rep{background:#e3e3ff}
.why{color:#555;font-size:.85em;margin:.2rem 0 .8rem 1rem}table{border-collapse:collapse}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def to_html(
    verdicts: list[PageVerdict], errors: list[tuple[str, str]] | None = None, sites: list[SiteReport] | None = None
) -> str:
    """One self-contained page: no scripts, no external resources, every scraped string escaped."""
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        "<title>stemcheck report</title>", f"<style>{_CSS}</style></head><body>",
        "<h1>stemcheck report</h1>", f"<p class='note'>{_e(NOTE)}</p>",
        "<table><tr><th>target</th><th>verdict</th><th>risk</th></tr>",
    ]
    for v in verdicts:
        out.append(f"<tr><td>{_e(v.target)}</td><td>{_e(verdict_label(v))}</td><td>{v.risk_score}</td></tr>")
    out.append("</table>")
    for target, msg in errors or []:
        out.append(f"<div class='page'><b>{_e(target)}</b>: error: {_e(msg)}</div>")
    for site in sites or []:
        out.extend(_site_section(site))
    for v in verdicts:
        cls = css_class(verdict_label(v))
        out.append(f"<div class='page'><h2>{_e(v.target)}</h2>")
        if v.title:
            out.append(f"<p>Title: {_e(v.title)}</p>")
        out.append(f"<p>Verdict: <span class='{cls}'>{_e(verdict_label(v))}</span>, risk score {v.risk_score}/100</p>")
        if v.reasons:
            out.append("<ul>" + "".join(f"<li>{_e(r)}</li>" for r in v.reasons) + "</ul>")
        for title, group in sections(v):
            if not group:
                continue
            kind = "flag" if title.startswith("red-flag") else "disc" if title.startswith("honest") else "rep"
            out.append(f"<h3>{_e(title[0].upper() + title[1:])}</h3>")
            for c in group:
                out.append(f"<p><mark class='{kind}'>{_e(c.text)}</mark></p><div class='why'>")
                for flag in c.flags:
                    why = "; ".join(flag_reasons(flag))
                    out.append(f"<div><b>{_e(flag_line(flag))}</b>: {_e(DESCRIPTIONS.get(flag.category, ''))}. "
                               f"<i>{_e(why)}</i></div>")
                out.append("</div>")
        out.append("</div>")
    out.append(f"<p class='note'>Generated by stemcheck. {_e(NOTE)} Disclosures ({_e(DISCLOSURE)}) "
               "lower a score but never erase a red-flag claim.</p></body></html>")
    return "\n".join(out)


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


def _site_section(r: SiteReport) -> list[str]:
    label = verdict_label(r)
    cls = css_class(label)
    out = [f"<div class='page'><h2>{_e(r.site)}</h2>",
           f"<p>Verdict: <span class='{cls}'>{_e(label)}</span>, site risk score {r.risk_score}/100; "
           f"{r.red_flag_pages} red-flag pages of {len(r.analysed)} analysed.</p>",
           f"<p>Evidence: {_e(r.warc_path)} (SHA-256 <code>{_e(r.warc_sha256)}</code>), crawled "
           f"{_e(r.crawl_started)} to {_e(r.crawl_finished)}.</p>",
           "<table><tr><th>page</th><th>title</th><th>risk</th><th>verdict</th><th>WARC record</th></tr>"]
    for p in r.pages:
        if p.verdict is None:
            out.append(f"<tr><td>{_e(p.url)}</td><td></td><td></td><td>unparsed: {_e(p.error)}</td>"
                       f"<td>{_e(p.record_id)}</td></tr>")
        else:
            out.append(f"<tr><td>{_e(p.url)}</td><td>{_e(p.verdict.title)}</td><td>{p.verdict.risk_score}</td>"
                       f"<td>{_e(verdict_label(p.verdict))}</td><td>{_e(p.record_id)}</td></tr>")
    out.append("</table><h3>Red-flag claims</h3>")
    for page, c in r.flagged_claims():
        out.append(f"<p><mark class='flag'>{_e(c.text)}</mark></p><div class='why'>on {_e(page.url)} "
                   f"(record {_e(page.record_id)})")
        for flag in c.flags:
            if flag.made:
                why = "; ".join(flag_reasons(flag))
                out.append(f"<div><b>{_e(flag_line(flag))}</b>: {_e(DESCRIPTIONS.get(flag.category, ''))}. "
                           f"<i>{_e(why)}</i></div>")
        out.append("</div>")
    if r.events:
        out.append("<h3>Not analysed</h3><ul>")
        out.extend(f"<li>{_e(e.kind)}: {_e(e.reason)}: {_e(e.message)}</li>" for e in r.events)
        out.append("</ul>")
    out.append("</div>")
    return out
