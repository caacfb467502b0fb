"""Claims over time: claim identity across captures, the timeline, the store's capture time (with migration),
and `stemcheck history` end to end against the stand-in archive on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detector.cli import app
from detector.errors import ArchiveError
from detector.history import capture_iso, capture_rows, read_history
from detector.output import history as render
from detector.output.store import SCHEMA_VERSION, ResultStore, diff_runs
from detector.records import Claim, Flag, PageResult, PageVerdict, Snapshot
from detector.scoring.history import assemble, similarity
from detector.settings import ArchiveSettings, CrawlSettings, FetchSettings, Settings
from detector.source.archive import WaybackArchive
from tests.archive import (
    APPROVAL,
    APPROVAL_2019,
    GUARANTEE,
    RETRY_AFTER,
    RISKS,
    TARGET,
    FakeTime,
    clinic_page,
    replay,
    stand_in_archive,
)
from tests.sites import HTML, serve

FAST = Settings(
    fetch=FetchSettings(connect_timeout=1, read_timeout=1, total_timeout=0.5),
    crawl=CrawlSettings(max_retries=2, max_retry_after=30.0),
    archive=ArchiveSettings(delay=0.0),
)


# -- claim identity and the timeline, on verdicts made by hand ----------------------------------------------------
def verdict(*claims: tuple[str, list[str]], risk: int = 80, red: bool = True) -> PageVerdict:
    made = [Claim(text, 0, len(text), flags=[Flag(c, 0.9, 0.5) for c in cats]) for text, cats in claims]
    return PageVerdict("t", risk, red, {}, made, [], [])


def snap(ts: str, v: PageVerdict | None, seen: list[str] | None = None) -> Snapshot:
    return Snapshot(ts, TARGET, f"https://archive.example/web/{ts}/{TARGET}", "", ts, seen or [ts], v,
                    error="" if v else "timed out", reason="" if v else "timeout")


FDA = ("Our therapy is FDA approved.", ["approval_misrepresentation"])
CURE = ("Stem cells cure arthritis, multiple sclerosis and autism in weeks for most of our patients.", ["cure_all"])


@pytest.mark.parametrize(("a", "b", "same"), [
    ("Our therapy is FDA approved.", "our therapy is FDA-approved!", True),  # normalised equal
    (CURE[0], CURE[0].replace("most", "many"), False),  # one word in 15 changed: 14/16 < 0.9
    (CURE[0], CURE[0] + " Really.", True),  # a word added to fifteen: 15/16
    (CURE[0] + " Call today for your own visit and free scan.", CURE[0].replace("most", "many")
     + " Call today for your own visit and free scan.", True),  # 1 word in ~24: 23/25 >= 0.9
    ("", "x", False),
])
def test_similarity_cases(a: str, b: str, same: bool) -> None:
    assert (similarity(a, b) >= 0.9) == same


def test_first_and_last_seen_use_every_identical_capture_and_a_revert() -> None:
    # A in 2018, B in 2019 without the FDA claim, A again in 2020 (same digest: read once, seen twice).
    a = snap("20180101000000", verdict(FDA, CURE), seen=["20180101000000", "20200101000000"])
    b = snap("20190101000000", verdict(CURE, risk=60))
    h = assemble(TARGET, "test", [a, b], {})
    fda = next(c for c in h.claims if "FDA" in c.text)
    assert (fda.first_seen, fda.last_seen, fda.still_present) == ("20180101000000", "20200101000000", True)
    assert fda.snapshots == ["20180101000000"]
    assert [m["timestamp"] for m in h.timeline] == ["20180101000000", "20190101000000", "20200101000000"]
    assert h.timeline[1]["disappeared"] == [fda.id] and h.timeline[2]["appeared"] == [fda.id]
    assert h.verdict_changes == []  # 80 and 60 are both red-flag verdicts


def test_a_small_edit_is_changed_not_gone_and_new() -> None:
    long = ("Our stem cell therapy is FDA approved and cures arthritis multiple sclerosis autism diabetes "
            "and heart failure in most patients.")
    edited = long.replace("most", "all")  # 19 shared words of 21
    h = assemble(TARGET, "test", [snap("20180101000000", verdict((long, ["approval_misrepresentation"]))),
                                  snap("20190101000000", verdict((edited, ["approval_misrepresentation"])))], {})
    assert len(h.claims) == 1
    c = h.claims[0]
    assert c.text == edited and [w["timestamp"] for w in c.wordings] == ["20180101000000", "20190101000000"]
    assert h.timeline[1]["changed"] == [c.id] and h.timeline[1]["appeared"] == []


def test_claims_are_distinct_failed_captures_say_nothing_and_verdict_changes_are_dated() -> None:
    snaps = [snap("20180101000000", verdict(FDA, CURE, FDA)),  # the same sentence twice counts once
             snap("20190101000000", None),
             snap("20200101000000", verdict(("We explain the risks honestly.", ["honest_disclosure"]), risk=5,
                                            red=False))]
    h = assemble(TARGET, "test", snaps, {})
    assert sorted(c.id for c in h.claims) == [0, 1, 2]
    assert [(c.first_seen, c.last_seen, c.still_present) for c in h.claims] == [
        ("20180101000000", "20180101000000", False), ("20180101000000", "20180101000000", False),
        ("20200101000000", "20200101000000", True)]
    assert h.verdict_changes == [{"timestamp": "20200101000000", "snapshot": 2, "before": "RED FLAG",
                                  "after": "low risk", "risk_before": 80, "risk_after": 5}]
    assert h.index["latest_read"] == "20200101000000"
    out = render.to_dict(h)
    assert out["snapshots"][1]["status"] == "failed" and out["snapshots"][1]["reason"] == "timeout"
    assert out["snapshots"][0]["claims"] == [0, 1]


def test_html_escapes_archived_text_and_needs_nothing_from_outside() -> None:
    evil = ("<script>alert(1)</script> our cells are FDA approved", ["approval_misrepresentation"])
    h = assemble(TARGET + "?q=<b>", "test", [snap("20180101000000", verdict(evil)),
                                            snap("20230101000000", verdict(risk=5, red=False))], {})
    page = render.to_html(h)
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//(?!archive\.example)""", page)
    assert "<svg" in page and 'href="#snap-0"' in page
    assert "gone by 2023-01-01" in page


