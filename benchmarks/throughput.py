"""Throughput of each stage on the bundled demo pages, beside a parse-only baseline in the same run.

Run: python benchmarks/throughput.py [--repeat N] [--composite-kb 60]
Single process (one core). Prints pages/s and sentences/s per stage and each stage's cost as a ratio
of the parse-only rate, for the bundled pages, for the same pages padded to ~60 KB with the markup real
pages carry, and for text-dense ~60 KB pages (several bundled pages concatenated: a stress case).
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

from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from detector.check import Detector  # noqa: E402
from detector.extract import html_to_page  # noqa: E402


def timed(fn, items, repeat):  # noqa: ANN001, ANN201
    best = float("inf")
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = [fn(x) for x in items]
        best = min(best, time.perf_counter() - start)
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
    print(f"\n{label}: {n} pages, mean {kb:.1f} KB, {sentences} sentences ({sentences / n:.0f}/page)")
    print(f"{'stage':<28}{'pages/s':>10}{'sentences/s':>14}{'time vs parse-only':>20}")
    for name, t in [
        ("parse-only (lexbor text)", t_parse), ("extract (blocks)", t_extract), ("spaCy claim pipeline", t_nlp),
        ("classifier", t_clf), ("end to end (check_html)", t_all),
    ]:
        print(f"{name:<28}{n / t:>10.1f}{sentences / t:>14.0f}{t / t_parse:>19.1f}x")


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
    print(f"\npeak RSS {peak:.0f} MB; target: >= 100 pages/s/core end to end; extraction must not be the bottleneck")


if __name__ == "__main__":
    main()
