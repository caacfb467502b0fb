import json

from detector.output.report import to_html, to_json_line, to_text
from detector.records import Claim, Evidence, Flag, PageVerdict

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def verdict():
    c = Claim(text=f"Cures everything {PAYLOAD}", start=0, end=10)
    c.scores = {"efficacy_overclaim": 0.91}
    c.flags = [Flag("efficacy_overclaim", 0.91, 0.5, True, [Evidence("cue", PAYLOAD, 0, 5, "CURE"),
                                                             Evidence("model", "Cures", 0, 5, "words")])]
    return PageVerdict(
        target=f"http://x.example/{PAYLOAD}", risk_score=88, red_flag=True,
        categories={"efficacy_overclaim": 1}, claims=[c], condition_groups=[], products=[], title=PAYLOAD,
        model_sha256="a" * 64,
    )


def test_html_escapes_everything_from_the_page():
    html = to_html([verdict()], errors=[(PAYLOAD, PAYLOAD)])
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "default-src 'none'" in html


def test_json_round_trips():
    row = json.loads(to_json_line(verdict()))
    assert row["claims"][0]["text"].endswith(PAYLOAD)
    assert row["model"]["sha256"] == "a" * 64


def test_text_report_names_verdict_and_reason():
    text = to_text(verdict())
    assert "RED FLAG" in text and "Efficacy overclaim (made by the page; p=0.91)" in text
    assert "why efficacy overclaim" in text and "is cure or repair wording" in text
    assert "efficacy_overclaim" not in text  # codebook names stay in JSON
