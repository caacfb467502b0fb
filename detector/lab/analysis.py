"""Tables behind the notebooks and the model card, built on the package's own evaluation code.

Every figure here comes from the same calls as ``stemcheck evaluate`` (``detector.lab.evaluate``), kept per
sentence or per page so that it can be plotted, broken down and bootstrapped. The notebooks only plot and format
what these functions return.

Confidence intervals are percentile bootstrap intervals. Sentences are resampled by *document* (all sentences
of a document together), because sentences of one document are not independent; pages are resampled by page.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

from detector.categories import CATEGORIES, DISCLOSURE, RED_FLAGS
from detector.check import Detector
from detector.lab.baseline import keyword_labels
from detector.lab.corpus import PageRecord, load_sentences
from detector.lab.evaluate import LabelledPage, _baseline_page, _prf, made_predictions, page_metrics

SENTENCE_META = ["id", "doc", "text", "register", "split", "file", "labels", "reported_categories"]
MICRO = "micro_red_flags"
NO_LABEL = "(none)"

# Product families of the codebook ("What is sold"), matched on the lower-cased entity text the page scorer
# reports. The first family whose key word occurs wins; anything else is a generic stem-cell product.
PRODUCT_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("exosomes / secretome", ("exosome", "secretome", "growth factor", "conditioned")),
    ("umbilical cord / cord blood / Wharton's jelly", ("umbilical", "cord", "wharton")),
    ("amniotic / placental", ("amnio", "placent")),
    ("fat-derived / SVF", ("adipose", "fat", "stromal vascular", "svf")),
    ("bone marrow / BMAC", ("marrow", "bmac", "bma")),
    ("MSC (source unstated)", ("mesenchymal", "msc", "stromal")),
    ("PRP / orthobiologics", ("prp", "platelet", "orthobiologic", "biologic")),
)
GENERIC_PRODUCT = "stem cells (type unstated)"
REALWORLD_ENV = "STEMCHECK_NOTEBOOK_REALWORLD"
# Country spellings in the page index that name the same country.
COUNTRY_ALIASES = {"US": "United States", "USA": "United States", "U.S.": "United States", "UK": "United Kingdom",
                   "": "(none)"}


def repo_root() -> Path:
    """The source checkout holding ``corpora/`` and ``models/`` (the notebooks run on bundled data only)."""
    return Path(__file__).resolve().parents[2]


def realworld_path(root: Path | None = None) -> Path:
    """Where the real-world dev set is looked for: ``$STEMCHECK_NOTEBOOK_REALWORLD`` or ``../shared`` beside the repo.

    A user's clone has no ``../shared``; callers check ``is_file()`` and skip with a message.
    """
    override = os.environ.get(REALWORLD_ENV)
    if override:
        return Path(override)
    return (root or repo_root()).parent / "shared" / "realworld-dev" / "pages.jsonl"


# -- corpus overview ---------------------------------------------------------------------------------------------
def category_counts(sentences: pd.DataFrame) -> pd.DataFrame:
    """Positive sentences per category and split, with the rows that only *report* the category."""
    table = sentences.groupby("split")[list(CATEGORIES)].sum().T
    table = table.reindex(columns=[s for s in ("train", "dev", "test") if s in table.columns], fill_value=0)
    table["total"] = table.sum(axis=1)
    table["reported_only"] = [
        int(sum(cat in rep and cat not in lab for lab, rep in zip(sentences["labels"], sentences["reported_categories"],
                                                                    strict=True)))
        for cat in CATEGORIES
    ]
    table.index.name = "category"
    return table.astype(int)


def register_counts(sentences: pd.DataFrame) -> pd.DataFrame:
    """Rows per register and split, largest register first."""
    table = pd.crosstab(sentences["register"], sentences["split"])
    table = table.reindex(columns=[s for s in ("train", "dev", "test") if s in table.columns], fill_value=0)
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False)


def category_by_register(sentences: pd.DataFrame) -> pd.DataFrame:
    """Positive sentences per register (rows) and category (columns): where each category's examples come from."""
    return sentences.groupby("register")[list(CATEGORIES)].sum().loc[
        lambda t: t.sum(axis=1).sort_values(ascending=False).index
    ]


