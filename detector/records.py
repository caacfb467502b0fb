"""Typed records passed between stages; plain dataclasses so no spaCy object leaves the nlp stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from detector.categories import DISCLOSURE, RED_FLAGS


@dataclass(frozen=True)
class Block:
    """A run of text from one HTML element (heading, paragraph, list item...), in reading order."""

    text: str
    role: str = "text"


@dataclass
class Page:
    """What one target yielded: its source, title and text blocks."""

    source: str
    blocks: list[Block]
    title: str = ""
    content_type: str = "text/html"
    notes: list[str] = field(default_factory=list)  # what extraction had to leave out (limits), for the report
    encoding: str = ""  # how the bytes were decoded ("header:utf-8", "bom:utf-16-le"...), when they were bytes

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)


@dataclass
class Cue:
    """A lexicon or pattern hit inside a claim sentence."""

    label: str
    text: str
    negated: bool = False


@dataclass
class Claim:
    """One sentence, what the nlp stage found in it, and later the model's verdict on it."""

    text: str
    start: int
    end: int
    block_role: str = "text"
    cues: list[Cue] = field(default_factory=list)
    entities: list[tuple[str, str, str]] = field(default_factory=list)  # (label, text, group)
    negated: bool = False
    hedged: bool = False
    reported: bool = False
    scores: dict[str, float] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    reported_categories: list[str] = field(default_factory=list)
    explanation: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["entities"] = [{"label": lab, "text": t, "group": g} for lab, t, g in self.entities]
        return data


@dataclass
class PageVerdict:
    """A page's score and the claims behind it."""

    target: str
    risk_score: int
    red_flag: bool
    categories: dict[str, int]
    claims: list[Claim]
    condition_groups: list[str]
    products: list[str]
    title: str = ""
    reasons: list[str] = field(default_factory=list)
    model_sha256: str = ""

    @property
    def flagged(self) -> list[Claim]:
        return [c for c in self.claims if c.categories or c.reported_categories]

    def to_dict(self, all_claims: bool = False) -> dict:
        claims = self.claims if all_claims else self.flagged
        return {
            "target": self.target,
            "title": self.title,
            "risk_score": self.risk_score,
            "red_flag": self.red_flag,
            "categories": self.categories,
            "condition_groups": self.condition_groups,
            "products": self.products,
            "reasons": self.reasons,
            "claims": [c.to_dict() for c in claims],
            "model": {"sha256": self.model_sha256},
        }


@dataclass
class WarcEvent:
    """A failure or skip: recorded by our crawler in a metadata record, or met while reading the file."""

    url: str
    kind: str  # "error" or "skipped"
    reason: str
    message: str
    record_id: str = ""
    offset: int | None = None


@dataclass
class SitePage:
    """One page of the site: where it came from in the WARC and its verdict (or why there is none)."""

    url: str
    status: int
    record_id: str
    date: str
    encoding: str = ""
    verdict: PageVerdict | None = None
    error: str = ""


