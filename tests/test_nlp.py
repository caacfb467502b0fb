import pytest

from detector.extract import text_to_page
from detector.nlp.pipeline import ClaimExtractor, load_nlp

SENTENCES = [
    ("Stem cells help. They are costly.", ["Stem cells help.", "They are costly."]),
    ("Regrow your cartilage\nBook a consult today", ["Regrow your cartilage", "Book a consult today"]),
    ("• Autism • Multiple sclerosis", ["Autism • Multiple sclerosis"]),
    ("- first item here\n- second item here", ["first item here", "second item here"]),
    ("Dr. Lee treats knees. Call us!", ["Dr. Lee treats knees.", "Call us!"]),
    ('He said "it works." Then left.', ['He said "it works."', "Then left."]),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCES)
def test_sentences(extractor, text, expected):
    assert [c.text for c in extractor.extract(text_to_page(text, "t"))] == expected


def _claim(extractor, text):
    claims = extractor.extract(text_to_page(text, "t"))
    assert len(claims) == 1, [c.text for c in claims]
    return claims[0]


CUES = [
    ("Our FDA-approved stem cells work.", "APPROVAL", False),
    ("Stem cells are not FDA approved.", "APPROVAL", True),
    ("There are no side effects at all.", "SAFETY", False),
    ("This is not risk-free for anyone.", "SAFETY", True),
    ("We guarantee lasting results.", "GUARANTEE", False),
    ("92% of our patients improve.", "SUCCESS_RATE", False),
    ("It regrows the disc in weeks.", "CURE", False),
    ("Read more success stories here.", "TESTIMONIAL", False),
    ("Call now, offer ends Friday.", "URGENCY", False),
    ("Results may vary between patients.", "DISCLOSURE", False),
]


@pytest.mark.parametrize(("text", "label", "negated"), CUES)
def test_cues_and_negation(extractor, text, label, negated):
    claim = _claim(extractor, text)
    hits = [c for c in claim.cues if c.label == label]
    assert hits, claim.cues
    assert any(c.negated == negated for c in hits)


def test_condition_groups(extractor):
    claim = _claim(extractor, "We treat autism, COPD, multiple sclerosis and knee arthritis.")
    groups = {e.group for e in claim.entities if e.label == "CONDITION"}
    assert all(claim.text[e.start:e.end] == e.text for e in claim.entities)
    assert groups == {"neurodevelopmental", "respiratory", "neurological", "musculoskeletal"}


def test_short_acronyms_need_capitals(extractor):
    claim = _claim(extractor, "Ed and his wife drove to the ms office.")
    assert not [e for e in claim.entities if e.label == "CONDITION"]


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("The FDA warned the clinic, which claimed its injections cure Parkinson's.", "reported"),
        ('Regulators said the ads promised "a cure for autism".', "reported"),
        ("Stem cells may help some patients with knee pain.", "hedged"),
        ("According to the lawsuit, the clinic promised a cure for autism.", "reported"),
        ("The clinic advertised its injections as FDA approved.", "reported"),
        ("Prosecutors said the company falsely told patients there were no side effects.", "reported"),
        ("Its website touts the cells as a cure for arthritis.", "reported"),
    ],
)
def test_context_flags(extractor, text, flag):
    claim = _claim(extractor, text)
    assert getattr(claim, flag)
    label = {"reported": "reported", "hedged": "hedge"}[flag]
    words = [e for e in claim.context if e.label == label]
    assert words and all(claim.text[e.start:e.end] == e.text for e in words)


@pytest.mark.parametrize(
    "text",
    [
        "Our stem cells cure Parkinson's disease.",
        '"After one injection I was back on the golf course," says Mark, 61.',  # testimony the page offers
        "Patients tell us their pain is gone within weeks.",
        "We are FDA registered and follow all FDA guidelines.",
    ],
)
def test_own_voice_is_not_reported(extractor, text):
    assert not _claim(extractor, text).reported


def test_negation_names_the_negating_word(extractor):
    claim = _claim(extractor, "Our cells are not FDA approved.")
    neg = [e for e in claim.context if e.label == "negation"]
    assert neg and neg[0].text == "not"


def test_round_trip(nlp, tmp_path):
    nlp.to_disk(tmp_path / "nlp")
    again = ClaimExtractor(load_nlp(tmp_path / "nlp"))
    text = "Our FDA-approved cells cure autism, COPD and MS. Not FDA approved."
    page = text_to_page(text, "t")
    a = [(c.text, c.cues, c.entities, c.context) for c in ClaimExtractor(nlp).extract(page)]
    b = [(c.text, c.cues, c.entities, c.context) for c in again.extract(page)]
    assert a == b


def test_long_text_is_chunked_below_max_length(nlp):
    ex = ClaimExtractor(nlp)
    page = text_to_page("Stem cells regrow cartilage today.\n" * 6000, "t")
    claims = ex.extract(page)
    assert len(claims) == 6000
    assert claims[-1].start > 100_000
    assert page.text[claims[-1].start : claims[-1].end] == claims[-1].text


def test_place_names_are_not_reporting_verbs(extractor):
    claim = _claim(extractor, "Our exosomes come from a cGMP, FDA-registered lab in the United States.")
    assert not claim.reported
