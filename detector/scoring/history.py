"""Claims over time: one identity per claim across a page's archived captures, and the moments it changed.

A claim is the same claim in two captures when its text is equal after normalising case, whitespace and
punctuation (scoring.page.normalise, the identity `diff` uses too), or when a small edit keeps its word set
nearly whole (Jaccard similarity of the normalised word sets >= 0.9): "FDA approved" -> "FDA-approved"
or one word in twenty changed is the same claim *changed*, not one claim gone and another new. Pure: it
reads verdicts already made and knows nothing of archives or the network.
"""

from __future__ import annotations

from typing import Any

from detector.categories import CATEGORIES
from detector.records import History, Snapshot, TrackedClaim
from detector.scoring.label import verdict_label
from detector.scoring.page import normalise

SIMILAR = 0.9


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of two texts' normalised word sets (1.0: the same words, in any order)."""
    x, y = set(normalise(a).split()), set(normalise(b).split())
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


def _identify(snapshots: list[Snapshot]) -> tuple[dict[int, dict[int, str]], dict[int, list[str]]]:
    """Per read snapshot, {claim id: its wording there}; per claim id, its made categories (ordered).

    Snapshots are taken oldest first; within one, exact matches are settled before near ones, so an
    unchanged sentence is never taken by the fuzzy pass for its edited neighbour.
    """
    norms: dict[str, int] = {}
    latest: dict[int, str] = {}  # id -> its most recent wording, for the near match
    cats: dict[int, set[str]] = {}
    present: dict[int, dict[int, str]] = {}
    order = sorted((i for i, s in enumerate(snapshots) if s.verdict is not None), key=lambda i: snapshots[i].timestamp)
    for i in order:
        here: dict[int, str] = {}
        pending = []
        for claim in snapshots[i].verdict.claims:  # type: ignore[union-attr]
            if not claim.categories:
                continue
            key = normalise(claim.text)
            cid = norms.get(key)
            if cid is not None and cid not in here:
                here[cid] = claim.text
                cats[cid] |= set(claim.categories)
            elif cid is None:
                pending.append(claim)
        for claim in pending:
            key = normalise(claim.text)
            if norms.get(key) in here:
                continue  # the same sentence twice on one page
            best, score = None, SIMILAR
            for cid, text in latest.items():
                if cid not in here and (s := similarity(text, claim.text)) >= score:
                    best, score = cid, s
            if best is None:
                best = len(cats)
                cats[best] = set()
            norms[key] = best
            here[best] = claim.text
            cats[best] |= set(claim.categories)
        latest.update(here)
        present[i] = here
    return present, {cid: [c for c in CATEGORIES if c in found] for cid, found in cats.items()}


def assemble(url: str, archive: str, snapshots: list[Snapshot], index: dict[str, Any],
             model_sha256: str = "") -> History:
    """The history of one URL from its snapshots (read or failed), in capture order.

    Every capture time with a read snapshot's content counts (Snapshot.seen), so first and last seen are
    the archive's own dates even when identical content was read once; a failed snapshot says nothing.
    """
    present, cats = _identify(snapshots)
    sequence = sorted((ts, i) for i in present for ts in snapshots[i].seen)
    timeline: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    seen_at: dict[int, list[str]] = {}
    wordings: dict[int, list[dict[str, str]]] = {}
    prev: int | None = None
    for ts, i in sequence:
        for cid in present[i]:
            seen_at.setdefault(cid, []).append(ts)
        if i == prev:
            continue
        now, before = present[i], present[prev] if prev is not None else {}
        changed = sorted(c for c in set(now) & set(before) if normalise(now[c]) != normalise(before[c]))
        for cid, text in now.items():
            said = wordings.setdefault(cid, [])
            if not said or normalise(said[-1]["text"]) != normalise(text):
                said.append({"timestamp": ts, "text": text})
        v = snapshots[i].verdict
        timeline.append({"timestamp": ts, "snapshot": i, "risk_score": v.risk_score,  # type: ignore[union-attr]
                         "label": verdict_label(v),
                         "appeared": sorted(set(now) - set(before)), "disappeared": sorted(set(before) - set(now)),
                         "changed": changed})
        if prev is not None:
            old = snapshots[prev].verdict
            if verdict_label(old) != verdict_label(v):
                changes.append({"timestamp": ts, "snapshot": i, "before": verdict_label(old),
                                "after": verdict_label(v), "risk_before": old.risk_score,  # type: ignore[union-attr]
                                "risk_after": v.risk_score})  # type: ignore[union-attr]
        prev = i
    last = present[sequence[-1][1]] if sequence else {}
    claims = []
    for cid in sorted(seen_at, key=lambda c: (seen_at[c][0], c)):
        said = wordings[cid]
        claims.append(TrackedClaim(
            id=cid, text=said[-1]["text"], categories=cats[cid], first_seen=seen_at[cid][0],
            last_seen=seen_at[cid][-1], still_present=cid in last, wordings=said,
            snapshots=[snapshots[i].timestamp for i in sorted(present, key=lambda i: snapshots[i].timestamp)
                       if cid in present[i]]))
    index = {**index, "latest_read": sequence[-1][0] if sequence else None}
    return History(url, archive, snapshots, claims, timeline, changes, index, model_sha256)
