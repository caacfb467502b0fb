"""The model bundle on disk: plain arrays and JSON, every file hashed, every hash checked before loading.

Nothing in a bundle is a pickle, so loading one runs no code and does not depend on where classes live in
the package. models/ holds:
- claim_model/: config.json, vocab.json and .npy arrays (coefficients, IDF weights, calibration, thresholds);
- page_model.json: the monotone page model; scoring.json: the scoring rules and word lists;
- nlp/: the spaCy pipeline (to_disk); metadata.json: the SHA-256 of every file above, the bundle's own
  SHA-256 over them all (what verdicts and the results store record), training data hash, versions, scores.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from spacy.language import Language

from detector.digest import sha256_file
from detector.errors import ModelError
from detector.guard import atomic_write, write_text
from detector.model.linear import LinearClaimModel, LinearConfig
from detector.model.page_model import PageModel
from detector.model.rules import ScoringRules
from detector.nlp.pipeline import load_nlp

log = logging.getLogger(__name__)

CLAIM_DIR = "claim_model"
PAGE_MODEL_FILE = "page_model.json"
RULES_FILE = "scoring.json"
NLP_DIR = "nlp"
METADATA_FILE = "metadata.json"
_ARRAYS = ("coef", "intercept", "platt", "thresholds", "word_idf", "char_idf")


@dataclass
class ModelBundle:
    """What a check needs: the spaCy pipeline, the claim scorer, the page model, the scoring rules, and the
    metadata that vouches for all of them."""

    nlp: Language
    claim_model: LinearClaimModel
    page_model: PageModel
    rules: ScoringRules
    metadata: dict

    @property
    def sha256(self) -> str:
        return self.metadata["sha256"]


def _bundle_files(model_dir: Path) -> list[Path]:
    files = [model_dir / PAGE_MODEL_FILE, model_dir / RULES_FILE]
    for sub in (CLAIM_DIR, NLP_DIR):
        root = model_dir / sub
        files += sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    return files


def _manifest(model_dir: Path) -> dict[str, str]:
    return {p.relative_to(model_dir).as_posix(): sha256_file(p) for p in _bundle_files(model_dir) if p.is_file()}


def bundle_digest(files: dict[str, str]) -> str:
    """One SHA-256 over every file's path and hash: the bundle's identity."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}\t{files[name]}\n".encode())
    return h.hexdigest()


def save_bundle(model_dir: Path, nlp: Language, claim_model: LinearClaimModel, page_model: PageModel,
                rules_path: Path, metadata: dict) -> dict:
    """Write every part and metadata.json with the hashes a later load verifies."""
    model_dir.mkdir(parents=True, exist_ok=True)
    claim_dir = model_dir / CLAIM_DIR
    claim_dir.mkdir(exist_ok=True)
    cfg = asdict(claim_model.config)
    write_text(claim_dir / "config.json", json.dumps(cfg, indent=1, sort_keys=True) + "\n")
    vocab = {name: sorted(v, key=v.get) for name, v in (
        ("word", claim_model.word_vocab), ("char", claim_model.char_vocab), ("named", claim_model.dict_vocab))}
    write_text(claim_dir / "vocab.json", json.dumps(vocab, ensure_ascii=False, separators=(",", ":")) + "\n")
    for name in _ARRAYS:
        with atomic_write(claim_dir / f"{name}.npy") as fh:
            np.save(fh, np.ascontiguousarray(getattr(claim_model, name)), allow_pickle=False)
    write_text(model_dir / PAGE_MODEL_FILE, json.dumps(page_model.to_dict(), indent=1) + "\n")
    with atomic_write(model_dir / RULES_FILE) as fh:
        fh.write(rules_path.read_bytes())
    nlp.to_disk(model_dir / NLP_DIR)
    for stale in ("classifier.joblib", "page_model.joblib"):  # the pickles of earlier versions
        (model_dir / stale).unlink(missing_ok=True)
    meta = dict(metadata)
    meta["files"] = _manifest(model_dir)
    meta["sha256"] = bundle_digest(meta["files"])
    # Written last and whole: a training run killed before this line leaves files that no longer match the
    # previous metadata, so loading refuses them (a hash mismatch naming the file), never a mixed bundle.
    write_text(model_dir / METADATA_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({exc.__class__.__name__}: {exc})") from exc


def _claim_model(claim_dir: Path) -> LinearClaimModel:
    cfg = _read_json(claim_dir / "config.json")
    vocab = _read_json(claim_dir / "vocab.json")
    try:
        arrays = {name: np.load(claim_dir / f"{name}.npy", allow_pickle=False) for name in _ARRAYS}
        config = LinearConfig(
            token_pattern=str(cfg["token_pattern"]), word_ngrams=tuple(cfg["word_ngrams"]),  # type: ignore[index]
            char_ngrams=tuple(cfg["char_ngrams"]) if cfg["char_ngrams"] else None,  # type: ignore[index]
            cue_weight=float(cfg["cue_weight"]),  # type: ignore[index]
        )
        maps = {k: {str(t): i for i, t in enumerate(vocab[k])} for k in ("word", "char", "named")}  # type: ignore[index]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{claim_dir}: malformed claim model ({exc.__class__.__name__}: {exc})") from exc
    n = sum(len(m) for m in maps.values())
    if arrays["coef"].shape[0] != n or len(arrays["word_idf"]) != len(maps["word"]) \
            or len(arrays["char_idf"]) != len(maps["char"]):
        raise ModelError(f"{claim_dir}: the arrays do not match the vocabulary ({arrays['coef'].shape[0]} vs {n})")
    return LinearClaimModel(config, maps["word"], maps["char"], maps["named"], **arrays)


def load_bundle(model_dir: Path) -> ModelBundle:
    """Verify every recorded hash, then load; any mismatch, missing or extra file is refused first."""
    meta_path = model_dir / METADATA_FILE
    if not meta_path.is_file() or not (model_dir / CLAIM_DIR).is_dir():
        raise ModelError(f"{model_dir}: no trained model here (run `stemcheck train`)")
    meta = _read_json(meta_path)
    files = meta.get("files") if isinstance(meta, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, str) and len(v) == 64 for v in files.values()):
        raise ModelError(f"{meta_path}: model metadata does not hold SHA-256 digests where it should")
    if meta.get("sha256") != bundle_digest(files):
        raise ModelError(f"{meta_path}: the bundle digest does not match its file list")
    actual = _manifest(model_dir)
    for name, digest in sorted(files.items()):
        found = actual.get(name, "missing")
        if found != digest:
            raise ModelError(f"{model_dir / name}: SHA-256 {found[:12]}... does not match the recorded "
                             f"{digest[:12]}...; refusing to load a model file that may have been altered")
    extra = sorted(set(actual) - set(files))
    if extra:
        raise ModelError(f"{model_dir / extra[0]}: not part of the recorded model; refusing to load")
    page = _read_json(model_dir / PAGE_MODEL_FILE)
    rules = _read_json(model_dir / RULES_FILE)
    if not isinstance(page, dict) or not isinstance(rules, dict):
        raise ModelError(f"{model_dir}: page model or scoring rules are not JSON objects")
    return ModelBundle(nlp=load_nlp(model_dir / NLP_DIR), claim_model=_claim_model(model_dir / CLAIM_DIR),
                       page_model=PageModel.from_dict(page), rules=ScoringRules.from_dict(rules), metadata=meta)
