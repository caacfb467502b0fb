"""Rebuild models/ from corpora/ deterministically: same corpus and code, same artifact hash."""

from __future__ import annotations

import logging
import platform
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import spacy

from detector.categories import CATEGORIES
from detector.corpus import PageRecord, corpus_hash, load_pages, load_sentences
from detector.extract import html_to_page
from detector.model.artifact import save_bundle
from detector.model.classifier import ClaimClassifier
from detector.nlp.pipeline import ClaimExtractor, build_nlp
from detector.records import Claim

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


def sentence_examples(extractor: ClaimExtractor, frame: pd.DataFrame) -> tuple[list[Claim], np.ndarray]:
    claims = [extractor.single_claim(t) for t in frame["text"]]
    return claims, frame[list(CATEGORIES)].to_numpy(dtype=int)


def page_examples(extractor: ClaimExtractor, pages: list[PageRecord]) -> tuple[list[Claim], np.ndarray]:
    """Every sentence of an annotated page, labelled from its annotation or negative: real page noise."""
    claims: list[Claim] = []
    rows = []
    for rec in pages:
        page = html_to_page(rec.path.read_text(encoding="utf-8"), rec.id)
        for claim in extractor.extract(page):
            labels = set()
            for s in rec.sentences:
                if overlaps(claim.text, s["text"], 0.8) and not s["reported"]:
                    labels.update(s["categories"])
            claims.append(claim)
            rows.append([int(c in labels) for c in CATEGORIES])
    return claims, np.asarray(rows, dtype=int).reshape(-1, len(CATEGORIES))


def choose_thresholds(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-category threshold that maximises F1 on dev; 0.5 where dev has no positives."""
    grid = np.round(np.arange(0.2, 0.91, 0.05), 2)
    out = np.full(y.shape[1], 0.5)
    for j in range(y.shape[1]):
        if y[:, j].sum() == 0:
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
    """Fit on train, pick thresholds on dev, refit on train+dev, save artifacts with metadata."""
    say = progress or (lambda msg: log.info(msg))
    nlp = build_nlp(corpus_dir / "lexicons")
    extractor = ClaimExtractor(nlp)
    frame = load_sentences(corpus_dir)
    pages = load_pages(corpus_dir)
    say(f"corpus: {len(frame)} sentences, {len(pages)} pages")
    parts: dict[str, tuple[list[Claim], np.ndarray]] = {}
    for split in ("train", "dev"):
        sc, sy = sentence_examples(extractor, frame[frame["split"] == split])
        pc, py = page_examples(extractor, [p for p in pages if p.split == split])
        parts[split] = (sc + pc, np.vstack([sy, py]) if len(pc) else sy)
        say(f"{split}: {len(sc)} sentence rows + {len(pc)} page sentences")
    clf = ClaimClassifier(**params).fit(*parts["train"])
    thresholds = choose_thresholds(parts["dev"][1], clf.predict_proba(parts["dev"][0]))
    say("thresholds: " + ", ".join(f"{c}={t:.2f}" for c, t in zip(CATEGORIES, thresholds, strict=True)))
    X = parts["train"][0] + parts["dev"][0]
    y = np.vstack([parts["train"][1], parts["dev"][1]])
    final = ClaimClassifier(**params).fit(X, y)
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
        "training_rows": len(X),
        "positives": dict(zip(CATEGORIES, map(int, y.sum(axis=0)), strict=True)),
    }
    meta["params"]["word_ngrams"] = list(meta["params"]["word_ngrams"])
    if meta["params"]["char_ngrams"] is not None:
        meta["params"]["char_ngrams"] = list(meta["params"]["char_ngrams"])
    return save_bundle(model_dir, nlp, final, meta)
