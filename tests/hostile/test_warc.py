"""Damaged and foreign WARCs: each yields the pages before the damage plus an error event that names
the file and the offset, or a clear InputError; never a traceback.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import re
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from detector.check import site_reports
from detector.errors import InputError
from detector.source.warc import (
    EVENT_PROFILE,
    SUMMARY_PROFILE,
    WarcEvent,
    WarcPage,
    iter_records,
    read_crawl,
    record_location,
)

PAGES = {
    "http://clinic.example/": b"<html><title>Home</title><p>Our stem cells cure arthritis, guaranteed.</p></html>",
    "http://clinic.example/knees": b"<p>FDA-approved stem cell injections regrow knee cartilage.</p>",
    "http://clinic.example/price": b"<p>Book stem cell therapy now: only three spots left this month.</p>",
}


def write_warc(path: Path, pages: dict[str, bytes] = PAGES, gz: bool = True,
               http_headers: list[tuple[str, str]] | None = None, info: dict | None = None) -> list[int]:
    """A small WARC (warcinfo + one response per page); returns each record's start offset."""
    offsets = []
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=gz, warc_version="1.1")
        offsets.append(fh.tell())
        writer.write_record(writer.create_warcinfo_record(path.name, info or {"software": "hostile-test"}))
        for url, body in pages.items():
            offsets.append(fh.tell())
            headers = http_headers or [("Content-Type", "text/html; charset=utf-8")]
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=http))
    return offsets


def split(items) -> tuple[list[WarcPage], list[WarcEvent]]:  # noqa: ANN001
    items = list(items)
    pages = [i for i in items if isinstance(i, WarcPage)]
    events = [i for i in items if isinstance(i, WarcEvent)]
    return pages, events


def assert_damage_reported(path: Path, events: list[WarcEvent], offset: int | None = None) -> WarcEvent:
    errors = [e for e in events if e.kind == "error"]
    assert errors, "the damage is reported"
    err = errors[-1]
    assert str(path) in err.message and err.offset is not None
    assert f"{err.offset}" in err.message
    if offset is not None:
        assert err.offset == offset, (err.offset, offset, err.message)
    return err


def test_intact_warc_reads_every_page(tmp_path, detector):
    path = tmp_path / "ok.warc.gz"
    write_warc(path)
    crawl = read_crawl(path)
    assert [p.url for p in crawl.pages] == list(PAGES) and not crawl.events
    report = site_reports(detector, path)[0]
    assert len(report.analysed) == 3


