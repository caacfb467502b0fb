"""A page's past from a web archive: captures (source.archive) -> the ordinary check -> claims over time
(scoring.history). The one path the command line uses; it renders nothing and writes nothing."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from detector.check import Detector
from detector.errors import ArchiveError, FetchError, InputError, StemcheckError
from detector.records import History, PageResult, Snapshot
from detector.scoring.history import assemble
from detector.source.archive import ArchiveSource, select_captures
from detector.source.fetch import refuse_form
from detector.source.url import site_key

log = logging.getLogger(__name__)


def _years(since: int | None, until: int | None) -> str:
    if since is None and until is None:
        return ""
    return f" from {since or 'the start'} to {until or 'now'}"


def read_history(detector: Detector, archive: ArchiveSource, url: str, since: int | None = None,
                 until: int | None = None, every: str = "capture", max_snapshots: int | None = None,
                 progress: Callable[[int, int, Snapshot], None] | None = None) -> History:
    """Read the chosen captures one by one and check each; a capture that cannot be read or checked is kept
    with its reason and the history goes on. ArchiveError when the index holds nothing to read."""
    if since is not None and until is not None and since > until:
        raise InputError(f"--since {since} is after --until {until}")
    refuse_form(url, detector.settings.fetch)
    captures, junk = archive.captures(url, since, until)
    sel = select_captures(captures, every, max_snapshots, since, until, rows=len(captures) + junk)
    if not sel.captures:
        why = "; ".join(f"{n} {reason}" for reason, n in sel.skipped.items())
        raise ArchiveError(f"{url}: {archive.name} at {archive.base} holds no HTML capture with status 200"
                           f"{_years(since, until)} ({sel.rows} rows in its index{'; ' + why if why else ''})")
    snapshots = []
    for n, c in enumerate(sel.captures, 1):
        snap = Snapshot(c.timestamp, c.url, archive.replay_url(c), "", c.digest, sel.seen[c.digest or c.timestamp])
        try:
            resp = archive.fetch(c)
            snap.raw_url = resp.url
            snap.served_url = resp.redirects[-1] if resp.redirects else ""
            snap.content_sha256 = hashlib.sha256(resp.body).hexdigest()
            snap.verdict = detector.check_bytes(resp.body, snap.archive_url, resp.content_type, resp.charset)
        except FetchError as exc:
            snap.error, snap.reason = str(exc), exc.reason
        except InputError as exc:  # the bytes came but hold no readable page
            snap.error, snap.reason = str(exc), "unreadable"
        except StemcheckError:
            raise  # the model or settings: every capture would fail the same way
        except Exception as exc:  # noqa: BLE001 - one bad capture never stops a history
            log.debug("unexpected failure on %s", snap.archive_url, exc_info=True)
            snap.error, snap.reason = f"{snap.archive_url}: internal error ({exc!r})", "internal"
        if snap.error:
            log.info("capture %s not read: %s", c.timestamp, snap.error)
        snapshots.append(snap)
        if progress is not None:
            progress(n, len(sel.captures), snap)
    index = {"rows": sel.rows, "unreadable_rows": junk, "skipped": sel.skipped, "chosen": len(sel.captures),
             "read": sum(1 for s in snapshots if s.verdict is not None),
             "failed": sum(1 for s in snapshots if s.verdict is None), "requests": getattr(archive, "requests", None),
             "since": since, "until": until, "every": every, "max_snapshots": max_snapshots}
    return assemble(url, f"{archive.name} ({archive.base})", snapshots, index, detector.bundle.sha256)


def capture_iso(timestamp: str) -> str:
    """A 14-digit CDX timestamp as the store's UTC ISO time (2018-03-01T12:00:00+00:00)."""
    t = timestamp
    return f"{t[:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}+00:00"


def capture_rows(history: History) -> list[tuple[PageResult, str]]:
    """Each snapshot as a store row with its capture time, for ResultStore.record_capture."""
    out = []
    model = history.model_sha256
    for s in history.snapshots:
        try:
            site = site_key(s.url)
        except InputError:
            site = s.url
        base = dict(item_key=s.archive_url, seq=1, url=s.url, site=site, source=s.archive_url, model_sha256=model,
                    fetched_at=capture_iso(s.timestamp), content_sha256=s.content_sha256)
        if s.verdict is None:
            row = PageResult(status="failed", error=s.error, **base)
        else:
            row = PageResult.from_verdict(s.verdict, **base)
        out.append((row, capture_iso(s.timestamp)))
    return out
