from detector.records import Claim
from detector.scoring.page import mark_condition_lists, score_page

CELLS = [("CELL_PRODUCT", "stem cells", "cells")]


def claim(text, cats=(), p=0.9, reported=False, entities=CELLS, role="paragraph", disclosure=0.0):
    c = Claim(text=text, start=0, end=len(text), block_role=role, entities=list(entities), reported=reported)
    c.scores = {cat: p for cat in cats}
    c.categories = [] if reported else list(cats)
    c.reported_categories = list(cats) if reported else []
    if disclosure:
        c.scores["honest_disclosure"] = disclosure
        c.categories.append("honest_disclosure")
    return c


def test_red_flag_claims_give_a_high_score():
    v = score_page("p", [claim("Our cells regrow discs.", ["efficacy_overclaim"]),
                         claim("FDA approved.", ["approval_misrepresentation"])])
    assert v.red_flag and v.risk_score >= 80
    assert v.categories["efficacy_overclaim"] == 1


def test_disclosure_lowers_but_never_erases():
    bad = [claim("Our cells regrow discs.", ["efficacy_overclaim"])]
    plain = score_page("p", bad)
    disclosed = score_page("p", bad + [claim("Not FDA approved.", disclosure=0.95)])
    assert disclosed.risk_score < plain.risk_score
    assert disclosed.categories["efficacy_overclaim"] == 1
    assert disclosed.flagged[0].categories == ["efficacy_overclaim"]


def test_reported_claims_score_low():
    v = score_page("news", [claim("The FDA said the clinic claimed cures.", ["efficacy_overclaim"], reported=True)])
    assert not v.red_flag and v.risk_score == 0


def test_off_topic_page_is_damped():
    on = score_page("p", [claim("We guarantee results.", ["guaranteed_results"])])
    off = score_page("p", [claim("We guarantee results.", ["guaranteed_results"], entities=[])])
    assert off.risk_score < on.risk_score and not off.red_flag


def test_condition_list_marks_cure_all():
    items = [
        claim("Autism", entities=[("CONDITION", "autism", "neurodevelopmental")], role="list_item"),
        claim("COPD", entities=[("CONDITION", "copd", "respiratory")], role="list_item"),
        claim("Knee arthritis", entities=[("CONDITION", "knee arthritis", "musculoskeletal")], role="list_item"),
    ]
    notes = mark_condition_lists(items)
    assert notes and any("cure_all" in c.categories for c in items)


def test_same_system_list_is_not_cure_all():
    items = [
        claim(t, entities=[("CONDITION", t.lower(), "musculoskeletal")], role="list_item")
        for t in ("Knee pain", "Back pain", "Rotator cuff")
    ]
    assert not mark_condition_lists(items)
    assert not any(c.categories for c in items)


class _StubPageModel:
    def __init__(self, prob):
        self.prob = prob

    def predict_proba(self, rows):
        return [self.prob for _ in rows]

    def contributions(self, feats):
        return [("max:efficacy_overclaim", 1.0)]


def test_low_scoring_page_shows_red_flags_as_context_only():
    claims = [claim("Stem cells repair tissue.", ["efficacy_overclaim"])]
    v = score_page("news", claims, page_model=_StubPageModel(0.2))
    assert v.risk_score == 20 and not v.red_flag
    assert claims[0].categories == [] and claims[0].reported_categories == ["efficacy_overclaim"]
    assert any("context" in r for r in v.reasons)


def test_high_scoring_page_keeps_its_claims():
    claims = [claim("Our cells regrow discs.", ["efficacy_overclaim"])]
    v = score_page("clinic", claims, page_model=_StubPageModel(0.9))
    assert v.red_flag and v.risk_score == 90 and claims[0].categories == ["efficacy_overclaim"]
    assert any("max:efficacy_overclaim" in r for r in v.reasons)


def test_page_features_do_not_grow_with_page_length():
    from detector.scoring.page import page_features

    one = [claim("Our cells regrow discs.", ["efficacy_overclaim"])]
    filler = [claim(f"Office hours line {i}.", [], p=0.0) for i in range(50)]
    short, long = page_features(one), page_features(one + filler)
    for key in ("max:efficacy_overclaim", "flagged:efficacy_overclaim", "red_flag_claims"):
        assert short[key] == long[key]


def test_disclaimers_never_cancel_a_near_certain_claim():
    claims = [
        claim("Our FDA-approved cord tissue product.", ["approval_misrepresentation"], p=0.99),
        claim("Results vary; consult your physician.", disclosure=0.95),
    ]
    v = score_page("clinic", claims, page_model=_StubPageModel(0.05))
    assert v.risk_score == 50 and v.red_flag
    assert claims[0].categories == ["approval_misrepresentation"]
    assert any("near-certain" in r for r in v.reasons)


def test_short_fragments_without_a_cue_are_never_flagged(detector):
    v = detector.check_text("Cell therapy\n\nThe clinic\n\nOur doctors\n\nStem cell center")
    assert not [c.text for c in v.claims if c.categories]
    assert all(not c.cues for c in v.claims), "the rule under test is about cue-less fragments"
    cued = detector.check_text("100% safe, no side effects")
    assert any("risk_denial" in c.categories + c.reported_categories for c in cued.claims)
