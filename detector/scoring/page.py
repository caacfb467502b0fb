"""From flagged claims to the page verdict: a risk score 0-100, the red-flag verdict, and reasons in words.

The rule, documented in the README and the model card:
- Claims are flagged per sentence (scoring/claims.py); a claim the page makes in its own voice stays a made
  red-flag claim whatever the page's score, and a reported claim never counts as made.
- The risk score comes from a logistic page model over named features that is monotone in red-flag
  evidence: the strength, number and kind of distinct made claims push it up; disclosures, reported
  speech, hedging and a reporting register push it down. Adding a red-flag claim never lowers a score.
- A page is a red-flag page when it makes at least one red-flag claim and its score reaches the red-flag
  line (ScoringRules.red_flag_score, 50).
Disclosures lower a score; they never hide a claim.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Sequence

from detector.categories import CATEGORIES, DISCLOSURE, NAMES, PHRASES, RED_FLAGS, SEVERITY
from detector.model.page_model import PageModel
from detector.model.rules import ScoringRules
from detector.records import Claim, Page, PageVerdict
from detector.scoring.claims import condition_groups, made_red
from detector.scoring.label import label

_NORM = re.compile(r"[\W_]+")
# Signs of the page model's weights (the lab constrains them): +1 red-flag evidence, -1 mitigating.
POSITIVE = (
    *(f"max:{c}" for c in RED_FLAGS), *(f"top3:{c}" for c in RED_FLAGS), *(f"count:{c}" for c in RED_FLAGS),
    "red_flag_claims", "red_share", "condition_groups", "sell",
)
NEGATIVE = ("disclosures", "max_disclosure", "reported_share", "report_density", "hedged_share")
SIGNS = {**dict.fromkeys(POSITIVE, 1), **dict.fromkeys(NEGATIVE, -1)}
# What a mitigating feature means, for the reason that says why a page stays under the line.
_MITIGATION_WORDS = {
    "disclosures": "it discloses limits or risks",
    "max_disclosure": "it discloses limits or risks",
    "reported_share": "most of its claims are attributed to others",
    "report_density": "it reads as news, regulatory or research writing",
    "hedged_share": "it hedges what it says",
}


def normalise(text: str) -> str:
    """A claim's identity across pages and captures: case, whitespace and punctuation ignored."""
    return _NORM.sub(" ", text.lower()).strip()


def page_features(claims: Sequence[Claim], rules: ScoringRules, title: str = "") -> dict[str, float]:
    """Named page features, built so the page model can be monotone in red-flag evidence.

    Red-flag evidence (maxima, log counts of distinct made claims, selling cues) only grows when a
    red-flag claim is added. Mitigating features (disclosures, reported speech, hedging, reporting
    register) are read from the other sentences and shared over all of them, so they only shrink.
    """
    n = max(1, len(claims))
    own = [c for c in claims if not c.reported]
    made = [(c, c.made_red_flags) for c in claims]
    red = [c for c, cats in made if cats]
    other = [c for c, cats in made if not cats]
    red_text = {id(c): normalise(c.text) for c in red}  # once per claim, not once per category
    f: dict[str, float] = {}
    for cat in RED_FLAGS:
        top = heapq.nlargest(3, (c.scores.get(cat, 0.0) for c in own))
        f[f"max:{cat}"] = top[0] if top else 0.0
        f[f"top3:{cat}"] = sum(top) / 3
        distinct = {red_text[id(c)] for c, cats in made if cat in cats}
        f[f"count:{cat}"] = math.log1p(len(distinct))
    f["red_flag_claims"] = math.log1p(len(set(red_text.values())))
    f["red_share"] = len(red) / n  # never falls when a red-flag sentence is added: (r+1)/(n+1) >= r/n
    f["condition_groups"] = min(len({g for c in claims for g in condition_groups(c)}), 8) / 8
    f["sell"] = math.log1p(sum(len(rules.sell.findall(c.text)) for c in claims) + len(rules.sell.findall(title)))
    disclosing = [c for c in other if DISCLOSURE in c.categories]
    f["disclosures"] = math.log1p(len(disclosing))
    f["max_disclosure"] = max((c.scores.get(DISCLOSURE, 0.0) for c in other), default=0.0)
    f["reported_share"] = sum(1 for c in claims if c.reported_categories) / n
    words = max(1, sum(len(c.text.split()) for c in claims))
    f["report_density"] = min(1.0, 20 * sum(len(rules.report.findall(c.text)) for c in other) / words)
    f["hedged_share"] = sum(1 for c in other if c.hedged) / n
    return f


