"""The runtime page model: a logistic model over named page features, monotone in red-flag evidence.

Weights are fitted in the lab (detector/lab/page_fit.py) with sign constraints: every feature of red-flag
evidence has a non-negative weight, every mitigating feature a non-positive one, so more or stronger
red-flag evidence can never lower a page's score. Loaded from plain JSON; the contributions stay in the
verdict's JSON for experts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detector.errors import ModelError


@dataclass
class PageModel:
    names: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    temperature: float = 1.0  # risk = sigmoid(logit / temperature): spreads scores without moving the 50 line

    @classmethod
    def from_dict(cls, data: dict) -> PageModel:
        try:
            names = [str(n) for n in data["names"]]
            arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
            model = cls(names, *arrays, float(data["intercept"]), float(data.get("temperature", 1.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"page model: malformed ({exc})") from exc
        if not all(len(a) == len(names) for a in arrays) or model.temperature <= 0:
            raise ModelError("page model: arrays do not match its feature names")
        return model

    def to_dict(self) -> dict:
        return {"names": self.names, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, "temperature": self.temperature}

    def _z(self, feats: dict[str, float]) -> np.ndarray:
        return (np.array([feats.get(n, 0.0) for n in self.names]) - self.mean) / self.scale

    def logit(self, feats: dict[str, float]) -> float:
        return float(self._z(feats) @ self.coef) + self.intercept

    def probability(self, feats: dict[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-self.logit(feats)))

    def risk(self, feats: dict[str, float]) -> float:
        """The 0-100 risk score before rounding."""
        z = max(-60.0, min(60.0, self.logit(feats) / self.temperature))
        return 100.0 / (1.0 + math.exp(-z))

    def contributions(self, feats: dict[str, float]) -> dict[str, float]:
        """Each feature's push on the log-odds against the average training page, largest first."""
        z = self._z(feats) * self.coef
        order = np.argsort(-np.abs(z))
        return {self.names[i]: round(float(z[i]), 3) for i in order if abs(z[i]) >= 0.01}
