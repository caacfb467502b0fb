"""Evidence in plain words: what every face (terminal, HTML report, web app, CSV) says about a flag.

Evidence records stay data (records.Evidence, in JSON for experts); this is the one place that turns them
into sentences a journalist reads. No feature names, no raw weights.
"""

from __future__ import annotations

from detector.categories import NAMES
from detector.records import Claim, Evidence, Flag

_CUE_WORDS = {
    "CURE": "cure or repair wording", "APPROVAL": "approval wording",
    "APPROVAL_CLAIM": "a claim of approval or licence", "GUARANTEE": "a guarantee",
    "PERMANENT": "a promise of lasting results", "SUCCESS_RATE": "a success rate", "SAFETY": "safety wording",
    "RESEARCH_CLAIM": "a proof or research claim", "TESTIMONIAL": "a patient story or endorsement",
    "URGENCY": "urgency or a sales hook", "PRICE": "a price or offer", "DISCLOSURE": "a disclosure",
    "RISK_TERM": "a named risk",
}
_ENTITY_WORDS = {
    "CELL_PRODUCT": "names a cell product", "CONDITION": "names a condition", "REGULATOR": "names a regulator",
    "DESIGNATION": "names a regulatory designation", "TRIAL_TERM": "uses trial wording",
    "MONEY_TERM": "mentions money",
}
_CONTEXT_WORDS = {
    "negation": "negated by", "hedge": "hedged by", "reported": "attributed to others by",
}


def describe(e: Evidence) -> str:
    """One evidence item as a short phrase."""
    if e.kind == "cue":
        label, _, negated = e.label.partition(":")
        what = _CUE_WORDS.get(label, "a claim cue")
        return f"“{e.text}” is {what}" + (" (negated)" if negated else "")
    if e.kind == "entity":
        label, _, group = e.label.partition(":")
        what = _ENTITY_WORDS.get(label, "names")
        return f"{what} “{e.text}”" + (f" ({group.replace('_', ' ')})" if group else "")
    if e.kind == "context":
        return f"{_CONTEXT_WORDS.get(e.label, e.label)} “{e.text}”"
    if e.kind == "model":
        return f"“{e.text}”"
    if e.kind in ("list", "rule"):
        return e.text
    return e.text


def flag_reasons(flag: Flag) -> list[str]:
    """The evidence of one flag as phrases: cues and context first, then the words the model weighed, then the
    codebook rule."""
    words = [e for e in flag.evidence if e.kind == "model"]
    out = [describe(e) for e in flag.evidence if e.kind not in ("model", "rule")]
    if words:
        out.append("the model weighed the words " + ", ".join(describe(e) for e in words))
    out += [describe(e) for e in flag.evidence if e.kind == "rule"]
    return out


def flag_line(flag: Flag) -> str:
    """'Approval misrepresentation (made, p=0.91)' or '... (reported, not made by the page, p=0.80)'."""
    how = "made by the page" if flag.made else "reported, not made by the page"
    return f"{NAMES[flag.category]} ({how}; p={flag.probability:.2f})"


def claim_summary(claim: Claim) -> str:
    """The claim's flags on one line, made ones first."""
    flags = sorted(claim.flags, key=lambda f: (not f.made, -f.probability))
    return "; ".join(flag_line(f) for f in flags)


def stored_reasons(evidence: list[dict], category: str) -> list[str]:
    """Phrases for evidence read back from the results store (JSON), for one category."""
    items = [Evidence(**{k: v for k, v in e.items() if k in Evidence.__dataclass_fields__}) for e in evidence]
    flag = Flag(category, 0.0, 0.0, True, [e for e in items if e.category in (category, None)])
    return flag_reasons(flag)