def labels_per_row(sentences: pd.DataFrame) -> pd.Series:
    """How many rows carry 0, 1, 2 or 3+ labels."""
    n = sentences["labels"].map(len).clip(upper=3)
    return n.value_counts().sort_index().rename(index={3: "3+"}).rename("rows")


def page_overview(pages: Sequence[PageRecord]) -> pd.DataFrame:
    """One row per annotated page: kind, country (aliases folded), split, page label and labelled sentences."""
    rows = []
    for p in pages:
        own = [s for s in p.sentences if not s.get("reported")]
        rows.append({
            "id": p.id, "kind": p.kind, "country": COUNTRY_ALIASES.get(p.country.strip(), p.country.strip()),
            "split": p.split, "red_flag_page": p.red_flag_page,
            "sentences": len(p.sentences),
            "red_flag_sentences": sum(bool(set(s["categories"]) & set(RED_FLAGS)) for s in own),
            "disclosure_sentences": sum(DISCLOSURE in s["categories"] for s in own),
            "reported_sentences": len(p.sentences) - len(own),
        })
    return pd.DataFrame(rows)


# -- sentence scores ---------------------------------------------------------------------------------------------
def sentence_scores(detector: Detector, corpus_dir: Path, split: str = "test") -> pd.DataFrame:
    """One row per corpus sentence of ``split``: gold labels, model probabilities and labels, keyword labels.

    Columns: the corpus metadata, then for each category ``c``: ``c`` (gold 0/1), ``p_c`` (calibrated
    probability), ``pred_c`` (model label at its threshold) and ``kw_c`` (keyword baseline). The thresholds ride
    along in ``attrs["thresholds"]``. The model labels equal ``evaluate.sentence_metrics``'s.
    """
    frame = load_sentences(corpus_dir)
    part = frame[frame["split"] == split].reset_index(drop=True)
    model = detector.bundle.claim_model
    claims = [detector.extractor.single_claim(t) for t in part["text"]]
    proba = model.predict_proba(claims) if claims else np.zeros((0, len(CATEGORIES)))
    pred = made_predictions(detector, claims)
    out = part[SENTENCE_META + list(CATEGORIES)].copy()
    for j, cat in enumerate(CATEGORIES):
        out[f"p_{cat}"] = proba[:, j]
        out[f"pred_{cat}"] = pred[:, j]
        out[f"kw_{cat}"] = [int(cat in keyword_labels(t)) for t in part["text"]]
    out.attrs["thresholds"] = {cat: float(t) for cat, t in zip(CATEGORIES, model.thresholds, strict=True)}
    return out


def label_matrix(scores: pd.DataFrame, prefix: str = "", categories: Sequence[str] = CATEGORIES) -> np.ndarray:
    """The (rows x categories) block of one kind of column: gold (``""``), ``"p"``, ``"pred"`` or ``"kw"``."""
    cols = [f"{prefix}_{c}" if prefix else c for c in categories]
    return scores[cols].to_numpy()


