"""File-system guards shared by every face: what stemcheck reads, and how and where it writes.

Reading: only regular files are opened (a FIFO named `x.html` would block a scan forever, a device could
stream without end), checked before and after opening. Writing: no output may resolve to an input (same
path, a symlink to it, or a hard link: same inode); every output is written to a temporary file beside it
and renamed into place when complete, so a crash or a full disk leaves the old file or nothing, never half
a file; and a failed write is one OutputError naming the file and the cause. Names: a file name that is not
UTF-8 is kept losslessly in a form every table, store and terminal can hold (`portable`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from detector.errors import InputError, OutputError

log = logging.getLogger(__name__)

_UMASK = os.umask(0o022)  # read once, at import: os.umask can only be read by setting it
os.umask(_UMASK)
_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"))


# -- names -------------------------------------------------------------------------------------------------
def portable(text: str) -> str:
    """A string any UTF-8 sink can hold, from which the original can be recovered (`unportable`).

    A file name that is not valid UTF-8 reaches Python as lone surrogates (surrogateescape), which SQLite,
    CSV and Parquet writers refuse. Such a string is written with its raw bytes as `\\xNN` and its
    backslashes doubled; so is any string that already holds a backslash, which keeps the form unambiguous.
    Everything else (nearly every name) is returned unchanged.
    """
    if "\\" not in text:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def readable(text: str) -> str:
    """Text for a terminal that only takes valid Unicode: a byte that was not UTF-8 shown as `\\xNN`.

    Unlike `portable` this is for eyes, not for keys: backslashes are left as they are.
    """
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else
                   f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def unportable(text: str) -> str:
    """The original string behind `portable(text)` (surrogate-escaped again), e.g. to open the file."""
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and text[i + 1:i + 2] == "\\":
            out.append("\\")
            i += 2
        elif ch == "\\" and text[i + 1:i + 2] == "x":
            out.append(chr(0xDC00 + int(text[i + 2:i + 4], 16)))
            i += 4
        elif ch == "\\" and text[i + 1:i + 2] == "u":
            out.append(chr(int(text[i + 2:i + 6], 16)))
            i += 6
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# -- reading -----------------------------------------------------------------------------------------------
def _kind(mode: int) -> str | None:
    return next((name for test, name in _KINDS if test(mode)), None if stat.S_ISREG(mode) else "not a regular file")


def open_regular(path: Path | str) -> IO[bytes]:
    """Open a regular file for reading; InputError for anything else (FIFO, socket, device, directory).

    The type is checked before opening (opening a device can have effects) and again on the open file
    (it may have been swapped in between); O_NONBLOCK keeps a FIFO from blocking the open itself.
    """
    shown = portable(str(path))
    try:
        before = os.stat(path)
    except OSError as exc:
        raise InputError(f"{shown}: cannot read ({exc.strerror})") from exc
    kind = _kind(before.st_mode)
    if kind is not None:
        raise InputError(f"{shown}: {kind}, not a regular file; only regular files are read")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError(f"{shown}: cannot read ({exc.strerror})") from exc
    try:
        kind = _kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise InputError(f"{shown}: {kind}, not a regular file; only regular files are read")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path | str, limit: int) -> bytes:
    """A regular file's bytes, at most `limit` of them; InputError when it is larger or not a regular file."""
    with open_regular(path) as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise InputError(f"{portable(str(path))}: cannot read ({exc.strerror})") from exc
    if len(data) > limit:
        raise InputError(f"{portable(str(path))}: larger than the {limit:,}-byte limit")
    return data


def is_regular(path: Path) -> bool:
    """True for a regular file (following symlinks); never raises."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False


# -- writing -----------------------------------------------------------------------------------------------
def _same(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):
        pass
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_clobber(outputs: Iterable[Path | str | None], inputs: Iterable[Path | str | None]) -> None:
    """InputError if an output would overwrite an input, or another output.

    Same path, a symlink to it, `dir/../file`, or a hard link to it (same inode) all count; an output that
    does not exist yet is compared by its resolved path.
    """
    outs = [Path(o) for o in outputs if o is not None]
    ins = [Path(i) for i in inputs if i is not None and not str(i).startswith(("http://", "https://"))]
    ins = [i for i in ins if str(i) != "-"]
    for n, out in enumerate(outs):
        for inp in ins:
            if _same(out, inp):
                raise InputError(f"{portable(str(out))}: this output is also an input ({portable(str(inp))}); "
                                 "refusing to overwrite it, give another output name")
        for other in outs[n + 1:]:
            if _same(out, other):
                raise InputError(f"{portable(str(out))}: named for two outputs; give each its own name")


def check_writable(path: Path) -> None:
    """InputError now, before any work, when an output cannot be written where it is asked for."""
    parent = path.parent if str(path.parent) else Path(".")
    shown = portable(str(path))
    if path.is_dir():
        raise InputError(f"{shown}: is a directory, not a file name")
    if not parent.is_dir():
        raise InputError(f"{shown}: the folder {portable(str(parent))} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{shown}: the folder {portable(str(parent))} is not writable")
    if path.exists() and not is_regular(path):
        raise InputError(f"{shown}: exists and is not a regular file; refusing to replace it")


def write_error(exc: BaseException, path: Path | str) -> OutputError:
    """A failed write as one line: the file, and the cause (disk full said plainly)."""
    shown = portable(str(path))
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or "disk is full" in str(exc):
        return OutputError(f"{shown}: cannot write: the disk is full (or a file-size limit was reached)")
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return OutputError(f"{shown}: cannot write ({reason})")


@contextlib.contextmanager
def atomic_write(path: Path | str, mode: str = "wb", encoding: str | None = None,
                 errors: str | None = None) -> Iterator[IO]:
    """Write `path` whole or not at all: a temporary file beside it, flushed and synced, then renamed.

    If the body raises (a full disk, a bug, Ctrl-C), the temporary file is removed and `path` is as it
    was. OSErrors come out as OutputError naming `path`.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    except OSError as exc:
        raise write_error(exc, path) from exc
    try:
        with os.fdopen(fd, mode, encoding=encoding, errors=errors) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; an output gets the usual mode
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_error(exc, path) from exc
        raise


def write_text(path: Path | str, text: str) -> None:
    """A whole text file, UTF-8, atomically; a lone surrogate (a name that was not UTF-8) is written as
    its `\\udcXX` escape rather than failing the write."""
    with atomic_write(path, "w", encoding="utf-8", errors="backslashreplace") as fh:
        fh.write(text)
