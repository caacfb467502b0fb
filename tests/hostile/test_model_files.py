"""Model files are refused when they are not exactly what training wrote: a changed byte, a planted pickle,
an extra or missing file, or edited metadata. The bundle holds no pickle at all, and arrays are read with
allow_pickle=False, so even a pickle with matching hashes cannot run. Everything works on a copy of models/.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil

import numpy as np
import pytest

from detector.digest import sha256_file
from detector.errors import ModelError
from detector.model.artifact import CLAIM_DIR, METADATA_FILE, PAGE_MODEL_FILE, RULES_FILE, bundle_digest, load_bundle
from tests.conftest import ROOT


@pytest.fixture
def models(tmp_path):
    dest = tmp_path / "models"
    shutil.copytree(ROOT / "models", dest)
    return dest


class Planted:
    """Unpickling this writes a marker directory: the proof that a pickle ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def _meta(models) -> dict:  # noqa: ANN001
    return json.loads((models / METADATA_FILE).read_text())


def _rehash(models) -> None:  # noqa: ANN001
    """What a careful attacker does: record the new hashes so the files look vouched for."""
    meta = _meta(models)
    meta["files"] = {name: sha256_file(models / name) for name in meta["files"]}
    meta["sha256"] = bundle_digest(meta["files"])
    (models / METADATA_FILE).write_text(json.dumps(meta))


BUNDLE_FILES = [f"{CLAIM_DIR}/coef.npy", f"{CLAIM_DIR}/vocab.json", f"{CLAIM_DIR}/config.json", PAGE_MODEL_FILE,
                RULES_FILE]


def test_the_bundle_holds_no_pickle():
    names = _meta(ROOT / "models")["files"]
    assert not [n for n in names if n.endswith((".pkl", ".pickle", ".joblib"))]


@pytest.mark.parametrize("name", BUNDLE_FILES)
@pytest.mark.parametrize("where", [0, 0.5, -1])
def test_flipped_byte_refused(models, name, where):
    path = models / name
    data = bytearray(path.read_bytes())
    data[int(len(data) * where) if where else 0] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match"):
        load_bundle(models)


def test_planted_pickle_refused_by_hash(models, tmp_path):
    marker = tmp_path / "pwned"
    (models / CLAIM_DIR / "coef.npy").write_bytes(pickle.dumps(Planted(str(marker))))
    with pytest.raises(ModelError, match="does not match"):
        load_bundle(models)
    assert not marker.exists()


def test_pickled_array_never_runs_even_with_matching_hashes(models, tmp_path):
    marker = tmp_path / "pwned"
    with (models / CLAIM_DIR / "coef.npy").open("wb") as fh:
        np.save(fh, np.array([Planted(str(marker))], dtype=object), allow_pickle=True)
    _rehash(models)
    with pytest.raises(ModelError, match="malformed"):
        load_bundle(models)
    assert not marker.exists()


def test_planted_pickle_proof_works(tmp_path):
    """The payload does run when unpickled, so the tests above would see it."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Planted(str(marker))))
    assert marker.exists()


@pytest.mark.parametrize(("edit", "match"), [
    (lambda m: m.update(sha256="0" * 64), "digest does not match"),
    (lambda m: m.pop("sha256"), "digest does not match"),
    (lambda m: m.pop("files"), "SHA-256 digests"),
    (lambda m: m["files"].update({f"{CLAIM_DIR}/coef.npy": "f" * 64}), "does not match"),
    (lambda m: m["files"].popitem(), "digest does not match"),
])
def test_tampered_metadata_refused(models, edit, match):
    meta = _meta(models)
    edit(meta)
    (models / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=match):
        load_bundle(models)


def test_an_extra_file_is_refused_even_when_listed_nowhere(models):
    (models / CLAIM_DIR / "extra.npy").write_bytes(b"\x93NUMPY")
    with pytest.raises(ModelError, match="not part of the recorded model"):
        load_bundle(models)


@pytest.mark.parametrize("text", ["", "{not json", "\x00\x01", '{"sha256": '])
def test_unreadable_metadata_refused(models, text):
    (models / METADATA_FILE).write_text(text)
    with pytest.raises(ModelError, match="unreadable"):
        load_bundle(models)


@pytest.mark.parametrize("text", ["[]", '"a string"', "null"])
def test_metadata_of_the_wrong_shape_refused(models, text):
    (models / METADATA_FILE).write_text(text)
    with pytest.raises(ModelError):
        load_bundle(models)


@pytest.mark.parametrize("missing", [f"{CLAIM_DIR}/coef.npy", PAGE_MODEL_FILE, RULES_FILE, METADATA_FILE, "nlp",
                                     CLAIM_DIR])
def test_missing_file_is_a_clear_error(models, missing):
    target = models / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(ModelError):
        load_bundle(models)


@pytest.mark.parametrize(("name", "content", "match"), [
    (PAGE_MODEL_FILE, '{"names": ["a"], "mean": [0], "scale": [1], "coef": [1, 2], "intercept": 0}', "match"),
    (PAGE_MODEL_FILE, "[1, 2]", "JSON objects"),
    (RULES_FILE, '{"red_flag_score": 50, "surprise": 1}', "unknown keys"),
    (f"{CLAIM_DIR}/config.json", "{}", "malformed"),
])
def test_wrong_shapes_with_matching_hashes_refused(models, name, content, match):
    (models / name).write_text(content)
    _rehash(models)
    with pytest.raises(ModelError, match=match):
        load_bundle(models)


def test_pipeline_file_swapped_refused(models):
    victim = next(p for p in sorted((models / "nlp").rglob("*")) if p.is_file())
    victim.write_bytes(victim.read_bytes() + b"\n")
    with pytest.raises(ModelError, match="does not match"):
        load_bundle(models)
