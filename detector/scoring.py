"""From scored claims to a page verdict: risk score 0-100, red flag, and the reasons behind both.

The rule is deliberately simple and written down (README, model card) so that a regulator can follow
it: strong evidence per category, combined by noisy-OR with category weights, lowered (never erased)
by disclosures, by reported speech and by a page that never names a cell or regenerative product.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from detector.categories import CATEGORIES, DISCLOSURE, RED_FLAGS
from detector.records import Claim, PageVerdict

WEIGHTS: dict[str, float] = {
    "approval_misrepresentation": 0.9,
    "research_misrepresentation": 0.8,
    "efficacy_overclaim": 0.85,
    "guaranteed_results": 0.85,
    "cure_all": 0.8,
    "risk_denial": 0.8,
    "testimonial_evidence": 0.55,
    "commercial_pressure": 0.5,
}
_LIST_ROLES = {"list_item", "table_cell", "nav"}


@dataclass(frozen=True)
class ScoringRule:
    """The page rule's knobs, documented in the README; defaults chosen on the corpus dev pages."""

    top_claims: int = 3
    floor: float = 0.5
    off_topic_factor: float = 0.35
    disclosure_factor: float = 0.25
    reporting_factor: float = 0.6
    red_flag_score: int = 50
    cure_all_groups: int = 3
    weights: dict[str, float] = field(default_factory=lambda: dict(WEIGHTS))


def _groups(claim: Claim) -> set[str]:
    return {g for label, _t, g in claim.entities if label == "CONDITION"}


def mark_condition_lists(claims: list[Claim], min_groups: int = 3) -> list[str]:
    """Flag cure_all on a run of list items naming conditions of 3+ unrelated body systems.

    A cure-all menu is usually a bulleted list, one condition per item, which no single sentence shows.
    """
    notes = []
    i = 0
    while i < len(claims):
        if claims[i].block_role not in _LIST_ROLES or not _groups(claims[i]):
            i += 1
            continue
        j = i
        groups: set[str] = set()
        while j < len(claims) and claims[j].block_role in _LIST_ROLES and (
            _groups(claims[j]) or len(claims[j].text.split()) <= 6
        ):
            groups |= _groups(claims[j])
            j += 1
        run = claims[i:j]
        if len(groups) >= min_groups and not any(c.reported for c in run):
            head = max(run, key=lambda c: len(_groups(c)))
            score = min(0.95, 0.6 + 0.1 * (len(groups) - min_groups))
            head.scores["cure_all"] = max(head.scores.get("cure_all", 0.0), score)
            if "cure_all" not in head.categories:
                head.categories.append("cure_all")
            head.explanation.setdefault("cure_all", []).append(
                f"list of {j - i} items naming {len(groups)} unrelated condition groups: {', '.join(sorted(groups))}"
            )
            notes.append(f"condition list with {len(groups)} unrelated groups ({', '.join(sorted(groups))})")
        i = max(j, i + 1)
    return notes


def score_page(
    target: str, claims: list[Claim], title: str = "", rule: ScoringRule | None = None, model_sha256: str = ""
) -> PageVerdict:
    """Combine claim scores into the page verdict; claims must already carry scores and categories."""
    rule = rule or ScoringRule()
    reasons = mark_condition_lists(claims, rule.cure_all_groups)
    own = [c for c in claims if not c.reported]
    raw_keep = 1.0
    for cat in RED_FLAGS:
        probs = sorted((c.scores.get(cat, 0.0) for c in own if cat in c.categories), reverse=True)
        if not probs:
            continue
        miss = 1.0
        for p in probs[: rule.top_claims]:
            miss *= 1.0 - p
        evidence = 1.0 - miss
        raw_keep *= 1.0 - rule.weights[cat] * evidence
        reasons.append(f"{cat}: {len(probs)} claim(s), strongest p={probs[0]:.2f}")
    raw = 1.0 - raw_keep
    on_topic = any(label == "CELL_PRODUCT" for c in claims for label, _t, _g in c.entities) or any(
        w in title.lower() for w in ("stem cell", "exosome", "regenerative", "cell therapy")
    )
    if not on_topic:
        raw *= rule.off_topic_factor
        reasons.append("no stem-cell or regenerative product named: score lowered")
    disclosure = max((c.scores.get(DISCLOSURE, 0.0) for c in claims if DISCLOSURE in c.categories), default=0.0)
    if disclosure:
        raw *= 1.0 - rule.disclosure_factor * disclosure
        reasons.append(f"honest disclosure present (p={disclosure:.2f}): score lowered, flags kept")
    reported = sum(1 for c in claims if c.reported_categories)
    made = sum(1 for c in own if any(cat in c.categories for cat in RED_FLAGS))
    if reported > made:
        raw *= rule.reporting_factor
        reasons.append(f"page mostly reports claims ({reported} reported vs {made} made): score lowered")
    risk = round(100 * raw)
    red_flag = on_topic and made > 0 and risk >= rule.red_flag_score
    counts = Counter(cat for c in own for cat in c.categories)
    groups = sorted({g for c in claims for g in _groups(c)})
    products = sorted({t.lower() for c in claims for label, t, _g in c.entities if label == "CELL_PRODUCT"})
    return PageVerdict(
        target=target, risk_score=risk, red_flag=red_flag,
        categories={cat: counts.get(cat, 0) for cat in CATEGORIES},
        claims=claims, condition_groups=groups, products=products, title=title,
        reasons=reasons, model_sha256=model_sha256,
    )
