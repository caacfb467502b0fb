"""Fixtures for the browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium, never a
downloaded browser) against the app served by uvicorn on 127.0.0.1, with a local clinic test site."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import HOSTILE_PAGE, build_store, fast_settings, served
from tests.sites import HTML, clinic_site, serve

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests need the playwright package (pip install playwright; no browser download)"
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return "browser tests need fastapi and uvicorn (pip install -e .)"
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        return "browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _skip_reason()
    if reason:
        for item in items:
            if "tests/browser" in str(item.fspath).replace("\\", "/"):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        exe = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
        b = p.chromium.launch(executable_path=exe, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def web_app(tmp_path_factory: pytest.TempPathFactory, detector) -> Iterator[str]:  # noqa: ANN001
    """The app on a free 127.0.0.1 port, allowed to fetch the local test sites; yields its base URL."""
    from detector.web.app import create_app
    from detector.web.security import WebLimits

    db = build_store(tmp_path_factory.mktemp("browser-store"))
    app = create_app(db, None, True, fast_settings(), limits=WebLimits(requests_per_minute=10_000),
                     detector=detector, work_dir=tmp_path_factory.mktemp("browser-jobs"), record_crawls=False)
    with served(app) as base:
        yield base


@pytest.fixture(scope="session")
def clinic() -> Iterator[str]:
    """A small local clinic site (two corpus pages and a hostile one) on 127.0.0.1."""
    routes = clinic_site({"/knee-treatment": "pc-01.html", "/faq": "pn-01.html"},
                         extra={"/hostile": (200, HTML, HOSTILE_PAGE)})
    with serve(routes) as (base, _log):
        yield base


@pytest.fixture
def page(browser) -> Iterator[object]:  # noqa: ANN001
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        context.close()
