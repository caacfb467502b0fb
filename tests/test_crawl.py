"""The crawler against local test sites: robots, politeness, limits, traps, hostile servers, evidence."""

from __future__ import annotations

import dataclasses
import ipaddress
import json

import pytest

from detector.errors import UnsafeURLError
from detector.settings import CrawlSettings, FetchSettings, Settings
from detector.source.crawl import Crawler, extract_links, parse_retry_after, sitemap_urls
from detector.source.warc import iter_records, read_crawl
from tests.sites import HTML, calendar, clinic_site, drip, gzip_bomb, nav, once_busy, page, serve, with_etag

FAST = Settings(
    fetch=FetchSettings(connect_timeout=2, read_timeout=2, total_timeout=3, max_bytes=2_000_000,
                        max_decoded_bytes=5_000_000),
    crawl=CrawlSettings(delay=0.05, max_pages=30, max_depth=3, max_retry_after=2.0),
)

SITE = {"/treatments/knee-stem-cells": "pc-01.html", "/pricing": "pc-07.html", "/faq": "pc-24.html",
        "/news/blinded-patient": "pn-01.html"}


def crawl(base: str, tmp_path, settings: Settings = FAST, **kw):
    warc = tmp_path / "site.warc.gz"
    result = Crawler(settings, allow_private=True).crawl(base + "/", warc, **kw)
    return result, warc


def outcome(result, suffix: str):
    return next(p for p in result.pages if p.url.endswith(suffix))


def test_crawls_a_clinic_site_robots_first_politely(tmp_path):
    with serve(clinic_site(SITE)) as (base, log):
        result, warc = crawl(base, tmp_path)
    paths = log.paths()
    assert paths[0] == "/robots.txt"
    assert paths[1:3] == ["/sitemap.xml", "/"]  # sitemap discovery (the /sitemap.xml fallback), then pages
    assert set(SITE) <= set(paths)
    assert len(paths) == len(set(paths)), "no URL is fetched twice"
    assert log.max_active == 1, "one connection per host"
    assert min(log.gaps()) >= 0.05 * 0.9
    assert all("stemcheck" in h.headers["user-agent"] and "+http" in h.headers["user-agent"] for h in log.hits)
    assert len(result.fetched) == 5 and result.requests == len(paths)
    # treatment and price pages outrank the news page (priority by URL and anchor words)
    order = [p.url.split(base)[1] for p in result.fetched]
    assert order.index("/treatments/knee-stem-cells") < order.index("/news/blinded-patient")
    records = [r for r in iter_records(warc) if not isinstance(r, tuple)]
    assert {r.url for r in records if hasattr(r, "status")} >= {base + "/robots.txt", base + "/"}


def test_robots_disallow_allow_and_crawl_delay(tmp_path):
    robots = "User-agent: *\nDisallow: /treatments/\nAllow: /treatments/knee-stem-cells\nCrawl-delay: 0.3\n"
    site = {**SITE, "/treatments/secret": "pc-02.html"}
    with serve(clinic_site(site, robots)) as (base, log):
        result, _ = crawl(base, tmp_path)
    assert "/treatments/secret" not in log.paths()
    assert "/treatments/knee-stem-cells" in log.paths()
    assert outcome(result, "/treatments/secret").reason == "robots"
    assert min(log.gaps()) >= 0.3 * 0.9, "Crawl-delay is honoured between every request"


def test_crawl_delay_is_capped(tmp_path):
    settings = dataclasses.replace(FAST, crawl=dataclasses.replace(FAST.crawl, max_crawl_delay=0.2, max_pages=3))
    with serve(clinic_site(SITE, "User-agent: *\nCrawl-delay: 3600\n")) as (base, log):
        crawl(base, tmp_path, settings)
    assert max(log.gaps()) < 1.0


