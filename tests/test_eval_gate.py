"""Evaluation gate (after trafilatura's): fails when scores drop below the recorded minimums.

The recorded hashes make a silent change of the evaluation data fail loudly too: after a deliberate
corpus or model change, re-run `python -m detector.lab.gate --record` and commit the new record.
"""

import json

import pytest

from detector.digest import sha256_file
from detector.lab.evaluate import (
    corpus_eval_pages,
    page_metrics,
    realworld_pages,
    sentence_metrics,
)
from detector.lab.gate import GATE_FILE, split_sha256

from .conftest import CORPUS, REALWORLD

GATE = json.loads(GATE_FILE.read_text())


def test_corpus_test_split_is_the_recorded_one():
    assert split_sha256(CORPUS) == GATE["corpus_test_sha256"], "corpus test split changed: re-record the gate"


def test_corpus_sentence_scores(detector):
    m = sentence_metrics(detector, CORPUS, "test")["model"]
    assert m["micro_red_flags"]["f1"] >= GATE["minimums"]["corpus_micro_f1"]


def test_corpus_page_scores(detector):
    m = page_metrics(detector, corpus_eval_pages(CORPUS))["model"]
    assert m["roc_auc"] >= GATE["minimums"]["corpus_pages_roc_auc"]


@pytest.mark.skipif(not REALWORLD.is_file(), reason="../shared/realworld-dev not found: real-world gate skipped")
def test_realworld_scores(detector):
    assert sha256_file(REALWORLD) == GATE["realworld_sha256"], "real-world dev set changed: re-record the gate"
    m = page_metrics(detector, realworld_pages(REALWORLD))["model"]
    mins = GATE["minimums"]
    for key in ("roc_auc", "verdict_precision", "verdict_recall", "sentence_precision", "sentence_recall"):
        assert m[key] >= mins[f"realworld_{key}"], key
