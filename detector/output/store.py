"""The results store: plain SQLite (WAL, one writer), scan runs with history, resumable, diffable.

Tables (documented in docs/STORE.md): runs, pages, claims, flags, sites. A page row is keyed by its
run and input item (file@offset, file path or URL) and carries the SHA-256 of its content and of the
model, so an unchanged page under the same model is copied from an earlier run instead of re-analysed,
and an interrupted run restarted with the same arguments skips every item it already wrote.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import sqlite3
import stat
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from detector.categories import DISCLOSURE, RED_FLAGS
from detector.errors import InputError, OutputError
from detector.guard import write_error
from detector.records import PageResult, SiteReport
from detector.scoring.label import LOW_LABEL, RED_FLAG_LABEL, REVIEW_LABEL, REVIEW_SCORE
from detector.scoring.page import normalise
from detector.scoring.site import PageSummary, score_site

T = TypeVar("T")

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY,
    run_key TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    model_sha256 TEXT NOT NULL,
    inputs TEXT NOT NULL,
    options TEXT NOT NULL,
    summary TEXT,
    captured TEXT
);
CREATE TABLE IF NOT EXISTS pages (
    page_id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    item_key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    url TEXT NOT NULL,
    site TEXT NOT NULL,
    source TEXT NOT NULL,
    fetched_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('analysed', 'irrelevant', 'failed', 'skipped')),
    content_sha256 TEXT,
    model_sha256 TEXT NOT NULL,
    risk_score INTEGER,
    red_flag INTEGER,
    title TEXT,
    top_evidence TEXT,
    error TEXT,
    categories TEXT,
    condition_groups TEXT,
    products TEXT,
    disclosure INTEGER,
    reused_from INTEGER,
    label TEXT,
    UNIQUE (run_id, item_key)
);
CREATE INDEX IF NOT EXISTS pages_by_content ON pages (url, content_sha256, model_sha256);
CREATE INDEX IF NOT EXISTS pages_by_site ON pages (run_id, site);
CREATE TABLE IF NOT EXISTS claims (
    claim_id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(page_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    negated INTEGER NOT NULL,
    hedged INTEGER NOT NULL,
    reported INTEGER NOT NULL,
    evidence TEXT
);
CREATE INDEX IF NOT EXISTS claims_by_page ON claims (page_id);
CREATE TABLE IF NOT EXISTS flags (
    claim_id INTEGER NOT NULL REFERENCES claims(claim_id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    probability REAL NOT NULL,
    made INTEGER NOT NULL,
    PRIMARY KEY (claim_id, category)
);
CREATE TABLE IF NOT EXISTS sites (
    run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    site TEXT NOT NULL,
    risk_score INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    analysed INTEGER NOT NULL,
    red_flag_pages INTEGER NOT NULL,
    worst_page TEXT,
    categories TEXT NOT NULL,
    condition_groups TEXT NOT NULL,
    products TEXT NOT NULL,
    disclosure INTEGER NOT NULL,
    label TEXT,
    PRIMARY KEY (run_id, site)
);
"""


# When what a run read was on the web: the archive's capture time, else the scan's start.
AS_OF = "COALESCE(r.captured, r.started)"

# Each site's verdict in its latest finished run, "latest" by when what it read was on the web (an archive
# capture sits at its capture time, never as the latest scan). Created with the store, or by the migration
# that added `runs.captured`, which it reads.
LATEST_VIEW = """
CREATE VIEW IF NOT EXISTS latest_site_verdicts AS
SELECT s.site, s.label AS verdict, s.risk_score, s.red_flag_pages, s.analysed, s.pages, s.worst_page, s.categories,
       s.condition_groups, s.products, s.disclosure, s.run_id, COALESCE(r.captured, r.started) AS scanned
FROM sites s JOIN runs r ON r.run_id = s.run_id
WHERE r.status = 'finished' AND s.run_id = (
    SELECT s2.run_id FROM sites s2 JOIN runs r2 ON r2.run_id = s2.run_id
    WHERE s2.site = s.site AND r2.status = 'finished'
    ORDER BY COALESCE(r2.captured, r2.started) DESC, s2.run_id DESC LIMIT 1);
"""
APPLICATION_ID = 0x5354434B  # "STCK" in the SQLite header: this file is a stemcheck results store
OUR_TABLES = frozenset({"meta", "runs", "pages", "claims", "flags", "sites"})