@pytest.mark.parametrize(
    ("robots_route", "pages_fetched", "state"),
    [
        ((500, {"Content-Type": "text/plain"}, b"oops"), 0, "unavailable"),  # 5xx: disallow all
        ((503, {"Content-Type": "text/plain"}, b"down"), 0, "unavailable"),
        ((404, {"Content-Type": "text/plain"}, b"none"), 5, "missing"),  # 4xx: allow all
        ((200, {"Content-Type": "text/plain"}, b"\x00\xff<html>garbage{{{\n\n;;"), 5, "parsed"),
        # huge: the rule that would forbid everything lies past the 512 KB read limit
        ((200, {"Content-Type": "text/plain"}, b"# filler line\n" * 40_000 + b"User-agent: *\nDisallow: /\n"),
         5, "parsed"),
    ],
)
def test_robots_variants(tmp_path, robots_route, pages_fetched, state):
    routes = clinic_site(SITE)
    routes["/robots.txt"] = robots_route
    with serve(routes) as (base, log):
        result, _ = crawl(base, tmp_path)
    assert len(result.fetched) == pages_fetched
    assert next(iter(result.robots.values())).startswith(state)
    if pages_fetched == 0:
        assert log.paths() == ["/robots.txt"]
        assert outcome(result, "/").reason == "robots"


def test_robots_timeout_disallows_all(tmp_path):
    routes = clinic_site(SITE)
    routes["/robots.txt"] = drip(total_bytes=100, every=0.1)
    with serve(routes) as (base, log):
        result, _ = crawl(base, tmp_path)
    assert log.paths() == ["/robots.txt"] and not result.fetched


def test_redirect_chain_loop_and_cap(tmp_path):
    extra = {
        "/old-knee": (301, {"Location": "/treatments/knee-stem-cells"}, b""),
        "/loop-a": (302, {"Location": "/loop-b"}, b""),
        "/loop-b": (302, {"Location": "/loop-a"}, b""),
        **{f"/hop{i}": (302, {"Location": f"/hop{i + 1}"}, b"") for i in range(30)},
        "/self": (302, {"Location": "/self"}, b""),
    }
    routes = clinic_site(SITE, extra=extra)
    routes["/"] = (200, HTML, nav({"/old-knee": "knee", "/loop-a": "treatment loop", "/hop0": "treatment chain",
                                   "/self": "treatment self"}))
    with serve(routes) as (base, log):
        result, _ = crawl(base, tmp_path)
    knee = outcome(result, "/old-knee")
    assert knee.outcome == "fetched" and knee.status == 200 and knee.final_url == base + "/treatments/knee-stem-cells"
    assert log.paths().count("/loop-a") == 1 and log.paths().count("/loop-b") == 1
    assert sum(p.startswith("/hop") for p in log.paths()) == FAST.fetch.max_redirects + 1
    assert outcome(result, "/hop0").reason == "redirect_limit"
    assert outcome(result, "/self").reason == "redirect_loop"


def test_redirect_to_private_address_is_refused(tmp_path, monkeypatch):
    """With the guard on (loopback counted as public for the test server only), redirects to the metadata
    address, a private range or an IPv4-mapped loopback are refused and never requested."""
    import detector.source.fetch as fetch

    monkeypatch.setattr(fetch, "is_public", lambda ip: ip == ipaddress.ip_address("127.0.0.1"))
    extra = {"/meta": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
             "/lan": (302, {"Location": "http://10.0.0.7/admin"}, b"")}
    routes = clinic_site({}, extra=extra)
    routes["/"] = (200, HTML, nav({"/meta": "treatment", "/lan": "pricing"}))
    with serve(routes) as (base, log):
        port = int(base.rsplit(":", 1)[1])
        settings = dataclasses.replace(FAST, fetch=dataclasses.replace(FAST.fetch, allowed_ports=(80, 443, port)))
        result = Crawler(settings, allow_private=False).crawl(base + "/", tmp_path / "x.warc.gz")
    # off-site redirects are not followed at all; the guard would refuse them anyway
    assert {outcome(result, "/meta").reason, outcome(result, "/lan").reason} <= {"off_site", "private_address"}
    assert all(h.path in ("/robots.txt", "/", "/meta", "/lan", "/sitemap.xml") for h in log.hits)


def test_private_start_url_refused_by_default(tmp_path):
    with serve(clinic_site(SITE)) as (base, log), pytest.raises(UnsafeURLError, match="non-public address"):
        Crawler(FAST).crawl(base + "/", tmp_path / "x.warc.gz")
    assert log.hits == []


