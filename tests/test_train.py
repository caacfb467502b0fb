"""Training is reproducible and the bundled model is the one the bundled corpus makes."""

import json
import shutil

import pytest

from detector.lab.classifier import ClaimClassifier
from detector.lab.corpus import corpus_hash
from detector.lab.train import TrainConfig, choose_thresholds, train

from .conftest import CORPUS, ROOT


def test_bundled_model_was_trained_on_the_bundled_corpus():
    meta = json.loads((ROOT / "models" / "metadata.json").read_text())
    assert meta["corpus_sha256"] == corpus_hash(CORPUS), "corpus changed since training: run `stemcheck train`"


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    shutil.copytree(CORPUS / "lexicons", root / "lexicons")
    (root / "sentences").mkdir()
    for name in ("us_marketing.jsonl", "news_regulators_academic.jsonl", "subtle_efficacy.jsonl"):
        shutil.copy(CORPUS / "sentences" / name, root / "sentences" / name)
    (root / "pages").mkdir()
    index = (CORPUS / "pages" / "index-clinics.jsonl").read_text().splitlines()[:12]
    (root / "pages" / "index-clinics.jsonl").write_text("\n".join(index) + "\n")
    for line in index:
        name = json.loads(line)["file"]
        shutil.copy(CORPUS / "pages" / name, root / "pages" / name)
    (root / "realistic").mkdir()
    rows = (CORPUS / "realistic" / "us-clinics.jsonl").read_text().splitlines()[:20]
    (root / "realistic" / "us-clinics.jsonl").write_text("\n".join(rows) + "\n")
    return root


def test_training_is_byte_for_byte_reproducible(small_corpus, tmp_path):
    config = TrainConfig(claim_params=(("char_ngrams", None),))
    a = train(small_corpus, tmp_path / "a", config=config)
    b = train(small_corpus, tmp_path / "b", config=config)
    assert a["sha256"] == b["sha256"] and a["files"] == b["files"]
    assert a["corpus_sha256"] == corpus_hash(small_corpus)
    assert not list((tmp_path / "a").rglob("*.joblib")), "no pickle in a bundle"


def test_estimator_rules():
    clf = ClaimClassifier(C=2.0)
    assert clf.get_params()["C"] == 2.0 and not hasattr(clf, "coef_")


def test_thresholds_maximise_f1_and_fall_back():
    import numpy as np

    y = np.array([[1, 0], [1, 0], [0, 0], [0, 1]])
    p = np.array([[0.9, 0.1], [0.7, 0.2], [0.3, 0.3], [0.2, 0.8]])
    th = choose_thresholds(y, p, fallback=np.array([0.5, 0.42]), min_positives=2)
    assert 0.3 < th[0] <= 0.7 and th[1] == 0.42
