"""Rebuild models/ from corpora/ deterministically: same corpus and code, same artifact hash."""

from __future__ import annotations

import copy
import logging
import platform
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import spacy
from sklearn.model_selection import GroupKFold

from detector.categories import CATEGORIES, RED_FLAGS
from detector.extract import html_to_page, text_to_page
from detector.lab.classifier import ClaimClassifier
from detector.lab.corpus import PageRecord, RealisticPage, corpus_hash, load_pages, load_realistic, load_sentences
from detector.lab.page_fit import MonotoneLogistic
from detector.model.artifact import save_bundle
from detector.model.rules import ScoringRules
from detector.nlp.pipeline import ClaimExtractor, build_nlp
from detector.records import Claim
from detector.scoring.claims import flag_claims
from detector.scoring.page import SIGNS, page_features

log = logging.getLogger(__name__)
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def overlaps(a: str, b: str, min_overlap: float = 0.6) -> bool:
    """Two sentences match when their shared words cover most of the shorter one (the documented rule)."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return False
    sa, sb = set(wa), set(wb)
    return len(sa & sb) / min(len(sa), len(sb)) >= min_overlap


@dataclass
class Examples:
    """Training claims with their label rows and the page (or corpus document) each belongs to."""

    claims: list[Claim] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    page_labels: dict[str, int] = field(default_factory=dict)
    row_ids: list[str] = field(default_factory=list)  # corpus row id, or "" for page sentences
    weights: list[float] = field(default_factory=list)  # per claim, for the claim model

    @property
    def y(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=int).reshape(-1, len(CATEGORIES))

    def extend(self, other: Examples) -> Examples:
        out = Examples(self.claims + other.claims, self.labels + other.labels, self.groups + other.groups)
        out.page_labels = {**self.page_labels, **other.page_labels}
        out.row_ids = self.row_ids + other.row_ids
        out.weights = self.weight_list() + other.weight_list()
        return out

    def weight_list(self) -> list[float]:
        return self.weights if len(self.weights) == len(self.claims) else [1.0] * len(self.claims)

    @property
    def w(self) -> np.ndarray:
        return np.asarray(self.weight_list(), dtype=float)


@dataclass(frozen=True)
class TrainConfig:
    """What a training run is made of; the model card's ablations vary these one at a time.

    labels: "made" teaches a reported sentence no category (the classifier itself learns that quoted or
    attributed claims are not the page's); "about" teaches the categories a sentence talks about, leaving
    made-versus-reported to the nlp stage alone.
    """

    labels: str = "made"
    realistic: bool = True
    single_sentence_pages: float = 0.05  # weight of each corpus row as a one-sentence page (0 = none)
    page_C: float = 1.0
    threshold_beta: float = 1.0  # per-category thresholds maximise F-beta on out-of-fold page sentences
    realistic_weight: float = 1.0  # weight of a realistic page's sentence in the claim model
    claim_params: tuple[tuple[str, object], ...] = ()

    def params(self) -> dict:
        return dict(self.claim_params)


def _row_labels(categories: set[str], reported: set[str], mode: str) -> list[int]:
    keep = categories | (reported if mode == "about" else set())
    return [int(c in keep) for c in CATEGORIES]


def sentence_examples(extractor: ClaimExtractor, frame: pd.DataFrame, mode: str = "made") -> Examples:
    """Corpus rows; each corpus document also stands as a small page for the page model."""
    ex = Examples()
    red = list(RED_FLAGS)
    for row in frame.itertuples(index=False):
        ex.claims.append(extractor.single_claim(row.text))
        ex.labels.append(_row_labels(set(row.labels), set(row.reported_categories), mode))
        ex.groups.append(f"doc:{row.doc}")
        ex.row_ids.append(str(row.id))
        ex.page_labels[f"one:{row.id}"] = int(any(c in RED_FLAGS for c in row.labels))
    for doc, part in frame.groupby("doc"):
        ex.page_labels[f"doc:{doc}"] = int(part[red].to_numpy().sum() > 0)
    return ex


def _page_claims(ex: Examples, key: str, claims: list[Claim], sentences: list[dict], mode: str) -> None:
    """Every sentence of an annotated page, labelled from its annotation or negative: real page noise."""
    for claim in claims:
        cats: set[str] = set()
        reported: set[str] = set()
        for s in sentences:
            if overlaps(claim.text, s["text"], 0.8):
                (reported if s["reported"] else cats).update(s["categories"])
        ex.claims.append(claim)
        ex.labels.append(_row_labels(cats, reported, mode))
        ex.groups.append(key)
        ex.row_ids.append("")


def page_examples(extractor: ClaimExtractor, pages: list[PageRecord], mode: str = "made") -> Examples:
    """The bundled HTML pages (corpora/pages)."""
    ex = Examples()
    for rec in pages:
        page = html_to_page(rec.path.read_text(encoding="utf-8"), rec.id)
        key = f"page:{rec.id}"
        ex.page_labels[key] = int(rec.red_flag_page)
        _page_claims(ex, key, extractor.extract(page), rec.sentences, mode)
    return ex


def realistic_examples(extractor: ClaimExtractor, pages: list[RealisticPage], mode: str = "made",
                       weight: float = 1.0) -> Examples:
    """Pages rewritten from real ones (corpora/realistic): the register the detector meets on the web."""
    ex = Examples()
    for rec in pages:
        key = f"real:{rec.id}"
        ex.page_labels[key] = int(rec.red_flag_page)
        _page_claims(ex, key, extractor.extract(text_to_page(rec.text, rec.id)), rec.sentences, mode)
    ex.weights = [weight] * len(ex.claims)
    return ex


@dataclass
class _NoEvidence:
    """ClaimScores for training: out-of-fold probabilities, no evidence (the page model needs none)."""

    proba: np.ndarray

    def evidence(self, i: int, category: str) -> list:
        return []


def page_training_set(ex: Examples, proba: np.ndarray, thresholds: np.ndarray, rules: ScoringRules,
                      single_weight: float = 0.0) -> tuple[list[dict], list[int], list[float]]:
    """Page features from out-of-fold claim scores, exactly as score_page computes them at run time.

    With single_weight > 0 each corpus row also stands as a one-sentence page (label: it makes a red-flag
    claim), so the page model learns what a pasted sentence deserves.
    """
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(ex.groups):
        by_group.setdefault(g, []).append(i)
    X, y, w = [], [], []
    for g, idx in by_group.items():
        claims = [copy.copy(ex.claims[i]) for i in idx]
        flag_claims(claims, _NoEvidence(proba[idx]), thresholds, rules)
        X.append(page_features(claims, rules))
        y.append(ex.page_labels[g])
        w.append(1.0)
    if single_weight > 0:
        for i, row_id in enumerate(ex.row_ids):
            if not row_id:
                continue
            claim = copy.copy(ex.claims[i])
            flag_claims([claim], _NoEvidence(proba[i : i + 1]), thresholds, rules)
            X.append(page_features([claim], rules))
            y.append(ex.page_labels[f"one:{row_id}"])
            w.append(single_weight)
    return X, y, w


def out_of_fold(ex: Examples, params: dict, folds: int = 5) -> np.ndarray:
    """Claim probabilities from models that never saw the claim's page or document."""
    proba = np.zeros((len(ex.claims), len(CATEGORIES)))
    y = ex.y
    w = ex.w
    for tr, te in GroupKFold(n_splits=folds).split(ex.claims, groups=ex.groups):
        model = ClaimClassifier(**params).fit([ex.claims[i] for i in tr], y[tr], w[tr])
        proba[te] = model.predict_proba([ex.claims[i] for i in te])
    return proba


def choose_thresholds(
    y: np.ndarray, proba: np.ndarray, fallback: np.ndarray | None = None, min_positives: int = 1,
    beta: float = 1.0,
) -> np.ndarray:
    """Per-category threshold that maximises F-beta (beta < 1 weighs precision more); the fallback where a
    category has too few positives."""
    grid = np.round(np.arange(0.2, 0.91, 0.05), 2)
    out = np.full(y.shape[1], 0.5) if fallback is None else np.array(fallback, dtype=float)
    for j in range(y.shape[1]):
        if y[:, j].sum() < min_positives:
            continue
        best = -1.0
        b2 = beta * beta
        for t in grid:
            pred = proba[:, j] >= t
            tp = int((pred & (y[:, j] == 1)).sum())
            score = (1 + b2) * tp / max(1, pred.sum() + b2 * y[:, j].sum())
            if score > best + 1e-9:
                best, out[j] = score, t
    return out


def git_commit(repo: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class Fitted:
    """A training run's parts before they are saved: examples, out-of-fold scores, both models."""

    examples: Examples
    oof: np.ndarray
    thresholds: np.ndarray
    classifier: ClaimClassifier
    page_fit: MonotoneLogistic
    page_rows: int


def examples(corpus_dir: Path, extractor: ClaimExtractor, config: TrainConfig,
             say: Callable[[str], None]) -> dict[str, Examples]:
    """Train and dev examples from every part of the corpus (the test split stays out)."""
    frame = load_sentences(corpus_dir)
    pages = load_pages(corpus_dir)
    real = load_realistic(corpus_dir) if config.realistic else []
    say(f"corpus: {len(frame)} sentences, {len(pages)} pages, {len(real)} realistic pages")
    parts: dict[str, Examples] = {}
    for split in ("train", "dev"):
        sent = sentence_examples(extractor, frame[frame["split"] == split], config.labels)
        page = page_examples(extractor, [p for p in pages if p.split == split], config.labels)
        rp = realistic_examples(extractor, [p for p in real if p.split == split], config.labels,
                                config.realistic_weight)
        parts[split] = sent.extend(page).extend(rp)
        say(f"{split}: {len(sent.claims)} sentence rows + {len(page.claims)} page sentences + "
            f"{len(rp.claims)} realistic page sentences")
    return parts


def fit(parts: dict[str, Examples], rules: ScoringRules, config: TrainConfig,
        say: Callable[[str], None]) -> Fitted:
    """Claim model, thresholds and page model, the last two from out-of-fold scores."""
    params = config.params()
    clf = ClaimClassifier(**params).fit(parts["train"].claims, parts["train"].y, parts["train"].w)
    dev_thresholds = choose_thresholds(parts["dev"].y, clf.predict_proba(parts["dev"].claims))
    both = parts["train"].extend(parts["dev"])
    say("out-of-fold claim scores (5 folds by page/document)")
    oof = out_of_fold(both, clf.get_params())
    # Corpus documents are dense with claims; whole annotated pages have the sentence mix of real pages
    # (mostly filler), so thresholds come from out-of-fold scores on page sentences where they suffice.
    on_page = np.array([g.startswith(("page:", "real:")) for g in both.groups])
    thresholds = choose_thresholds(both.y[on_page], oof[on_page], fallback=dev_thresholds, min_positives=15,
                                   beta=config.threshold_beta)
    say("thresholds: " + ", ".join(f"{c}={t:.2f}" for c, t in zip(CATEGORIES, thresholds, strict=True)))
    page_X, page_y, page_w = page_training_set(both, oof, thresholds, rules, config.single_sentence_pages)
    page_fit = MonotoneLogistic(signs=SIGNS, C=config.page_C).fit(page_X, page_y, sample_weight=page_w)
    say(f"page model: {len(page_y)} pages, documents and sentences; {sum(page_y)} red-flag")
    final = ClaimClassifier(**params).fit(both.claims, both.y, both.w)
    final.thresholds_ = thresholds
    return Fitted(both, oof, thresholds, final, page_fit, len(page_y))


def train(corpus_dir: Path, model_dir: Path, progress: Callable[[str], None] | None = None,
          config: TrainConfig | None = None) -> dict:
    """Fit on train and dev, stack the page model on out-of-fold scores, save the bundle."""
    say = progress or (lambda msg: log.info(msg))
    config = config or TrainConfig()
    nlp = build_nlp(corpus_dir / "lexicons")
    rules_path = corpus_dir / "lexicons" / "scoring.json"
    rules = ScoringRules.load(rules_path)
    fitted = fit(examples(corpus_dir, ClaimExtractor(nlp), config, say), rules, config, say)
    final, page_fit, both = fitted.classifier, fitted.page_fit, fitted.examples
    meta = {
        "corpus_sha256": corpus_hash(corpus_dir),
        "git_commit": git_commit(corpus_dir.parent),
        "versions": {
            "python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "spacy": spacy.__version__, "numpy": np.__version__,
        },
        "config": {"labels": config.labels, "realistic": config.realistic,
                   "single_sentence_pages": config.single_sentence_pages, "page_C": config.page_C,
                   "threshold_beta": config.threshold_beta, "realistic_weight": config.realistic_weight},
        "params": final.get_params(),
        "thresholds": dict(zip(CATEGORIES, map(float, fitted.thresholds), strict=True)),
        "training_rows": len(both.claims),
        "positives": dict(zip(CATEGORIES, map(int, both.y.sum(axis=0)), strict=True)),
        "page_model": {"training_rows": fitted.page_rows, "weights": page_fit.weights(),
                       "temperature": round(page_fit.temperature_, 4)},
    }
    meta["params"]["word_ngrams"] = list(meta["params"]["word_ngrams"])
    if meta["params"]["char_ngrams"] is not None:
        meta["params"]["char_ngrams"] = list(meta["params"]["char_ngrams"])
    return save_bundle(model_dir, nlp, final.to_linear(), page_fit.to_page_model(), rules_path, meta)
