"""stemcheck: find unproven stem-cell clinic marketing, with the evidence behind every flag."""

__version__ = "0.1.0"

from detector.batch.runner import scan
from detector.check import Detector, check_file, check_html, check_text
from detector.errors import StemcheckError
from detector.records import Claim, PageVerdict

__all__ = [
    "Claim", "Detector", "PageVerdict", "StemcheckError", "__version__",
    "check_file", "check_html", "check_text", "scan",
]
