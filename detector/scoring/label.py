"""Verdict labels: the one place that turns a score and a red-flag verdict into the words people read."""

from __future__ import annotations

from typing import Protocol

RED_FLAG_LABEL = "RED FLAG"
REVIEW_LABEL = "review"
LOW_LABEL = "low risk"
REVIEW_SCORE = 30  # below the red-flag line but worth a human look


class Scored(Protocol):
    risk_score: int
    red_flag: bool


def label(risk_score: int | None, red_flag: bool | None, review_score: int = REVIEW_SCORE) -> str:
    """'RED FLAG', 'review' or 'low risk' for a page or site score (the bundle's rules set review_score)."""
    if red_flag:
        return RED_FLAG_LABEL
    return REVIEW_LABEL if (risk_score or 0) >= review_score else LOW_LABEL


def verdict_label(v: Scored) -> str:
    """The label a verdict carries (set with the bundle's rules), or one made from its score and verdict."""
    return getattr(v, "label", "") or label(v.risk_score, v.red_flag)


def css_class(text: str) -> str:
    """The style class for a label: red, review or low."""
    return {RED_FLAG_LABEL: "red", REVIEW_LABEL: "review"}.get(text, "low")
