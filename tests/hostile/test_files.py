"""File-system oddities in scan inputs: FIFOs, sockets and devices become failed rows (never a hang), and a
file name that is not UTF-8 is stored losslessly and written to every output.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import threading
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from detector.batch.runner import Scanner
from detector.cli import app
from detector.guard import open_regular, portable, unportable
from tests.conftest import CORPUS

PAGE = CORPUS / "pages" / "pc-01.html"
RAW_NAME = b"caf\xe9-\xff.html"  # Latin-1 bytes: not UTF-8


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    return sock


def _device(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _directory(path: Path) -> None:
    path.mkdir()


ODD = {"fifo": (_fifo, "FIFO"), "socket": (_socket, "socket"), "device": (_device, "character device")}


def _run_bounded(fn):  # noqa: ANN001, ANN202
    """Run fn in a thread; the join bound only keeps a regression from hanging the suite."""
    out: dict = {}

    def run() -> None:
        try:
            out["result"] = fn()
        except Exception as exc:  # noqa: BLE001 - handed to the test thread
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the scan hung on a special file"
    if "error" in out:
        raise out["error"]
    return out["result"]


@pytest.mark.parametrize("kind", list(ODD))
def test_special_file_named_html_in_a_directory_is_a_failed_row(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "site"
    root.mkdir()
    shutil.copy(PAGE, root / "index.html")
    make, word = ODD[kind]
    keep = make(root / "x.html")
    try:
        result = _run_bounded(lambda: Scanner().run([root]))
    finally:
        if isinstance(keep, socket.socket):
            keep.close()
    rows = result.pages.set_index("url")
    odd = rows.loc[(root / "x.html").as_posix()]
    assert odd["status"] == "failed" and word in odd["error"] and "not a regular file" in odd["error"]
    assert rows.loc[(root / "index.html").as_posix(), "status"] == "analysed"


@pytest.mark.parametrize("name", ["x.html", "x.warc.gz", "list.txt"])
def test_special_file_given_by_name_is_a_failed_row(tmp_path: Path, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    result = _run_bounded(lambda: Scanner().run([fifo]))
    assert list(result.pages["status"]) == ["failed"]
    assert "FIFO" in result.pages["error"].iloc[0]


def test_a_directory_named_html_is_not_a_page(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "folder.html").mkdir(parents=True)
    shutil.copy(PAGE, root / "folder.html" / "index.html")
    result = Scanner().run([root])
    assert list(result.pages["status"]) == ["analysed"]


def test_open_regular_refuses_before_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(Exception, match="FIFO"):
        _run_bounded(lambda: open_regular(fifo))


@pytest.mark.parametrize("text", ["plain.html", "caf\udce9-\udcff.html", "back\\slash.html", "a\\xe9.html",
                                  "lone \ud800 surrogate", "über.html"])
def test_portable_names_are_lossless_and_utf8(text: str) -> None:
    stored = portable(text)
    stored.encode("utf-8")  # any UTF-8 sink can hold it
    assert unportable(stored) == text
    if text.isascii() and "\\" not in text:
        assert stored == text, "ordinary names are unchanged"


def test_non_utf8_file_name_reaches_every_output(tmp_path: Path) -> None:
    root = tmp_path / "pages"
    root.mkdir()
    odd = Path(os.fsdecode(bytes(root) + b"/" + RAW_NAME))
    shutil.copy(PAGE, odd)
    db, csv, parquet = tmp_path / "scan.sqlite", tmp_path / "pages.csv", tmp_path / "pages.parquet"
    for out in (csv, parquet):
        result = CliRunner().invoke(app, ["scan", str(root), "--db", str(db), "-o", str(out)])
        assert result.exit_code == 0, result.output
    shown = portable(str(odd))
    assert "\\xe9" in shown and "\\xff" in shown
    for frame in (pd.read_csv(csv), pd.read_parquet(parquet)):
        assert list(frame["item_key"]) == [shown] and list(frame["status"]) == ["analysed"]
    with sqlite3.connect(db) as con:
        keys = {r[0] for r in con.execute("SELECT item_key FROM pages")}
    assert keys == {shown}
    assert Path(unportable(shown)).read_bytes() == PAGE.read_bytes(), "the stored name finds the file again"


def test_non_utf8_target_is_shown_readably(tmp_path: Path) -> None:
    """`check` on a file whose name is not UTF-8: the report shows the byte as `\\xe9`, on any terminal."""
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/" + RAW_NAME))
    shutil.copy(PAGE, odd)
    result = CliRunner().invoke(app, ["check", str(odd)])
    assert result.exit_code == 0, result.output
    assert "caf\\xe9-\\xff.html" in result.stdout
