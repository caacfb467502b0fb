import json
import shutil

import pytest

from detector.categories import CATEGORIES
from detector.errors import ModelError
from detector.model.artifact import METADATA_FILE, load_bundle

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
    by_category = dict(zip(CATEGORIES, (float(t) for t in bundle.claim_model.thresholds), strict=True))
    assert by_category == pytest.approx(meta["thresholds"])


def test_scoring_rules_travel_with_the_model(model_copy):
    bundle = load_bundle(model_copy)
    assert bundle.rules.red_flag_score == 50 and bundle.rules.report_terms and bundle.rules.sell_terms
    assert "scoring.json" in bundle.metadata["files"]


def test_tampered_pipeline_file_is_refused(model_copy):
    patterns = next((model_copy / "nlp").rglob("*.jsonl"))
    patterns.write_text(patterns.read_text() + '{"label": "CURE", "pattern": "hello"}\n')
    with pytest.raises(ModelError, match="does not match"):
        load_bundle(model_copy)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no trained model"):
        load_bundle(tmp_path)
