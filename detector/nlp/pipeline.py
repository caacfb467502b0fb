"""Build, save and run the spaCy claim pipeline; the only module that hands spaCy objects around."""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import Iterable
from pathlib import Path

import spacy
from spacy.language import Language

from detector.errors import ModelError
from detector.nlp import components  # noqa: F401 - registers our factories before any load
from detector.nlp.components import CLAIMS_KEY, CUES_KEY, TEXT_KEY, doc_text
from detector.records import Claim, Cue, Entity, Evidence, Page
from detector.settings import NlpSettings

log = logging.getLogger(__name__)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_nlp(lexicon_dir: Path, settings: NlpSettings | None = None) -> Language:
    """A blank English pipeline with our components, patterns read from the lexicon files."""
    cfg = settings or NlpSettings()
    nlp = spacy.blank("en")
    nlp.add_pipe("stemcheck_sentencizer", config={"max_tokens": cfg.max_sentence_tokens})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "validate": True})
    ruler.add_patterns(_read_jsonl(lexicon_dir / "entities.jsonl"))
    cues = nlp.add_pipe(
        "span_ruler", name="stemcheck_cues",
        config={"spans_key": CUES_KEY, "phrase_matcher_attr": "LOWER", "validate": True},
    )
    cues.add_patterns(_read_jsonl(lexicon_dir / "cues.jsonl"))
    regex = json.loads((lexicon_dir / "regex.json").read_text(encoding="utf-8"))["patterns"]
    nlp.add_pipe("stemcheck_regex", config={"patterns": regex})
    nlp.add_pipe("stemcheck_claims", config={"min_tokens": cfg.min_claim_tokens})
    terms = json.loads((lexicon_dir / "context.json").read_text(encoding="utf-8"))
    nlp.add_pipe("stemcheck_context", config={"terms": terms})
    return nlp


def load_nlp(path: Path) -> Language:
    """Load a pipeline saved with ``nlp.to_disk``; our factories are registered by the import above.

    spaCy builds the language's default tokenizer and then replaces its rules with the saved ones, adding
    some 1,300 special cases twice (a third of a cold check). When the saved rules are the defaults the
    pipeline was built with, the second pass is skipped; any other saved tokenizer is loaded as usual.
    """
    try:
        nlp = spacy.load(path, exclude=["tokenizer"])
        saved = path / "tokenizer"
        if saved.is_file() and not _same_tokenizer(nlp, saved):
            nlp.tokenizer.from_disk(saved, exclude=["vocab"])
        return nlp
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{path}: cannot load the spaCy pipeline ({exc})") from exc


def _same_tokenizer(nlp: Language, saved: Path) -> bool:
    import srsly

    try:
        on_disk = srsly.msgpack_loads(saved.read_bytes())
    except ValueError:
        return False
    current = srsly.msgpack_loads(nlp.tokenizer.to_bytes(exclude=["vocab"]))
    return {k: v for k, v in on_disk.items() if k != "vocab"} == current


class ClaimExtractor:
    """Turns a Page into Claim records (sentences with cues, entities and context flags)."""

    def __init__(self, nlp: Language, settings: NlpSettings | None = None) -> None:
        self.nlp = nlp
        self.settings = settings or NlpSettings()

    def _chunks(self, page: Page) -> Iterable[tuple[int, str, list[int], list[str], int]]:
        # Blocks are grouped into docs well under nlp.max_length (E088) and re-based to page offsets.
        limit = min(self.settings.chunk_chars, self.nlp.max_length - 1)
        offset = 0
        parts: list[str] = []
        starts: list[int] = []
        roles: list[str] = []
        chunk_start = 0
        first_block = 0
        size = 0
        for n, block in enumerate(page.blocks):
            text = block.text[:limit]
            if parts and size + len(text) + 2 > limit:
                yield chunk_start, "\n\n".join(parts), starts, roles, first_block
                parts, starts, roles, size = [], [], [], 0
                chunk_start, first_block = offset, n
            starts.append(size)
            roles.append(block.role)
            parts.append(text)
            size += len(text) + 2
            offset += len(block.text) + 2
        if parts:
            yield chunk_start, "\n\n".join(parts), starts, roles, first_block

    def _doc(self, text: str):  # noqa: ANN202
        doc = self.nlp.make_doc(text)
        doc.user_data[TEXT_KEY] = text
        return doc

    def extract(self, page: Page) -> list[Claim]:
        chunks = list(self._chunks(page))
        claims: list[Claim] = []
        docs = self.nlp.pipe(self._doc(text) for _, text, _, _, _ in chunks)
        for (base, _, starts, roles, first_block), doc in zip(chunks, docs, strict=True):
            claims.extend(self._claims(doc, base, starts, roles, first_block))
        return claims

    def single_claim(self, text: str, role: str = "text") -> Claim:
        """A labelled corpus row as one Claim, whatever the sentencizer makes of it: labels are per row."""
        doc = self.nlp(self._doc(text))
        parts = self._claims(doc, 0, [0], [role])
        claim = Claim(text=text, start=0, end=len(text), block_role=role)
        for part in parts:
            shift = part.start  # parts carry offsets into their own text; re-base them onto the row
            claim.cues += [Cue(c.label, c.text, c.negated, _add(c.start, shift), _add(c.end, shift)) for c in part.cues]
            claim.entities += [Entity(e.label, e.text, e.group, _add(e.start, shift), _add(e.end, shift))
                               for e in part.entities]
            claim.context += [Evidence(e.kind, e.text, _add(e.start, shift), _add(e.end, shift), e.label)
                              for e in part.context]
            claim.negated |= part.negated
            claim.hedged |= part.hedged
            claim.reported |= part.reported
        return claim

    def _claims(self, doc, base: int, starts: list[int], roles: list[str], first_block: int = 0) -> list[Claim]:  # noqa: ANN001
        # Cues and entities are swept in token order beside the claims: linear, not claims x cues.
        cues = sorted(doc.spans.get(CUES_KEY, []), key=lambda c: c.start)
        cue_starts = [c.start for c in cues]
        ents = list(doc.ents)
        ent_starts = [e.start for e in ents]
        text = doc_text(doc)
        out = []
        for span in doc.spans[CLAIMS_KEY]:
            a, z = span.start_char, span.end_char
            idx = max(bisect.bisect_right(starts, a) - 1, 0)
            ext = span._  # one Underscore per span
            claim = Claim(
                text=text[a:z],
                start=base + a,
                end=base + z,
                block=first_block + idx,
                block_role=roles[idx],
                negated=ext.claim_negated,
                hedged=ext.claim_hedged,
                reported=ext.claim_reported,
            )
            lo, hi = bisect.bisect_left(cue_starts, span.start), bisect.bisect_left(cue_starts, span.end)
            claim.cues = [  # text[...] is Span.text without rebuilding it token by token
                Cue(label=c.label_, text=text[c.start_char : c.end_char], negated=c._.claim_negated,
                    start=c.start_char - a, end=c.end_char - a)
                for c in cues[lo:hi] if c.end <= span.end
            ]
            lo, hi = bisect.bisect_left(ent_starts, span.start), bisect.bisect_left(ent_starts, span.end)
            claim.entities = [Entity(e.label_, text[e.start_char : e.end_char], e.ent_id_, e.start_char - a,
                                     e.end_char - a)
                              for e in ents[lo:hi] if e.end <= span.end]
            claim.context = [Evidence("context", text[s:e], s - a, e - a, label=kind)
                             for kind, s, e in (ext.claim_context or ())]
            out.append(claim)
        return out


def _add(value: int | None, shift: int) -> int | None:
    return None if value is None else value + shift
