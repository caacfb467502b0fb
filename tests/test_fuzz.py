"""Property tests: arbitrary bytes and strings never raise anything but stemcheck's own errors."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.errors import StemcheckError
from detector.extract import html_to_page
from detector.output.report import to_json_line
from detector.source.page import decode_html

TAGS = st.sampled_from(["<p>", "</p>", "<li>", "<br>", "<div>", "</div>", "<script>", "</script>", "<h2>", "&amp;",
                        "<table><tr><td>", "<!--", "-->", "\x00", "•", "\n"])
HTMLISH = st.lists(st.one_of(st.text(max_size=40), TAGS), max_size=60).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_decode_never_fails(data):
    text, how = decode_html(data)
    assert isinstance(text, str) and how


@settings(max_examples=150, deadline=None)
@given(HTMLISH)
def test_extract_never_fails(html):
    page = html_to_page(html, "fuzz")
    assert all(b.text == b.text.strip() and b.text for b in page.blocks)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(HTMLISH, st.text(max_size=400)))
def test_check_raises_only_project_errors_and_json_round_trips(detector, text):
    try:
        verdict = detector.check_html(text, "fuzz")
    except StemcheckError:
        return
    row = json.loads(to_json_line(verdict, all_claims=True))
    assert 0 <= row["risk_score"] <= 100
    page_text = "\n\n".join(b.text for b in html_to_page(text, "fuzz").blocks)
    for claim in row["claims"]:
        assert page_text[claim["start"] : claim["end"]] == claim["text"]