# -- the store: capture time beside recording time ---------------------------------------------------------------
def _row(url: str, score: int, text: str, when: str = "") -> PageResult:
    return PageResult(item_key=f"{url}@{when}", seq=1, url=url, site="clinic.example", source=url, status="analysed",
                      model_sha256="m", content_sha256=when or "live", risk_score=score, red_flag=score >= 50,
                      label="RED FLAG" if score >= 50 else "low risk", categories={"cure_all": 1},
                      claims=[{"text": text, "categories": ["cure_all"], "scores": {"cure_all": 0.9}}])


def _live_scan(store: ResultStore, score: int, text: str) -> int:
    run, _ = store.open_run(f"live{score}", "m", [TARGET], {})
    store.add(run, [_row(TARGET, score, text)])
    store.finish_run(run, {})
    return run


def test_archive_captures_never_pose_as_the_latest_scan(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        live = _live_scan(store, 20, "We explain risks.")
        old = store.record_capture(_row(TARGET, 90, "FDA approved cure.", "2018"), "2018-01-01T00:00:00+00:00", {})
        newer = store.record_capture(_row(TARGET, 70, "FDA approved.", "2020"), "2020-06-01T00:00:00+00:00", {})
        failed = store.record_capture(dataclasses.replace(_row(TARGET, 0, "", "2021"), status="failed",
                                                          error="timeout", risk_score=None, claims=[]),
                                      "2021-01-01T00:00:00+00:00", {})
        assert store.record_capture(_row(TARGET, 90, "FDA approved cure.", "2018"), "2018-01-01T00:00:00+00:00",
                                    {}) == old  # recorded once
        assert live < old < newer < failed
        assert store.resolve_run("latest") == live and store.resolve_run("previous") == newer
        assert store.resolve_run("2019-05-01") == old
        assert [r["run_id"] for r in store.site_rows(site="clinic.example")] == [old, newer, live]
        assert {r["run_id"]: r["status"] for r in store.runs()}[failed] == "failed"
        rows = {r["run_id"]: r for r in store.runs()}
        assert rows[old]["captured"] == "2018-01-01T00:00:00+00:00" and rows[old]["started"] > "2026"
        assert rows[live]["captured"] is None and rows[live]["as_of"] == rows[live]["started"]
        changes = diff_runs(store, store.resolve_run("previous"), store.resolve_run("latest"))
        assert changes[0]["score_before"] == 70 and changes[0]["score_after"] == 20
        from detector.web.triage import TriageQuery, site_history, triage

        listed = triage(store, TriageQuery().check())["sites"]
        assert [(s["run_id"], s["scanned"][:4]) for s in listed] == [(live, rows[live]["started"][:4])]
        page = site_history(store, "clinic.example")
        assert [(h["run_id"], h["captured"] is not None) for h in page["history"]] == [
            (old, True), (newer, True), (live, False)]
        assert page["latest"]["run_id"] == live and page["diffs"][0]["run_b"] == live


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_store_is_migrated_and_keeps_its_runs(tmp_path: Path, version: int) -> None:
    path = tmp_path / f"v{version}.sqlite"
    with ResultStore(path) as store:
        live = _live_scan(store, 60, "Cures everything.")
    con = sqlite3.connect(path)
    drops = [("runs", "captured")] + ([("claims", "evidence"), ("pages", "label"), ("sites", "label")]
                                      if version == 1 else [])
    con.execute("DROP VIEW latest_site_verdicts")  # older stores had no view (it reads runs.captured)
    for table, column in drops:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))
    con.execute(f"PRAGMA user_version={version}")
    con.commit()
    con.close()
    with ResultStore(path) as store:
        assert store.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == \
            str(SCHEMA_VERSION)
        assert store.resolve_run("latest") == live
        capture = store.record_capture(_row(TARGET, 90, "FDA approved.", "2019"), "2019-01-01T00:00:00+00:00", {})
        assert store.resolve_run("latest") == live and store.resolve_run("previous") == capture
        assert store.site_rows()[0]["risk_score"] == 90  # oldest first: the 2019 capture
        latest = store.db.execute("SELECT run_id FROM latest_site_verdicts").fetchall()
        assert [r[0] for r in latest] == [live], "the view is back, and a 2019 capture is not the latest verdict"
    assert ResultStore(path).db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_capture_times_are_store_times() -> None:
    assert capture_iso("20180115093000") == "2018-01-15T09:30:00+00:00"


