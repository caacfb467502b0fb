"""Structured features of a claim from the nlp stage, beside the text n-grams.

They let the linear model learn that a cue matters differently when negated, hedged or reported,
which n-grams alone learn slowly from a few thousand sentences.
"""

from __future__ import annotations

import re

from detector.records import Claim

_FIRST = re.compile(r"\b(i|my|me|i'm|i've|i was|we were)\b", re.I)
_CLINIC = re.compile(r"\b(we|our|us|we're|we've)\b", re.I)
_YOU = re.compile(r"\b(you|your|you're)\b", re.I)
_NUM = re.compile(r"\d")
# Who a sentence is about: cells in general (biology explainer) or patients and the treatment (a claim).
_GENERIC_SUBJECT = re.compile(
    r"^(?:\W*)(?:(?:the |these |such |our body's |your body's |adult |mesenchymal |embryonic )?"
    r"(?:stem cells?|cells|mscs?|exosomes|they|it|cartilage|the body|tissues?)\b)",
    re.I,
)
_CAPABILITY = re.compile(r"\b(can|could|are able to|is able to|have the (?:ability|potential)|may|might)\b", re.I)
_PATIENTS = re.compile(r"\b(patients?|you|your|children|kids|people|clients|he|she|families)\b", re.I)
_OUTCOME = re.compile(
    r"\b(improv\w*|better|relief|recover\w*|walk\w*|return\w*|gain\w*|progress\w*|reduc\w*|"
    r"eas\w*|disappear\w*|no longer|again)\b",
    re.I,
)


def claim_features(claim: Claim) -> dict[str, float]:
    """A sparse dict of named features; names are stable so the model card can quote them.

    A linear model cannot learn that "approved" means one thing after "our" and another after "not";
    conjunctions of each cue with the sentence's voice and context give it those interactions directly.
    """
    f: dict[str, float] = {}
    text = claim.text
    clinic, you = _CLINIC.search(text) is not None, _YOU.search(text) is not None
    own = clinic or you
    for cue in claim.cues:
        key = f"cue={cue.label}" + (":negated" if cue.negated else "")
        f[key] = 1.0
        if cue.negated:
            continue
        if claim.reported:
            f[f"cue={cue.label}+reported"] = 1.0
        elif claim.hedged:
            f[f"cue={cue.label}+hedged"] = 1.0
        elif own:
            f[f"cue={cue.label}+own_voice"] = 1.0
        else:
            f[f"cue={cue.label}+plain"] = 1.0
    groups = set()
    for ent in claim.entities:
        f[f"entity={ent.label}"] = 1.0
        if ent.label == "CONDITION":
            groups.add(ent.group)
    if groups:
        f["condition_groups"] = min(len(groups), 5) / 5.0
        if len(groups) >= 3:
            f["condition_groups>=3"] = 1.0
    for flag in ("negated", "hedged", "reported"):
        if getattr(claim, flag):
            f[f"context={flag}"] = 1.0
    f[f"role={claim.block_role}"] = 1.0
    if _FIRST.search(text):
        f["voice=first_person"] = 1.0
    if clinic:
        f["voice=clinic"] = 1.0
    if you:
        f["voice=reader"] = 1.0
    if _GENERIC_SUBJECT.search(text):
        f["subject=generic"] = 1.0
        if _CAPABILITY.search(text):
            f["subject=generic+capability"] = 1.0
    if _PATIENTS.search(text) and _OUTCOME.search(text):
        f["patients+outcome"] = 1.0
    if text.rstrip().endswith("?"):
        f["shape=question"] = 1.0
    if "!" in text:
        f["shape=exclamation"] = 1.0
    if _NUM.search(text):
        f["shape=number"] = 1.0
    words = len(text.split())
    f["shape=short"] = float(words <= 4)
    f["shape=long"] = float(words >= 30)
    return f
