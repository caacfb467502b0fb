"""Render a page's history (claims over time from a web archive): a compact text timeline, one JSON object,
and a self-contained HTML report with a chart of the risk score over time.

The HTML goes through Jinja2 with autoescaping on: claim text, titles and URLs came from archived pages and
archive indexes, which are hostile input. The chart is inline SVG built from numbers here; no script, no CDN.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from detector.categories import NAMES, RED_FLAGS
from detector.output.report import NOTE
from detector.records import History, Snapshot, TrackedClaim
from detector.scoring.label import css_class, verdict_label

TEMPLATES = Path(__file__).resolve().parent / "templates"


def day(ts: str) -> str:
    """A 14-digit CDX timestamp as a date a reader knows (2018-03-01)."""
    return f"{ts[:4]}-{ts[4:6]}-{ts[6:8]}"


def _when(ts: str) -> str:
    return f"{day(ts)}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z"


def snapshot_dict(s: Snapshot, ids: list[int]) -> dict[str, Any]:
    v = s.verdict
    return {
        "timestamp": s.timestamp, "date": _when(s.timestamp), "url": s.url, "archive_url": s.archive_url,
        "fetched_url": s.raw_url or None, "served_url": s.served_url or None, "digest": s.digest,
        "identical_captures": len(s.seen), "last_identical": s.seen[-1] if s.seen else s.timestamp,
        "status": "read" if v is not None else "failed",
        "risk_score": v.risk_score if v else None, "red_flag": v.red_flag if v else None,
        "verdict": verdict_label(v) if v else None, "title": v.title if v else None,
        "categories": {k: n for k, n in v.categories.items() if n} if v else {},
        "claims": ids, "content_sha256": s.content_sha256 or None,
        "error": s.error or None, "reason": s.reason or None,
    }


def _claim_ids(history: History) -> dict[str, list[int]]:
    """Per snapshot timestamp, the ids of the tracked claims it holds."""
    out: dict[str, list[int]] = {}
    for c in history.claims:
        for ts in c.snapshots:
            out.setdefault(ts, []).append(c.id)
    return out


def to_dict(history: History) -> dict[str, Any]:
    """The JSON form: `url`, `snapshots` and `claims` (docs: README "Claims over time"), plus the timeline,
    the moments the verdict changed, what the archive's index held, and the model."""
    ids = _claim_ids(history)
    return {
        "url": history.url, "archive": history.archive,
        "snapshots": [snapshot_dict(s, ids.get(s.timestamp, []) if s.verdict else []) for s in history.snapshots],
        "claims": [{"id": c.id, "text": c.text, "categories": c.categories, "first_seen": c.first_seen,
                    "last_seen": c.last_seen, "snapshots": c.snapshots, "still_present": c.still_present,
                    "wordings": c.wordings} for c in history.claims],
        "timeline": history.timeline, "verdict_changes": history.verdict_changes, "index": history.index,
        "model": {"sha256": history.model_sha256},
    }


def to_json(history: History) -> str:
    return json.dumps(to_dict(history), ensure_ascii=False)


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _cats(categories: list[str] | dict[str, int]) -> str:
    return ", ".join(NAMES.get(k, k) for k in categories)


def _gone(history: History, claim: TrackedClaim) -> str | None:
    """When a claim no longer on the page was first found missing (the capture after its last sighting)."""
    return next((m["timestamp"] for m in history.timeline
                 if m["timestamp"] > claim.last_seen and claim.id in m["disappeared"]), None)


def _index_line(history: History) -> str:
    ix = history.index
    skipped = "; ".join(f"{n} {why}" for why, n in ix.get("skipped", {}).items())
    junk = f"; {ix['unreadable_rows']} unreadable index rows" if ix.get("unreadable_rows") else ""
    return (f"  {_n(ix.get('rows', 0), 'capture')} in the index{junk}; {ix.get('chosen', 0)} chosen to read"
            + (f" (left out: {skipped})" if skipped else ""))


