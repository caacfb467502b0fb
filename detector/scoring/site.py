"""The site verdict: a site is as risky as the worst thing it tells patients.

One function for every face: site reports of a crawl, the site table of a scan, the store's sites table
and the web app all call score_site. Site score = the worst analysed page's score; category counts are
over distinct claims (normalised text and category), so a menu or footer repeated on every page counts
once; ties rank by how many pages are red-flag pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from detector.categories import CATEGORIES, DISCLOSURE
from detector.records import PageVerdict
from detector.scoring.label import REVIEW_SCORE, label
from detector.scoring.page import normalise


@dataclass
class PageSummary:
    """What a site verdict needs of one page, whether it comes from a verdict or from a stored row."""

    url: str
    analysed: bool
    risk_score: int | None = None
    red_flag: bool = False
    claims: set[tuple[str, str]] = field(default_factory=set)  # (normalised text, category) the page makes
    condition_groups: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    disclosure: bool = False

    @classmethod
    def of(cls, url: str, v: PageVerdict | None) -> PageSummary:
        if v is None:
            return cls(url, False)
        return cls(url, True, v.risk_score, v.red_flag,
                   {(normalise(c.text), cat) for c in v.claims for cat in c.categories},
                   list(v.condition_groups), list(v.products), v.categories.get(DISCLOSURE, 0) > 0)


@dataclass
class SiteScore:
    """What a site's pages add up to."""

    risk_score: int = 0
    red_flag: bool = False
    label: str = ""
    pages: int = 0
    analysed: int = 0
    red_flag_pages: int = 0
    worst_page: str | None = None
    categories: dict[str, int] = field(default_factory=lambda: {c: 0 for c in CATEGORIES})
    condition_groups: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    disclosure: bool = False


def score_site(pages: Iterable[PageSummary], review_score: int = REVIEW_SCORE) -> SiteScore:
    """Aggregate the pages of one site."""
    out = SiteScore()
    seen: set[tuple[str, str]] = set()
    groups: set[str] = set()
    products: set[str] = set()
    worst: PageSummary | None = None
    for p in pages:
        out.pages += 1
        if not p.analysed:
            continue
        out.analysed += 1
        out.red_flag_pages += int(p.red_flag)
        out.disclosure = out.disclosure or p.disclosure
        groups.update(p.condition_groups)
        products.update(p.products)
        seen |= p.claims
        if worst is None or (p.risk_score or 0) > (worst.risk_score or 0) or (
                (p.risk_score or 0) == (worst.risk_score or 0) and p.url < worst.url):
            worst = p
    for _text, cat in seen:
        out.categories[cat] = out.categories.get(cat, 0) + 1
    out.disclosure = out.disclosure or out.categories.get(DISCLOSURE, 0) > 0
    out.risk_score = (worst.risk_score or 0) if worst else 0
    out.worst_page = worst.url if worst else None
    out.red_flag = out.red_flag_pages > 0
    out.condition_groups = sorted(groups)
    out.products = sorted(products)
    out.label = label(out.risk_score, out.red_flag, review_score)
    return out
