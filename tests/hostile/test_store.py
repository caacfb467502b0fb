"""The results store under concurrent writers and a reader: nothing lost, nothing doubled, file intact."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time

from tests.conftest import CORPUS, ROOT

_WRITER = """
import sys
from pathlib import Path
from detector.batch.runner import ScanOptions, Scanner
Scanner(options=ScanOptions(batch_size=2), db=Path(sys.argv[1])).run([Path(sys.argv[2])])
"""

_READER = """
import sqlite3, sys, time
end = time.monotonic() + float(sys.argv[2])
reads = missing = 0
while time.monotonic() < end:
    con = sqlite3.connect(sys.argv[1], timeout=30)
    try:
        con.execute("SELECT count(*) FROM pages").fetchone()
        con.execute("SELECT site, risk_score FROM sites").fetchall()
        reads += 1
    except sqlite3.OperationalError as exc:  # before the first writer has created the schema
        if "no such table" not in str(exc):
            raise
        missing += 1
    finally:
        con.close()
    time.sleep(0.05)
print(reads)
"""


def test_eight_writer_processes_and_a_reader(tmp_path):
    pages = sorted((CORPUS / "pages").glob("*.html"))
    db = tmp_path / "shared.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    sqlite3.connect(db).close()
    inputs = []
    for w in range(8):
        d = tmp_path / f"in{w}"
        d.mkdir()
        for p in pages[w * 5 : w * 5 + 5]:
            shutil.copy(p, d / p.name)
        inputs.append(d)
    reader = subprocess.Popen([sys.executable, "-c", _READER, str(db), "25"], env=env, stdout=subprocess.PIPE,
                              text=True)
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(db), str(d)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for d in inputs]
    deadline = time.monotonic() + 240
    for proc in writers:
        proc.wait(timeout=max(1, deadline - time.monotonic()))
    errors = [p.stderr.read() for p in writers if p.returncode != 0]
    assert not errors, errors[0][-2000:]
    reads = int(reader.communicate(timeout=60)[0].strip() or 0)
    assert reads > 0, "the reader was never blocked out for the whole run"
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
