"""From claim scores to flags: which categories a claim carries, whether the page makes them, and why.

A flag's evidence is data: the cue words and entities that speak for its category, the context words
(negation, hedge, reported speech) the nlp stage found, the words the model weighed most, a cure-all list
when one decided it, and the codebook rule with its authority. Whether a claim is made or reported is the
nlp stage's finding about the sentence; nothing here looks at the page's score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from detector.categories import AUTHORITIES, CATEGORIES, CUE_CATEGORIES, DISCLOSURE, NAMES, RED_FLAGS
from detector.model.rules import ScoringRules
from detector.model.scorer import ClaimScores
from detector.records import Claim, Evidence, Flag

_WORD = re.compile(r"\w+")
# Entities that speak for a category beside the cue words.
_ENTITY_CATEGORIES = {
    "REGULATOR": ("approval_misrepresentation", "honest_disclosure"),
    "DESIGNATION": ("approval_misrepresentation",),
    "TRIAL_TERM": ("research_misrepresentation", "honest_disclosure"),
    "MONEY_TERM": ("commercial_pressure",),
    "CONDITION": ("cure_all",),
}


def condition_groups(claim: Claim) -> set[str]:
    return {e.group for e in claim.entities if e.label == "CONDITION"}


def flag_claims(claims: Sequence[Claim], scores: ClaimScores, thresholds: Sequence[float],
                rules: ScoringRules) -> None:
    """Give each claim its scores and flags; a reported claim keeps its red flags with made=False.

    A fragment of fewer than `min_words_without_cue` words with no lexicon cue (a heading or menu item
    such as "Cell therapy") names a topic but cannot state a claim, so it gets no flag. Condition menus
    are flagged as cure-all afterwards (flag_condition_lists), since no single sentence shows them.
    """
    proba = scores.proba
    for i, claim in enumerate(claims):
        claim.scores = {cat: round(float(proba[i, j]), 4) for j, cat in enumerate(CATEGORIES)}
        claim.flags = []
        if not claim.cues and len(_WORD.findall(claim.text)) < rules.min_words_without_cue:
            continue
        for j, cat in enumerate(CATEGORIES):
            if proba[i, j] < thresholds[j]:
                continue
            made = not claim.reported or cat == DISCLOSURE
            flag = Flag(cat, float(proba[i, j]), float(thresholds[j]), made)
            flag.evidence = _cue_evidence(claim, cat) + scores.evidence(i, cat) + _context_evidence(claim, made)
            flag.evidence.append(_rule(cat))
            claim.flags.append(flag)
        if claim.reported:
            _reported_context(claim, proba[i], thresholds)
    flag_condition_lists(list(claims), rules)


def _reported_context(claim: Claim, proba: Sequence[float], thresholds: Sequence[float]) -> None:
    """Show what a reported sentence is about, from its cue words, as context the page does not make.

    The classifier learns made claims only, so a quoted or attributed claim ("the company told patients
    its cells were FDA approved") scores low in every category. Its cue words still say which claim it
    reports; a news or regulator page is read better with that context shown. These flags never count
    as made, so they move neither the verdict nor the score.
    """
    have = {f.category for f in claim.flags}
    for j, cat in enumerate(CATEGORIES):
        if cat not in RED_FLAGS or cat in have:
            continue
        cues = _cue_evidence(claim, cat)
        if not any(e.kind == "cue" and not e.label.endswith(":negated") for e in cues):
            continue
        flag = Flag(cat, float(proba[j]), float(thresholds[j]), False)
        flag.evidence = [*cues, *_context_evidence(claim, False),
                         Evidence("rule", "a reported sentence with this claim's cue words is shown as context",
                                  label="reported_context", category=cat)]
        claim.flags.append(flag)


def _cue_evidence(claim: Claim, category: str) -> list[Evidence]:
    out = [Evidence("cue", c.text, c.start, c.end, label=c.label + (":negated" if c.negated else ""),
                    category=category)
           for c in claim.cues if category in CUE_CATEGORIES.get(c.label, ())]
    out += [Evidence("entity", e.text, e.start, e.end, label=f"{e.label}:{e.group}" if e.group else e.label,
                     category=category)
            for e in claim.entities if category in _ENTITY_CATEGORIES.get(e.label, ())]
    return out


def _context_evidence(claim: Claim, made: bool) -> list[Evidence]:
    """Context that bears on the flag: why it is reported (when it is), and negation or hedging seen."""
    return [Evidence(e.kind, e.text, e.start, e.end, e.label) for e in claim.context
            if e.label != "reported" or not made]


def _rule(category: str) -> Evidence:
    return Evidence("rule", f"codebook: {NAMES[category]} ({AUTHORITIES[category]})", label=category,
                    category=category)


def flag_condition_lists(claims: list[Claim], rules: ScoringRules) -> list[str]:
    """Flag cure_all on a run of list items naming conditions of 3+ unrelated body systems.

    A cure-all menu is usually a bulleted list, one condition per item, which no single sentence shows.
    Returns one plain description per list found.
    """
    notes = []
    roles = set(rules.list_roles)
    i = 0
    while i < len(claims):
        if claims[i].block_role not in roles or not condition_groups(claims[i]):
            i += 1
            continue
        j = i
        groups: set[str] = set()
        while j < len(claims) and claims[j].block_role in roles and (
            condition_groups(claims[j]) or len(claims[j].text.split()) <= rules.list_max_item_words
        ):
            groups |= condition_groups(claims[j])
            j += 1
        run = claims[i:j]
        if len(groups) >= rules.list_min_groups and not any(c.reported for c in run):
            head = max(run, key=lambda c: len(condition_groups(c)))
            prob = min(0.95, 0.6 + 0.1 * (len(groups) - rules.list_min_groups))
            head.scores["cure_all"] = max(head.scores.get("cure_all", 0.0), prob)
            names = ", ".join(sorted(g.replace("_", " ") for g in groups))
            listed = Evidence("list", f"a list of {j - i} items naming {len(groups)} unrelated body systems: {names}",
                              label="condition_list", category="cure_all")
            conditions = [Evidence("entity", e.text, e.start, e.end, label=f"CONDITION:{e.group}",
                                   category="cure_all")
                          for e in head.entities if e.label == "CONDITION"]
            flag = head.flag("cure_all")
            if flag is None:
                head.flags.append(Flag("cure_all", prob, 0.6, True, [listed, *conditions, _rule("cure_all")]))
            else:
                flag.evidence.insert(0, listed)
            notes.append(f"a list of conditions spans {len(groups)} unrelated body systems ({names})")
        i = max(j, i + 1)
    return notes


def made_red(claim: Claim) -> bool:
    return any(f.made and f.category in RED_FLAGS for f in claim.flags)
