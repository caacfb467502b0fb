"""Hostile HTTP servers on 127.0.0.1: bombs, endless bodies, lies about length, drips, redirect games.

Bomb fetches run in a child process that reports its own peak RSS, so one inflated body would show.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import detector.source.fetch as fetch_module
from detector.errors import FetchError, UnsafeURLError
from detector.settings import FetchSettings
from detector.source.fetch import fetch_page
from tests.sites import HTML, drip, serve

ROOT = Path(__file__).resolve().parents[2]
CFG = FetchSettings(connect_timeout=2, read_timeout=2, total_timeout=3, max_bytes=1_000_000,
                    max_decoded_bytes=2_000_000)
RSS_LIMIT_MB = 200

# The child builds a 300 MB bomb by streaming compression (never holding 300 MB), serves it from
# 127.0.0.1, fetches it and prints the error, the time and its peak RSS as one JSON line. It loads
# detector.source.fetch without the package __init__ (which imports spaCy and scikit-learn, ~230 MB), so the
# figure is the fetch path's own.
BOMB_CHILD = r"""
import json, resource, sys, time, types, zlib
import brotli
pkg = types.ModuleType("detector")
pkg.__path__ = ["detector"]
sys.modules["detector"] = pkg
from detector.errors import FetchError
from detector.source.fetch import fetch_page
from detector.settings import FetchSettings
from tests.sites import serve

kind = sys.argv[1]
INFLATED, BLOCK = 300_000_000, 1 << 20

