"""The web app against a hostile world: Host names it does not know (DNS rebinding), bad input that must be
a 4xx and never a 500, a client that drips its body, and a scripted client meeting the rate limit.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web app needs fastapi (pip install -e .)")

from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from detector.cli import app as cli  # noqa: E402
from detector.output.store import ResultStore  # noqa: E402
from detector.settings import load_settings  # noqa: E402
from detector.web.app import create_app  # noqa: E402
from detector.web.security import allowed_hosts  # noqa: E402
from tests.browser import fast_settings, served  # noqa: E402
from tests.conftest import CORPUS  # noqa: E402


def _app(detector, db: Path, tmp: Path, hosts=None, **web):  # noqa: ANN001, ANN003, ANN202
    settings = fast_settings()
    settings = dataclasses.replace(settings, web=dataclasses.replace(settings.web, **{"requests_per_minute": 10_000,
                                                                                        **web}))
    return create_app(db, None, False, settings, detector=detector, work_dir=tmp, record_crawls=False, hosts=hosts)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from detector.batch.runner import Scanner

    root = tmp_path_factory.mktemp("store")
    (root / "pages" / "clinic.example").mkdir(parents=True)
    shutil.copy(CORPUS / "pages" / "pc-01.html", root / "pages" / "clinic.example" / "index.html")
    db = root / "s.sqlite"
    Scanner(db=db).run([root / "pages"])
    return db


@pytest.fixture(scope="module")
def client(detector, store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(_app(detector, store, tmp_path_factory.mktemp("jobs")), base_url="http://localhost") as c:
        yield c


# -- Host names --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("host,allowed", [
    ("localhost", True), ("LOCALHOST:8000", True), ("127.0.0.1:8000", True), ("[::1]:8000", True),
    ("localhost.", True),
    ("evil.example", False), ("evil.example:8000", False), ("127.0.0.1.evil.example", False),
    ("localhost.evil.example", False), ("", False), ("[::1", False), ("::1", False), ("a b", False),
])
def test_only_known_host_names_are_answered(client: TestClient, host: str, allowed: bool) -> None:
    resp = client.get("/api/sites", headers={"Host": host})
    assert (resp.status_code == 200) is allowed, (host, resp.status_code)
    if not allowed:
        assert resp.status_code == 400 and "Unknown Host" in resp.json()["error"]
        assert resp.headers["X-Frame-Options"] == "DENY", "refusals carry the security headers too"


def test_named_hosts_and_the_bound_address_are_answered(detector, tmp_path: Path) -> None:  # noqa: ANN001
    hosts = allowed_hosts("192.0.2.7", ["checker.example.org"])
    with TestClient(_app(detector, tmp_path / "none.sqlite", tmp_path, hosts=hosts)) as c:
        for host, code in (("checker.example.org", 200), ("192.0.2.7:8000", 200), ("localhost", 200),
                           ("other.example.org", 400)):
            assert c.get("/check", headers={"Host": host}).status_code == code, host


def test_all_interfaces_need_allowed_host() -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--db", "/nonexistent.sqlite"])
    assert result.exit_code == 2 and "--allowed-host" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- bad input is a 4xx ------------------------------------------------------------------------------------
BAD_URLS = ["http://[::1/", "http://ex\uff03ample.com/", "http://" + "x" * 64 + ".example/", "http://a b/",
            "http://example.com:99999/", "javascript:alert(1)", "http://user@example.com/"]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("where", ["api-check", "api-jobs", "check-form", "check-form-site"])
def test_an_invalid_url_is_a_4xx(client: TestClient, url: str, where: str) -> None:
    if where == "api-check":
        resp = client.post("/api/check", json={"url": url})
    elif where == "api-jobs":
        resp = client.post("/api/jobs", json={"url": url})
    else:
        resp = client.post("/check", data={"url": url, **({"whole_site": "1"} if where == "check-form-site" else {})},
                           follow_redirects=False)
    assert 400 <= resp.status_code < 500, (where, url, resp.status_code, resp.text[:300])


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database\n" * 20)


def _foreign(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (id INTEGER)")
    con.commit()
    con.close()


@pytest.mark.parametrize("make", [None, _garbage, _foreign], ids=["missing", "garbage", "foreign"])
@pytest.mark.parametrize("route", ["/sites/clinic.example", "/api/sites/clinic.example", "/triage", "/api/sites",
                                   "/api/sites/clinic.example/diff"])
def test_a_missing_or_unreadable_store_is_a_4xx(detector, tmp_path: Path, make, route: str) -> None:  # noqa: ANN001
    db = tmp_path / "store.sqlite"
    if make is not None:
        make(db)
    with TestClient(_app(detector, db, tmp_path), base_url="http://localhost") as c:
        resp = c.get(route)
    assert 400 <= resp.status_code < 500, (route, resp.status_code, resp.text[:300])


@pytest.mark.parametrize("query", ["run_a=\u00b2", "run_b=\u00b2", "run_a=\u0661", "run_a=9999", "run_a=yesterday",
                                   "run_a=-1", "run_a=1e3"])
def test_diff_with_a_bad_run_is_a_4xx(client: TestClient, query: str) -> None:
    resp = client.get(f"/api/sites/clinic.example/diff?{query}")
    assert 400 <= resp.status_code < 500, (query, resp.status_code, resp.text[:300])


def test_unreadable_store_after_start_is_a_4xx(detector, store: Path, tmp_path: Path) -> None:  # noqa: ANN001
    db = tmp_path / "s.sqlite"
    shutil.copy(store, db)
    with TestClient(_app(detector, db, tmp_path), base_url="http://localhost") as c:
        assert c.get("/sites/clinic.example").status_code == 200
        _garbage(db)
        assert 400 <= c.get("/sites/clinic.example").status_code < 500


# -- a body that drips -------------------------------------------------------------------------------------
def test_a_dripped_body_is_cut_off(detector, tmp_path: Path) -> None:  # noqa: ANN001
    """The client sends headers and one byte of a 100-byte body, then nothing: the server answers 408 and
    closes. The test waits on the socket (closed by the server), bounded only as a hang guard."""
    with served(_app(detector, tmp_path / "none.sqlite", tmp_path, body_timeout=0.5)) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
            sock.sendall(b"POST /api/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{")
            answer = b""
            while chunk := sock.recv(65536):  # returns b"" when the server closes the connection
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"did not arrive within 0.5 s" in answer


def test_a_prompt_body_is_not_cut(detector, tmp_path: Path) -> None:  # noqa: ANN001
    with TestClient(_app(detector, tmp_path / "none.sqlite", tmp_path, body_timeout=0.5),
                    base_url="http://localhost") as c:
        assert c.post("/api/check", json={"text": "Our stem cells cure arthritis."}).status_code == 200


# -- the rate limit, a setting ------------------------------------------------------------------------------
def test_rate_limit_is_a_setting_and_scripts_get_429_with_retry_after(detector, tmp_path: Path) -> None:  # noqa: ANN001
    settings = load_settings({"STEMCHECK_WEB_REQUESTS_PER_MINUTE": "3"})
    app = create_app(tmp_path / "none.sqlite", None, False, settings, detector=detector, work_dir=tmp_path,
                     record_crawls=False)
    with TestClient(app, base_url="http://localhost") as c:
        codes = [c.get("/check").status_code for _ in range(4)]
        refused = c.get("/api/sites")
    assert codes == [200, 200, 200, 429]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    body = refused.json()
    assert set(body) == {"error", "status"} and body["status"] == 429 and "3 a minute" in body["error"]


@pytest.mark.parametrize("args", [["--rate-limit", "0"], ["--port", "99999"], ["--port", "0"]])
def test_serve_refuses_bad_numbers(args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["serve", *args])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.output
    assert "must be between" in result.stderr


def test_store_fixture_is_readable(store: Path) -> None:
    with ResultStore(store) as s:
        assert s.runs()
