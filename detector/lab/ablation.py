"""Ablations: train variants of the model one choice at a time and print their real-world dev figures.

The model card's ablation table comes from this script. Claim models are cached per variant (the slow part),
so page-model and threshold variants cost seconds. Nothing here tunes on the dev set: each variant is a whole
training run on corpora/, and dev only measures it.

    python -m detector.lab.ablation [--cache DIR] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from detector.check import Detector
from detector.guard import write_text
from detector.lab import train as T
from detector.lab.corpus import corpus_hash
from detector.lab.evaluate import page_metrics, realworld_pages
from detector.lab.page_fit import MonotoneLogistic
from detector.model.artifact import ModelBundle
from detector.model.linear import LinearClaimModel
from detector.model.rules import ScoringRules
from detector.nlp.pipeline import ClaimExtractor, build_nlp
from detector.scoring.page import SIGNS
from detector.settings import REPO_ROOT


@dataclass
class ClaimPart:
    examples: T.Examples
    oof: np.ndarray
    thresholds: np.ndarray
    model: LinearClaimModel


def claim_part(corpus: Path, config: T.TrainConfig, extractor: ClaimExtractor, cache: Path) -> ClaimPart:
    """Examples, out-of-fold scores and the final claim model of one variant (cached by corpus and choices)."""
    key = hashlib.sha256(json.dumps([config.labels, config.realistic, list(config.claim_params),
                                     corpus_hash(corpus)], default=str).encode()).hexdigest()[:16]
    path = cache / f"claim-{key}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())  # noqa: S301 - our own cache, written below
    parts = T.examples(corpus, extractor, config, print)
    params = config.params()
    clf = T.ClaimClassifier(**params).fit(parts["train"].claims, parts["train"].y)
    dev_thresholds = T.choose_thresholds(parts["dev"].y, clf.predict_proba(parts["dev"].claims))
    both = parts["train"].extend(parts["dev"])
    oof = T.out_of_fold(both, clf.get_params())
    final = T.ClaimClassifier(**params).fit(both.claims, both.y)
    final.thresholds_ = dev_thresholds
    part = ClaimPart(both, oof, dev_thresholds, final.to_linear())
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(part))
    return part


def variant(part: ClaimPart, config: T.TrainConfig, rules: ScoringRules,
            base: Detector) -> tuple[Detector, MonotoneLogistic]:
    """A detector with this variant's thresholds and page model over the cached claim model."""
    on_page = np.array([g.startswith(("page:", "real:")) for g in part.examples.groups])
    thresholds = T.choose_thresholds(part.examples.y[on_page], part.oof[on_page], fallback=part.thresholds,
                                     min_positives=15, beta=config.threshold_beta)
    X, y, w = T.page_training_set(part.examples, part.oof, thresholds, rules, config.single_sentence_pages)
    fit = MonotoneLogistic(signs=SIGNS, C=config.page_C).fit(X, y, sample_weight=w)
    model = replace(part.model, thresholds=thresholds)
    det = Detector(ModelBundle(base.bundle.nlp, model, fit.to_page_model(), rules, base.bundle.metadata),
                   base.settings)
    return det, fit


VARIANTS = [
    ("corpus sentences and bundled pages only", T.TrainConfig(realistic=False, single_sentence_pages=0.0)),
    ("+ one-sentence pages for the page model", T.TrainConfig(realistic=False)),
    ("+ realistic pages", T.TrainConfig()),
    ("labels: what a sentence is about (nlp decides made/reported)", T.TrainConfig(labels="about")),
    ("thresholds by F0.5 instead of F1", T.TrainConfig(threshold_beta=0.5)),
    ("no one-sentence pages", T.TrainConfig(single_sentence_pages=0.0)),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO_ROOT / "corpora")
    ap.add_argument("--realworld", type=Path, default=REPO_ROOT.parent / "shared" / "realworld-dev" / "pages.jsonl")
    ap.add_argument("--cache", type=Path, default=Path(".ablation-cache"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    nlp = build_nlp(args.corpus / "lexicons")
    extractor = ClaimExtractor(nlp)
    rules = ScoringRules.load(args.corpus / "lexicons" / "scoring.json")
    base = Detector.load()
    dev = realworld_pages(args.realworld)
    rows = []
    for name, config in VARIANTS:
        det, fit = variant(claim_part(args.corpus, config, extractor, args.cache), config, rules, base)
        m = page_metrics(det, dev)["model"]
        row = {"variant": name, "config": asdict(config), **{k: m[k] for k in (
            "roc_auc", "average_precision", "verdict_precision", "verdict_recall", "sentence_precision",
            "sentence_recall", "flagged_sentences", "newsy_sentence_precision")}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        write_text(args.out, json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
