"""Evaluation: corpus test split, corpus pages and the real-world dev set, each beside a keyword baseline.

Sentence matching on pages (documented in the README): a made red-flag claim matches a labelled sentence
when their shared words cover at least 60% of the shorter sentence's distinct words (``overlaps``) and they
share a red-flag category; reported sentences are not counted.
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
from detector.lab.corpus import load_pages, load_realistic, load_sentences, read_jsonl
from detector.lab.train import overlaps
from detector.records import Page
from detector.scoring.claims import flag_claims


@dataclass
class LabelledPage:
    """A page with its gold label and gold sentences, from either evaluation source."""

    id: str
    page: Page
    red_flag: bool
    sentences: list[dict]
    kind: str = ""


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


@dataclass
class _Scores:
    proba: np.ndarray

    def evidence(self, i: int, category: str) -> list:
        return []


def made_predictions(detector: Detector, claims: list) -> np.ndarray:
    """(claims x categories) 0/1: what the pipeline flags as made by the page (reported red flags are not)."""
    model = detector.bundle.claim_model
    proba = model.predict_proba(claims) if claims else np.zeros((0, len(CATEGORIES)))
    flag_claims(claims, _Scores(proba), model.thresholds, detector.bundle.rules)
    return np.array([[int(c in claim.categories) for c in CATEGORIES] for claim in claims]).reshape(-1, len(CATEGORIES))


def sentence_metrics(detector: Detector, corpus_dir: Path, split: str = "test") -> dict:
    """Per-category P/R/F1 of made claims on one split of the sentence corpus, model and keyword baseline."""
    frame = load_sentences(corpus_dir)
    part = frame[frame["split"] == split]
    claims = [detector.extractor.single_claim(t) for t in part["text"]]
    y = part[list(CATEGORIES)].to_numpy(dtype=int)
    pred = made_predictions(detector, claims)
    base = np.array([[int(c in keyword_labels(t)) for c in CATEGORIES] for t in part["text"]])
    return {"rows": len(part), "model": _prf(y, pred), "keyword_baseline": _prf(y, base)}


def corpus_eval_pages(corpus_dir: Path, splits: tuple[str, ...] = ("test",)) -> list[LabelledPage]:
    """Held-out pages of the corpus: the bundled HTML pages and the realistic pages of the given splits."""
    out = []
    for rec in load_pages(corpus_dir):
        if rec.split in splits:
            page = html_to_page(rec.path.read_text(encoding="utf-8"), rec.id)
            out.append(LabelledPage(rec.id, page, rec.red_flag_page, rec.sentences, rec.kind))
    for real in load_realistic(corpus_dir):
        if real.split in splits:
            out.append(LabelledPage(real.id, text_to_page(real.text, real.id), real.red_flag_page, real.sentences,
                                    real.kind))
    return out


def realworld_pages(path: Path) -> list[LabelledPage]:
    out = []
    for n, row in enumerate(read_jsonl(path), 1):
        try:
            page = text_to_page(row["text"], row["id"])
            out.append(LabelledPage(row["id"], page, bool(row["red_flag_page"]), row.get("sentences", []),
                                    str(row.get("kind", ""))))
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


def sentence_match(pred: list[tuple[str, set[str]]], gold: list[tuple[str, set[str]]]) -> tuple[int, int]:
    """(predicted sentences that are right, gold sentences found): a match overlaps (``overlaps``) and shares
    a red-flag category."""
    right = sum(1 for p, pc in pred if any(overlaps(p, g) and pc & gc for g, gc in gold))
    found = sum(1 for g, gc in gold if any(overlaps(p, g) and pc & gc for p, pc in pred))
    return right, found


NEWSY = ("news", "regulator", "academic", "trial")


def page_metrics(detector: Detector, pages: list[LabelledPage], keep_errors: int = 0, n_boot: int = 0) -> dict:
    """Page ROC-AUC/AP, verdict P/R and sentence P/R of made red-flag claims, model beside keyword baseline.

    With n_boot, 95% bootstrap intervals over pages are added for page AUC and sentence precision/recall.
    Sentence precision is also given for news, regulator, academic and trial pages alone, where made claims
    are rare and reported ones common.
    """
    red = set(RED_FLAGS)
    rows = []
    errors = []
    for lp in pages:
        verdict = detector.check_page(lp.page)
        gold = [(s["text"], set(s["categories"]) & red) for s in lp.sentences
                if not s.get("reported") and set(s["categories"]) & red]
        pred = [(c.text, set(c.made_red_flags)) for c in verdict.claims if c.made_red_flags]
        right, found = sentence_match(pred, gold)
        bscore, bpred_texts = _baseline_page(lp.page)
        bpred = [(t, set(keyword_labels(t)) & red) for t in bpred_texts]
        b_right, b_found = sentence_match(bpred, gold)
        rows.append((int(lp.red_flag), verdict.risk_score, int(verdict.red_flag), right, len(pred), found, len(gold),
                     bscore, b_right, len(bpred), b_found, getattr(lp, "kind", "") in NEWSY))
        if keep_errors:
            hits = {p for p, pc in pred if any(overlaps(p, g) and pc & gc for g, gc in gold)}
            errors.append({
                "id": lp.id, "gold": lp.red_flag, "score": verdict.risk_score,
                "false_positives": [p for p, _ in pred if p not in hits],
                "missed": [g for g, gc in gold if not any(overlaps(p, g) and pc & gc for p, pc in pred)],
            })
    a = np.array(rows, dtype=float).reshape(-1, 12)
    y, score, verdict_red = a[:, 0], a[:, 1], a[:, 2]
    two = len(set(y.tolist())) == 2

    def summary(idx: np.ndarray) -> dict:
        t = a[idx]
        yy = t[:, 0]
        ok = len(set(yy.tolist())) == 2
        return {
            "roc_auc": float(roc_auc_score(yy, t[:, 1])) if ok else float("nan"),
            "sentence_precision": t[:, 3].sum() / max(1, t[:, 4].sum()),
            "sentence_recall": t[:, 5].sum() / max(1, t[:, 6].sum()),
        }

    tp = int(((verdict_red == 1) & (y == 1)).sum())
    newsy = a[a[:, 11] == 1]
    result = {
        "pages": len(pages), "red_flag_pages": int(y.sum()),
        "model": {
            "roc_auc": round(float(roc_auc_score(y, score)), 3) if two else None,
            "average_precision": round(float(average_precision_score(y, score)), 3) if two else None,
            "verdict_precision": round(tp / max(1, int(verdict_red.sum())), 3),
            "verdict_recall": round(tp / max(1, int(y.sum())), 3),
            "sentence_precision": round(a[:, 3].sum() / max(1, a[:, 4].sum()), 3),
            "sentence_recall": round(a[:, 5].sum() / max(1, a[:, 6].sum()), 3),
            "flagged_sentences": int(a[:, 4].sum()), "gold_sentences": int(a[:, 6].sum()),
            "newsy_pages": len(newsy), "newsy_flagged_sentences": int(newsy[:, 4].sum()),
            "newsy_sentence_precision": round(newsy[:, 3].sum() / max(1, newsy[:, 4].sum()), 3),
        },
        "keyword_baseline": {
            "roc_auc": round(float(roc_auc_score(y, a[:, 7])), 3) if two else None,
            "average_precision": round(float(average_precision_score(y, a[:, 7])), 3) if two else None,
            "sentence_precision": round(a[:, 8].sum() / max(1, a[:, 9].sum()), 3),
            "sentence_recall": round(a[:, 10].sum() / max(1, a[:, 6].sum()), 3),
        },
    }
    if n_boot:
        rng = np.random.default_rng(0)
        draws = [summary(rng.integers(0, len(a), len(a))) for _ in range(n_boot)]
        result["model"]["intervals"] = {
            k: [round(float(np.nanquantile([d[k] for d in draws], q)), 3) for q in (0.025, 0.975)]
            for k in ("roc_auc", "sentence_precision", "sentence_recall")
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
        metrics["realworld_dev"] = page_metrics(detector, realworld_pages(realworld), n_boot=1000)
        metrics["realworld_dev"]["sha256"] = sha256_file(realworld)
    metrics["model_sha256"] = detector.bundle.sha256
    return metrics