def _store_error(path: Path, exc: sqlite3.Error) -> OutputError:
    """A failed write to the store as one line; a full disk said plainly (guard.write_error)."""
    if "full" in str(exc):
        return write_error(exc, path)
    hint = "; is the disk full?" if "I/O" in str(exc) else ""
    return OutputError(f"{path}: cannot write the results database ({exc}{hint})")


def _writes(method: Callable[..., T]) -> Callable[..., T]:
    """Store writes fail as OutputError naming the file (disk full, read-only, locked), never a traceback."""
    @functools.wraps(method)
    def wrapper(self: ResultStore, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from exc
    return wrapper


def refuse_foreign(path: Path) -> bool:
    """Refuse, untouched, a file that is not a stemcheck store; True when the store is new (or empty).

    Ours: the SQLite header's application_id says so, or (stores made before it was set) every stemcheck
    table is there with a schema version in `meta`. Read through a read-only connection, so nothing is
    written to a file until it is known to be ours.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return True
    except OSError as exc:
        raise InputError(f"{path}: cannot open the results database ({exc.strerror})") from exc
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file, so not a stemcheck results database")
    if info.st_size == 0:
        return True
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise InputError(f"{path}: cannot open the results database ({exc.strerror})") from exc
    if header[:16] != b"SQLite format 3\x00":
        raise InputError(f"{path}: not a SQLite database, so not a stemcheck results database; refusing to touch it")
    if int.from_bytes(header[68:72], "big") == APPLICATION_ID:
        return False
    # A WAL-mode file with no WAL beside it is read as immutable: a read-only connection would create
    # -wal and -shm files next to someone else's database.
    quiet = header[18:19] == b"\x02" and not Path(f"{path}-wal").exists()
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro{'&immutable=1' if quiet else ''}", uri=True,
                              timeout=30)
    except sqlite3.Error as exc:
        raise InputError(f"{path}: cannot open the results database ({exc})") from exc
    try:
        con.execute("PRAGMA query_only=ON")
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = None
        if "meta" in tables:
            with contextlib.suppress(sqlite3.Error):
                version = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.Error as exc:
        raise InputError(f"{path}: not a readable SQLite database ({exc}); refusing to touch it") from exc
    finally:
        con.close()
    if app_id == APPLICATION_ID:
        return False
    if app_id != 0:
        raise InputError(f"{path}: a SQLite file of another application (application_id {app_id:#x}); "
                         "refusing to touch it")
    if not tables:
        return True
    if tables >= OUR_TABLES and version is not None:
        return True  # a store from before the application_id: mark it now
    foreign = sorted(tables - OUR_TABLES) or sorted(tables)
    raise InputError(f"{path}: not a stemcheck results database (it has tables {', '.join(foreign[:5])}); "
                     "refusing to touch it: give a new file name")


def _created(schema: str, fresh: bool) -> str:
    """The schema in one transaction, stamped with stemcheck's application_id when the store is new: two
    scans creating one store at once never see half a table set (which would look foreign)."""
    if not fresh:
        return schema  # ours already: no write lock just to open it (the web app reads beside a scan)
    return (f"BEGIN IMMEDIATE;\n{schema}\n{LATEST_VIEW}\nPRAGMA application_id={APPLICATION_ID};\n"
            f"PRAGMA user_version={SCHEMA_VERSION};\n"
            f"INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');\nCOMMIT;")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ResultStore:
    """One connection, one writer. Every write is a short transaction, so a kill loses at most one batch."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        fresh = refuse_foreign(self.path)  # before any write: someone else's file stays untouched
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise InputError(f"{path}: cannot open the results database ({exc})") from exc
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(_created(SCHEMA, fresh))
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):  # ours, but it cannot be written (disk, lock, rights)
                raise _store_error(self.path, exc) from exc
            raise InputError(f"{path}: not a stemcheck results database ({exc})") from exc
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row["value"]) < SCHEMA_VERSION:
            self._migrate(int(row["value"]))
        elif int(row["value"]) != SCHEMA_VERSION:
            raise InputError(f"{path}: schema version {row['value']}, this stemcheck reads {SCHEMA_VERSION}")

    def _migrate(self, version: int) -> None:
        """Bring an older store up to date in one transaction; old rows keep their figures.

        1 -> 2: claims keep their evidence (JSON); pages and sites keep their verdict label (old rows get the
        label their score and verdict give under the default review line).
        2 -> 3: runs keep the time a web archive captured what they read (`captured`, empty for live scans),
        and the view of each site's latest verdict orders runs by it.
        """
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if version < 2:
                for table, column in (("claims", "evidence"), ("pages", "label"), ("sites", "label")):
                    cols = {r["name"] for r in self.db.execute(f"PRAGMA table_info({table})")}
                    if column not in cols:
                        self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
                for table, red in (("pages", "red_flag"), ("sites", "red_flag_pages")):
                    self.db.execute(
                        f"UPDATE {table} SET label = CASE WHEN {red} > 0 THEN ? WHEN risk_score >= ? THEN ? "
                        f"ELSE ? END WHERE label IS NULL AND risk_score IS NOT NULL",
                        (RED_FLAG_LABEL, REVIEW_SCORE, REVIEW_LABEL, LOW_LABEL))
            if version < 3 and "captured" not in {r["name"] for r in self.db.execute("PRAGMA table_info(runs)")}:
                self.db.execute("ALTER TABLE runs ADD COLUMN captured TEXT")
            self.db.execute("DROP VIEW IF EXISTS latest_site_verdicts")
            self.db.execute(LATEST_VIEW)
            self.db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        log.info("%s: results store migrated from schema %d to %d", self.path, version, SCHEMA_VERSION)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------------------
    @_writes
    def open_run(self, run_key: str, model_sha256: str, inputs: list[str], options: dict) -> tuple[int, bool]:
        """The unfinished run with this key (resumed) or a new one; returns (run_id, resumed)."""
        row = self.db.execute(
            "SELECT run_id FROM runs WHERE run_key=? AND status='running' ORDER BY run_id DESC LIMIT 1", (run_key,)
        ).fetchone()
        if row is not None:
            return int(row["run_id"]), True
        cur = self.db.execute(
            "INSERT INTO runs (run_key, started, status, model_sha256, inputs, options) VALUES (?,?,?,?,?,?)",
            (run_key, _now(), "running", model_sha256, json.dumps(inputs), json.dumps(options, sort_keys=True)),
        )
        return int(cur.lastrowid), False

    @_writes
    def finish_run(self, run_id: int, summary: dict, status: str = "finished") -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self._write_sites(run_id)
            self.db.execute("UPDATE runs SET finished=?, status=?, summary=? WHERE run_id=?",
                            (_now(), status, json.dumps(summary, sort_keys=True), run_id))

    def done_keys(self, run_id: int) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT item_key FROM pages WHERE run_id=?", (run_id,))}

    def runs(self) -> list[dict]:
        """Every run in id order, with `as_of`: when what it read was on the web (capture time, else start)."""
        return [dict(r) for r in self.db.execute(f"SELECT r.*, {AS_OF} AS as_of FROM runs r ORDER BY run_id")]

    def resolve_run(self, ref: str) -> int:
        """A run id, 'latest', 'previous', or a date (YYYY-MM-DD: the last finished run as of that day or before).

        Runs are ordered by when what they read was on the web (`as_of`), so a history of archived captures
        never becomes 'latest' over a live scan made after them."""
        ref = ref.strip()
        finished = sorted((r for r in self.runs() if r["status"] == "finished"),
                          key=lambda r: (r["as_of"], r["run_id"]))
        if ref.isascii() and ref.isdigit():  # "²".isdigit() is True, int("²") is not
            if not any(r["run_id"] == int(ref) for r in self.runs()):
                raise InputError(f"run {ref}: no such run in {self.path}")
            return int(ref)
        if ref in ("latest", "previous"):
            need = 1 if ref == "latest" else 2
            if len(finished) < need:
                raise InputError(f"{ref}: {self.path} has {len(finished)} finished runs")
            return int(finished[-need]["run_id"])
        try:
            day = datetime.fromisoformat(ref).date().isoformat()
        except ValueError as exc:
            raise InputError(f"{ref!r}: expected a run id, 'latest', 'previous' or a date YYYY-MM-DD") from exc
        before = [r for r in finished if r["as_of"][:10] <= day]
        if not before:
            raise InputError(f"{ref}: no finished run as of that date or before")
        return int(before[-1]["run_id"])

    # -- pages --------------------------------------------------------------------------------------
    def reusable(self, url: str, content_sha256: str, model_sha256: str) -> int | None:
        """An earlier analysed page with identical content under the same model, if any."""
        row = self.db.execute(
            "SELECT page_id FROM pages WHERE url=? AND content_sha256=? AND model_sha256=? AND status='analysed' "
            "AND reused_from IS NULL ORDER BY page_id DESC LIMIT 1", (url, content_sha256, model_sha256)
        ).fetchone()
        return int(row["page_id"]) if row else None

    def page_run(self, page_id: int) -> int | None:
        """The run a stored page belongs to: a reuse from the same run is a repeat, not an earlier result."""
        row = self.db.execute("SELECT run_id FROM pages WHERE page_id=?", (page_id,)).fetchone()
        return int(row["run_id"]) if row else None

    @_writes
    def add(self, run_id: int, results: Iterable[PageResult]) -> int:
        """Write a batch in one transaction; items already written for this run are ignored."""
        n = 0
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for r in results:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO pages (run_id, item_key, seq, url, site, source, fetched_at, status, "
                    "content_sha256, model_sha256, risk_score, red_flag, title, top_evidence, error, categories, "
                    "condition_groups, products, disclosure, reused_from, label) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (run_id, r.item_key, r.seq, r.url, r.site, r.source, r.fetched_at, r.status, r.content_sha256,
                     r.model_sha256, r.risk_score, None if r.red_flag is None else int(r.red_flag), r.title,
                     r.top_evidence, r.error, json.dumps(r.categories), json.dumps(r.condition_groups),
                     json.dumps(r.products), int(r.disclosure), r.reused_from, r.label or None),
                )
                if not cur.rowcount:
                    continue
                n += 1
                page_id = cur.lastrowid
                if r.reused_from is not None:
                    self._copy_claims(r.reused_from, page_id)
                    continue
                for pos, c in enumerate(r.claims):
                    cc = self.db.execute(
                        "INSERT INTO claims (page_id, position, text, negated, hedged, reported, evidence) "
                        "VALUES (?,?,?,?,?,?,?)",
                        (page_id, pos, c["text"], int(c.get("negated", False)), int(c.get("hedged", False)),
                         int(c.get("reported", False)), json.dumps(c.get("evidence", []), ensure_ascii=False)),
                    )
                    made = {cat: 1 for cat in c.get("categories", [])}
                    made.update({cat: 0 for cat in c.get("reported_categories", [])})
                    self.db.executemany(
                        "INSERT INTO flags (claim_id, category, probability, made) VALUES (?,?,?,?)",
                        [(cc.lastrowid, cat, float(c.get("scores", {}).get(cat, 0.0)), m) for cat, m in made.items()],
                    )
        return n

    def _copy_claims(self, src_page: int, dst_page: int) -> None:
        for claim in self.db.execute("SELECT * FROM claims WHERE page_id=? ORDER BY position", (src_page,)).fetchall():
            cur = self.db.execute(
                "INSERT INTO claims (page_id, position, text, negated, hedged, reported, evidence) "
                "VALUES (?,?,?,?,?,?,?)",
                (dst_page, claim["position"], claim["text"], claim["negated"], claim["hedged"], claim["reported"],
                 claim["evidence"]),
            )
            self.db.execute(
                "INSERT INTO flags (claim_id, category, probability, made) "
                "SELECT ?, category, probability, made FROM flags WHERE claim_id=?", (cur.lastrowid, claim["claim_id"]),
            )

    # -- sites --------------------------------------------------------------------------------------
    def _write_sites(self, run_id: int) -> None:
        """The run's site rows, from its page rows through the one site verdict (scoring.site.score_site).

        A site's pages are the pages read: analysed, gated out, or read but not analysable. A link that was never
        fetched (a crawl's skip or failure record) is not a page, and a row with no site (a junk URL-list line)
        is no site."""
        self.db.execute("DELETE FROM sites WHERE run_id=?", (run_id,))
        by_site: dict[str, list[PageSummary]] = {}
        made = self.run_claims(run_id)
        for p in self.db.execute(
            "SELECT site, url, status, risk_score, red_flag, condition_groups, products, disclosure "
            "FROM pages WHERE run_id=? AND site != '' AND (status IN ('analysed', 'irrelevant') OR "
            "(status = 'failed' AND COALESCE(content_sha256, '') != '')) ORDER BY site, seq", (run_id,)
        ).fetchall():
            by_site.setdefault(p["site"], []).append(PageSummary(
                p["url"], p["status"] == "analysed", p["risk_score"], bool(p["red_flag"]), set(),
                json.loads(p["condition_groups"] or "[]"), json.loads(p["products"] or "[]"), bool(p["disclosure"])))
        for site, pages in by_site.items():
            first = next((p for p in pages if p.analysed), None)  # claims count only on an analysed page
            if first is not None:
                first.claims = made.get(site, set())
            s = score_site(pages)
            self.db.execute(
                "INSERT INTO sites VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, site, s.risk_score, s.pages, s.analysed, s.red_flag_pages, s.worst_page,
                 json.dumps(s.categories), json.dumps(s.condition_groups), json.dumps(s.products),
                 int(s.disclosure), s.label),
            )

    def site_claims(self, run_id: int) -> dict[str, dict[tuple[str, str], list[dict]]]:
        """Per site, the red-flag and disclosure (claim text, category) pairs the site made itself in this run,
        each with the evidence recorded for it (so a diff can say why)."""
        out: dict[str, dict[tuple[str, str], list[dict]]] = {}
        for row in self.db.execute(
            "SELECT p.site, c.text, c.evidence, f.category FROM claims c JOIN pages p USING (page_id) "
            "JOIN flags f USING (claim_id) WHERE p.run_id=? AND f.made=1", (run_id,)
        ):
            if row["category"] in RED_FLAGS or row["category"] == DISCLOSURE:
                evidence = [e for e in json.loads(row["evidence"] or "[]")
                            if e.get("category") in (None, row["category"])]
                out.setdefault(row["site"], {}).setdefault((row["text"], row["category"]), evidence)
        return out

    def site_scores(self, run_id: int) -> dict[str, int]:
        return {r["site"]: r["risk_score"] for r in self.db.execute(
            "SELECT site, risk_score FROM sites WHERE run_id=?", (run_id,))}

    def site_rows(self, site: str | None = None, until: str = "") -> list[sqlite3.Row]:
        """Site rows of finished runs (with the run's start, capture and as-of times), oldest first by when what
        they read was on the web; one site or all, and only up to `until` (YYYY-MM-DD) when given."""
        return self.db.execute(
            f"SELECT s.*, r.started, r.captured, {AS_OF} AS as_of FROM sites s JOIN runs r ON r.run_id = s.run_id "
            f"WHERE r.status = 'finished' AND (? IS NULL OR s.site = ?) AND (? = '' OR substr({AS_OF}, 1, 10) <= ?) "
            f"ORDER BY {AS_OF}, s.run_id", (site, site, until, until)).fetchall()

    def made_flags(self, run_id: int, site: str, limit: int = 500) -> list[sqlite3.Row]:
        """The flags a site's pages made themselves in one run, riskiest page first, with their evidence."""
        return self.db.execute(
            "SELECT p.url, c.text, c.evidence, f.category, f.probability FROM flags f JOIN claims c USING (claim_id) "
            "JOIN pages p USING (page_id) WHERE p.run_id = ? AND p.site = ? AND f.made = 1 "
            "ORDER BY p.risk_score DESC, p.url, c.position LIMIT ?", (run_id, site, limit)).fetchall()

    def page_row(self, page_id: int) -> sqlite3.Row:
        return self.db.execute("SELECT * FROM pages WHERE page_id=?", (page_id,)).fetchone()

    def page_rows(self, run_id: int) -> list[sqlite3.Row]:
        """A run's page rows in input order."""
        return self.db.execute("SELECT * FROM pages WHERE run_id=? ORDER BY seq, item_key", (run_id,)).fetchall()

    def reused(self, page_id: int, **item: object) -> PageResult:
        """An earlier analysed page's row, for an input item whose content and model are unchanged."""
        row = self.page_row(page_id)
        return PageResult(
            status="analysed", model_sha256=row["model_sha256"], content_sha256=row["content_sha256"],
            risk_score=row["risk_score"], red_flag=bool(row["red_flag"]), label=row["label"] or "",
            title=row["title"] or "",
            top_evidence=row["top_evidence"] or "", categories=json.loads(row["categories"] or "{}"),
            condition_groups=json.loads(row["condition_groups"] or "[]"),
            products=json.loads(row["products"] or "[]"), disclosure=bool(row["disclosure"]), reused_from=page_id,
            **item,  # type: ignore[arg-type]
        )

    def failures(self, run_id: int) -> list[dict]:
        return [{"item": r, "error": e} for r, e in self.db.execute(
            "SELECT item_key, error FROM pages WHERE run_id=? AND status='failed' ORDER BY seq", (run_id,))]

    def run_claims(self, run_id: int) -> dict[str, set[tuple[str, str]]]:
        """Per site, the (normalised claim text, category) pairs its pages made in a run, disclosures included."""
        out: dict[str, set[tuple[str, str]]] = {}
        for row in self.db.execute(
            "SELECT p.site, c.text, f.category FROM claims c JOIN pages p USING (page_id) "
            "JOIN flags f USING (claim_id) WHERE p.run_id=? AND f.made=1", (run_id,)
        ):
            out.setdefault(row["site"], set()).add((normalise(row["text"]), row["category"]))
        return out

    def site_runs(self, site: str) -> list[int]:
        """The finished runs that cover a site, oldest first."""
        return [int(r["run_id"]) for r in self.site_rows(site=site)]

    @_writes
    def record_site_report(self, report: SiteReport, source: str) -> int:
        """Write a site report (a crawl checked in the web app or by `check --site`) as a finished run of its
        own, so triage and history see it beside batch scans. Returns the run id."""
        pages = []
        for n, page in enumerate(report.pages, 1):
            base = dict(item_key=f"{report.warc_path}@{page.record_id}", seq=n, url=page.url, site=report.site,
                        source=source, model_sha256=report.model_sha256, fetched_at=page.date)
            if page.verdict is None:
                pages.append(PageResult(status="failed", error=f"{page.url}: {page.error}", **base))
            else:
                pages.append(PageResult.from_verdict(page.verdict, **base))
        run_key = hashlib.sha256(f"site:{report.warc_sha256}:{report.model_sha256}".encode()).hexdigest()
        run_id, _ = self.open_run(run_key, report.model_sha256, [source],
                                  {"kind": "site crawl", "warc": report.warc_path, "warc_sha256": report.warc_sha256})
        self.add(run_id, pages)
        self.finish_run(run_id, {"analysed": len(report.analysed), "failed": len(pages) - len(report.analysed),
                                 "red_flag": report.red_flag_pages, "kind": "site crawl"})
        return run_id

    @_writes
    def record_capture(self, page: PageResult, captured: str, options: dict) -> int:
        """A page read from a web archive as a run of its own, dated `captured` (UTC ISO) beside its recording
        time, so it sits in history at its capture time and never poses as the latest live scan. Recording
        the same capture under the same model again returns the earlier run; an unread capture is a failed run."""
        run_key = hashlib.sha256(f"capture:{page.item_key}:{page.model_sha256}".encode()).hexdigest()
        row = self.db.execute("SELECT run_id, status FROM runs WHERE run_key=? AND status != 'running' "
                              "ORDER BY run_id DESC", (run_key,)).fetchone()
        if row is not None and (row["status"] == "finished" or page.status != "analysed"):
            return int(row["run_id"])  # a capture that failed before and is read now gets a run of its own
        run_id, _ = self.open_run(run_key, page.model_sha256, [page.source], {"kind": "archive capture", **options})
        self.db.execute("UPDATE runs SET captured=? WHERE run_id=?", (captured, run_id))
        self.add(run_id, [page])
        ok = page.status == "analysed"
        self.finish_run(run_id, {"kind": "archive capture", "analysed": int(ok), "failed": int(not ok),
                                 "red_flag": int(bool(page.red_flag))}, "finished" if ok else "failed")
        return run_id

    def integrity(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])


