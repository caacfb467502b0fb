"""Our registered spaCy components. They are also `spacy_factories` entry points (pyproject.toml), so
`spacy.load("models/nlp")` and `nlp.add_pipe("stemcheck_cues")` work without importing this module first.

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
from spacy.pipeline import EntityRuler, SpanRuler
from spacy.strings import hash_string
from spacy.tokens import Doc, Span

from detector.nlp import lexicon
from detector.nlp.prefilter import may_match, minimal, required_literals

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


def _trie(phrases: list[str]) -> str:
    """An alternation of phrases with shared prefixes factored out: the regex tries one branch per letter
    instead of every phrase at every position. Longer continuations are tried before a phrase ends, which is
    the longest-first order of a plain alternation sorted by length, so the matches are the same."""
    root: dict = {}
    for phrase in phrases:
        node = root
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = "(?:" + "|".join(alts) + ")" if len(alts) > 1 or "" in node else alts[0]
        return body + "?" if "" in node else body

    return emit(root)


def _hashes(words) -> numpy.ndarray:  # noqa: ANN001
    return numpy.array([hash_string(w) for w in words], dtype="uint64")


_BULLET_HASHES = _hashes(_BULLETS)
_NEG, _HEDGE, _VERB, _QUOTE, _FIRST_P = 1, 2, 4, 8, 16
_QUOTES = ['"', "“", "”", "'", "‘", "’"]
_FIRST = ["i", "my", "me", "i'm", "i've", "we", "our", "us"]
_ODD_FOLD = re.compile("[\u0130\u0131\u017f]")  # İ ı ſ: re.I matches them to i, i, s; str.lower() does not

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


@Language.factory("stemcheck_context", default_config={"terms": None, "window": 5})
def make_context(nlp: Language, name: str, terms: dict | None, window: int) -> ContextMarker:
    """terms None: the bundled lists (detector/nlp/lexicons/context.json)."""
    return ContextMarker(terms=lexicon.context_terms() if terms is None else terms, window=window)


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
        marks = (("negation", _NEG), ("hedge", _HEDGE), ("reported_verbs", _VERB))
        table: dict[int, int] = {}
        for words, bit in [*((self.terms.get(k, []), b) for k, b in marks), (_QUOTES, _QUOTE), (_FIRST, _FIRST_P)]:
            for h in _hashes(words).tolist():
                table[h] = table.get(h, 0) | bit
        self._keys = numpy.array(sorted(table), dtype="uint64")
        self._masks = numpy.array([table[k] for k in sorted(table)], dtype="int64")
        self._by_first: dict[str, list[tuple[int, list[str]]]] = {}
        self._empty_subject = None
        for k, subj in enumerate(s.split() for s in self.terms.get("reported_subjects", [])):
            if not subj:
                self._empty_subject = k if self._empty_subject is None else self._empty_subject
                continue
            self._by_first.setdefault(subj[0], []).append((k, subj))
        phrases = sorted(self.terms.get("attribution", []), key=len, reverse=True)
        self._attribution = (
            re.compile(r"(?<![\w-])(?:" + _trie(phrases) + r")(?![\w-])", re.I) if phrases else None
        )
        # A case-insensitive match of an ASCII phrase is a substring of the lower-cased text, except where
        # the text holds one of the three characters re.I folds onto an ASCII letter that lower() does not.
        self._attr_literals = minimal({p.lower() for p in phrases}) if all(p.isascii() for p in phrases) else None

    def _may_attribute(self, text: str) -> bool:
        if self._attr_literals is None or _ODD_FOLD.search(text):
            return True
        low = text.lower()
        return any(p in low for p in self._attr_literals)

    def _marks(self, lowers: numpy.ndarray) -> numpy.ndarray:
        """Each token's term lists as bits, by one sorted lookup (five numpy.isin calls cost five sorts)."""
        if not len(self._keys):
            return numpy.zeros(len(lowers), dtype="int64")
        pos = numpy.minimum(numpy.searchsorted(self._keys, lowers), len(self._keys) - 1)
        return numpy.where(self._keys[pos] == lowers, self._masks[pos], 0)

    def _subject(self, words: list[str]) -> tuple[int, int] | None:
        """A third-party speaker from the lexicon; "its website" or "their ads" stand for "the website"/"the ads".

        The first listed subject that occurs wins (at its leftmost place), found by looking up each word
        rather than scanning the words once per subject.
        """
        best = (self._empty_subject, 0, 0) if self._empty_subject is not None else None
        for i, w in enumerate(words):
            found = self._by_first.get(w, [])
            if w in _THIRD_PARTY_POSSESSIVES:
                found = found + self._by_first.get("the", [])
            for k, subj in found:
                if best is not None and k >= best[0]:
                    continue
                here = words[i : i + len(subj)]
                if here == subj or (subj[0] == "the" and len(here) == len(subj) and here[0] in _THIRD_PARTY_POSSESSIVES
                                    and here[1:] == subj[1:]):
                    best = (k, i, i + len(subj))
        return None if best is None else (best[1], best[2])

    def __call__(self, doc: Doc) -> Doc:
        cues = sorted(doc.spans.get(CUES_KEY, []), key=lambda c: c.start)
        starts = [c.start for c in cues]
        marks = self._marks(doc.to_array(LOWER))
        hedged = (marks & _HEDGE) != 0
        verbs = (marks & _VERB) != 0
        quotes = (marks & _QUOTE) != 0
        negs = (marks & _NEG) != 0
        first = (marks & _FIRST_P) != 0
        hedge_sum = numpy.concatenate([[0], numpy.cumsum(hedged)]).tolist()  # "any in a:b" without numpy calls
        neg_sum = numpy.concatenate([[0], numpy.cumsum(negs)]).tolist()
        text = doc_text(doc)
        attributions = ([(m.start(), m.end()) for m in self._attribution.finditer(text)]
                        if self._attribution is not None and self._may_attribute(text) else [])
        attr_starts = [a for a, _ in attributions]
        for claim in doc.spans.get(CLAIMS_KEY, []):
            a, b = claim.start, claim.end
            ext = claim._  # one Underscore per span: each `._` access builds a new one
            context: list[tuple[str, int, int]] = []
            hedge_at = numpy.flatnonzero(hedged[a:b]) if hedge_sum[b] > hedge_sum[a] else ()
            if len(hedge_at):
                tok = doc[a + int(hedge_at[0])]
                context.append(("hedge", tok.idx, tok.idx + len(tok.text)))
            ext.claim_hedged = bool(len(hedge_at))
            lo_k, hi_k = bisect.bisect_left(starts, a), bisect.bisect_left(starts, b)
            inside = [cues[k] for k in range(lo_k, hi_k) if cues[k].end <= b]
            reported = self._reported(doc, claim, verbs, quotes, first, attributions, attr_starts, inside)
            context.extend(reported)
            ext.claim_reported = bool(reported)
            negated = False
            for cue in inside:
                lo = max(a, cue.start - self.window)
                hit = numpy.flatnonzero(negs[lo : cue.start]) if neg_sum[cue.start] > neg_sum[lo] else ()
                cue._.claim_negated = bool(len(hit))
                if len(hit):
                    tok = doc[lo + int(hit[-1])]
                    context.append(("negation", tok.idx, tok.idx + len(tok.text)))
                    negated = True
            ext.claim_negated = negated
            ext.claim_context = context
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


