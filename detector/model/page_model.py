"""Page model: a logistic regression over named page features (detector.scoring.page.page_features).

Few, named inputs keep the page score explainable: each verdict lists the features that moved it most.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


class PageModel(ClassifierMixin, BaseEstimator):
    """P(red-flag page | page features)."""

    def __init__(self, C: float = 0.5) -> None:
        self.C = C

    def fit(self, X: Sequence[dict[str, float]], y: Sequence[int]) -> PageModel:
        self.vec_ = DictVectorizer(sparse=False).fit(X)
        M = self.vec_.transform(X)
        self.scaler_ = StandardScaler().fit(M)
        self.lr_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=5000)
        self.lr_.fit(self.scaler_.transform(M), np.asarray(y, dtype=int))
        self.classes_ = self.lr_.classes_
        # Plain arrays for scoring one page at a time: sklearn's per-call checks cost more than the math.
        self.names_ = [str(n) for n in self.vec_.get_feature_names_out()]
        self.mean_ = self.scaler_.mean_
        self.scale_ = self.scaler_.scale_
        self.coef_ = self.lr_.coef_[0]
        self.intercept_ = float(self.lr_.intercept_[0])
        return self

    def _z(self, x: dict[str, float]) -> np.ndarray:
        return (np.array([x.get(n, 0.0) for n in self.names_]) - self.mean_) / self.scale_

    def predict_proba(self, X: Sequence[dict[str, float]]) -> np.ndarray:
        """Probability of the red-flag class, one value per page."""
        logits = np.array([self._z(x) @ self.coef_ for x in X]) + self.intercept_
        return 1.0 / (1.0 + np.exp(-logits))

    def predict(self, X: Sequence[dict[str, float]]) -> np.ndarray:
        return (self.predict_proba(X) >= 0.5).astype(int)

    def contributions(self, x: dict[str, float]) -> list[tuple[str, float]]:
        """Features of one page ordered by how much they moved its log-odds, largest first."""
        z = self._z(x) * self.coef_
        order = np.argsort(-np.abs(z))
        return [(self.names_[i], float(z[i])) for i in order if abs(z[i]) > 0.05]

    def weights(self) -> dict[str, float]:
        """Standardised coefficients, for the model card."""
        names = self.vec_.get_feature_names_out()
        return {str(n): round(float(w), 3) for n, w in zip(names, self.lr_.coef_[0], strict=True)}
