"""The spaCy stage: sentences, lexicon entities, claim cues and their context, as Claim records."""

from detector.nlp.pipeline import ClaimExtractor, build_nlp, load_nlp

__all__ = ["ClaimExtractor", "build_nlp", "load_nlp"]
