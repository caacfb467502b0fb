from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def local_server(routes: dict) -> Iterator[str]:
    """A web server on 127.0.0.1 (never another address) serving fixed routes; stops itself."""
    from tests.sites import serve

    with serve(routes) as (base, _log):
        yield base
