"""Typed records passed between stages; plain dataclasses so no spaCy object leaves the nlp stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from detector.categories import DISCLOSURE, RED_FLAGS, SEVERITY


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
class Evidence:
    """One reason behind a flag or behind a claim's context, as data (the presidio AnalysisExplanation idea).

    `kind` is cue, entity, context (negation, hedge or reported speech, named in `label`), model, list or
    rule; `text` holds the words that fired (or, for a rule, its wording); `start`/`end` are character
    offsets into the claim's text when the words are in it. Faces turn these into plain words.
    """

    kind: str
    text: str
    start: int | None = None
    end: int | None = None
    label: str = ""
    category: str | None = None  # the flag it supports; None for evidence about the claim as a whole
    weight: float | None = None  # the model's contribution (log-odds), for experts

    def to_dict(self) -> dict:
        # every field is a plain value, so vars() is asdict() without its deep copy (a scan calls this a lot)
        return {k: v for k, v in vars(self).items() if v is not None and v != ""}


@dataclass
class Cue:
    """A lexicon or pattern hit inside a claim sentence; offsets are into the claim's text."""

    label: str
    text: str
    negated: bool = False
    start: int | None = None
    end: int | None = None


@dataclass
class Entity:
    """A named thing in a claim (cell product, condition, regulator...) with its lexicon group."""

    label: str
    text: str
    group: str = ""
    start: int | None = None
    end: int | None = None


@dataclass
class Flag:
    """A category the classifier found in a claim, with the evidence for it.

    `made` says whether the page makes the claim in its own voice; a reported claim (quoted, attributed,
    warned about) keeps its flag with made=False. That is decided by the nlp stage from the sentence,
    never by the page's score.
    """

    category: str
    probability: float
    threshold: float
    made: bool = True
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class Claim:
    """One sentence, what the nlp stage found in it, and the flags the model and scoring gave it."""

    text: str
    start: int
    end: int
    block: int = 0
    block_role: str = "text"
    cues: list[Cue] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    negated: bool = False
    hedged: bool = False
    reported: bool = False
    context: list[Evidence] = field(default_factory=list)  # the words that made it negated, hedged or reported
    scores: dict[str, float] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)

    @property
    def categories(self) -> list[str]:
        """Categories the page makes in its own voice (disclosures included)."""
        return [f.category for f in self.flags if f.made]

    @property
    def reported_categories(self) -> list[str]:
        """Red-flag categories the page reports or quotes without making them."""
        return [f.category for f in self.flags if not f.made]

    @property
    def made_red_flags(self) -> list[str]:
        return [f.category for f in self.flags if f.made and f.category in RED_FLAGS]

    def flag(self, category: str) -> Flag | None:
        return next((f for f in self.flags if f.category == category), None)

    @property
    def evidence(self) -> list[Evidence]:
        """Every evidence item of every flag, then the claim's context (negation, hedge, reported speech)."""
        out = [e for f in self.flags for e in f.evidence]
        seen = {(e.kind, e.label, e.start, e.end) for e in out}
        return out + [e for e in self.context if (e.kind, e.label, e.start, e.end) not in seen]

    def to_dict(self) -> dict:
        return {
            "text": self.text, "start": self.start, "end": self.end, "block": self.block,
            "block_role": self.block_role, "categories": self.categories,
            "reported_categories": self.reported_categories,
            "scores": self.scores, "negated": self.negated, "hedged": self.hedged, "reported": self.reported,
            "cues": [asdict(c) for c in self.cues],
            "entities": [asdict(e) for e in self.entities],
            "flags": [{"category": f.category, "probability": round(f.probability, 4),
                       "threshold": round(f.threshold, 4), "made": f.made} for f in self.flags],
            "evidence": [e.to_dict() for e in self.evidence],
        }


def severity_key(claim: Claim) -> tuple[int, float]:
    """Sort key: the most serious made red-flag category first (codebook order), then the higher probability."""
    made = claim.made_red_flags
    if not made:
        return (len(SEVERITY), 0.0)
    rank = min(SEVERITY.index(c) for c in made)
    return (rank, -max(claim.scores.get(c, 0.0) for c in made if SEVERITY.index(c) == rank))


