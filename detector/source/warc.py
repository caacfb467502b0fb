"""WARC evidence: write what the crawler saw, read it back so a report can be re-derived offline.

A stemcheck crawl WARC holds, in order: a `warcinfo` record (software, version, settings, start time, start
URL), then per exchange a `response` (robots.txt included) and its `request`, `revisit` records for
pages unchanged since a previous crawl, `metadata` records (JSON) for every URL that failed or was skipped
with the reason, and a closing `metadata` record summarising the crawl.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from detector.digest import sha256_file
from detector.errors import InputError, StemcheckError
from detector.guard import open_regular, write_error
from detector.records import WarcEvent
from detector.source.fetch import Response
from detector.source.warcfile import Damage, RawRecord, looks_like_warc, read_records
from detector.version import __version__

if TYPE_CHECKING:  # warcio loads only when a WARC is read or written: `check page.html` never pays for it
    from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader

log = logging.getLogger(__name__)
# warcio warns on stderr about every malformed header of a hostile WARC; the reader reports those as rows.
logging.getLogger("warcio").setLevel(logging.ERROR)

PARTIAL = ".partial"  # a WARC being written: complete only once its summary is in and it is renamed
WARC_SUFFIXES = (".warc", ".warc.gz", ".warc" + PARTIAL, ".warc.gz" + PARTIAL)
EVENT_PROFILE = "https://stemcheck.example/warc/event"  # names our JSON metadata records
SUMMARY_PROFILE = "https://stemcheck.example/warc/crawl-summary"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def is_warc_name(name: str) -> bool:
    """A WARC by its name, including one a killed crawl left as NAME.partial (readable, never complete)."""
    return name.lower().endswith(WARC_SUFFIXES)


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL)


def warc_date(ts: float | None = None) -> str:
    when = datetime.fromtimestamp(ts, UTC) if ts is not None else datetime.now(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WarcRecorder:
    """Appends crawl records to one gzipped WARC 1.1 file; use as a context manager.

    The records go to NAME.partial, and only `complete()` (after the closing summary record) renames it to
    NAME: a killed or failed crawl leaves its evidence readable, but never looking complete, and an earlier
    file of that name stays whole until the new one is. A failed write (disk full) is an OutputError.
    """

    def __init__(self, path: Path, info: dict):
        self.path = Path(path)
        self.partial = partial_path(self.path)
        try:
            self._fh: BinaryIO = self.partial.open("wb")
        except OSError as exc:
            raise write_error(exc, self.partial) from exc
        from warcio.statusandheaders import StatusAndHeaders
        from warcio.warcwriter import WARCWriter

        self._headers = StatusAndHeaders
        self._writer = WARCWriter(self._fh, gzip=True, warc_version="1.1")
        fields = {"software": f"stemcheck/{__version__}", "format": "WARC File Format 1.1"}
        fields.update({k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in info.items()})
        self._write(self._writer.create_warcinfo_record(self.path.name, fields))

    def __enter__(self) -> WarcRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, record) -> None:  # noqa: ANN001
        try:
            self._writer.write_record(record)
        except OSError as exc:
            raise write_error(exc, self.partial) from exc

    def close(self) -> None:
        """Close the file, leaving it as NAME.partial unless complete() renamed it."""
        if not self._fh.closed:
            try:
                self._fh.close()
            except OSError as exc:
                raise write_error(exc, self.partial) from exc

    def complete(self) -> None:
        """The crawl is over and its summary written: sync, close, and give the file its final name."""
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            os.replace(self.partial, self.path)
        except OSError as exc:
            raise write_error(exc, self.path) from exc

    def exchange(self, resp: Response) -> str:
        """Write a response and its request; returns the response's WARC-Record-ID."""
        date = warc_date(resp.started or None)
        http = self._headers(f"{resp.status} {resp.reason}".strip(), resp.headers, protocol=resp.http_version)
        record = self._writer.create_warc_record(
            resp.url, "response", payload=io.BytesIO(resp.raw_body or resp.body), http_headers=http,
            warc_headers_dict={"WARC-Date": date, **({"WARC-IP-Address": resp.ip} if resp.ip else {})},
        )
        self._write(record)
        rid = record.rec_headers.get_header("WARC-Record-ID")
        self.request(resp, rid, date)
        return rid

    def request(self, resp: Response, concurrent_to: str | None, date: str) -> None:
        if not resp.request_headers:
            return
        (method, path), headers = resp.request_headers[0], resp.request_headers[1:]
        http = self._headers(f"{method} {path} {resp.http_version}", headers, is_http_request=True)
        extra = {"WARC-Date": date}
        if concurrent_to:
            extra["WARC-Concurrent-To"] = concurrent_to
        self._write(self._writer.create_warc_record(resp.url, "request", payload=io.BytesIO(b""), http_headers=http,
                                                    warc_headers_dict=extra))

    def revisit(self, resp: Response, refers_to: str, refers_to_date: str, digest: str) -> str:
        """A 304 answer to a conditional request: points at the earlier response instead of a payload."""
        http = self._headers(f"{resp.status} {resp.reason}".strip(), resp.headers, protocol=resp.http_version)
        record = self._writer.create_revisit_record(
            resp.url, digest, resp.url, refers_to_date, http_headers=http,
            warc_headers_dict={"WARC-Date": warc_date(resp.started or None), "WARC-Refers-To": refers_to,
                               "WARC-Profile": REVISIT_PROFILE},
        )
        self._write(record)
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
        self._write(record)
        return record.rec_headers.get_header("WARC-Record-ID")

    def summary(self, url: str, data: dict) -> None:
        record = self._writer.create_warc_record(
            url, "metadata", payload=io.BytesIO(json.dumps(data, sort_keys=True).encode()),
            warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": warc_date(), "WARC-Profile": SUMMARY_PROFILE},
        )
        self._write(record)


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
    inner: int = 0  # see RecordEvent


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


