"""Throughput of each stage on the bundled demo pages, beside parse-only and other anchors in the same run.

Run: python benchmarks/throughput.py [--repeat N] [--composite-kb 60]
Single process. Rates are per CPU-second of this process (time.process_time, best of N), so load from other
work on the machine distorts them little. Prints pages/s and sentences/s per stage and each stage's cost as a
ratio of the parse-only rate, for the bundled pages, for the same pages padded to ~60 KB with the markup real
pages carry, and for text-dense ~60 KB pages (several bundled pages concatenated: a stress case). "batched" is
the scan path: 64 pages per feature matrix; "one by one" is what `stemcheck check` does per page.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from scan import anchors  # noqa: E402 - benchmarks/scan.py, the same anchors in every benchmark
from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from detector.check import Detector  # noqa: E402
from detector.extract import html_to_page  # noqa: E402


def timed(fn, items, repeat):  # noqa: ANN001, ANN201
    best = float("inf")
    out = None
    for _ in range(repeat):
        start = time.process_time()
        out = [fn(x) for x in items]
        best = min(best, time.process_time() - start)
    return best, out


def padded(pages: list[str], kb: int) -> list[str]:
    """Each bundled page grown to ~kb KB with the markup real clinic pages carry (scripts, styles,
    inline SVG icons, tracking, a mega-menu), so the text stays what a real page of that size shows."""
    block = (
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
        + "var cfg={" + ",".join(f'"k{i}":"{"x" * 40}"' for i in range(40)) + "};</script>"
        + "<style>" + "".join(f".c{i}{{margin:{i}px;padding:{i}px;color:#{i:06x}}}" for i in range(60)) + "</style>"
        + '<svg viewBox="0 0 24 24"><path d="' + "M12 2L2 7l10 5 10-5-10-5z " * 30 + '"/></svg>'
        + '<div class="mega-menu" data-track="nav" aria-hidden="true"></div>'
    )
    out = []
    for html in pages:
        pad = []
        while len(html) + sum(map(len, pad)) < kb * 1024:
            pad.append(block)
        out.append(html.replace("</head>", "".join(pad) + "</head>", 1) if "</head>" in html else "".join(pad) + html)
    return out


def composite(pages: list[str], kb: int) -> list[str]:
    bodies = [LexborHTMLParser(p).body.html or "" for p in pages]
    out, cur = [], []
    size = 0
    for body in bodies * 3:
        cur.append(body)
        size += len(body)
        if size >= kb * 1024:
            out.append("<html><head><title>composite</title></head>" + "".join(cur) + "</html>")
            cur, size = [], 0
    return out


def run(label: str, htmls: list[str], det: Detector, repeat: int) -> None:
    n = len(htmls)
    kb = sum(len(h) for h in htmls) / n / 1024
    t_parse, _ = timed(lambda h: LexborHTMLParser(h).body.text(separator=" "), htmls, repeat)
    t_extract, pages = timed(lambda h: html_to_page(h, "bench"), htmls, repeat)
    t_nlp, claims = timed(det.extractor.extract, pages, repeat)
    sentences = sum(len(c) for c in claims)
    t_clf, _ = timed(det.classify, claims, repeat)
    t_all, _ = timed(lambda h: det.check_html(h, "bench"), htmls, repeat)
    batches = [pages[i : i + 64] for i in range(0, n, 64)]
    t_batch, _ = timed(lambda b: det.check_pages(b, explain=False), batches, repeat)
    t_batch += t_extract
    print(f"\n{label}: {n} pages, mean {kb:.1f} KB, {sentences} sentences ({sentences / n:.0f}/page)")
    print(f"{'stage':<28}{'pages/CPU-s':>12}{'sentences/CPU-s':>16}{'time vs parse-only':>20}")
    for name, t in [
        ("parse-only (lexbor text)", t_parse), ("extract (blocks)", t_extract), ("spaCy claim pipeline", t_nlp),
        ("classifier", t_clf), ("end to end, one by one", t_all), ("end to end, batched", t_batch),
    ]:
        print(f"{name:<28}{n / t:>12.1f}{sentences / t:>16.0f}{t / t_parse:>19.1f}x")
    for name, rate in anchors([h.encode() for h in htmls]).items():
        print(f"anchor: {name:<26}{rate:>10.1f} pages/CPU-s; end to end (batched) = {n / t_batch / rate:.2f} x this")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--composite-kb", type=int, default=60)
    args = ap.parse_args()
    det = Detector.load(ROOT / "models")
    htmls = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpora" / "pages").glob("*.html"))]
    det.check_html(htmls[0])  # warm-up: lazy vocab and feature-name caches
    run("bundled demo pages", htmls, det, args.repeat)
    run(f"bundled pages padded to ~{args.composite_kb} KB with real-page markup", padded(htmls, args.composite_kb),
        det, args.repeat)
    run(f"text-dense ~{args.composite_kb} KB pages (stress: bundled pages concatenated)",
        composite(htmls, args.composite_kb), det, args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
