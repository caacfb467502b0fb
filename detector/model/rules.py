"""The scoring rules of a model bundle: constants and word lists that change verdicts (scoring/ applies them).

They are data (corpora/lexicons/scoring.json, copied into the bundle and hashed with it), not runtime
settings: the same bundle always gives the same verdict, and the results store's reuse key (the bundle's
SHA-256) changes when they do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from detector.errors import ModelError


def _terms(words: list[str]) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.I) if words else re.compile(r"(?!x)x")


@dataclass(frozen=True)
class ScoringRules:
    red_flag_score: int = 50
    review_score: int = 30
    min_words_without_cue: int = 4
    list_min_groups: int = 3
    list_max_item_words: int = 6
    list_roles: tuple[str, ...] = ("list_item", "table_cell", "nav")
    report_terms: tuple[str, ...] = ()
    sell_terms: tuple[str, ...] = ()
    topic_terms: tuple[str, ...] = ()
    report: re.Pattern = field(init=False, repr=False, compare=False)
    sell: re.Pattern = field(init=False, repr=False, compare=False)
    topic: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "report", _terms(list(self.report_terms)))
        object.__setattr__(self, "sell", _terms(list(self.sell_terms)))
        object.__setattr__(self, "topic", _terms([re.escape(t) for t in self.topic_terms]))

    @classmethod
    def from_dict(cls, data: dict) -> ScoringRules:
        known = {f for f in cls.__dataclass_fields__ if f not in ("report", "sell", "topic")}
        unknown = set(data) - known - {"about"}
        if unknown:
            raise ModelError(f"scoring rules: unknown keys {sorted(unknown)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        try:
            return cls(**values)
        except (TypeError, re.error) as exc:
            raise ModelError(f"scoring rules: {exc}") from exc

    @classmethod
    def load(cls, path: Path) -> ScoringRules:
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: unreadable scoring rules ({exc})") from exc


DEFAULT_RULES = ScoringRules()
