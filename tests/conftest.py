from __future__ import annotations

from pathlib import Path

import pytest

from detector.check import Detector
from detector.nlp.pipeline import ClaimExtractor, build_nlp

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpora"
REALWORLD = ROOT.parent / "shared" / "realworld-dev" / "pages.jsonl"


@pytest.fixture(scope="session")
def detector() -> Detector:
    return Detector.load(ROOT / "models")


@pytest.fixture(scope="session")
def nlp():
    return build_nlp(CORPUS / "lexicons")


@pytest.fixture(scope="session")
def extractor(nlp) -> ClaimExtractor:
    return ClaimExtractor(nlp)
