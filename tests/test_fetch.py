import pytest

from detector.errors import FetchError, UnsafeURLError
from detector.settings import FetchSettings
from detector.source.fetch import fetch_page, resolve_safe

from .conftest import local_server

CFG = FetchSettings(total_timeout=5, connect_timeout=2, read_timeout=2, max_bytes=20_000)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://100.64.0.1/",
    ],
)
def test_private_targets_refused(url):
    with pytest.raises(UnsafeURLError, match="non-public|refused"):
        resolve_safe(url, CFG)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "only http"),
        ("ftp://example.com/", "only http"),
        ("http://user:pw@example.com/", "user names"),
        ("http://93.184.215.14:22/", "port 22"),
        ("http://" + "a" * 3000 + ".com/", "longer than"),
    ],
)
def test_odd_urls_refused(url, why):
    with pytest.raises(UnsafeURLError, match=why):
        resolve_safe(url, CFG)


HTML = {"Content-Type": "text/html; charset=utf-8"}


def test_fetch_follows_redirect_and_decodes():
    routes = {
        "/a": (302, {"Location": "/b"}, b""),
        "/b": (200, HTML, "<p>Café stem cells</p>".encode()),
    }
    with local_server(routes) as base:
        resp = fetch_page(base + "/a", CFG, allow_private=True)
    assert resp.status == 200 and resp.charset == "utf-8"
    assert resp.redirects == [base + "/b"]


def test_loopback_refused_without_flag():
    with local_server({"/": (200, HTML, b"<p>x</p>")}) as base, pytest.raises(UnsafeURLError):
        fetch_page(base + "/", CFG)


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ((200, {"Content-Type": "application/pdf"}, b"%PDF"), "not HTML"),
        ((500, HTML, b"err"), "HTTP 500"),
        ((200, HTML, b"x" * 30_000), "larger than"),
        ((302, {"Location": "/loop"}, b""), "redirects"),
    ],
)
def test_fetch_errors(route, message):
    with local_server({"/loop": route}) as base, pytest.raises(FetchError, match=message):
        fetch_page(base + "/loop", CFG, allow_private=True)


def test_redirect_hop_is_rechecked(monkeypatch):
    """The first hop passes the guard (loopback treated as public here); the redirect to metadata does not."""
    import ipaddress

    import detector.source.fetch as fetch

    monkeypatch.setattr(fetch, "is_public", lambda ip: ip == ipaddress.ip_address("127.0.0.1"))
    routes = {"/r": (302, {"Location": "http://169.254.169.254/latest/"}, b"")}
    with local_server(routes) as base:
        port = int(base.rsplit(":", 1)[1])
        cfg = FetchSettings(total_timeout=5, allowed_ports=(80, 443, port))
        with pytest.raises(UnsafeURLError, match="169.254.169.254"):
            fetch_page(base + "/r", cfg, allow_private=False)
