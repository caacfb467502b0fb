"""The runtime claim model: TF-IDF words and characters plus named nlp features, one calibrated linear model
per category, scored with numpy from exported arrays.

Training (detector/lab/classifier.py) fits it with scikit-learn and exports plain arrays; loading those
runs no code (unlike a pickle) and needs neither scikit-learn nor scipy, and a test proves the scores equal
scikit-learn's. Every score can be explained: the words that pushed it up, with their offsets.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from detector.categories import CATEGORIES
from detector.model.features import claim_features
from detector.records import Claim, Evidence

_SPAN = re.compile(r"\S+")
_EDGE = re.compile(r"^[^\w$%]+|[^\w%]+$")
EVIDENCE_WORDS = 4
MIN_CONTRIBUTION = 0.02


def char_wb_grams(word: str, lo: int, hi: int) -> list[str]:
    """Character n-grams of one whitespace-separated word by sklearn's `char_wb` rule, so the lab and the
    runtime build the same columns."""
    w = f" {word} "
    grams: list[str] = []
    for n in range(lo, hi + 1):
        if len(w) <= n:  # sklearn counts a word no longer than n once, then stops
            grams.append(w[:n])
            break
        grams.extend(w[i : i + n] for i in range(len(w) - n + 1))
    return grams


@dataclass
class LinearConfig:
    """How text becomes features; must match the vectorizers the model was trained with."""

    token_pattern: str = r"(?u)\b\w[\w'%$-]*\b"
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] | None = (3, 4)
    cue_weight: float = 1.0


@dataclass
class LinearClaimModel:
    """Scores claims for the nine categories (the ClaimScorer protocol) from plain arrays."""

    config: LinearConfig
    word_vocab: dict[str, int]
    char_vocab: dict[str, int]
    dict_vocab: dict[str, int]
    word_idf: np.ndarray
    char_idf: np.ndarray
    coef: np.ndarray  # (n_features, n_categories): word block, then char block, then named features
    intercept: np.ndarray
    platt: np.ndarray  # (n_categories, 2): slope and intercept on the raw decision value
    thresholds: np.ndarray
    _token: re.Pattern = field(init=False, repr=False)
    _gram_cache: dict[str, list[int]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._token = re.compile(self.config.token_pattern)
        self._n_word = len(self.word_vocab)
        self._n_char = len(self.char_vocab)

    # -- features -----------------------------------------------------------------------------------
    def _word_ids(self, text: str) -> list[int]:
        """The vocabulary columns of every word n-gram of a lower-cased text, repeats included."""
        tokens = self._token.findall(text)
        lo, hi = self.config.word_ngrams
        vocab = self.word_vocab
        ids: list[int] = []
        for n in range(lo, hi + 1):
            grams = tokens if n == 1 else [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
            ids.extend(col for g in grams if (col := vocab.get(g)) is not None)
        return ids

    def _word_grams(self, word: str) -> list[int]:
        """Char n-gram columns of one whitespace-separated word (sklearn's char_wb rule), cached per word."""
        ids = self._gram_cache.get(word)
        if ids is None:
            lo, hi = self.config.char_ngrams or (0, -1)
            grams = char_wb_grams(word, lo, hi)
            vocab = self.char_vocab
            ids = [vocab[g] for g in grams if g in vocab]
            if len(self._gram_cache) > 200_000:
                self._gram_cache.clear()
            self._gram_cache[word] = ids
        return ids

    def _char_ids(self, text: str) -> list[int]:
        """The char n-gram columns of a lower-cased text, word by word from the cache, repeats included."""
        if self.config.char_ngrams is None:
            return []
        ids: list[int] = []
        for word in text.split():  # str.split() and re's \s agree on what whitespace is
            ids.extend(self._word_grams(word))
        return ids

    @staticmethod
    def _tfidf(ids: list[int], lens: list[int], idf: np.ndarray, offset: int,
               n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """sklearn's sublinear TF-IDF with per-row L2 norm, for every row of a batch in a few numpy calls.

        `ids` holds every row's columns with repeats, `lens` how many belong to each row. The arithmetic is
        the per-row one (float32 values, a float64 norm cast to float32), so a claim gets the same numbers
        whether it is scored alone or among thousands.
        """
        width = len(idf) + 1
        keys = np.repeat(np.arange(n, dtype=np.int64), lens) * width + np.array(ids, dtype=np.int64)
        uniq, tf = np.unique(keys, return_counts=True)
        r, c = uniq // width, uniq % width
        vals = (np.log(tf.astype(np.float32)) + np.float32(1)) * idf[c]
        v64 = vals.astype(np.float64)
        norm = np.sqrt(np.bincount(r, weights=v64 * v64, minlength=n)).astype(np.float32)
        norm[norm == 0] = 1
        return r, c + offset, (vals / norm[r]).astype(np.float32)

    def matrix(self, claims: Sequence[Claim]) -> FeatureRows:
        """The batch's feature matrix as CSR-like arrays: one Python pass over the claims' words, then numpy."""
        n = len(claims)
        w_ids: list[int] = []
        w_len: list[int] = []
        c_ids: list[int] = []
        c_len: list[int] = []
        dr: list[int] = []
        dc: list[int] = []
        dv: list[float] = []
        vocab = self.dict_vocab
        for i, claim in enumerate(claims):
            text = claim.text.lower()
            ids = self._word_ids(text)
            w_ids += ids
            w_len.append(len(ids))
            ids = self._char_ids(text)
            c_ids += ids
            c_len.append(len(ids))
            for k, v in claim_features(claim).items():
                col = vocab.get(k)
                if col is not None:
                    dr.append(i)
                    dc.append(col)
                    dv.append(v)
        parts = [self._tfidf(w_ids, w_len, self.word_idf, 0, n),
                 self._tfidf(c_ids, c_len, self.char_idf, self._n_word, n),
                 (np.array(dr, dtype=np.int64), np.array(dc, dtype=np.int64) + self._n_word + self._n_char,
                  (np.array(dv, dtype=np.float64) * self.config.cue_weight).astype(np.float32))]
        rows = np.concatenate([p[0] for p in parts])
        order = np.argsort(rows, kind="stable")  # word, char, named columns of a claim stay in that order
        cols = np.concatenate([p[1] for p in parts])[order]
        vals = np.concatenate([p[2] for p in parts])[order]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
        return FeatureRows(indptr, rows[order], cols, vals)

    def row(self, claim: Claim) -> tuple[np.ndarray, np.ndarray]:
        """One claim's non-zero feature columns and values."""
        m = self.matrix([claim])
        return m.cols, m.vals

    # -- scoring ------------------------------------------------------------------------------------
    def decision(self, m: FeatureRows) -> np.ndarray:
        """Raw decision values: each row a sum over its own non-zeros only, so batching never changes them."""
        n = len(m.indptr) - 1
        out = np.tile(self.intercept, (n, 1)).astype(np.float64)
        if len(m.cols):
            contrib = np.vstack([self.coef[m.cols] * m.vals.astype(np.float64)[:, None], np.zeros((1, out.shape[1]))])
            sums = np.add.reduceat(contrib, np.minimum(m.indptr[:-1], len(m.cols)), axis=0)
            filled = m.indptr[1:] > m.indptr[:-1]  # reduceat gives an empty row its next entry, not 0
            out[filled] += sums[filled]
        return out

    def proba_from_decision(self, raw: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(raw * self.platt[:, 0] + self.platt[:, 1])))

    def score(self, claims: Sequence[Claim]) -> LinearScores:
        """One feature matrix and one product for any number of claims (a page, or a scan's batch of pages)."""
        m = self.matrix(claims)
        return LinearScores(self, list(claims), m, self.proba_from_decision(self.decision(m)))

    def predict_proba(self, claims: Sequence[Claim]) -> np.ndarray:
        return self.score(claims).proba

    # -- evidence -----------------------------------------------------------------------------------
    def word_evidence(self, claim: Claim, cols: np.ndarray, vals: np.ndarray, category: str,
                      k: int = EVIDENCE_WORDS) -> list[Evidence]:
        """The k words of the claim that raised this category's score most, with their character offsets.

        Word n-grams and character n-grams both count toward the word they sit in (a bigram half to each
        of its words), so the evidence names words a reader can find, not n-grams.
        """
        j = CATEGORIES.index(category)
        contrib = dict(zip(cols.tolist(), (vals.astype(np.float64) * self.coef[cols, j]).tolist(), strict=True))
        text = claim.text
        spans = [(m.start(), m.end(), m.group(0)) for m in _SPAN.finditer(text)]
        weight = [0.0] * len(spans)
        starts = [s for s, _e, _w in spans]

        def owner(pos: int) -> int:
            lo, hi = 0, len(starts) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if starts[mid] <= pos:
                    lo = mid
                else:
                    hi = mid - 1
            return lo

        tokens = [(m.start(), m.group(0).lower()) for m in self._token.finditer(text)]
        lo_n, hi_n = self.config.word_ngrams
        for n in range(lo_n, hi_n + 1):
            for i in range(len(tokens) - n + 1):
                term = tokens[i][1] if n == 1 else " ".join(t for _p, t in tokens[i : i + n])
                col = self.word_vocab.get(term)
                if col is None or col not in contrib:
                    continue
                share = contrib.pop(col) / n  # once per column: repeated terms carry one tf-idf value
                for _pos, _t in tokens[i : i + n]:
                    weight[owner(_pos)] += share
        offset = self._n_word
        word_cols = [self._word_grams(w.lower()) for _s, _e, w in spans]
        uses = Counter(c for cols_w in word_cols for c in cols_w)
        for w_i, cols_w in enumerate(word_cols):
            for col in cols_w:
                if col + offset in contrib:  # a gram's one value is shared by its occurrences
                    weight[w_i] += contrib[col + offset] / uses[col]
        order = sorted(range(len(spans)), key=lambda i: -weight[i])
        out = []
        for i in order[:k]:
            if weight[i] < MIN_CONTRIBUTION:
                break
            s, e, word = spans[i]
            m = _EDGE.sub("", word)
            if not m:
                continue
            s += word.find(m)
            out.append(Evidence("model", m, s, s + len(m), label="words", category=category,
                                weight=round(weight[i], 3)))
        return sorted(out, key=lambda ev: ev.start or 0)


@dataclass
class FeatureRows:
    """A batch's sparse feature matrix: row i holds cols/vals[indptr[i]:indptr[i + 1]] (rows: each entry's row)."""

    indptr: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray


@dataclass
class LinearScores:
    """The ClaimScores of one call: probabilities now, evidence only for the claims that are shown."""

    model: LinearClaimModel
    claims: list[Claim]
    matrix: FeatureRows
    proba: np.ndarray

    def evidence(self, i: int, category: str) -> list[Evidence]:
        a, b = self.matrix.indptr[i], self.matrix.indptr[i + 1]
        return self.model.word_evidence(self.claims[i], self.matrix.cols[a:b], self.matrix.vals[a:b], category)
