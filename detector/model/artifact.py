"""Saving and loading the trained artifacts; a pickle runs code when loaded, so its hash is checked first."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import joblib
from spacy.language import Language

from detector.digest import sha256_file
from detector.errors import ModelError
from detector.model.classifier import ClaimClassifier
from detector.model.page_model import PageModel
from detector.nlp.pipeline import load_nlp

log = logging.getLogger(__name__)

CLASSIFIER_FILE = "classifier.joblib"
PAGE_MODEL_FILE = "page_model.joblib"
NLP_DIR = "nlp"
METADATA_FILE = "metadata.json"


def _tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass
class ModelBundle:
    """What a check needs: the spaCy pipeline, the classifier and the metadata that vouches for both."""

    nlp: Language
    classifier: ClaimClassifier
    page_model: PageModel
    metadata: dict

    @property
    def sha256(self) -> str:
        return self.metadata["sha256"]


def save_bundle(
    model_dir: Path, nlp: Language, classifier: ClaimClassifier, page_model: PageModel, metadata: dict
) -> dict:
    """Write both models, the pipeline and metadata.json with the hashes a later load will verify."""
    model_dir.mkdir(parents=True, exist_ok=True)
    clf_path = model_dir / CLASSIFIER_FILE
    classifier._names_cache = None
    joblib.dump(classifier, clf_path, compress=3)
    joblib.dump(page_model, model_dir / PAGE_MODEL_FILE, compress=3)
    nlp_path = model_dir / NLP_DIR
    nlp.to_disk(nlp_path)
    meta = dict(metadata)
    meta["sha256"] = sha256_file(clf_path)
    meta["page_model_sha256"] = sha256_file(model_dir / PAGE_MODEL_FILE)
    meta["nlp_sha256"] = _tree_hashes(nlp_path)
    (model_dir / METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


def load_bundle(model_dir: Path) -> ModelBundle:
    """Verify every recorded hash, then load; any mismatch is refused before unpickling."""
    meta_path = model_dir / METADATA_FILE
    clf_path = model_dir / CLASSIFIER_FILE
    if not meta_path.is_file() or not clf_path.is_file():
        raise ModelError(f"{model_dir}: no trained model here (run `stemcheck train`)")
    try:
        meta = json.loads(meta_path.read_text())
        expected = {CLASSIFIER_FILE: meta["sha256"], PAGE_MODEL_FILE: meta["page_model_sha256"]}
        nlp_expected = meta["nlp_sha256"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{meta_path}: unreadable model metadata ({exc.__class__.__name__}: {exc})") from exc
    if not all(isinstance(d, str) and len(d) == 64 for d in expected.values()) or not isinstance(nlp_expected, dict):
        raise ModelError(f"{meta_path}: model metadata does not hold SHA-256 digests where it should")
    for name, digest in expected.items():
        path = model_dir / name
        actual = sha256_file(path) if path.is_file() else "missing"
        if actual != digest:
            raise ModelError(
                f"{path}: SHA-256 {actual[:12]}... does not match the recorded {digest[:12]}...; "
                "refusing to load a model file that may have been altered"
            )
    nlp_path = model_dir / NLP_DIR
    if _tree_hashes(nlp_path) != nlp_expected:
        raise ModelError(f"{nlp_path}: pipeline files do not match the hashes in {meta_path.name}")
    loaded = {}
    for name, kind in ((CLASSIFIER_FILE, ClaimClassifier), (PAGE_MODEL_FILE, PageModel)):
        try:
            obj = joblib.load(model_dir / name)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure becomes one clear error
            raise ModelError(f"{model_dir / name}: cannot load ({exc})") from exc
        if not isinstance(obj, kind):
            raise ModelError(f"{model_dir / name}: holds {type(obj).__name__}, not a {kind.__name__}")
        loaded[name] = obj
    return ModelBundle(
        nlp=load_nlp(nlp_path), classifier=loaded[CLASSIFIER_FILE], page_model=loaded[PAGE_MODEL_FILE], metadata=meta
    )
