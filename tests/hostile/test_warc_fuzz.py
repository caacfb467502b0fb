"""Byte-mutation fuzz over the WARC record reader: one damaged record never costs the records around it.

A valid WARC (warcinfo, request/response pairs, a metadata record), gzipped per record or not compressed,
has one record damaged at a time by a seeded mutation: bits flipped, bytes overwritten, inserted, deleted,
duplicated or cut, a Content-Length digit changed. Reading must raise nothing, and every response record
other than the damaged one must come back as its page with its body intact. The seeds are fixed, so a
failure names a case that reproduces.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from detector.source.warc import EVENT_PROFILE, WarcEvent, WarcPage, iter_records

PAGES = {f"http://clinic.example/p{n}": (f"<html><title>Page {n}</title><p>Our stem cells cure {n} conditions, "
                                        "guaranteed.</p>" + "<p>filler text</p>" * n + "</html>").encode()
         for n in range(6)}
CASES_PER_FLAVOUR = 2000  # 4,000 mutated records a run; about 20 s on the reference machine


def build(gz: bool) -> tuple[bytes, list[tuple[int, int, str | None]]]:
    """The WARC's bytes and each record's (start, end, response URL or None)."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gz, warc_version="1.1")
    spans: list[tuple[int, int, str | None]] = []

    def put(record, url: str | None) -> None:  # noqa: ANN001
        start = buf.tell()
        w.write_record(record)
        spans.append((start, buf.tell(), url))

    put(w.create_warcinfo_record("fuzz.warc", {"software": "fuzz"}), None)
    for n, (url, body) in enumerate(PAGES.items()):
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        put(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http), url)
        req = StatusAndHeaders(f"GET /p{n} HTTP/1.1", [("Host", "clinic.example")], is_http_request=True)
        put(w.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=req), None)
        if n == 2:
            meta = b'{"url": "http://clinic.example/x", "kind": "skipped", "reason": "robots", "message": "m"}'
            put(w.create_warc_record("http://clinic.example/x", "metadata", payload=io.BytesIO(meta),
                                     warc_content_type="application/json",
                                     warc_headers_dict={"WARC-Profile": EVENT_PROFILE}), None)
    return buf.getvalue(), spans


def mutate(data: bytes, start: int, end: int, rng: random.Random) -> tuple[bytes, str]:
    """One seeded mutation inside data[start:end]; returns the new bytes and what was done."""
    size = end - start
    at = start + rng.randrange(size)
    n = rng.randint(1, min(64, end - at))  # the damage stays inside the record
    op = rng.choice(("flip", "overwrite", "insert", "delete", "duplicate", "cut", "digit", "zero", "crlf"))
    if op == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            i = start + rng.randrange(size)
            out[i] ^= 1 << rng.randrange(8)
        return bytes(out), op
    if op == "overwrite":
        return data[:at] + rng.randbytes(n) + data[at + n:], f"{op} {n}@{at}"
    if op == "insert":
        return data[:at] + rng.randbytes(n) + data[at:], f"{op} {n}@{at}"
    if op == "delete":
        return data[:at] + data[at + n:], f"{op} {n}@{at}"
    if op == "duplicate":
        return data[:at] + data[at:at + n] + data[at:], f"{op} {n}@{at}"
    if op == "cut":  # the record loses its tail, as in a file cut short and then appended to
        return data[:at] + data[end:], f"{op} from {at}"
    if op == "digit":
        head = data[start:end]
        i = head.find(b"Content-Length: ")
        if i < 0:  # gzip: damage a byte instead
            return data[:at] + bytes([data[at] ^ 0x55]) + data[at + 1:], "xor"
        i += len(b"Content-Length: ") + rng.randrange(2)
        return data[:start + i] + str(rng.randrange(10)).encode() * rng.randint(1, 3) + data[start + i + 1:], op
    if op == "zero":
        return data[:at] + bytes(n) + data[at + n:], f"{op} {n}@{at}"
    return data[:at] + b"\r\n\r\n" + data[at:], f"{op}@{at}"


@pytest.mark.parametrize("gz", [True, False], ids=["gzip-per-record", "uncompressed"])
def test_one_damaged_record_costs_only_itself(tmp_path: Path, gz: bool) -> None:
    data, spans = build(gz)
    path = tmp_path / ("fuzz.warc.gz" if gz else "fuzz.warc")
    rng = random.Random(20261206 + gz)
    for case in range(CASES_PER_FLAVOUR):
        k = rng.randrange(len(spans))
        start, end, damaged_url = spans[k]
        mutated, how = mutate(data, start, end, rng)
        path.write_bytes(mutated)
        try:
            items = list(iter_records(path, pages_only=bool(case % 2)))
        except Exception as exc:  # noqa: BLE001 - the point: nothing may escape
            pytest.fail(f"case {case} ({how} in record {k}): {type(exc).__name__}: {exc}")
        pages = {i.url: i.body for i in items if isinstance(i, WarcPage)}
        for url, body in PAGES.items():
            if url != damaged_url:
                assert pages.get(url) == body, f"case {case} ({how} in record {k}) lost {url}"
        for event in (i for i in items if isinstance(i, WarcEvent) and i.kind == "error"):
            assert str(path) in event.message and "@" in event.message, event.message


def test_intact_file_yields_every_record(tmp_path: Path) -> None:
    for gz in (True, False):
        data, _spans = build(gz)
        path = tmp_path / ("ok.warc.gz" if gz else "ok.warc")
        path.write_bytes(data)
        items = list(iter_records(path))
        assert {i.url: i.body for i in items if isinstance(i, WarcPage)} == PAGES
        assert not [i for i in items if isinstance(i, WarcEvent) and i.kind == "error"]