# -- end to end against the stand-in archive (the bundled model) --------------------------------------------------
@pytest.fixture(scope="module")
def history(detector):  # noqa: ANN001, ANN201
    fake = FakeTime()
    with stand_in_archive() as archive:
        wb = WaybackArchive(archive.base, dataclasses.replace(FAST, archive=ArchiveSettings(delay=1.5)),
                            allow_private=True, sleep=fake.sleep, clock=fake.clock)
        result = read_history(detector, wb, TARGET, since=2018)
        paths = archive.fetched()
    return result, paths, fake


def _claim(result, words: str):  # noqa: ANN001, ANN202
    return next(c for c in result.claims if words in c.text)


def test_history_reads_each_version_once_and_dates_the_approval_claim(history) -> None:  # noqa: ANN001
    result, paths, fake = history
    assert paths[0] == "/cdx/search/cdx"
    assert paths[1:] == [replay("20180115093000"), replay("20190310120000"), replay("20200220080000"),
                         replay("20200221000000"), replay("20201105000000"), replay("20201105000000"),
                         replay("20210615000000"), replay("20220301000000"), replay("20230410000000")]
    assert RETRY_AFTER in fake.sleeps and fake.sleeps.count(1.5) == len(paths) - 2
    approval = _claim(result, "FDA")
    assert approval.first_seen == "20180115093000" and approval.last_seen == "20201105000000"
    assert approval.still_present is False
    assert "approval_misrepresentation" in approval.categories
    assert [w["text"] for w in approval.wordings] == [APPROVAL, APPROVAL_2019]  # reworded in 2019: one claim
    assert approval.snapshots == ["20180115093000", "20190310120000", "20200220080000", "20201105000000"]
    assert not any(c.text == RISKS and not c.still_present for c in result.claims)


def test_failed_captures_are_kept_with_their_reason(history) -> None:  # noqa: ANN001
    result, _paths, _fake = history
    failed = {s.timestamp: s.reason for s in result.snapshots if s.verdict is None}
    assert failed == {"20210615000000": "not_html", "20220301000000": "timeout"}
    assert result.snapshots[2].served_url.endswith(replay("20200221000000"))
    assert result.index["unreadable_rows"] == 6 and result.index["read"] == 5
    latest = result.snapshots[-1]
    assert latest.seen == ["20230410000000", "20240102000000"] and result.index["latest_read"] == "20240102000000"
    assert result.verdict_changes and result.verdict_changes[-1]["timestamp"] == "20230410000000"
    assert result.verdict_changes[-1]["before"] == "RED FLAG"


