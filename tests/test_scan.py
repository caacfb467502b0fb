"""Batch scans: any crawler's WARC, HTML directories, URL lists, Dask parity, resume, diff, bad input."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from detector.batch.runner import Scanner, ScanOptions, scan
from detector.cli import app
from detector.output.store import ResultStore
from tests.conftest import CORPUS, ROOT
from tests.sites import clinic_site, serve

RUNNER = CliRunner()
PAGES = CORPUS / "pages"


def chunked(body: bytes, size: int = 100) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        part = body[i : i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


def foreign_warc(path: Path) -> None:
    """A WARC as wget or Browsertrix would write it: requests, raw chunked and gzipped bodies, media, errors."""
    with path.open("wb") as fh:
        w = WARCWriter(fh, gzip=True)

        def response(url: str, status: str, headers: list, body: bytes) -> None:
            http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
            req = StatusAndHeaders(f"GET {url} HTTP/1.1", [("Host", "x")], is_http_request=True)
            w.write_record(w.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=req))

        html = "text/html; charset=utf-8"
        knee, prices = (PAGES / "pc-01.html").read_bytes(), (PAGES / "pc-07.html").read_bytes()
        response("https://www.clinic-a.example/knee", "200 OK",
                 [("Content-Type", html), ("Transfer-Encoding", "chunked")], chunked(knee))
        response("https://clinic-a.example/prices", "200 OK",
                 [("Content-Type", html), ("Content-Encoding", "gzip")], gzip.compress(prices))
        response("https://news.example/story", "200 OK", [("Content-Type", html)], (PAGES / "pn-01.html").read_bytes())
        response("https://recipes.example/cake", "200 OK", [("Content-Type", html)],
                 b"<html><body><h1>Lemon cake</h1><p>Beat the butter and sugar until pale.</p></body></html>")
        response("https://clinic-a.example/logo.png", "200 OK", [("Content-Type", "image/png")], b"\x89PNG....")
        response("https://clinic-a.example/gone", "404 Not Found", [("Content-Type", html)], b"<p>stem cells</p>")


def test_foreign_warc_is_decoded_gated_and_counted(tmp_path):
    warc = tmp_path / "crawl.warc.gz"
    foreign_warc(warc)
    result = scan([warc])
    frame = result.pages
    by_url = frame.set_index("url")
    assert by_url.loc["https://www.clinic-a.example/knee", "status"] == "analysed"
    assert bool(by_url.loc["https://www.clinic-a.example/knee", "red_flag"])
    assert bool(by_url.loc["https://clinic-a.example/prices", "red_flag"]), "gzip body decoded"
    assert by_url.loc["https://recipes.example/cake", "status"] == "irrelevant"
    assert by_url.loc["https://clinic-a.example/logo.png", "status"] == "skipped"
    assert by_url.loc["https://clinic-a.example/gone", "status"] == "skipped"
    summary = result.summary
    assert summary["analysed"] == 3 and summary["irrelevant"] == 1 and summary["skipped"] == 2
    sites = result.sites
    merged = frame.merge(sites[["site", "risk_score"]], on="site", suffixes=("", "_site"))
    assert len(merged) and "risk_score_site" in merged and len(result.sites) == len(sites), "sites survive a merge"
    assert sites.iloc[0]["site"] == "clinic-a.example", "www. folded; riskiest site first"
    assert sites.iloc[0]["analysed"] == 2 and sites.iloc[0]["red_flag_pages"] == 2
    assert set(frame.columns) >= {"url", "site", "fetched_at", "status", "risk_score", "red_flag", "top_evidence",
                                  "error", "efficacy_overclaim", "honest_disclosure"}


def test_cli_outputs_csv_parquet_and_reports_bad_inputs(tmp_path):
    warc = tmp_path / "crawl.warc.gz"
    foreign_warc(warc)
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(warc.read_bytes()[: len(warc.read_bytes()) // 2])
    junk = tmp_path / "junk.warc"
    junk.write_bytes(b"not a warc at all")
    out = tmp_path / "pages.parquet"
    r = RUNNER.invoke(app, ["scan", str(warc), str(cut), str(junk), str(tmp_path / "missing.warc.gz"), "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert "not a WARC file" in r.stderr and "no such file" in r.stderr and "cut.warc.gz" in r.stderr
    pages = pd.read_parquet(out)
    sites = pd.read_parquet(tmp_path / "pages.sites.parquet")
    assert (pages["status"] == "analysed").sum() >= 4, "the good WARC and the part of the cut one before the damage"
    failed = pages[pages["status"] == "failed"]
    assert any("cut.warc.gz" in e and "@" in e for e in failed["error"]), "the damaged record names file and offset"
    assert "site" in sites.columns and sites["risk_score"].is_monotonic_decreasing
    csv = tmp_path / "pages.csv"
    assert RUNNER.invoke(app, ["scan", str(warc), "-o", str(csv)]).exit_code == 0
    assert pd.read_csv(csv).shape[0] == 6 and (tmp_path / "pages.sites.csv").exists()


def test_html_directory_and_url_list(tmp_path):
    root = tmp_path / "sites"
    (root / "clinic-b").mkdir(parents=True)
    shutil.copy(PAGES / "pc-05.html", root / "clinic-b" / "index.html")
    shutil.copy(PAGES / "pn-11.html", root / "fda-update.html")
    (root / "clinic-b" / "broken.html").write_bytes(b"\x00\x01\x02" * 500)
    site = {"/treatments/knee-stem-cells": "pc-01.html", "/faq": "pc-24.html"}
    with serve(clinic_site(site)) as (base, log):
        urls = tmp_path / "clinics.txt"
        urls.write_text(f"# clinics to check\n{base}/\n\nnot a url\nftp://files.example/x\n{base}/faq\n")
        opts = ScanOptions(delay=0.05, allow_private=True, max_pages=5)
        result = Scanner(options=opts, warc_dir=tmp_path / "warcs").run([root, urls])
    pages = result.pages
    assert set(pages.loc[pages["status"] == "analysed", "site"]) >= {"clinic-b", "fda-update", base.split("//")[1]}
    assert log.max_active == 1 and log.paths()[0] == "/robots.txt"
    errors = " ".join(pages.loc[pages["status"] == "failed", "error"])
    assert "clinics.txt:4" in errors and "clinics.txt:5" in errors, "junk lines are reported with their line"
    assert "binary" in errors, "a binary .html file is a failed row, not a silent 'no claims'"
    assert (tmp_path / "warcs").glob("*.warc.gz"), "URL-list crawls keep their WARC evidence"
    assert result.summary["failed"] == 3


def test_dask_two_workers_match_single_process(tmp_path):
    pytest.importorskip("distributed")
    warc = tmp_path / "crawl.warc.gz"
    foreign_warc(warc)
    inputs = [warc, PAGES]
    single = Scanner(options=ScanOptions(batch_size=16)).run(inputs).pages
    dask = Scanner(options=ScanOptions(batch_size=16), workers=2, help_start=False).run(inputs).pages
    pd.testing.assert_frame_equal(single.reset_index(drop=True), dask.reset_index(drop=True))
    both = Scanner(options=ScanOptions(batch_size=16), workers=2).run(inputs).pages  # this process helps at start
    pd.testing.assert_frame_equal(single.reset_index(drop=True), both.reset_index(drop=True))
    assert len(single) > 100


def test_store_reuses_unchanged_content_and_diff_shows_changes(tmp_path):
    root = tmp_path / "sites"
    (root / "clinic-c").mkdir(parents=True)
    page = root / "clinic-c" / "index.html"
    shutil.copy(PAGES / "pc-09.html", page)
    shutil.copy(PAGES / "pc-02.html", root / "clinic-c" / "other.html")
    db = tmp_path / "store.sqlite"
    first = Scanner(db=db).run([root])
    again = Scanner(db=db).run([root])
    assert again.summary["reused"] == 2 and again.run_id != first.run_id
    pd.testing.assert_frame_equal(first.pages.drop(columns=["reused"]), again.pages.drop(columns=["reused"]))
    page.write_text("<html><body><h1>Stem cell clinic</h1><p>Our stem cell injections are investigational and not "
                    "FDA approved.</p><p>Book today: 50% off all stem cell packages this week only!</p></body></html>")
    Scanner(db=db).run([root])
    r = RUNNER.invoke(app, ["diff", "previous", "latest", "--db", str(db), "--format", "json"])
    assert r.exit_code == 0, r.output
    changes = json.loads(r.stdout)["sites"]
    assert changes and changes[0]["site"] == "clinic-c"
    assert changes[0]["disappeared"] and changes[0]["appeared"]
    assert any(c["category"] == "commercial_pressure" for c in changes[0]["appeared"])
    text = RUNNER.invoke(app, ["diff", "1", "3", "--db", str(db)])
    assert "clinic-c" in text.stdout and "  - [" in text.stdout
    bad = RUNNER.invoke(app, ["diff", "99", "latest", "--db", str(db)])
    assert bad.exit_code == 2 and "no such run" in bad.stderr
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")} >= {
            "runs", "pages", "claims", "flags", "sites"}


_CHILD = """
import sys
from pathlib import Path
from detector.batch.runner import ScanOptions, Scanner