def to_text(history: History, max_claims: int = 40) -> str:
    """A compact timeline for the terminal: one line per capture read, then the verdict changes and claims."""
    ix = history.index
    lines = [f"{history.url}: claims over time from {history.archive}",
             _index_line(history),
             f"  {_n(ix.get('read', 0), 'snapshot')} read, {ix.get('failed', 0)} failed"
             + (f", latest read capture {day(ix['latest_read'])}" if ix.get("latest_read") else ""),
             "", "timeline:"]
    ids = _claim_ids(history)
    events = sorted([(m["timestamp"], 1, m) for m in history.timeline]
                    + [(s.timestamp, 0, s) for s in history.snapshots if s.verdict is None], key=lambda e: e[:2])
    shown: set[int] = set()
    for ts, _kind, item in events:
        if isinstance(item, Snapshot):
            lines.append(f"  {day(ts)}  not read: {item.reason}: {item.error}")
            continue
        s = history.snapshots[item["snapshot"]]
        v = s.verdict
        delta = [f"{sign}{len(item[key])} {what}" for key, sign, what in (
            ("appeared", "+", "appeared"), ("disappeared", "-", "gone"), ("changed", "~", "reworded")) if item[key]]
        if item["snapshot"] in shown:
            delta.append(f"back to the version of {day(s.timestamp)}")
        elif len(s.seen) > 1:
            delta.append(f"same page in {len(s.seen)} captures to {day(s.seen[-1])}")
        lines.append(f"  {day(ts)}  {verdict_label(v):<8} {v.risk_score:>3}  "  # type: ignore[arg-type]
                     f"{_n(len(ids.get(s.timestamp, [])), 'claim')}{'; ' + ', '.join(delta) if delta else ''}")
        if item["snapshot"] not in shown:
            lines.append(f"              {s.archive_url}")
        shown.add(item["snapshot"])
    if history.verdict_changes:
        lines += ["", "verdict changes:"]
        lines += [f"  {day(c['timestamp'])}: {c['before']} -> {c['after']} (risk {c['risk_before']} -> "
                  f"{c['risk_after']})" for c in history.verdict_changes]
    lines += ["", f"claims ({len(history.claims)}):"]
    for c in history.claims[:max_claims]:
        gone = _gone(history, c)
        state = "still on the page in the latest capture read" if c.still_present else (
            f"gone by {day(gone)}" if gone else "not in the latest capture")
        lines.append(f"  [{c.id}] \"{c.text}\"")
        lines.append(f"      {_cats(c.categories)}; first seen {day(c.first_seen)}, last seen {day(c.last_seen)} "
                     f"({_n(len(c.snapshots), 'snapshot')}); {state}")
        for w, nxt in zip(c.wordings, c.wordings[1:], strict=False):
            lines.append(f"      worded until {day(nxt['timestamp'])}: \"{w['text']}\"")
    if len(history.claims) > max_claims:
        lines.append(f"  ... and {len(history.claims) - max_claims} more (use --format json for all)")
    if not history.claims:
        lines.append("  no flagged claim in any snapshot read")
    lines += ["", NOTE]
    return "\n".join(lines)


# -- HTML ------------------------------------------------------------------------------------------------------
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 760, 220, 40, 16, 14, 28


