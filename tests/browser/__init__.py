"""Helpers shared by the web tests (tests/test_web.py) and the browser tests: a small results store with
two scans, a hostile page, fast crawl settings, and the app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from detector.settings import Settings, load_settings

PAGES = Path(__file__).resolve().parents[2] / "corpora" / "pages"
XSS_TITLE = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
HOSTILE_PAGE = (
    b"<html><head><title><script>alert(1)</script> Stem cell clinic</title></head><body><main>"
    b"<h1>Stem cell therapy &lt;img src=x onerror=alert(1)&gt;</h1>"
    b"<p>Our stem cell therapy cures arthritis and is FDA approved &lt;script&gt;alert(1)&lt;/script&gt;.</p>"
    b"<p>Results are guaranteed &lt;img src=x onerror=alert(1)&gt; for every patient.</p>"
    b"</main></body></html>"
)

# Site folders (a scanned directory's first level is the site) and the corpus pages in each, per scan.
FIRST_SCAN = {
    "alpha-stem.mx": ["pc-01.html", "pc-02.html"],
    "beta-regen.com": ["pc-03.html", "pc-04.html"],
    "gamma-cells.co.uk": ["pn-01.html"],
    "delta-ortho.de": ["pr-01.html"],
}
SECOND_SCAN = {**FIRST_SCAN, "alpha-stem.mx": ["pc-01.html", "pc-02.html", "pc-05.html"],
               "beta-regen.com": ["pc-03.html"]}
HOSTILE_SITE = "evil-clinic.com"


def fast_settings() -> Settings:
    """Crawls without politeness delays (local test sites only) and with few pages, so tests stay fast."""
    base = load_settings({})
    crawl = dataclasses.replace(base.crawl, delay=0.0, max_pages=8, max_depth=2, max_retry_after=1.0)
    return dataclasses.replace(base, crawl=crawl)


def _lay_out(root: Path, sites: dict[str, list[str]]) -> None:
    if root.exists():
        shutil.rmtree(root)
    for site, names in sites.items():
        folder = root / site
        folder.mkdir(parents=True)
        for name in names:
            shutil.copy(PAGES / name, folder / name)
    (root / HOSTILE_SITE).mkdir()
    (root / HOSTILE_SITE / "index.html").write_bytes(HOSTILE_PAGE)


def build_store(tmp: Path) -> Path:
    """A store with two finished scans of a few sites, so triage, history and diffs have data."""
    from detector.batch.runner import Scanner

    db, root = tmp / "web.sqlite", tmp / "sites"
    for scan in (FIRST_SCAN, SECOND_SCAN):
        _lay_out(root, scan)
        Scanner(settings=fast_settings(), db=db).run([root])
    return db


@contextmanager
def served(app: object, **config: object) -> Iterator[str]:
    """Run an ASGI app under uvicorn on 127.0.0.1 in a thread; yields its base URL and stops it after.

    The listening socket is bound before the server thread starts, so a client can connect at once (the
    kernel queues it until uvicorn accepts): nothing waits for start-up on a clock.
    """
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", **config))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
