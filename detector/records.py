"""Typed records passed between stages; plain dataclasses so no spaCy object leaves the nlp stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
