"""Hostile pages through Detector.check_bytes / check_html and extract.html_to_page.

The rule: a page is analysed (its text becomes claims) or refused with an InputError that says why;
it is never reported as "no claims" while it had text.
"""

from __future__ import annotations

import codecs
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from detector.errors import InputError
from detector.extract import html_to_page
from detector.source.page import decode_html, looks_binary

ROOT = Path(__file__).resolve().parents[2]
CLAIM = "Our FDA-approved stem cell treatment cures arthritis with no side effects."
P = f"<p>{CLAIM}</p>"


def analysed_or_refused(call, expect_word: str = "stem"):  # noqa: ANN001
    """Run a check; return ("refused", message) or ("analysed", verdict), enforcing the rule."""
    try:
        verdict = call()
    except InputError as exc:
        assert str(exc).strip(), "a refusal names its reason"
        return "refused", str(exc)
    assert verdict.claims, f"verdict with zero claims on a page with text: {verdict.reasons}"
    assert any(expect_word in c.text for c in verdict.claims), [c.text for c in verdict.claims]
    return "analysed", verdict


# -- big pages: one child process, so time and peak memory are the detector's own ------------------

BIG_CHILD = r"""
import json, sys, time
from detector.check import Detector
from detector.errors import InputError

def hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

d = Detector.load()
d.check_html("<p>Warm up the stem cell pipeline once.</p>")
P = "<p>Our FDA-approved stem cell treatment cures arthritis with no side effects.</p>"
SENT = "Stem cells cure everything. "
cases = {
    "nested_div_100k": lambda: d.check_html("<div>" * 100_000 + P + "</div>" * 100_000),
    "nested_span_100k": lambda: d.check_html("<span>" * 100_000 + P + "</span>" * 100_000),
    "attribute_10mb": lambda: d.check_html('<div data-x="' + "a" * 10_000_000 + '">' + P + "</div>"),
    "text_node_15mb": lambda: d.check_html("<p>" + SENT * 540_000 + "</p>"),
    "text_node_50mb_str": lambda: d.check_html("<p>" + SENT * 1_800_000 + "</p>"),
    "text_node_50mb_bytes": lambda: d.check_bytes(("<p>" + SENT * 1_800_000 + "</p>").encode(), "big.html",
                                                  "text/html"),
}
out = {"baseline_mb": hwm_mb()}
for name, call in cases.items():
    t0 = time.process_time()  # CPU time: a loaded machine stretches wall time, not the work done
    try:
        v = call()
        row = {"outcome": "analysed", "claims": len(v.claims),
               "stem": sum("tem cell" in c.text for c in v.claims)}
    except InputError as exc:
        row = {"outcome": "refused", "message": str(exc)}
    row["seconds"] = round(time.process_time() - t0, 3)
    row["peak_mb"] = round(hwm_mb(), 1)
    out[name] = row
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def big() -> dict:
    proc = subprocess.run([sys.executable, "-c", BIG_CHILD], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("case", "expected", "limit_word"), [
    ("nested_div_100k", "refused", "parser steps"),
    ("nested_span_100k", "analysed", None),
    ("attribute_10mb", "analysed", None),
    ("text_node_15mb", "analysed", None),
    ("text_node_50mb_str", "refused", "20,000,000 limit"),
    ("text_node_50mb_bytes", "refused", "20,000,000 limit"),
])
def test_big_pages_bounded_in_time_and_memory(big, case, expected, limit_word):
    row = big[case]
    assert row["outcome"] == expected, row
    assert row["seconds"] < 5, row
    assert row["peak_mb"] - big["baseline_mb"] < 700, (row, big["baseline_mb"])
    if expected == "refused":
        assert limit_word in row["message"], row
    else:
        assert row["claims"] > 0 and row["stem"] > 0, row


def test_nesting_guard_keeps_ordinary_deep_pages():
    """5,000 nested <div>s (an existing regression case) still parse; the guard only stops the quadratic."""
    page = html_to_page("<div>" * 5000 + "deep stem cell text" + "</div>" * 5000, "deep")
    assert page.blocks[-1].text == "deep stem cell text"
    with pytest.raises(InputError, match="parser steps"):
        html_to_page("<ul>" * 30_000 + "x", "ul")
    with pytest.raises(InputError, match="parser steps"):
        html_to_page("<div>" * 1000 + "<p>x</p>" * 300_000, "wide")


def test_deep_nesting_refusal_is_fast():
    t0 = time.process_time()
    with pytest.raises(InputError):
        html_to_page("<section>" * 200_000 + P, "deep")
    assert time.process_time() - t0 < 5  # CPU seconds; the unguarded parse is quadratic (minutes)


# -- encodings, NULs, empty and script-only pages -------------------------------------------------

def test_stray_nul_bytes_do_not_hide_a_page(detector):
    data = f"<html><body><p>Our FDA-approved stem cell\x00 treatment cures arthritis.</p>{P}</body></html>".encode()
    assert not looks_binary(data)
    kind, _ = analysed_or_refused(lambda: detector.check_bytes(data, "nul.html", "text/html"))
    assert kind == "analysed"
    kind, _ = analysed_or_refused(lambda: detector.check_html(P.replace(" ", "\x00 ")))
    assert kind == "analysed"


def test_mostly_nul_bytes_refused_as_binary(detector):
    data = b"<p>" + b"\x00" * 500 + b"stem cells</p>"
    with pytest.raises(InputError, match="binary"):
        detector.check_bytes(data, "nul.html", "text/html")


def test_bom_beats_contradicting_header_charset(detector):
    data = codecs.BOM_UTF8 + "<p>Café: our stem cells cure arthritis, guaranteed.</p>".encode()
    text, how = decode_html(data, "iso-8859-1")
    assert how == "bom:utf-8" and "Café" in text
    kind, v = analysed_or_refused(lambda: detector.check_bytes(data, "bom.html", "text/html", "iso-8859-1"))
    assert kind == "analysed" and "Café" in v.claims[0].text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("declared", [None, "iso-8859-1", "utf-16"])
def test_utf16_without_bom_is_read_not_refused(detector, encoding, declared):
    data = f"<html><body>{P}</body></html>".encode(encoding)
    text, how = decode_html(data, declared)
    assert CLAIM in text and how == f"detected:{encoding}"
    kind, _ = analysed_or_refused(lambda: detector.check_bytes(data, "u16.html", "text/html", declared))
    assert kind == "analysed"


def test_mixed_encodings_in_one_page_are_analysed(detector):
    data = ("<p>Café clinic: our stem cells cure arthritis.</p>".encode()
            + "<p>Crème stem cells regrow cartilage, guaranteed.</p>".encode("cp1252"))
    text, how = decode_html(data)
    assert how == "fallback:cp1252" and "regrow cartilage" in text
    kind, v = analysed_or_refused(lambda: detector.check_bytes(data, "mixed.html", "text/html"))
    assert kind == "analysed" and len(v.claims) == 2


@pytest.mark.parametrize("data", [b"", b"   \n\t  ", b"\r\n"])
def test_empty_body_refused(detector, data):
    with pytest.raises(InputError, match="empty"):
        detector.check_bytes(data, "empty.html", "text/html")


@pytest.mark.parametrize("html", ["", "   "])
def test_empty_html_refused(detector, html):
    with pytest.raises(InputError, match="empty"):
        detector.check_html(html)


@pytest.mark.parametrize("html", [
    "<script>var claim = 'our stem cells cure everything';</script><style>p{color:red}</style>",
    "<html><head><style>body{}</style></head><body><script>x()</script><noscript></noscript></body></html>",
    "<!-- stem cells cure everything -->",
    "<template><p>Our stem cells cure arthritis.</p></template>",
    "<svg><text>Our stem cells cure arthritis.</text></svg>",
])
def test_script_and_style_only_pages_refused_with_reason(detector, html):
    with pytest.raises(InputError, match="no readable text"):
        detector.check_html(html)


@pytest.mark.parametrize("html", ["<p>Hello</p>", "<title>Clinic</title><script>x()</script>"])
def test_single_word_page_says_why_it_has_no_claims(detector, html):
    """One word is not a sentence: the verdict is explicit about it rather than silent."""
    verdict = detector.check_html(html)
    assert verdict.claims == [] and "no sentence of two or more words to assess" in verdict.reasons


@pytest.mark.parametrize("call", [
    lambda d: d.check_text("Our stem cells \ud800 cure arthritis."),
    lambda d: d.check_html("<title>a\udfffb</title><p>Our stem cells \ud800 cure arthritis.</p>"),
], ids=["text", "html"])
def test_lone_surrogates_do_not_escape(detector, call):
    kind, v = analysed_or_refused(lambda: call(detector))
    assert kind == "analysed"
    json.dumps(v.to_dict()).encode("utf-8")


@pytest.mark.parametrize("html", [
    "<html><head><p>Our stem cells cure arthritis today.</p></head></html>",
    "<xmp>Our stem cells cure arthritis today.</xmp>",
    "<noscript>Our stem cells cure arthritis today.</noscript>",
    "<table><tr><td>Our stem cells cure arthritis today.</td></tr></table>",
    "<p>Our stem cells cure " + "<b>" * 2000 + "arthritis today.</p>",
])
def test_markup_tricks_are_analysed(detector, html):
    kind, _ = analysed_or_refused(lambda: detector.check_html(html))
    assert kind == "analysed"
