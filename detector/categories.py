"""The codebook's category names: the one place they are spelled, used by code, JSON and reports."""

from __future__ import annotations

from detector.errors import CorpusError

RED_FLAGS: tuple[str, ...] = (
    "approval_misrepresentation",
    "research_misrepresentation",
    "efficacy_overclaim",
    "guaranteed_results",
    "cure_all",
    "risk_denial",
    "testimonial_evidence",
    "commercial_pressure",
)
DISCLOSURE = "honest_disclosure"
CATEGORIES: tuple[str, ...] = (*RED_FLAGS, DISCLOSURE)

# How the categories read to a person (reports, web pages); the codebook names stay in JSON.
NAMES: dict[str, str] = {
    "approval_misrepresentation": "Approval misrepresentation",
    "research_misrepresentation": "Research misrepresentation",
    "efficacy_overclaim": "Efficacy overclaim",
    "guaranteed_results": "Guaranteed results",
    "cure_all": "Cure-all",
    "risk_denial": "Risk denial",
    "testimonial_evidence": "Testimonials as evidence",
    "commercial_pressure": "Sales pressure",
    "honest_disclosure": "Honest disclosure",
}

# What "N sentences ..." say in a page's reasons.
PHRASES: dict[str, str] = {
    "approval_misrepresentation": "claim an approval, licence or legal status the treatment does not have",
    "research_misrepresentation": "misstate the research (paid 'studies', proof claims, registrations as proof)",
    "efficacy_overclaim": "state as fact that the treatment cures, repairs or regenerates",
    "guaranteed_results": "promise results or quote the provider's own success rates",
    "cure_all": "offer one treatment for many unrelated conditions",
    "risk_denial": "deny or play down the risks",
    "testimonial_evidence": "offer patient stories or endorsements as proof",
    "commercial_pressure": "push the sale (urgency, discounts, packages, free consultations)",
    "honest_disclosure": "disclose limits or risks",
}

# The codebook's severity order (corpora/CODEBOOK.md, "Severity order"): which made claim leads a report.
SEVERITY: tuple[str, ...] = (
    "approval_misrepresentation",
    "research_misrepresentation",
    "risk_denial",
    "efficacy_overclaim",
    "guaranteed_results",
    "cure_all",
    "testimonial_evidence",
    "commercial_pressure",
)

DESCRIPTIONS: dict[str, str] = {
    "approval_misrepresentation": "claims or implies a regulatory approval the treatment does not have",
    "research_misrepresentation": "misstates research status (pay-to-participate studies, 'clinically proven')",
    "efficacy_overclaim": "states as fact that the treatment cures, repairs or regenerates",
    "guaranteed_results": "guarantees results, quotes its own success rates or promises permanence",
    "cure_all": "offers one treatment for many unrelated conditions",
    "risk_denial": "denies risks or side effects",
    "testimonial_evidence": "offers testimonials or patient stories as evidence",
    "commercial_pressure": "urgency, discounts, financing or travel packages",
    "honest_disclosure": "mitigating: investigational status, variable results or risks disclosed",
}


def check_category(name: str) -> str:
    """Return ``name`` if it is a codebook category; corpus loaders call this on every label."""
    if name not in CATEGORIES:
        raise CorpusError(f"unknown category {name!r}; expected one of {', '.join(CATEGORIES)}")
    return name

# Which claim cues (detector/nlp lexicon labels) speak for which category, for explanations.
CUE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "CURE": ("efficacy_overclaim",),
    "APPROVAL": ("approval_misrepresentation",),
    "APPROVAL_CLAIM": ("approval_misrepresentation",),
    "GUARANTEE": ("guaranteed_results",),
    "PERMANENT": ("guaranteed_results",),
    "SUCCESS_RATE": ("guaranteed_results", "testimonial_evidence"),
    "SAFETY": ("risk_denial",),
    "RESEARCH_CLAIM": ("research_misrepresentation",),
    "TESTIMONIAL": ("testimonial_evidence",),
    "URGENCY": ("commercial_pressure",),
    "PRICE": ("commercial_pressure",),
    "DISCLOSURE": ("honest_disclosure",),
    "RISK_TERM": ("honest_disclosure",),
}

# The authority behind each category's rule (corpora/CODEBOOK.md gives the links), quoted in explanations.
AUTHORITIES: dict[str, str] = {
    "approval_misrepresentation": "FDA consumer warnings on stem cell therapies; HCT/P guidance",
    "research_misrepresentation": "ISSCR patient guidance; Turner & Knoepfler 2016",
    "efficacy_overclaim": "FTC Health Products Compliance Guidance (competent and reliable evidence)",
    "guaranteed_results": "FTC Health Products Compliance Guidance",
    "cure_all": "Turner & Knoepfler 2016; Murdoch et al. 2018 (website studies)",
    "risk_denial": "FDA consumer warnings (infection, tumours, blindness); Bauer et al. 2018",
    "testimonial_evidence": "FTC Endorsement Guides, 16 CFR 255",
    "commercial_pressure": "FTC Health Products Compliance Guidance; Murdoch et al. 2018",
    "honest_disclosure": "ISSCR patient guidance; FDA regenerative medicine consumer information",
}
