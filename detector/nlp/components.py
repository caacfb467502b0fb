"""Our registered spaCy components. Import this module before loading a saved pipeline.

Term lists are data (corpora/lexicons/context.json), stored with the pipeline by to_disk/from_disk.
"""

from __future__ import annotations

import bisect
import json
import re
from pathlib import Path

import numpy
from spacy.attrs import ENT_IOB, IDX, IS_ALPHA, IS_SPACE, LOWER, ORTH, SENT_START
from spacy.language import Language
from spacy.strings import hash_string
from spacy.tokens import Doc, Span

_THIRD_PARTY_POSSESSIVES = frozenset({"its", "their", "his", "her"})
CLAIMS_KEY = "claims"
TEXT_KEY = "stemcheck_text"
CUES_KEY = "cues"
_CLOSERS = {'"', "”", "’", "'", ")", "]"}
# A line break, or a stop (. ! ? …) with optional closing quotes, then space and no lower-case letter next.
_BOUNDARY = re.compile(r"\n\s*(?=\S)|(?P<stop>(?<=[.!?…])[\"”’')\]]*[ \t]+)(?=[^\sa-z]|(?<=[!?] )\S)")
_BULLETS = {"•", "·", "▪", "►", "✓", "✔", "➤", "-", "*", "–", "—", "|", "»", "◆", "■", "○", "●"}


def doc_text(doc: Doc) -> str:
    """The doc's text: Doc.text rebuilds it token by token in Python, so the extractor stores it."""
    text = doc.user_data.get(TEXT_KEY)
    return text if text is not None else doc.text


def _hashes(words) -> numpy.ndarray:  # noqa: ANN001
    return numpy.array([hash_string(w) for w in words], dtype="uint64")


_BULLET_HASHES = _hashes(_BULLETS)

for _name in ("claim_negated", "claim_hedged", "claim_reported"):
    if not Span.has_extension(_name):
        Span.set_extension(_name, default=False)
if not Span.has_extension("claim_context"):
    Span.set_extension("claim_context", default=None)


@Language.factory("stemcheck_sentencizer", default_config={"max_tokens": 80})
def make_sentencizer(nlp: Language, name: str, max_tokens: int) -> WebSentencizer:
    return WebSentencizer(max_tokens=max_tokens)


class WebSentencizer:
    """Sentence boundaries for web text: line breaks, terminal punctuation, overlong runs.

    spaCy's rule sentencizer misses headings and bullet lists that have no final punctuation, which
    makes one 'sentence' of a whole menu; here every line break is a boundary. Inline bullets
    ("Autism • MS • COPD") stay one sentence: such a line is one list, the very evidence of a cure-all.
    Candidates come from one regex over the text (C speed); Python only looks at the candidates.
    """

    def __init__(self, max_tokens: int = 80) -> None:
        self.max_tokens = max_tokens

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        if not n:
            return doc
        idx = doc.to_array(IDX).astype("int64")
        flags = numpy.full(n, -1, dtype="int64")
        flags[0] = 1
        for m in _BOUNDARY.finditer(doc_text(doc)):
            pos = int(numpy.searchsorted(idx, m.end()))
            if pos >= n or idx[pos] != m.end():
                continue
            if m.group("stop"):
                prev = doc[pos - 1]
                while prev.i > 0 and (prev.is_space or prev.text in _CLOSERS):
                    prev = doc[prev.i - 1]
                # "Dr." or "U.S." kept whole by the tokenizer's exceptions: an abbreviation, not a stop
                if len(prev.text) > 1 and prev.text.endswith("."):
                    continue
            flags[pos] = 1
        starts = numpy.flatnonzero(flags == 1).tolist() + [n]
        for a, b in zip(starts, starts[1:], strict=False):
            if b - a > self.max_tokens:
                last = a
                for i in range(a + 1, b):
                    if i - last >= self.max_tokens or (doc[i - 1].text == ";" and i - last > self.max_tokens // 2):
                        flags[i] = 1
                        last = i
        doc.from_array([SENT_START], flags.astype("uint64").reshape(-1, 1))
        return doc

    def to_disk(self, path, exclude=()) -> None:  # noqa: ANN001 - spaCy's serialization protocol
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "cfg.json").write_text(json.dumps({"max_tokens": self.max_tokens}))

    def from_disk(self, path, exclude=()):  # noqa: ANN001, ANN201
        self.max_tokens = json.loads((Path(path) / "cfg.json").read_text())["max_tokens"]
        return self


@Language.factory("stemcheck_claims", default_config={"min_tokens": 3})
def make_claims(nlp: Language, name: str, min_tokens: int) -> ClaimSpans:
    return ClaimSpans(min_tokens=min_tokens)