def progress(counts):
    # 40 rows are in the store (the sink writes before it reports): say so, then wait to be killed
    if sum(counts[k] for k in ("analysed", "irrelevant", "failed", "skipped")) >= 40:
        print("written", flush=True)
        sys.stdin.readline()

Scanner(options=ScanOptions(batch_size=4), db=Path(sys.argv[1]), progress=progress).run([Path(sys.argv[2])])
"""


def test_kill_mid_scan_then_resume_loses_nothing(tmp_path):
    root = tmp_path / "many"
    for i in range(12):  # 12 copies of the page corpus, each its own site folder
        shutil.copytree(PAGES, root / f"copy{i:02d}", ignore=shutil.ignore_patterns("*.jsonl"))
    total = 12 * len(list(PAGES.glob("*.html")))
    db = tmp_path / "s.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(db), str(root)], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout.readline().strip() == "written", "the child reports once 40 rows are in the store"
    child.send_signal(signal.SIGKILL)  # mid-run: the child waits for this, so the timing cannot vary
    child.wait(timeout=600)
    child.stdin.close()
    child.stdout.close()
    with ResultStore(db) as store:
        assert store.integrity() == "ok"
        killed_rows = len(store.done_keys(1))
        assert store.runs()[0]["status"] == "running" and killed_rows >= 40
    result = Scanner(options=ScanOptions(batch_size=4), db=db).run([root])
    assert result.summary["resumed"] and result.run_id == 1
    assert result.summary["analysed"] + result.summary["irrelevant"] == total - killed_rows
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n, distinct = con.execute("SELECT count(*), count(DISTINCT item_key) FROM pages WHERE run_id=1").fetchone()
        assert n == distinct == total
        assert con.execute("SELECT status FROM runs WHERE run_id=1").fetchone()[0] == "finished"


def test_scan_api_and_cli_guards(tmp_path):
    r = RUNNER.invoke(app, ["scan", str(PAGES), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"])
    assert r.exit_code == 2 and "not both" in r.stderr
    r = RUNNER.invoke(app, ["scan", str(PAGES), "-o", str(tmp_path / "x.xlsx")])
    assert r.exit_code == 2 and ".csv or .parquet" in r.stderr
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    r = RUNNER.invoke(app, ["scan", str(tmp_path / "notes.docx")])
    assert r.exit_code == 2 and "not a WARC" in r.stderr
    r = RUNNER.invoke(app, ["scan", str(PAGES / "pc-01.html")])
    assert r.exit_code == 0 and "scanned 1 pages" in r.stdout


def test_a_store_written_before_the_view_resumes_and_reuses(tmp_path):
    """Stored keys stay stable: a store from before the latest_site_verdicts view and the repeat count still
    resumes its interrupted run and reuses its pages."""
    db = tmp_path / "old.sqlite"
    two = [PAGES / "pc-01.html", PAGES / "pc-02.html"]
    scan(two, db=db)
    with sqlite3.connect(db) as con:  # as an older stemcheck left it, interrupted after one page
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("DROP VIEW latest_site_verdicts")
        con.execute("ALTER TABLE runs DROP COLUMN captured")  # schema 2: no capture time, no view
        con.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
        con.execute("PRAGMA user_version=2")
        con.execute("UPDATE runs SET status='running', finished=NULL, summary=NULL")
        con.execute("DELETE FROM sites")
        con.execute("DELETE FROM pages WHERE item_key LIKE '%pc-02.html'")
    resumed = scan(two, db=db)
    assert resumed.summary["resumed"] and resumed.run_id == 1 and resumed.summary["analysed"] == 1
    assert len(resumed.pages) == 2 and resumed.summary["repeated"] == 0
    again = scan([*two, PAGES / "pc-03.html"], db=db)
    assert again.run_id == 2 and again.summary["reused"] == 2 and again.summary["analysed"] == 3
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM latest_site_verdicts").fetchone()[0] == 3


def test_a_page_read_twice_in_one_scan_is_a_repeat_not_a_reuse(tmp_path):
    db = tmp_path / "fresh.sqlite"
    foreign_warc(tmp_path / "a.warc.gz")
    shutil.copy(tmp_path / "a.warc.gz", tmp_path / "b.warc.gz")
    r = RUNNER.invoke(app, ["scan", str(tmp_path / "a.warc.gz"), str(tmp_path / "b.warc.gz"), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "unchanged since an earlier run" not in r.stdout, "a fresh store has no earlier run"
    assert "3 of them repeats of a page already read in this scan" in r.stdout
    with sqlite3.connect(db) as con:
        summary = json.loads(con.execute("SELECT summary FROM runs").fetchone()[0])
        pages = con.execute("SELECT pages FROM sites WHERE site='clinic-a.example'").fetchone()[0]
    assert summary["reused"] == 0 and summary["repeated"] == 3
    assert pages == 4, "two copies of two pages; the image and the dead link are not pages"
