"""`stemcheck history` costs: reading a big capture index, and a history against the politeness floor.

Run: python benchmarks/history.py [--rows 100000] [--versions 20] [--delay 0.2]

1. The capture index: our CDX reader and the capture selection on a synthetic index of `--rows` rows (ten
   years, 500 distinct contents), against `json.loads` of the same bytes as the anchor (the reader can never
   be faster than parsing the JSON once).
2. A history of `--versions` distinct versions served by a local archive on 127.0.0.1 with `--delay`
   between requests: a polite history can never be faster than (requests - 1) x delay, the floor; the ratio
   of wall time to the floor shows what fetching and checking cost on top.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detector.check import Detector  # noqa: E402
from detector.history import read_history  # noqa: E402
from detector.settings import load_settings  # noqa: E402
from detector.source.archive import WaybackArchive, parse_cdx, select_captures  # noqa: E402
from tests.archive import APPROVAL, GUARANTEE, RISKS, TARGET, clinic_page, replay  # noqa: E402
from tests.sites import HTML, serve  # noqa: E402

HEADER = ["timestamp", "original", "mimetype", "statuscode", "digest", "length"]


def synthetic_index(rows: int) -> bytes:
    out = [HEADER]
    for i in range(rows):
        year, day = 2015 + i * 10 // rows, i % 28 + 1
        ts = f"{year}{(i % 12) + 1:02d}{day:02d}{i % 24:02d}{i % 60:02d}{(i // 60) % 60:02d}"
        out.append([ts, TARGET, "text/html" if i % 20 else "image/png", "200" if i % 15 else "301",
                    f"D{(i * 7919) % 500}", "12345"])
    return json.dumps(out).encode()


def timed(fn, *args, repeat: int = 3):  # noqa: ANN001, ANN201
    best_wall, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        result = fn(*args)
        best_wall, best_cpu = min(best_wall, time.perf_counter() - w), min(best_cpu, time.process_time() - c)
    return result, best_wall, best_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--versions", type=int, default=20)
    ap.add_argument("--delay", type=float, default=0.2)
    args = ap.parse_args()

    data = synthetic_index(args.rows)
    _, anchor_wall, anchor_cpu = timed(json.loads, data)
    (captures, junk), wall, cpu = timed(parse_cdx, data, "bench", 10**9)
    sel, sel_wall, sel_cpu = timed(lambda: select_captures(captures, max_snapshots=40))
    print(f"capture index: {args.rows:,} rows, {len(data) / 1e6:.1f} MB; {len(sel.captures)} versions chosen "
          f"({junk} unreadable rows)")
    print(f"  json.loads (anchor)   wall {anchor_wall * 1000:7.1f} ms  cpu {anchor_cpu * 1000:7.1f} ms")
    print(f"  parse_cdx             wall {wall * 1000:7.1f} ms  cpu {cpu * 1000:7.1f} ms  "
          f"({wall / anchor_wall:.2f}x the anchor; {args.rows / wall / 1e6:.2f} M rows/s)")
    print(f"  select_captures       wall {sel_wall * 1000:7.1f} ms  cpu {sel_cpu * 1000:7.1f} ms")

    detector = Detector.load()
    index = [HEADER]
    routes: dict = {}
    for v in range(args.versions):
        ts = f"{2010 + v // 4}{(v % 4) * 3 + 1:02d}01000000"
        claims = [APPROVAL, GUARANTEE, RISKS][: 1 + v % 3] + [f"Version {v} of our opening hours."]
        index.append([ts, TARGET, "text/html", "200", f"V{v}", "1000"])
        routes[replay(ts)] = (200, HTML, clinic_page(*claims))
    routes["/cdx/search/cdx"] = (200, {"Content-Type": "application/json"}, json.dumps(index).encode())
    with serve(routes) as (base, _log):
        archive = WaybackArchive(base, load_settings(), allow_private=True, delay=args.delay)
        w, c = time.perf_counter(), time.process_time()
        history = read_history(detector, archive, TARGET, max_snapshots=args.versions)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
    floor = (archive.requests - 1) * args.delay
    print(f"history: {args.versions} versions, {archive.requests} requests, delay {args.delay}s; "
          f"{len(history.claims)} distinct claims")
    print(f"  wall {wall:.2f} s  cpu {cpu:.2f} s  floor {floor:.2f} s  ratio {wall / floor:.2f}x the floor; "
          f"{(wall - floor) / args.versions * 1000:.0f} ms a version above the floor")
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
