"""Fitting the claim classifier (lab only): TF-IDF n-grams + nlp features -> one calibrated logistic model
per category, exported as arrays for the runtime scorer.

Linear models keep every score explainable (which words and cues pushed it up), and Platt scaling on
out-of-fold scores makes the probabilities mean something across categories.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from detector.categories import CATEGORIES
from detector.model.features import claim_features
from detector.model.linear import LinearClaimModel, LinearConfig, char_wb_grams
from detector.records import Claim

_WHITESPACE = re.compile(r"\s\s+")
_WORD_IDS: dict[int, dict[str, list[int]]] = {}


def char_transform(vec: TfidfVectorizer, texts: list[str]) -> sparse.csr_matrix:
    """`vec.transform(texts)` for a fitted char_wb TfidfVectorizer, with n-gram ids cached per word.

    char_wb n-grams never cross a word boundary, and web text repeats its words, so each distinct word is
    analysed once. The result equals sklearn's (a test checks it); anything unexpected falls back to it.
    """
    tfidf = getattr(vec, "_tfidf", None)
    if vec.analyzer != "char_wb" or tfidf is None or vec.preprocessor is not None or vec.strip_accents:
        return vec.transform(texts)
    cache = _WORD_IDS.setdefault(id(vec.vocabulary_), {})
    if len(cache) > 200_000:
        cache.clear()
    vocab = vec.vocabulary_
    lo, hi = vec.ngram_range
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        doc = _WHITESPACE.sub(" ", text.lower() if vec.lowercase else text)
        for word in doc.split():
            ids = cache.get(word)
            if ids is None:
                ids = cache[word] = [vocab[g] for g in char_wb_grams(word, lo, hi) if g in vocab]
            indices.extend(ids)
        indptr.append(len(indices))
    counts = sparse.csr_matrix(
        (np.ones(len(indices), dtype=vec.dtype), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
        shape=(len(texts), len(vocab)),
    )
    counts.sum_duplicates()
    counts.sort_indices()
    return _tfidf(tfidf, counts)


def word_transform(vec: TfidfVectorizer, texts: list[str]) -> sparse.csr_matrix:
    """`vec.transform(texts)` for a fitted word TfidfVectorizer, minus sklearn's per-call validation."""
    tfidf = getattr(vec, "_tfidf", None)
    if tfidf is None or not hasattr(vec, "_count_vocab") or vec.binary:
        return vec.transform(texts)
    _, counts = vec._count_vocab(texts, fixed_vocab=True)
    return _tfidf(tfidf, counts)


def _tfidf(transformer, counts: sparse.csr_matrix) -> sparse.csr_matrix:  # noqa: ANN001
    """TfidfTransformer.transform without its per-call validation (a third of the cost on a short page)."""
    if transformer.norm != "l2" or not transformer.use_idf or counts.dtype != np.float32:
        return transformer.transform(counts, copy=False)
    if transformer.sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1
    counts.data *= transformer.idf_[counts.indices]
    inplace_csr_row_normalize_l2(counts)
    return counts


