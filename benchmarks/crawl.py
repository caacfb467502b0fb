"""Crawler overhead against the politeness floor, on a 30-page local site (127.0.0.1 only).

Run: python benchmarks/crawl.py [--pages 30] [--delay 0.2] [--page-kb 30]

A polite crawl can never be faster than (requests - 1) x delay: that is the floor. The ratio of wall time
to the floor shows what the crawler itself costs (fetching, WARC writing, link extraction, scheduling).
The site report (analysis of every page read back from the WARC) is timed separately. Also printed: the
number of requests (pages + robots.txt + sitemap) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detector.check import Detector, site_reports  # noqa: E402
from detector.settings import load_settings  # noqa: E402
from detector.source.crawl import Crawler  # noqa: E402
from tests.sites import HTML, serve  # noqa: E402


def build_site(n_pages: int, page_kb: int) -> dict:
    """n_pages pages cycling through the bundled clinic pages, padded to ~page_kb, linked from a home page."""
    sources = sorted((ROOT / "corpora" / "pages").glob("pc-*.html"))
    routes: dict = {"/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")}
    links = []
    for i in range(n_pages - 1):
        path = f"/treatments/{'abcdefghijklmnopqrstuvwxyz'[i // 26 % 26]}{'abcdefghijklmnopqrstuvwxyz'[i % 26]}"
        # the corpus pages' own menus point at paths this site lacks: unlink them so every request is a page
        body = re.sub(rb'href="[^"]*"', b'href="#"', sources[i % len(sources)].read_bytes())
        pad = b"<!-- " + b"x" * max(0, page_kb * 1024 - len(body)) + b" -->"
        routes[path] = (200, HTML, body.replace(b"</body>", pad + b"</body>", 1))
        links.append(f'<li><a href="{path}">stem cell treatment {i}</a></li>')
    routes["/"] = (200, HTML, f"<html><body><ul>{''.join(links)}</ul></body></html>".encode())
    return routes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=30)
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("--page-kb", type=int, default=30)
    args = ap.parse_args()

    base_settings = load_settings()
    settings = dataclasses.replace(
        base_settings, crawl=dataclasses.replace(base_settings.crawl, delay=args.delay, max_pages=args.pages))
    detector = Detector.load()
    with tempfile.TemporaryDirectory() as tmp, serve(build_site(args.pages, args.page_kb)) as (base, log):
        warc = Path(tmp) / "bench.warc.gz"
        t0 = time.perf_counter()
        result = Crawler(settings, allow_private=True).crawl(base + "/", warc)
        crawl_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        report = site_reports(detector, warc)[0]
        report_s = time.perf_counter() - t1
        warc_kb = warc.stat().st_size / 1024
    floor = (result.requests - 1) * args.delay
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"site: {args.pages} pages of ~{args.page_kb} KB, delay {args.delay:.2f}s, one connection per host")
    print(f"requests made:          {result.requests} (server saw {len(log.hits)}; pages fetched "
          f"{len(result.fetched)}; robots.txt and sitemap probes {result.requests - len(result.fetched)}; "
          f"outcomes {result.counts()})")
    print(f"politeness floor:       {floor:.2f}s  ((requests - 1) x delay)")
    print(f"crawl wall time:        {crawl_s:.2f}s  -> ratio to floor {crawl_s / floor:.3f}"
          f"  (overhead {crawl_s - floor:.2f}s, {1000 * (crawl_s - floor) / result.requests:.1f} ms/request)")
    print(f"site report from WARC:  {report_s:.2f}s for {len(report.analysed)} pages "
          f"({len(report.analysed) / report_s:.0f} pages/s)")
    print(f"WARC size:              {warc_kb:.0f} KB")
    print(f"peak RSS:               {rss_mb:.0f} MB (includes the loaded model)")


if __name__ == "__main__":
    main()
