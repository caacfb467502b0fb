"""The archive source against a stand-in Wayback archive on 127.0.0.1: the CDX reader, which captures are
read, what is fetched in which order and how often, politeness, and the SSRF guard. No model needed."""

from __future__ import annotations

import dataclasses
import json

import pytest

from detector.errors import ArchiveError, FetchError, InputError
from detector.settings import ArchiveSettings, CrawlSettings, FetchSettings, Settings
from detector.source.archive import Capture, WaybackArchive, parse_cdx, select_captures
from tests.archive import INDEX, JUNK_ROWS, RETRY_AFTER, TARGET, FakeTime, replay, stand_in_archive
from tests.sites import HTML, serve

FAST = Settings(
    fetch=FetchSettings(connect_timeout=1, read_timeout=1, total_timeout=0.5),
    crawl=CrawlSettings(max_retries=2, max_retry_after=30.0),
    archive=ArchiveSettings(delay=2.0),
)

READ_ORDER = ["20180115093000", "20190310120000", "20200220080000", "20201105000000", "20210615000000",
              "20220301000000", "20230410000000"]


def cap(ts: str, digest: str = "D", mime: str = "text/html", status: int | None = 200) -> Capture:
    return Capture(ts, TARGET, mime, status, digest)


# -- the CDX reader ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "count", "junk"), [
    (json.dumps(INDEX), 11, JUNK_ROWS),
    (b"", 0, 0),
    ("[]", 0, 0),
    (json.dumps([["timestamp", "original", "mimetype", "statuscode", "digest", "length"]]), 0, 0),
    # pywb's JSON lines, with its own field names, and one broken line
    ('{"timestamp": "20200101000000", "url": "http://a.example/", "mime": "text/html", "status": "200", '
     '"digest": "X"}\nnot json\n{"timestamp": "20210101000000", "url": "http://a.example/", "mime": "text/html", '
     '"status": "-", "digest": "X"}', 2, 1),
    # a URL with a line break or a space in it would split the request line: junk, never fetched
    (json.dumps([["20200101000000", "http://a.example/\r\nHost: evil", "text/html", "200", "X", "1"],
                 ["20200101000000", "http://a.example/ x", "text/html", "200", "X", "1"],
                 ["20200101000000", "http://a.example/", "text/html", "200", "X", "1"]]), 1, 2),
    # no header row: the fields we asked for, in our order
    (json.dumps([["20200101000000", "https://a.example/", "text/html", "200", "X", "10"]]), 1, 0),
])
def test_parse_cdx_cases(body: str | bytes, count: int, junk: int) -> None:
    data = body.encode() if isinstance(body, str) else body
    captures, bad = parse_cdx(data, "cdx", max_rows=1000)
    assert (len(captures), bad) == (count, junk)
    assert all(len(c.timestamp) == 14 and c.url.startswith("http") for c in captures)


@pytest.mark.parametrize(("body", "words"), [
    ("<html>rate limited</html>", "not valid JSON"),
    ('{"error": "x"}', "could be read"),  # a JSON-lines answer with no capture in it
    ('[["a", "b"], ["c"]]', "could be read"),
    ('"text"', "not valid JSON"),
])
def test_parse_cdx_refuses_an_unreadable_index(body: str, words: str) -> None:
    with pytest.raises(ArchiveError, match=words):
        parse_cdx(body.encode(), "cdx", max_rows=1000)


def test_parse_cdx_stops_at_the_row_limit() -> None:
    rows = [INDEX[0]] + [[f"2020010100{i:04d}", TARGET, "text/html", "200", str(i), "1"] for i in range(50)]
    captures, _ = parse_cdx(json.dumps(rows).encode(), "cdx", max_rows=10)
    assert len(captures) == 10


# -- which captures are read ------------------------------------------------------------------------------------
def test_select_dedups_by_digest_over_the_whole_range_and_keeps_every_sighting() -> None:
    caps = [cap("20180101000000", "A"), cap("20190101000000", "B"), cap("20200101000000", "A"),
            cap("20170101000000", "A", status=301), cap("20170601000000", "P", mime="application/pdf"),
            cap("20210101000000", "A", status=None)]
    sel = select_captures(caps)
    assert [c.timestamp for c in sel.captures] == ["20180101000000", "20190101000000"]
    assert sel.seen["A"] == ["20180101000000", "20200101000000"]  # read once, seen until 2020
    assert sel.skipped == {"not status 200 (redirect, error or revisit)": 2, "not HTML": 1,
                           "identical to an earlier capture": 1}


@pytest.mark.parametrize(("every", "expected"), [
    ("capture", ["20180105", "20180110", "20180301", "20190101", "20190102"]),
    ("month", ["20180105", "20180301", "20190101"]),
    ("year", ["20180105", "20190101"]),
])
def test_select_thins_after_dedup(every: str, expected: list[str]) -> None:
    # 2018-01-20 repeats the 2018-01-05 content: it never hides the new content of 2018-01-10.
    caps = [cap("20180105000000", "A"), cap("20180110000000", "B"), cap("20180120000000", "A"),
            cap("20180301000000", "C"), cap("20190101000000", "D"), cap("20190102000000", "E")]
    assert [c.timestamp[:8] for c in select_captures(caps, every).captures] == expected


@pytest.mark.parametrize(("n", "limit", "expected"), [
    (10, 2, [0, 9]),
    (10, 3, [0, 4, 9]),  # round(4.5) == 4: banker's rounding, still even
    (10, 4, [0, 3, 6, 9]),
    (5, 10, [0, 1, 2, 3, 4]),
])
def test_max_snapshots_spreads_evenly_with_first_and_last(n: int, limit: int, expected: list[int]) -> None:
    caps = [cap(f"20{10 + i}0101000000", str(i)) for i in range(n)]
    chosen = select_captures(caps, max_snapshots=limit).captures
    assert [int(c.timestamp[2:4]) - 10 for c in chosen] == expected


