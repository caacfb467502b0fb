"""The `stemcheck history` HTML report in a real browser: the chart and tables render under the report's own
strict CSP, archived text stays text, and every capture is one click away. Writes docs/screenshots/history.png
when STEMCHECK_SCREENSHOTS=1 (as test_browser.py does)."""

from __future__ import annotations

import dataclasses

from detector.history import read_history
from detector.output.history import to_html
from detector.settings import ArchiveSettings
from detector.source.archive import WaybackArchive
from tests.archive import TARGET, stand_in_archive
from tests.browser.test_browser import SHOTS
from tests.test_history import FAST


def test_history_report_renders_its_chart_and_links(page, detector, tmp_path) -> None:  # noqa: ANN001
    with stand_in_archive() as archive:
        wb = WaybackArchive(archive.base, dataclasses.replace(FAST, archive=ArchiveSettings(delay=0.0)),
                            allow_private=True, sleep=lambda s: None)
        history = read_history(detector, wb, TARGET)
    report = tmp_path / "history.html"
    report.write_text(to_html(history), encoding="utf-8")
    page.goto(report.as_uri())
    assert page.evaluate("getComputedStyle(document.querySelector('.note')).borderLeftStyle") == "solid", \
        "the inline stylesheet must load under the report's CSP"
    assert page.locator("#chart circle").count() == len(history.timeline)
    assert page.locator("#chart path.risk").get_attribute("d").startswith("M")
    assert page.locator("#snapshots tbody tr").count() == len(history.snapshots)
    assert "not read: timeout" in page.inner_text("#snapshots")
    first = page.locator("#snapshots a").first.get_attribute("href")
    assert first.startswith(archive.base + "/web/20180115093000/")
    assert "gone by 2023-04-10" in page.inner_text("#claims") and "still on the page" in page.inner_text("#claims")
    page.set_viewport_size({"width": 1100, "height": 1500})
    page.screenshot(path=str(SHOTS / "history.png"), full_page=False)
    # archived text is hostile input: a claim carrying markup must reach the page as text
    evil = "<img src=x onerror=alert(1)> Our cells are FDA approved."
    history.claims[0].text = evil
    report.write_text(to_html(history), encoding="utf-8")
    page.goto(report.as_uri())
    assert evil in page.inner_text("#claims")
    assert page.locator("img").count() == 0
    assert page.dialogs == []