class ClaimSpans:
    """Every sentence with enough words is a claim candidate; the classifier decides what it claims.

    Leading bullets and trailing space are trimmed so offsets point at the words a reader sees.
    """

    def __init__(self, min_tokens: int = 3) -> None:
        self.min_tokens = min_tokens

    def __call__(self, doc: Doc) -> Doc:
        arr = doc.to_array([SENT_START, IS_ALPHA, IS_SPACE, ORTH])
        starts = numpy.flatnonzero(arr[:, 0] == 1).tolist() + [len(doc)]
        alpha = numpy.concatenate([[0], numpy.cumsum(arr[:, 1])])
        skip = (arr[:, 2] == 1) | numpy.isin(arr[:, 3], _BULLET_HASHES)
        space = arr[:, 2] == 1
        spans = []
        for start, end in zip(starts, starts[1:], strict=False):
            while start < end and skip[start]:
                start += 1
            while end > start and space[end - 1]:
                end -= 1
            if alpha[end] - alpha[start] >= self.min_tokens:
                spans.append(Span(doc, start, end, label="CLAIM"))
        doc.spans[CLAIMS_KEY] = spans
        return doc

    def to_disk(self, path, exclude=()) -> None:  # noqa: ANN001
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "cfg.json").write_text(json.dumps({"min_tokens": self.min_tokens}))

    def from_disk(self, path, exclude=()):  # noqa: ANN001, ANN201
        self.min_tokens = json.loads((Path(path) / "cfg.json").read_text())["min_tokens"]
        return self


@Language.factory("stemcheck_context", default_config={"terms": {}, "window": 5})
def make_context(nlp: Language, name: str, terms: dict, window: int) -> ContextMarker:
    return ContextMarker(terms=terms, window=window)


class ContextMarker:
    """Marks cues as negated and claims as hedged or reported speech, and keeps the words that decided it.

    negspacy-style term lists as data, but three contexts instead of one. A claim is reported (the page
    quotes or describes it rather than making it) when it carries an attribution phrase ("according to",
    "advertised as", "falsely"), or a reporting verb with a third-party speaker ("the FDA warned", "the
    clinic claims") or with quotation marks around words that are not first-person testimony. Each
    decision is recorded in `span._.claim_context` as (kind, start_char, end_char) over the doc text.
    """

    def __init__(self, terms: dict | None = None, window: int = 5) -> None:
        self.window = window
        self._set_terms(terms or {})

    def _set_terms(self, terms: dict) -> None:
        self.terms = {k: list(v) for k, v in terms.items()}
        self._neg_h = _hashes(self.terms.get("negation", []))
        self._hedge_h = _hashes(self.terms.get("hedge", []))
        self._verbs_h = _hashes(self.terms.get("reported_verbs", []))
        self._quotes_h = _hashes(['"', "“", "”", "'", "‘", "’"])
        self._first_h = _hashes(["i", "my", "me", "i'm", "i've", "we", "our", "us"])
        self._subjects = [s.split() for s in self.terms.get("reported_subjects", [])]
        phrases = sorted(self.terms.get("attribution", []), key=len, reverse=True)
        self._attribution = (
            re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![\w-])", re.I)
            if phrases else None
        )

    def _subject(self, words: list[str]) -> tuple[int, int] | None:
        """A third-party speaker from the lexicon; "its website" or "their ads" stand for "the website"/"the ads"."""
        for subj in self._subjects:
            n = len(subj)
            for i in range(len(words) - n + 1):
                here = words[i : i + n]
                if here == subj or (subj[0] == "the" and here[0] in _THIRD_PARTY_POSSESSIVES and here[1:] == subj[1:]):
                    return i, i + n
        return None

    def __call__(self, doc: Doc) -> Doc:
        cues = sorted(doc.spans.get(CUES_KEY, []), key=lambda c: c.start)
        starts = [c.start for c in cues]
        lowers = doc.to_array(LOWER)
        hedged = numpy.isin(lowers, self._hedge_h)
        verbs = numpy.isin(lowers, self._verbs_h)
        quotes = numpy.isin(lowers, self._quotes_h)
        negs = numpy.isin(lowers, self._neg_h)
        first = numpy.isin(lowers, self._first_h)
        text = doc_text(doc)
        attributions = [(m.start(), m.end()) for m in self._attribution.finditer(text)] if self._attribution else []
        attr_starts = [a for a, _ in attributions]
        for claim in doc.spans.get(CLAIMS_KEY, []):
            a, b = claim.start, claim.end
            context: list[tuple[str, int, int]] = []
            hedge_at = numpy.flatnonzero(hedged[a:b])
            if len(hedge_at):
                tok = doc[a + int(hedge_at[0])]
                context.append(("hedge", tok.idx, tok.idx + len(tok.text)))
            claim._.claim_hedged = bool(len(hedge_at))
            inside = [cues[k] for k in range(bisect.bisect_left(starts, a), bisect.bisect_left(starts, b))
                      if cues[k].end <= b]
            reported = self._reported(doc, claim, verbs, quotes, first, attributions, attr_starts, inside)
            context.extend(reported)
            claim._.claim_reported = bool(reported)
            negated = False
            for k in range(bisect.bisect_left(starts, a), bisect.bisect_left(starts, b)):
                cue = cues[k]
                if cue.end <= b:
                    lo = max(a, cue.start - self.window)
                    hit = numpy.flatnonzero(negs[lo : cue.start])
                    cue._.claim_negated = bool(len(hit))
                    if len(hit):
                        tok = doc[lo + int(hit[-1])]
                        context.append(("negation", tok.idx, tok.idx + len(tok.text)))
                    negated = negated or cue._.claim_negated
            claim._.claim_negated = negated
            claim._.claim_context = context
        return doc

    def _reported(self, doc: Doc, claim: Span, verbs, quotes, first, attributions, attr_starts,  # noqa: ANN001
                  cues: list[Span]) -> list[tuple[str, int, int]]:
        """The (kind, start, end) triggers that make a claim reported speech; empty when it is the page's own."""
        a, b = claim.start, claim.end
        lo_char, hi_char = claim.start_char, claim.end_char
        i = bisect.bisect_left(attr_starts, lo_char)
        if i < len(attributions) and attributions[i][1] <= hi_char:
            return [("reported", *attributions[i])]
        for cue in cues:  # scare quotes: a claim word the page holds at arm's length ("cure", 'miracle')
            if a < cue.start and cue.end < b and quotes[cue.start - 1] and quotes[cue.end] and cue.end - cue.start <= 3:
                return [("reported", doc[cue.start - 1].idx, doc[cue.end].idx + 1)]
        verb_at = numpy.flatnonzero(verbs[a:b])
        if not len(verb_at):
            return []
        verb = doc[a + int(verb_at[0])]
        found = [("reported", verb.idx, verb.idx + len(verb.text))]
        words = [t.lower_ for t in claim]
        subject = self._subject(words)
        if subject is not None:
            s0, s1 = doc[a + subject[0]], doc[a + subject[1] - 1]
            return [("reported", s0.idx, s1.idx + len(s1.text)), *found]
        quote_at = numpy.flatnonzero(quotes[a:b])
        if len(quote_at):
            inside = first[a + int(quote_at[0]) : a + int(quote_at[-1]) + 1] if len(quote_at) > 1 else first[a:b]
            if not inside.any():  # quoted first-person words are testimony, which the page may be offering
                q = doc[a + int(quote_at[0])]
                return [("reported", q.idx, q.idx + len(q.text)), *found]
        return []

    def to_disk(self, path, exclude=()) -> None:  # noqa: ANN001
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "terms.json").write_text(json.dumps({"terms": self.terms, "window": self.window}))

    def from_disk(self, path, exclude=()):  # noqa: ANN001, ANN201
        data = json.loads((Path(path) / "terms.json").read_text())
        self.window = data["window"]
        self._set_terms(data["terms"])
        return self