@dataclass
class SiteReport:
    """The site verdict with its evidence: worst pages, flagged claims with their URL and WARC record."""

    site: str
    start_url: str
    warc_path: str
    warc_sha256: str
    crawl_started: str
    crawl_finished: str
    requests: int | None
    risk_score: int
    red_flag: bool
    pages: list[SitePage]
    events: list[WarcEvent] = field(default_factory=list)
    categories: dict[str, int] = field(default_factory=dict)
    condition_groups: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    robots: dict[str, str] = field(default_factory=dict)
    model_sha256: str = ""

    @property
    def analysed(self) -> list[SitePage]:
        return [p for p in self.pages if p.verdict is not None]

    @property
    def red_flag_pages(self) -> int:
        return sum(1 for p in self.analysed if p.verdict and p.verdict.red_flag)

    def worst_pages(self, n: int = 5) -> list[SitePage]:
        return sorted(self.analysed, key=lambda p: (-p.verdict.risk_score, p.url))[:n]  # type: ignore[union-attr]

    def flagged_claims(self) -> list[tuple[SitePage, Claim]]:
        out = []
        for page in sorted(self.analysed, key=lambda p: (-p.verdict.risk_score, p.url)):  # type: ignore[union-attr]
            for claim in page.verdict.claims:  # type: ignore[union-attr]
                if set(claim.categories) & set(RED_FLAGS):
                    out.append((page, claim))
        return out

    def to_dict(self) -> dict:
        return {
            "site": self.site,
            "start_url": self.start_url,
            "risk_score": self.risk_score,
            "red_flag": self.red_flag,
            "warc": {"path": self.warc_path, "sha256": self.warc_sha256},
            "crawl": {"started": self.crawl_started, "finished": self.crawl_finished, "requests": self.requests,
                      "robots": self.robots},
            "pages_analysed": len(self.analysed),
            "red_flag_pages": self.red_flag_pages,
            "categories": self.categories,
            "condition_groups": self.condition_groups,
            "products": self.products,
            "worst_pages": [
                {"url": p.url, "risk_score": p.verdict.risk_score, "red_flag": p.verdict.red_flag,  # type: ignore[union-attr]
                 "title": p.verdict.title, "warc_record_id": p.record_id}  # type: ignore[union-attr]
                for p in self.worst_pages()
            ],
            "claims": [
                {"url": page.url, "warc_record_id": page.record_id, **claim.to_dict()}
                for page, claim in self.flagged_claims()
            ],
            "pages": [
                {"url": p.url, "status": p.status, "date": p.date, "warc_record_id": p.record_id,
                 "encoding": p.encoding, "risk_score": p.verdict.risk_score if p.verdict else None,
                 "red_flag": p.verdict.red_flag if p.verdict else None, "error": p.error or None}
                for p in self.pages
            ],
            "failures": [
                {"url": e.url, "kind": e.kind, "reason": e.reason, "message": e.message, "warc_record_id": e.record_id}
                for e in self.events
            ],
            "model": {"sha256": self.model_sha256},
        }


@dataclass
class PageResult:
    """One input item's outcome, as workers send it to the single writer."""

    item_key: str
    seq: int
    url: str
    site: str
    source: str
    status: str  # analysed, irrelevant, failed, skipped
    model_sha256: str
    fetched_at: str = ""
    content_sha256: str = ""
    risk_score: int | None = None
    red_flag: bool | None = None
    title: str = ""
    top_evidence: str = ""
    error: str = ""
    categories: dict[str, int] = field(default_factory=dict)
    condition_groups: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    disclosure: bool = False
    claims: list[dict] = field(default_factory=list)
    reused_from: int | None = None

    @classmethod
    def from_verdict(cls, v: PageVerdict, **base: Any) -> PageResult:
        """A page verdict as a row: the strongest red-flag sentence and every flagged claim with its scores."""
        red = [c for c in v.claims if set(c.categories) & set(RED_FLAGS)]
        best = max(red, key=lambda c: max(c.scores.get(k, 0.0) for k in c.categories), default=None)
        claims = []
        for c in v.flagged:
            keep = set(c.categories) | set(c.reported_categories)
            claims.append({"text": c.text, "categories": c.categories, "reported_categories": c.reported_categories,
                           "scores": {k: round(c.scores.get(k, 0.0), 4) for k in sorted(keep)},
                           "negated": c.negated, "hedged": c.hedged, "reported": c.reported})
        return cls(
            status="analysed", risk_score=v.risk_score, red_flag=v.red_flag, title=v.title[:300],
            top_evidence=best.text[:500] if best else "", categories=dict(v.categories),
            condition_groups=list(v.condition_groups), products=list(v.products),
            disclosure=v.categories.get(DISCLOSURE, 0) > 0, claims=claims, **base,
        )
