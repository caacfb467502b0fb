"""The seam between claims and whatever scores them: any claim model that meets these protocols plugs in.

check, the artifact loader, training and the analyses talk to a ClaimScorer only, so a different claim model
(an encoder, a cascade) can replace the linear one without touching them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from detector.records import Claim, Evidence


@runtime_checkable
class ClaimScores(Protocol):
    """Scores for n claims over the codebook's categories, with the model's own evidence on request."""

    proba: np.ndarray  # (n, len(CATEGORIES)) probabilities, CATEGORIES order

    def evidence(self, i: int, category: str) -> list[Evidence]:
        """Why claim i scored as it did for one category: the words that fired, with offsets into the claim."""
        ...


@runtime_checkable
class ClaimScorer(Protocol):
    """A claim model: probabilities per category and per-category decision thresholds."""

    thresholds: np.ndarray  # (len(CATEGORIES),)

    def score(self, claims: Sequence[Claim]) -> ClaimScores:
        ...


class ScoreSlice:
    """Claims a:a+n of a batch's scores, seen as the scores of one page (indices from 0)."""

    def __init__(self, scores: ClaimScores, start: int, n: int) -> None:
        self.scores, self.start = scores, start
        self.proba = scores.proba[start : start + n]

    def evidence(self, i: int, category: str) -> list[Evidence]:
        return self.scores.evidence(self.start + i, category)
