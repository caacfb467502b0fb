"""HTML to text blocks with lexbor (selectolax): fast enough that extraction is never the bottleneck.

Each block is the text of one block-level element, so sentences never run across a heading, a list item
or a table cell, and each keeps the role of the element it came from.
"""

from __future__ import annotations

import codecs
import logging
import re

from selectolax.lexbor import LexborHTMLParser

from detector.errors import InputError
from detector.records import Block, Page
from detector.settings import ExtractSettings

log = logging.getLogger(__name__)

_DROP = "script, style, noscript, template, svg, iframe, object, canvas, head > :not(title)"
_ROLES = {
    "title": "title",
    "h1": "heading", "h2": "heading", "h3": "heading", "h4": "heading", "h5": "heading", "h6": "heading",
    "p": "paragraph",
    "li": "list_item", "dt": "list_item", "dd": "list_item",
    "td": "table_cell", "th": "table_cell", "caption": "table_cell",
    "blockquote": "quote", "q": "quote", "figcaption": "caption",
    "summary": "heading", "button": "button", "label": "text", "option": "text",
    "div": "text", "section": "text", "article": "text", "main": "text", "aside": "text", "header": "text",
    "footer": "footer", "nav": "nav", "address": "footer", "form": "text", "details": "text",
    "body": "text", "html": "text", "tr": "table_cell", "table": "text", "ul": "text", "ol": "text",
}
_BREAKS = {"br", "hr", "img"}
_WS = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def decode_html(data: bytes, declared: str | None = None, source: str = "input") -> tuple[str, str]:
    """Decode bytes by BOM, then declared (HTTP) charset, then <meta>, then UTF-8/cp1252; say which won."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(enc, errors="replace"), f"bom:{enc}"
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


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text: NULs or many control characters in the first 4 KB."""
    head = data[:4096]
    if not head:
        return False
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    ctrl = sum(1 for b in head if b < 9 or 13 < b < 32)
    return ctrl / len(head) > 0.05


def _clean(text: str, limit: int) -> str:
    return _WS.sub(" ", text).strip()[:limit]


def html_to_page(html: str, source: str, settings: ExtractSettings | None = None) -> Page:
    """Parse HTML into a Page of blocks; raises InputError when no text can be found."""
    cfg = settings or ExtractSettings()
    if len(html) > cfg.max_html_bytes:
        raise InputError(f"{source}: HTML is {len(html):,} characters, over the {cfg.max_html_bytes:,} limit")
    html = html.replace("\x00", "")
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = _clean(title_node.text(deep=True), 300) if title_node else ""
    for node in tree.css(_DROP):
        node.decompose()
    blocks: list[Block] = []
    buf: list[str] = []
    total = 0
    owner_of: dict[int, tuple[int, str]] = {}

    def owner(node) -> tuple[int, str]:
        # Nearest block-level ancestor, memoised per element so deep trees stay linear.
        chain = []
        cur = node
        found: tuple[int, str] = (0, "text")
        while cur is not None and len(chain) < cfg.max_depth_walk:
            mid = cur.mem_id
            if mid in owner_of:
                found = owner_of[mid]
                break
            chain.append(mid)
            if cur.tag in _ROLES:
                found = (mid, _ROLES[cur.tag])
                break
            cur = cur.parent
        for mid in chain:
            owner_of[mid] = found
        return found

    current: tuple[int, str] = (-1, "text")

    def flush() -> None:
        nonlocal total
        if buf:
            text = _clean("".join(buf), cfg.max_block_chars)
            buf.clear()
            if text and total < cfg.max_text_chars:
                blocks.append(Block(text=text, role=current[1]))
                total += len(text)

    root = tree.body or tree.root
    if root is None:
        raise InputError(f"{source}: no HTML document could be parsed")
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag == "-text":
            parent = node.parent
            own = owner(parent) if parent is not None else (0, "text")
            if own[0] != current[0]:
                flush()
                current = own
            buf.append(node.text_content or "")
        elif tag in _BREAKS or tag in _ROLES:
            flush()
            if tag in _ROLES:
                current = (node.mem_id, _ROLES[tag])
    flush()
    if title and (not blocks or blocks[0].text != title):
        blocks.insert(0, Block(text=title, role="title"))
    return Page(source=source, blocks=blocks, title=title)


def text_to_page(text: str, source: str, settings: ExtractSettings | None = None) -> Page:
    """Plain text: blank lines and single newlines both separate blocks (web text copied by hand)."""
    cfg = settings or ExtractSettings()
    text = text.replace("\x00", "")[: cfg.max_text_chars]
    blocks = [Block(text=_clean(line, cfg.max_block_chars)) for line in text.splitlines()]
    return Page(source=source, blocks=[b for b in blocks if b.text], content_type="text/plain")
