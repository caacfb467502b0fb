"""A keyword baseline, run beside the model in every evaluation so the model must earn its keep."""

from __future__ import annotations

import re

from detector.categories import CATEGORIES

KEYWORDS: dict[str, str] = {
    "approval_misrepresentation": r"fda[- ]?(approved|registered|compliant|cleared)|fully legal|approved by",
    "research_misrepresentation": r"clinically proven|scientifically proven|studies show|irb|clinicaltrials\.gov",
    "efficacy_overclaim": r"\b(cures?|reverses?|regrows?|regenerates?|repairs?|restores?|heals?)\b",
    "guaranteed_results": r"guarantee|permanent|\d+ ?% of (our )?patients|success rate",
    "cure_all": r"autism.*(copd|diabetes|ms|als)|(copd|diabetes).*(autism|parkinson)",
    "risk_denial": r"no side effects|no risk|risk[- ]free|completely safe|no rejection",
    "testimonial_evidence": r"testimonial|success stor|patients say|reviews?\b",
    "commercial_pressure": r"limited time|discount|% off|financing|call now|book now|package",
    "honest_disclosure": r"not (been )?(fda[- ])?approved|investigational|results (may )?vary|risks include",
}
_COMPILED = {cat: re.compile(rx, re.I) for cat, rx in KEYWORDS.items()}


def keyword_labels(text: str) -> list[str]:
    return [cat for cat in CATEGORIES if _COMPILED[cat].search(text)]
