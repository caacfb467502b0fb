"""The results store: concurrent writers and a reader (nothing lost, nothing doubled, the reader never shut
out), someone else's SQLite file refused untouched, and a full disk as one clear line.

The concurrency test synchronises on events, never on sleeps or deadlines: the reader reads on request, each
writer stops after its first batch until told to go on, so the reader's read in the middle of the run is
certain to happen, however loaded the machine is.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from detector.errors import InputError, OutputError
from detector.output.store import APPLICATION_ID, ResultStore
from tests.conftest import CORPUS, ROOT

BOUND = 900  # seconds: only a hang guard, far beyond any run; nothing waits on it

_WRITER = """
import sys
from pathlib import Path
from detector.batch.runner import ScanOptions, Scanner

paused = []

def progress(counts):
    if not paused:  # after the first batch is in the store: say so, then wait for the go
        paused.append(1)
        print("wrote", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("no go")

Scanner(options=ScanOptions(batch_size=2), db=Path(sys.argv[1]), progress=progress).run([Path(sys.argv[2])])
"""

_READER = """
import sqlite3, sys
for line in sys.stdin:
    if line.strip() != "read":
        break
    con = sqlite3.connect(sys.argv[1], timeout=30)
    try:
        pages = con.execute("SELECT count(*) FROM pages").fetchone()[0]
        con.execute("SELECT site, risk_score FROM sites").fetchall()
    finally:
        con.close()
    print(pages, flush=True)
"""


def _ask(reader: subprocess.Popen) -> int:
    reader.stdin.write("read\n")
    reader.stdin.flush()
    answer = reader.stdout.readline()
    assert answer.strip().isdigit(), f"the reader failed: {answer!r} {reader.stderr.read() if reader.poll() else ''}"
    return int(answer)


def test_eight_writer_processes_and_a_reader(tmp_path):
    pages = sorted((CORPUS / "pages").glob("*.html"))
    db = tmp_path / "shared.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    ResultStore(db).close()  # the schema exists before anyone reads
    inputs = []
    for w in range(8):
        d = tmp_path / f"in{w}"
        d.mkdir()
        for p in pages[w * 5 : w * 5 + 5]:
            shutil.copy(p, d / p.name)
        inputs.append(d)
    pipes = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    reader = subprocess.Popen([sys.executable, "-c", _READER, str(db)], **pipes)
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(db), str(d)], **pipes) for d in inputs]
    try:
        assert _ask(reader) == 0
        for proc in writers:  # every writer has written its first batch and is waiting
            line = proc.stdout.readline()
            assert line.strip() == "wrote", proc.stderr.read()[-2000:]
        middle = _ask(reader)
        assert 16 <= middle < 40, f"the reader read mid-run: {middle} rows of 8 first batches of 2"
        for proc in writers:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reads = [middle]
        while any(p.poll() is None for p in writers):  # read as long as any writer writes
            reads.append(_ask(reader))
        for proc in writers:
            proc.wait(timeout=BOUND)
        errors = [proc.stderr.read() for proc in writers if proc.returncode != 0]
        assert not errors, errors[0][-2000:]
        assert _ask(reader) == 40
        assert reads == sorted(reads), "the reader saw the rows grow, never a torn state"
    finally:
        for proc in [reader, *writers]:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=BOUND)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                stream.close()
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        runs = con.execute("SELECT count(*), sum(status = 'finished') FROM runs").fetchone()
        assert runs == (8, 8)
        n, distinct = con.execute("SELECT count(*), count(DISTINCT run_id || '|' || item_key) FROM pages").fetchone()
        assert n == distinct == 40, "exact row count, no duplicate pages"
        per_run = [r[0] for r in con.execute("SELECT count(*) FROM pages GROUP BY run_id")]
        assert per_run == [5] * 8
        orphans = con.execute("SELECT count(*) FROM claims WHERE page_id NOT IN (SELECT page_id FROM pages)")
        assert orphans.fetchone()[0] == 0


# -- someone else's file ------------------------------------------------------------------------------
def _sqlite(path: Path, *statements: str) -> None:
    con = sqlite3.connect(path)
    for sql in statements:
        con.execute(sql)
    con.commit()
    con.close()


FOREIGN = {
    "a-customers-table": lambda p: _sqlite(p, "CREATE TABLE customers (id INTEGER, name TEXT)"),
    "a-foreign-runs-table": lambda p: _sqlite(p, "CREATE TABLE runs (id INTEGER, note TEXT)",
                                              "INSERT INTO runs VALUES (1, 'theirs')"),
    "our-tables-but-no-schema-version": lambda p: _sqlite(p, *[f"CREATE TABLE {t} (x)" for t in
                                                              ("meta", "runs", "pages", "claims", "flags", "sites")]),
    "another-application-id": lambda p: _sqlite(p, "PRAGMA application_id=1234", "CREATE TABLE t (x)"),
    "a-wal-mode-database": lambda p: _sqlite(p, "PRAGMA journal_mode=WAL", "CREATE TABLE notes (x)"),
    "not-sqlite-at-all": lambda p: p.write_text("name,score\nclinic,9\n"),
    "a-truncated-sqlite-header": lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 40),
}


@pytest.mark.parametrize("case", list(FOREIGN))
def test_a_foreign_file_is_refused_untouched(tmp_path, case):
    path = tmp_path / "theirs.sqlite"
    FOREIGN[case](path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(InputError, match="refusing to touch it|not a readable|not a SQLite"):
        ResultStore(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, "not one byte written"
    assert sorted(os.listdir(tmp_path)) == listing, "no journal or WAL file left beside it"


def test_cli_refuses_a_foreign_db_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from detector.cli import app

    path = tmp_path / "theirs.sqlite"
    FOREIGN["a-foreign-runs-table"](path)
    before = path.read_bytes()
    for args in (["scan", str(CORPUS / "pages" / "pc-01.html"), "--db", str(path)], ["diff", "1", "--db", str(path)],
                 ["history", "https://clinic.example/", "--db", str(path)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and "refusing to touch it" in result.stderr, result.output
        assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == before


def test_new_empty_and_older_stores_are_ours(tmp_path):
    new = tmp_path / "new.sqlite"
    ResultStore(new).close()
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    ResultStore(empty).close()
    older = tmp_path / "older.sqlite"  # made before the application_id was set
    ResultStore(older).close()
    _sqlite(older, "PRAGMA application_id=0")
    ResultStore(older).close()
    for path in (new, empty, older):
        with sqlite3.connect(path) as con:
            assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


# -- a full disk ----------------------------------------------------------------------------------------
def test_store_full_is_one_output_error(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count={pages}")  # the file cannot grow: SQLITE_FULL, as on a full disk
    with pytest.raises(OutputError, match="disk is full"):
        for n in range(2000):
            store.open_run(f"key{n}", "0" * 64, ["x" * 500], {"n": n})
    store.close()


_FULL_DISK = """
import resource, signal, sys
from detector.cli import app
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as ENOSPC would
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
sys.argv = ["stemcheck", *sys.argv[2:]]
app()
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE (Linux, macOS)")
@pytest.mark.parametrize("command", ["scan-db", "scan-csv", "check-html", "crawl"])
def test_a_full_disk_is_one_clear_line(tmp_path, command):
    """A file-size limit makes every write past it fail like a full disk (EFBIG for files; SQLite calls it a
    disk I/O error); the user gets one line naming the file, and no trace."""
    from tests.sites import clinic_site, serve

    page = CORPUS / "pages" / "pc-01.html"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    with serve(clinic_site({"/a": "pc-01.html", "/b": "pc-02.html"})) as (base, _log):
        args = {"scan-db": ["scan", str(CORPUS / "pages"), "--db", str(tmp_path / "s.sqlite")],
                "scan-csv": ["scan", str(page), "-o", str(tmp_path / "p.csv")],
                "check-html": ["check", str(page), "--format", "html", "-o", str(tmp_path / "r.html")],
                "crawl": ["crawl", base + "/", "-o", str(tmp_path / "c.warc.gz"), "--allow-private", "--delay", "0"],
                }[command]
        limit = {"scan-db": 20_000, "crawl": 3_000}.get(command, 200)
        proc = subprocess.run([sys.executable, "-c", _FULL_DISK, str(limit), *args], env=env, capture_output=True,
                              text=True, timeout=BOUND)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("stemcheck")]
    assert len(lines) == 1 and ("disk is full" in lines[0] or "is the disk full?" in lines[0]), proc.stderr[-3000:]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "no half-written temporary file"
    assert resource.RLIMIT_FSIZE  # the limit applied to the child only
