"""URL lists: every line ends as exactly one row, a refused line never costs its site's other lines, and the
user's own URLs are seeds, never a spider trap. Sites are local servers on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.batch.inputs import read_url_list
from detector.batch.runner import Scanner, ScanOptions
from tests.sites import HTML, page, serve

FAST = ScanOptions(delay=0.0, allow_private=True, max_pages=5, max_depth=0)


def _site(paths: list[str]) -> dict:
    routes = {"/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")}
    for p in paths:
        routes[p] = (200, HTML, page("pc-01.html"))
    return routes


def _rows_by_line(result, listing: Path) -> dict[int, list[dict]]:  # noqa: ANN001
    rows: dict[int, list[dict]] = {}
    for row in result.pages.to_dict("records"):
        key = str(row["item_key"])
        if key.startswith(f"{listing}:"):
            rows.setdefault(int(key.rsplit(":", 1)[1]), []).append(row)
    return rows


def _url_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("refused", [
    "http://user:secret@{host}/login",
    "http://{host}/" + "a" * 2100,
    "http://[::1/",
    "http://ex\uff03ample.com/",
    "http://" + "x" * 64 + ".example/",
    "ftp://{host}/file",
], ids=["userinfo", "over-2048-chars", "ipv6-unclosed", "nfkc-breaks-host", "idna-label-too-long", "ftp"])
def test_a_refused_first_line_never_costs_the_other_lines(tmp_path: Path, refused: str) -> None:
    with serve(_site(["/a", "/b", "/c"])) as (base, log):
        host = base.split("//")[1]
        listing = tmp_path / "clinics.txt"
        text = f"# clinics\n{refused.format(host=host)}\n{base}/a\n\n{base}/b\n{base}/c\n{base}/a\n"
        listing.write_text(text)
        result = Scanner(options=FAST, warc_dir=tmp_path / "warcs").run([listing])
    rows = _rows_by_line(result, listing)
    assert sorted(rows) == _url_lines(text), "every URL line has its row"
    assert all(len(r) == 1 for r in rows.values()), "and exactly one"
    assert rows[2][0]["status"] == "failed" and f"{listing}:2" in rows[2][0]["error"]
    assert [rows[n][0]["status"] for n in (3, 5, 6)] == ["analysed"] * 3, "the site's valid URLs are fetched"
    assert rows[7][0]["status"] == "skipped" and "line 3" in rows[7][0]["error"], "a duplicate line says so"
    assert sorted(p for p in log.paths() if p not in ("/robots.txt", "/sitemap.xml")) == ["/a", "/b", "/c"]


def test_listed_urls_are_seeds_not_a_trap(tmp_path: Path) -> None:
    """25 URLs of one shape on one host: all fetched, though the trap rule allows 10 and the cap is 5."""
    paths = [f"/treatment?id={n}" for n in range(25)]
    with serve(_site([p.split("?")[0] for p in paths])) as (base, log):
        listing = tmp_path / "one-host.txt"
        listing.write_text("".join(f"{base}{p}\n" for p in paths))
        result = Scanner(options=FAST, warc_dir=tmp_path / "warcs").run([listing])
    rows = _rows_by_line(result, listing)
    assert sorted(rows) == list(range(1, 26)) and all(len(r) == 1 for r in rows.values())
    assert {r[0]["status"] for r in rows.values()} == {"analysed"}, [r[0]["error"] for r in rows.values()]
    assert len([p for p in log.paths() if p.startswith("/treatment")]) == 25
    assert result.summary["failed"] == 0


def test_a_refused_host_fails_its_own_lines_only(tmp_path: Path) -> None:
    """Without --allow-private a loopback host is refused: each of its lines gets a failed row, once."""
    with serve(_site(["/a", "/b"])) as (base, log):
        listing = tmp_path / "private.txt"
        listing.write_text(f"{base}/a\n{base}/b\n")
        opts = ScanOptions(delay=0.0, allow_private=False, max_pages=5, max_depth=0)
        result = Scanner(options=opts, warc_dir=tmp_path / "warcs").run([listing])
    rows = _rows_by_line(result, listing)
    assert sorted(rows) == [1, 2] and all(len(r) == 1 and r[0]["status"] == "failed" for r in rows.values())
    assert "non-public" in rows[1][0]["error"] and "not crawled" in rows[2][0]["error"]
    assert log.hits == [], "nothing was requested"


def test_read_url_list_decides_every_line(tmp_path: Path) -> None:
    listing = tmp_path / "l.txt"
    listing.write_text("http://a.example/\nnot a url\nhttp://a.example/#frag\nhttp://u@b.example/\n"
                       "http://[::1/\nhttps://b.example/x?utm_source=y\n")
    sites, decided = read_url_list(listing)
    seeds = {s.key: s.url for group in sites.values() for s in group}
    assert sorted([*seeds, *(r.item_key for r in decided)]) == [f"{listing}:{n}" for n in range(1, 7)]
    assert {r.item_key: r.status for r in decided} == {
        f"{listing}:2": "failed", f"{listing}:3": "skipped", f"{listing}:4": "failed", f"{listing}:5": "failed"}