def _counts(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per row and category: (true positives, false positives, false negatives)."""
    return np.stack([(y == 1) & (pred == 1), (y == 0) & (pred == 1), (y == 1) & (pred == 0)], axis=-1).astype(float)


def _prf_from_counts(c: np.ndarray) -> np.ndarray:
    """Precision, recall, F1 from summed (tp, fp, fn) in the last axis; 0 where undefined, like sklearn's."""
    tp, fp, fn = c[..., 0], c[..., 1], c[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        r = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    return np.stack([p, r, f], axis=-1)


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float], n_units: int, *, n_boot: int = 1000, level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``statistic(indices)`` over ``n_boot`` resamples of ``n_units`` units with replacement.

    Resamples where the statistic is undefined (NaN, e.g. a ROC-AUC drawn with one class only) are dropped.
    """
    if n_units == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n_units, n_units)) for _ in range(n_boot)], dtype=float)
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def category_table(
    scores: pd.DataFrame, *, cluster: str = "doc", n_boot: int = 1000, level: float = 0.95, seed: int = 0,
) -> pd.DataFrame:
    """Per-category P/R/F1 of the model with bootstrap intervals (units: ``cluster``), beside the keyword baseline.

    Point figures come from ``evaluate._prf``, the function behind ``stemcheck evaluate``. The last row is the
    micro average over the eight red-flag categories.
    """
    y, pred, kw = label_matrix(scores), label_matrix(scores, "pred"), label_matrix(scores, "kw")
    model, base = _prf(y, pred), _prf(y, kw)
    groups = scores[cluster].to_numpy()
    keys, inverse = np.unique(groups, return_inverse=True)
    per_row = _counts(y, pred)  # rows x categories x 3
    per_unit = np.zeros((len(keys), *per_row.shape[1:]))
    np.add.at(per_unit, inverse, per_row)
    red = [CATEGORIES.index(c) for c in RED_FLAGS]

    def stat(j: int | None, k: int) -> Callable[[np.ndarray], float]:
        def f(idx: np.ndarray) -> float:
            summed = per_unit[idx].sum(axis=0)
            c = summed[red].sum(axis=0) if j is None else summed[j]
            return float(_prf_from_counts(c)[k])
        return f

    rows = []
    for name in [*CATEGORIES, MICRO]:
        j = None if name == MICRO else CATEGORIES.index(name)
        row = {"category": name, "support": int(y[:, red].sum()) if j is None else model[name]["support"]}
        for k, measure in enumerate(("precision", "recall", "f1")):
            lo, hi = bootstrap_ci(stat(j, k), len(keys), n_boot=n_boot, level=level, seed=seed)
            row[measure] = model[name][measure]
            row[f"{measure}_low"], row[f"{measure}_high"] = round(lo, 3), round(hi, 3)
        for measure in ("precision", "recall", "f1"):
            row[f"keyword_{measure}"] = base[name][measure]
        rows.append(row)
    return pd.DataFrame(rows).set_index("category")


# -- curves and calibration --------------------------------------------------------------------------------------
def pr_curves(scores: pd.DataFrame, categories: Sequence[str] = CATEGORIES) -> pd.DataFrame:
    """Precision-recall curve points per category (long format: category, threshold, precision, recall)."""
    parts = []
    for cat in categories:
        y, p = scores[cat].to_numpy(), scores[f"p_{cat}"].to_numpy()
        if y.sum() == 0:
            continue
        precision, recall, thresholds = precision_recall_curve(y, p)
        parts.append(pd.DataFrame({"category": cat, "threshold": np.append(thresholds, np.nan),
                                   "precision": precision, "recall": recall}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["category", "threshold", "precision", "recall"])


def operating_points(scores: pd.DataFrame, categories: Sequence[str] = CATEGORIES) -> pd.DataFrame:
    """Per category: average precision, the model's threshold and its P/R there, and the keyword baseline's P/R."""
    y, pred, kw = label_matrix(scores, "", categories), label_matrix(scores, "pred", categories), label_matrix(
        scores, "kw", categories)
    model, base = _prf_from_counts(_counts(y, pred).sum(axis=0)), _prf_from_counts(_counts(y, kw).sum(axis=0))
    rows = []
    for j, cat in enumerate(categories):
        has_pos = y[:, j].sum() > 0
        rows.append({
            "category": cat, "support": int(y[:, j].sum()),
            "average_precision": float(average_precision_score(y[:, j], scores[f"p_{cat}"])) if has_pos else np.nan,
            "threshold": scores.attrs.get("thresholds", {}).get(cat, np.nan),
            "precision": model[j, 0], "recall": model[j, 1],
            "keyword_precision": base[j, 0], "keyword_recall": base[j, 1],
        })
    return pd.DataFrame(rows).set_index("category")


def calibration_bins(
    scores: pd.DataFrame, categories: Sequence[str] = RED_FLAGS, n_bins: int = 10, by_category: bool = False,
) -> pd.DataFrame:
    """Reliability-diagram bins: mean predicted probability against the observed rate, per equal-width bin.

    Each (sentence, category) pair is one prediction. Pooled over ``categories`` unless ``by_category``.
    Empty bins are left out.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    groups: Iterable[tuple[str, list[str]]] = (
        [(c, [c]) for c in categories] if by_category else [("pooled", list(categories))]
    )
    rows = []
    for name, cats in groups:
        p = label_matrix(scores, "p", cats).ravel()
        y = label_matrix(scores, "", cats).ravel()
        which = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
        for b in range(n_bins):
            mask = which == b
            if mask.any():
                rows.append({"group": name, "bin": b, "lower": edges[b], "upper": edges[b + 1],
                             "mean_predicted": float(p[mask].mean()), "observed": float(y[mask].mean()),
                             "count": int(mask.sum())})
    return pd.DataFrame(rows, columns=["group", "bin", "lower", "upper", "mean_predicted", "observed", "count"])


def expected_calibration_error(bins: pd.DataFrame) -> float:
    """Count-weighted mean gap between predicted and observed rates over the bins of one group."""
    if bins.empty:
        return float("nan")
    w = bins["count"] / bins["count"].sum()
    return float((w * (bins["mean_predicted"] - bins["observed"]).abs()).sum())


def category_confusion(scores: pd.DataFrame, prefix: str = "pred", normalize: bool = False) -> pd.DataFrame:
    """Gold category (rows) against predicted category (columns), over sentences.

    A sentence adds one to every (gold label, predicted label) pair it has, and uses ``(none)`` when it has no
    gold or no predicted label, so the diagonal holds hits, the ``(none)`` column misses and the ``(none)`` row
    false alarms on unlabelled text. With ``normalize`` each row is divided by its gold-label sentence count.
    """
    names = [*CATEGORIES, NO_LABEL]
    table = pd.DataFrame(0, index=pd.Index(names, name="gold"), columns=pd.Index(names, name="predicted"))
    y, pred = label_matrix(scores), label_matrix(scores, prefix)
    for gold_row, pred_row in zip(y, pred, strict=True):
        gold = [CATEGORIES[j] for j in np.flatnonzero(gold_row)] or [NO_LABEL]
        made = [CATEGORIES[j] for j in np.flatnonzero(pred_row)] or [NO_LABEL]
        for g in gold:
            for m in made:
                table.loc[g, m] += 1
    if normalize:
        sizes = pd.Series({c: int(y[:, j].sum()) for j, c in enumerate(CATEGORIES)})
        sizes[NO_LABEL] = int((y.sum(axis=1) == 0).sum())
        table = table.div(sizes.replace(0, np.nan), axis=0).round(3)
    return table


def worst_sentence_errors(
    scores: pd.DataFrame, k: int = 8, categories: Sequence[str] = RED_FLAGS, kind: str | None = None,
) -> pd.DataFrame:
    """The most confident mistakes: false positives with the highest probability, misses with the lowest.

    One row per (sentence, category) error, ranked by how far the probability sits on the wrong side of the
    threshold; ``kind`` keeps only ``"false positive"`` or ``"missed"``.
    """
    thresholds = scores.attrs.get("thresholds", {})
    rows = []
    for cat in categories:
        t = thresholds.get(cat, 0.5)
        gold, made, p = scores[cat], scores[f"pred_{cat}"], scores[f"p_{cat}"]
        for label, mask, margin in (("false positive", (gold == 0) & (made == 1), p - t),
                                    ("missed", (gold == 1) & (made == 0), t - p)):
            for i in np.flatnonzero(mask.to_numpy()):
                r = scores.iloc[i]
                rows.append({"kind": label, "category": cat, "p": round(float(p.iloc[i]), 3), "threshold": round(t, 3),
                             "margin": round(float(margin.iloc[i]), 3), "gold_labels": ", ".join(r["labels"]) or "-",
                             "register": r["register"], "doc": r["doc"], "text": r["text"]})
    out = pd.DataFrame(rows, columns=["kind", "category", "p", "threshold", "margin", "gold_labels", "register",
                                      "doc", "text"])
    if kind is not None:
        out = out[out["kind"] == kind]
    return out.sort_values(["margin", "category"], ascending=[False, True]).head(k).reset_index(drop=True)


# -- pages -------------------------------------------------------------------------------------------------------
def page_scores(detector: Detector, pages: Sequence[LabelledPage]) -> pd.DataFrame:
    """One row per labelled page: gold label, risk score, keyword score and its sentence matches.

    Each page goes through ``evaluate.page_metrics`` on its own, so summing the count columns over pages gives
    exactly the aggregate figures ``stemcheck evaluate`` prints (``flagged``/``gold`` sentences and the matched
    ones: precision = tp_flagged / flagged, recall = tp_gold / gold).
    """
    rows = []
    for lp in pages:
        m = page_metrics(detector, [lp], keep_errors=1)
        err = m["worst_pages"][0]
        flagged, gold = m["model"]["flagged_sentences"], m["model"]["gold_sentences"]
        rows.append({
            "id": lp.id, "red_flag_page": bool(lp.red_flag), "risk_score": int(err["score"]),
            "keyword_score": float(_baseline_page(lp.page)[0]),
            "flagged": flagged, "gold": gold,
            "tp_flagged": flagged - len(err["false_positives"]), "tp_gold": gold - len(err["missed"]),
            "false_positives": err["false_positives"], "missed": err["missed"],
        })
    return pd.DataFrame(rows, columns=["id", "red_flag_page", "risk_score", "keyword_score", "flagged", "gold",
                                       "tp_flagged", "tp_gold", "false_positives", "missed"])


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic (ties count half): sklearn's value, fast enough to bootstrap."""
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _ap(y: np.ndarray, s: np.ndarray) -> float:
    return float(average_precision_score(y, s)) if len(set(y.tolist())) == 2 else float("nan")


def page_table(
    pages: pd.DataFrame, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0, cutoff: int = 50,
) -> pd.DataFrame:
    """Page-level figures of a ``page_scores`` frame with bootstrap intervals (pages resampled).

    Rows: ROC-AUC, average precision, sentence precision and recall (pooled over pages), and accuracy of the
    verdict ``risk_score >= cutoff``. The keyword column holds the baseline where it has a page score.
    """
    y = pages["red_flag_page"].to_numpy(dtype=int)
    s = pages["risk_score"].to_numpy(dtype=float)
    kw = pages["keyword_score"].to_numpy(dtype=float)
    c = pages[["tp_flagged", "flagged", "tp_gold", "gold"]].to_numpy(dtype=float)

    def ratio(num: int, den: int) -> Callable[[np.ndarray], float]:
        return lambda idx: float(c[idx, num].sum() / c[idx, den].sum()) if c[idx, den].sum() else float("nan")

    stats: dict[str, tuple[Callable[[np.ndarray], float], float]] = {
        "roc_auc": (lambda idx: _auc(y[idx], s[idx]), _auc(y, kw)),
        "average_precision": (lambda idx: _ap(y[idx], s[idx]), _ap(y, kw)),
        "sentence_precision": (ratio(0, 1), float("nan")),
        "sentence_recall": (ratio(2, 3), float("nan")),
        f"accuracy_at_{cutoff}": (lambda idx: float(((s[idx] >= cutoff) == y[idx]).mean()), float("nan")),
    }
    rows = []
    everything = np.arange(len(pages))
    for name, (fn, base) in stats.items():
        lo, hi = bootstrap_ci(fn, len(pages), n_boot=n_boot, level=level, seed=seed)
        rows.append({"measure": name, "model": round(fn(everything), 3) if len(pages) else float("nan"),
                     "low": round(lo, 3), "high": round(hi, 3), "keyword_baseline": round(base, 3)})
    return pd.DataFrame(rows).set_index("measure")


def verdict_counts(pages: pd.DataFrame, cutoff: int = 50) -> dict[str, int]:
    """True/false positives and negatives of the verdict ``risk_score >= cutoff`` against the page labels."""
    made = pages["risk_score"] >= cutoff
    gold = pages["red_flag_page"].astype(bool)
    return {"TP": int((made & gold).sum()), "FP": int((made & ~gold).sum()),
            "FN": int((~made & gold).sum()), "TN": int((~made & ~gold).sum())}


def roc_points(pages: pd.DataFrame, score: str = "risk_score") -> pd.DataFrame:
    """ROC curve points (fpr, tpr, threshold) of one page score column."""
    fpr, tpr, thr = roc_curve(pages["red_flag_page"].astype(int), pages[score])
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thr})


