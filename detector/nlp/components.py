"""Our registered spaCy components. Import this module before loading a saved pipeline.

Term lists are data (corpora/lexicons/context.json), stored with the pipeline by to_disk/from_disk.
"""

from __future__ import annotations

import bisect
import json
from pathlib import Path

import numpy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc, Span

CLAIMS_KEY = "claims"
CUES_KEY = "cues"
_TERMINALS = {".", "!", "?", "…", "!!", "?!", "!!!", "..."}
_BULLETS = {"•", "·", "▪", "►", "✓", "✔", "➤", "-", "*", "–", "—", "|", "»", "◆", "■", "○", "●"}
_OPENERS = {'"', "“", "'", "‘", "(", "["}

for _name in ("claim_negated", "claim_hedged", "claim_reported"):
    if not Span.has_extension(_name):
        Span.set_extension(_name, default=False)


@Language.factory("stemcheck_sentencizer", default_config={"max_tokens": 80})
def make_sentencizer(nlp: Language, name: str, max_tokens: int) -> WebSentencizer:
    return WebSentencizer(max_tokens=max_tokens)


class WebSentencizer:
    """Sentence boundaries for web text: newlines, terminal punctuation, overlong runs.

    spaCy's rule sentencizer misses headings and bullet lists that have no final punctuation, which
    makes one 'sentence' of a whole menu; here every line break is a boundary.
    """

    def __init__(self, max_tokens: int = 80) -> None:
        self.max_tokens = max_tokens

    def __call__(self, doc: Doc) -> Doc:
        # Decide every boundary first, then write them in one from_array call: setting
        # token.is_sent_start one by one re-checks the whole doc each time (quadratic).
        flags = numpy.full(len(doc), -1, dtype="int64")
        run = 0
        start_next = True
        for tok in doc:
            text = tok.text
            if tok.is_space:
                if tok.i == 0:
                    flags[0] = 1
                if "\n" in text:
                    start_next = True
                continue
            if tok.i > 0 and "\n" in doc[tok.i - 1].whitespace_:
                start_next = True
            if not start_next and run >= self.max_tokens:
                start_next = True
            if start_next:
                flags[tok.i] = 1
            run = 0 if start_next else run + 1
            start_next = False
            if text in _TERMINALS or (len(text) > 1 and text[-1] in "!?" and not text[0].isalnum()):
                nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
                if nxt is not None and nxt.text in _OPENERS | {")", "]", "”", "’"}:
                    continue
                if nxt is None or nxt.is_space or not nxt.text[:1].islower() or text in {"!", "?"}:
                    start_next = True
            else:
                closes = text in {")", "]", "”", "’", '"'} and tok.i > 0 and doc[tok.i - 1].text in _TERMINALS
                start_next = closes or (text == ";" and run > self.max_tokens // 2)
        if len(doc):
            flags[0] = 1
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
        spans = []
        for sent in doc.sents:
            start, end = sent.start, sent.end
            while start < end and (doc[start].is_space or doc[start].text in _BULLETS):
                start += 1
            while end > start and doc[end - 1].is_space:
                end -= 1
            if sum(1 for t in doc[start:end] if t.is_alpha) >= self.min_tokens:
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
    """Marks cues as negated and claims as hedged or reported speech (negspacy-style, term lists as data).

    Written here rather than taken from negspacy because we need three contexts, not one, and the
    reported-speech rule needs a speaker (regulator, reporter, 'the clinic') as well as a verb.
    """

    def __init__(self, terms: dict | None = None, window: int = 5) -> None:
        self.window = window
        self._set_terms(terms or {})

    def _set_terms(self, terms: dict) -> None:
        self.terms = {k: list(v) for k, v in terms.items()}
        self._neg = set(self.terms.get("negation", []))
        self._hedge = set(self.terms.get("hedge", []))
        self._verbs = set(self.terms.get("reported_verbs", []))
        self._subjects = [s.split() for s in self.terms.get("reported_subjects", [])]

    def _has_subject(self, words: list[str]) -> bool:
        for subj in self._subjects:
            n = len(subj)
            for i in range(len(words) - n + 1):
                if words[i : i + n] == subj:
                    return True
        return False

    def __call__(self, doc: Doc) -> Doc:
        cues = sorted(doc.spans.get(CUES_KEY, []), key=lambda c: c.start)
        starts = [c.start for c in cues]
        lowers = [t.lower_ for t in doc]
        for claim in doc.spans.get(CLAIMS_KEY, []):
            words = lowers[claim.start : claim.end]
            claim._.claim_hedged = any(w in self._hedge for w in words)
            quoted = any(w in {'"', "“", "”"} for w in words)
            verb = any(w in self._verbs for w in words)
            claim._.claim_reported = verb and (quoted or self._has_subject(words))
            negated = False
            for k in range(bisect.bisect_left(starts, claim.start), bisect.bisect_left(starts, claim.end)):
                cue = cues[k]
                if cue.end <= claim.end:
                    lo = max(claim.start, cue.start - self.window)
                    cue._.claim_negated = any(w in self._neg for w in lowers[lo : cue.start])
                    negated = negated or cue._.claim_negated
            claim._.claim_negated = negated
        return doc

    def to_disk(self, path, exclude=()) -> None:  # noqa: ANN001
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "terms.json").write_text(json.dumps({"terms": self.terms, "window": self.window}))

    def from_disk(self, path, exclude=()):  # noqa: ANN001, ANN201
        data = json.loads((Path(path) / "terms.json").read_text())
        self.window = data["window"]
        self._set_terms(data["terms"])
        return self
