"""A WARC file cut into records by its own framing, so one damaged record never hides the ones after it.

warcio parses a record well, but its iterator stops at the first damaged record, refuses a WARC gzipped as
one member, and lets a record's bad Content-Length read into the next. Here the file is cut into records
first: gzip members (each decompressed on its own, CRC checked), then inside them each record's header block
and Content-Length, checked against the CRLF CRLF that must close it. Each record reaches the caller's
parser as a stream bounded to its own bytes, inside one guard: whatever the parser raises becomes that
record's failure. After damage the reader looks for the next record start (a gzip member header, or a
`WARC/x.y` line) and goes on, so the records before and after the damage are all read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

CHUNK = 1 << 16
MAX_HEADER_BYTES = 1 << 18  # a WARC header block longer than 256 KB is damage, not headers
MAX_LINE_BYTES = 1 << 16
_GZIP = b"\x1f\x8b\x08"
_VERSION_LINE = re.compile(rb"WARC/\d{1,3}\.\d{1,3}\r?\n")
# After damage, a record may start glued to garbage: its version line is looked for anywhere.
_RECORD_START = re.compile(rb"\x1f\x8b\x08|WARC/\d{1,3}\.\d{1,3}\r?\n")
_WARC_START = re.compile(rb"WARC/\d{1,3}\.\d{1,3}\r?\n")
_ONCE = frozenset({"warc-type", "warc-record-id", "content-length"})
_BLANK_LINE = re.compile(rb"\n\r?\n")
_BOUNDARY = re.compile(rb"\r\n\r\nWARC/\d{1,3}\.\d{1,3}\r\n")


class _Digest:
    """A WARC-Block-Digest (`sha1:BASE32`, hex or base32, sha1/sha256/md5) and the hash to check it."""

    def __init__(self, name: str, expected: bytes):
        self.hash, self.expected = hashlib.new(name), expected

    @classmethod
    def of(cls, value: str) -> _Digest | None:
        algo, _, text = value.strip().partition(":")
        name = {"sha1": "sha1", "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256", "md5": "md5"}.get(
            algo.lower())
        if name is None or not text:
            return None
        size = hashlib.new(name).digest_size
        for decode in (lambda t: base64.b32decode(t.upper()), bytes.fromhex):
            try:
                raw = decode(text)
            except (ValueError, binascii.Error):
                continue
            if len(raw) == size:
                return cls(name, raw)
        return None

    def update(self, data: bytes) -> None:
        self.hash.update(data)

    def matches(self) -> bool:
        return self.hash.digest() == self.expected


class _Bad(Exception):
    """The bytes at this position are not a whole record (a framing fault, not a parser's)."""

    def __init__(self, message: str, truncated: bool = False):
        super().__init__(message)
        self.truncated = truncated


class _Broken(_Bad):
    """The gzip member under the record cannot be decompressed from here on."""


@dataclass
class RawRecord:
    """One record's place in the file and its WARC header fields (names lower-cased; the first wins)."""

    offset: int  # where the record, or the gzip member holding it, starts in the file
    inner: int  # where it starts in the member's decompressed bytes (0: it opens the member, or no gzip)
    headers: dict[str, str]
    length: int  # its Content-Length
    version: str = "WARC/1.1"
    pairs: list[tuple[str, str]] = field(default_factory=list)  # the fields as written, in order

    @property
    def location(self) -> str:
        """`offset`, or `offset+inner` for a record that does not open its gzip member: unique in a file."""
        return f"{self.offset}+{self.inner}" if self.inner else str(self.offset)


@dataclass
class Framed(Generic[T]):
    """A record whose framing held, with what the parser made of it (or the exception it raised)."""

    record: RawRecord
    result: T | None
    error: Exception | None = None


@dataclass
class Damage:
    """Bytes that are no record: where they start, why, and where reading resumed (None: nowhere)."""

    offset: int
    inner: int
    message: str
    truncated: bool = False
    resumed_at: str | None = None  # a location, as RawRecord.location

    @property
    def location(self) -> str:
        return f"{self.offset}+{self.inner}" if self.inner else str(self.offset)

    def describe(self) -> str:
        if self.resumed_at is not None:
            return f"{self.message}; skipped to the next record at {self.resumed_at}"
        return f"{self.message}; nothing readable after it"


class _Source:
    """Buffered forward reading over a raw read function, with a position and pushback."""

    def __init__(self, raw: Callable[[int], bytes], pos: int = 0, seek: Callable[[int], None] | None = None):
        self.raw, self.pos, self._seek = raw, pos, seek
        self.buf, self.i = b"", 0

    def _avail(self) -> int:
        return len(self.buf) - self.i

    def _fill(self) -> bool:
        chunk = self.raw(CHUNK)
        if not chunk:
            return False
        self.buf = self.buf[self.i:] + chunk
        self.i = 0
        return True

    def tell(self) -> int:
        return self.pos

    def at_eof(self) -> bool:
        return self._avail() == 0 and not self._fill()

    def read(self, n: int) -> bytes:
        while self._avail() < n and self._fill():
            pass
        out = self.buf[self.i:self.i + n]
        self.i += len(out)
        self.pos += len(out)
        return out

    def readline(self, limit: int) -> bytes:
        while True:
            j = self.buf.find(b"\n", self.i, self.i + limit)
            if j >= 0:
                return self.read(j + 1 - self.i)
            if self._avail() >= limit or not self._fill():
                return self.read(min(limit, self._avail()))

    def unread(self, data: bytes) -> None:
        self.buf = data + self.buf[self.i:]
        self.i = 0
        self.pos -= len(data)

    def skip(self, n: int, size: int | None = None) -> int:
        """Skip n bytes (seeking when the source can); returns how many there were."""
        avail = self._avail()
        if n <= avail:
            self.i += n
            self.pos += n
            return n
        if self._seek is not None and size is not None:
            target = min(self.pos + n, size)
            done = target - self.pos
            self._seek(target)
            self.buf, self.i, self.pos = b"", 0, target
            return done
        done = 0
        while done < n:
            piece = self.read(min(CHUNK, n - done))
            if not piece:
                break
            done += len(piece)
        return done

    def skip_newlines(self) -> None:
        while True:
            if self._avail() == 0 and not self._fill():
                return
            b = self.buf[self.i]
            if b not in (0x0D, 0x0A):
                return
            self.i += 1
            self.pos += 1

    def scan(self, pattern: re.Pattern[bytes]) -> bool:
        """Move to the next match of pattern (a record start); False, at the end, when there is none."""
        while True:
            m = pattern.search(self.buf, self.i)
            if m is not None:
                self.pos += m.start() - self.i
                self.i = m.start()
                return True
            keep = min(self._avail(), 16)  # a start split across two chunks
            self.pos += self._avail() - keep
            self.i = len(self.buf) - keep
            if not self._fill():
                self.pos += self._avail()
                self.i = len(self.buf)
                return False


class _Limited:
    """A file-like view of the next `limit` bytes of a source: what a record's parser may read."""

    def __init__(self, src: _Source, limit: int):
        self.src, self.limit, self.start = src, limit, limit

    def read(self, n: int | None = -1) -> bytes:
        n = self.limit if n is None or n < 0 else min(n, self.limit)
        data = self.src.read(n) if n else b""
        self.limit -= len(data)
        return data

    def readline(self, n: int | None = -1) -> bytes:
        n = self.limit if n is None or n < 0 else min(n, self.limit)
        data = self.src.readline(n) if n else b""
        self.limit -= len(data)
        return data

    def tell(self) -> int:
        return self.start - self.limit

    def close(self) -> None:
        """warcio closes streams it is done with; the file stays open for the next record."""


class _Member:
    """The decompressed bytes of one gzip member, read from the file at `start`; knows where it ends."""

    def __init__(self, fh: BinaryIO, start: int):
        self.fh, self.start = fh, start
        fh.seek(start)
        self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.tail = b""
        self.fed = 0
        self.broken: _Bad | None = None
        self.end: int | None = None

    def read(self, n: int) -> bytes:
        if self.broken is not None:
            raise self.broken
        while self.end is None:
            try:
                data = self.d.decompress(self.tail, n) if self.tail else b""
            except zlib.error as exc:
                self.broken = _Broken(f"gzip data damaged ({exc})")
                raise self.broken from exc
            self.tail = self.d.unconsumed_tail
            if self.d.eof:
                self.end = self.start + self.fed - len(self.d.unused_data) - len(self.tail)
            if data:
                return data
            if self.end is not None:
                break
            if not self.tail:
                chunk = self.fh.read(CHUNK)
                if not chunk:
                    self.broken = _Broken("gzip member cut short (the file ends inside it)", truncated=True)
                    raise self.broken
                self.fed += len(chunk)
                self.tail = chunk
        return b""


def _header_block(src: _Source) -> bytes:
    """The bytes of one record's header block, through the blank line that ends it, or _Bad."""
    while True:
        m = _BLANK_LINE.search(src.buf, src.i, src.i + MAX_HEADER_BYTES)
        if m is not None:
            return src.read(m.end() - src.i)
        if src._avail() >= MAX_HEADER_BYTES:
            raise _Bad(f"record header over {MAX_HEADER_BYTES:,} bytes")
        if not src._fill():
            if not src._avail():
                raise _Bad("the file ends where a record should start", truncated=True)
            if not _VERSION_LINE.match(src.buf, src.i):
                raise _Bad("no WARC record header here")
            raise _Bad("record header cut short", truncated=True)


def _parse_headers(src: _Source) -> tuple[bytes, list[tuple[str, str]], int]:
    """Read one record's header block: (its bytes, its fields in order, its Content-Length), or _Bad.

    Fields keep their spelling for warcio; RawRecord.headers has them lower-cased (the first wins).
    """
    block = _header_block(src)
    first = _VERSION_LINE.match(block)
    if first is None:
        raise _Bad("no WARC record header here")
    if _WARC_START.search(block, first.end()):  # a header cut short, the next record's glued to it
        raise _Bad("record header cut short (the next record starts inside it)")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for line in block[first.end():].decode("utf-8", errors="replace").split("\n"):
        text = line.rstrip("\r")
        if not text:
            continue
        if len(line) > MAX_LINE_BYTES:
            raise _Bad(f"record header line over {MAX_LINE_BYTES:,} bytes")
        if text[0] in " \t" and pairs:
            pairs[-1] = (pairs[-1][0], f"{pairs[-1][1]} {text.strip()}")
            continue
        name, sep, value = text.partition(":")
        if not sep:
            raise _Bad(f"record header line without a colon: {text[:60]!r}")
        name = name.strip()
        key = name.lower()
        if key in _ONCE and key in seen:
            raise _Bad(f"two {name} fields: the headers of two records run together")
        seen.add(key)
        pairs.append((name, value.strip()))
    raw_length = next((v for n, v in pairs if n.lower() == "content-length"), "")
    # ASCII digits only ("²".isdigit() is True); 15 digits is a petabyte, far past any real record
    if not (raw_length.isascii() and raw_length.isdigit()) or len(raw_length) > 15:
        raise _Bad(f"bad Content-Length {raw_length[:40]!r}")
    return block, pairs, int(raw_length)


def _version(block: bytes) -> str:
    return block[:block.index(b"\n")].decode("ascii").strip()


def _fields(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name.lower(), value)
    return out


def _close(src: _Source) -> bool:
    """Consume the CRLF CRLF after a record's content.

    Old writers end records with LF LF or a single CRLF; that passes when the next record (or the end of the
    file) follows at once. Anything else means the Content-Length was wrong.
    """
    tail = src.read(4)
    if tail == b"\r\n\r\n" or not tail:
        return True
    run = len(tail) - len(tail.lstrip(b"\r\n"))
    nxt = tail[run:] + src.read(5 - (len(tail) - run))
    src.unread(nxt)
    if b"\n" in tail[:run] and (not nxt or nxt.startswith((b"WARC/", _GZIP))):
        return True
    src.unread(tail[:run])
    return False


def looks_like_warc(head: bytes) -> bool:
    """Whether a record header can be framed somewhere in these first bytes of a file (whose start may be
    damaged): a gzip member or a `WARC/x.y` line followed by a header block with a Content-Length."""
    for m in _RECORD_START.finditer(head):
        if m.group(0).startswith(_GZIP):
            try:
                out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head[m.start():], 64)
            except zlib.error:
                continue
            if _VERSION_LINE.match(out.lstrip(b"\r\n")):
                return True
            continue
        src = _Source(lambda _n: b"", 0)
        src.buf = head[m.start():]
        try:
            _parse_headers(src)
            return True
        except _Bad:
            continue
    return False