@lru_cache(maxsize=512)
def _content_type(value: str | None) -> tuple[str, str | None]:
    """Parsed once per distinct header value: an archive repeats a handful, and email's parser is slow."""
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


@dataclass
class RecordEvent(WarcEvent):
    """A WarcEvent met while reading a file, placed exactly: `inner` is its start inside a multi-record
    gzip member (WARCs gzipped as one member), so every record has its own key."""

    inner: int = 0


def record_location(item: WarcPage | WarcEvent) -> str:
    """Where a record is in its file, unique per file: `offset`, or `offset+inner` inside a gzip member."""
    inner = getattr(item, "inner", 0)
    return f"{item.offset}+{inner}" if inner else str(item.offset)


def _describe(exc: Exception) -> str:
    """A record's failure in one line: our own errors as they are, anything else with its type."""
    if isinstance(exc, StemcheckError):
        return str(exc)
    return f"unreadable record ({type(exc).__name__}: {str(exc)[:200]})"


def iter_records(
    path: Path, max_payload: int = 10_000_000, pages_only: bool = False
) -> Iterator[WarcPage | WarcEvent | tuple[str, dict]]:
    """Stream a WARC: pages (responses and revisits), events, and ("warcinfo"|"summary", fields) pairs.

    Every record is read inside one guard (source/warcfile.py): a record that cannot be read becomes an
    error event naming file@offset and the cause, damaged bytes become one event saying where reading
    resumed, and the records after it are still read. With pages_only (batch scans of any crawler's WARC),
    only 200 HTML/text responses are read; other responses become "skipped" events (not_html,
    http_status, revisit) without their bodies being read.
    """
    fh = open_regular(path)  # a FIFO named x.warc.gz is refused, not waited on
    size = os.fstat(fh.fileno()).st_size
    from warcio.recordloader import ArcWarcRecordLoader

    loader = ArcWarcRecordLoader()

    def parse(raw: RawRecord, stream: BinaryIO) -> WarcPage | WarcEvent | tuple[str, dict] | None:
        kind = raw.headers.get("warc-type", "")
        if not kind:
            raise InputError("record without a WARC-Type")
        if not raw.headers.get("warc-record-id"):
            raise InputError(f"{kind} record without a WARC-Record-ID")
        if kind in ("response", "revisit", "request") and not raw.headers.get("warc-target-uri"):
            raise InputError(f"{kind} record without a WARC-Target-URI")
        return _parse_record(_warcio_record(loader, raw, stream), max_payload, pages_only)

    with fh:
        head = fh.read(1 << 20)
        fh.seek(0)
        if not head.startswith((b"\x1f\x8b", b"WARC/")) and not looks_like_warc(head):
            # a damaged first record is still a WARC when a record starts soon after it
            raise InputError(f"{path}: not a WARC file (no WARC or gzip header)")
        for framed in read_records(fh, size, parse):
            if isinstance(framed, Damage):
                reason = "warc_truncated" if framed.truncated else "warc_corrupt"
                yield RecordEvent("", "error", reason, f"{path}@{framed.location}: {framed.describe()}", "",
                                  framed.offset, framed.inner)
                continue
            raw, item = framed.record, framed.result
            uri, rid = raw.headers.get("warc-target-uri", ""), raw.headers.get("warc-record-id", "")
            if framed.error is not None:
                yield RecordEvent(uri, "error", "warc_record", f"{path}@{raw.location}: {_describe(framed.error)}",
                                  rid, raw.offset, raw.inner)
            elif isinstance(item, WarcEvent):
                yield RecordEvent(item.url, item.kind, item.reason, item.message, item.record_id, raw.offset,
                                  raw.inner)
            elif isinstance(item, WarcPage):
                item.offset, item.inner = raw.offset, raw.inner
                yield item
            elif item is not None:
                yield item


