"""From scored claims to a page verdict: risk score 0-100, red flag, and the reasons behind both.

A page's claims are summarised into a few named features (strongest evidence per category, how much of
the page is reported speech, hedged or disclosed, whether a cell product is named at all...). A small
logistic model over those features, stacked on out-of-fold claim scores at training time, gives the
risk score, and its largest contributions are the reasons shown to the user. Disclosures lower a score
but never remove a red-flag claim from the evidence; reported claims never count as made.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from detector.categories import CATEGORIES, DISCLOSURE, RED_FLAGS
from detector.records import Claim, PageVerdict

_LIST_ROLES = {"list_item", "table_cell", "nav"}
_GENRE = re.compile(
    r"\b(reporters?|journalists?|investigation|according to|warned|warning letters?|regulators?|lawsuit|"
    r"court|abstract|methods|conclusions?|participants|randomi[sz]ed|placebo|doi|et al|published|"
    r"researchers|study found|review)\b",
    re.I,
)
_SELL = re.compile(
    r"\b(book|call|contact|schedule|consultation|price|cost|package|our (clinic|center|team|doctors?|patients)|"
    r"we (offer|provide|treat|use)|whatsapp|appointment)\b",
    re.I,
)
RED_FLAG_SCORE = 50
STRONG_CLAIM = 0.95


def _groups(claim: Claim) -> set[str]:
    return {g for label, _t, g in claim.entities if label == "CONDITION"}


_WORD = re.compile(r"\w+")
MIN_WORDS_WITHOUT_CUE = 4


def assign_categories(claims: Sequence[Claim], proba: np.ndarray, thresholds: np.ndarray) -> None:
    """Write scores and thresholded categories onto claims; reported claims keep red flags apart.

    A fragment of fewer than MIN_WORDS_WITHOUT_CUE words with no lexicon cue (a heading or menu item
    such as "Cell therapy") names a topic but cannot state a claim; its n-gram scores are noise, so it
    gets no category. With a cue ("Regrow. Mend. Renew.") it is judged like any sentence.
    """
    for i, claim in enumerate(claims):
        claim.scores = {cat: round(float(proba[i, j]), 4) for j, cat in enumerate(CATEGORIES)}
        cats = [cat for j, cat in enumerate(CATEGORIES) if proba[i, j] >= thresholds[j]]
        if not claim.cues and len(_WORD.findall(claim.text)) < MIN_WORDS_WITHOUT_CUE:
            cats = []
        if claim.reported:
            claim.reported_categories = [c for c in cats if c in RED_FLAGS]
            cats = [c for c in cats if c not in RED_FLAGS]
        else:
            claim.reported_categories = []
        claim.categories = cats


def mark_condition_lists(claims: list[Claim], min_groups: int = 3) -> list[str]:
    """Flag cure_all on a run of list items naming conditions of 3+ unrelated body systems.

    A cure-all menu is usually a bulleted list, one condition per item, which no single sentence shows.
    """
    notes = []
    i = 0
    while i < len(claims):
        if claims[i].block_role not in _LIST_ROLES or not _groups(claims[i]):
            i += 1
            continue
        j = i
        groups: set[str] = set()
        while j < len(claims) and claims[j].block_role in _LIST_ROLES and (
            _groups(claims[j]) or len(claims[j].text.split()) <= 6
        ):
            groups |= _groups(claims[j])
            j += 1
        run = claims[i:j]
        if len(groups) >= min_groups and not any(c.reported for c in run):
            head = max(run, key=lambda c: len(_groups(c)))
            score = min(0.95, 0.6 + 0.1 * (len(groups) - min_groups))
            head.scores["cure_all"] = max(head.scores.get("cure_all", 0.0), score)
            if "cure_all" not in head.categories:
                head.categories.append("cure_all")
            names = ", ".join(sorted(groups))
            head.explanation.setdefault("cure_all", []).append(
                f"list of {j - i} items naming {len(groups)} unrelated condition groups: {names}"
            )
            notes.append(f"condition list with {len(groups)} unrelated groups ({names})")
        i = max(j, i + 1)
    return notes


def page_features(claims: Sequence[Claim], title: str = "") -> dict[str, float]:
    """Named page-level features from scored claims: the page model's whole input.

    Counts saturate and shares are used instead of raw totals, because training documents are short
    and dense while real pages are long and mostly filler: a feature must mean the same on both.
    """
    n = max(1, len(claims))
    own = [c for c in claims if not c.reported]
    f: dict[str, float] = {}
    for cat in RED_FLAGS:
        probs = sorted((c.scores.get(cat, 0.0) for c in own), reverse=True)
        top = probs[:3] + [0.0] * (3 - len(probs[:3]))
        f[f"max:{cat}"] = top[0]
        f[f"top3:{cat}"] = sum(top) / 3
        f[f"flagged:{cat}"] = min(3, sum(1 for c in own if cat in c.categories)) / 3
    f["red_flag_claims"] = min(5, sum(1 for c in own if set(c.categories) & set(RED_FLAGS))) / 5
    f["max_disclosure"] = max((c.scores.get(DISCLOSURE, 0.0) for c in claims), default=0.0)
    f["disclosures"] = min(3, sum(1 for c in claims if DISCLOSURE in c.categories)) / 3
    f["reported_share"] = sum(1 for c in claims if c.reported) / n
    f["reported_flags"] = min(3, sum(1 for c in claims if c.reported_categories)) / 3
    f["hedged_share"] = sum(1 for c in claims if c.hedged) / n
    with_product = sum(1 for c in claims if any(label == "CELL_PRODUCT" for label, _t, _g in c.entities))
    on_topic = with_product > 0 or any(w in title.lower() for w in ("stem cell", "exosome", "regenerative"))
    f["on_topic"] = float(on_topic)
    f["product_share"] = with_product / n
    f["condition_groups"] = min(len({g for c in claims for g in _groups(c)}), 6) / 6
    text = " ".join(c.text for c in claims[:400])
    words = max(1, len(text.split()))
    f["genre_report"] = min(1.0, 20 * len(_GENRE.findall(text)) / words)
    f["genre_sell"] = min(1.0, 20 * len(_SELL.findall(text)) / words)
    return f


def rule_score(features: dict[str, float]) -> float:
    """The fallback page rule (no page model): noisy-OR of the strongest evidence, damped off-topic."""
    keep = 1.0
    for cat in RED_FLAGS:
        keep *= 1.0 - 0.8 * features[f"max:{cat}"] * min(1.0, features[f"flagged:{cat}"] * 3)
    raw = (1.0 - keep) * (1.0 - 0.25 * features["max_disclosure"])
    return raw * (1.0 if features["on_topic"] else 0.35)


def score_page(
    target: str,
    claims: list[Claim],
    title: str = "",
    page_model: object | None = None,
    model_sha256: str = "",
) -> PageVerdict:
    """Combine claim scores into the page verdict; claims must already carry scores and categories."""
    reasons = mark_condition_lists(claims)
    feats = page_features(claims, title)
    if page_model is not None:
        prob = float(page_model.predict_proba([feats])[0])
        reasons += [
            f"page feature {name}={feats[name]:.2f} {'raised' if w > 0 else 'lowered'} the score"
            f" (compared with a typical page)"
            for name, w in page_model.contributions(feats)[:4]
        ]
    else:
        prob = rule_score(feats)
    risk = round(100 * prob)
    strong = [
        c for c in claims
        if not c.reported and any(c.scores.get(k, 0.0) >= STRONG_CLAIM and k in c.categories for k in RED_FLAGS)
    ]
    if strong and feats["on_topic"] and risk < RED_FLAG_SCORE:
        # Codebook rule 7: a disclosure lowers the score but never cancels a red-flag claim; one
        # near-certain claim made by a page about a cell product keeps it at the red-flag line.
        risk = RED_FLAG_SCORE
        reasons.append(f"{len(strong)} near-certain red-flag claim(s) (p >= {STRONG_CLAIM}): score held at {risk}")
    if risk < RED_FLAG_SCORE:
        # A page that does not read as marketing discusses claims rather than making them (codebook
        # rule 4): its red-flag sentences stay visible, as context, but are not counted as made.
        shown = 0
        for c in claims:
            moved = [k for k in c.categories if k in RED_FLAGS]
            if moved:
                c.reported_categories = sorted(set(c.reported_categories) | set(moved))
                c.categories = [k for k in c.categories if k not in RED_FLAGS]
                shown += 1
        if shown:
            reasons.append(f"page does not read as marketing: {shown} red-flag sentence(s) shown as context only")
    own = [c for c in claims if not c.reported]
    made = [c for c in own if set(c.categories) & set(RED_FLAGS)]
    if not feats["on_topic"]:
        reasons.append("no stem-cell or regenerative product named on the page")
    if feats["max_disclosure"] >= 0.5:
        reasons.append("honest disclosure present: score lowered, red-flag claims kept as evidence")
    reported = sum(1 for c in claims if c.reported_categories)
    if reported:
        reasons.append(f"{reported} claim(s) reported, not made, by this page")
    counts = Counter(cat for c in own for cat in c.categories)
    return PageVerdict(
        target=target,
        risk_score=risk,
        red_flag=bool(made) and feats["on_topic"] > 0 and risk >= RED_FLAG_SCORE,
        categories={cat: counts.get(cat, 0) for cat in CATEGORIES},
        claims=claims,
        condition_groups=sorted({g for c in claims for g in _groups(c)}),
        products=sorted({t.lower() for c in claims for label, t, _g in c.entities if label == "CELL_PRODUCT"}),
        title=title,
        reasons=reasons,
        model_sha256=model_sha256,
    )
