"""The corpus is the product: these checks keep it honest as it grows."""

import json
import re
from collections import Counter

import pytest

from detector.categories import CATEGORIES
from detector.extract import html_to_page
from detector.lab.corpus import REGISTERS, assign_split, load_pages, load_realistic, load_sentences

from .conftest import CORPUS, REALWORLD, ROOT

HELDOUT = ROOT.parent / "shared" / "heldout" / "check.py"


@pytest.fixture(scope="module")
def frame():
    return load_sentences(CORPUS)


@pytest.fixture(scope="module")
def pages():
    return load_pages(CORPUS)


@pytest.fixture(scope="module")
def realistic():
    return load_realistic(CORPUS)


def test_size_and_balance(frame):
    assert len(frame) >= 2500
    for cat in CATEGORIES:
        assert frame[cat].sum() >= 150, cat
    assert (frame[list(CATEGORIES)].sum(axis=1) == 0).mean() >= 0.40
    assert set(frame["register"]) <= REGISTERS
    assert frame["register"].nunique() >= 9


def _all_texts(frame, pages, realistic=()):
    return (list(frame["text"]) + [s["text"] for p in pages for s in p.sentences]
            + [s["text"] for p in realistic for s in p.sentences])


def test_no_duplicate_texts(frame, pages, realistic):
    norm = [" ".join(re.findall(r"[a-z0-9']+", t.lower())) for t in _all_texts(frame, pages, realistic)]
    dups = [t for t, n in Counter(norm).items() if n > 1]
    assert not dups, dups[:5]
    page_starts = Counter(" ".join(re.findall(r"[a-z0-9']+", p.text.lower()))[:300] for p in realistic)
    assert not [t for t, n in page_starts.items() if n > 1]


def test_realistic_pages_cover_the_field(realistic):
    assert len(realistic) >= 300
    kinds = Counter(p.kind for p in realistic)
    selling = sum(n for k, n in kinds.items() if k in ("clinic", "broker", "seo"))
    assert 0.35 < selling / len(realistic) < 0.65, kinds
    assert len(kinds) >= 10 and len({p.country for p in realistic if p.country}) >= 25
    assert 0.35 < sum(p.red_flag_page for p in realistic) / len(realistic) < 0.65
    for cat in CATEGORIES:
        assert sum(cat in s["categories"] for p in realistic for s in p.sentences) >= 25, cat
    assert sum(s["reported"] for p in realistic for s in p.sentences) >= 100


def test_realistic_labels_match_their_pages(realistic):
    for p in realistic:
        assert p.source_url.startswith(("http://", "https://")), p.id
        for s in p.sentences:
            assert s["text"] in p.text, (p.id, s["text"])
        if p.red_flag_page:
            assert any(set(s["categories"]) - {"honest_disclosure"} and not s["reported"] for s in p.sentences), p.id


def test_realistic_splits_are_by_source_domain(realistic):
    by_domain: dict[str, set[str]] = {}
    for p in realistic:
        by_domain.setdefault(p.domain, set()).add(p.split)
    assert all(len(s) == 1 for s in by_domain.values())
    shares = Counter(p.split for p in realistic)
    assert shares["train"] / len(realistic) > 0.55 and shares["test"] >= 30