def test_truncated_gzip_member(tmp_path, detector):
    path = tmp_path / "cut.warc.gz"
    offsets = write_warc(path)
    data = path.read_bytes()
    path.write_bytes(data[: offsets[3] + (len(data) - offsets[3]) // 2])  # cut inside the last record
    items = list(iter_records(path))
    pages, events = split(items)
    assert [p.url for p in pages] == list(PAGES)[:2]
    assert_damage_reported(path, events, offsets[3])
    crawl = read_crawl(path)
    assert len(crawl.pages) == 2 and any(str(offsets[3]) in e.message for e in crawl.events)


STEMCHECK_INFO = {"software": "stemcheck/0.1.0", "site": "clinic.example", "start-url": "http://clinic.example/"}
FOREIGN = pytest.param(None)


def _cut(path: Path, offsets: list[int]) -> int:
    data = path.read_bytes()
    path.write_bytes(data[: offsets[3] + (len(data) - offsets[3]) // 2])
    return offsets[3]


def _tail(path: Path, offsets: list[int]) -> int:
    size = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(b"\x00garbage\xff" * 10)
    return size


@pytest.mark.parametrize("damage", [_cut, _tail], ids=["truncated", "garbage-after"])
@pytest.mark.parametrize("info", [STEMCHECK_INFO, FOREIGN], ids=["stemcheck-warc", "foreign-warc"])
def test_site_report_names_the_damage(tmp_path, detector, info, damage):
    path = tmp_path / "site.warc.gz"
    offset = damage(path, write_warc(path, info=info))
    reports = site_reports(detector, path)
    assert sum(len(r.analysed) for r in reports) >= 2
    messages = [e.message for r in reports for e in r.events]
    assert any(str(path) in m and str(offset) in m for m in messages), messages


@pytest.mark.parametrize("delta", [+40, -40, +100_000])
def test_bad_content_length_in_record_header(tmp_path, delta):
    path = tmp_path / "badlen.warc"
    offsets = write_warc(path, gz=False)
    data = bytearray(path.read_bytes())
    start = offsets[2]
    head_end = data.index(b"\r\n\r\n", start)
    head = bytes(data[start:head_end])
    line_start = head.index(b"Content-Length: ") + len(b"Content-Length: ")
    line_end = head.find(b"\r\n", line_start) % (len(head) + 1)  # the last line has no CRLF inside head
    value = int(head[line_start:line_end])
    new_head = head[:line_start] + str(value + delta).encode() + head[line_end:]
    data[start:head_end] = new_head
    path.write_bytes(bytes(data))
    pages, events = split(iter_records(path))
    assert list(PAGES)[0] in [p.url for p in pages], "the page before the damage is kept"
    assert_damage_reported(path, events)
    crawl = read_crawl(path)  # never raises
    assert crawl.pages


@pytest.mark.parametrize("content", [
    b"<html><body>not a WARC</body></html>",
    b"%PDF-1.4\n" + b"\x00\x01" * 100,
    b"WARC",
    b"\x1f\x8b",
    b"\x1f\x8b\x08\x00" + b"\xff" * 200,
])
def test_non_warc_file(tmp_path, detector, content):
    path = tmp_path / "x.warc.gz"
    path.write_bytes(content)
    try:
        items = list(iter_records(path))
    except InputError as exc:
        assert str(path) in str(exc)
        return
    pages, events = split(items)
    assert not pages
    assert_damage_reported(path, events)
    with contextlib.suppress(InputError):  # "holds no responses": clear, and not a traceback
        site_reports(detector, path)


def test_empty_file(tmp_path, detector):
    path = tmp_path / "empty.warc.gz"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="not a WARC"):
        list(iter_records(path))
    with pytest.raises(InputError):
        read_crawl(path)
    with pytest.raises(InputError):
        site_reports(detector, path)


def test_missing_file(tmp_path, detector):
    with pytest.raises(InputError, match="no such file"):
        read_crawl(tmp_path / "nope.warc.gz")
    with pytest.raises(InputError):
        site_reports(detector, tmp_path / "nope.warc.gz")


def _chunked(body: bytes, size: int = 17) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size))
    return out + b"0\r\n\r\n"


def test_chunked_http_body_stored_raw(tmp_path, detector):
    """Some crawlers store the body as it came off the wire, chunk sizes and all."""
    path = tmp_path / "chunked.warc.gz"
    pages = {url: _chunked(body) for url, body in PAGES.items()}
    write_warc(path, pages, http_headers=[("Content-Type", "text/html; charset=utf-8"),
                                          ("Transfer-Encoding", "chunked")])
    crawl = read_crawl(path)
    assert [p.body for p in crawl.pages] == list(PAGES.values()), "chunk framing removed"
    report = site_reports(detector, path)[0]
    assert len(report.analysed) == 3
    texts = " ".join(c.text for p in report.analysed for c in p.verdict.claims)
    assert "stem cell" in texts and "\r\n" not in texts and "\n1" not in texts


def test_gzip_content_encoding_stored_raw(tmp_path, detector):
    path = tmp_path / "gz-body.warc.gz"
    pages = {url: gzip.compress(body) for url, body in PAGES.items()}
    write_warc(path, pages, http_headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")])
    crawl = read_crawl(path)
    assert [p.body for p in crawl.pages] == list(PAGES.values())


def test_gzip_bomb_payload_in_warc_is_capped(tmp_path):
    path = tmp_path / "bomb.warc.gz"
    bomb = gzip.compress(b"<p>" + b"a" * 50_000_000, compresslevel=9)
    write_warc(path, {"http://clinic.example/bomb": bomb},
               http_headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")])
    pages, events = split(iter_records(path, max_payload=1_000_000))
    assert not pages
    assert events and "larger than 1,000,000" in events[0].message


def test_garbage_after_last_gzip_member(tmp_path, detector):
    path = tmp_path / "tail.warc.gz"
    write_warc(path)
    size = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(b"\x00garbage after the last member\xff" * 10)
    pages, events = split(iter_records(path))
    assert [p.url for p in pages] == list(PAGES)
    assert_damage_reported(path, events, size)
    assert len(site_reports(detector, path)[0].analysed) == 3


def test_flipped_byte_inside_a_gzip_member(tmp_path, detector):
    path = tmp_path / "flip.warc.gz"
    offsets = write_warc(path)
    data = bytearray(path.read_bytes())
    data[offsets[2] + 30] ^= 0xFF
    path.write_bytes(bytes(data))
    pages, events = split(iter_records(path))
    assert list(PAGES)[0] in [p.url for p in pages]
    assert_damage_reported(path, events)
    site_reports(detector, path)  # never raises


# -- one hostile record inside a valid WARC: that record's row, and every other record still read --------------
def _response(w: WARCWriter, url: str, body: bytes, headers: list[tuple[str, str]] | None = None):  # noqa: ANN202
    http = StatusAndHeaders("200 OK", headers or [("Content-Type", "text/html")], protocol="HTTP/1.1")
    return w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)


def _no_target_uri(w: WARCWriter) -> None:
    record = _response(w, "http://clinic.example/x", b"<p>stem cells</p>")
    record.rec_headers.remove_header("WARC-Target-URI")
    w.write_record(record)


def _no_type(w: WARCWriter) -> None:
    record = _response(w, "http://clinic.example/x", b"<p>stem cells</p>")
    record.rec_headers.remove_header("WARC-Type")
    w.write_record(record)


def _encoding(name: str):  # noqa: ANN202
    def write(w: WARCWriter) -> None:
        w.write_record(_response(w, "http://clinic.example/enc", b"<p>plain stem cell text, not encoded</p>",
                                 [("Content-Type", "text/html"), ("Content-Encoding", name)]))
    return write


def _metadata(profile: str, body: bytes):  # noqa: ANN202
    def write(w: WARCWriter) -> None:
        w.write_record(w.create_warc_record("http://clinic.example/meta", "metadata", payload=io.BytesIO(body),
                                            warc_content_type="application/json",
                                            warc_headers_dict={"WARC-Profile": profile}))
    return write


HOSTILE_RECORDS = {
    "response-without-target-uri": (_no_target_uri, "without a WARC-Target-URI"),
    "record-without-warc-type": (_no_type, "without a WARC-Type"),
    "brotli-over-a-plain-body": (_encoding("br"), "does not decode as its Content-Encoding 'br'"),
    "event-json-is-a-list": (_metadata(EVENT_PROFILE, b"[1, 2]"), "not a JSON object"),
    "summary-json-is-a-list": (_metadata(SUMMARY_PROFILE, b"[1, 2]"), "not a JSON object"),
    "summary-json-is-a-string": (_metadata(SUMMARY_PROFILE, b'"done"'), "not a JSON object"),
    "summary-not-json": (_metadata(SUMMARY_PROFILE, b"{not json"), "unreadable record (JSONDecodeError"),
}


def write_with(path: Path, hostile, gz: bool = True) -> int:  # noqa: ANN001
    """warcinfo, the first page, the hostile record(s), the other pages; returns the hostile record's offset."""
    urls = list(PAGES)
    with path.open("wb") as fh:
        w = WARCWriter(fh, gzip=gz, warc_version="1.1")
        w.write_record(w.create_warcinfo_record(path.name, STEMCHECK_INFO))
        w.write_record(_response(w, urls[0], PAGES[urls[0]]))
        offset = fh.tell()
        hostile(w)
        for url in urls[1:]:
            w.write_record(_response(w, url, PAGES[url]))
    return offset


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "uncompressed"])
@pytest.mark.parametrize("case", list(HOSTILE_RECORDS), ids=list(HOSTILE_RECORDS))
def test_hostile_record_is_its_own_failure(tmp_path, case, gz):
    hostile, expected = HOSTILE_RECORDS[case]
    path = tmp_path / ("hostile.warc.gz" if gz else "hostile.warc")
    offset = write_with(path, hostile, gz)
    pages, events = split(iter_records(path, pages_only=True))
    assert [p.url for p in pages] == list(PAGES), "every good record before and after still yields its page"
    err = assert_damage_reported(path, events, offset)
    assert expected in err.message and f"{path}@{offset}" in err.message