def stream(process, finish):
    out = bytearray()
    zeros = b"\0" * BLOCK
    for _ in range(INFLATED // BLOCK):
        out += process(zeros)
    return bytes(out + finish())

def gz():
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return stream(c.compress, c.flush)

def deflate():
    c = zlib.compressobj(9)
    return stream(c.compress, c.flush)

def br():
    c = brotli.Compressor(quality=1)
    return stream(c.process, c.finish)

bodies = {
    "gzip": ("gzip", gz), "deflate": ("deflate", deflate), "br": ("br", br),
    "gzip, br": ("gzip, br", lambda: zlib.compress(br())),
}
encoding, make = bodies[kind]
body = make()
def hwm_mb():
    # VmHWM is this process image's own peak; ru_maxrss also keeps the parent's peak across fork+exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

before = hwm_mb()
routes = {"/bomb": (200, {"Content-Type": "text/html", "Content-Encoding": encoding}, body)}
cfg = FetchSettings(connect_timeout=2, read_timeout=2, total_timeout=5, max_bytes=1_000_000,
                    max_decoded_bytes=2_000_000)
with serve(routes) as (base, log):
    t0 = time.process_time()  # CPU time: a loaded machine stretches wall time, not the work done
    try:
        fetch_page(base + "/bomb", cfg, allow_private=True)
        outcome = {"reason": None, "message": "fetched"}
    except FetchError as exc:
        outcome = {"reason": exc.reason, "message": str(exc)}
    outcome["seconds"] = round(time.process_time() - t0, 3)
outcome["compressed_bytes"] = len(body)
outcome["ru_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
outcome["maxrss_mb"] = round(hwm_mb(), 1)
outcome["growth_mb"] = round(outcome["maxrss_mb"] - before, 1)
outcome["spacy_loaded"] = "spacy" in sys.modules
print(json.dumps(outcome))
"""


@pytest.mark.parametrize(("kind", "reasons"), [
    ("gzip", {"too_large"}),
    ("deflate", {"too_large"}),
    ("br", {"too_large"}),
    ("gzip, br", {"encoding"}),
])
def test_compression_bomb_is_cut_in_bounded_memory(kind, reasons):
    proc = subprocess.run([sys.executable, "-c", BOMB_CHILD, kind], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)  # a hang guard only
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["reason"] in reasons, out
    assert out["maxrss_mb"] < RSS_LIMIT_MB and not out["spacy_loaded"], out
    assert out["growth_mb"] < 20, out  # caps are 1 MB raw and 2 MB decoded
    assert out["seconds"] < 5, out


def endless_chunked(h) -> None:  # noqa: ANN001
    """Chunked transfer that never ends (bounded at 20,000 chunks of 16 KB, or until the client leaves)."""
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    chunk = b"<p>" + b"stem cells " * 1489 + b"</p>"
    for _ in range(20_000):
        h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def test_endless_chunked_body_stops_at_the_byte_cap():
    with serve({"/endless": endless_chunked}) as (base, _log), pytest.raises(FetchError) as err:
        fetch_page(base + "/endless", CFG, allow_private=True)
    assert err.value.reason == "too_large"  # without the cap the 300 MB body would be read and returned


@pytest.mark.parametrize("length", ["10000000000", "9" * 40])
def test_huge_content_length_refused_before_reading(length):
    route = (200, {**HTML, "Content-Length": length}, b"<p>short</p>")
    with serve({"/big": route}) as (base, _log), pytest.raises(FetchError, match="Content-Length") as err:
        fetch_page(base + "/big", CFG, allow_private=True)
    assert err.value.reason == "too_large"


def _assert_cut_at_total_timeout(route, total: float, bound: float) -> None:  # noqa: ANN001
    """The drips below would take 13-30 s uncut; the bound leaves a loaded machine seconds of slack."""
    cfg = FetchSettings(connect_timeout=2, read_timeout=2, total_timeout=total)
    with serve({"/slow": route}) as (base, _log):
        t0 = time.monotonic()
        with pytest.raises(FetchError) as err:
            fetch_page(base + "/slow", cfg, allow_private=True)
        elapsed = time.monotonic() - t0
    assert err.value.reason == "timeout"
    assert elapsed < bound


def test_one_byte_per_second_body_is_cut_at_total_timeout():
    _assert_cut_at_total_timeout(drip(total_bytes=30, every=1.0), total=1.5, bound=8.0)


def _drip_raw(data: bytes, every: float = 0.1):
    def handle(h) -> None:  # noqa: ANN001
        for i in range(len(data)):
            h.wfile.write(data[i:i + 1])
            h.wfile.flush()
            time.sleep(every)
    return handle


@pytest.mark.parametrize("route", [
    # status line and headers, one byte every 0.1 s: each recv is quick, their sum is ~10 s uncut
    _drip_raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Pad: " + b"a" * 60 + b"\r\n\r\n<p>hi</p>"),
    # a chunk-size line padded with leading zeros, one byte at a time
    _drip_raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
              + b"0" * 60 + b"5\r\nhello\r\n0\r\n\r\n", every=0.1),
], ids=["headers", "chunk-size-line"])
def test_dripped_headers_and_chunk_lines_are_cut_at_total_timeout(route):
    _assert_cut_at_total_timeout(route, total=1.0, bound=7.0)


def test_redirect_loop_stops_at_the_hop_limit():
    with serve({"/loop": (302, {"Location": "/loop"}, b"")}) as (base, log), pytest.raises(FetchError) as err:
        fetch_page(base + "/loop", CFG, allow_private=True)
    assert err.value.reason == "redirect_limit"
    assert len(log.hits) == CFG.max_redirects + 1


def test_thirty_hop_chain_stops_at_the_hop_limit():
    routes = {f"/r{i}": (302, {"Location": f"/r{i + 1}"}, b"") for i in range(30)}
    routes["/r30"] = (200, HTML, b"<p>the end</p>")
    with serve(routes) as (base, log), pytest.raises(FetchError) as err:
        fetch_page(base + "/r0", CFG, allow_private=True)
    assert err.value.reason == "redirect_limit"
    assert log.paths() == [f"/r{i}" for i in range(CFG.max_redirects + 1)]


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.2:{port}/admin",
    "http://0x7f000002:{port}/admin",
    "http://[::1]:{port}/admin",
    "http://[::ffff:127.0.0.2]:{port}/admin",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
])
def test_redirect_to_private_address_refused_with_guard_on(monkeypatch, target):
    """The test server (127.0.0.1 only) counts as public; every other private address keeps the guard."""
    original = fetch_module.is_public
    monkeypatch.setattr(fetch_module, "is_public",
                        lambda ip: ip == ipaddress.ip_address("127.0.0.1") or original(ip))
    with serve({"/r": (302, {"Location": "placeholder"}, b"")}) as (base, log):
        port = int(base.rsplit(":", 1)[1])
        log_routes = {"/r": (302, {"Location": target.format(port=port)}, b"")}
        with serve(log_routes) as (base2, log2):
            port2 = int(base2.rsplit(":", 1)[1])
            cfg = FetchSettings(connect_timeout=2, read_timeout=2, total_timeout=3,
                                allowed_ports=(80, 443, port, port2))
            with pytest.raises(UnsafeURLError) as err:
                fetch_page(base2 + "/r", cfg, allow_private=False)
    assert err.value.reason == "private_address"
    assert log2.paths() == ["/r"], "only the first, public hop was requested"
    assert log.paths() == [], "nothing reached the other loopback listener"