def test_hostile_bodies_are_recorded_and_the_crawl_goes_on(tmp_path):
    bomb = gzip_bomb()
    extra = {
        "/treatment-drip": drip(total_bytes=400, every=0.05),
        "/treatment-bomb": (200, {**HTML, "Content-Encoding": "gzip"}, bomb),
        "/treatment-brochure": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4 ..."),
        "/treatment-leaflet.pdf": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4 ..."),
        "/treatment-huge": (200, {**HTML, "Content-Length": str(10**12)}, b""),
        "/treatment-gone": (410, HTML, b"gone"),
    }
    routes = clinic_site({"/treatments/knee-stem-cells": "pc-01.html"}, extra=extra)
    routes["/"] = (200, HTML, nav({k: "treatment" for k in [*extra, "/treatments/knee-stem-cells"]}))
    with serve(routes) as (base, log):
        result, warc = crawl(base, tmp_path)
    reasons = {p.url.split(base)[1]: p.reason for p in result.pages}
    assert reasons["/treatment-drip"] == "timeout"
    assert reasons["/treatment-bomb"] == "too_large"
    assert reasons["/treatment-brochure"] == "not_html"
    assert reasons["/treatment-leaflet.pdf"] == "filtered" and "/treatment-leaflet.pdf" not in log.paths()
    assert reasons["/treatment-huge"] == "too_large"
    assert reasons["/treatment-gone"] == "http_410"
    assert outcome(result, "/treatments/knee-stem-cells").outcome == "fetched"
    events = {e.url.split(base)[1]: e.reason for e in read_crawl(warc).events}
    assert events["/treatment-bomb"] == "too_large" and events["/treatment-drip"] == "timeout"


def test_endless_calendar_is_cut_by_the_pattern_rule(tmp_path):
    routes = clinic_site({}, extra={"/calendar": calendar})
    routes["/"] = (200, HTML, nav({"/calendar?month=1": "events"}))
    settings = dataclasses.replace(FAST, crawl=dataclasses.replace(FAST.crawl, max_depth=50))
    with serve(routes) as (base, log):
        result, _ = crawl(base, tmp_path, settings)
    assert sum(p.startswith("/calendar") for p in log.paths()) == FAST.crawl.max_per_pattern
    assert any(p.reason == "trap" for p in result.pages)


def test_nested_path_trap_and_depth_limit(tmp_path):
    letters = "abcdefghijklmnopqrs"

    def nest(h):
        nxt = letters[h.path.count("/") - 1]
        h.reply(200, HTML, f'<a href="{h.path}{nxt}/">deeper treatment</a><a href="{h.path}x/x/x/">x</a>'.encode())
    routes = clinic_site({}, extra={"/" + "".join(f"{c}/" for c in letters[:i]): nest for i in range(1, 19)})
    routes["/"] = (200, HTML, nav({"/a/": "treatment"}))
    settings = dataclasses.replace(FAST, crawl=dataclasses.replace(FAST.crawl, max_depth=4))
    with serve(routes) as (base, log):
        result, _ = crawl(base, tmp_path, settings)
    assert max(p.depth for p in result.fetched) == 4
    assert not any("/x/x/x/" in p for p in log.paths())


def test_429_retry_after_is_honoured(tmp_path):
    routes = clinic_site({}, extra={
        "/treatments": once_busy(429, "1", page("pc-01.html")),
        "/pricing": once_busy(503, "3600", page("pc-07.html")),
    })
    routes["/"] = (200, HTML, nav({"/treatments": "treatments", "/pricing": "pricing"}))
    with serve(routes) as (base, log):
        result, _ = crawl(base, tmp_path)
    times = [h.at for h in log.hits if h.path == "/treatments"]
    assert len(times) == 2 and times[1] - times[0] >= 0.95
    assert outcome(result, "/treatments").outcome == "fetched"
    assert outcome(result, "/pricing").reason == "http_503"
    assert log.paths().count("/pricing") == 1, "a Retry-After beyond the limit is not waited for"


def test_sitemap_discovery(tmp_path):
    sitemap = b"<urlset><url><loc>{base}/hidden-treatment</loc></url><url><loc>http://elsewhere.example/x</loc></url></urlset>"
    routes = clinic_site({"/hidden-treatment": "pc-05.html"}, robots="User-agent: *\nSitemap: /sm.xml\n")
    routes["/"] = (200, HTML, nav({}))
    with serve(routes) as (base, log):
        routes["/sm.xml"] = (200, {"Content-Type": "application/xml"}, sitemap.replace(b"{base}", base.encode()))
        routes["/robots.txt"] = (200, {}, f"User-agent: *\nSitemap: {base}/sm.xml\n".encode())
        result, _ = crawl(base, tmp_path)
    assert "/hidden-treatment" in log.paths()
    assert outcome(result, "/hidden-treatment").via == "sitemap"