@Language.factory("stemcheck_regex", default_config={"patterns": []})
def make_regex(nlp: Language, name: str, patterns: list) -> RegexMarker:
    return RegexMarker(patterns=patterns)


class RegexMarker:
    """Case-sensitive acronyms, trial ids, money and percentages, found by regex over the text.

    spaCy's token Matcher walks every token in Python for each pattern and cost more than all phrase
    patterns together; these few patterns run as compiled regexes and become entities or cues.
    """

    def __init__(self, patterns: list | None = None) -> None:
        self._set(patterns or [])

    def _set(self, patterns: list) -> None:
        self.patterns = [dict(p) for p in patterns]
        self._compiled = [(p["kind"], p["label"], p.get("id", ""), re.compile(p["regex"])) for p in self.patterns]

    def __call__(self, doc: Doc) -> Doc:
        text = doc_text(doc)
        new_ents: list[Span] = []
        new_cues: list[Span] = []
        taken = None
        for kind, label, ent_id, rx in self._compiled:
            for m in rx.finditer(text):
                span = doc.char_span(m.start(), m.end(), label=label, alignment_mode="expand")
                if span is None or not len(span):
                    continue
                if kind == "cue":
                    new_cues.append(span)
                    continue
                if taken is None:  # token-level entity mask, read once and only when needed
                    taken = doc.to_array(ENT_IOB) != 2
                    taken &= doc.to_array(ENT_IOB) != 0
                if not taken[span.start : span.end].any():
                    new_ents.append(Span(doc, span.start, span.end, label=label, span_id=ent_id))
                    taken[span.start : span.end] = True
        if new_ents:
            doc.set_ents(new_ents, default="unmodified")
        if new_cues:
            doc.spans[CUES_KEY] = list(doc.spans.get(CUES_KEY, [])) + new_cues
        return doc

    def to_disk(self, path, exclude=()) -> None:  # noqa: ANN001
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "patterns.json").write_text(json.dumps(self.patterns))

    def from_disk(self, path, exclude=()):  # noqa: ANN001, ANN201
        self._set(json.loads((Path(path) / "patterns.json").read_text()))
        return self