def _quote(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    return f"“{text}”"


def _sentences(n: int) -> str:
    return f"{n} sentence{'s' if n != 1 else ''}"


def _agree(phrase: str, n: int) -> str:
    """'claim an approval' -> 'claims an approval' after one sentence."""
    if n != 1:
        return phrase
    verb, _, rest = phrase.partition(" ")
    if verb.endswith("y"):
        verb = verb[:-1] + "ies"
    elif verb.endswith(("sh", "ch", "s", "x")):
        verb += "es"
    else:
        verb += "s"
    return f"{verb} {rest}"


def reasons_for(claims: Sequence[Claim], risk: int, red_flag: bool, rules: ScoringRules,
                contributions: dict[str, float], on_topic: bool) -> list[str]:
    """What a journalist reads under the score: the claims by severity, disclosures, reported speech."""
    red = [c for c in claims if made_red(c)]
    out: list[str] = []
    by_cat: dict[str, list[Claim]] = {}
    for c in red:
        for cat in c.made_red_flags:
            by_cat.setdefault(cat, []).append(c)
    ordered = [cat for cat in SEVERITY if cat in by_cat]
    for cat in ordered[:3]:
        found = by_cat[cat]
        distinct = len({normalise(c.text) for c in found})
        best = max(found, key=lambda c: c.scores.get(cat, 0.0))
        out.append(f"{_sentences(distinct)} {_agree(PHRASES[cat], distinct)}; the strongest: {_quote(best.text)}")
    if len(ordered) > 3:
        out.append("also: " + ", ".join(
            f"{NAMES[cat].lower()} ({len({normalise(c.text) for c in by_cat[cat]})})" for cat in ordered[3:]))
    for c in claims:
        for flag in c.flags:
            out.extend(f"{e.text[0].upper()}{e.text[1:]}" for e in flag.evidence if e.kind == "list")
    disclosing = [c for c in claims if DISCLOSURE in c.categories]
    if red and not disclosing:
        out.append("no risk, limit or approval status is disclosed")
    elif disclosing:
        tail = "; that lowers the score but does not cancel the claims above" if red else ""
        out.append(f"{_sentences(len(disclosing))} {_agree('disclose limits or risks', len(disclosing))}, "
                   f"e.g. {_quote(disclosing[0].text, 120)}{tail}")
    reported = [c for c in claims if c.reported_categories]
    if reported:
        out.append(f"reads as reporting: {_sentences(len(reported))} "
                   f"{_agree('attribute or quote claims of others', len(reported))}, "
                   f"e.g. {_quote(reported[0].text, 120)}")
    if red and not red_flag:
        pulls = [name for name, w in contributions.items() if w < 0 and name in _MITIGATION_WORDS]
        why = _MITIGATION_WORDS[pulls[0]] if pulls else "its claims are few or weakly worded"
        out.append(f"score {risk} stays under the red-flag line ({rules.red_flag_score}): {why}")
    if not red and not reported:
        out.append(f"no red-flag claim found among {_sentences(len(claims))}")
    if not on_topic:
        out.append("no stem-cell or regenerative product is named")
    return out


def score_page(
    target: str,
    claims: list[Claim],
    page_model: PageModel,
    rules: ScoringRules,
    title: str = "",
    model_sha256: str = "",
    page: Page | None = None,
) -> PageVerdict:
    """The page verdict from flagged claims (scoring.claims.flag_claims has run); claims are not changed."""
    feats = page_features(claims, rules, title)
    risk = round(page_model.risk(feats))
    red = [c for c in claims if made_red(c)]
    red_flag = bool(red) and risk >= rules.red_flag_score
    contributions = page_model.contributions(feats)
    products = sorted({e.text.lower() for c in claims for e in c.entities if e.label == "CELL_PRODUCT"})
    on_topic = bool(products) or bool(rules.topic.search(title)) or any(rules.topic.search(c.text) for c in claims)
    counts = Counter(cat for c in claims for cat in c.categories)
    return PageVerdict(
        target=target,
        risk_score=risk,
        red_flag=red_flag,
        categories={cat: counts.get(cat, 0) for cat in CATEGORIES},
        claims=claims,
        condition_groups=sorted({g for c in claims for g in condition_groups(c)}),
        products=products,
        title=title,
        reasons=reasons_for(claims, risk, red_flag, rules, contributions, on_topic),
        model_sha256=model_sha256,
        label=label(risk, red_flag, rules.review_score),
        details={"page_features": {k: round(v, 4) for k, v in feats.items() if v},
                 "contributions": contributions, "logit": round(page_model.logit(feats), 4)},
        page=page,
    )
