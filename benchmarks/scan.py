"""Batch-scan throughput, relevance-gate efficiency, Dask speed-up and memory, with baselines in one run.

Run: python benchmarks/scan.py [--pages 1200] [--skip-dask] [--skip-memory]

1. Clinic mix: a WARC of clinic pages (the bundled pages, repeated under distinct URLs). Scan rate in
   pages/s on one process (one core), beside the parse-only rate of the same archive (read every
   record and extract its text with lexbor: the floor of any scan).
2. Web mix: a WARC where 1% of pages are clinic pages and 99% ordinary pages (news, recipes, shops:
   generated for this benchmark only, never used for training). Scan rate against parse-only; the
   target is >= 40% of it, which the relevance gate makes possible.
3. Dask: the clinic mix on a local cluster of 1 and of 2 worker processes; the speed-up is measured in
   steady state (from the first result on, after workers have loaded the model) and in total wall time.
4. Memory: peak RSS of a scan of N and of 10 x N web-mix pages, each in a fresh process.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from selectolax.lexbor import LexborHTMLParser  # noqa: E402
from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from detector.batch.runner import Scanner, ScanOptions  # noqa: E402
from detector.source.warc import iter_records  # noqa: E402

_WORD_TEXT = (
    "season team match city council budget recipe butter oven flour garden tomato weather storm train "
    "station ticket museum exhibition painting concert guitar album review phone battery screen laptop price "
    "delivery order cart shoes jacket cotton size colour holiday beach hotel flight school teacher pupil "
    "library book author chapter election vote market shares bank loan mortgage river bridge road traffic "
    "football goal coach league cinema film actor director camera lens travel island mountain"
)
WORDS = _WORD_TEXT.split()


def ordinary_page(rng: random.Random, kb: int = 30) -> bytes:
    """A plain web page of about kb KB that never mentions a regenerative-medicine term."""
    paras = []
    size = 0
    while size < kb * 1024 * 0.6:
        p = " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 70))).capitalize() + "."
        paras.append(f"<p>{p}</p>")
        size += len(p) + 7
    nav = "".join(f'<li><a href="/{w}">{w.title()}</a></li>' for w in rng.sample(WORDS, 12))
    script = "<script>window.dataLayer=window.dataLayer||[];" + "x=1;" * 800 + "</script>"
    return (f"<html><head><title>{rng.choice(WORDS).title()} news</title>{script}</head><body><nav><ul>{nav}"
            f"</ul></nav><main><h1>{rng.choice(WORDS).title()}</h1>{''.join(paras)}</main></body></html>").encode()


def write_warc(path: Path, n: int, relevant_share: float, seed: int = 0) -> None:
    rng = random.Random(seed)
    clinic = [p.read_bytes() for p in sorted((ROOT / "corpora" / "pages").glob("*.html"))]
    with path.open("wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for i in range(n):
            relevant = rng.random() < relevant_share if relevant_share < 1 else True
            body = clinic[i % len(clinic)] if relevant else ordinary_page(rng)
            url = f"https://site{i % 97}.example/page/{i}"
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))


def parse_only(path: Path) -> float:
    t0 = time.perf_counter()
    n = 0
    for rec in iter_records(path, pages_only=True):
        if hasattr(rec, "body"):
            LexborHTMLParser(rec.body).body.text(separator="\n") if rec.body else None
            n += 1
    return n / (time.perf_counter() - t0)


def scan_rate(path: Path, workers: int | None = None) -> tuple[float, float, int]:
    """(steady-state pages/s from the first result on, total pages/s, pages)."""
    marks: list[float] = []
    t0 = time.perf_counter()
    result = Scanner(options=ScanOptions(batch_size=32), workers=workers,
                     progress=lambda c: marks.append(time.perf_counter())).run([path])
    total = time.perf_counter() - t0
    pages = len(result.pages)
    first = marks[0] if marks else t0
    steady = (pages - 32) / max(1e-9, (marks[-1] - first)) if len(marks) > 1 else pages / total
    return steady, pages / total, pages


_CHILD = ("import resource,sys;from pathlib import Path;from detector.batch.runner import Scanner;"
          "Scanner().run([Path(sys.argv[1])]);print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def peak_rss_mb(path: Path) -> float:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=1200)
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clinic, web = Path(tmp) / "clinic.warc.gz", Path(tmp) / "web.warc.gz"
        write_warc(clinic, args.pages, 1.0)
        write_warc(web, args.pages * 5, 0.01)
        print(f"clinic mix: {args.pages} pages; web mix: {args.pages * 5} pages (1% relevant, ~30 KB ordinary pages)")
        for name, path in (("clinic mix", clinic), ("web mix", web)):
            base = parse_only(path)
            steady, total, n = scan_rate(path)
            print(f"{name:<11} parse-only {base:8.0f} pages/s | scan {total:7.1f} pages/s/core "
                  f"({total / base:.1%} of parse-only) | {n} pages")
        if not args.skip_dask:
            one = scan_rate(clinic, workers=1)
            two = scan_rate(clinic, workers=2)
            print(f"dask, clinic mix: 1 worker {one[0]:.1f} pages/s steady ({one[1]:.1f} total); "
                  f"2 workers {two[0]:.1f} steady ({two[1]:.1f} total); speed-up {two[0] / one[0]:.2f}x steady, "
                  f"{two[1] / one[1]:.2f}x total (machine: {os.cpu_count()} cores)")
        if not args.skip_memory:
            small, big = Path(tmp) / "small.warc.gz", Path(tmp) / "big.warc.gz"
            write_warc(small, args.pages // 2, 0.01, seed=1)
            write_warc(big, args.pages * 5, 0.01, seed=2)
            a, b = peak_rss_mb(small), peak_rss_mb(big)
            print(f"memory: peak RSS {a:.0f} MB for {args.pages // 2} pages, {b:.0f} MB for {args.pages * 5} pages "
                  f"(10x): growth {b / a - 1:+.1%}")
    print(f"this process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
