"""The runtime claim scorer equals scikit-learn: exported arrays give sklearn's probabilities, and the lab's
fast transforms give sklearn's matrices."""

from __future__ import annotations

import numpy as np
import pytest

from detector.categories import CATEGORIES
from detector.extract import html_to_page
from detector.lab.classifier import ClaimClassifier, char_transform, word_transform
from detector.lab.corpus import load_sentences
from detector.model.scorer import ClaimScorer, ClaimScores
from tests.conftest import CORPUS

EXTRA = ["", "a", "ab  c\td\n e", "école  naïve", "x" * 50, "abc abcd ab", "stem-cell\u00a0therapy",
         "FDA-APPROVED 100% safe!!", "İstanbul clinic", "we guarantee results"]


@pytest.fixture(scope="module")
def fitted(detector):
    """A small classifier fitted on part of the corpus (seconds), and claims from real-looking pages."""
    frame = load_sentences(CORPUS)
    part = frame[frame["split"] == "train"].head(1500)
    claims = [detector.extractor.single_claim(t) for t in part["text"]]
    y = part[list(CATEGORIES)].to_numpy()
    clf = ClaimClassifier(calibration_folds=2).fit(claims, y)
    clf.thresholds_ = np.full(9, 0.5)
    pages = sorted((CORPUS / "pages").glob("p[cn]-0*.html"))[:6]
    test = [c for p in pages for c in detector.extractor.extract(html_to_page(p.read_text(encoding="utf-8"), p.name))]
    test += [detector.extractor.single_claim(t) for t in EXTRA if t.strip()]
    return clf, test


def test_exported_scorer_equals_sklearn(fitted):
    clf, claims = fitted
    linear = clf.to_linear()
    expected = clf.predict_proba(claims)
    got = linear.predict_proba(claims)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_bundled_scorer_meets_the_protocol(detector):
    model = detector.bundle.claim_model
    assert isinstance(model, ClaimScorer)
    scores = model.score([detector.extractor.single_claim("Our stem cells regrow cartilage.")])
    assert isinstance(scores, ClaimScores) and scores.proba.shape == (1, 9)


def test_model_evidence_names_words_of_the_claim_with_offsets(detector):
    claim = detector.extractor.single_claim("Our FDA-approved stem cells permanently regrow your cartilage.")
    scores = detector.bundle.claim_model.score([claim])
    found = scores.evidence(0, "efficacy_overclaim")
    assert found and all(claim.text[e.start:e.end] == e.text for e in found)
    assert all(e.weight > 0 and e.kind == "model" for e in found)


def test_char_transform_equals_sklearn(fitted):
    clf, claims = fitted
    vec = clf.char_vec_
    texts = [c.text.lower() for c in claims] + EXTRA
    expected, got = vec.transform(texts), char_transform(vec, texts)
    assert expected.shape == got.shape
    assert (expected != got).nnz == 0
    again = char_transform(vec, texts)  # served from the word cache
    assert (again != expected).nnz == 0


def test_word_transform_equals_sklearn(fitted):
    clf, claims = fitted
    vec = clf.word_vec_
    texts = [c.text.lower() for c in claims] + EXTRA
    assert (vec.transform(texts) != word_transform(vec, texts)).nnz == 0
