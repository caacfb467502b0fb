"""The notebooks run top to bottom on bundled data, quickly, with no stored outputs; and their helpers are right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.categories import CATEGORIES, RED_FLAGS
from detector.lab import analysis
from detector.lab.corpus import PageRecord
from detector.lab.evaluate import corpus_eval_pages, page_metrics, sentence_metrics

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpora"
NOTEBOOKS = ["01-corpus-overview.ipynb", "02-model-evaluation.ipynb", "03-triage-a-scan.ipynb",
             "04-claims-over-time.ipynb"]
CELL_TIMEOUT = 900  # a hang guard only: speed is measured in benchmarks/, never asserted here


# -- the notebooks themselves ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name: str) -> None:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: outputs are stored in git; clear them"
            assert cell.execution_count is None, f"{name}: execution counts are stored in git; clear them"


def test_notebooks_run_top_to_bottom(monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("matplotlib")
    pytest.importorskip("ipykernel")
    monkeypatch.delenv(analysis.REALWORLD_ENV, raising=False)
    for name in NOTEBOOKS:
        path = ROOT / "notebooks" / name
        nb = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                         resources={"metadata": {"path": str(path.parent)}})
        client.execute()  # raises CellExecutionError naming the cell on any error
        images = sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
                     for out in cell.outputs)
        assert images >= 3, f"{name}: expected its plots to render"


def test_evaluation_notebook_skips_missing_realworld_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A user's clone has no ../shared: the real-world cells print a note instead of failing."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv(analysis.REALWORLD_ENV, str(tmp_path / "absent.jsonl"))
    path = ROOT / "notebooks" / "02-model-evaluation.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    printed = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "Real-world dev set not found" in printed


# -- analysis helpers on the bundled model -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def test_scores(detector) -> pd.DataFrame:  # noqa: ANN001
    return analysis.sentence_scores(detector, CORPUS, "test")


def test_sentence_scores_match_stemcheck_evaluate(detector, test_scores: pd.DataFrame) -> None:  # noqa: ANN001
    official = sentence_metrics(detector, CORPUS, "test")
    table = analysis.category_table(test_scores, n_boot=50)
    assert len(test_scores) == official["rows"]
    for name in [*CATEGORIES, analysis.MICRO]:
        for measure in ("precision", "recall", "f1"):
            assert table.loc[name, measure] == official["model"][name][measure]
            assert table.loc[name, f"keyword_{measure}"] == official["keyword_baseline"][name][measure]
        assert table.loc[name, f"{measure}_low"] <= table.loc[name, measure] <= table.loc[name, f"{measure}_high"]


def test_page_scores_sum_to_the_aggregate_figures(detector) -> None:  # noqa: ANN001
    pages = corpus_eval_pages(CORPUS)
    official = page_metrics(detector, pages)
    frame = analysis.page_scores(detector, pages)
    table = analysis.page_table(frame, n_boot=50)
    assert table.loc["roc_auc", "model"] == official["model"]["roc_auc"]
    assert table.loc["roc_auc", "keyword_baseline"] == official["keyword_baseline"]["roc_auc"]
    assert table.loc["average_precision", "model"] == official["model"]["average_precision"]
    assert frame["flagged"].sum() == official["model"]["flagged_sentences"]
    assert frame["gold"].sum() == official["model"]["gold_sentences"]
    assert table.loc["sentence_precision", "model"] == official["model"]["sentence_precision"]
    assert table.loc["sentence_recall", "model"] == official["model"]["sentence_recall"]


def test_worst_errors_are_errors_ranked_by_margin(test_scores: pd.DataFrame) -> None:
    worst = analysis.worst_sentence_errors(test_scores, k=10)
    assert 0 < len(worst) <= 10
    assert worst["margin"].is_monotonic_decreasing
    assert (worst["margin"] >= 0).all()
    for _, row in worst.iterrows():
        gold = row["category"] in row["gold_labels"].split(", ")
        assert gold == (row["kind"] == "missed")


def test_confusion_rows_and_calibration_bins_add_up(test_scores: pd.DataFrame) -> None:
    conf = analysis.category_confusion(test_scores)
    y = analysis.label_matrix(test_scores)
    # A sentence with g gold labels and m predicted labels adds g*m (with "(none)" counting as one) pairs.
    pairs = sum(max(1, a) * max(1, b) for a, b in zip(y.sum(axis=1), analysis.label_matrix(
        test_scores, "pred").sum(axis=1), strict=True))
    assert conf.to_numpy().sum() == pairs
    bins = analysis.calibration_bins(test_scores)
    assert bins["count"].sum() == len(test_scores) * len(RED_FLAGS)
    assert 0 <= analysis.expected_calibration_error(bins) <= 1


# -- analysis helpers on tables of cases --------------------------------------------------------------------------
def _scores(rows: list[tuple[str, dict[str, int], dict[str, float]]], threshold: float = 0.5) -> pd.DataFrame:
    """A tiny sentence_scores-shaped frame: (doc, gold labels, probabilities) per row."""
    records = []
    for i, (doc, gold, proba) in enumerate(rows):
        rec = {"id": f"s{i}", "doc": doc, "text": f"sentence {i}", "register": "marketing", "split": "test",
               "file": "x.jsonl", "labels": [c for c, v in gold.items() if v], "reported_categories": []}
        for cat in CATEGORIES:
            p = proba.get(cat, 0.0)
            rec[cat] = gold.get(cat, 0)
            rec[f"p_{cat}"] = p
            rec[f"pred_{cat}"] = int(p >= threshold)
            rec[f"kw_{cat}"] = 0
        records.append(rec)
    frame = pd.DataFrame(records)
    frame.attrs["thresholds"] = dict.fromkeys(CATEGORIES, threshold)
    return frame


@pytest.mark.parametrize(("gold", "proba", "cell"), [
    ({"risk_denial": 1}, {"risk_denial": 0.9}, ("risk_denial", "risk_denial")),
    ({"risk_denial": 1}, {}, ("risk_denial", analysis.NO_LABEL)),
    ({}, {"cure_all": 0.7}, (analysis.NO_LABEL, "cure_all")),
    ({}, {}, (analysis.NO_LABEL, analysis.NO_LABEL)),
    ({"efficacy_overclaim": 1}, {"guaranteed_results": 0.8}, ("efficacy_overclaim", "guaranteed_results")),
])
def test_category_confusion_cases(gold: dict, proba: dict, cell: tuple[str, str]) -> None:
    conf = analysis.category_confusion(_scores([("d", gold, proba)]))
    assert conf.loc[cell] == 1
    assert conf.to_numpy().sum() == 1


@pytest.mark.parametrize(("kind", "category", "p"), [
    ("false positive", "cure_all", 0.95),
    ("missed", "risk_denial", 0.05),
])
def test_worst_sentence_errors_cases(kind: str, category: str, p: float) -> None:
    gold = {} if kind == "false positive" else {category: 1}
    frame = _scores([("d1", gold, {category: p}), ("d2", {}, {}), ("d3", {"cure_all": 1}, {"cure_all": 0.9})])
    worst = analysis.worst_sentence_errors(frame, k=5)
    assert list(worst["kind"]) == [kind]
    assert worst.loc[0, "category"] == category
    assert worst.loc[0, "margin"] == pytest.approx(0.45)


@pytest.mark.parametrize(("p", "y", "expected"), [
    ([0.05, 0.05, 0.95, 0.95], [0, 0, 1, 1], 0.05),  # confident and right: gap 0.05 in both bins
    ([0.95, 0.95], [0, 0], 0.95),  # confident and wrong
    ([0.5, 0.5], [0, 1], 0.0),  # says 50%, is right half the time
])
def test_expected_calibration_error_cases(p: list[float], y: list[int], expected: float) -> None:
    frame = _scores([(f"d{i}", {"cure_all": yi}, {"cure_all": pi}) for i, (pi, yi) in enumerate(zip(p, y,
                                                                                                    strict=True))])
    bins = analysis.calibration_bins(frame, categories=["cure_all"])
    assert analysis.expected_calibration_error(bins) == pytest.approx(expected)


def test_category_table_bootstrap_resamples_documents() -> None:
    # Two documents: one all right, one all wrong. Resampling documents gives F1 of 0, 0.67 or 1 only.
    rows = [("good", {"cure_all": 1}, {"cure_all": 0.9})] * 5 + [("bad", {"cure_all": 1}, {})] * 5
    table = analysis.category_table(_scores(rows), n_boot=200)
    assert table.loc["cure_all", "f1"] == pytest.approx(0.667, abs=1e-3)
    assert table.loc["cure_all", "f1_low"] == 0.0
    assert table.loc["cure_all", "f1_high"] == 1.0
    assert table.loc["cure_all", "support"] == 10


@pytest.mark.parametrize(("y", "s", "auc"), [
    ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0),
    ([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], 0.0),
    ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),
    ([0, 1, 1], [0.2, 0.2, 0.9], 0.75),
])
def test_rank_auc_equals_sklearn(y: list[int], s: list[float], auc: float) -> None:
    from sklearn.metrics import roc_auc_score

    assert analysis._auc(np.array(y), np.array(s)) == pytest.approx(auc)
    assert analysis._auc(np.array(y), np.array(s)) == pytest.approx(roc_auc_score(y, s))


def test_bootstrap_ci_cases() -> None:
    values = np.arange(100, dtype=float)
    lo, hi = analysis.bootstrap_ci(lambda idx: float(values[idx].mean()), 100, n_boot=500, seed=1)
    assert lo < 49.5 < hi
    assert analysis.bootstrap_ci(lambda idx: float(values[idx].mean()), 100, n_boot=50, seed=3) == \
        analysis.bootstrap_ci(lambda idx: float(values[idx].mean()), 100, n_boot=50, seed=3)
    assert np.isnan(analysis.bootstrap_ci(lambda idx: float("nan"), 10, n_boot=20)[0])
    assert np.isnan(analysis.bootstrap_ci(lambda idx: 1.0, 0)[0])


def _pages(rows: list[tuple[bool, int, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"id": f"p{i}", "red_flag_page": g, "risk_score": s, "keyword_score": k, "flagged": 2,
                          "gold": 2, "tp_flagged": 1, "tp_gold": 2, "false_positives": [], "missed": []}
                         for i, (g, s, k) in enumerate(rows)])


@pytest.mark.parametrize(("rows", "counts"), [
    ([(True, 80, 0.1), (False, 10, 0.5)], {"TP": 1, "FP": 0, "FN": 0, "TN": 1}),
    ([(True, 49, 0.1), (False, 50, 0.5)], {"TP": 0, "FP": 1, "FN": 1, "TN": 0}),
    ([(True, 50, 0.1)], {"TP": 1, "FP": 0, "FN": 0, "TN": 0}),
])
def test_verdict_counts_cases(rows: list, counts: dict) -> None:
    assert analysis.verdict_counts(_pages(rows)) == counts


def test_page_table_and_worst_pages_cases() -> None:
    frame = _pages([(True, 90, 0.1), (True, 5, 0.9), (False, 20, 0.2), (False, 60, 0.3)])
    table = analysis.page_table(frame, n_boot=100)
    assert table.loc["roc_auc", "model"] == 0.5
    assert table.loc["sentence_precision", "model"] == 0.5
    assert table.loc["sentence_recall", "model"] == 1.0
    assert table.loc["accuracy_at_50", "model"] == 0.5
    assert list(analysis.worst_page_errors(frame, k=2)["id"]) == ["p1", "p3"]
    roc = analysis.roc_points(frame)
    assert roc["fpr"].iloc[-1] == 1.0 and roc["tpr"].iloc[-1] == 1.0


@pytest.mark.parametrize(("name", "family"), [
    ("umbilical cord", "umbilical cord / cord blood / Wharton's jelly"),
    ("Wharton's jelly", "umbilical cord / cord blood / Wharton's jelly"),
    ("exosomes", "exosomes / secretome"),
    ("stromal vascular fraction", "fat-derived / SVF"),
    ("bone marrow concentrate", "bone marrow / BMAC"),
    ("mesenchymal stem cells", "MSC (source unstated)"),
    ("platelet-rich plasma", "PRP / orthobiologics"),
    ("placental", "amniotic / placental"),
    ("stem cell therapy", analysis.GENERIC_PRODUCT),
])
def test_product_family_cases(name: str, family: str) -> None:
    assert analysis.product_family(name) == family


def _sites() -> pd.DataFrame:
    base = {c: 0 for c in CATEGORIES}
    rows = [
        {"site": "a", "analysed": 1, "red_flag_pages": 1, "condition_groups": "musculoskeletal, neurological",
         "products": "umbilical cord, cord blood", **base, "efficacy_overclaim": 2, "risk_denial": 1},
        {"site": "b", "analysed": 1, "red_flag_pages": 0, "condition_groups": "musculoskeletal",
         "products": "", **base, "honest_disclosure": 1},
        {"site": "c", "analysed": 0, "red_flag_pages": 0, "condition_groups": "", "products": "", **base},
    ]
    return pd.DataFrame(rows)


def test_site_claim_shares_count_analysed_sites_only() -> None:
    shares = analysis.site_claim_shares(_sites())
    assert shares.attrs["analysed_sites"] == 2
    assert shares.loc["efficacy_overclaim", "sites"] == 1
    assert shares.loc["efficacy_overclaim", "share"] == 0.5
    assert shares.loc["honest_disclosure", "share"] == 0.5
    assert shares.loc["any red-flag claim", "sites"] == 1
    assert shares.loc["red-flag verdict", "sites"] == 1
    assert shares.loc["cure_all", "sites"] == 0


@pytest.mark.parametrize(("column", "group", "sites", "efficacy"), [
    ("condition_groups", "musculoskeletal", 2, 1),
    ("condition_groups", "neurological", 1, 1),
    ("products", "umbilical cord / cord blood / Wharton's jelly", 1, 1),  # two names, one family, counted once
    ("products", "(none named)", 1, 0),
])
def test_categories_by_cases(column: str, group: str, sites: int, efficacy: int) -> None:
    table = analysis.categories_by(_sites(), column)
    assert table.loc[group, "sites"] == sites
    assert table.loc[group, "efficacy_overclaim"] == efficacy


def test_top_sites_and_risk_bands() -> None:
    pages = pd.DataFrame({"url": ["u1", "u2"], "status": ["analysed", "analysed"], "risk_score": [90, 10],
                          "red_flag": [True, False], "title": ["T1", "T2"], "top_evidence": ["E1", ""]})
    sites = pd.DataFrame({
        "site": ["s1", "s2"], "risk_score": [90, 10], "pages": [1, 1], "red_flag_pages": [1, 0],
        "categories": ["efficacy_overclaim=1", ""], "condition_groups": ["", ""], "worst_page": ["u1", "u2"]})
    top = analysis.top_sites(pages, sites, k=1)
    assert list(top["site"]) == ["s1"] and top.loc[0, "top_evidence"] == "E1" and top.loc[0, "title"] == "T1"
    bands = analysis.risk_bands(pages)
    assert bands.loc["75-100", "red flag"] == 1 and bands.loc["0-24", "not red flag"] == 1
    assert bands.to_numpy().sum() == 2


def test_corpus_overview_tables() -> None:
    from detector.lab.corpus import load_pages, load_sentences

    sentences = load_sentences(CORPUS)
    counts = analysis.category_counts(sentences)
    assert list(counts.index) == list(CATEGORIES)
    assert (counts["total"] == sentences[list(CATEGORIES)].sum().to_numpy()).all()
    assert analysis.register_counts(sentences)["total"].sum() == len(sentences)
    assert analysis.labels_per_row(sentences).sum() == len(sentences)
    assert analysis.category_by_register(sentences).to_numpy().sum() == sentences[list(CATEGORIES)].to_numpy().sum()
    overview = analysis.page_overview(load_pages(CORPUS))
    assert len(overview) == len(load_pages(CORPUS))
    assert "US" not in set(overview["country"])  # aliases folded


@pytest.mark.parametrize(("sentences", "own", "reported"), [
    ([{"text": "a", "categories": ["cure_all"], "reported": False}], 1, 0),
    ([{"text": "a", "categories": ["cure_all"], "reported": True}], 0, 1),
    ([{"text": "a", "categories": ["honest_disclosure"], "reported": False}], 0, 0),
])
def test_page_overview_cases(sentences: list[dict], own: int, reported: int) -> None:
    rec = PageRecord(id="p", path=Path("p.html"), kind="clinic", red_flag_page=True, sentences=sentences,
                     country="UK")
    row = analysis.page_overview([rec]).iloc[0]
    assert row["red_flag_sentences"] == own
    assert row["reported_sentences"] == reported
    assert row["country"] == "United Kingdom"


def test_realworld_path_honours_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(analysis.REALWORLD_ENV, str(tmp_path / "x.jsonl"))
    assert analysis.realworld_path() == tmp_path / "x.jsonl"
    monkeypatch.delenv(analysis.REALWORLD_ENV)
    assert analysis.realworld_path(Path("/repo")) == Path("/shared/realworld-dev/pages.jsonl")
    assert (analysis.repo_root() / "corpora").is_dir()