def read_records(fh: BinaryIO, size: int, parse: Callable[[RawRecord, _Limited], T]) -> Iterator[Framed[T] | Damage]:
    """Every record of an open WARC file (gzipped per record, as one member, or not at all), in order.

    `parse` gets each record (its header fields parsed) and a stream of exactly its content; it runs
    inside the one guard, so its exceptions come back as `Framed.error`. Framing faults come back as
    Damage, once per damaged stretch.
    """
    reader = _Reader(fh, size, parse)
    try:
        yield from reader.run()
    except Exception as exc:  # noqa: BLE001 - the last guard: a bug here must not end a scan with a traceback
        log.debug("WARC framing failed at %s", reader.pos, exc_info=True)
        yield Damage(reader.pos, 0, f"unreadable ({type(exc).__name__}: {exc})")


class _Reader:
    """The state of one pass over a file: position, the stretch of damage being skipped, and the last record."""

    def __init__(self, fh: BinaryIO, size: int, parse: Callable[[RawRecord, _Limited], object]):
        self.fh, self.size, self.parse = fh, size, parse
        self.pos = 0
        self.pending: Damage | None = None  # damage found; reported once reading resumes (or at the end)
        self.payload_start: int | None = None  # of the last plain record framed: where a rescan starts

    def _file_source(self, pos: int) -> _Source:
        self.fh.seek(pos)
        return _Source(self.fh.read, pos, self.fh.seek)

    def run(self) -> Iterator[Framed | Damage]:
        while self.pos < self.size:
            self.fh.seek(self.pos)
            head = self.fh.read(3)
            if head == _GZIP:
                yield from self._member()
            elif head[:1] in (b"\r", b"\n"):
                src = self._file_source(self.pos)
                src.skip_newlines()
                self.pos = src.tell()
            else:
                yield from self._plain()
        if self.pending is not None:
            yield self.pending

    def _damage(self, offset: int, inner: int, bad: _Bad) -> None:
        """Start (or extend) a stretch of damage; the first fault of a stretch is the one reported."""
        if self.pending is None:
            self.pending = Damage(offset, inner, str(bad), bad.truncated)

    def _resumed(self, where: str) -> Iterator[Damage]:
        """A record framed: the stretch of damage before it (if any) ends here and is reported."""
        if self.pending is not None:
            self.pending.resumed_at = where
            self.pending.truncated = False
            yield self.pending
            self.pending = None

    def _rescan(self, start: int) -> None:
        """Move self.pos to the next record start at or after `start`, or to the end."""
        src = self._file_source(start)
        self.pos = src.tell() if src.scan(_RECORD_START) else self.size

    # -- uncompressed records ------------------------------------------------------------------------
    def _plain(self) -> Iterator[Framed | Damage]:
        start = self.pos
        src = self._file_source(start)
        try:
            block, pairs, length = _parse_headers(src)
        except _Bad as bad:
            self._damage(start, 0, bad)
            # A record whose Content-Length overran may hide the start of the next one: look from its payload.
            first_fault = self.payload_start is not None and self.payload_start < start
            self._rescan(self.payload_start if first_fault else start + 1)  # type: ignore[arg-type]
            self.payload_start = None
            return
        yield from self._resumed(str(start))
        self.payload_start = src.tell()
        end = self.payload_start + length
        fields = _fields(pairs)
        record = RawRecord(start, 0, fields, length, _version(block), pairs)
        if end > self.size:
            self._damage(start, 0, _Bad(f"Content-Length {length:,} runs past the end of the file "
                                        f"({end - self.size:,} bytes missing)", truncated=True))
            self._rescan(self.payload_start)
            self.payload_start = None
            return
        framed = self._parse(record, src, length)
        if not _close(src):
            self._damage(start, 0, _Bad(f"the record does not end where its Content-Length ({length:,}) says"))
            self._rescan(self.payload_start)
            self.payload_start = None
            return
        self.pos = src.tell()
        inside = self._overrun(fields, self.payload_start, length)
        if inside is not None:
            self._damage(start, 0, _Bad(f"the record's Content-Length ({length:,}) runs over the next record"))
            self.pos, self.payload_start = inside, None
            return
        yield framed

    def _overrun(self, fields: dict[str, str], begin: int, length: int) -> int | None:
        """Where a record starts inside this record's content, when its Content-Length swallowed it.

        A wrong Content-Length can land on the CRLF CRLF that closes a later record. The block digest,
        when the writer recorded one, settles it; otherwise (or when it fails) the content is searched for
        the mark of a record boundary, CRLF CRLF and a `WARC/x.y` line. Uncompressed files only: a gzip
        member ends where its record does.
        """
        digest = _Digest.of(fields.get("warc-block-digest", ""))
        self.fh.seek(begin)
        left, carry, found = length, b"", None
        while left > 0:
            chunk = self.fh.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            if digest is not None:
                digest.update(chunk)
            if found is None:
                m = _BOUNDARY.search(carry + chunk)
                if m is not None:
                    found = begin + length - left - len(chunk) - len(carry) + m.start() + 4
            carry = chunk[-16:]
            if digest is None and found is not None:
                break
        if digest is not None and digest.matches():
            return None
        return found

    def _parse(self, record: RawRecord, src: _Source, limit: int) -> Framed:
        stream = _Limited(src, limit)
        try:
            result, error = self.parse(record, stream), None
        except _Broken:
            raise
        except Exception as exc:  # noqa: BLE001 - the one guard: any failure of a record is that record's row
            log.debug("record at %s failed", record.location, exc_info=True)
            result, error = None, exc
        left = stream.limit
        if left and src.skip(left, self.size if src._seek else None) < left:
            raise _Bad("record cut short", truncated=True)
        return Framed(record, result, error)

    # -- gzip members ---------------------------------------------------------------------------------
    def _member(self) -> Iterator[Framed | Damage]:
        start = self.pos
        member = _Member(self.fh, start)
        src = _Source(member.read)
        opened = False  # has a record in this member framed? (else it may be a false start after damage)
        self.payload_start = None
        while True:
            inner = src.tell()
            try:
                src.skip_newlines()
                inner = src.tell()
                if src.at_eof():
                    break
                block, pairs, length = _parse_headers(src)
            except _Broken as bad:
                self._member_damage(start, inner if opened else 0, bad, opened)
                return
            except _Bad as bad:
                if not opened:
                    self._member_damage(start, 0, bad, opened)
                    return
                self._damage(start, inner, bad)
                if not self._scan_member(src):
                    break
                continue
            opened = True
            record = RawRecord(start, inner, _fields(pairs), length, _version(block), pairs)
            yield from self._resumed(record.location)
            try:
                framed = self._parse(record, src, length)
                closed = _close(src)
            except _Bad as bad:
                self._member_damage(start, inner, bad, True)
                return
            if not closed:
                self._damage(start, inner, _Bad(f"the record does not end where its Content-Length ({length:,}) says"))
                if not self._scan_member(src):
                    break
                continue
            yield framed
        if member.end is None:  # the member's records ended but its gzip stream did not: read it through
            try:
                while member.read(CHUNK):
                    pass
            except _Bad as bad:
                self._member_damage(start, src.tell(), bad, True)
                return
        self.pos = member.end if member.end is not None else self.size

    def _scan_member(self, src: _Source) -> bool:
        """After framing damage inside a member, the next record start in its decompressed bytes."""
        try:
            src.read(1)
            return src.scan(_WARC_START)
        except _Bad:
            return False

    def _member_damage(self, start: int, inner: int, bad: _Bad, opened: bool) -> None:
        """A member that cannot be read on: note the damage (unless it was a false start) and look further."""
        if opened or self.pending is None:
            self._damage(start, inner, bad)
        self._rescan(start + 1)
