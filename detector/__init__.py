"""stemcheck: find unproven stem-cell clinic marketing, with the evidence behind every flag.

The public names load on first use (PEP 562), so `import detector` and `stemcheck --help` cost no spaCy,
pandas or Dask: each command pays only for the libraries it uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from detector.version import __version__

_WHERE = {
    "scan": "detector.batch.runner",
    "Detector": "detector.check", "check_file": "detector.check", "check_html": "detector.check",
    "check_text": "detector.check",
    "StemcheckError": "detector.errors",
    "Claim": "detector.records", "PageVerdict": "detector.records",
}

if TYPE_CHECKING:
    from detector.batch.runner import scan
    from detector.check import Detector, check_file, check_html, check_text
    from detector.errors import StemcheckError
    from detector.records import Claim, PageVerdict

__all__ = [
    "Claim", "Detector", "PageVerdict", "StemcheckError", "__version__",
    "check_file", "check_html", "check_text", "scan",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'detector' has no attribute {name!r}")
