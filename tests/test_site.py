"""Site reports: `check URL --site` and `check FILE.warc.gz` agree; the CLI crawl command and its guard."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from detector.check import site_reports
from detector.cli import app
from detector.digest import sha256_file
from tests.sites import HTML, clinic_site, nav, serve

RUNNER = CliRunner()
SITE = {"/treatments/knee-stem-cells": "pc-01.html", "/pricing": "pc-07.html", "/faq": "pc-24.html",
        "/news/blinded-patient": "pn-01.html", "/about/honest-disclaimer": "pn-11.html"}
FAST = ["--delay", "0.05", "--allow-private"]


def test_site_report_live_equals_offline(tmp_path):
    warc = tmp_path / "clinic.warc.gz"
    with serve(clinic_site(SITE)) as (base, _log):
        live = RUNNER.invoke(app, ["check", base + "/", "--site", "--warc", str(warc), "--format", "json", *FAST])
    assert live.exit_code == 0, live.output
    offline = RUNNER.invoke(app, ["check", str(warc), "--format", "json"])
    assert offline.exit_code == 0, offline.output
    a, b = json.loads(live.stdout.strip().splitlines()[-1]), json.loads(offline.stdout.strip())
    assert a == b
    assert a["warc"]["sha256"] == sha256_file(warc)
    assert a["red_flag"] and a["risk_score"] >= 50 and a["pages_analysed"] == 6
    assert a["crawl"]["requests"] >= 7 and a["crawl"]["started"]
    # every flagged claim names its page and the WARC record it came from
    records = {p["url"]: p["warc_record_id"] for p in a["pages"]}
    assert a["claims"] and all(records[c["url"]] == c["warc_record_id"] for c in a["claims"])
    assert a["worst_pages"][0]["url"].endswith(("/treatments/knee-stem-cells", "/pricing", "/faq"))


def test_site_text_and_html_reports(tmp_path, detector):
    warc = tmp_path / "c.warc.gz"
    routes = clinic_site({"/treatments": "pc-05.html"}, extra={"/evil": (200, HTML, b"<title><script>alert(1)</script>"
                                                              b"</title><p>Stem cells cure <img src=x onerror=alert(1)>"
                                                              b" everything, guaranteed.</p>")})
    routes["/"] = (200, HTML, nav({"/treatments": "treatments", "/evil": "treatment", "/gone": "treatment gone"}))
    with serve(routes) as (base, _log):
        text = RUNNER.invoke(app, ["check", base + "/", "--site", "--warc", str(warc), *FAST])
    assert text.exit_code == 0
    assert "site risk score" in text.stdout and str(warc) in text.stdout and "http_404" in text.stdout
    html = RUNNER.invoke(app, ["check", str(warc), "--format", "html"]).stdout
    assert "<script>alert" not in html and "&lt;script&gt;" in html and "onerror=alert(1)>" not in html
    report = site_reports(detector, warc)[0]
    assert report.events and report.events[0].reason == "http_404"


def test_crawl_command_writes_warc_and_refuses_private(tmp_path):
    warc = tmp_path / "c.warc.gz"
    with serve(clinic_site(SITE)) as (base, log):
        refused = RUNNER.invoke(app, ["crawl", base + "/", "--output", str(warc)])
        assert refused.exit_code == 2 and "non-public address" in refused.stderr and "--allow-private" in refused.stderr
        assert log.hits == [] and not warc.exists()
        ok = RUNNER.invoke(app, ["crawl", base + "/", "--output", str(warc), "--max-pages", "3", *FAST])
    assert ok.exit_code == 0, ok.output
    assert "3 pages fetched" in ok.stdout and sha256_file(warc) in ok.stdout
    assert "skipped:page_limit" in ok.stdout


def test_bad_inputs_get_one_line_errors(tmp_path):
    not_warc = tmp_path / "x.warc.gz"
    not_warc.write_bytes(b"hello, not a warc")
    r = RUNNER.invoke(app, ["check", str(not_warc), str(tmp_path / "missing.warc.gz")])
    assert r.exit_code == 2
    assert "not a WARC file" in r.stderr and "no such file" in r.stderr
    r = RUNNER.invoke(app, ["crawl", "ftp://example.org/", "--output", str(tmp_path / "y.warc.gz")])
    assert r.exit_code == 2 and "only http and https" in r.stderr and r.stderr.count("ftp:") == 1
    r = RUNNER.invoke(app, ["crawl", "http://example.org/", "--output", str(tmp_path / "y.html")])
    assert r.exit_code == 2 and ".warc.gz" in r.stderr
    r = RUNNER.invoke(app, ["crawl", "http://example.org/", "-o", str(tmp_path / "y.warc.gz"), "--max-pages", "0"])
    assert r.exit_code == 2 and "--max-pages" in r.stderr


def test_truncated_warc_keeps_what_came_before(tmp_path, detector):
    warc = tmp_path / "c.warc.gz"
    with serve(clinic_site(SITE)) as (base, _log):
        RUNNER.invoke(app, ["crawl", base + "/", "--output", str(warc), *FAST])
    data = warc.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    report = site_reports(detector, cut)[0]
    assert report.analysed, "pages before the damage are still analysed"
    assert any(e.reason.startswith("warc_") for e in report.events)


def test_site_with_nothing_readable_is_an_error_not_a_clean_report(tmp_path):
    routes = clinic_site({})
    routes["/robots.txt"] = (503, {}, b"down")
    warc = tmp_path / "down.warc.gz"
    with serve(routes) as (base, _log):
        r = RUNNER.invoke(app, ["check", base + "/", "--site", "--warc", str(warc), *FAST])
    assert r.exit_code == 2 and "no page could be analysed" in r.stderr and "robots.txt" in r.stderr


def test_site_report_recorded_in_a_store(tmp_path):
    warc, db = tmp_path / "c.warc.gz", tmp_path / "s.sqlite"
    with serve(clinic_site(SITE)) as (base, _log):
        RUNNER.invoke(app, ["crawl", base + "/", "--output", str(warc), *FAST])
    r = RUNNER.invoke(app, ["check", str(warc), "--db", str(db)])
    assert r.exit_code == 0 and "as run 1" in r.stderr
    from detector.output.store import ResultStore

    with ResultStore(db) as store:
        assert store.runs()[0]["status"] == "finished"
        assert store.site_scores(1)[base.split("//")[1]] >= 50


def test_site_html_opens_with_verdict_worst_pages_and_evidence(tmp_path):
    warc = tmp_path / "clinic.warc.gz"
    with serve(clinic_site(SITE)) as (base, _log):
        assert RUNNER.invoke(app, ["check", base + "/", "--site", "--warc", str(warc), *FAST]).exit_code == 0
    out = tmp_path / "report.html"
    r = RUNNER.invoke(app, ["check", str(warc), "--format", "html", "-o", str(out)])
    assert r.exit_code == 0 and f"wrote {out}" in r.stderr
    html = out.read_text()
    verdict, worst, strongest = html.index('id="verdict"'), html.index('id="worst-pages"'), html.index('id="strongest"')
    fold = html.index("<details")
    assert verdict < worst < strongest < fold, "verdict, worst pages and strongest evidence come first"
    assert html.index('id="pages"') > fold and html.index('id="all-claims"') >= fold, "the rest is folded"
    assert html.count("need human verification") == 1, "one disclaimer"
    assert 'id="summary"' not in html, "no summary table for a single report"
    assert html.count('class="claim flag"', strongest, fold) == 3
