"""Sitemaps read with lxml: pages and nested indexes told apart, entities never expanded, damage tolerated."""

from __future__ import annotations

import gzip

import pytest

from detector.source.sitemap import sitemap_entries, sitemap_urls
from tests.sites import HTML, clinic_site, nav, serve
from tests.test_crawl import crawl, outcome

NS = b'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
BOMB = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><urlset><url><loc>http://a/&c;</loc></url>'
        b'<url><loc>http://a/ok</loc></url></urlset>')
XXE = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b'<urlset><url><loc>http://a/&x;</loc></url></urlset>')


@pytest.mark.parametrize(("body", "expected"), [
    (b"<urlset " + NS + b"><url><loc> http://a/1 </loc></url><url><loc>http://a/2?x=1&amp;y=2</loc></url></urlset>",
     [("http://a/1", False), ("http://a/2?x=1&y=2", False)]),
    (b"<sitemapindex " + NS + b"><sitemap><loc>http://a/map?page=2</loc></sitemap></sitemapindex>",
     [("http://a/map?page=2", True)]),  # an index child is a sitemap whatever its name
    (b"<urlset><url><loc>http://a/more.xml.gz</loc></url></urlset>", [("http://a/more.xml.gz", True)]),
    (gzip.compress(b"<urlset><url><loc>http://a/z</loc></url></urlset>"), [("http://a/z", False)]),
    (BOMB, [("http://a/", False), ("http://a/ok", False)]),  # entities never expanded
    (XXE, [("http://a/", False)]),  # no external entity read
    (b"<urlset><url><loc>http://a/1</loc></url><url><loc>http://a/2", [("http://a/1", False), ("http://a/2", False)]),
    (b"<loc>http://a/1</loc><loc>http://a/2</loc>", [("http://a/1", False), ("http://a/2", False)]),
    (b"\x00\xff not xml at all", []),
    (b"\x1f\x8b broken gzip", []),
    (b"", []),
])
def test_sitemap_entries(body: bytes, expected: list) -> None:
    assert sitemap_entries(body, 10) == expected


def test_limit_and_order() -> None:
    body = b"<urlset>" + b"".join(b"<url><loc>http://a/%d</loc></url>" % i for i in range(50)) + b"</urlset>"
    assert sitemap_urls(body, 5) == [f"http://a/{i}" for i in range(5)]


def test_crawler_follows_indexes_two_levels_deep(tmp_path) -> None:
    routes = clinic_site({"/deep-treatment": "pc-05.html"})
    routes["/"] = (200, HTML, nav({}))
    xml = {"Content-Type": "application/xml"}
    with serve(routes) as (base, log):
        routes["/robots.txt"] = (200, {}, f"User-agent: *\nSitemap: {base}/index\n".encode())
        routes["/index"] = (200, xml, f"<sitemapindex><sitemap><loc>{base}/index-2</loc></sitemap></sitemapindex>"
                            .encode())
        routes["/index-2"] = (200, xml, f"<sitemapindex><sitemap><loc>{base}/pages</loc></sitemap></sitemapindex>"
                              .encode())
        routes["/pages"] = (200, xml, f"<urlset><url><loc>{base}/deep-treatment</loc></url></urlset>".encode())
        result, _ = crawl(base, tmp_path)
    assert {"/index", "/index-2", "/pages", "/deep-treatment"} <= set(log.paths())
    assert outcome(result, "/deep-treatment").via == "sitemap"
