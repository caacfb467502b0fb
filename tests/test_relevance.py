"""The relevance gate: generous for anything regenerative, closed to ordinary pages, fast engine = same answers."""

from __future__ import annotations

import re

import pytest

from detector.source.relevance import _GATE, _PATTERN, is_relevant
from tests.conftest import CORPUS


@pytest.mark.parametrize(
    ("text", "relevant"),
    [
        (b"Our STEM CELL injections", True),
        (b"stem-cells for knees", True),
        (b"StemCells", True),
        (b"exosome facial", True),
        (b"Regenerative Medicine Center", True),
        (b"umbilical cord tissue allograft", True),
        (b"BMAC for hips", True),
        (b"platelet-rich plasma", True),
        ("Terapia con células madre".encode(), True),
        ("CÉLULAS MADRE".encode("cp1252"), True),
        ("Stem cell therapy".encode("utf-16"), True),
        (b"Lemon cake: beat the butter and sugar", False),
        (b"The council approved the budget for the new bridge", False),
        (b"our system cells the data", False),
        (b"", False),
    ],
)
def test_gate_cases(text, relevant):
    assert is_relevant(text) is relevant


def test_every_bundled_page_passes_the_gate_and_engines_agree():
    pages = [p.read_bytes() for p in (CORPUS / "pages").glob("*.html")]
    assert all(is_relevant(p) for p in pages)
    slow = re.compile(_PATTERN, re.IGNORECASE)
    samples = pages + [b"Stem cell", b"plain text", b"\xff\xfe\x00binary", b"cellules souches"]
    assert [bool(_GATE.search(s)) for s in samples] == [bool(slow.search(s)) for s in samples]