def test_cli_history_in_three_formats_and_into_the_store(detector, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import detector.source.archive as archive_module

    monkeypatch.setattr(archive_module.time, "sleep", lambda s: None)  # the 429's Retry-After, not really slept
    monkeypatch.setattr("detector.check.Detector.load", classmethod(lambda cls, *a, **k: detector))
    monkeypatch.setenv("STEMCHECK_FETCH_TOTAL_TIMEOUT", "0.5")
    db = tmp_path / "runs.sqlite"
    outs = {}
    with stand_in_archive() as archive:
        for fmt in ("text", "json", "html"):
            out = tmp_path / f"history.{fmt}"
            args = ["history", TARGET, "--archive", archive.base, "--allow-private", "--delay", "0", "--format", fmt,
                    "--output", str(out)] + (["--db", str(db)] if fmt == "json" else [])
            r = CliRunner().invoke(app, args)
            assert r.exit_code == 2, r.output  # two captures could not be read
            assert "capture 20220301000000 not read" in r.stderr and "Traceback" not in r.output
            outs[fmt] = out.read_text(encoding="utf-8")
    data = json.loads(outs["json"])
    assert set(data) >= {"url", "snapshots", "claims"} and data["url"] == TARGET
    approval = next(c for c in data["claims"] if "FDA" in c["text"])
    assert (approval["first_seen"], approval["last_seen"], approval["still_present"]) == (
        "20180115093000", "20201105000000", False)
    assert "2018-01-15" in outs["text"] and "not read: timeout" in outs["text"] and "gone by 2023-04-10" in outs["text"]
    assert "<svg" in outs["html"] and "Claims over time" in outs["html"] and "gone by 2023-04-10" in outs["html"]
    with ResultStore(db) as store:
        runs = store.runs()
        assert len(runs) == len(data["snapshots"])
        assert sorted(r["captured"][:10] for r in runs)[0] == "2018-01-15"
        assert store.resolve_run("latest") == next(r["run_id"] for r in runs if r["captured"].startswith("2023"))


@pytest.mark.parametrize(("args", "words"), [
    (["--since", "1800"], "--since 1800: give a year"),
    (["--since", "2021", "--until", "2019"], "--since 2021 is after --until 2019"),
    (["--max-snapshots", "1"], "--max-snapshots 1: must be between 2"),
    (["--delay", "0.1"], "impolite"),
    (["--every", "week"], "week"),
])
def test_cli_refuses_bad_options_in_one_line(args: list[str], words: str) -> None:
    base = ["history", TARGET, "--archive", "http://127.0.0.1:9"]
    r = CliRunner().invoke(app, base + args + ([] if "--delay" in args else ["--allow-private"]))
    assert r.exit_code == 2 and words in r.output, r.output
    assert "Traceback" not in r.output


def test_an_archive_without_captures_says_so(detector) -> None:  # noqa: ANN001
    page = clinic_page(GUARANTEE)
    routes = {"/cdx/search/cdx": (200, {"Content-Type": "application/json"}, json.dumps(
        [["timestamp", "original", "mimetype", "statuscode", "digest", "length"],
         ["20200101000000", TARGET, "application/pdf", "200", "P", "1"]]).encode()),
        replay("20200101000000"): (200, HTML, page)}
    with serve(routes) as (base, log):
        wb = WaybackArchive(base, FAST, allow_private=True, sleep=lambda s: None)
        with pytest.raises(ArchiveError, match="holds no HTML capture with status 200.*1 not HTML"):
            read_history(detector, wb, TARGET)
        assert len(log.paths()) == 1


def test_capture_rows_keep_failures_and_capture_times(history) -> None:  # noqa: ANN001
    result, _paths, _fake = history
    rows = capture_rows(result)
    assert [r.status for r, _ in rows].count("failed") == 2
    assert rows[0][1] == "2018-01-15T09:30:00+00:00" and rows[0][0].site == "clinic.example"


def test_history_loads_into_pandas() -> None:
    from detector.lab.analysis import history_frames

    a = snap("20180101000000", verdict(FDA, CURE), seen=["20180101000000", "20200101000000"])
    a.verdict.categories = {"approval_misrepresentation": 1, "cure_all": 1}
    h = assemble(TARGET, "test", [a, snap("20210101000000", None)], {})
    snapshots, claims = history_frames(json.loads(render.to_json(h)))
    assert list(snapshots["status"]) == ["read", "failed"] and snapshots["risk_score"].isna().tolist() == [False, True]
    assert snapshots.loc[0, "approval_misrepresentation"] == 1 and str(snapshots["date"].dt.tz) == "UTC"
    assert claims["last_seen"].dt.year.tolist() == [2020, 2020] and claims["still_present"].all()
