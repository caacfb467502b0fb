"""WARC evidence: write what the crawler saw, read it back so a report can be re-derived offline.

A stemcheck crawl WARC holds, in order: a `warcinfo` record (software, version, settings, start time, start
URL), then per exchange a `response` (robots.txt included) and its `request`, `revisit` records for
pages unchanged since a previous crawl, `metadata` records (JSON) for every URL that failed or was skipped
with the reason, and a closing `metadata` record summarising the crawl.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from detector import __version__
from detector.digest import sha256_file
from detector.errors import InputError
from detector.records import WarcEvent
from detector.source.fetch import Response

log = logging.getLogger(__name__)

EVENT_PROFILE = "https://stemcheck.example/warc/event"  # names our JSON metadata records
SUMMARY_PROFILE = "https://stemcheck.example/warc/crawl-summary"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def warc_date(ts: float | None = None) -> str:
    when = datetime.fromtimestamp(ts, UTC) if ts is not None else datetime.now(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WarcRecorder:
    """Appends crawl records to one gzipped WARC 1.1 file; use as a context manager."""

    def __init__(self, path: Path, info: dict):
        self.path = Path(path)
        try:
            self._fh: BinaryIO = self.path.open("wb")
        except OSError as exc:
            raise InputError(f"{path}: cannot write the WARC file ({exc.strerror})") from exc
        self._writer = WARCWriter(self._fh, gzip=True, warc_version="1.1")
        fields = {"software": f"stemcheck/{__version__}", "format": "WARC File Format 1.1"}
        fields.update({k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in info.items()})
        self._writer.write_record(self._writer.create_warcinfo_record(self.path.name, fields))

    def __enter__(self) -> WarcRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def exchange(self, resp: Response) -> str:
        """Write a response and its request; returns the response's WARC-Record-ID."""
        date = warc_date(resp.started or None)
        http = StatusAndHeaders(f"{resp.status} {resp.reason}".strip(), resp.headers, protocol=resp.http_version)
        record = self._writer.create_warc_record(
            resp.url, "response", payload=io.BytesIO(resp.raw_body or resp.body), http_headers=http,
            warc_headers_dict={"WARC-Date": date, **({"WARC-IP-Address": resp.ip} if resp.ip else {})},
        )
        self._writer.write_record(record)
        rid = record.rec_headers.get_header("WARC-Record-ID")
        self.request(resp, rid, date)
        return rid

    def request(self, resp: Response, concurrent_to: str | None, date: str) -> None:
        if not resp.request_headers:
            return
        (method, path), headers = resp.request_headers[0], resp.request_headers[1:]
        http = StatusAndHeaders(f"{method} {path} {resp.http_version}", headers, is_http_request=True)
        extra = {"WARC-Date": date}
        if concurrent_to:
            extra["WARC-Concurrent-To"] = concurrent_to
        self._writer.write_record(
            self._writer.create_warc_record(resp.url, "request", payload=io.BytesIO(b""), http_headers=http,
                                            warc_headers_dict=extra)
        )

    def revisit(self, resp: Response, refers_to: str, refers_to_date: str, digest: str) -> str:
        """A 304 answer to a conditional request: points at the earlier response instead of a payload."""
        http = StatusAndHeaders(f"{resp.status} {resp.reason}".strip(), resp.headers, protocol=resp.http_version)
        record = self._writer.create_revisit_record(
            resp.url, digest, resp.url, refers_to_date, http_headers=http,
            warc_headers_dict={"WARC-Date": warc_date(resp.started or None), "WARC-Refers-To": refers_to,
                               "WARC-Profile": REVISIT_PROFILE},
        )
        self._writer.write_record(record)
        rid = record.rec_headers.get_header("WARC-Record-ID")
        self.request(resp, rid, warc_date(resp.started or None))
        return rid

    def event(self, url: str, kind: str, reason: str, message: str, **extra: object) -> str:
        """A JSON metadata record for a URL that failed or was skipped, so the WARC explains gaps."""
        body = json.dumps({"url": url, "kind": kind, "reason": reason, "message": message, **extra},
                          sort_keys=True).encode()
        record = self._writer.create_warc_record(
            url, "metadata", payload=io.BytesIO(body), warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": warc_date(), "WARC-Profile": EVENT_PROFILE},
        )
        self._writer.write_record(record)
        return record.rec_headers.get_header("WARC-Record-ID")

    def summary(self, url: str, data: dict) -> None:
        record = self._writer.create_warc_record(
            url, "metadata", payload=io.BytesIO(json.dumps(data, sort_keys=True).encode()),
            warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": warc_date(), "WARC-Profile": SUMMARY_PROFILE},
        )
        self._writer.write_record(record)


