"""Literal prefilters for regexes: the strings one of which must occur in any text the regex matches.

Python's `re` cannot skip ahead to a pattern that starts with `\\b` or an alternation, so each such pattern
walks every character of a page (3 ms a page for our sixteen). A substring test is a C search; when none of
a pattern's required literals is in the text, the regex cannot match and is not run. The literals are read
from the compiled pattern's parse tree, so they follow the lexicon, and a pattern whose literals cannot be
proven (case-insensitive parts, classes) simply has no prefilter.
"""

from __future__ import annotations

import logging
import re
from itertools import product

try:  # the parser behind re.compile; private, so any surprise means "no prefilter", never a wrong one
    from re import _constants as C  # noqa: N812
    from re import _parser as parser
except ImportError:  # pragma: no cover
    C = parser = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_MAX_SET = 64  # more alternatives than this are not worth testing one by one
_MAX_CLASS = 4  # [Oo] expands to "O" and "o"; bigger classes end a literal run


def required_literals(pattern: str) -> frozenset[str] | None:
    """Strings one of which occurs in every match of `pattern`, or None when none can be proven."""
    if parser is None:
        return None
    try:
        parsed = parser.parse(pattern)
        if parsed.state.flags & re.IGNORECASE:
            return None
        found = _required(list(parsed))
    except Exception:  # noqa: BLE001 - an unexpected tree: run the regex unfiltered
        log.debug("no literal prefilter for %r", pattern, exc_info=True)
        return None
    return minimal(found) if found and all(found) else None


def minimal(literals: set[str] | frozenset[str]) -> frozenset[str]:
    """Drop every literal that contains another: where the longer one occurs, so does the shorter."""
    ordered = sorted(set(literals), key=len)
    keep: list[str] = []
    for lit in ordered:
        if not any(k in lit for k in keep):
            keep.append(lit)
    return frozenset(keep)


def _exact(items: list) -> set[str] | None:
    """The finite set of strings a fully literal sequence matches, or None."""
    out = {""}
    for op, av in items:
        if op is C.LITERAL:
            piece = {chr(av)}
        elif op is C.IN and all(o is C.LITERAL for o, _ in av) and len(av) <= _MAX_CLASS:
            piece = {chr(v) for _, v in av}
        elif op is C.SUBPATTERN and not av[1] & re.IGNORECASE:
            piece = _exact(list(av[3]))
        elif op is C.BRANCH:
            piece = set()
            for branch in av[1]:
                sub = _exact(list(branch))
                if sub is None:
                    return None
                piece |= sub
        else:
            return None
        if piece is None or len(out) * len(piece) > _MAX_SET:
            return None
        out = {a + b for a, b in product(out, piece)}
    return out


def _required(items: list) -> set[str] | None:
    """The most selective literal set that every match of the sequence must contain."""
    candidates: list[set[str]] = []
    run: set[str] = {""}
    for op, av in items:
        piece = _exact([(op, av)])
        if piece is not None and len(run) * len(piece) <= _MAX_SET:
            run = {a + b for a, b in product(run, piece)}
            continue
        if all(run):
            candidates.append(run)
        run = {""}
        sub = _inner(op, av)
        if sub:
            candidates.append(sub)
    if all(run):
        candidates.append(run)
    if not candidates:
        return None
    return max(candidates, key=lambda s: (min(map(len, s)), -len(s)))


def _inner(op: object, av: object) -> set[str] | None:
    """What a non-literal item (group, alternation, repeat) requires."""
    if op is C.SUBPATTERN:
        return None if av[1] & re.IGNORECASE else _required(list(av[3]))  # type: ignore[index]
    if op is C.ATOMIC_GROUP:
        return _required(list(av))  # type: ignore[arg-type]
    if op is C.BRANCH:
        out: set[str] = set()
        for branch in av[1]:  # type: ignore[index]
            sub = _required(list(branch))
            if not sub or not all(sub):
                return None
            out |= sub
        return out if len(out) <= _MAX_SET else None
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and av[0] >= 1:  # type: ignore[index]
        return _required(list(av[2]))  # type: ignore[index]
    return None


def may_match(literals: frozenset[str] | None, text: str) -> bool:
    """False only when the regex behind `literals` certainly cannot match `text`."""
    return literals is None or any(lit in text for lit in literals)