def _warcio_record(loader: ArcWarcRecordLoader, raw: RawRecord, stream: BinaryIO) -> ArcWarcRecord:
    """The record as warcio's type, from the header fields the framing already read: warcio parses only
    the HTTP headers and decodes the body (chunking, Content-Encoding)."""
    from warcio.recordloader import ArcWarcRecord
    from warcio.statusandheaders import StatusAndHeaders

    rec_headers = StatusAndHeaders("", raw.pairs, protocol=raw.version)
    uri = raw.headers.get("warc-target-uri", "")
    if uri.startswith("<") and uri.endswith(">"):  # wget 1.19 wrote <URI>
        uri = uri[1:-1]
    uri = uri.replace(" ", "%20")
    if uri != raw.headers.get("warc-target-uri", ""):
        rec_headers.replace_header("WARC-Target-URI", uri)
    kind = raw.headers.get("warc-type", "")
    http = loader.load_http_headers(kind, uri, stream, raw.length)
    return ArcWarcRecord("warc", kind, rec_headers, stream, http, raw.headers.get("content-type"), raw.length)


def _json_object(stream: BinaryIO, what: str) -> dict:
    """A stemcheck metadata record's JSON, which must be an object: a list or a string is damage."""
    data = json.loads(_read_capped(stream, 1_000_000))
    if not isinstance(data, dict):
        raise InputError(f"{what} record is not a JSON object")
    return data


def _read_body(record, limit: int) -> bytes:  # noqa: ANN001
    """The payload with chunking and one Content-Encoding undone; a body that lies about its encoding
    (gzip or brotli over plain bytes) is this record's failure, said plainly."""
    encoding = (record.http_headers.get_header("Content-Encoding") or "").strip().lower()
    try:
        return _read_capped(record.content_stream(), limit)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - warcio's decoders raise anything from zlib.error to AttributeError
        if encoding:
            raise InputError(f"the body does not decode as its Content-Encoding {encoding!r} "
                             f"({type(exc).__name__})") from exc
        raise


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
        if profile == SUMMARY_PROFILE:
            return "summary", _json_object(record.content_stream(), "crawl summary")
        data = _json_object(record.content_stream(), "crawl event")
        return WarcEvent(str(data.get("url") or uri), str(data.get("kind") or "error"), str(data.get("reason") or ""),
                         str(data.get("message") or ""), rid)
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
        body = b"" if kind == "revisit" else _read_body(record, max_payload)
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
    if crawl.info.get("software", "").startswith("stemcheck/") and not crawl.summary:
        crawl.events.append(WarcEvent("", "error", "crawl_unfinished",
                                      f"{path}: the crawl did not finish (no closing summary record); "
                                      "what it fetched before it stopped is here"))
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
