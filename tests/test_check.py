import io
import json

import pytest
from typer.testing import CliRunner

from detector.cli import app
from detector.errors import InputError

from .conftest import CORPUS, local_server

runner = CliRunner()
BAD = "Our FDA-approved stem cells permanently regrow cartilage with no side effects. Only 3 spots left this month!"
HONEST = "Stem cell injections for knee arthritis are investigational and not FDA approved. Risks include infection."


def test_check_text_flags_red_flag_language(detector):
    v = detector.check_text(BAD)
    assert v.red_flag and v.risk_score >= 60
    cats = {c for claim in v.claims for c in claim.categories}
    assert {"approval_misrepresentation", "risk_denial"} <= cats
    claim = next(c for c in v.claims if "approval_misrepresentation" in c.categories)
    assert claim.flag("approval_misrepresentation").evidence
    assert claim.text in BAD


def test_honest_text_scores_low(detector):
    v = detector.check_text(HONEST)
    assert not v.red_flag
    assert v.categories["honest_disclosure"] >= 1


def test_public_api_matches_detector(detector):
    import detector as api

    assert api.check_text(BAD).risk_score == detector.check_text(BAD).risk_score
    html = f"<html><body><p>{BAD}</p></body></html>"
    assert api.check_html(html).red_flag


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.html", None, "no such file"),
        ("empty.html", b"", "empty"),
        ("blank.txt", b"   \n\n", "empty"),
        ("image.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("data.pdf", b"%PDF-1.4", "unsupported file type"),
    ],
)
def test_bad_files_are_clear_errors(detector, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        detector.check_file(path)


def test_cli_json_schema_and_bad_target_does_not_stop_batch(tmp_path):
    page = tmp_path / "clinic.html"
    page.write_text(f"<html><head><title>Clinic</title></head><body><p>{BAD}</p></body></html>")
    result = runner.invoke(app, ["check", "--format", "json", str(tmp_path / "nope.html"), str(page)])
    assert result.exit_code == 2
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    assert lines[0] == {"target": str(tmp_path / "nope.html"), "error": f"{tmp_path / 'nope.html'}: no such file"}
    row = lines[1]
    assert {"target", "risk_score", "red_flag", "categories", "claims", "model"} <= set(row)
    assert row["red_flag"] is True and len(row["model"]["sha256"]) == 64
    claim = row["claims"][0]
    assert {"text", "categories", "scores", "negated", "reported", "flags", "evidence"} <= set(claim)
    assert row["label"] == "RED FLAG" and row["top_evidence"]
    assert "nope.html: no such file" in result.stderr


def test_cli_stdin_text():
    result = runner.invoke(app, ["check", "-"], input=BAD)
    assert result.exit_code == 0
    assert "RED FLAG" in result.stdout and "Risk denial" in result.stdout


def test_cli_empty_stdin_is_an_error():
    result = runner.invoke(app, ["check", "-"], input="")
    assert result.exit_code == 2
    assert "<stdin>: empty" in result.stderr


def test_cli_html_report_escapes_page_text(tmp_path):
    page = tmp_path / "xss.html"
    page.write_text(
        "<html><head><title>&lt;script&gt;alert(1)&lt;/script&gt;</title></head><body>"
        f"<p>{BAD} &lt;img src=x onerror=alert(2)&gt;</p></body></html>"
    )
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["check", "--format", "html", "--output", str(out), str(page)])
    assert result.exit_code == 0
    html = out.read_text()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Content-Security-Policy" in html


def served():
    body = f"<html><body><p>{BAD}</p></body></html>".encode()
    return local_server({"/": (200, {"Content-Type": "text/html; charset=utf-8"}, body)})


def test_cli_url_needs_allow_private_for_loopback():
    with served() as base:
        url = base + "/"
        refused = runner.invoke(app, ["check", url])
        allowed = runner.invoke(app, ["check", "--format", "json", "--allow-private", url])
    assert refused.exit_code == 2 and "non-public address" in refused.stderr
    assert allowed.exit_code == 0 and json.loads(allowed.stdout)["red_flag"] is True


def test_demo_pages_rank_red_flags_first():
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0
    assert "ranked by risk" in result.stdout
    assert len(list((CORPUS / "pages").glob("*.html"))) >= 80


def test_stdin_reader_accepts_text_streams(detector):
    v = detector.check_target("-", stdin=io.StringIO(BAD))
    assert v.target == "<stdin>" and v.red_flag
