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
from detector.extract import html_to_page
from detector.lab.corpus import PageRecord, corpus_hash, load_pages, load_sentences
from detector.model.artifact import save_bundle
from detector.model.classifier import ClaimClassifier
from detector.model.page_model import PageModel
from detector.nlp.pipeline import ClaimExtractor, build_nlp
from detector.records import Claim
from detector.scoring.page import assign_categories, mark_condition_lists, page_features

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

    @property
    def y(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=int).reshape(-1, len(CATEGORIES))

    def extend(self, other: Examples) -> Examples:
        out = Examples(self.claims + other.claims, self.labels + other.labels, self.groups + other.groups)
        out.page_labels = {**self.page_labels, **other.page_labels}
        return out


def sentence_examples(extractor: ClaimExtractor, frame: pd.DataFrame) -> Examples:
    """Corpus rows; each corpus document also stands as a small page for the page model."""
    ex = Examples()
    red = list(RED_FLAGS)
    for row in frame.itertuples(index=False):
        ex.claims.append(extractor.single_claim(row.text))
        ex.labels.append([int(getattr(row, c)) for c in CATEGORIES])
        ex.groups.append(f"doc:{row.doc}")
    for doc, part in frame.groupby("doc"):
        ex.page_labels[f"doc:{doc}"] = int(part[red].to_numpy().sum() > 0)
    return ex


def page_examples(extractor: ClaimExtractor, pages: list[PageRecord]) -> Examples:
    """Every sentence of an annotated page, labelled from its annotation or negative: real page noise."""
    ex = Examples()
    for rec in pages:
        page = html_to_page(rec.path.read_text(encoding="utf-8"), rec.id)
        key = f"page:{rec.id}"
        ex.page_labels[key] = int(rec.red_flag_page)
        for claim in extractor.extract(page):
            labels = set()
            for s in rec.sentences:
                if overlaps(claim.text, s["text"], 0.8) and not s["reported"]:
                    labels.update(s["categories"])
            ex.claims.append(claim)
            ex.labels.append([int(c in labels) for c in CATEGORIES])
            ex.groups.append(key)
    return ex


def page_training_set(ex: Examples, proba: np.ndarray, thresholds: np.ndarray) -> tuple[list[dict], list[int]]:
    """Page features from out-of-fold claim scores, exactly as score_page computes them at run time."""
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(ex.groups):
        by_group.setdefault(g, []).append(i)
    X, y = [], []
    for g, idx in by_group.items():
        claims = [copy.copy(ex.claims[i]) for i in idx]
        assign_categories(claims, proba[idx], thresholds)
        mark_condition_lists(claims)
        X.append(page_features(claims))
        y.append(ex.page_labels[g])
    return X, y


def out_of_fold(ex: Examples, params: dict, folds: int = 5) -> np.ndarray:
    """Claim probabilities from models that never saw the claim's page or document."""
    proba = np.zeros((len(ex.claims), len(CATEGORIES)))
    y = ex.y
    for tr, te in GroupKFold(n_splits=folds).split(ex.claims, groups=ex.groups):
        model = ClaimClassifier(**params).fit([ex.claims[i] for i in tr], y[tr])
        proba[te] = model.predict_proba([ex.claims[i] for i in te])
    return proba


def choose_thresholds(
    y: np.ndarray, proba: np.ndarray, fallback: np.ndarray | None = None, min_positives: int = 1
) -> np.ndarray:
    """Per-category threshold that maximises F1; the fallback where a category has too few positives."""
    grid = np.round(np.arange(0.2, 0.91, 0.05), 2)
    out = np.full(y.shape[1], 0.5) if fallback is None else np.array(fallback, dtype=float)
    for j in range(y.shape[1]):
        if y[:, j].sum() < min_positives:
            continue
        best = -1.0
        for t in grid:
            pred = proba[:, j] >= t
            tp = int((pred & (y[:, j] == 1)).sum())
            f1 = 2 * tp / max(1, pred.sum() + y[:, j].sum())
            if f1 > best + 1e-9:
                best, out[j] = f1, t
    return out


def git_commit(repo: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def train(
    corpus_dir: Path, model_dir: Path, progress: Callable[[str], None] | None = None, **params: object
) -> dict:
    """Fit on train, pick thresholds on dev, stack the page model on out-of-fold scores, save all."""
    say = progress or (lambda msg: log.info(msg))
    nlp = build_nlp(corpus_dir / "lexicons")
    extractor = ClaimExtractor(nlp)
    frame = load_sentences(corpus_dir)
    pages = load_pages(corpus_dir)
    say(f"corpus: {len(frame)} sentences, {len(pages)} pages")
    parts: dict[str, Examples] = {}
    for split in ("train", "dev"):
        sent = sentence_examples(extractor, frame[frame["split"] == split])
        page = page_examples(extractor, [p for p in pages if p.split == split])
        parts[split] = sent.extend(page)
        say(f"{split}: {len(sent.claims)} sentence rows + {len(page.claims)} page sentences")
    clf = ClaimClassifier(**params).fit(parts["train"].claims, parts["train"].y)
    dev_thresholds = choose_thresholds(parts["dev"].y, clf.predict_proba(parts["dev"].claims))
    both = parts["train"].extend(parts["dev"])
    say("out-of-fold claim scores (5 folds by page/document)")
    oof = out_of_fold(both, clf.get_params())
    # Corpus documents are dense with claims; whole annotated pages have the sentence mix of real pages
    # (mostly filler), so thresholds come from out-of-fold scores on page sentences where they suffice.
    on_page = np.array([g.startswith("page:") for g in both.groups])
    thresholds = choose_thresholds(both.y[on_page], oof[on_page], fallback=dev_thresholds, min_positives=15)
    say("thresholds: " + ", ".join(f"{c}={t:.2f}" for c, t in zip(CATEGORIES, thresholds, strict=True)))
    page_X, page_y = page_training_set(both, oof, thresholds)
    page_model = PageModel().fit(page_X, page_y)
    say(f"page model: {len(page_y)} pages/documents, {sum(page_y)} red-flag")
    final = ClaimClassifier(**params).fit(both.claims, both.y)
    final.thresholds_ = thresholds
    meta = {
        "corpus_sha256": corpus_hash(corpus_dir),
        "git_commit": git_commit(corpus_dir.parent),
        "versions": {
            "python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "spacy": spacy.__version__, "numpy": np.__version__,
        },
        "params": final.get_params(),
        "thresholds": dict(zip(CATEGORIES, map(float, thresholds), strict=True)),
        "training_rows": len(both.claims),
        "positives": dict(zip(CATEGORIES, map(int, both.y.sum(axis=0)), strict=True)),
        "page_model": {"training_pages": len(page_y), "red_flag": int(sum(page_y)), "weights": page_model.weights()},
    }
    meta["params"]["word_ngrams"] = list(meta["params"]["word_ngrams"])
    if meta["params"]["char_ngrams"] is not None:
        meta["params"]["char_ngrams"] = list(meta["params"]["char_ngrams"])
    return save_bundle(model_dir, nlp, final, page_model, meta)
