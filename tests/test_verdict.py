"""The verdict a journalist reads, with the bundled model (tables of cases in the presidio manner)."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from detector.scoring.page import SIGNS

from .conftest import CORPUS, ROOT

DATA = ROOT / "tests" / "data"


def _jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def makes(verdict, category: str) -> bool:
    return any(category in c.categories for c in verdict.claims)


# -- approval sentences and their twins -------------------------------------------------------------------------
TWINS = _jsonl("approval_twins.jsonl")


def test_approval_claims_and_their_twins(detector):
    """A made claim carries approval_misrepresentation exactly when the sentence claims approval (>= 95%)."""
    wrong = []
    for row in TWINS:
        for kind, claims_approval in (("claim", True), ("negated", False), ("reported", False),
                                      ("designation", False)):
            v = detector.check_text(row[kind])
            if makes(v, "approval_misrepresentation") != claims_approval:
                wrong.append((kind, row[kind]))
    assert len(wrong) <= 0.05 * 4 * len(TWINS), wrong


# -- short texts ----------------------------------------------------------------------------------------------------
SHORT = _jsonl("short_texts.jsonl")


def test_short_texts_get_the_verdict_their_claims_deserve(detector):
    wrong = [(r["red_flag"], r["text"]) for r in SHORT if detector.check_text(r["text"]).red_flag != r["red_flag"]]
    assert len(wrong) <= 0.05 * len(SHORT), wrong


@pytest.mark.parametrize(("text", "red"), [
    ("We guarantee permanent results with no side effects.", True),
    ("Our stem cell injections are FDA approved for the treatment of herniated discs.", True),
    ("Stem cell injections for herniated discs are not FDA approved.", False),
])
def test_readme_examples(detector, text, red):
    v = detector.check_text(text)
    assert v.red_flag is red
    if red:
        assert v.risk_score >= 50 and v.top_claim is not None


# -- made or reported, whatever the page's score --------------------------------------------------------------------
NEWS = (
    "Regulators warn patients about stem cell clinics.\n"
    "The agency said one clinic advertised that its injections cure Parkinson's disease.\n"
    "According to the lawsuit, the company told patients its cells were FDA approved.\n"
    "Reporters visited three clinics in the city last spring.\n"
    "Experts say no stem cell product is approved for these uses."
)


def test_quoted_claims_on_a_news_page_are_shown_as_reported_context(detector):
    v = detector.check_text(NEWS)
    assert not v.red_flag
    reported = [c for c in v.claims if c.reported_categories]
    assert reported and not any(c.made_red_flags for c in reported)
    assert any("reads as reporting" in r for r in v.reasons)


def test_an_own_voice_claim_stays_made_on_a_low_scoring_page(detector):
    text = NEWS + "\nStem cell injections reverse knee arthritis in most patients."
    v = detector.check_text(text)
    own = next(c for c in v.claims if c.text.startswith("Stem cell injections reverse"))
    assert own.made_red_flags, own.scores
    assert not own.reported


def test_a_disclosure_lowers_the_score_but_never_hides_a_claim(detector):
    claim = "Our stem cells regrow cartilage in worn knees."
    plain = detector.check_text(claim)
    disclosed = detector.check_text(claim + "\nThese injections are investigational and not approved by the FDA. "
                                            "Risks include infection and nerve damage.")
    assert disclosed.risk_score <= plain.risk_score
    assert [c.made_red_flags for c in disclosed.claims if c.text == claim] == [c.made_red_flags for c in plain.claims]
    assert disclosed.categories["honest_disclosure"] >= 1


# -- monotone scores that rank --------------------------------------------------------------------------------------
ADDED = "Our FDA-approved stem cells cure arthritis permanently, with no side effects at all."


@pytest.fixture(scope="module")
def demo(detector):
    return {p.name: detector.check_file(p) for p in sorted((CORPUS / "pages").glob("*.html"))}


def test_adding_a_red_flag_sentence_never_lowers_a_demo_page_score(detector, demo):
    for name, v in list(demo.items())[::4]:
        page = v.page
        assert page is not None
        more = detector.check_text(page.text + "\n" + ADDED, name)
        same = detector.check_text(page.text, name)
        assert more.risk_score >= same.risk_score, name


def test_scores_rank_the_demo_pages(demo):
    high = [v.risk_score for v in demo.values() if v.risk_score >= 50]
    top, n = Counter(high).most_common(1)[0]
    assert n <= 0.10 * len(high), (top, n, len(high))


def test_trained_page_weights_keep_their_signs(detector):
    m = detector.bundle.page_model
    assert all(w * SIGNS.get(name, 0) >= -1e-12 for name, w in zip(m.names, m.coef, strict=True))


# -- explanations ---------------------------------------------------------------------------------------------------
def test_flagged_claims_carry_evidence_and_most_point_at_words(demo):
    claims = [c for v in demo.values() for c in v.flagged]
    assert claims and all(c.to_dict()["evidence"] for c in claims)
    located = [c for c in claims if any(e.start is not None and e.kind in ("cue", "entity", "model", "context")
                                        for e in c.evidence)]
    assert len(located) >= 0.8 * len(claims)
    for c in claims[:200]:
        for e in c.evidence:
            if e.start is not None:
                assert c.text[e.start:e.end] == e.text, (c.text, e)


FEATURE = re.compile(r"\b(?:max|top3|count|red_share|report_density|reported_share|hedged_share|sell)\b[:=]"
                     r"|\b\d+\.\d+\b|[a-z]+_[a-z_]+")


def test_reasons_hold_no_feature_names_or_raw_values(demo):
    for name, v in demo.items():
        for reason in v.reasons:
            quoted = re.sub(r"“[^”]*”", "", reason)  # sentences quoted from the page may hold anything
            assert not FEATURE.search(quoted), (name, reason)
