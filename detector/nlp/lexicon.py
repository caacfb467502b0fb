"""The lexicons bundled with the package: the default term lists and patterns of our spaCy factories.

corpora/lexicons/ is where they are edited and what training reads; detector/nlp/lexicons/ is the installed
copy, so `nlp.add_pipe("stemcheck_cues")` works in anyone's pipeline without the repository (a test keeps the
two identical).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

NAMES = ("context.json", "cues.jsonl", "entities.jsonl", "regex.json")


def _text(name: str) -> str:
    return files("detector.nlp").joinpath("lexicons", name).read_text(encoding="utf-8")


@cache
def _json(name: str) -> Any:
    return json.loads(_text(name))


@cache
def _jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in _text(name).splitlines() if line.strip()]


def context_terms() -> dict:
    return {k: list(v) for k, v in _json("context.json").items()}


def regex_patterns() -> list[dict]:
    return [dict(p) for p in _json("regex.json")["patterns"]]


def cue_patterns() -> list[dict]:
    return [dict(p) for p in _jsonl("cues.jsonl")]


def entity_patterns() -> list[dict]:
    return [dict(p) for p in _jsonl("entities.jsonl")]
