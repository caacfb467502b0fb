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
from detector.guard import is_regular, open_regular, portable, read_regular
from detector.records import PageResult, WarcEvent
from detector.settings import Settings
from detector.source.fetch import refuse_form
from detector.source.url import canonicalize, site_key
from detector.source.warc import WARC_SUFFIXES, WarcPage, is_warc_name, iter_records, record_location

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
URL_LIST_SUFFIXES = (".txt", ".urls")


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
    record_id: str = ""  # the WARC record it came from, when it came from one


@dataclass
class Seed:
    """A URL the user listed: crawled first, never a trap, and given exactly one row, keyed by its line."""

    key: str  # list.txt:N, or the URL as given on the command line
    url: str  # canonical
    seq: int


@dataclass
class Expansion:
    """What one input yields: pages and decided rows in order, and URL-list sites to crawl."""

    items: Iterator[WorkItem | PageResult] = field(default_factory=lambda: iter(()))
    sites: list[tuple[str, list[Seed]]] = field(default_factory=list)


def failed_row(name: str, seq: int, error: str, site: str = "") -> PageResult:
    return PageResult(item_key=name, seq=seq, url=name, site=site, source=name, status="failed", error=error,
                      model_sha256="")


def warc_items(path: Path, first_seq: int = 0, site_override: str | None = None,
               seeds: dict[str, Seed] | None = None, listed: set[str] | None = None,
               ) -> Iterator[WorkItem | PageResult]:
    """Pages of a WARC as work items; skipped and damaged records as rows with their reason.

    `seeds` maps a record ID to the listed URL whose outcome it is: that record's row is keyed by the list's
    line. Other records of a `listed` URL (redirect hops, 429 retries) give no row, so each line has one.
    """
    seq = first_seq
    seeds = seeds or {}
    seed_urls = listed or set()
    try:
        records = iter_records(path, pages_only=True)
        for rec in records:
            seq += 1
            if isinstance(rec, tuple):
                continue
            seed = seeds.get(rec.record_id) if rec.record_id else None
            if seed is None and rec.url in seed_urls:
                continue
            key = f"{path}@{record_location(rec)}" if rec.offset is not None else f"{path}@{rec.reason}"
            order = seq
            if seed is not None:
                key, order = seed.key, seed.seq
            if isinstance(rec, WarcEvent):
                # a link to a page that does not exist (4xx) is not a failure of the scan; timeouts,
                # oversized bodies and damaged records are
                status = "skipped" if rec.kind == "skipped" or rec.reason.startswith("http_4") else "failed"
                yield PageResult(item_key=key, seq=order, url=rec.url or str(path),
                                 site=_site(rec.url, site_override), source=str(path), status=status,
                                 error=f"{rec.reason}: {rec.message}", model_sha256="")
                continue
            assert isinstance(rec, WarcPage)
            yield WorkItem(key, order, rec.url, _site(rec.url, site_override), str(path), rec.body,
                           rec.date, rec.content_type or "text/html", rec.charset, rec.record_id)
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
    """One saved HTML file as a work item, or a failed row saying why it cannot be read.

    Only regular files are read: a FIFO, socket or device named `x.html` is a failed row, never a hang.
    """
    try:
        body = read_regular(path, max_bytes)
    except InputError as exc:
        return PageResult(item_key=str(path), seq=seq, url=str(path), site=site, source=source, status="failed",
                          error=str(exc), model_sha256="")
    return WorkItem(str(path), seq, path.as_posix(), site, source, body)


def html_dir_items(root: Path, first_seq: int, max_bytes: int) -> Iterator[WorkItem | PageResult]:
    """Every .html/.htm entry below root that is not a directory, in path order (FIFOs, sockets and devices
    become failed rows); the site is the first folder level (or the file)."""
    try:
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in HTML_SUFFIXES and not p.is_dir())
    except OSError as exc:
        yield PageResult(item_key=str(root), seq=first_seq + 1, url=str(root), site="", source=str(root),
                         status="failed", error=f"{portable(str(root))}: cannot list ({exc.strerror})",
                         model_sha256="")
        return
    if not files:
        yield PageResult(item_key=str(root), seq=first_seq + 1, url=str(root), site="", source=str(root),
                         status="failed", error=f"{root}: no .html or .htm files in this directory", model_sha256="")
        return
    for n, path in enumerate(files, first_seq + 1):
        rel = path.relative_to(root)
        yield html_file_item(path, n, rel.parts[0] if len(rel.parts) > 1 else path.stem, str(root), max_bytes)


