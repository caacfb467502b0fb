"""The web app through its HTTP surface: API, exports, escaping, security headers, limits and the SSRF guard.

Every URL the app fetches is a local test site on 127.0.0.1; apps that must refuse private addresses are
built with allow_private=False and the test asserts that the local server saw no request at all.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web app needs fastapi (pip install -e .)")
pytest.importorskip("multipart", reason="form posts need python-multipart")

from fastapi.testclient import TestClient  # noqa: E402

from detector.web import server  # noqa: E402
from detector.web.app import claims_csv, create_app, site_tld  # noqa: E402
from detector.web.security import SECURITY_HEADERS, RateLimiter, WebLimits  # noqa: E402
from tests.browser import HOSTILE_PAGE, HOSTILE_SITE, XSS_IMG, XSS_TITLE, build_store, fast_settings  # noqa: E402
from tests.sites import HTML, clinic_site, serve  # noqa: E402

CLAIM = "Our FDA-approved stem cell therapy regrows cartilage. It cures arthritis, guaranteed."
PAYLOAD = f"{CLAIM} {XSS_TITLE} {XSS_IMG}"


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("webstore"))


def _client(store_db: Path, detector, tmp: Path, allow_private: bool, **limits: int) -> Iterator[TestClient]:  # noqa: ANN001
    app = create_app(store_db, None, allow_private, fast_settings(), limits=WebLimits(**limits), detector=detector,
                     work_dir=tmp, record_crawls=False)  # the shared store stays as seeded
    with TestClient(app, base_url="http://localhost") as client:
        yield client


@pytest.fixture(scope="module")
def client(store_db: Path, detector, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:  # noqa: ANN001
    """allow_private=True: the app may fetch the local test sites."""
    yield from _client(store_db, detector, tmp_path_factory.mktemp("jobs"), True, requests_per_minute=10_000)


@pytest.fixture(scope="module")
def guarded(store_db: Path, detector, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:  # noqa: ANN001
    """allow_private=False, as `stemcheck serve` runs by default."""
    yield from _client(store_db, detector, tmp_path_factory.mktemp("jobs"), False, requests_per_minute=10_000)


def _wait(client: TestClient, job_id: str) -> dict:
    """The job's API answer once it has ended: waits on the job's own event, not on a clock (the bound only
    keeps a broken job from hanging the suite)."""
    job = client.app.state.web.jobs.get(job_id)  # type: ignore[attr-defined]
    assert job is not None and job.ended.wait(600), f"job {job_id} never ended"
    return client.get(f"/api/jobs/{job_id}").json()


def _assert_secure(resp) -> None:  # noqa: ANN001
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers.get(name) == value, (resp.request.url, name)


# -- checking: text, one page, a whole site ----------------------------------------------------------
def test_api_check_text_returns_flagged_claims_with_explanations(client: TestClient) -> None:
    resp = client.post("/api/check", json={"text": CLAIM})
    assert resp.status_code == 200
    data = resp.json()
    result = data["result"]
    assert data["status"] == "done" and result["red_flag"] and result["risk_score"] >= 50
    assert "human verification" in result["note"]
    claim = result["claims"][0]
    assert "approval_misrepresentation" in claim["categories"]
    kinds = {e["kind"] for e in claim["evidence"] if e.get("category") == "approval_misrepresentation"}
    assert {"cue", "rule"} <= kinds
    assert client.get(data["links"]["json"]).json()["risk_score"] == result["risk_score"]
    csv_text = client.get(data["links"]["csv"]).text
    assert csv_text.startswith("url,sentence,kind") and "approval_misrepresentation" in csv_text
    assert "Approval misrepresentation: " in csv_text and "is approval wording" in csv_text
    html = client.get(data["links"]["html"])
    assert "stemcheck report" in html.text and "attachment" in html.headers["content-disposition"]


@pytest.mark.parametrize("body", [{}, {"text": "  "}, {"text": CLAIM, "url": "http://127.0.0.1/"}])
def test_api_check_needs_exactly_one_of_text_or_url(client: TestClient, body: dict) -> None:
    resp = client.post("/api/check", json=body)
    assert resp.status_code == 400 and "exactly one" in resp.json()["error"]


def test_api_check_one_local_page(client: TestClient) -> None:
    with serve(clinic_site({"/knees": "pc-01.html"})) as (base, log):
        resp = client.post("/api/check", json={"url": f"{base}/knees"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["result"]["target"] == f"{base}/knees" and resp.json()["result"]["red_flag"]
    assert log.paths() == ["/knees"]


def test_form_check_shows_sentence_in_context(client: TestClient) -> None:
    text = "Welcome to our clinic. " + CLAIM + " Call us today."
    resp = client.post("/check", data={"text": text})
    assert resp.status_code == 200
    assert '<mark class="flag">Our FDA-approved stem cell therapy regrows cartilage.</mark>' in resp.text
    assert "Welcome to our clinic." in resp.text and "risk score" in resp.text
    assert "need human verification" in resp.text


def test_site_job_crawls_reports_and_keeps_the_warc(client: TestClient) -> None:
    with serve(clinic_site({"/knees": "pc-01.html", "/faq": "pn-01.html"})) as (base, log):
        resp = client.post("/api/jobs", json={"url": base + "/"})
        assert resp.status_code == 202 and resp.headers["location"].startswith("/api/jobs/")
        data = _wait(client, resp.json()["id"])
    assert data["status"] == "done", data
    result = data["result"]
    assert result["red_flag"] and result["pages_analysed"] >= 2
    assert {p["url"] for p in result["pages"]} >= {f"{base}/knees", f"{base}/faq"}
    assert all(c["evidence"] for c in result["claims"])
    warc = client.get(data["links"]["warc"])
    assert warc.status_code == 200 and hashlib.sha256(warc.content).hexdigest() == data["warc_sha256"]
    assert warc.headers["x-content-sha256"] == data["warc_sha256"]
    page = client.get(data["links"]["page"])
    assert "Pages crawled" in page.text and data["warc_sha256"] in page.text and "refresh" not in page.text
    assert "/robots.txt" in log.paths()


def test_site_job_is_recorded_in_the_store(store_db: Path, detector, tmp_path: Path) -> None:  # noqa: ANN001
    db = tmp_path / "own.sqlite"
    shutil.copy(store_db, db)
    app = create_app(db, None, True, fast_settings(), limits=WebLimits(requests_per_minute=10_000),
                     detector=detector, work_dir=tmp_path)
    site = clinic_site({"/knees": "pc-01.html"})
    with TestClient(app, base_url="http://localhost") as own, serve(site) as (base, _log):
        data = _wait(own, own.post("/api/jobs", json={"url": base + "/"}).json()["id"])
        assert data["status"] == "done", data
        site = base.split("//")[1]
        history = own.get(f"/api/sites/{site}")
        assert history.status_code == 200, "the crawl joins the store, so Triage and history see it"
        assert data["result"]["store_run"] in [run["run_id"] for run in history.json()["history"]]
        assert site in [s["site"] for s in own.get("/api/sites").json()["sites"]]


def test_form_whole_site_redirects_to_a_job_page_that_refreshes(client: TestClient) -> None:
    release = threading.Event()

    def slow(h) -> None:  # noqa: ANN001 - held until the running job's page has been seen
        release.wait(600)
        h.reply(200, HTML, b"<html><body><p>Our stem cells regrow knees.</p></body></html>")

    with serve({"/robots.txt": (200, {}, b"User-agent: *\nAllow: /\n"), "/": slow}) as (base, _log):
        resp = client.post("/check", data={"url": base + "/", "whole_site": "1"}, follow_redirects=False)
        assert resp.status_code == 303
        job_page = client.get(resp.headers["location"])
        assert '<meta http-equiv="refresh" content="1">' in job_page.text and "<progress" in job_page.text
        release.set()
        _wait(client, resp.headers["location"].rsplit("/", 1)[1])


def test_third_concurrent_crawl_gets_429(client: TestClient) -> None:
    release = threading.Event()

    def held(h) -> None:  # noqa: ANN001
        release.wait(10)
        h.reply(200, HTML, b"<html><body><p>Stem cells.</p></body></html>")

    with serve({"/robots.txt": (200, {}, b"User-agent: *\nAllow: /\n"), "/": held}) as (base, _log):
        ids = [client.post("/api/jobs", json={"url": base + "/"}).json()["id"] for _ in range(2)]
        third = client.post("/api/jobs", json={"url": base + "/"})
        form = client.post("/check", data={"url": base + "/", "whole_site": "1"}, follow_redirects=False)
        release.set()
        for job_id in ids:
            _wait(client, job_id)
    assert third.status_code == 429 and "already in progress" in third.json()["error"]
    assert form.status_code == 429 and "already in progress" in form.text


# -- SSRF ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["api_check", "api_jobs", "form_page", "form_site"])
def test_private_url_is_refused_without_the_flag(guarded: TestClient, how: str) -> None:
    with serve(clinic_site({"/knees": "pc-01.html"})) as (base, log):
        url = base + "/knees"
        if how == "api_check":
            resp = guarded.post("/api/check", json={"url": url})
        elif how == "api_jobs":
            resp = guarded.post("/api/jobs", json={"url": url})
        else:
            resp = guarded.post("/check", data={"url": url, "whole_site": "1" if how == "form_site" else ""},
                                follow_redirects=False)
        hits = log.paths()  # the refusal is synchronous: had a request been made, it would be logged by now
    assert resp.status_code == 400
    assert "non-public address" in resp.text and "--allow-private" in resp.text
    assert hits == [], "the guard must refuse before any request"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/", "http://user:pw@127.0.0.1/",
                                 "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://0.0.0.0/"])
def test_odd_and_internal_urls_are_refused(guarded: TestClient, url: str) -> None:
    resp = guarded.post("/api/check", json={"url": url})
    assert resp.status_code == 400, resp.text


# -- escaping --------------------------------------------------------------------------------------
def _no_markup(text: str) -> None:
    assert "<script>alert(1)" not in text and "<img src=x" not in text and "onerror=alert(1)>" not in text


def test_pasted_text_payload_is_escaped(client: TestClient) -> None:
    resp = client.post("/check", data={"text": PAYLOAD})
    assert resp.status_code == 200
    _no_markup(resp.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in resp.text and "&lt;img src=x onerror=alert(1)&gt;" in resp.text


def test_scraped_title_and_body_payloads_are_escaped(client: TestClient) -> None:
    with serve({"/": (200, HTML, HOSTILE_PAGE)}) as (base, _log):
        resp = client.post("/check", data={"url": base + "/"})
    assert resp.status_code == 200
    _no_markup(resp.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Stem cell clinic" in resp.text
    report = client.get(resp.text.split('id="export-html" href="')[1].split('"')[0]).text
    _no_markup(report)


def test_url_payload_is_escaped(guarded: TestClient) -> None:
    url = f"http://127.0.0.1:1/{XSS_TITLE}?q={XSS_IMG}"
    resp = guarded.post("/check", data={"url": url})
    assert resp.status_code == 400
    _no_markup(resp.text)
    assert "&lt;script&gt;" in resp.text


@pytest.mark.parametrize("path", [
    f"/triage?product={XSS_TITLE}&tld={XSS_IMG}",
    f"/triage?category={XSS_TITLE}",
    f"/triage?since={XSS_IMG}",
    f"/triage?sort={XSS_TITLE}",
    f"/sites/{XSS_TITLE}",
    f"/jobs/{XSS_IMG}",
    f"/nope/{XSS_TITLE}",
])
def test_query_and_path_payloads_are_escaped(client: TestClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code in (200, 400, 404)
    _no_markup(resp.text)


def test_payloads_in_response_headers_are_escaped(client: TestClient) -> None:
    """A hostile server puts markup in its HTTP headers (content type, redirect target, robots detail):
    the site report shows them only as text."""
    routes = clinic_site({"/knees": "pc-01.html"}, extra={
        "/brochure": (200, {"Content-Type": f"application/x-{XSS_TITLE}"}, b"%PDF"),
        "/moved": (302, {"Location": f"http://elsewhere.example/{XSS_IMG}"}, b""),
    })
    routes["/"] = (200, HTML, b'<a href="/knees">knee treatment</a><a href="/brochure">treatment brochure</a>'
                               b'<a href="/moved">treatment moved</a>')
    with serve(routes) as (base, _log):
        data = _wait(client, client.post("/api/jobs", json={"url": base + "/"}).json()["id"])
    assert data["status"] == "done", data
    page = client.get(data["links"]["page"]).text
    assert "not_html" in page or "off_site" in page
    _no_markup(page)
    _no_markup(client.get(data["links"]["page"].rstrip("/") + "/report.html").text)
    for name, value in client.get(data["links"]["page"]).headers.items():
        assert "<script" not in value, name


def test_hostile_site_in_the_store_renders_as_text(client: TestClient) -> None:
    resp = client.get(f"/sites/{HOSTILE_SITE}")
    assert resp.status_code == 200
    _no_markup(resp.text)
    api = client.get(f"/api/sites/{HOSTILE_SITE}").json()
    assert api["history"] and api["latest"]["site"] == HOSTILE_SITE


def test_csv_cells_that_look_like_formulas_are_defused() -> None:
    view = {"groups": [{"claims": [{"url": "=HYPERLINK(\"x\")", "text": "+1 cures", "kind": "flag", "cats": [],
                                    "context": [], "record_id": ""}]}]}
    row = list(csv.reader(io.StringIO(claims_csv(view))))[1]
    assert row[0] == "'=HYPERLINK(\"x\")" and row[1] == "'+1 cures"


# -- triage and history ----------------------------------------------------------------------------
def test_api_sites_ranks_filters_sorts_and_pages(client: TestClient) -> None:
    data = client.get("/api/sites").json()
    scores = [s["risk_score"] for s in data["sites"]]
    assert scores == sorted(scores, reverse=True) and data["total"] == 5
    assert {s["run_id"] for s in data["sites"]} == {2}
    by_name = client.get("/api/sites?sort=site&order=asc").json()["sites"]
    assert [s["site"] for s in by_name] == sorted(s["site"] for s in by_name)
    mx = client.get("/api/sites?tld=.MX").json()
    assert [s["site"] for s in mx["sites"]] == ["alpha-stem.mx"]
    cure = client.get("/api/sites?category=cure_all").json()["sites"]
    assert cure and all(s["categories"].get("cure_all") for s in cure)
    neuro = client.get("/api/sites?condition=neurological").json()["sites"]
    assert [s["site"] for s in neuro] == ["alpha-stem.mx"]
    exo = client.get("/api/sites?product=EXOSOME").json()["sites"]
    assert exo and all(any("exosome" in p for p in s["products"]) for s in exo)
    page2 = client.get("/api/sites?per_page=2&page=2").json()
    assert page2["pages"] == 3 and len(page2["sites"]) == 2
    assert client.get("/api/sites?since=2999-01-01").json()["total"] == 0
    assert client.get("/api/sites?until=2000-01-01").json()["total"] == 0


@pytest.mark.parametrize("query", ["sort=evil", "order=sideways", "category=nope", "since=yesterday", "per_page=0"])
def test_api_sites_rejects_bad_parameters_clearly(client: TestClient, query: str) -> None:
    resp = client.get(f"/api/sites?{query}")
    assert resp.status_code == 400 and resp.json()["error"]


def test_site_history_and_claim_diff(client: TestClient) -> None:
    data = client.get("/api/sites/alpha-stem.mx").json()
    assert [h["run_id"] for h in data["history"]] == [1, 2]
    diff = data["diffs"][0]
    assert diff["run_a"] == 1 and diff["run_b"] == 2 and diff["appeared"]
    assert client.get("/api/sites/alpha-stem.mx/diff").json()["diff"]["appeared"] == diff["appeared"]
    beta = client.get("/api/sites/beta-regen.com/diff?run_a=1&run_b=latest").json()["diff"]
    assert beta["disappeared"]
    page = client.get("/sites/alpha-stem.mx")
    assert "Appeared:" in page.text and "History" in page.text
    assert client.get("/api/sites/no-such.site").status_code == 404


def test_triage_page_sort_links_keep_filters(client: TestClient) -> None:
    resp = client.get("/triage?category=efficacy_overclaim&sort=site&order=asc")
    assert resp.status_code == 200
    assert 'id="sort-site" href="/triage?category=efficacy_overclaim&amp;sort=site"' in resp.text  # now desc
    assert 'id="sort-risk" href="/triage?category=efficacy_overclaim"' in resp.text  # the default sort
    assert "gamma-cells.co.uk" not in resp.text.split('id="triage"')[1]
    assert client.get("/triage?page=abc").status_code == 400


def test_site_tld_from_names() -> None:
    assert [site_tld(s) for s in ("clinic.com.mx", "127.0.0.1:8080", "pc-01", "a.DE")] == ["mx", "ip", "", "de"]


# -- documentation ---------------------------------------------------------------------------------
def test_openapi_and_docs_page_list_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/check", "/api/jobs", "/api/jobs/{job_id}", "/api/sites", "/api/sites/{site}",
            "/api/sites/{site}/diff"} <= set(spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "POST /api/check" in docs.text and "<script" not in docs.text
    prose = docs.text.split("<h2>Example</h2>")[0]
    assert "`" not in prose and "<code>text</code>" in prose, "route descriptions are rendered, not raw Markdown"


# -- headers and limits ----------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,body", [
    ("GET", "/", None), ("GET", "/check", None), ("GET", "/triage", None), ("GET", "/sites/alpha-stem.mx", None),
    ("GET", "/docs", None), ("GET", "/openapi.json", None), ("GET", "/static/app.css", None),
    ("GET", "/static/missing.css", None), ("GET", "/no/such/page", None), ("GET", "/api/sites", None),
    ("GET", "/api/jobs/unknown", None), ("GET", "/jobs/unknown/report.json", None),
    ("POST", "/api/check", {"text": CLAIM}), ("POST", "/api/check", {"nope": 1}), ("POST", "/check", None),
    ("PUT", "/api/check", None),
])
def test_security_headers_on_every_response(client: TestClient, method: str, path: str, body: dict | None) -> None:
    resp = client.request(method, path, json=body) if body is not None else client.request(method, path)
    _assert_secure(resp)
    assert "unsafe-inline" not in resp.headers["content-security-policy"]


def test_oversized_bodies_get_413(client: TestClient) -> None:
    big = "x" * 1_100_000
    api = client.post("/api/check", content=json.dumps({"text": big}), headers={"Content-Type": "application/json"})
    assert api.status_code == 413 and "limit" in api.json()["error"]
    _assert_secure(api)
    form = client.post("/check", data={"text": big})
    assert form.status_code == 413 and "limit" in form.text
    _assert_secure(form)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap applies while reading
        for _ in range(12):
            yield b"x" * 100_000

    streamed = client.post("/api/check", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    _assert_secure(streamed)


def test_text_over_the_length_limit_gets_413(store_db: Path, detector, tmp_path: Path) -> None:  # noqa: ANN001
    for client in _client(store_db, detector, tmp_path, True, max_text_chars=100):
        resp = client.post("/api/check", json={"text": "Stem cells cure. " * 20})
        assert resp.status_code == 413 and "limit is 100" in resp.json()["error"]
        form = client.post("/check", data={"text": "Stem cells cure. " * 20})
        assert form.status_code == 413 and "limit is 100" in form.text


def test_requests_per_client_are_limited(store_db: Path, detector, tmp_path: Path) -> None:  # noqa: ANN001
    for client in _client(store_db, detector, tmp_path, True, requests_per_minute=5):
        codes = [client.get("/api/sites").status_code for _ in range(5)]
        assert codes == [200] * 5
        resp = client.get("/api/sites")
        assert resp.status_code == 429 and int(resp.headers["retry-after"]) >= 1
        assert "Too many requests" in resp.json()["error"]
        _assert_secure(resp)
        page = client.get("/triage")
        assert page.status_code == 429 and "Too many requests" in page.text
        assert client.get("/static/app.css").status_code == 200  # static files are not counted


def test_rate_limiter_window_slides() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.allow("a")[0] for _ in range(3)] == [True, True, False]
    assert limiter.allow("b")[0]
    now[0] = 61.0
    assert limiter.allow("a")[0]


def test_cross_origin_posts_are_refused(client: TestClient) -> None:
    resp = client.post("/check", data={"text": CLAIM}, headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403
    _assert_secure(resp)
    hidden = client.post("/api/jobs", json={"url": "http://127.0.0.1:1/"},
                         headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"})
    assert hidden.status_code == 403
    for headers in ({"Origin": "http://localhost"}, {"Origin": "null", "Sec-Fetch-Site": "same-origin"}):
        assert client.post("/check", data={"text": CLAIM}, headers=headers).status_code == 200


# -- the server entry point ------------------------------------------------------------------------
def test_demo_store_is_built_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "pc-01.html").write_bytes((server.DEMO_PAGES / "pc-01.html").read_bytes())
    monkeypatch.setattr(server, "DEMO_PAGES", pages)
    db = tmp_path / "demo.sqlite"
    assert not server.has_finished_run(db)
    server.ensure_demo_store(db)
    assert server.has_finished_run(db)
    mtime = db.stat().st_mtime_ns
    server.ensure_demo_store(db)
    assert db.stat().st_mtime_ns == mtime