def test_select_keeps_the_years_asked_and_refuses_an_unknown_every() -> None:
    caps = [cap(f"{y}0601000000", str(y)) for y in range(2015, 2025)]
    assert [c.timestamp[:4] for c in select_captures(caps, since=2018, until=2020).captures] == ["2018", "2019", "2020"]
    with pytest.raises(InputError, match="--every week"):
        select_captures(caps, "week")


# -- the stand-in archive ---------------------------------------------------------------------------------------
def test_reads_the_index_then_each_chosen_capture_once_in_order_politely() -> None:
    fake = FakeTime()
    with stand_in_archive() as archive:
        wb = WaybackArchive(archive.base, FAST, allow_private=True, sleep=fake.sleep, clock=fake.clock)
        captures, junk = wb.captures(TARGET, 2018, 2024)
        sel = select_captures(captures, rows=len(captures) + junk)
        outcomes = {}
        for c in sel.captures:
            try:
                outcomes[c.timestamp] = wb.fetch(c)
            except FetchError as exc:
                outcomes[c.timestamp] = exc
        paths = archive.fetched()
        query = archive.log.paths()[0]
        agents = {h.headers["user-agent"] for h in archive.log.hits}
    assert junk == JUNK_ROWS and sel.rows == 11 + JUNK_ROWS
    assert [c.timestamp for c in sel.captures] == READ_ORDER
    assert paths == ["/cdx/search/cdx", *[replay(ts) for ts in READ_ORDER[:3]], replay("20200221000000"),
                     replay("20201105000000"), *[replay(ts) for ts in READ_ORDER[3:]]]
    assert paths.count(replay("20201105000000")) == 2  # the 429, then the page
    for never in ("20180601000000", "20190401000000", "20190501000000", "20240102000000"):
        assert replay(never) not in paths, f"{never} should not have been fetched"
    assert "url=http%3A%2F%2Fclinic.example%2Fstem-cell-therapy" in query and "output=json" in query
    assert "from=2018" in query and "to=2024" in query
    assert len(agents) == 1 and "stemcheck" in agents.pop()
    # one request at a time, `delay` apart; the 429's Retry-After replaces the delay before its retry
    assert fake.sleeps == [2.0, 2.0, 2.0, 2.0, 2.0, RETRY_AFTER, 2.0, 2.0, 2.0]
    assert archive.log.max_active <= 2  # the abandoned (timed-out) replay still hangs on the server's side
    redirected = outcomes["20200220080000"]
    assert redirected.status == 200 and redirected.redirects == [archive.base + replay("20200221000000")]
    assert outcomes["20201105000000"].status == 200 and b"exosome" in outcomes["20201105000000"].body
    assert outcomes["20210615000000"].reason == "not_html"
    assert outcomes["20220301000000"].reason == "timeout"
    assert b"clinical trials" in outcomes["20230410000000"].body
    assert wb.requests == len(paths)


def test_the_guard_refuses_a_private_archive_unless_allowed() -> None:
    with stand_in_archive() as archive:
        wb = WaybackArchive(archive.base, FAST, allow_private=False, sleep=lambda s: None)
        with pytest.raises(ArchiveError, match="non-public address"):
            wb.captures(TARGET)
        assert archive.log.paths() == []


def test_redirects_leaving_the_archive_are_not_followed() -> None:
    escape = {replay("20200101000000"): (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
              "/cdx/search/cdx": (200, {}, b"[]")}
    with serve(escape) as (base, log):
        wb = WaybackArchive(base, FAST, allow_private=True, sleep=lambda s: None)
        with pytest.raises(FetchError, match="outside its replays") as info:
            wb.fetch(cap("20200101000000"))
        assert info.value.reason == "redirect"
        assert log.paths() == [replay("20200101000000")]


@pytest.mark.parametrize(("headers", "sleeps", "words"), [
    ({"Retry-After": "3600"}, [], "asks us to wait 3600s"),  # over max_retry_after: given up, not slept
    ({}, [4.0, 8.0], "still busy after 2 retries"),  # no Retry-After: doubling from the delay
])
def test_a_busy_archive_is_given_up_politely(headers: dict, sleeps: list[float], words: str) -> None:
    fake = FakeTime()
    routes = {replay("20200101000000"): (503, {"Content-Type": "text/plain", **headers}, b"busy")}
    settings = dataclasses.replace(FAST, archive=ArchiveSettings(delay=2.0))
    with serve(routes) as (base, log):
        wb = WaybackArchive(base, settings, allow_private=True, sleep=fake.sleep, clock=fake.clock)
        with pytest.raises(FetchError, match=words) as info:
            wb.fetch(cap("20200101000000"))
    assert info.value.reason == "archive_busy"
    assert [s for s in fake.sleeps if s != 2.0] == sleeps
    assert len(log.paths()) == 1 + len(sleeps)


def test_an_archive_error_page_is_one_line() -> None:
    with serve({"/cdx/search/cdx": (404, HTML, b"<html>no</html>")}) as (base, _log):
        wb = WaybackArchive(base, FAST, allow_private=True, sleep=lambda s: None)
        with pytest.raises(ArchiveError, match="cannot read the archive's capture index.*HTTP 404"):
            wb.captures(TARGET)


@pytest.mark.parametrize("base", ["ftp://archive.example", "http://user:pw@archive.example", "not a url",
                                  "https://archive.example/?q=1"])
def test_a_bad_archive_address_is_refused(base: str) -> None:
    with pytest.raises(InputError):
        WaybackArchive(base, FAST)