@dataclass
class PageVerdict:
    """A page's score, its label and the claims behind it, with reasons in plain words."""

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
    label: str = ""
    details: dict = field(default_factory=dict)  # page features and their contributions, for experts (JSON only)
    page: Page | None = None  # the page the claims came from (blocks for context); never serialised

    @property
    def flagged(self) -> list[Claim]:
        return [c for c in self.claims if c.flags]

    @property
    def made_claims(self) -> list[Claim]:
        """Claims that make a red-flag claim in the page's own voice, most serious first."""
        return sorted((c for c in self.claims if c.made_red_flags), key=severity_key)

    @property
    def top_claim(self) -> Claim | None:
        made = self.made_claims
        return made[0] if made else None

    def to_dict(self, all_claims: bool = False) -> dict:
        claims = self.claims if all_claims else self.flagged
        top = self.top_claim
        return {
            "target": self.target,
            "title": self.title,
            "risk_score": self.risk_score,
            "red_flag": self.red_flag,
            "label": self.label,
            "categories": self.categories,
            "condition_groups": self.condition_groups,
            "products": self.products,
            "reasons": self.reasons,
            "top_evidence": top.text if top else None,
            "claims": [c.to_dict() for c in claims],
            "model": {"sha256": self.model_sha256, **self.details},
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
    label: str = ""

    @property
    def analysed(self) -> list[SitePage]:
        return [p for p in self.pages if p.verdict is not None]

    @property
    def red_flag_pages(self) -> int:
        return sum(1 for p in self.analysed if p.verdict and p.verdict.red_flag)

    def worst_pages(self, n: int = 5) -> list[SitePage]:
        return sorted(self.analysed, key=lambda p: (-p.verdict.risk_score, p.url))[:n]  # type: ignore[union-attr]

    def flagged_claims(self) -> list[tuple[SitePage, Claim]]:
        """Made red-flag claims, riskiest page first, the most serious claim of each page first."""
        out = []
        for page in sorted(self.analysed, key=lambda p: (-p.verdict.risk_score, p.url)):  # type: ignore[union-attr]
            out.extend((page, claim) for claim in page.verdict.made_claims)  # type: ignore[union-attr]
        return out

    def top_claim(self) -> tuple[SitePage, Claim] | None:
        """The site's most serious made claim (codebook severity order), with its page."""
        found = self.flagged_claims()
        return min(found, key=lambda pc: severity_key(pc[1])) if found else None

    def to_dict(self) -> dict:
        return {
            "site": self.site,
            "start_url": self.start_url,
            "risk_score": self.risk_score,
            "red_flag": self.red_flag,
            "label": self.label,
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
    label: str = ""
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
        """A page verdict as a row: its most serious made claim and every flagged claim with its evidence."""
        top = v.top_claim
        claims = []
        for c in v.flagged:
            claims.append({"text": c.text, "categories": c.categories, "reported_categories": c.reported_categories,
                           "scores": {f.category: round(f.probability, 4) for f in c.flags},
                           "negated": c.negated, "hedged": c.hedged, "reported": c.reported,
                           "evidence": [e.to_dict() for e in c.evidence]})
        return cls(
            status="analysed", risk_score=v.risk_score, red_flag=v.red_flag, label=v.label, title=v.title[:300],
            top_evidence=top.text[:500] if top else "", categories=dict(v.categories),
            condition_groups=list(v.condition_groups), products=list(v.products),
            disclosure=v.categories.get(DISCLOSURE, 0) > 0, claims=claims, **base,
        )


@dataclass
class Snapshot:
    """One capture a history read from a web archive: where it is, its verdict, or why there is none.

    `seen` holds every capture time with identical content (the archive's digest), so a page read once
    still says how long the archive kept seeing it.
    """

    timestamp: str  # 14-digit CDX timestamp (UTC)
    url: str  # the URL as archived
    archive_url: str  # a link a reader can open
    raw_url: str  # what was fetched (the page as archived, no banner)
    digest: str
    seen: list[str]
    verdict: PageVerdict | None = None
    error: str = ""
    reason: str = ""
    served_url: str = ""  # where the archive's redirects ended, when it served a neighbouring capture
    content_sha256: str = ""


@dataclass
class TrackedClaim:
    """One claim followed across captures: the same sentence after normalising, or a small edit of it."""

    id: int
    text: str  # the latest wording
    categories: list[str]
    first_seen: str
    last_seen: str
    snapshots: list[str]  # timestamps of the snapshots it is in
    still_present: bool = False
    wordings: list[dict[str, str]] = field(default_factory=list)  # {"timestamp", "text"} each time it changed


@dataclass
class History:
    """A page's claims over time, from the captures of a web archive."""

    url: str
    archive: str
    snapshots: list[Snapshot]
    claims: list[TrackedClaim]
    timeline: list[dict[str, Any]]  # per capture time in order: snapshot index, appeared/disappeared/changed ids
    verdict_changes: list[dict[str, Any]]
    index: dict[str, Any]  # what the capture index held: rows, unreadable rows, skipped counts
    model_sha256: str = ""
