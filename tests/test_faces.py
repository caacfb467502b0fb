"""The faces people meet first: --version, --help, --quiet, settings, honest messages, the diff, the store's
counts, Datasette metadata. None of these needs the trained model."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detector import __version__
from detector.cli import app
from detector.output.datasette import TABLES, metadata
from detector.output.store import ResultStore
from detector.records import PageResult

RUNNER = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


def test_version_and_help_read_plainly() -> None:
    r = RUNNER.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"stemcheck {__version__}"
    for args in (["--help"], ["check", "--help"], ["scan", "--help"], ["demo", "--help"]):
        out = RUNNER.invoke(app, args).stdout
        assert "<bool>" not in out and "--help" in out, args
    assert "--quiet" in RUNNER.invoke(app, ["--help"]).stdout


def test_settings_command_shows_values_and_their_source(tmp_path: Path) -> None:
    file = tmp_path / "stemcheck.toml"
    file.write_text("[crawl]\nmax_pages = 12\ndelay = 2\n")
    env = {"STEMCHECK_SETTINGS": str(file), "STEMCHECK_CRAWL_MAX_PAGES": "7"}
    r = RUNNER.invoke(app, ["settings", "--format", "json"], env=env)
    assert r.exit_code == 0, r.output
    rows = {row["setting"]: row for row in json.loads(r.stdout)}
    assert rows["crawl.max_pages"]["value"] == 7 and rows["crawl.max_pages"]["source"] == "STEMCHECK_CRAWL_MAX_PAGES"
    assert rows["crawl.delay"]["value"] == 2.0 and str(file) in rows["crawl.delay"]["source"]
    assert rows["fetch.max_bytes"]["source"] == "default"
    text = RUNNER.invoke(app, ["settings"], env=env).stdout
    assert "crawl.max_pages = 7  (from STEMCHECK_CRAWL_MAX_PAGES)" in text
    assert "fetch.max_bytes = 5000000  (default; set with STEMCHECK_FETCH_MAX_BYTES)" in text
    bad = RUNNER.invoke(app, ["settings"], env={"STEMCHECK_CRAWL_MAX_PAGES": "lots"})
    assert bad.exit_code == 2 and "STEMCHECK_CRAWL_MAX_PAGES" in bad.stderr and "Traceback" not in bad.output


def test_check_html_says_nothing_was_written_when_every_target_failed(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    r = RUNNER.invoke(app, ["check", "--format", "html", "-o", str(out), str(tmp_path / "missing.html")])
    assert r.exit_code == 2 and not out.exists()
    assert "wrote" not in r.stderr and f"nothing written to {out}" in r.stderr
    quiet = RUNNER.invoke(app, ["--quiet", "check", "--format", "html", "-o", str(out), str(tmp_path / "x.html")])
    assert quiet.exit_code == 2 and "nothing written" not in quiet.stderr and "x.html" in quiet.stderr


def _row(key: str, site: str, status: str = "analysed", score: int | None = 60, claims: list | None = None,
         sha: str = "c" * 64) -> PageResult:
    return PageResult(item_key=key, seq=int(key[-1]) if key[-1].isdigit() else 0, url=f"https://{site}/{key}",
                      site=site, source="test", status=status, model_sha256="m" * 64,
                      content_sha256=sha if status != "skipped" else "", risk_score=score,
                      red_flag=bool(score and score >= 50), claims=claims or [])


def _claim(text: str, category: str) -> dict:
    return {"text": text, "categories": [category], "scores": {category: 0.9}, "evidence": []}


def _store(path: Path) -> tuple[int, int]:
    with ResultStore(path) as store:
        a, _ = store.open_run("a", "m" * 64, ["x"], {})
        store.add(a, [_row("p1", "old.example", claims=[_claim("We cure MS.", "efficacy_overclaim")]),
                      _row("p2", "gone.example", score=40),
                      _row("link3", "old.example", status="failed", score=None, sha=""),  # a link never fetched
                      _row("junk4", "", status="failed", score=None, sha="")])  # a junk URL-list line
        store.finish_run(a, {})
        b, _ = store.open_run("b", "m" * 64, ["x"], {})
        store.add(b, [_row("p1", "old.example", score=30, claims=[
            _claim("Results vary; the treatment is not FDA approved.", "honest_disclosure")]),
            _row("p5", "new.example", score=0)])
        store.finish_run(b, {})
    return a, b


def test_site_rows_count_pages_read_and_no_nameless_site(tmp_path: Path) -> None:
    db = tmp_path / "scans.sqlite"
    a, _ = _store(db)
    with sqlite3.connect(db) as con:
        sites = dict(con.execute("SELECT site, pages FROM sites WHERE run_id=?", (a,)).fetchall())
    assert sites == {"old.example": 1, "gone.example": 1}, "a link never fetched is no page; no site without a name"


def test_diff_in_text_json_and_html(tmp_path: Path) -> None:
    db = tmp_path / "scans.sqlite"
    _store(db)
    text = RUNNER.invoke(app, ["diff", "previous", "latest", "--db", str(db)])
    assert text.exit_code == 0, text.output
    assert "None" not in text.stdout and ": score" not in text.stdout.replace("example: score", "")
    assert "new.example: new in this scan, score 0" in text.stdout
    assert "gone.example: not in the later scan (score was 40)" in text.stdout
    assert "old.example: score 60 -> 30 (-30)" in text.stdout
    assert "- [Efficacy overclaim] We cure MS." in text.stdout
    assert "+ [disclosure] Results vary; the treatment is not FDA approved." in text.stdout
    data = json.loads(RUNNER.invoke(app, ["diff", "previous", "--db", str(db), "-f", "json"]).stdout)
    old = next(d for d in data["sites"] if d["site"] == "old.example")
    assert old["disclosures_appeared"][0]["text"].startswith("Results vary") and not old["appeared"]
    out = tmp_path / "diff.html"
    html = RUNNER.invoke(app, ["diff", "previous", "--db", str(db), "-f", "html", "-o", str(out)])
    assert html.exit_code == 0 and out.read_text().startswith("<!doctype html>")
    page = out.read_text()
    assert "Disclosures added" in page and "We cure MS." in page and "default-src 'none'" in page


def test_latest_verdict_view_and_metadata_match_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "scans.sqlite"
    _store(db)
    with sqlite3.connect(db) as con:
        latest = con.execute("SELECT site, verdict, risk_score, run_id FROM latest_site_verdicts "
                             "ORDER BY site").fetchall()
        assert [r[0] for r in latest] == ["gone.example", "new.example", "old.example"]
        assert dict((r[0], r[2]) for r in latest) == {"gone.example": 40, "new.example": 0, "old.example": 30}
        for name, table in TABLES.items():
            columns = [r[1] for r in con.execute(f"PRAGMA table_info({name})")]
            assert columns, f"{name}: in the metadata but not in the store"
            assert set(table["columns"]) == set(columns), f"{name}: every column described, and only those"
            assert set(table.get("facets", [])) <= set(columns)
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    assert names == set(TABLES), "every table and view has a description"
    shipped = json.loads((ROOT / "docs" / "datasette" / "metadata.json").read_text())
    assert shipped == json.loads(json.dumps(metadata("scans"))), "docs/datasette/metadata.json is up to date"


def test_datasette_serves_the_store_with_descriptions_and_facets(tmp_path: Path) -> None:
    datasette_app = pytest.importorskip("datasette.app", reason="datasette is a dev dependency")
    db = tmp_path / "scans.sqlite"
    _store(db)
    ds = datasette_app.Datasette([str(db)], metadata=metadata("scans"))

    async def fetch() -> tuple:
        rows = await ds.client.get("/scans/latest_site_verdicts.json?_shape=array")
        page = await ds.client.get("/scans/sites")
        faceted = await ds.client.get("/scans/pages.json")
        return rows, page, faceted

    with ThreadPoolExecutor(1) as pool:  # its own thread: a browser test may have left a loop running in this one
        rows, page, faceted = pool.submit(asyncio.run, fetch()).result()
    assert rows.status_code == 200 and {r["site"] for r in rows.json()} == {"gone.example", "new.example",
                                                                          "old.example"}
    assert page.status_code == 200 and "the site verdict (its worst page" in page.text
    assert {"status", "label"} <= set(faceted.json()["facet_results"])


def test_progress_only_for_a_person_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from detector import console

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(console.err, "_force_terminal", False)
    assert not console.live() and console.bar(10).disable, "a pipe gets no live display"
    monkeypatch.setattr(console.err, "_force_terminal", True)
    assert console.live() and not console.bar(None).disable
    assert console.bar(1).disable, "one target needs no bar"
    console.set_quiet(True)
    try:
        assert not console.live()
    finally:
        console.set_quiet(False)
    monkeypatch.setenv("CI", "true")
    assert not console.live(), "CI is quiet even on a terminal"


def test_demo_is_a_screenful_with_whole_sentences() -> None:
    r = RUNNER.invoke(app, ["demo"], env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert len(lines) <= 45, f"{len(lines)} lines"
    assert "stemcheck demo --all" in r.stdout and "need human verification" in r.stdout
    assert "…" not in r.stdout and "..." not in r.stdout, "no sentence cut short"
    assert sum(line.startswith("│ ") and line[2:4].strip().isdigit() for line in lines) == 10
    every = RUNNER.invoke(app, ["demo", "--all"], env={"COLUMNS": "120"})
    assert every.exit_code == 0 and "142 bundled pages ranked by risk" in every.stdout


def test_site_categories_count_when_the_first_page_was_gated_out(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "scans.sqlite") as store:
        run, _ = store.open_run("k", "m" * 64, ["x"], {})
        store.add(run, [_row("a1", "c.example", status="irrelevant", score=None),
                        _row("b2", "c.example", claims=[_claim("We cure MS.", "efficacy_overclaim")])])
        store.finish_run(run, {})
        row = store.db.execute("SELECT categories, pages FROM sites").fetchone()
    assert json.loads(row["categories"]).get("efficacy_overclaim") == 1 and row["pages"] == 2
