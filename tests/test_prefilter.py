"""The nlp stage's shortcuts decide exactly what the plain regexes decide: a literal prefilter never skips a
text the regex matches, and the trie-shaped attribution regex finds the same spans as the plain alternation."""

from __future__ import annotations

import json
import random
import re

import pytest

from detector.nlp.components import ContextMarker, _trie
from detector.nlp.prefilter import may_match, required_literals
from tests.conftest import CORPUS

LEXICON_REGEXES = [p["regex"] for p in json.loads((CORPUS / "lexicons" / "regex.json").read_text())["patterns"]]


@pytest.mark.parametrize(("pattern", "literals"), [
    (r"\bBMC\b", {"BMC"}),
    (r"\b(?:ALS|MS)\b", {"ALS", "MS"}),
    (r"\bNCT\d{6,8}\b", {"NCT"}),
    (r"(?:[Oo]ur|[Tt]he) clinic", {"Our clinic", "our clinic", "The clinic", "the clinic"}),
    (r"[Oo]ur\s+clinic", {"clinic"}),
    (r"(?:US\$|\$)\s?\d+|\d+\s?(?:USD|dollars)", {"$", "USD", "dollars"}),  # US$ holds $
    (r"(?i)approved", None),
    (r"(?i:fda) approved", {" approved"}),
    (r"\d+%?", None),
    (r"a|\d", None),
    (r"(?:stem )+cells", {"stem "}),
    (r"(?:stem )*cells", {"cells"}),
])
def test_required_literals(pattern, literals):
    found = required_literals(pattern)
    assert (set(found) if found is not None else None) == literals


def _texts(rng: random.Random, alphabet: str, n: int) -> list[str]:
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(n)]


@pytest.mark.parametrize("pattern", LEXICON_REGEXES + [r"(?:[Oo]ur|[Tt]he) clinic", r"\b(?:ALS|MS)\b"])
def test_prefilter_never_skips_a_match(pattern):
    rx = re.compile(pattern)
    literals = required_literals(pattern)
    rng = random.Random(pattern)
    pieces = sorted(literals or []) + ["$5", "50%", " ", "ALS", "MS", "Our ", "the ", "approved for ", "x", "é"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(400)]
    texts += _texts(rng, "aAeEdDsS $%0123456789.,-", 200)
    for text in texts:
        if rx.search(text):
            assert may_match(literals, text), (pattern, text)


def test_trie_regex_matches_the_plain_alternation():
    phrases = json.loads((CORPUS / "lexicons" / "context.json").read_text())["attribution"]
    phrases = sorted(phrases + ["claims", "claims of", "claim"], key=len, reverse=True)
    plain = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![\w-])", re.I)
    trie = re.compile(r"(?<![\w-])(?:" + _trie(phrases) + r")(?![\w-])", re.I)
    rng = random.Random(7)
    words = [w for p in phrases for w in p.split()] + ["the", "clinic", "-", "x", "said", "İ", "ſ"]
    for _ in range(3000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        text = text.upper() if rng.random() < 0.3 else text
        assert [m.span() for m in plain.finditer(text)] == [m.span() for m in trie.finditer(text)], text


@pytest.mark.parametrize("text", [
    "According to the FDA, it works.", "ACCORDING TO the clinic", "accordİng to them", "the ſo-called cure",
    "Nothing attributed here.", "",
])
def test_attribution_prefilter_is_safe(text):
    marker = ContextMarker(terms={"attribution": ["according to", "so-called"]})
    if marker._attribution.search(text):
        assert marker._may_attribute(text)


def test_subject_lookup_is_the_first_listed_subject_leftmost():
    subjects = ["the clinic", "the fda", "clinic", "a"]
    marker = ContextMarker(terms={"reported_subjects": subjects})
    naive = [s.split() for s in subjects]

    def first(words: list[str]):  # the plain nested loop the lookup replaces
        for subj in naive:
            for i in range(len(words) - len(subj) + 1):
                here = words[i : i + len(subj)]
                if here == subj or (subj[0] == "the" and here[0] in ("its", "their", "his", "her")
                                    and here[1:] == subj[1:]):
                    return i, i + len(subj)
        return None

    rng = random.Random(3)
    vocab = ["the", "clinic", "fda", "a", "said", "cells", "its", "their"]
    for _ in range(2000):
        words = [rng.choice(vocab) for _ in range(rng.randint(0, 9))]
        assert marker._subject(words) == first(words), words
