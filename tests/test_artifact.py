import json
import pickle
import shutil

import pytest

from detector.errors import ModelError
from detector.model.artifact import CLASSIFIER_FILE, METADATA_FILE, load_bundle

from .conftest import ROOT


@pytest.fixture
def model_copy(tmp_path):
    dest = tmp_path / "models"
    shutil.copytree(ROOT / "models", dest)
    return dest


def test_bundled_model_loads_and_matches_metadata(model_copy):
    bundle = load_bundle(model_copy)
    meta = json.loads((model_copy / METADATA_FILE).read_text())
    assert bundle.sha256 == meta["sha256"]
    assert set(meta["thresholds"]) == set(meta["positives"])


def test_flipped_byte_is_refused_before_unpickling(model_copy):
    path = model_copy / CLASSIFIER_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match"):
        load_bundle(model_copy)


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_pickle_payload_never_runs(model_copy, tmp_path):
    marker = tmp_path / "pwned"
    payload = _Payload()
    payload.marker = marker
    (model_copy / CLASSIFIER_FILE).write_bytes(pickle.dumps(payload))
    with pytest.raises(ModelError):
        load_bundle(model_copy)
    assert not marker.exists()


def test_tampered_pipeline_file_is_refused(model_copy):
    patterns = next((model_copy / "nlp").rglob("*.jsonl"))
    patterns.write_text(patterns.read_text() + '{"label": "CURE", "pattern": "hello"}\n')
    with pytest.raises(ModelError, match="do not match"):
        load_bundle(model_copy)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no trained model"):
        load_bundle(tmp_path)
