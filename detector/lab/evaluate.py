"""Evaluation: corpus test split, corpus pages and the real-world dev set, each beside a keyword baseline.

Sentence matching on pages (documented in the README): a flagged sentence matches a labelled one when
their shared words cover at least 60% of the shorter sentence's distinct words (``overlaps``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

from detector.categories import CATEGORIES, RED_FLAGS
from detector.check import Detector
from detector.digest import sha256_file
from detector.errors import CorpusError
from detector.extract import html_to_page, text_to_page
from detector.lab.baseline import keyword_labels
from detector.lab.corpus import load_pages, load_sentences, read_jsonl
from detector.lab.train import overlaps
from detector.records import Page


@dataclass
class LabelledPage:
    """A page with its gold label and gold sentences, from either evaluation source."""

    id: str
    page: Page
    red_flag: bool
    sentences: list[dict]


def _prf(y: np.ndarray, pred: np.ndarray) -> dict:
    out = {}
    for j, cat in enumerate(CATEGORIES):
        p, r, f, _ = precision_recall_fscore_support(y[:, j], pred[:, j], average="binary", zero_division=0)
        out[cat] = {"precision": round(float(p), 3), "recall": round(float(r), 3), "f1": round(float(f), 3),
                    "support": int(y[:, j].sum())}
    idx = [CATEGORIES.index(c) for c in RED_FLAGS]
    p, r, f, _ = precision_recall_fscore_support(y[:, idx], pred[:, idx], average="micro", zero_division=0)
    out["micro_red_flags"] = {"precision": round(float(p), 3), "recall": round(float(r), 3), "f1": round(float(f), 3)}
    return out


def sentence_metrics(detector: Detector, corpus_dir: Path, split: str = "test") -> dict:
    """Per-category P/R/F1 on one split of the sentence corpus, model and keyword baseline."""
    frame = load_sentences(corpus_dir)
    part = frame[frame["split"] == split]
    claims = [detector.extractor.single_claim(t) for t in part["text"]]
    y = part[list(CATEGORIES)].to_numpy(dtype=int)
    pred = detector.bundle.classifier.predict(claims)
    base = np.array([[int(c in keyword_labels(t)) for c in CATEGORIES] for t in part["text"]])
    return {"rows": len(part), "model": _prf(y, pred), "keyword_baseline": _prf(y, base)}


def corpus_eval_pages(corpus_dir: Path, splits: tuple[str, ...] = ("test",)) -> list[LabelledPage]:
    out = []
    for rec in load_pages(corpus_dir):
        if rec.split in splits:
            page = html_to_page(rec.path.read_text(encoding="utf-8"), rec.id)
            out.append(LabelledPage(rec.id, page, rec.red_flag_page, rec.sentences))
    return out


def realworld_pages(path: Path) -> list[LabelledPage]:
    out = []
    for n, row in enumerate(read_jsonl(path), 1):
        try:
            page = text_to_page(row["text"], row["id"])
            out.append(LabelledPage(row["id"], page, bool(row["red_flag_page"]), row.get("sentences", [])))
        except KeyError as exc:
            raise CorpusError(f"{path}: row {n}: missing field {exc}") from exc
    return out


def _baseline_page(page: Page) -> tuple[float, list[str]]:
    flagged, cats = [], set()
    for block in page.blocks:
        labels = [c for c in keyword_labels(block.text) if c in RED_FLAGS]
        if labels:
            flagged.append(block.text)
            cats.update(labels)
    return len(cats) / len(RED_FLAGS), flagged


def page_metrics(detector: Detector, pages: list[LabelledPage], keep_errors: int = 0) -> dict:
    """Page ROC-AUC/AP and sentence-level red-flag precision/recall, model beside keyword baseline."""
    y, scores, base_scores = [], [], []
    tp_pred = n_pred = tp_gold = n_gold = 0
    b_tp_pred = b_n_pred = b_tp_gold = 0
    errors = []
    for lp in pages:
        verdict = detector.check_page(lp.page)
        y.append(int(lp.red_flag))
        scores.append(verdict.risk_score)
        gold = [s["text"] for s in lp.sentences if not s.get("reported") and set(s["categories"]) & set(RED_FLAGS)]
        pred = [c.text for c in verdict.claims if set(c.categories) & set(RED_FLAGS)]
        bscore, bpred = _baseline_page(lp.page)
        base_scores.append(bscore)
        n_gold += len(gold)
        n_pred += len(pred)
        b_n_pred += len(bpred)
        hits = [p for p in pred if any(overlaps(p, g) for g in gold)]
        tp_pred += len(hits)
        tp_gold += sum(1 for g in gold if any(overlaps(p, g) for p in pred))
        b_tp_pred += sum(1 for p in bpred if any(overlaps(p, g) for g in gold))
        b_tp_gold += sum(1 for g in gold if any(overlaps(p, g) for p in bpred))
        if keep_errors:
            errors.append({
                "id": lp.id, "gold": lp.red_flag, "score": verdict.risk_score,
                "false_positives": [p for p in pred if p not in hits],
                "missed": [g for g in gold if not any(overlaps(p, g) for p in pred)],
            })
    ya = np.asarray(y)
    two = len(set(y)) == 2
    result = {
        "pages": len(pages), "red_flag_pages": int(ya.sum()),
        "model": {
            "roc_auc": round(float(roc_auc_score(ya, scores)), 3) if two else None,
            "average_precision": round(float(average_precision_score(ya, scores)), 3) if two else None,
            "sentence_precision": round(tp_pred / max(1, n_pred), 3),
            "sentence_recall": round(tp_gold / max(1, n_gold), 3),
            "flagged_sentences": n_pred, "gold_sentences": n_gold,
        },
        "keyword_baseline": {
            "roc_auc": round(float(roc_auc_score(ya, base_scores)), 3) if two else None,
            "average_precision": round(float(average_precision_score(ya, base_scores)), 3) if two else None,
            "sentence_precision": round(b_tp_pred / max(1, b_n_pred), 3),
            "sentence_recall": round(b_tp_gold / max(1, n_gold), 3),
        },
    }
    if keep_errors:
        errors.sort(key=lambda e: -abs(e["score"] / 100 - e["gold"]))
        result["worst_pages"] = errors[:keep_errors]
    return result


def evaluate(
    detector: Detector, corpus_dir: Path, realworld: Path | None = None, progress: Callable[[str], None] | None = None
) -> dict:
    """All figures in one dict (written as metrics JSON by the CLI)."""
    say = progress or (lambda _m: None)
    say("corpus sentences (test split)")
    metrics: dict = {"corpus_test": sentence_metrics(detector, corpus_dir, "test")}
    say("corpus pages (test split)")
    metrics["corpus_pages"] = page_metrics(detector, corpus_eval_pages(corpus_dir))
    if realworld is not None and realworld.is_file():
        say(f"real-world dev set {realworld}")
        metrics["realworld_dev"] = page_metrics(detector, realworld_pages(realworld))
        metrics["realworld_dev"]["sha256"] = sha256_file(realworld)
    metrics["model_sha256"] = detector.bundle.sha256
    return metrics
