"""Scoring: flags with evidence, the monotone page score and the verdict rule (tables of cases)."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.categories import CATEGORIES, RED_FLAGS
from detector.model.page_model import PageModel
from detector.model.rules import ScoringRules
from detector.records import Claim, Cue, Entity, Evidence
from detector.scoring.claims import flag_claims, flag_condition_lists
from detector.scoring.page import NEGATIVE, POSITIVE, SIGNS, page_features, score_page

RULES = ScoringRules(report_terms=("reporters?", "investigation"), sell_terms=("book", "call"),
                     topic_terms=("stem cell",))
CELLS = [Entity("CELL_PRODUCT", "stem cells", "cells", 0, 10)]


@dataclasses.dataclass
class Scores:
    """A ClaimScores stub: fixed probabilities, one 'model' evidence word per flag."""

    proba: np.ndarray

    def evidence(self, i: int, category: str) -> list[Evidence]:
        return [Evidence("model", "word", 0, 4, label="words", category=category, weight=0.5)]


def claim(text, reported=False, role="paragraph", entities=(), cues=(), hedged=False):
    c = Claim(text=text, start=0, end=len(text), block_role=role, entities=list(entities), cues=list(cues),
              reported=reported, hedged=hedged)
    if reported:
        c.context = [Evidence("context", "said", 0, 4, label="reported")]
    return c


def probs(*rows: dict[str, float]) -> Scores:
    return Scores(np.array([[r.get(c, 0.0) for c in CATEGORIES] for r in rows]))


THRESHOLDS = np.full(len(CATEGORIES), 0.5)


def flagged(claims, *rows):
    flag_claims(claims, probs(*rows), THRESHOLDS, RULES)
    return claims


# -- flags ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "reported", "p", "made", "reported_cats"),
    [
        ("Our stem cells regrow cartilage in every knee.", False, {"efficacy_overclaim": 0.9},
         ["efficacy_overclaim"], []),
        ("The FDA said the clinic claimed its cells regrow cartilage.", True, {"efficacy_overclaim": 0.9},
         [], ["efficacy_overclaim"]),
        ("The agency says these products are not approved.", True, {"honest_disclosure": 0.8},
         ["honest_disclosure"], []),  # a disclosure counts whoever says it
        ("Our stem cells regrow cartilage in every knee.", False, {"efficacy_overclaim": 0.3}, [], []),
    ],
)
def test_made_or_reported_is_the_sentences_own_fact(text, reported, p, made, reported_cats):
    (c,) = flagged([claim(text, reported)], p)
    assert c.categories == made and c.reported_categories == reported_cats


def test_every_flag_carries_evidence_records_with_offsets_and_a_rule():
    cue = Cue("APPROVAL", "FDA approved", False, 19, 31)
    (c,) = flagged([claim("Our stem cells are FDA approved for knees.", cues=[cue])],
                   {"approval_misrepresentation": 0.9})
    kinds = [e.kind for e in c.flags[0].evidence]
    assert kinds[0] == "cue" and "model" in kinds and kinds[-1] == "rule"
    located = [e for e in c.evidence if e.start is not None]
    assert located and all(c.text[e.start:e.end] == e.text for e in located if e.kind == "cue")


def test_reported_flag_explains_why_it_is_reported():
    (c,) = flagged([claim("Regulators said the clinic promised cures.", reported=True)], {"efficacy_overclaim": 0.9})
    assert any(e.kind == "context" and e.label == "reported" for e in c.flags[0].evidence)


@pytest.mark.parametrize("text", ["Cell therapy", "The clinic", "Our doctors"])
def test_short_fragments_without_a_cue_get_no_flag(text):
    (c,) = flagged([claim(text)], {"efficacy_overclaim": 0.99})
    assert not c.flags


def test_condition_list_flags_cure_all_with_list_evidence():
    items = [claim(t, role="list_item", entities=[Entity("CONDITION", t.lower(), g, 0, len(t))])
             for t, g in (("Autism", "neurodevelopmental"), ("COPD", "respiratory"), ("Knee arthritis",
                                                                                    "musculoskeletal"))]
    flagged(items, {}, {}, {})
    head = next(c for c in items if c.flags)
    assert head.categories == ["cure_all"]
    assert any(e.kind == "list" and "3 unrelated body systems" in e.text for e in head.flags[0].evidence)


def test_same_system_list_is_not_cure_all():
    items = [claim(t, role="list_item", entities=[Entity("CONDITION", t.lower(), "musculoskeletal", 0, len(t))])
             for t in ("Knee pain", "Back pain", "Rotator cuff")]
    assert not flag_condition_lists(items, RULES)
    assert not any(c.flags for c in items)


# -- the page score -----------------------------------------------------------------------------------------------
def page_model() -> PageModel:
    """A hand-weighted model with the trained model's sign pattern."""
    names = sorted(SIGNS)
    coef = np.array([0.6 * SIGNS[n] for n in names])
    return PageModel(names, np.zeros(len(names)), np.ones(len(names)), coef, -1.5, 1.5)


MODEL = page_model()


def test_signs_cover_every_page_feature():
    feats = page_features(flagged([claim("Our stem cells regrow cartilage.")], {"efficacy_overclaim": 0.9}), RULES)
    assert set(feats) == set(POSITIVE) | set(NEGATIVE) == set(SIGNS)


CLAIM_ROWS = st.lists(
    st.tuples(
        st.sampled_from(CATEGORIES), st.floats(0.0, 1.0), st.booleans(), st.booleans(),
        st.sampled_from(["Our cells regrow discs.", "Reporters found the clinic.", "Book a call today.",
                         "Results vary.", "We treat knees and backs."]),
    ),
    min_size=0, max_size=12,
)


