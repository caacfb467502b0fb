"""SHA-256 of files, streamed: one definition for model integrity, WARC evidence and evaluation data."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file; hashlib.file_digest streams it, so a large WARC never sits in memory whole."""
    with Path(path).open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