@pytest.mark.parametrize("name", ["gzip", "deflate"])
def test_gzip_or_deflate_label_over_a_plain_body_reads_the_body(tmp_path, name):
    """warcio falls back to the bytes as they are when a gzip or deflate label is a lie: the page is read."""
    path = tmp_path / "label.warc.gz"
    write_with(path, _encoding(name))
    pages, events = split(iter_records(path))
    assert [p.url for p in pages] == [list(PAGES)[0], "http://clinic.example/enc", *list(PAGES)[1:]]
    assert pages[1].body == b"<p>plain stem cell text, not encoded</p>" and not events


def _huge_length(data: bytes) -> bytes:
    return re.sub(rb"Content-Length: \d+", b"Content-Length: 100000000000000000000000", data, count=1)


def _unicode_length(data: bytes) -> bytes:
    return re.sub(rb"Content-Length: \d+", "Content-Length: ²".encode(), data, count=1)


@pytest.mark.parametrize("edit", [_huge_length, _unicode_length], ids=["10^23", "superscript-two"])
def test_impossible_content_length_costs_only_its_record(tmp_path, edit):
    path = tmp_path / "length.warc"
    offsets = write_warc(path, gz=False)
    data = path.read_bytes()
    path.write_bytes(data[:offsets[2]] + edit(data[offsets[2]:offsets[3]]) + data[offsets[3]:])
    pages, events = split(iter_records(path))
    urls = list(PAGES)
    assert [p.url for p in pages] == [urls[0], urls[2]], "the records before and after are read"
    err = assert_damage_reported(path, events, offsets[2])
    assert "bad Content-Length" in err.message and "skipped to the next record" in err.message


