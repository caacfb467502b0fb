"""The SSRF guard: every spelling of a private address, odd schemes and ports, DNS rebinding.

No test here needs a server to be reached: `no_connections` refuses and records any connection attempt,
and where a listener exists it must log zero requests.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

import detector.source.fetch as fetch_module
from detector.errors import FetchError, InputError, UnsafeURLError
from detector.settings import CrawlSettings, FetchSettings, Settings
from detector.source.crawl import Crawler
from detector.source.fetch import fetch, fetch_page
from tests.sites import HTML, serve

CFG = FetchSettings(connect_timeout=1, read_timeout=1, total_timeout=2)

PRIVATE = [
    "http://2130706433/",                 # decimal 127.0.0.1
    "http://0x7f000001/",                 # hex
    "http://0177.0.0.1/",                 # octal
    "http://017700000001/",               # octal, one number
    "http://127.1/",                      # short form
    "http://0x7f.1/",
    "http://127.000.000.001/",
    "http://[::ffff:127.0.0.1]/",         # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://[::127.0.0.1]/",              # IPv4-compatible
    "http://[2002:7f00:1::]/",            # 6to4 around 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/",       # NAT64 around 169.254.169.254
    "http://[::1]/",
    "http://[::]/",
    "http://0.0.0.0/",
    "http://0/",
    "http://localhost/",
    "http://100.64.0.1/",                 # carrier-grade NAT
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://10.255.255.254/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.0.1/",
    "http://192.168.255.254/",
    "http://[fc00::1]/",
    "http://[fd12:3456:789a::1]/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",                  # multicast
    "http://255.255.255.255/",
    "HTTP://127.0.0.1/",
    "http://127.0.0.1#@public.example/",  # the fragment hides nothing: the host is 127.0.0.1
    "http://127。0。0。1/",                # ideographic full stops
]


@pytest.mark.parametrize("url", PRIVATE)
def test_private_address_refused_without_connecting(no_connections, url):
    with pytest.raises(UnsafeURLError) as err:
        fetch(url, CFG)
    assert err.value.reason == "private_address"
    with pytest.raises(UnsafeURLError):
        fetch_page(url, CFG)
    assert no_connections == []


@pytest.mark.parametrize(("url", "reason"), [
    ("http://public.example@127.0.0.1/", "userinfo"),
    ("http://user:pw@93.184.215.14/", "userinfo"),
    ("http://public.example\\@127.0.0.1/", "userinfo"),
    ("http://@127.0.0.1/", "userinfo"),
    ("file:///etc/passwd", "scheme"),
    ("ftp://93.184.215.14/", "scheme"),
    ("gopher://127.0.0.1:6379/_INFO", "scheme"),
    ("data:text/html,<p>stem cells</p>", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("dict://127.0.0.1:11211/", "scheme"),
    ("http://93.184.215.14:22/", "port"),
    ("http://93.184.215.14:6379/", "port"),
    ("https://93.184.215.14:25/", "port"),
    ("http://93.184.215.14:99999/", "port"),
    ("http:///etc/passwd", "url"),
    ("http://" + "a" * 3000 + ".example/", "url"),
])
def test_odd_urls_refused_without_connecting(no_connections, url, reason):
    with pytest.raises(UnsafeURLError) as err:
        fetch(url, CFG)
    assert err.value.reason == reason
    assert no_connections == []


def test_loopback_spellings_reach_no_listener():
    """A real listener on 127.0.0.1: every spelling of its address, with its port, gets zero requests."""
    with serve({"/": (200, HTML, b"<p>secret</p>")}) as (base, log):
        port = int(base.rsplit(":", 1)[1])
        cfg = FetchSettings(connect_timeout=1, read_timeout=1, total_timeout=2, allowed_ports=(80, 443, port))
        for host in ("127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]",
                     "0.0.0.0", "localhost"):
            with pytest.raises(UnsafeURLError):
                fetch_page(f"http://{host}:{port}/", cfg)
        assert log.hits == []


def stub(*answers: list[str]):
    """A resolver that gives answers in turn (the last one repeats) and counts its calls."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), len(answers)) - 1]
    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize("addresses", [
    ["93.184.215.14", "10.0.0.1"],
    ["93.184.215.14", "127.0.0.1"],
    ["10.0.0.1", "93.184.215.14"],
    ["2606:2800:220:1:248:1893:25c8:1946", "::1"],
    ["93.184.215.14", "::ffff:169.254.169.254"],
    ["93.184.215.14", "fe80::1"],
])
def test_any_private_answer_refuses_the_name(no_connections, addresses):
    resolver = stub(addresses)
    with pytest.raises(UnsafeURLError) as err:
        fetch("http://clinic.example/", CFG, resolver=resolver)
    assert err.value.reason == "private_address"
    assert no_connections == []


def test_resolver_garbage_is_a_dns_error(no_connections):
    with pytest.raises(FetchError) as err:
        fetch("http://clinic.example/", CFG, resolver=stub(["not-an-ip"]))
    assert err.value.reason == "dns" and not isinstance(err.value, UnsafeURLError)
    with pytest.raises(FetchError):
        fetch("http://clinic.example/", CFG, resolver=stub([]))
    assert no_connections == []


def test_connection_goes_to_the_checked_address(monkeypatch):
    """Rebinding: the first answer (checked) is used; a second lookup would say 169.254.169.254.

    The test server (127.0.0.1) counts as public here; the guard stays on for everything else.
    """
    original = fetch_module.is_public
    monkeypatch.setattr(fetch_module, "is_public",
                        lambda ip: ip == ipaddress.ip_address("127.0.0.1") or original(ip))
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def recording_getaddrinfo(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        looked_up.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    resolver = stub(["127.0.0.1"], ["169.254.169.254"])
    with serve({"/": (200, HTML, b"<p>Stem cells, checked address.</p>")}) as (base, log):
        port = int(base.rsplit(":", 1)[1])
        cfg = FetchSettings(connect_timeout=1, read_timeout=1, total_timeout=2, allowed_ports=(80, 443, port))
        resp = fetch(f"http://rebind.example:{port}/", cfg, resolver=resolver)
    assert resp.status == 200 and resp.ip == "127.0.0.1"
    assert resolver.calls == ["rebind.example"], "one resolution per hop"
    assert "rebind.example" not in looked_up, "the socket layer never resolves the name again"
    assert all(ipaddress.ip_address(h) for h in looked_up)
    assert log.hits[0].headers["host"] == f"rebind.example:{port}"


@pytest.mark.parametrize("url", ["http://2130706433/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/",
                                 "http://10.0.0.1/", "gopher://127.0.0.1/", "http://user@127.0.0.1/"])
def test_crawler_refuses_start_url_before_any_request(no_connections, tmp_path, url):
    warc = tmp_path / "x.warc.gz"
    settings = Settings(fetch=CFG, crawl=CrawlSettings(delay=0))
    with pytest.raises(InputError) as err:  # canonicalisation refuses other schemes as plain InputError
        Crawler(settings).crawl(url, warc)
    assert isinstance(err.value, UnsafeURLError) or url.startswith("gopher:")
    assert no_connections == []
    assert not warc.exists(), "no WARC is started for a refused crawl"


def test_crawler_refuses_rebinding_name(no_connections, tmp_path):
    settings = Settings(fetch=CFG, crawl=CrawlSettings(delay=0))
    resolver = stub(["93.184.215.14", "10.0.0.1"])
    with pytest.raises(UnsafeURLError):
        Crawler(settings, resolver=resolver).crawl("http://clinic.example/", tmp_path / "x.warc.gz")
    assert no_connections == []