def test_encoding_decisions_are_recorded(tmp_path):
    from detector.check import Detector, site_reports

    body = "<html><body><p>Our café clinic offers stem cell injections.</p></body></html>"
    routes = clinic_site({}, extra={
        "/bom": (200, {"Content-Type": "text/html; charset=iso-8859-1"}, b"\xef\xbb\xbf" + body.encode("utf-8")),
        "/meta": (200, {"Content-Type": "text/html"},
                  b'<meta charset="windows-1252">' + body.encode("cp1252")),
        "/header": (200, {"Content-Type": "text/html; charset=cp1252"}, body.encode("cp1252")),
        "/nothing": (200, {"Content-Type": "text/html"}, body.encode("cp1252")),
    })
    routes["/"] = (200, HTML, nav({p: "treatment" for p in ("/bom", "/meta", "/header", "/nothing")}))
    with serve(routes) as (base, _log):
        _, warc = crawl(base, tmp_path)
    report = site_reports(Detector.load(), warc)[0]
    enc = {p.url.split(base)[1]: p.encoding for p in report.pages}
    assert enc["/bom"].startswith("bom:") and enc["/meta"].startswith("meta:")
    assert enc["/header"].startswith("header:") and enc["/nothing"] == "fallback:cp1252"


def test_conditional_recrawl_writes_revisits(tmp_path):
    from detector.check import Detector, site_reports

    routes = clinic_site({}, extra={"/treatments": with_etag(page("pc-01.html"))})
    routes["/"] = (200, HTML, nav({"/treatments": "treatments"}))
    with serve(routes) as (base, log):
        first = Crawler(FAST, allow_private=True).crawl(base + "/", tmp_path / "one.warc.gz")
        second = Crawler(FAST, allow_private=True).crawl(base + "/", tmp_path / "two.warc.gz",
                                                          previous=tmp_path / "one.warc.gz")
    conditional = [h for h in log.hits if h.path == "/treatments"]
    assert "if-none-match" not in conditional[0].headers and conditional[1].headers["if-none-match"] == '"v1"'
    assert outcome(first, "/treatments").outcome == "fetched"
    assert outcome(second, "/treatments").outcome == "unchanged"
    det = Detector.load()
    old = {p.url: p.verdict.risk_score for p in site_reports(det, tmp_path / "one.warc.gz")[0].analysed}
    new = {p.url: p.verdict.risk_score for p in site_reports(det, tmp_path / "two.warc.gz")[0].analysed}
    assert new == old, "an unchanged page keeps its verdict, read from the earlier WARC"


def test_helpers():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None
    links, nofollow = extract_links(
        '<base href="/x/"><a href="a">A</a><a href="mailto:x@y">m</a><meta http-equiv="refresh" content="0; url=/r">',
        "http://h.example/", 10)
    assert ("http://h.example/x/a", "A") in links and ("http://h.example/r", "refresh") in links and not nofollow
    assert extract_links('<meta name="robots" content="noindex, nofollow"><a href="/a">a</a>', "http://h/", 9)[1]
    assert sitemap_urls(b"<loc> http://a/1 </loc><loc>http://a/2?x=1&amp;y=2</loc>", 5) == [
        "http://a/1", "http://a/2?x=1&y=2"]


def test_warc_records_request_response_and_info(tmp_path):
    with serve(clinic_site(SITE)) as (base, _log):
        result, warc = crawl(base, tmp_path)
    from warcio.archiveiterator import ArchiveIterator

    with warc.open("rb") as fh:
        types = [r.rec_type for r in ArchiveIterator(fh)]
    assert types[0] == "warcinfo" and types.count("request") == types.count("response")
    crawl_ = read_crawl(warc)
    assert crawl_.info["software"].startswith("stemcheck/")
    assert json.loads(crawl_.info["crawl-settings"])["max_pages"] == 30
    assert crawl_.summary["requests"] == result.requests
    assert crawl_.robots and crawl_.robots[0].status == 200
