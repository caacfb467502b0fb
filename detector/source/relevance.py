"""A cheap relevance gate before the NLP stage: is a page about stem cells or regenerative products at all?

Web-scale archives are mostly irrelevant pages; one case-insensitive regex over the raw bytes runs far
faster than HTML parsing, so irrelevant pages cost almost nothing. The gate is deliberately generous
(a false "relevant" only costs time; a false "irrelevant" loses a page), and gated-out pages are counted.
"""

from __future__ import annotations

import re

TERMS = (
    rb"\bstem[\s\-_]*cells?", rb"mesenchymal", rb"\bmscs?\b", rb"exosomes?", rb"secretome", rb"regenerative",
    rb"orthobiologic", rb"cord[\s\-]*blood", rb"umbilical", rb"wharton", rb"amniotic", rb"placenta",
    rb"bone[\s\-]*marrow", rb"\bbmac\b", rb"stromal[\s\-]*vascular", rb"\bsvf\b", rb"cell[\s\-]*therap",
    rb"cellular[\s\-]*therap", rb"progenitor", rb"\bprp\b", rb"platelet[\s\-]*rich", rb"biologics",
    # the commonest translations on the clinic sites this tool meets
    rb"c(?:e|\xc3\xa9|\xc3\x89|\xe9|\xc9)lulas[\s\-]*madre", rb"cellules[\s\-]*souches", rb"stammzell",
    rb"cellule[\s\-]*staminali",
)
_PATTERN = b"|".join(TERMS)


def _compile():  # noqa: ANN202
    """RE2 (linear time, one pass for all terms: about 100x faster than `re` on 30 KB pages) when its
    wheel is installed; the standard library otherwise, with the same matches."""
    try:
        import re2

        opts = re2.Options()
        opts.case_sensitive = False
        opts.encoding = re2.Options.Encoding.LATIN1  # any bytes; the UTF-8 terms match byte for byte
        return re2.compile(_PATTERN, opts)
    except ImportError:  # pragma: no cover - google-re2 is a dependency; this keeps odd platforms working
        return re.compile(_PATTERN, re.IGNORECASE)


_GATE = _compile()


def is_relevant(data: bytes | str) -> bool:
    """True when the page mentions a stem-cell or regenerative product term anywhere (markup included)."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="ignore")
    elif data[:1000].count(b"\x00") * 5 > len(data[:1000]):  # UTF-16 text: widen the net rather than miss the page
        data = data.decode("utf-16", errors="ignore").encode("utf-8", errors="ignore")
    return _GATE.search(data) is not None
