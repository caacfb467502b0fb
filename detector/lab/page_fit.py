"""Fitting the page model with sign constraints, so the runtime score is monotone in red-flag evidence.

scikit-learn's LogisticRegression takes no bounds on its weights; this is the same L2-regularised,
class-balanced logistic loss minimised with L-BFGS-B under bounds (w >= 0 for red-flag evidence, w <= 0
for mitigating features), on standardised features. It follows scikit-learn's estimator conventions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin

from detector.model.page_model import PageModel


class MonotoneLogistic(ClassifierMixin, BaseEstimator):
    """P(red-flag page | named page features), with each feature's weight sign fixed by `signs`."""

    def __init__(self, signs: dict[str, int] | None = None, C: float = 1.0, target_top: float = 97.0) -> None:
        self.signs = signs
        self.C = C
        self.target_top = target_top

    def fit(self, X: Sequence[dict[str, float]], y: Sequence[int],
            sample_weight: Sequence[float] | None = None) -> MonotoneLogistic:
        signs = self.signs or {}
        self.names_ = sorted({k for x in X for k in x} | set(signs))
        M = np.array([[x.get(n, 0.0) for n in self.names_] for x in X], dtype=np.float64)
        yv = np.asarray(y, dtype=np.float64)
        self.mean_ = M.mean(axis=0)
        self.scale_ = M.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        Z = (M - self.mean_) / self.scale_
        sw = np.ones(len(yv)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        pos = (sw * yv).sum()
        neg = (sw * (1 - yv)).sum()
        # class-balanced like scikit-learn's "balanced", on top of the sample weights
        weights = sw * np.where(yv == 1, sw.sum() / (2 * max(pos, 1e-9)), sw.sum() / (2 * max(neg, 1e-9)))
        lam = 1.0 / (self.C * len(yv))

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = theta[:-1], theta[-1]
            z = Z @ w + b
            p = 1.0 / (1.0 + np.exp(-z))
            ll = weights * (np.logaddexp(0, z) - yv * z)
            g = weights * (p - yv)
            value = ll.sum() / len(yv) + 0.5 * lam * (w @ w)
            grad = np.append(Z.T @ g / len(yv) + lam * w, g.sum() / len(yv))
            return float(value), grad

        bounds = [(0.0, None) if signs.get(n, 0) > 0 else (None, 0.0) if signs.get(n, 0) < 0 else (None, None)
                  for n in self.names_] + [(None, None)]
        res = minimize(loss, np.zeros(len(self.names_) + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 5000})
        self.coef_, self.intercept_ = res.x[:-1], float(res.x[-1])
        self.classes_ = np.array([0, 1])
        # Spread: scale the log-odds so the riskiest pages (99th percentile) land near target_top instead of
        # all rounding to 100; the 50 line (log-odds 0) does not move.
        logits = Z @ self.coef_ + self.intercept_
        top = np.quantile(logits[(yv == 1) & (sw >= 1)], 0.99) if ((yv == 1) & (sw >= 1)).any() else 1.0
        self.temperature_ = max(1.0, float(top) / float(np.log(self.target_top / (100 - self.target_top))))
        return self

    def to_page_model(self) -> PageModel:
        return PageModel(list(self.names_), self.mean_, self.scale_, self.coef_, self.intercept_, self.temperature_)

    def predict_proba(self, X: Sequence[dict[str, float]]) -> np.ndarray:
        model = self.to_page_model()
        p = np.array([model.probability(x) for x in X])
        return np.column_stack([1 - p, p])

    def predict(self, X: Sequence[dict[str, float]]) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def weights(self) -> dict[str, float]:
        """Standardised coefficients, for the model card."""
        return {n: round(float(w), 3) for n, w in zip(self.names_, self.coef_, strict=True)}
