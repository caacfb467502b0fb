"""stemcheck's spaCy components in anyone's pipeline: found through the `spacy_factories` entry points (no import
of ours first), each with working defaults from the lexicons bundled as package data."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from detector.nlp import lexicon

ROOT = Path(__file__).resolve().parent.parent


def _fresh(code: str) -> str:
    """Run code in a new interpreter, so nothing of ours is imported unless the code does it."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### stemcheck's spaCy components in your pipeline", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs_in_a_fresh_interpreter() -> None:
    code = readme_example()
    assert "import detector" not in code and "from detector" not in code
    out = _fresh(code + "\nimport sys\nprint('detector imported:', 'detector.nlp.components' in sys.modules)")
    assert "Our FDA-approved stem cells cure arthritis. | reported: False" in out
    assert "the clinic falsely claimed approval. | reported: True" in out
    assert "('FDA-approved', 'APPROVAL')" in out and "('arthritis', 'CONDITION')" in out
    assert "detector imported: True" in out, "spaCy itself loaded our factories through the entry points"


@pytest.mark.parametrize("name", lexicon.NAMES)
def test_bundled_lexicons_equal_the_corpus_lexicons(name: str) -> None:
    bundled = ROOT / "detector" / "nlp" / "lexicons" / name
    assert bundled.read_bytes() == (ROOT / "corpora" / "lexicons" / name).read_bytes(), (
        f"copy corpora/lexicons/{name} to detector/nlp/lexicons/ after editing it")


def test_saved_pipeline_loads_without_importing_us() -> None:
    path = ROOT / "models" / "nlp"
    if not (path / "config.cfg").is_file():
        pytest.skip("no bundled pipeline")
    out = _fresh(f"import spacy\nnlp = spacy.load({str(path)!r})\nprint(nlp.pipe_names)")
    assert "stemcheck_context" in out


def test_explicit_config_still_wins() -> None:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("stemcheck_sentencizer")
    nlp.add_pipe("stemcheck_regex", config={"patterns": []})
    nlp.add_pipe("stemcheck_claims")
    nlp.add_pipe("stemcheck_context", config={"terms": {"negation": ["never"]}})
    doc = nlp("According to the FDA, this is never a cure.")
    assert not doc.ents and not doc.spans["claims"][0]._.claim_reported
