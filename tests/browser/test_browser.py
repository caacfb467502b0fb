"""The web app in a real browser (Playwright + Debian's Chromium): a journalist checks a local clinic site,
a regulator sorts and filters the triage table, and hostile page text stays text (no dialog ever fires).

Screenshots of the Check and Triage pages are written to docs/screenshots/ for the docs and README.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from tests.browser import HOSTILE_SITE

# docs/screenshots is refreshed only on request (STEMCHECK_SCREENSHOTS=1), so test runs leave the tree clean
SHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots" if os.environ.get("STEMCHECK_SCREENSHOTS")
         else Path(tempfile.gettempdir()) / "stemcheck-screenshots")


def test_check_whole_site_then_download_the_report(page, web_app: str, clinic: str, tmp_path: Path) -> None:  # noqa: ANN001
    page.goto(f"{web_app}/check")
    assert page.evaluate("getComputedStyle(document.querySelector('header.top')).display") == "flex", \
        "the stylesheet must load under the CSP"
    page.fill("#url", clinic + "/")
    page.check("#whole_site")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/jobs/"))
    page.wait_for_selector("#report", timeout=45_000)  # the job page refreshes itself until the report is there
    assert page.inner_text("#verdict") == "RED FLAG"
    assert int(page.inner_text("#score")) >= 50
    marks = page.locator("mark.flag")
    assert marks.count() >= 3
    assert page.locator("#strongest .claim").count() == 3, "the report opens with the strongest evidence"
    folded = page.locator("#all-claims")
    assert folded.get_attribute("open") is None and not folded.locator(".claim").first.is_visible(), \
        "the rest is folded"
    page.set_viewport_size({"width": 1280, "height": 1700})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "check.png"), full_page=False)
    page.click("#all-claims > summary")
    assert folded.locator(".claim").first.is_visible()
    assert "regenerates damaged discs" in page.inner_text("#report")
    assert "codebook: " in page.inner_text("#report")  # the rule behind each flag, in words
    assert "human verification" in page.inner_text(".note >> nth=0")
    assert re.fullmatch(r"[0-9a-f]{64}", page.inner_text("#warc-sha256"))
    assert f"{clinic}/knee-treatment" in page.text_content("#pages")  # folded, but there
    with page.expect_download() as info:
        page.click("#export-html")
    saved = tmp_path / "report.html"
    info.value.save_as(saved)
    assert "stemcheck report" in saved.read_text(encoding="utf-8")
    with page.expect_download() as info:
        page.click("#export-warc")
    warc = tmp_path / "evidence.warc.gz"
    info.value.save_as(warc)
    import hashlib

    assert hashlib.sha256(warc.read_bytes()).hexdigest() == page.inner_text("#warc-sha256")
    assert page.dialogs == []


def _column(page, n: int) -> list[str]:  # noqa: ANN001
    return [t.strip() for t in page.locator(f"#triage tbody tr td:nth-child({n})").all_inner_texts()]


def test_triage_sorts_and_filters(page, web_app: str) -> None:  # noqa: ANN001
    page.goto(f"{web_app}/triage")
    risks = [int(x) for x in _column(page, 2)]
    assert risks == sorted(risks, reverse=True) and len(risks) == 5
    page.click("#sort-site")
    page.wait_for_url(re.compile(r"sort=site"))
    names = _column(page, 1)
    assert names == sorted(names, reverse=True)
    page.click("#sort-site")
    page.wait_for_url(re.compile(r"order=asc"))
    assert _column(page, 1) == sorted(names)
    page.select_option("#f-category", "cure_all")
    page.click("#apply")
    page.wait_for_url(re.compile(r"category=cure_all"))
    filtered = _column(page, 1)
    assert filtered and len(filtered) < 5 and "gamma-cells.co.uk" not in filtered
    page.goto(f"{web_app}/triage")
    page.fill("#f-tld", "mx")
    page.click("#apply")
    page.wait_for_url(re.compile(r"tld=mx"))
    assert _column(page, 1) == ["alpha-stem.mx"]
    page.goto(f"{web_app}/triage")
    page.screenshot(path=str(SHOTS / "triage.png"), full_page=False)
    page.click("text=alpha-stem.mx")
    page.wait_for_selector("#history")
    assert page.locator("#history tbody tr").count() == 2
    assert "Appeared:" in page.inner_text("main")
    assert page.dialogs == []


def test_hostile_title_and_text_render_as_text(page, web_app: str, clinic: str) -> None:  # noqa: ANN001
    page.goto(f"{web_app}/check")
    page.fill("#url", clinic + "/hostile")
    page.click("#submit")
    page.wait_for_selector("#report")
    report = page.inner_text("#report")
    assert "<script>alert(1)</script> Stem cell clinic" in report
    assert "<img src=x onerror=alert(1)>" in report
    assert page.locator("#report script, #report img").count() == 0
    page.goto(f"{web_app}/check")
    text = ("Our FDA-approved stem cell therapy regrows cartilage <img src=x onerror=alert(1)>. "
            "It cures arthritis <script>alert(1)</script>, guaranteed.")
    page.fill("#text", text)
    page.click("#submit")
    page.wait_for_selector("#report")
    assert "<img src=x onerror=alert(1)>" in page.inner_text("#report mark.flag >> nth=0")
    assert page.input_value("#text") == text
    page.goto(f"{web_app}/sites/{HOSTILE_SITE}")
    page.goto(f"{web_app}/triage?product=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert page.input_value("#f-product") == "<script>alert(1)</script>"
    page.wait_for_timeout(300)
    assert page.dialogs == [], "no script from a page or a parameter may run"