def read_url_list(path: Path, settings: Settings | None = None, first_seq: int = 0,
                  ) -> tuple[dict[str, list[Seed]], list[PageResult]]:
    """URLs grouped by site (in file order), and a row for every line that will not be crawled.

    Every URL line ends as exactly one row: junk, refused (user name, too long) and duplicate lines get
    theirs here, naming file:line; each good line is a Seed whose row the crawl gives.
    """
    settings = settings or Settings()
    sites: dict[str, list[Seed]] = {}
    decided: list[PageResult] = []
    first: dict[str, str] = {}

    def row(n: int, text: str, status: str, error: str) -> PageResult:
        return PageResult(item_key=f"{path}:{n}", seq=first_seq + n, url=text[:200], site="", source=str(path),
                          status=status, error=f"{path}:{n}: {error[:300]}", model_sha256="")

    try:
        with open_regular(path) as fh:  # a regular file, so it ends: read it all, every line gets its row
            lines = fh.read().decode("utf-8", errors="replace")
    except (InputError, OSError) as exc:
        return {}, [PageResult(item_key=str(path), seq=first_seq, url=str(path), site="", source=str(path),
                               status="failed", error=str(exc) if isinstance(exc, InputError) else
                               f"{path}: cannot read ({exc.strerror})", model_sha256="")]
    for n, line in enumerate(lines.splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            url = canonicalize(text)
            refuse_form(url, settings.fetch)
            site = site_key(url)
        except InputError as exc:
            decided.append(row(n, text, "failed", str(exc)))
            continue
        if url in first:
            decided.append(row(n, text, "skipped", f"the same URL as {first[url]}; crawled once"))
            continue
        first[url] = f"line {n}"
        sites.setdefault(site, []).append(Seed(f"{path}:{n}", url, first_seq + n))
    return sites, decided


class UrlInput:
    """One http(s) URL on the command line: its site is crawled like a one-line URL list."""

    def matches(self, name: str, path: Path) -> bool:
        return name.startswith(("http://", "https://"))

    def expand(self, name: str, path: Path, seq: int, settings: Settings) -> Expansion:
        try:
            url = canonicalize(name)
            refuse_form(url, settings.fetch)
            return Expansion(sites=[(site_key(url), [Seed(name, url, seq + 1)])])
        except InputError as exc:
            return Expansion(items=iter([failed_row(name, seq, str(exc))]))


class DirectoryInput:
    def matches(self, name: str, path: Path) -> bool:
        return path.is_dir()

    def expand(self, name: str, path: Path, seq: int, settings: Settings) -> Expansion:
        return Expansion(items=html_dir_items(path, seq, settings.extract.max_html_bytes))


class WarcInput:
    def matches(self, name: str, path: Path) -> bool:
        return is_warc_name(name)

    def expand(self, name: str, path: Path, seq: int, settings: Settings) -> Expansion:
        return Expansion(items=warc_items(path, seq))


class UrlListInput:
    def matches(self, name: str, path: Path) -> bool:
        return name.lower().endswith(URL_LIST_SUFFIXES)

    def expand(self, name: str, path: Path, seq: int, settings: Settings) -> Expansion:
        groups, decided = read_url_list(path, settings, seq)
        return Expansion(items=iter(decided), sites=list(groups.items()))


class HtmlFileInput:
    def matches(self, name: str, path: Path) -> bool:
        return name.lower().endswith(HTML_SUFFIXES)

    def expand(self, name: str, path: Path, seq: int, settings: Settings) -> Expansion:
        return Expansion(items=iter([html_file_item(path, seq + 1, path.stem, str(path),
                                                    settings.extract.max_html_bytes)]))


INPUT_KINDS = (UrlInput(), DirectoryInput(), WarcInput(), UrlListInput(), HtmlFileInput())


def expand(name: str, seq: int, settings: Settings) -> Expansion:
    """The first kind that takes this input; a missing or unsupported input is one failed row.

    Only directories and regular files are read: a FIFO or device given by name is a failed row too.
    """
    path = Path(name)
    url = INPUT_KINDS[0]
    if url.matches(name, path):
        return url.expand(name, path, seq, settings)
    if not path.exists():
        return Expansion(items=iter([failed_row(name, seq, f"{name}: no such file or directory")]))
    if not path.is_dir() and not is_regular(path):
        try:
            open_regular(path).close()
        except InputError as exc:
            return Expansion(items=iter([failed_row(name, seq, str(exc))]))
    for kind in INPUT_KINDS[1:]:
        if kind.matches(name, path):
            return kind.expand(name, path, seq, settings)
    suffixes = ", ".join(WARC_SUFFIXES)
    return Expansion(items=iter([failed_row(
        name, seq, f"{name}: not a WARC ({suffixes}), a directory of HTML files, an .html file or a URL list "
                   f"(.txt, .urls)")]))