def build(rows):
    claims = [claim(f"{text} ({i})", reported=rep, hedged=hedged) for i, (_c, _p, rep, hedged, text) in
              enumerate(rows)]
    return flagged(claims, *[{cat: p} for cat, p, _r, _h, _t in rows]) if rows else []


@settings(max_examples=300, deadline=None)
@given(CLAIM_ROWS, st.sampled_from(RED_FLAGS), st.floats(0.5, 1.0), st.booleans())
def test_adding_a_red_flag_sentence_never_lowers_the_score(rows, cat, p, hedged):
    before = build(rows)
    extra = claim("We promise this works for you.", hedged=hedged)
    after = build(rows)
    flag_claims([extra], probs({cat: p}), THRESHOLDS, RULES)
    a = MODEL.risk(page_features(before, RULES))
    b = MODEL.risk(page_features([*after, extra], RULES))
    assert b >= a - 1e-9


@settings(max_examples=200, deadline=None)
@given(CLAIM_ROWS, st.integers(0, 11), st.sampled_from(RED_FLAGS), st.sampled_from([(0.3, 0.8), (0.55, 0.95)]))
def test_a_stronger_claim_never_lowers_the_score(rows, which, cat, pair):
    """Raising a made claim's probability (across its threshold or above it) never lowers the page score.

    (A stronger *reported* claim may: it is evidence of reporting, not of a claim the page makes.)
    """
    if not rows:
        return
    which %= len(rows)
    scores = []
    for p in pair:
        changed = list(rows)
        _c, _p, _rep, hedged, text = changed[which]
        changed[which] = (cat, p, False, hedged, text)
        scores.append(MODEL.risk(page_features(build(changed), RULES)))
    assert scores[1] >= scores[0] - 1e-9


def test_page_model_weights_respect_their_signs_once_trained(detector):
    m = detector.bundle.page_model
    for name, w in zip(m.names, m.coef, strict=True):
        assert w * SIGNS.get(name, 0) >= -1e-12, f"{name} has weight {w}"


def test_features_count_distinct_claims_and_do_not_saturate():
    one = flagged([claim("Our cells regrow discs.")], {"efficacy_overclaim": 0.9})
    many = flagged([claim(f"Our cells regrow disc number {i}.") for i in range(8)],
                   *[{"efficacy_overclaim": 0.9}] * 8)
    twice = flagged([claim("Our cells regrow discs."), claim("Our cells regrow discs!")],
                    {"efficacy_overclaim": 0.9}, {"efficacy_overclaim": 0.9})
    f1, f8, f2 = (page_features(x, RULES) for x in (one, many, twice))
    assert f8["count:efficacy_overclaim"] == pytest.approx(math.log1p(8))
    assert f8["count:efficacy_overclaim"] > f1["count:efficacy_overclaim"]
    assert f2["count:efficacy_overclaim"] == f1["count:efficacy_overclaim"]  # a repeated sentence counts once


# -- the verdict rule ---------------------------------------------------------------------------------------------
def test_red_flag_needs_a_made_claim_and_the_line():
    made = flagged([claim("Our stem cells regrow discs.", entities=CELLS)], {"efficacy_overclaim": 0.95})
    reported = flagged([claim("Reporters found the clinic said its stem cells regrow discs.", reported=True)],
                       {"efficacy_overclaim": 0.95})
    v_made = score_page("p", made, MODEL, RULES)
    v_rep = score_page("p", reported, MODEL, RULES)
    assert v_made.red_flag == (v_made.risk_score >= 50)
    assert not v_rep.red_flag and v_rep.claims[0].reported_categories == ["efficacy_overclaim"]


def test_scoring_never_rewrites_claims():
    claims = flagged([claim("Our stem cells regrow discs."), claim("Results vary and are not guaranteed.")],
                     {"efficacy_overclaim": 0.6}, {"honest_disclosure": 0.9})
    before = [(c.categories, c.reported_categories) for c in claims]
    low = dataclasses.replace(MODEL, intercept=-20.0)
    v = score_page("p", claims, low, RULES)
    assert v.risk_score < 50 and not v.red_flag
    assert [(c.categories, c.reported_categories) for c in claims] == before
    assert any("stays under the red-flag line" in r for r in v.reasons)


@pytest.mark.parametrize(
    ("rows", "texts", "expect", "absent"),
    [
        ([{"approval_misrepresentation": 0.9}, {"approval_misrepresentation": 0.8}, {"efficacy_overclaim": 0.9}],
         ["Our stem cells are FDA approved.", "Licensed by the ministry.", "Our cells regrow discs."],
         ["2 sentences claim an approval", "1 sentence states as fact", "no risk, limit or approval status"],
         ["feature", "max:", "="]),
        ([{"honest_disclosure": 0.9}], ["These injections are investigational and not approved."],
         ["1 sentence discloses limits or risks", "no red-flag claim found"], ["lowers the score"]),
    ],
)
def test_reasons_are_plain_words(rows, texts, expect, absent):
    v = score_page("p", flagged([claim(t) for t in texts], *rows), MODEL, RULES)
    joined = " | ".join(v.reasons)
    for phrase in expect:
        assert phrase in joined
    for phrase in absent:
        assert phrase not in joined
    assert "page_features" in v.to_dict()["model"]  # the internals stay in JSON for experts


def test_top_evidence_is_the_most_serious_made_claim():
    claims = flagged([claim("Only 6 free MRI reviews remain this week."), claim("Our cells are FDA approved.")],
                     {"commercial_pressure": 0.99}, {"approval_misrepresentation": 0.7})
    v = score_page("p", claims, MODEL, RULES)
    assert v.top_claim is claims[1]
