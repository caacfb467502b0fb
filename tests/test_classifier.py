"""The cached char n-gram transform gives exactly sklearn's matrix (it is only a faster path to it)."""

from __future__ import annotations

from detector.extract import html_to_page
from detector.model.classifier import char_transform, word_transform
from tests.conftest import CORPUS


def test_char_transform_equals_sklearn(detector):
    vec = detector.bundle.classifier.char_vec_
    texts = [
        c.text.lower()
        for p in sorted((CORPUS / "pages").glob("p[cn]-0*.html"))
        for c in detector.extractor.extract(html_to_page(p.read_text(encoding="utf-8"), p.name))
    ]
    texts += ["", "a", "ab  c\td\n e", "école  naïve", "x" * 50, "abc abcd ab", "stem-cell\u00a0therapy"]
    expected, got = vec.transform(texts), char_transform(vec, texts)
    assert expected.shape == got.shape
    assert (expected != got).nnz == 0
    again = char_transform(vec, texts)  # served from the word cache
    assert (again != expected).nnz == 0


def test_word_transform_equals_sklearn(detector):
    vec = detector.bundle.classifier.word_vec_
    texts = [c.text.lower() for c in detector.extractor.extract(
        html_to_page((CORPUS / "pages" / "pc-01.html").read_text(encoding="utf-8"), "pc-01"))]
    texts += ["", "fda-approved 100% safe", "we guarantee results"]
    assert (vec.transform(texts) != word_transform(vec, texts)).nnz == 0