class ClaimClassifier(ClassifierMixin, BaseEstimator):
    """Scores Claim records for the nine codebook categories."""

    def __init__(
        self,
        C: float = 4.0,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] | None = (3, 4),
        min_df: int = 2,
        cue_weight: float = 1.0,
        calibration_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.cue_weight = cue_weight
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    # -- features -------------------------------------------------------------------------------
    def _matrix(self, claims: Sequence[Claim], fit: bool = False) -> sparse.csr_matrix:
        texts = [c.text.lower() for c in claims]
        dicts = [claim_features(c) for c in claims]
        if fit:
            self.word_vec_ = TfidfVectorizer(
                ngram_range=self.word_ngrams, min_df=self.min_df, sublinear_tf=True,
                token_pattern=r"(?u)\b\w[\w'%$-]*\b", dtype=np.float32,
            ).fit(texts)
            self.char_vec_ = (
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=self.char_ngrams, min_df=self.min_df,
                    sublinear_tf=True, max_features=60000, dtype=np.float32,
                ).fit(texts)
                if self.char_ngrams
                else None
            )
            self.dict_vec_ = DictVectorizer(dtype=np.float32).fit(dicts)
        parts = [self.word_vec_.transform(texts) if fit else word_transform(self.word_vec_, texts)]
        if self.char_vec_ is not None:
            parts.append(self.char_vec_.transform(texts) if fit else char_transform(self.char_vec_, texts))
        parts.append(self.dict_vec_.transform(dicts) * self.cue_weight)
        return sparse.hstack(parts, format="csr")

    def get_feature_names_out(self) -> np.ndarray:
        names = [f"word:{n}" for n in self.word_vec_.get_feature_names_out()]
        if self.char_vec_ is not None:
            names += [f"char:{n}" for n in self.char_vec_.get_feature_names_out()]
        names += list(self.dict_vec_.get_feature_names_out())
        return np.asarray(names, dtype=object)

    # -- fitting --------------------------------------------------------------------------------
    def _base(self) -> LogisticRegression:
        return LogisticRegression(
            C=self.C, class_weight="balanced", solver="liblinear", max_iter=2000, random_state=self.random_state
        )

    def fit(self, X: Sequence[Claim], y: np.ndarray, sample_weight: np.ndarray | None = None) -> ClaimClassifier:
        y = np.asarray(y, dtype=int)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if y.ndim != 2 or y.shape[1] != len(CATEGORIES):
            raise ValueError(f"y must have shape (n, {len(CATEGORIES)})")
        M = self._matrix(X, fit=True)
        self.classes_ = np.asarray(CATEGORIES)
        self.estimators_: list[LogisticRegression | None] = []
        self.calibration_: list[tuple[float, float]] = []
        for j in range(y.shape[1]):
            col = y[:, j]
            if col.min() == col.max():
                self.estimators_.append(None)
                self.calibration_.append((0.0, -10.0 if col.max() == 0 else 10.0))
                continue
            self.calibration_.append(self._platt(M, col, w))
            self.estimators_.append(self._base().fit(M, col, sample_weight=w))
        self.thresholds_ = np.full(len(CATEGORIES), 0.5)
        self.n_features_in_ = M.shape[1]
        # One sparse product scores all categories at once (nine sklearn calls cost more than the math).
        coefs = [est.coef_[0] if est is not None else np.zeros(M.shape[1]) for est in self.estimators_]
        self.coef_ = np.ascontiguousarray(np.vstack(coefs).T, dtype=np.float64)
        self.intercept_ = np.array([est.intercept_[0] if est is not None else 0.0 for est in self.estimators_])
        # stop_words_ is an unordered set kept for introspection only and _stop_words_id a memory address;
        # dropping both (sklearn documents the first) makes the pickle byte-identical run to run.
        for vec in (self.word_vec_, self.char_vec_):
            if vec is not None:
                vec.stop_words_ = None
                vec.__dict__.pop("_stop_words_id", None)
        return self

    def _platt(self, M: sparse.csr_matrix, col: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
        # Out-of-fold decision scores, then a 1-D logistic fit: Platt scaling without leaking the fold.
        folds = min(self.calibration_folds, int(col.sum()), int(len(col) - col.sum()))
        if folds < 2:
            return 1.0, 0.0
        scores = np.zeros(len(col))
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        for tr, te in skf.split(M, col):
            fold_w = None if w is None else w[tr]
            scores[te] = self._base().fit(M[tr], col[tr], sample_weight=fold_w).decision_function(M[te])
        platt = LogisticRegression(C=1e4, solver="lbfgs").fit(scores.reshape(-1, 1), col, sample_weight=w)
        return float(platt.coef_[0, 0]), float(platt.intercept_[0])

    # -- prediction -----------------------------------------------------------------------------
    def decision_function(self, X: Sequence[Claim] | sparse.csr_matrix) -> np.ndarray:
        M = X if sparse.issparse(X) else self._matrix(X)
        return np.asarray(M @ self.coef_) + self.intercept_

    def predict_proba(self, X: Sequence[Claim] | sparse.csr_matrix) -> np.ndarray:
        raw = self.decision_function(X)
        a = np.array([c[0] for c in self.calibration_])
        b = np.array([c[1] for c in self.calibration_])
        return 1.0 / (1.0 + np.exp(-(raw * a + b)))

    def predict(self, X: Sequence[Claim]) -> np.ndarray:
        return (self.predict_proba(X) >= self.thresholds_).astype(int)

    # -- export ---------------------------------------------------------------------------------------
    def to_linear(self) -> LinearClaimModel:
        """The fitted model as plain arrays for the runtime scorer (detector/model/linear.py)."""
        char = self.char_vec_
        return LinearClaimModel(
            LinearConfig(self.word_vec_.token_pattern, tuple(self.word_ngrams),
                         tuple(self.char_ngrams) if self.char_ngrams else None, float(self.cue_weight)),
            {str(k): int(v) for k, v in self.word_vec_.vocabulary_.items()},
            {str(k): int(v) for k, v in char.vocabulary_.items()} if char is not None else {},
            {str(k): int(v) for k, v in self.dict_vec_.vocabulary_.items()},
            word_idf=self.word_vec_.idf_.astype(np.float32),
            char_idf=char.idf_.astype(np.float32) if char is not None else np.zeros(0, dtype=np.float32),
            coef=np.ascontiguousarray(self.coef_, dtype=np.float64),
            intercept=np.asarray(self.intercept_, dtype=np.float64),
            platt=np.asarray(self.calibration_, dtype=np.float64),
            thresholds=np.asarray(self.thresholds_, dtype=np.float64),
        )
