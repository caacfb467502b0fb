"""HTML to text blocks with lexbor (selectolax): fast enough that extraction is never the bottleneck.

Each block is the text of one block-level element, so sentences never run across a heading, a list item
or a table cell, and each keeps the role of the element it came from.
"""

from __future__ import annotations

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
_SURROGATES = re.compile("[\ud800-\udfff]")
# The HTML5 tree builder scans the open-element stack at each block start tag, so block containers
# nested thousands deep make parsing quadratic (100,000 nested <div>s take 20 s in lexbor). Before
# parsing, the stack depth at each such tag is summed from the tags alone; past the budget the page is
# refused. Ordinary pages cost a few thousand steps; 5,000 nested <div>s cost 12.5 million.
# The budget is ExtractSettings.max_parse_steps. n tags can cost at most n*n/2 steps, so a page with fewer
# than sqrt(2 * budget) tags cannot exceed it whatever its shape, and the pre-scan is skipped for it.
_BLOCK_TAG = re.compile(
    r"<(/?)(div|ul|ol|dl|section|article|aside|nav|header|footer|main|blockquote|center|fieldset|figure|"
    r"figcaption|details|summary|dir|menu|address|hgroup|search|form|pre|listing|h[1-6]|p|li|dd|dt)(?=[\s/>])",
    re.IGNORECASE,
)
_NO_PUSH = {"p", "li", "dd", "dt"}  # end implicitly: they check the stack but do not deepen it


def _clean_chars(text: str) -> str:
    """Drop NULs and replace lone surrogates (spaCy cannot encode them); a quick encode finds most pages clean."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


def _parse_steps(html: str) -> tuple[int, int]:
    """(stack-scan steps, deepest block nesting) the tree builder would need, counted from tags alone."""
    depth = deepest = steps = 0
    for m in _BLOCK_TAG.finditer(html):
        if m.group(1):
            if m.group(2).lower() not in _NO_PUSH:
                depth = max(0, depth - 1)
            continue
        steps += depth
        if m.group(2).lower() not in _NO_PUSH:
            depth += 1
            deepest = max(deepest, depth)
    return steps, deepest


def _clean(text: str, limit: int) -> str:
    return _WS.sub(" ", text).strip()[:limit]


def html_to_page(html: str, source: str, settings: ExtractSettings | None = None) -> Page:
    """Parse HTML into a Page of blocks; raises InputError when no text can be found."""
    cfg = settings or ExtractSettings()
    if len(html) > cfg.max_html_bytes:
        raise InputError(f"{source}: HTML is {len(html):,} characters, over the {cfg.max_html_bytes:,} limit")
    if html.count("<") > int((2 * cfg.max_parse_steps) ** 0.5):
        steps, deepest = _parse_steps(html)
        if steps > cfg.max_parse_steps:
            raise InputError(
                f"{source}: block elements nested {deepest:,} deep would cost {steps:,} parser steps, "
                f"over the {cfg.max_parse_steps:,} limit"
            )
    html = _clean_chars(html)
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

    cut: list[str] = []

    def flush() -> None:
        nonlocal total
        if buf:
            raw = _WS.sub(" ", "".join(buf)).strip()
            buf.clear()
            text = raw[: cfg.max_block_chars]
            if len(raw) > len(text) and not cut:
                cut.append(f"a block of {len(raw):,} characters was cut to {cfg.max_block_chars:,}")
            if text and total < cfg.max_text_chars:
                blocks.append(Block(text=text, role=current[1]))
                total += len(text)
            elif text and len(cut) < 2:
                cut.append(f"text past {cfg.max_text_chars:,} characters was not assessed")

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
    return Page(source=source, blocks=blocks, title=title, notes=cut)


def text_to_page(text: str, source: str, settings: ExtractSettings | None = None) -> Page:
    """Plain text: blank lines and single newlines both separate blocks (web text copied by hand)."""
    cfg = settings or ExtractSettings()
    notes = [f"text past {cfg.max_text_chars:,} characters was not assessed"] if len(text) > cfg.max_text_chars else []
    text = _clean_chars(text[: cfg.max_text_chars])
    blocks = [Block(text=_clean(line, cfg.max_block_chars)) for line in text.splitlines()]
    if any(len(line.strip()) > cfg.max_block_chars for line in text.splitlines()):
        notes.append(f"a line longer than {cfg.max_block_chars:,} characters was cut")
    return Page(source=source, blocks=[b for b in blocks if b.text], content_type="text/plain", notes=notes)
