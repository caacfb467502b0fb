"""Speed never changes a verdict: pages checked in batches (one feature matrix and one product for many pages,
as scans do), one at a time (as `check` does) and from concurrent threads (as the web app does) give the same
JSON, over the bundled demo pages and the real-world dev pages."""

from __future__ import annotations

import json
import threading

import pytest

from detector.extract import html_to_page, text_to_page
from detector.web.pool import Analyser
from tests.conftest import CORPUS, REALWORLD, ROOT


def _pages() -> list:
    pages = [html_to_page(p.read_text(encoding="utf-8"), p.name) for p in sorted((CORPUS / "pages").glob("*.html"))]
    if REALWORLD.is_file():
        for line in REALWORLD.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            pages.append(text_to_page(row["text"], row["id"]))
    return pages


def _json(verdict) -> str:  # noqa: ANN001
    return json.dumps(verdict.to_dict(all_claims=True), sort_keys=True)


def test_batched_verdicts_equal_one_at_a_time(detector):
    pages = _pages()
    assert len(pages) >= 142
    single = [_json(detector.check_page(p)) for p in pages]
    batched = []
    for i in range(0, len(pages), 64):
        batched += [_json(v) for v in detector.check_pages(pages[i : i + 64])]
    assert batched == single
    assert any('"red_flag": true' in s for s in single) and any('"red_flag": false' in s for s in single)


def test_a_bad_page_in_a_batch_fails_alone(detector):
    good = html_to_page((CORPUS / "pages" / "pc-01.html").read_text(encoding="utf-8"), "pc-01.html")
    empty = html_to_page("<html><body></body></html>", "empty.html")
    out = detector.check_pages([good, empty, good])
    assert "no readable text" in str(out[1])
    assert _json(out[0]) == _json(out[2]) == _json(detector.check_page(good))


def test_concurrent_checks_in_threads_equal_sequential(detector):
    texts = [p.read_text(encoding="utf-8") for p in sorted((CORPUS / "pages").glob("p*-0*.html"))][:12]
    analyser = Analyser(detector, detector.settings)  # no workers: checks run in the calling threads, unlocked
    expected = [_json(detector.check_text(t, f"t{i}")) for i, t in enumerate(texts)]
    got: dict[int, str] = {}
    start = threading.Barrier(4)

    def run(k: int) -> None:
        start.wait()
        for i in range(k, len(texts), 4):
            got[i] = _json(analyser.check_text(texts[i], f"t{i}"))

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[i] for i in range(len(texts))] == expected


@pytest.mark.parametrize("n", [0, 1, 3])
def test_scores_do_not_depend_on_batch_neighbours(detector, n):
    claims = [detector.extractor.single_claim(t) for t in
              ["Our FDA-approved stem cells regrow cartilage.", "Results vary.", "Call now!", "No side effects."]]
    model = detector.bundle.claim_model
    alone = model.score(claims[n : n + 1]).proba[0]
    together = model.score(claims).proba[n]
    assert alone.tolist() == together.tolist()


def test_a_worker_process_gives_the_same_verdict_as_this_one(detector):
    text = (CORPUS / "pages" / "pc-01.html").read_text(encoding="utf-8")
    analyser = Analyser(detector, detector.settings, ROOT / "models", workers=1)  # what `serve` runs
    try:
        remote = analyser.check_text(text, "pasted")
        page = analyser.check_bytes(text.encode(), "https://clinic.example/", "text/html", "utf-8")
    finally:
        analyser.close()
    assert _json(remote) == _json(detector.check_text(text, "pasted"))
    assert remote.page is not None and remote.page.blocks  # the web view renders from the verdict's page
    assert page.red_flag == detector.check_html(text, "https://clinic.example/").red_flag
