"""The kinds of scan input, as a small registry: each says which names it takes and yields work items.

A kind turns one input (a WARC, a directory of HTML files, one HTML file, a URL list, a URL) into pages to
analyse (WorkItem), rows already decided (a failed or skipped PageResult naming file@offset or file:line),
and sites to crawl politely (URL lists). Adding a kind means adding one class to INPUT_KINDS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from detector.errors import InputError
from detector.records import PageResult, WarcEvent
from detector.source.url import canonicalize, site_key
from detector.source.warc import WarcPage, iter_records

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
URL_LIST_SUFFIXES = (".txt", ".urls")
WARC_SUFFIXES = (".warc", ".warc.gz")


@dataclass
class WorkItem:
    """One page to analyse, with where it came from."""

    item_key: str
    seq: int
    url: str
    site: str
    source: str
    body: bytes
    fetched_at: str = ""
    content_type: str = "text/html"
    charset: str | None = None




@dataclass
class Expansion:
    """What one input yields: pages and decided rows in order, and URL-list sites to crawl."""

    items: Iterator[WorkItem | PageResult] = field(default_factory=lambda: iter(()))
    sites: list[tuple[str, list[str]]] = field(default_factory=list)


def failed_row(name: str, seq: int, error: str, site: str = "") -> PageResult:
    return PageResult(item_key=name, seq=seq, url=name, site=site, source=name, status="failed", error=error,
                      model_sha256="")


def warc_items(path: Path, first_seq: int = 0, site_override: str | None = None) -> Iterator[WorkItem | PageResult]:
    """Pages of a WARC as work items; skipped and damaged records as rows with their reason."""
    seq = first_seq
    try:
        records = iter_records(path, pages_only=True)
        for rec in records:
            seq += 1
            if isinstance(rec, tuple):
                continue
            if isinstance(rec, WarcEvent):
                # a link to a page that does not exist (4xx) is not a failure of the scan; timeouts,
                # oversized bodies and damaged records are
                status = "skipped" if rec.kind == "skipped" or rec.reason.startswith("http_4") else "failed"
                key = f"{path}@{rec.offset}" if rec.offset is not None else f"{path}@{rec.reason}"
                yield PageResult(item_key=key, seq=seq, url=rec.url or str(path), site=_site(rec.url, site_override),
                                 source=str(path), status=status, error=f"{rec.reason}: {rec.message}",
                                 model_sha256="")
                continue
            assert isinstance(rec, WarcPage)
            yield WorkItem(f"{path}@{rec.offset}", seq, rec.url, _site(rec.url, site_override), str(path), rec.body,
                           rec.date, rec.content_type or "text/html", rec.charset)
    except InputError as exc:
        yield PageResult(item_key=str(path), seq=seq + 1, url=str(path), site="", source=str(path),
                         status="failed", error=str(exc), model_sha256="")


def _site(url: str, override: str | None = None) -> str:
    if override:
        return override
    try:
        return site_key(url)
    except (InputError, ValueError):
        return ""


def html_file_item(path: Path, seq: int, site: str, source: str, max_bytes: int) -> WorkItem | PageResult:
    """One saved HTML file as a work item, or a failed row saying why it cannot be read."""
    def failed(error: str) -> PageResult:
        return PageResult(item_key=str(path), seq=seq, url=str(path), site=site, source=source, status="failed",
                          error=error, model_sha256="")

    try:
        if path.stat().st_size > max_bytes:
            return failed(f"{path}: larger than the {max_bytes:,}-byte limit")
        body = path.read_bytes()
    except OSError as exc:
        return failed(f"{path}: cannot read ({exc.strerror})")
    return WorkItem(str(path), seq, path.as_posix(), site, source, body)


def html_dir_items(root: Path, first_seq: int, max_bytes: int) -> Iterator[WorkItem | PageResult]:
    """Every .html/.htm file below root, in path order; the site is the first folder level (or the file)."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in HTML_SUFFIXES)
    if not files:
        yield PageResult(item_key=str(root), seq=first_seq + 1, url=str(root), site="", source=str(root),
                         status="failed", error=f"{root}: no .html or .htm files in this directory", model_sha256="")
        return
    for n, path in enumerate(files, first_seq + 1):
        rel = path.relative_to(root)
        yield html_file_item(path, n, rel.parts[0] if len(rel.parts) > 1 else path.stem, str(root), max_bytes)


