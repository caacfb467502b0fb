"""Loading and validating the labelled corpus: sentence rows and annotated pages, with document splits."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from detector.categories import CATEGORIES, check_category
from detector.errors import CorpusError

log = logging.getLogger(__name__)

REGISTERS = {
    "marketing", "faq", "testimonial", "news", "regulator", "academic", "trial",
    "patient_education", "price_table", "seo", "translated",
}
SPLITS = ("train", "dev", "test")


def assign_split(doc: str) -> str:
    """Deterministic 70/15/15 split by document id, so no document's sentences cross splits."""
    bucket = int(hashlib.sha256(doc.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if bucket < 70 else "dev" if bucket < 85 else "test"


def read_jsonl(path: Path) -> list[dict]:
    """JSON objects, one per non-blank line; a bad line is a CorpusError naming file and line."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise CorpusError(f"{path}:{n}: expected a JSON object")
        out.append(row)
    return out


def load_sentences(corpus_dir: Path) -> pd.DataFrame:
    """All sentence rows as a DataFrame with one 0/1 column per category."""
    records = []
    files = sorted((corpus_dir / "sentences").glob("*.jsonl"))
    if not files:
        raise CorpusError(f"{corpus_dir / 'sentences'}: no *.jsonl sentence files")
    for path in files:
        for n, row in enumerate(read_jsonl(path), 1):
            try:
                labels = [check_category(c) for c in row["labels"]]
                reported = [check_category(c) for c in row.get("reported_categories", [])]
                text, doc = row["text"].strip(), row["doc"]
            except KeyError as exc:
                raise CorpusError(f"{path}:{n}: missing field {exc}") from exc
            if not text:
                raise CorpusError(f"{path}:{n}: empty text")
            if row.get("register") not in REGISTERS:
                raise CorpusError(f"{path}:{n}: unknown register {row.get('register')!r}")
            split = row.get("split") or assign_split(doc)
            if split not in SPLITS:
                raise CorpusError(f"{path}:{n}: unknown split {split!r}")
            rec = {
                "id": row["id"], "doc": doc, "text": text, "labels": labels, "reported_categories": reported,
                "register": row["register"], "source": row.get("source", ""), "split": split,
                "file": path.name,
            }
            rec.update({c: int(c in labels) for c in CATEGORIES})
            records.append(rec)
    frame = pd.DataFrame.from_records(records)
    dup = frame["id"].duplicated()
    if dup.any():
        raise CorpusError(f"duplicate sentence ids: {', '.join(frame.loc[dup, 'id'].head(5))}")
    return frame


@dataclass
class PageRecord:
    """One annotated demo page: its HTML file, page label and labelled sentences."""

    id: str
    path: Path
    kind: str
    red_flag_page: bool
    sentences: list[dict] = field(default_factory=list)
    country: str = ""
    rationale: str = ""
    split: str = "train"


def load_pages(corpus_dir: Path) -> list[PageRecord]:
    """Annotated pages from every ``corpora/pages/index-*.jsonl``."""
    pages = []
    for index in sorted((corpus_dir / "pages").glob("index-*.jsonl")):
        for n, row in enumerate(read_jsonl(index), 1):
            try:
                path = index.parent / row["file"]
                sents = [
                    {"text": s["text"], "categories": [check_category(c) for c in s["categories"]],
                     "reported": bool(s.get("reported", False))}
                    for s in row.get("sentences", [])
                ]
                rec = PageRecord(
                    id=row["id"], path=path, kind=row.get("kind", ""), red_flag_page=bool(row["red_flag_page"]),
                    sentences=sents, country=row.get("country", ""), rationale=row.get("rationale", ""),
                    split=row.get("split") or assign_split(row["id"]),
                )
            except KeyError as exc:
                raise CorpusError(f"{index}:{n}: missing field {exc}") from exc
            if not path.is_file():
                raise CorpusError(f"{index}:{n}: page file {path.name} does not exist")
            pages.append(rec)
    return pages


KINDS = {
    "clinic", "broker", "seo", "news", "regulator", "academic", "trial", "review", "patient_education",
    "conventional_clinic", "forum", "other",
}


@dataclass
class RealisticPage:
    """A page rewritten sentence by sentence from one real public page, labelled like the real-world sets."""

    id: str
    source_url: str
    kind: str
    red_flag_page: bool
    text: str
    sentences: list[dict]
    rationale: str = ""
    country: str = ""
    split: str = "train"

    @property
    def domain(self) -> str:
        return source_domain(self.source_url)


def source_domain(url: str) -> str:
    """The registered domain of a source, so every page of one site lands in one split."""
    from detector.source.url import site_key

    return site_key(url)


def load_realistic(corpus_dir: Path) -> list[RealisticPage]:
    """Pages of ``corpora/realistic/*.jsonl``, split 70/15/15 by source domain (never by page)."""
    out = []
    seen: set[str] = set()
    for path in sorted((corpus_dir / "realistic").glob("*.jsonl")):
        for n, row in enumerate(read_jsonl(path), 1):
            try:
                text = row["text"]
                sents = []
                for s in row["sentences"]:
                    if s["text"] not in text:
                        raise CorpusError(f"{path}:{n}: sentence is not a substring of the page: {s['text'][:60]!r}")
                    sents.append({"text": s["text"], "categories": [check_category(c) for c in s["categories"]],
                                  "reported": bool(s["reported"])})
                rec = RealisticPage(row["id"], row["source_url"], row["kind"], bool(row["red_flag_page"]), text,
                                    sents, row.get("rationale", ""), row.get("country", ""))
            except KeyError as exc:
                raise CorpusError(f"{path}:{n}: missing field {exc}") from exc
            if rec.kind not in KINDS:
                raise CorpusError(f"{path}:{n}: unknown kind {rec.kind!r}")
            if rec.id in seen:
                raise CorpusError(f"{path}:{n}: duplicate page id {rec.id}")
            seen.add(rec.id)
            rec.split = assign_split("domain:" + rec.domain)
            out.append(rec)
    return out


def corpus_hash(corpus_dir: Path) -> str:
    """SHA-256 over every labelled file and lexicon, so metadata says exactly what a model was trained on."""
    h = hashlib.sha256()
    for path in sorted(corpus_dir.rglob("*")):
        if path.is_file() and path.suffix in {".jsonl", ".json", ".html"}:
            h.update(path.relative_to(corpus_dir).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()