@dataclass
class WarcPage:
    """An HTTP response found in a WARC, with the record it came from."""

    url: str
    status: int
    date: str
    record_id: str
    content_type: str
    charset: str | None
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    revisit_of: str = ""
    digest: str = ""
    offset: int | None = None


@dataclass
class WarcCrawl:
    """Everything read back from one WARC."""

    path: Path
    sha256: str
    info: dict[str, str] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    pages: list[WarcPage] = field(default_factory=list)
    events: list[WarcEvent] = field(default_factory=list)
    robots: list[WarcPage] = field(default_factory=list)


def _content_type(value: str | None) -> tuple[str, str | None]:
    from detector.source.fetch import _content_type as parse

    return parse(value)


def _read_capped(stream: BinaryIO, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"payload larger than {limit:,} bytes")
    return data


def _warcinfo_fields(body: bytes) -> dict[str, str]:
    fields = {}
    for line in body.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def iter_records(
    path: Path, max_payload: int = 10_000_000, pages_only: bool = False
) -> Iterator[WarcPage | WarcEvent | tuple[str, dict]]:
    """Stream a WARC: pages (responses and revisits), events, and ("warcinfo"|"summary", fields) pairs.

    A corrupt record ends the file with an error event naming its offset; what came before is kept.
    With pages_only (batch scans of any crawler's WARC), only 200 HTML/text responses are read; other
    responses become "skipped" events (not_html, http_status, revisit) without their bodies being read.
    """
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    with fh:
        head = fh.read(4)
        fh.seek(0)
        if not (head.startswith(b"\x1f\x8b") or head.startswith(b"WARC")):
            raise InputError(f"{path}: not a WARC file (no WARC or gzip header)")
        size = path.stat().st_size
        end = 0
        iterator = ArchiveIterator(fh)
        try:
            for record in iterator:
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                rid = record.rec_headers.get_header("WARC-Record-ID") or ""
                try:
                    item = _parse_record(record, max_payload, pages_only)
                    error = None
                except (InputError, ValueError, OSError, EOFError, gzip.BadGzipFile) as exc:
                    item, error = None, exc
                for _ in iter(lambda r=record: r.raw_stream.read(1 << 16), b""):
                    pass  # drain, so a record cut short shows as bytes still owed
                offset = iterator.get_record_offset()
                end = offset + (iterator.get_record_length() or 0)
                if not record.rec_type or not rid:
                    yield WarcEvent(uri, "error", "warc_truncated",
                                    f"{path}@{offset}: record header cut short or unreadable", rid, offset)
                elif (getattr(record.raw_stream, "limit", 0) or 0) > 0:
                    yield WarcEvent(uri, "error", "warc_truncated",
                                    f"{path}@{offset}: record cut short ({record.raw_stream.limit} bytes missing)",
                                    rid, offset)
                elif error is not None:
                    yield WarcEvent(uri, "error", "warc_record", f"{path}@{offset}: {error}", rid, offset)
                elif isinstance(item, WarcEvent):
                    item.offset = offset
                    yield item
                elif item is not None:
                    if isinstance(item, WarcPage):
                        item.offset = offset
                    yield item
        except (ArchiveLoadFailed, ValueError, OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            yield WarcEvent("", "error", "warc_corrupt", f"{path}@{end}: unreadable from this offset on ({exc})",
                            "", end)
            return
        if end < size:
            yield WarcEvent("", "error", "warc_truncated",
                            f"{path}@{end}: the last {size - end:,} bytes are not a complete record (file cut short?)",
                            "", end)


def _parse_record(  # noqa: ANN001
    record, max_payload: int, pages_only: bool = False
) -> WarcPage | WarcEvent | tuple[str, dict] | None:
    """One WARC record as our types; None for records a report does not need (requests, other metadata)."""
    uri = record.rec_headers.get_header("WARC-Target-URI") or ""
    rid = record.rec_headers.get_header("WARC-Record-ID") or ""
    kind = record.rec_type
    if kind == "warcinfo":
        return "warcinfo", _warcinfo_fields(_read_capped(record.content_stream(), 1_000_000))
    if kind == "metadata":
        profile = record.rec_headers.get_header("WARC-Profile") or ""
        if profile not in (EVENT_PROFILE, SUMMARY_PROFILE):
            return None
        data = json.loads(_read_capped(record.content_stream(), 1_000_000))
        if profile == SUMMARY_PROFILE:
            return "summary", data
        return WarcEvent(data.get("url", uri), data.get("kind", "error"), data.get("reason", ""),
                         data.get("message", ""), rid)
    if kind in ("response", "revisit") and record.http_headers is not None:
        status = int(record.http_headers.get_statuscode() or 0)
        ctype, charset = _content_type(record.http_headers.get_header("Content-Type"))
        if pages_only:
            if kind == "revisit":
                return WarcEvent(uri, "skipped", "revisit", f"{uri}: revisit record (no payload)", rid)
            if status != 200:
                return WarcEvent(uri, "skipped", "http_status", f"{uri}: HTTP {status}", rid)
            if ctype and not ctype.startswith(("text/html", "application/xhtml+xml", "text/plain")):
                return WarcEvent(uri, "skipped", "not_html", f"{uri}: content type {ctype}", rid)
        body = b"" if kind == "revisit" else _read_capped(record.content_stream(), max_payload)
        return WarcPage(
            uri, status, record.rec_headers.get_header("WARC-Date") or "", rid, ctype, charset, body,
            {k.lower(): v for k, v in record.http_headers.headers},
            record.rec_headers.get_header("WARC-Refers-To") or ("?" if kind == "revisit" else ""),
            record.rec_headers.get_header("WARC-Payload-Digest") or "",
        )
    return None


def read_crawl(path: Path, max_payload: int = 10_000_000) -> WarcCrawl:
    """Read a whole WARC into pages and events; robots.txt responses are kept apart."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    crawl = WarcCrawl(path=path, sha256=sha256_file(path))
    by_id: dict[str, WarcPage] = {}
    for item in iter_records(path, max_payload):
        if isinstance(item, tuple):
            name, data = item
            if name == "warcinfo" and not crawl.info:
                crawl.info = data
            elif name == "summary":
                crawl.summary = data
        elif isinstance(item, WarcEvent):
            crawl.events.append(item)
        elif item.url.endswith("/robots.txt"):
            crawl.robots.append(item)
        else:
            if item.revisit_of:
                _resolve_revisit(item, by_id, crawl, path, max_payload)
                if not item.body and item.status == 304:
                    continue
            by_id[item.record_id] = item
            crawl.pages.append(item)
    return crawl


_previous_cache: dict[Path, dict[str, WarcPage]] = {}


def _resolve_revisit(page: WarcPage, by_id: dict[str, WarcPage], crawl: WarcCrawl, path: Path,
                     max_payload: int) -> None:
    """Give a revisit the payload it points at: in this WARC, or the previous crawl named in warcinfo."""
    target = by_id.get(page.revisit_of)
    if target is None and crawl.info.get("previous-warc"):
        prev = path.parent / Path(crawl.info["previous-warc"]).name
        if prev.exists():
            if prev not in _previous_cache:
                _previous_cache[prev] = {
                    p.record_id: p for p in iter_records(prev, max_payload) if isinstance(p, WarcPage)
                }
            target = _previous_cache[prev].get(page.revisit_of)
    if target is None:
        crawl.events.append(WarcEvent(page.url, "error", "revisit_unresolved",
                                      f"{page.url}: unchanged since a crawl whose WARC is not available",
                                      page.record_id))
        return
    page.status, page.body = 200, target.body
    page.content_type, page.charset = target.content_type, target.charset
