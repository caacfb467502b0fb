"""The site verdict: a site is as risky as the worst thing it tells patients.

Site score = the worst page's score; category counts are over distinct claims, so a menu or footer
repeated on every page counts once; ties rank by how many pages are red-flag pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detector.categories import CATEGORIES
from detector.records import PageVerdict


@dataclass
class SiteScore:
    """What a site's pages add up to."""

    risk_score: int = 0
    red_flag: bool = False
    red_flag_pages: int = 0
    categories: dict[str, int] = field(default_factory=lambda: {c: 0 for c in CATEGORIES})
    condition_groups: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)


def score_site(verdicts: list[PageVerdict]) -> SiteScore:
    """Aggregate page verdicts; distinct claims are keyed by their text and categories."""
    out = SiteScore()
    seen: set[tuple[str, str]] = set()
    groups: set[str] = set()
    products: set[str] = set()
    for v in verdicts:
        groups.update(v.condition_groups)
        products.update(v.products)
        for claim in v.claims:
            key = (claim.text, ",".join(claim.categories))
            if key in seen:
                continue
            seen.add(key)
            for cat in claim.categories:
                out.categories[cat] = out.categories.get(cat, 0) + 1
    out.risk_score = max((v.risk_score for v in verdicts), default=0)
    out.red_flag_pages = sum(1 for v in verdicts if v.red_flag)
    out.red_flag = out.red_flag_pages > 0
    out.condition_groups = sorted(groups)
    out.products = sorted(products)
    return out