def _epoch(ts: str) -> float:
    return datetime.strptime(ts, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()


def chart(history: History) -> dict[str, Any]:
    """The risk score over time as SVG coordinates: a step line over every capture time with read content,
    a dot per snapshot read (linking to its row), year ticks and the review and red-flag bands."""
    pts = [(m["timestamp"], m["risk_score"], m["snapshot"]) for m in history.timeline]
    if not pts:
        return {}
    last = history.index.get("latest_read") or pts[-1][0]
    t0, t1 = _epoch(pts[0][0]), _epoch(max(last, pts[-1][0]))
    span = max(t1 - t0, 86400.0)
    width, height = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def x(ts: str) -> float:
        return round(PAD_L + (_epoch(ts) - t0) / span * width, 1)

    def y(score: float) -> float:
        return round(PAD_T + (100 - score) / 100 * height, 1)

    path, prev_y = [], None
    for ts, score, _ in pts:
        if prev_y is None:
            path.append(f"M{x(ts)},{y(score)}")
        else:
            path.append(f"H{x(ts)}V{y(score)}")
        prev_y = y(score)
    path.append(f"H{x(last)}")
    dots = []
    for ts, score, i in pts:
        s = history.snapshots[i]
        label = verdict_label(s.verdict)
        dots.append({"x": x(ts), "y": y(score), "cls": css_class(label), "href": f"#snap-{i}",
                     "title": f"{day(ts)}: {label}, risk {score}"})
    first_year, last_year = int(pts[0][0][:4]), int(max(last, pts[-1][0])[:4])
    years = [{"x": x(f"{yr}0101000000"), "label": str(yr)} for yr in range(first_year, last_year + 1)
             if f"{yr}0101000000" >= pts[0][0]]
    if not years or years[0]["x"] - PAD_L > 40:  # the start, when no year begins close to it
        years.insert(0, {"x": PAD_L, "label": day(pts[0][0])[:7]})
    failed = [{"x": x(s.timestamp), "title": f"{day(s.timestamp)}: not read ({s.reason})"}
              for s in history.snapshots if s.verdict is None and pts[0][0] <= s.timestamp <= last]
    return {"w": W, "h": H, "path": "".join(path), "dots": dots, "years": years, "failed": failed,
            "left": PAD_L, "right": W - PAD_R, "top": PAD_T, "bottom": H - PAD_B,
            "ticks": [{"y": y(v), "label": str(v)} for v in (0, 50, 100)], "y50": y(50)}


def _said(claim: TrackedClaim, ts: str, before: bool = False) -> str:
    """The claim's wording at capture time ts (or just before it)."""
    said = [w["text"] for w in claim.wordings if (w["timestamp"] < ts if before else w["timestamp"] <= ts)]
    return said[-1] if said else claim.text


def to_html(history: History) -> str:
    """One self-contained page: the chart, the moments claims appeared, changed and disappeared (each linked
    to its capture in the archive), every snapshot, and every claim with its first and last sighting."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    ids = _claim_ids(history)
    view_claims = [{"id": c.id, "text": c.text, "categories": _cats(c.categories), "first": day(c.first_seen),
                    "last": day(c.last_seen), "snapshots": len(c.snapshots), "still": c.still_present,
                    "gone": day(g) if (g := _gone(history, c)) else None,
                    "red": any(k in RED_FLAGS for k in c.categories),
                    "wordings": [{"date": day(nxt["timestamp"]), "text": w["text"]}
                                 for w, nxt in zip(c.wordings, c.wordings[1:], strict=False)]}
                   for c in history.claims]
    claims = {c["id"]: c for c in view_claims}
    by_id = {c.id: c for c in history.claims}
    moments = []
    for m in history.timeline:
        s = history.snapshots[m["snapshot"]]
        if not (m["appeared"] or m["disappeared"] or m["changed"]):
            continue
        moments.append({"date": day(m["timestamp"]), "href": s.archive_url, "snapshot": m["snapshot"],
                        "label": m["label"], "risk": m["risk_score"], "cls": css_class(m["label"]),
                        "appeared": [{**claims[i], "text": _said(by_id[i], m["timestamp"])} for i in m["appeared"]],
                        "disappeared": [{**claims[i], "text": _said(by_id[i], m["timestamp"], before=True)}
                                        for i in m["disappeared"]],
                        "changed": [{**claims[i], "text": _said(by_id[i], m["timestamp"]),
                                     "was": _said(by_id[i], m["timestamp"], before=True)} for i in m["changed"]]})
    snaps = []
    for n, s in enumerate(history.snapshots):
        v = s.verdict
        snaps.append({"n": n, "date": day(s.timestamp), "href": s.archive_url, "read": v is not None,
                      "label": verdict_label(v) if v else "", "cls": css_class(verdict_label(v)) if v else "",
                      "risk": v.risk_score if v else None, "claims": len(ids.get(s.timestamp, [])) if v else 0,
                      "categories": _cats({k: n for k, n in v.categories.items() if n}) if v else "",
                      "same": len(s.seen), "until": day(s.seen[-1]) if s.seen else "", "error": s.error,
                      "reason": s.reason})
    changes = [{"date": day(c["timestamp"]), "before": c["before"], "after": c["after"],
                "risk_before": c["risk_before"], "risk_after": c["risk_after"],
                "href": history.snapshots[c["snapshot"]].archive_url} for c in history.verdict_changes]
    return env.get_template("history.html").render(
        h=history, index_line=_index_line(history).strip(), chart=chart(history), moments=moments,
        snapshots=snaps, claims=view_claims, changes=changes, note=NOTE)