@pytest.mark.parametrize("case", ["summary-json-is-a-list", "event-json-is-a-list", "ipv6-url-unclosed"])
def test_check_warc_keeps_the_site_report(tmp_path, case):
    """`check FILE.warc.gz` reports on the site (exit 0), naming the bad record; never 'internal error'."""
    from typer.testing import CliRunner

    from detector.cli import app

    path = tmp_path / "site.warc.gz"
    if case == "ipv6-url-unclosed":
        write_with(path, lambda w: w.write_record(_response(w, "http://[::1/", b"<p>Stem cells cure all.</p>")))
    else:
        write_with(path, HOSTILE_RECORDS[case][0])
    result = CliRunner().invoke(app, ["check", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    assert "internal error" not in result.output
    report = json.loads(result.stdout.splitlines()[0])
    assert report["pages_analysed"] == 3
    assert report["failures"], "the bad record is named in the report"


def test_valid_uncompressed_warc_has_no_error(tmp_path, detector):
    path = tmp_path / "plain.warc"
    write_warc(path, gz=False)
    pages, events = split(iter_records(path))
    assert [p.url for p in pages] == list(PAGES) and not events
    assert not site_reports(detector, path)[0].events


def test_single_member_gzip_warc(tmp_path):
    """A WARC gzipped whole (one member, many records) is read record by record, each with its own key."""
    plain = tmp_path / "plain.warc"
    write_warc(plain, gz=False)
    path = tmp_path / "whole.warc.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    pages, events = split(iter_records(path))
    assert [p.url for p in pages] == list(PAGES) and not events
    keys = [record_location(p) for p in pages]
    assert len(set(keys)) == 3 and all(k.startswith("0+") for k in keys)
    cut = tmp_path / "whole-cut.warc.gz"
    cut.write_bytes(path.read_bytes()[:-60])
    pages, events = split(iter_records(cut))
    assert [p.url for p in pages] == list(PAGES)[:len(pages)] and pages
    err = assert_damage_reported(cut, events)
    assert err.offset >= 0 and "-" not in err.message.split("@")[1].split(":")[0], err.message
    assert err.reason == "warc_truncated"


def test_partial_warc_is_read_and_says_so(tmp_path, detector):
    """A crawl killed before its summary leaves NAME.partial: readable, and the report says it is unfinished."""
    path = tmp_path / "site.warc.gz.partial"
    write_warc(path, info=STEMCHECK_INFO)
    reports = site_reports(detector, path)
    assert len(reports[0].analysed) == 3
    assert any(e.reason == "crawl_unfinished" for e in reports[0].events)


@pytest.mark.parametrize("case", ["response-without-target-uri", "brotli-over-a-plain-body", "event-json-is-a-list"])
def test_scan_turns_a_hostile_record_into_one_failed_row(tmp_path, case):
    """Through the batch scan: the bad record is one failed row naming file@offset and the cause; every page
    before and after it is analysed."""
    from detector.batch.runner import Scanner

    path = tmp_path / "mixed.warc.gz"
    offset = write_with(path, HOSTILE_RECORDS[case][0])
    pages = Scanner().run([path]).pages
    failed = pages[pages["status"] == "failed"]
    assert list(failed["item_key"]) == [f"{path.resolve()}@{offset}"]
    assert HOSTILE_RECORDS[case][1] in failed["error"].iloc[0]
    assert set(PAGES) <= set(pages.loc[pages["status"].isin(["analysed", "irrelevant"]), "url"])
