"""Web-facing output with hostile strings, and bounded fuzzing of extraction, checks and JSON output."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.errors import StemcheckError
from detector.extract import html_to_page, text_to_page
from detector.output.report import to_html, to_json_line
from detector.records import Claim, Evidence, Flag, PageVerdict, SitePage, SiteReport
from detector.source.page import decode_html, looks_binary
from detector.source.warc import WarcEvent

XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "\"><svg onload=alert(1)>",
    "'><iframe src=javascript:alert(1)>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "</title><script>alert(1)</script>",
    "<!--<script>-->",
    "<style>@import 'http://evil.example/x.css';</style>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
]


class TagAudit(HTMLParser):
    """Collects what a browser would treat as markup: tags and their attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append((tag, attrs))


def audit(html: str) -> None:
    assert "<script" not in html.lower()
    parser = TagAudit()
    parser.feed(html)
    tags = {t for t, _ in parser.tags}
    assert not tags & {"script", "img", "svg", "iframe", "a", "object", "embed", "link", "base", "form"}, tags
    metas = [dict(a) for t, a in parser.tags if t == "meta"]
    assert any(m.get("http-equiv") == "Content-Security-Policy" and "default-src 'none'" in (m.get("content") or "")
               for m in metas), "CSP meta tag present"
    assert not [m for m in metas if (m.get("http-equiv") or "").lower() == "refresh"]
    for tag, attrs in parser.tags:
        for name, value in attrs:
            assert not name.lower().startswith("on"), (tag, name)
            assert "javascript:" not in (value or "").lower(), (tag, name, value)
    assert sum(1 for t, _ in parser.tags if t == "style") == 1


def verdict(payload: str) -> PageVerdict:
    claim = Claim(text=f"Stem cells cure {payload}", start=0, end=10, scores={"efficacy_overclaim": 0.9},
                  flags=[Flag("efficacy_overclaim", 0.9, 0.5, True, [Evidence("cue", payload, 0, 3, "CURE"),
                                                                       Evidence("rule", payload)]),
                         Flag("risk_denial", 0.8, 0.5, False, [Evidence("context", payload, 0, 3, "reported")])])
    return PageVerdict(target=f"http://clinic.example/{payload}", risk_score=90, red_flag=True,
                       categories={"efficacy_overclaim": 1}, claims=[claim], condition_groups=[payload],
                       products=[payload], title=payload, reasons=[payload], model_sha256=payload)


def site(payload: str) -> SiteReport:
    v = verdict(payload)
    page = SitePage(url=f"http://clinic.example/?q={payload}", status=200, record_id=payload, date=payload,
                    verdict=v)
    broken = SitePage(url=f"javascript:{payload}", status=200, record_id=payload, date="", error=payload)
    return SiteReport(site=payload, start_url=payload, warc_path=payload, warc_sha256=payload,
                      crawl_started=payload, crawl_finished=payload, requests=1, risk_score=90, red_flag=True,
                      pages=[page, broken], events=[WarcEvent(payload, "error", payload, payload)])


@pytest.mark.parametrize("payload", XSS)
def test_html_report_escapes_everything_scraped(payload):
    out = to_html([verdict(payload)], errors=[(payload, payload)], sites=[site(payload)])
    audit(out)


def test_html_report_from_a_hostile_page(detector):
    page = "".join(f"<p>Our stem cells cure arthritis {p} with no side effects.</p>" for p in XSS)
    v = detector.check_html(f"<title>{XSS[0]}{XSS[2]}</title>{page}", source="http://x.example/<script>")
    assert v.claims
    audit(to_html([v]))


# -- fuzzing ---------------------------------------------------------------------------------------

TAGS = st.sampled_from(["<p>", "</p>", "<li>", "<div>", "</div>", "<script>", "</script>", "<title>", "</title>",
                        "<table><tr><td>", "<!--", "-->", "\x00", "\ufeff", "\ud800", "&#0;", "&#xD800;",
                        "<![CDATA[", "<svg>", "<math>", "<template>", "<plaintext>", "\r", "\u2028", "stem cells "])
HTMLISH = st.lists(st.one_of(st.text(max_size=40), TAGS), max_size=60).map("".join)
BYTES = st.one_of(
    st.binary(max_size=3000),
    HTMLISH.map(lambda s: s.encode("utf-8", "surrogatepass")),
    HTMLISH.map(lambda s: s.encode("utf-16-le", "surrogatepass")),
    st.tuples(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b""]), st.binary(max_size=500))
    .map(b"".join),
)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def valid_json_line(line: str) -> dict:
    assert "\n" not in line
    line.encode("utf-8")  # writable to a UTF-8 stream: no lone surrogates
    return json.loads(line)


@FUZZ
@given(HTMLISH)
def test_extraction_never_raises_unexpectedly(html):
    try:
        page = html_to_page(html, "fuzz")
    except StemcheckError:
        return
    for block in page.blocks:
        assert block.text and block.text == block.text.strip()
        block.text.encode("utf-8")
    for block in text_to_page(html, "fuzz").blocks:
        block.text.encode("utf-8")


@FUZZ
@given(BYTES)
def test_decoding_never_raises(data):
    text, how = decode_html(data, None)
    assert isinstance(text, str) and how
    looks_binary(data)


@FUZZ
@given(st.one_of(HTMLISH, st.text(max_size=400)))
def test_check_html_and_json_output(detector, text):
    try:
        v = detector.check_html(text, "fuzz")
    except StemcheckError:
        return
    row = valid_json_line(to_json_line(v, all_claims=True))
    assert 0 <= row["risk_score"] <= 100


@FUZZ
@given(BYTES, st.sampled_from(["", "text/html", "text/plain"]), st.sampled_from([None, "utf-8", "latin-1",
                                                                                   "utf-16", "bogus"]))
def test_check_bytes_and_json_output(detector, data, ctype, charset):
    try:
        v = detector.check_bytes(data, "fuzz", ctype, charset)
    except StemcheckError:
        return
    row = valid_json_line(to_json_line(v, all_claims=True))
    if not row["claims"]:
        assert "no sentence of two or more words to assess" in row["reasons"]


@FUZZ
@given(st.text(max_size=200), st.text(max_size=200))
def test_check_text_and_json_output(detector, text, source):
    try:
        v = detector.check_text(text, source)
    except StemcheckError:
        return
    valid_json_line(to_json_line(v))


def test_json_line_with_undecodable_file_name_is_writable(detector):
    v = detector.check_text("Our stem cells cure arthritis.", source="clinic-\udcff.html")
    valid_json_line(to_json_line(v))
