"""Model files are code (pickles): a changed byte, a planted pickle or edited metadata is refused
with ModelError before anything is unpickled. Everything works on a copy of models/ in tmp_path.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest

from detector.errors import ModelError
from detector.model.artifact import CLASSIFIER_FILE, METADATA_FILE, PAGE_MODEL_FILE, load_bundle
from tests.conftest import ROOT


@pytest.fixture
def models(tmp_path):
    dest = tmp_path / "models"
    shutil.copytree(ROOT / "models", dest)
    return dest


class Planted:
    """Unpickling this writes a marker file: the proof that a pickle ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fails the test if joblib.load or pickle.load runs at all."""
    import joblib

    calls = []

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003
        calls.append(args)
        raise AssertionError("unpickling was attempted")

    monkeypatch.setattr(joblib, "load", refuse)
    return calls


@pytest.mark.parametrize("name", [CLASSIFIER_FILE, PAGE_MODEL_FILE])
@pytest.mark.parametrize("where", [0, 0.5, -1])
def test_flipped_byte_refused_before_unpickling(models, no_unpickling, name, where):
    path = models / name
    data = bytearray(path.read_bytes())
    data[int(len(data) * where) if where else 0] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match"):
        load_bundle(models)
    assert no_unpickling == []


@pytest.mark.parametrize("name", [CLASSIFIER_FILE, PAGE_MODEL_FILE])
def test_planted_pickle_never_runs(models, tmp_path, name):
    marker = tmp_path / "pwned"
    (models / name).write_bytes(pickle.dumps(Planted(str(marker))))
    with pytest.raises(ModelError, match="does not match"):
        load_bundle(models)
    assert not marker.exists()


def test_planted_pickle_proof_works(tmp_path):
    """The payload does run when unpickled, so the test above would see it."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Planted(str(marker))))
    assert marker.exists()


def _meta(models) -> dict:  # noqa: ANN001
    return json.loads((models / METADATA_FILE).read_text())


@pytest.mark.parametrize(("edit", "match"), [
    (lambda m: m.update(sha256="0" * 64), "does not match"),
    (lambda m: m.update(page_model_sha256="f" * 64), "does not match"),
    (lambda m: m.pop("sha256"), "unreadable model metadata"),
    (lambda m: m.pop("nlp_sha256"), "unreadable model metadata"),
    (lambda m: m["nlp_sha256"].update({"extra.bin": "0" * 64}), "do not match"),
    (lambda m: m["nlp_sha256"].popitem(), "do not match"),
])
def test_tampered_metadata_refused(models, no_unpickling, edit, match):
    meta = _meta(models)
    edit(meta)
    (models / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=match):
        load_bundle(models)
    assert no_unpickling == []


@pytest.mark.parametrize("text", ["", "{not json", "\x00\x01", '{"sha256": '])
def test_unreadable_metadata_refused(models, no_unpickling, text):
    (models / METADATA_FILE).write_text(text)
    with pytest.raises(ModelError, match="unreadable"):
        load_bundle(models)


@pytest.mark.parametrize("text", ["[]", '"a string"', "null"])
def test_metadata_of_the_wrong_shape_refused(models, text):
    (models / METADATA_FILE).write_text(text)
    with pytest.raises(ModelError):
        load_bundle(models)


@pytest.mark.parametrize("value", [None, 12345])
def test_metadata_hash_of_the_wrong_type_refused(models, value):
    meta = _meta(models)
    meta["sha256"] = value
    (models / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError):
        load_bundle(models)


@pytest.mark.parametrize("missing", [CLASSIFIER_FILE, PAGE_MODEL_FILE, METADATA_FILE, "nlp"])
def test_missing_file_is_a_clear_error(models, no_unpickling, missing):
    target = models / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(ModelError):
        load_bundle(models)


def test_pipeline_file_swapped_refused(models, no_unpickling):
    victim = next(p for p in sorted((models / "nlp").rglob("*")) if p.is_file())
    victim.write_bytes(victim.read_bytes() + b"\n")
    with pytest.raises(ModelError, match="do not match"):
        load_bundle(models)