@pytest.mark.skipif(not HELDOUT.is_file(), reason="../shared/heldout is not beside this clone")
def test_no_source_is_held_out(realistic):
    """Every source_url in corpora/ goes through the evaluation set's held-out check."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("heldout_check", HELDOUT)
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    urls = [p.source_url for p in realistic]
    for path in CORPUS.rglob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            if isinstance(row, dict) and isinstance(row.get("source_url"), str):
                urls.append(row["source_url"])
    held = [u for u in urls if check.held_out(u)]
    assert urls and not held, held[:3]


def test_splits_are_by_document(frame):
    assert (frame.groupby("doc")["split"].nunique() == 1).all()
    assert all(frame["split"] == frame["doc"].map(assign_split))
    shares = frame["split"].value_counts(normalize=True)
    assert 0.55 < shares["train"] < 0.85 and shares["test"] > 0.08


def test_pages_are_realistic_and_annotations_match_their_text(pages):
    assert len(pages) >= 80
    kinds = Counter(p.kind for p in pages)
    assert len(kinds) >= 6
    flagged = sum(p.red_flag_page for p in pages)
    assert 0.25 < flagged / len(pages) < 0.65
    for rec in pages:
        page = html_to_page(rec.path.read_text(encoding="utf-8"), rec.id)
        text = " ".join(page.text.split())
        for s in rec.sentences:
            assert " ".join(s["text"].split()) in text, (rec.id, s["text"])
        if rec.red_flag_page:
            assert any(set(s["categories"]) - {"honest_disclosure"} and not s["reported"] for s in rec.sentences)


@pytest.mark.skipif(not REALWORLD.is_file(), reason="../shared/realworld-dev is not beside this clone")
def test_no_text_copied_from_the_realworld_dev_set(frame, pages, realistic):
    def grams(text):
        w = re.findall(r"[a-z0-9']+", text.lower())
        return {" ".join(w[i : i + 8]) for i in range(len(w) - 7)}

    dev = set()
    for line in REALWORLD.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for text in [row["text"]] + [s["text"] for s in row.get("sentences", [])]:
            dev |= grams(text)
    leaked = [t for t in _all_texts(frame, pages) + [p.text for p in realistic] if grams(t) & dev]
    assert not leaked, leaked[:3]


@pytest.mark.skipif(not REALWORLD.is_file(), reason="../shared/realworld-dev is not beside this clone")
def test_no_sentence_row_is_a_near_paraphrase_of_realworld_dev_text(frame):
    """Stricter than the 8-gram rule: no row of six or more distinct words shares 70% of them (and at least
    five) with a real-world dev sentence, so the dev set stays an honest measure."""
    words = re.compile(r"[a-z0-9']+")
    stop = {"the", "a", "an", "and", "or", "of", "to", "in", "for", "with", "on", "is", "are", "be", "by", "our",
            "your", "we", "you", "it", "that", "this", "at", "as", "from", "can"}
    dev: list[set[str]] = []
    for line in REALWORLD.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts = re.split(r"(?<=[.!?])\s+|\n+", row["text"]) + [s["text"] for s in row.get("sentences", [])]
        dev.extend(w for w in (set(words.findall(t.lower())) for t in texts) if len(w) >= 5)
    index: dict[str, list[int]] = {}
    for i, w in enumerate(dev):
        for x in w:
            index.setdefault(x, []).append(i)
    near = []
    for text in frame["text"]:
        w = set(words.findall(text.lower()))
        if len(w) < 6:
            continue
        shared_counts = Counter(i for x in w - stop for i in index.get(x, ()))
        for i, c in shared_counts.items():
            shared = len(w & dev[i])
            if c >= 4 and shared >= 5 and shared / min(len(w), len(dev[i])) >= 0.7:
                near.append(text)
                break
    assert not near, near[:3]


@pytest.mark.skipif(not REALWORLD.is_file(), reason="../shared/realworld-dev is not beside this clone")
def test_no_realistic_page_resembles_a_realworld_dev_page(realistic):
    """A real page carrying a dev page's specific facts is probably its source: none may be in the corpus.

    Pages are compared on long words (7+ letters) and numbers; no realistic sentence may be a near-paraphrase
    of a labelled dev sentence (six or more distinct words, at least five and 70% of them shared)."""
    words = re.compile(r"[a-z0-9']+")
    number = re.compile(r"\d[\d.,]*%?")
    rows = [json.loads(line) for line in REALWORLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    dev_pages = [({w for w in words.findall(r["text"].lower()) if len(w) >= 7},
                  {n.strip(".,") for n in number.findall(r["text"]) if len(n.strip(".,")) >= 2}) for r in rows]
    dev_sents = [w for r in rows for w in (set(words.findall(s["text"].lower())) for s in r["sentences"])
                 if len(w) >= 5]
    close = []
    for p in realistic:
        content = {w for w in words.findall(p.text.lower()) if len(w) >= 7}
        nums = {n.strip(".,") for n in number.findall(p.text) if len(n.strip(".,")) >= 2}
        for dc, dn in dev_pages:
            jac = len(content & dc) / max(1, len(content | dc))
            if jac >= 0.22 or (len(nums & dn) >= 3 and jac >= 0.12):
                close.append((p.id, "page"))
                break
        for unit in re.split(r"(?<=[.!?])\s+|\n+", p.text):
            w = set(words.findall(unit.lower()))
            if len(w) >= 6 and any(len(w & d) >= 5 and len(w & d) / min(len(w), len(d)) >= 0.7 for d in dev_sents):
                close.append((p.id, unit[:80]))
    assert not close, close[:5]
