"""Batch-scan speed in CPU time beside anchors measured in the same run, start-up, Dask, and memory.

Run: python benchmarks/scan.py [--pages 1200] [--skip-dask] [--skip-memory] [--skip-startup]

The machine may be shared and loaded, so rates are pages per CPU-second of this process (time.process_time)
and every result is also given as a ratio to anchors timed on the same pages in the same run:
- parse-only: reading the WARC and extracting text with selectolax (lexbor), the floor of any scan;
- selectolax (lexbor) parse + text of the same bodies already in memory;
- BeautifulSoup(lxml) get_text and trafilatura.extract: what a typical scraper spends per page;
- spaCy's blank English tokenizer alone over the extracted text (no pipeline components).
Anchors that are not installed (`pip install -e ".[bench]"`) are skipped with a note.

1. Clinic mix: a WARC of N clinic pages (the bundled pages under distinct URLs). Scan rate after start-up.
2. Web mix: 5 x N pages, 1% clinic pages, 99% ordinary ~30 KB pages: scan rate against parse-only.
3. Start-up, in fresh processes: `stemcheck --help`, importing the CLI, and a cold `stemcheck check` of one page
   (CPU of the child process and wall time).
4. Dask: `stemcheck scan --workers 2` against one process on N and 5 x N clinic pages, total wall time of the
   CLI (start-up, cluster, model loading included), and the steady-state rate of each from the progress marks.
5. Memory: peak RSS of `stemcheck scan WARC --output pages.csv` on N/2 and 5 x N web-mix pages (10x).
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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from selectolax.lexbor import LexborHTMLParser  # noqa: E402
from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from detector.batch.runner import Scanner, ScanOptions  # noqa: E402
from detector.batch.worker import _worker_detector  # noqa: E402
from detector.source.warc import iter_records  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
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
    """Pages per CPU-second of reading the WARC and extracting each page's text with lexbor: the floor of any
    scan of that archive (the issue's "parse-only rate")."""
    t0 = time.process_time()
    n = 0
    for rec in iter_records(path, pages_only=True):
        if getattr(rec, "body", None):
            LexborHTMLParser(rec.body).body.text(separator="\n")
            n += 1
    return n / max(time.process_time() - t0, 1e-9)


def bodies(path: Path) -> list[bytes]:
    return [rec.body for rec in iter_records(path, pages_only=True) if getattr(rec, "body", None)]


def cpu_rate(fn: Callable[[bytes], object], items: list[bytes]) -> float:
    """Items per CPU-second of this process."""
    t0 = time.process_time()
    for x in items:
        fn(x)
    return len(items) / max(time.process_time() - t0, 1e-9)


def anchors(items: list[bytes]) -> dict[str, float]:
    """Pages per CPU-second of each anchor on the same pages."""
    out = {"selectolax parse + text": cpu_rate(lambda b: LexborHTMLParser(b).body.text(separator="\n"), items)}
    try:
        from bs4 import BeautifulSoup

        out["BeautifulSoup(lxml) text"] = cpu_rate(lambda b: BeautifulSoup(b, "lxml").get_text("\n"), items)
    except ImportError:
        print("  (BeautifulSoup not installed: pip install -e '.[bench]')")
    try:
        import trafilatura

        out["trafilatura.extract"] = cpu_rate(lambda b: trafilatura.extract(b.decode("utf-8", "replace")), items)
    except ImportError:
        print("  (trafilatura not installed: pip install -e '.[bench]')")
    import spacy

    tok = spacy.blank("en").tokenizer
    texts = {b: LexborHTMLParser(b).body.text(separator="\n") for b in items}
    out["spaCy blank tokenizer"] = cpu_rate(lambda b: tok(texts[b]), items)
    return out


def scan_cpu(path: Path) -> tuple[float, int, float]:
    """(pages per CPU-second after start-up, pages, wall seconds) for a one-process scan."""
    _worker_detector(str((ROOT / "models").resolve()))  # start-up is measured apart
    t0, w0 = time.process_time(), time.perf_counter()
    result = Scanner(options=ScanOptions()).run([path])
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    return len(result.pages) / max(cpu, 1e-9), len(result.pages), wall


# The child reports its own peak RSS (VmHWM) as it exits: ru_maxrss would also count the copy of this
# process's memory that the child held between fork and exec.
_CLI = ("import atexit, sys\n"
        "def _peak():\n"
        "    try:\n"
        "        line = next(x for x in open('/proc/self/status') if x.startswith('VmHWM:'))\n"
        "        sys.stderr.write('\\nVmHWM ' + line.split()[1] + '\\n')\n"
        "    except (OSError, StopIteration):\n"
        "        pass\n"
        "atexit.register(_peak)\n"
        "from detector.cli import app\n"
        "sys.argv = ['stemcheck', *sys.argv[1:]]\n"
        "app()\n")


def child(args: list[str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, stdout) of one fresh `stemcheck ...` process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _CLI, *args], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # cumulative: the difference is this child's
    cpu = usage.ru_utime + usage.ru_stime - child.cpu  # type: ignore[attr-defined]
    child.cpu = usage.ru_utime + usage.ru_stime  # type: ignore[attr-defined]
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{args}: failed: {err}")
    peak = [int(line.split()[1]) for line in err.splitlines() if line.startswith("VmHWM ")]
    return wall, cpu, (peak[-1] / 1024 if peak else float("nan")), out


child.cpu = 0.0  # type: ignore[attr-defined]


def startup() -> None:
    page = ROOT / "corpora" / "pages" / "pc-01.html"
    print("\nstart-up (fresh processes; wall time depends on the machine's load, CPU time much less):")
    for label, args in (("stemcheck --help", ["--help"]), ("cold check of one page", ["check", str(page)])):
        runs = [child(args)[:2] for _ in range(3)]
        wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
        print(f"  {label:<24} {cpu:5.2f} CPU-s  {wall:5.2f} s wall (best of 3)")
    heavy = subprocess.run([sys.executable, "-c", "import sys, detector.cli; print(sorted(m for m in ('pandas', "
                            "'scipy', 'sklearn', 'dask', 'fastapi', 'spacy') if m in sys.modules))"],
                           cwd=ROOT, env=ENV, capture_output=True, text=True, check=True).stdout.strip()
    print(f"  heavy libraries imported by the CLI before a command runs: {heavy}")


def dask(n: int, clinic: Path, big: Path) -> None:
    print("\nDask, clinic mix, whole `stemcheck scan` (start-up, cluster and model loading included):")
    for label, path, pages in ((f"{n} pages", clinic, n), (f"{5 * n} pages", big, 5 * n)):
        with tempfile.TemporaryDirectory() as tmp:
            one = child(["scan", str(path), "--output", f"{tmp}/one.csv"])[0]
            two = child(["scan", str(path), "--workers", "2", "--output", f"{tmp}/two.csv"])[0]
        print(f"  {label:<12} one process {one:6.1f} s ({pages / one:5.0f} pages/s) | 2 workers {two:6.1f} s "
              f"({pages / two:5.0f} pages/s): {one / two:.2f}x")
    marks: dict[str, list[float]] = {}
    for name, workers in (("one", None), ("two", 2)):
        marks[name] = []
        Scanner(options=ScanOptions(), workers=workers,
                progress=lambda c, m=marks[name]: m.append((time.perf_counter(), c["analysed"]))).run([big])
    rates = {}
    for name, m in marks.items():
        (t0, a0), (t1, a1) = m[len(m) // 5], m[-1]  # past the first fifth: every worker is busy
        rates[name] = (a1 - a0) / max(t1 - t0, 1e-9)
    print(f"  steady state, {5 * n} pages: one process {rates['one']:.0f} pages/s, 2 workers {rates['two']:.0f} "
          f"pages/s: {rates['two'] / rates['one']:.2f}x (machine: {os.cpu_count()} cores)")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pages", type=int, default=1200)
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-startup", action="store_true")
    args = ap.parse_args()
    n = args.pages
    with tempfile.TemporaryDirectory() as tmp:
        clinic, web = Path(tmp) / "clinic.warc.gz", Path(tmp) / "web.warc.gz"
        write_warc(clinic, n, 1.0)
        write_warc(web, n * 5, 0.01)
        print(f"clinic mix: {n} pages; web mix: {n * 5} pages (1% relevant, ~30 KB ordinary pages); "
              "rates in pages per CPU-second of one process, after start-up")
        for name, path in (("clinic mix", clinic), ("web mix", web)):
            rate, pages, wall = scan_cpu(path)
            sample = list(dict.fromkeys(bodies(path)))[:600]  # distinct pages: no anchor's cache sees one twice
            floor = parse_only(path)
            print(f"\n{name}: scan {rate:7.0f} pages/CPU-s ({pages} pages, {pages / wall:.0f} pages/s wall); "
                  f"parse-only (WARC read + lexbor text) {floor:.0f} pages/CPU-s: scan = {rate / floor:.1%} of it")
            for anchor, a_rate in anchors(sample).items():
                print(f"  {anchor:<26} {a_rate:8.0f} pages/CPU-s   scan = {rate / a_rate:6.2f} x this anchor")
        if not args.skip_startup:
            startup()
        if not args.skip_dask:
            big = Path(tmp) / "clinic-big.warc.gz"
            write_warc(big, 5 * n, 1.0)
            dask(n, clinic, big)
        if not args.skip_memory:
            small, large = Path(tmp) / "small.warc.gz", Path(tmp) / "large.warc.gz"
            write_warc(small, n // 2, 0.01, seed=1)
            write_warc(large, n * 5, 0.01, seed=2)
            a = child(["scan", str(small), "--output", f"{tmp}/small.csv"])[2]
            b = child(["scan", str(large), "--output", f"{tmp}/large.csv"])[2]
            print(f"\nmemory, `stemcheck scan --output`: peak RSS {a:.0f} MB for {n // 2} web-mix pages, {b:.0f} MB "
                  f"for {n * 5} (10x): growth {b / a - 1:+.1%}")
    print(f"this process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
