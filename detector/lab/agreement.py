"""Inter-annotator agreement on the double-labelled realistic pages, and their majority adjudication.

Three readers label the same pages: the writer who rewrote each page (corpora/realistic) and two
independent readers given only the codebook (corpora/agreement/reader*.jsonl). Agreement is Cohen's kappa:
on the page label, and per category on sentence units (the page split at line breaks and sentence ends;
a unit carries a category when a reader's labelled sentence covers it). The adjudicated labels keep what
at least two of the three readers marked. The model card quotes these kappas as the ceiling we measure
against.

    python -m detector.lab.agreement            # print the agreement table
    python -m detector.lab.agreement --write    # also write the adjudicated labels back into corpora/realistic
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from detector.categories import CATEGORIES, RED_FLAGS
from detector.guard import write_text
from detector.lab.corpus import read_jsonl
from detector.settings import REPO_ROOT

_UNIT = re.compile(r"[^\n]+?(?:[.!?…]+[\"”’')\]]*(?=\s)|$)", re.M)


def unit_spans(text: str) -> list[tuple[int, int, str]]:
    """The page's sentence units as (start, end, text), exact substrings, in order."""
    out = []
    for m in _UNIT.finditer(text):
        raw = m.group(0)
        stripped = raw.strip()
        if stripped:
            start = m.start() + raw.index(stripped)
            out.append((start, start + len(stripped), stripped))
    return out


def units(text: str) -> list[str]:
    return [u for _s, _e, u in unit_spans(text)]


def _spans_of(text: str, sentence: str) -> list[tuple[int, int]]:
    out, at = [], text.find(sentence)
    while at >= 0 and sentence:
        out.append((at, at + len(sentence)))
        at = text.find(sentence, at + 1)
    return out


def unit_labels(text: str, sentences: Sequence[dict]) -> list[tuple[set[str], bool]]:
    """Per unit: the categories a reader gave it, and whether the reader marked it reported.

    A unit takes a labelled sentence's categories when the sentence (located in the page text) covers at least
    half of the unit, so a long sentence split into two units labels both, and a heading is never labelled
    by a sentence elsewhere on the page that happens to contain its words.
    """
    located = [(span, s) for s in sentences for span in _spans_of(text, s["text"])]
    out = []
    for a, b, _u in unit_spans(text):
        cats: set[str] = set()
        reported = False
        for (sa, sb), s in located:
            if min(b, sb) - max(a, sa) >= 0.5 * (b - a):
                cats.update(s["categories"])
                reported = reported or bool(s.get("reported"))
        out.append((cats, reported))
    return out


def _kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    if len(set(a) | set(b)) < 2:
        return None
    return round(float(cohen_kappa_score(a, b)), 3)


def agreement(pages: dict[str, str], readers: dict[str, dict[str, dict]]) -> dict:
    """Pairwise kappas: page label, any made red flag per unit, and each category per unit."""
    names = sorted(readers)
    ids = [i for i in pages if all(i in readers[r] for r in names)]
    labels = {r: {i: unit_labels(pages[i], readers[r][i]["sentences"]) for i in ids} for r in names}
    out: dict = {"pages": len(ids), "units": sum(len(units(pages[i])) for i in ids), "pairs": {}}
    for a, b in combinations(names, 2):
        row: dict = {"page_label": _kappa([int(readers[a][i]["red_flag_page"]) for i in ids],
                                          [int(readers[b][i]["red_flag_page"]) for i in ids])}
        flat_a = [u for i in ids for u in labels[a][i]]
        flat_b = [u for i in ids for u in labels[b][i]]
        made = [[int(bool(c & set(RED_FLAGS)) and not rep) for c, rep in flat] for flat in (flat_a, flat_b)]
        row["made_red_flag_unit"] = _kappa(*made)
        for cat in CATEGORIES:
            row[cat] = _kappa([int(cat in c) for c, _ in flat_a], [int(cat in c) for c, _ in flat_b])
        out["pairs"][f"{a}~{b}"] = row
    return out


def adjudicate(text: str, votes: Sequence[Sequence[dict]], red_votes: Sequence[bool]) -> tuple[bool, list[dict]]:
    """Majority of the readers: the page label, and per unit each category and the reported flag."""
    per_reader = [unit_labels(text, v) for v in votes]
    need = len(votes) // 2 + 1
    sentences = []
    for k, u in enumerate(units(text)):
        cats = [c for c in CATEGORIES if sum(cat in r[k][0] for cat in [c] for r in per_reader) >= need]
        if not cats:
            continue
        rep = sum(r[k][1] for r in per_reader if r[k][0] & set(cats)) >= need
        sentences.append({"text": u, "categories": cats, "reported": rep})
    return sum(red_votes) >= need, sentences


def load(corpus_dir: Path) -> tuple[dict[str, str], dict[str, dict[str, dict]], dict[str, Path]]:
    """Page texts, each reader's labels by page id (corpora/agreement/*.jsonl: the writer's original labels and
    the two readers'), and the realistic file each page lives in."""
    pages, where = {}, {}
    for path in sorted((corpus_dir / "realistic").glob("*.jsonl")):
        for row in read_jsonl(path):
            pages[row["id"]] = row["text"]
            where[row["id"]] = path
    readers = {path.stem: {r["id"]: r for r in read_jsonl(path)}
               for path in sorted((corpus_dir / "agreement").glob("*.jsonl"))}
    shared = set.intersection(*(set(r) for r in readers.values()))
    return {i: pages[i] for i in sorted(shared)}, readers, where


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO_ROOT / "corpora")
    ap.add_argument("--write", action="store_true", help="write the adjudicated labels into corpora/realistic")
    args = ap.parse_args()
    pages, readers, where = load(args.corpus)
    print(json.dumps(agreement(pages, readers), indent=1))
    if not args.write:
        return
    changed: dict[Path, dict[str, dict]] = {}
    for pid, text in pages.items():
        red, sents = adjudicate(text, [readers[r][pid]["sentences"] for r in sorted(readers)],
                                [bool(readers[r][pid]["red_flag_page"]) for r in sorted(readers)])
        changed.setdefault(where[pid], {})[pid] = {"red_flag_page": red, "sentences": sents, "adjudicated": True}
    for path, updates in changed.items():
        rows = read_jsonl(path)
        for row in rows:
            row.update(updates.get(row["id"], {}))
        write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"adjudicated {len(pages)} pages")


if __name__ == "__main__":
    main()
