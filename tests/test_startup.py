"""Cold start: the package and the CLI import no heavy library before a command needs it, and the fast
pipeline load (the saved tokenizer is only re-read when it differs from the default) loads what was saved."""

from __future__ import annotations

import subprocess
import sys

import spacy

from detector.nlp.pipeline import build_nlp, load_nlp
from tests.conftest import CORPUS, ROOT

HEAVY = ("pandas", "scipy", "sklearn", "dask", "distributed", "fastapi", "spacy", "warcio")


def test_package_and_cli_import_no_heavy_library():
    code = ("import sys, detector, detector.cli; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_still_resolve():
    import detector

    assert detector.Detector.__name__ == "Detector" and callable(detector.scan) and callable(detector.check_text)


def test_saved_default_tokenizer_and_a_custom_one_both_load(tmp_path):
    nlp = build_nlp(CORPUS / "lexicons")
    nlp.to_disk(tmp_path / "plain")
    plain = load_nlp(tmp_path / "plain")
    text = "Dr. Smith's U.S. clinic can't wait: e-mail x@y.com!"
    assert [t.text for t in plain(text)] == [t.text for t in nlp(text)]
    assert plain.pipe_names == nlp.pipe_names
    nlp.tokenizer.add_special_case("stemcells", [{"ORTH": "stem"}, {"ORTH": "cells"}])
    nlp.to_disk(tmp_path / "custom")
    custom = load_nlp(tmp_path / "custom")
    assert [t.text for t in custom("stemcells")] == ["stem", "cells"]
    assert [t.text for t in spacy.blank("en")("stemcells")] == ["stemcells"]


def test_default_settings_do_not_import_pydantic_but_a_variable_is_still_read():
    code = ("import sys; from detector.settings import load_settings; s = load_settings({}); "
            "print('pydantic' in sys.modules, s.fetch.max_bytes); "
            "s = load_settings({'STEMCHECK_FETCH_MAX_BYTES': '1000000'}); "
            "print('pydantic' in sys.modules, s.fetch.max_bytes)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    first, second = out.stdout.split("\n")[:2]
    assert first.split()[0] == "False", "the defaults need no pydantic-settings"
    assert second == "True 1000000", "a STEMCHECK_* variable is read through pydantic-settings"