def read_url_list(path: Path) -> tuple[dict[str, list[str]], list[PageResult]]:
    """URLs grouped by site (in file order), and a failed row per junk line naming its line number."""
    sites: dict[str, list[str]] = {}
    bad: list[PageResult] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return {}, [PageResult(item_key=str(path), seq=0, url=str(path), site="", source=str(path),
                               status="failed", error=f"{path}: cannot read ({exc.strerror})", model_sha256="")]
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            url = canonicalize(text)
            site = site_key(url)
        except InputError as exc:
            bad.append(PageResult(item_key=f"{path}:{n}", seq=n, url=text[:200], site="", source=str(path),
                                  status="failed", error=f"{path}:{n}: {str(exc)[:200]}", model_sha256=""))
            continue
        urls = sites.setdefault(site, [])
        if url not in urls:
            urls.append(url)
    return sites, bad




class UrlInput:
    """One http(s) URL on the command line: its site is crawled like a one-line URL list."""

    def matches(self, name: str, path: Path) -> bool:
        return name.startswith(("http://", "https://"))

    def expand(self, name: str, path: Path, seq: int, max_bytes: int) -> Expansion:
        try:
            url = canonicalize(name)
            return Expansion(sites=[(site_key(url), [url])])
        except InputError as exc:
            return Expansion(items=iter([failed_row(name, seq, str(exc))]))


class DirectoryInput:
    def matches(self, name: str, path: Path) -> bool:
        return path.is_dir()

    def expand(self, name: str, path: Path, seq: int, max_bytes: int) -> Expansion:
        return Expansion(items=html_dir_items(path, seq, max_bytes))


class WarcInput:
    def matches(self, name: str, path: Path) -> bool:
        return name.lower().endswith(WARC_SUFFIXES)

    def expand(self, name: str, path: Path, seq: int, max_bytes: int) -> Expansion:
        return Expansion(items=warc_items(path, seq))


class UrlListInput:
    def matches(self, name: str, path: Path) -> bool:
        return name.lower().endswith(URL_LIST_SUFFIXES)

    def expand(self, name: str, path: Path, seq: int, max_bytes: int) -> Expansion:
        groups, bad = read_url_list(path)
        for r in bad:
            r.seq += seq
        return Expansion(items=iter(bad), sites=list(groups.items()))


class HtmlFileInput:
    def matches(self, name: str, path: Path) -> bool:
        return name.lower().endswith(HTML_SUFFIXES)

    def expand(self, name: str, path: Path, seq: int, max_bytes: int) -> Expansion:
        return Expansion(items=iter([html_file_item(path, seq + 1, path.stem, str(path), max_bytes)]))


INPUT_KINDS = (UrlInput(), DirectoryInput(), WarcInput(), UrlListInput(), HtmlFileInput())


def expand(name: str, seq: int, max_bytes: int) -> Expansion:
    """The first kind that takes this input; a missing or unsupported input is one failed row."""
    path = Path(name)
    url = INPUT_KINDS[0]
    if url.matches(name, path):
        return url.expand(name, path, seq, max_bytes)
    if not path.exists():
        return Expansion(items=iter([failed_row(name, seq, f"{name}: no such file or directory")]))
    for kind in INPUT_KINDS[1:]:
        if kind.matches(name, path):
            return kind.expand(name, path, seq, max_bytes)
    return Expansion(items=iter([failed_row(
        name, seq, f"{name}: not a WARC (.warc, .warc.gz), a directory of HTML files, an .html file or a URL list "
                   f"(.txt, .urls)")]))