@Language.factory("stemcheck_regex", default_config={"patterns": None})
def make_regex(nlp: Language, name: str, patterns: list | None) -> RegexMarker:
    """patterns None: the bundled ones (detector/nlp/lexicons/regex.json)."""
    return RegexMarker(patterns=lexicon.regex_patterns() if patterns is None else patterns)


@Language.factory("stemcheck_cues", default_config={"patterns": None})
def make_cues(nlp: Language, name: str, patterns: list | None) -> SpanRuler:
    """Claim cues as a span ruler into doc.spans["cues"]; patterns None: the bundled cues.jsonl."""
    ruler = SpanRuler(nlp, name, spans_key=CUES_KEY, phrase_matcher_attr="LOWER", validate=True)
    ruler.add_patterns(lexicon.cue_patterns() if patterns is None else patterns)
    return ruler


@Language.factory("stemcheck_entities", default_config={"patterns": None})
def make_entities(nlp: Language, name: str, patterns: list | None) -> EntityRuler:
    """Cell products, conditions, regulators, trial terms as entities; patterns None: the bundled entities.jsonl."""
    ruler = EntityRuler(nlp, name, phrase_matcher_attr="LOWER", validate=True)
    ruler.add_patterns(lexicon.entity_patterns() if patterns is None else patterns)
    return ruler


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
        self._literals = {p["regex"]: required_literals(p["regex"]) for p in self.patterns}

    def __call__(self, doc: Doc) -> Doc:
        text = doc_text(doc)
        new_ents: list[Span] = []
        new_cues: list[Span] = []
        taken = None
        found: dict[str, list[tuple[int, int]]] = {}  # a regex shared by two patterns runs once
        for kind, label, ent_id, rx in self._compiled:
            spans = found.get(rx.pattern)
            if spans is None:
                spans = found[rx.pattern] = ([(m.start(), m.end()) for m in rx.finditer(text)]
                                             if may_match(self._literals[rx.pattern], text) else [])
            for start, end in spans:
                span = doc.char_span(start, end, label=label, alignment_mode="expand")
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