def worst_page_errors(pages: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Pages whose score sits furthest from their label (the ranking ``evaluate.page_metrics`` uses)."""
    out = pages.assign(error=(pages["risk_score"] / 100 - pages["red_flag_page"].astype(int)).abs())
    out = out.sort_values(["error", "id"], ascending=[False, True]).head(k)
    return out[["id", "red_flag_page", "risk_score", "error", "false_positives", "missed"]].reset_index(drop=True)


# -- batch scans -------------------------------------------------------------------------------------------------
def product_family(name: str) -> str:
    """The codebook product family of one reported product name (see ``PRODUCT_FAMILIES``)."""
    low = name.lower()
    for family, keys in PRODUCT_FAMILIES:
        if any(k in low for k in keys):
            return family
    return GENERIC_PRODUCT


def _split_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def site_claim_shares(sites: pd.DataFrame) -> pd.DataFrame:
    """Share of analysed sites with at least one claim of each category, plus any red flag and the verdict.

    ``sites`` is a scan's site table (``detector.scan(...).sites``); counts are over distinct claims a site makes.
    """
    live = sites[sites["analysed"] > 0]
    n = len(live)
    rows = [{"measure": c, "sites": int((live[c] > 0).sum())} for c in CATEGORIES]
    rows.append({"measure": "any red-flag claim", "sites": int((live[list(RED_FLAGS)].sum(axis=1) > 0).sum())})
    rows.append({"measure": "red-flag verdict", "sites": int((live["red_flag_pages"] > 0).sum())})
    out = pd.DataFrame(rows).set_index("measure")
    out["share"] = (out["sites"] / n).round(3) if n else np.nan
    out.attrs["analysed_sites"] = n
    return out


def categories_by(sites: pd.DataFrame, column: str = "condition_groups") -> pd.DataFrame:
    """Sites with at least one claim of each category, per condition group or product family.

    ``column`` is ``"condition_groups"`` or ``"products"`` (products are folded into ``PRODUCT_FAMILIES``).
    A site counts once under every group it names. The ``sites`` column counts sites naming the group.
    """
    rows = []
    for _, site in sites[sites["analysed"] > 0].iterrows():
        names = _split_list(site[column])
        keys = sorted({product_family(n) for n in names}) if column == "products" else sorted(set(names))
        for key in keys or ["(none named)"]:
            rows.append({"group": key, "sites": 1, **{c: int(site[c] > 0) for c in CATEGORIES}})
    if not rows:
        return pd.DataFrame(columns=["sites", *CATEGORIES])
    table = pd.DataFrame(rows).groupby("group").sum()
    return table.sort_values("sites", ascending=False)


def top_sites(frame: pd.DataFrame, sites: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The ``k`` riskiest sites of a scan (``result.pages``, ``result.sites``) with the title and strongest
    evidence of their worst page."""
    sites = sites.head(k)
    pages = frame.set_index("url")[["title", "top_evidence"]]
    out = sites[["site", "risk_score", "pages", "red_flag_pages", "categories", "condition_groups", "worst_page"]]
    out = out.join(pages, on="worst_page")
    return out.reset_index(drop=True)


def risk_bands(frame: pd.DataFrame, edges: Sequence[int] = (0, 25, 50, 75, 101)) -> pd.DataFrame:
    """Analysed pages per risk-score band, split by the red-flag verdict."""
    live = frame[frame["status"] == "analysed"]
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    band = pd.cut(live["risk_score"].astype(float), bins=list(edges), right=False, labels=labels)
    table = pd.crosstab(band, live["red_flag"].astype(bool)).reindex(index=labels, columns=[False, True], fill_value=0)
    table.columns = ["not red flag", "red flag"]
    table.index.name = "risk score"
    return table


def history_frames(history: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A `stemcheck history --format json` object as two tables: one row per snapshot (capture date, verdict,
    risk, claim count, a column per category) and one row per claim (first and last seen as dates).

    Dates are UTC timestamps, so both tables plot on one time axis; a snapshot that could not be read keeps
    its row with its reason and no score.
    """
    snaps = []
    for s in history["snapshots"]:
        row = {"date": pd.Timestamp(s["date"]), "timestamp": s["timestamp"], "status": s["status"],
               "verdict": s["verdict"], "risk_score": s["risk_score"], "claims": len(s["claims"]),
               "identical_captures": s["identical_captures"], "reason": s["reason"], "archive_url": s["archive_url"]}
        row.update({c: s["categories"].get(c, 0) for c in CATEGORIES})
        snaps.append(row)
    when = lambda ts: pd.Timestamp(f"{ts[:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z")  # noqa: E731
    claims = [{"id": c["id"], "text": c["text"], "categories": ", ".join(c["categories"]),
               "first_seen": when(c["first_seen"]), "last_seen": when(c["last_seen"]),
               "snapshots": len(c["snapshots"]), "still_present": c["still_present"],
               "reworded": len(c["wordings"]) - 1} for c in history["claims"]]
    columns = ["id", "text", "categories", "first_seen", "last_seen", "snapshots", "still_present", "reworded"]
    return pd.DataFrame(snaps), pd.DataFrame(claims, columns=columns)