def diff_runs(store: ResultStore, run_a: int, run_b: int) -> list[dict]:
    """Per site: score change, and the red-flag claims and the disclosures that appeared and disappeared from
    run A to run B, each with the evidence recorded for it. A site only one run covers has `score_before` or
    `score_after` None (new, or no longer scanned)."""
    claims_a, claims_b = store.site_claims(run_a), store.site_claims(run_b)
    scores_a, scores_b = store.site_scores(run_a), store.site_scores(run_b)
    out = []
    for site in sorted(set(scores_a) | set(scores_b)):
        a, b = claims_a.get(site, {}), claims_b.get(site, {})
        appeared, disappeared = sorted(set(b) - set(a)), sorted(set(a) - set(b))
        before, after = scores_a.get(site), scores_b.get(site)
        if not appeared and not disappeared and before == after:
            continue

        def listed(keys: list[tuple[str, str]], side: dict, disclosure: bool) -> list[dict]:
            return [{"text": t, "category": c, "evidence": side[(t, c)]} for t, c in keys
                    if (c == DISCLOSURE) == disclosure]

        out.append({
            "site": site, "score_before": before, "score_after": after,
            "score_change": None if before is None or after is None else after - before,
            "appeared": listed(appeared, b, False), "disappeared": listed(disappeared, a, False),
            "disclosures_appeared": listed(appeared, b, True), "disclosures_disappeared": listed(disappeared, a, True),
        })
    out.sort(key=lambda d: (-(abs(d["score_change"]) if d["score_change"] is not None else 101), d["site"]))
    return out
