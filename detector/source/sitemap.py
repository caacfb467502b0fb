"""Sitemaps (sitemaps.org) read with lxml: which <loc>s are pages and which are further sitemaps.

The parser never expands entities, never loads a DTD and never touches the network, so a billion-laughs or
external-entity sitemap yields its plain <loc>s or nothing. Damaged XML is read as far as it goes (recover).
"""

from __future__ import annotations

import gzip
import zlib

from lxml import etree

MAX_SITEMAP_BYTES = 10_000_000  # after gunzip; a sitemap is at most 50 MB by the protocol, clinics' are small


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                           recover=True, remove_comments=True, remove_pis=True)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def sitemap_entries(body: bytes, limit: int) -> list[tuple[str, bool]]:
    """(URL, is a sitemap) for each <loc> of a sitemap or a sitemap index, gzipped or not, at most `limit`.

    A <loc> under <sitemap> (an index) is a sitemap, one under <url> a page; a page URL ending in .xml or
    .xml.gz is taken for a sitemap too, as crawlers do. So indexes nest to any depth (the crawler bounds how
    many sitemap files it reads)."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, MAX_SITEMAP_BYTES)
        except (zlib.error, gzip.BadGzipFile):
            return []
    body = body.strip()
    if not body:
        return []
    root = _root(body)
    if root is None or (_local(root.tag) == "loc" and body.count(b"<loc") > 1):
        root = _root(b"<urlset>" + body + b"</urlset>")  # a bare list of <loc>s: read it inside one element
    out: list[tuple[str, bool]] = []
    for el in root.iter() if root is not None else ():
        url = (el.text or "").strip() if _local(el.tag) == "loc" else ""
        if not url:
            continue
        parent = el.getparent()
        index = parent is not None and _local(parent.tag) == "sitemap"
        out.append((url, index or url.lower().split("?")[0].endswith((".xml", ".xml.gz"))))
        if len(out) >= limit:
            break
    return out


def _root(body: bytes) -> etree._Element | None:
    try:
        return etree.fromstring(body, _parser())
    except etree.XMLSyntaxError:
        return None


def sitemap_urls(body: bytes, limit: int) -> list[str]:
    """Every <loc> URL, pages and sitemaps alike, in document order."""
    return [url for url, _ in sitemap_entries(body, limit)]
