"""Bytes to a Page, in one place: refuse empty and binary input, decode, and route HTML versus plain text.

Files, HTTP responses, WARC records and archive captures all arrive as bytes with perhaps a declared
type and charset; every face (check, scan, site reports, the web app) turns them into a Page here, so
they all decode and route the same way.
"""

from __future__ import annotations

import codecs
import logging
import re

from detector.errors import InputError
from detector.extract import html_to_page, text_to_page
from detector.records import Page
from detector.settings import ExtractSettings

log = logging.getLogger(__name__)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' for BOM-less UTF-16 of mostly ASCII markup (every other byte NUL), else None."""
    n = len(head) // 2
    if n < 4:
        return None
    even, odd = head[0 : 2 * n : 2], head[1 : 2 * n : 2]
    if odd.count(0) > 0.9 * n and even.count(0) < 0.1 * n:
        return "utf-16-le"
    if even.count(0) > 0.9 * n and odd.count(0) < 0.1 * n:
        return "utf-16-be"
    return None


def decode_html(data: bytes, declared: str | None = None, source: str = "input") -> tuple[str, str]:
    """Decode bytes by BOM, then declared (HTTP) charset, then <meta>, then UTF-8/cp1252; say which won."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(enc, errors="replace"), f"bom:{enc}"
    utf16 = _utf16_without_bom(data[:4096])
    if utf16 is not None:
        # An 8-bit header or <meta> charset cannot be right for bytes that are half NULs.
        return data.decode(utf16, errors="replace"), f"detected:{utf16}"
    candidates: list[tuple[str, str]] = []
    if declared:
        candidates.append((declared, "header"))
    m = _META_CHARSET.search(data[:4096])
    if m:
        candidates.append((m.group(1).decode("ascii", "ignore"), "meta"))
    for enc, how in candidates:
        try:
            codecs.lookup(enc)
        except LookupError:
            log.debug("%s: unknown charset %r from %s", source, enc, how)
            continue
        return data.decode(enc, errors="replace"), f"{how}:{enc.lower()}"
    try:
        return data.decode("utf-8"), "default:utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "fallback:cp1252"


_NOT_CONTROL = bytes(b for b in range(256) if not (b < 9 or 13 < b < 32))


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text: NULs or many control characters in the first 4 KB."""
    head = data[:4096]
    if not head:
        return False
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _utf16_without_bom(head):
        return False
    # A few stray NULs must not hide a whole page: NULs count like other control bytes.
    ctrl = len(head.translate(None, _NOT_CONTROL))  # C speed: batch scans call this on every page
    return ctrl / len(head) > 0.05


def is_html(content_type: str, text: str) -> bool:
    """A declared HTML type, or no type and markup near the top."""
    return "html" in content_type or (not content_type and "<" in text[:2000] and ">" in text[:2000])


def page_from_bytes(
    data: bytes, source: str, content_type: str = "", charset: str | None = None,
    settings: ExtractSettings | None = None,
) -> Page:
    """The Page behind some bytes; InputError (naming the source) for empty, binary or textless input."""
    if not data.strip():
        raise InputError(f"{source}: empty file")
    if looks_binary(data):
        raise InputError(f"{source}: binary content, not HTML or text")
    text, how = decode_html(data, charset, source)
    page = html_to_page(text, source, settings) if is_html(content_type, text) else text_to_page(text, source, settings)
    page.encoding = how
    return page
