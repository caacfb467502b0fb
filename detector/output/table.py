"""Scan results as tables: one row per page, one per site ranked by risk; CSV or Parquet by suffix."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from detector.categories import CATEGORIES, DISCLOSURE, RED_FLAGS
from detector.errors import InputError
from detector.guard import atomic_write
from detector.output.spreadsheet import defused
from detector.output.store import ResultStore

PAGE_COLUMNS = ["url", "site", "fetched_at", "status", "risk_score", "red_flag", *CATEGORIES, "top_evidence",
                "error", "title", "source", "item_key", "content_sha256", "model_sha256", "reused"]


def pages_frame(rows: list[dict]) -> pd.DataFrame:
    """One row per page, in input order; category counts as columns."""
    records = []
    for r in sorted(rows, key=lambda r: (r["seq"], r["item_key"])):
        cats = r.get("categories") or {}
        records.append({
            "url": r["url"], "site": r["site"], "fetched_at": r["fetched_at"], "status": r["status"],
            "risk_score": r["risk_score"], "red_flag": r["red_flag"], **{c: int(cats.get(c, 0)) for c in CATEGORIES},
            "top_evidence": r["top_evidence"], "error": r["error"], "title": r["title"], "source": r["source"],
            "item_key": r["item_key"], "content_sha256": r["content_sha256"], "model_sha256": r["model_sha256"],
            "reused": r.get("reused_from") is not None,
            "_groups": r.get("condition_groups") or [], "_products": r.get("products") or [],
            "_disclosure": bool(r.get("disclosure")),
        })
    frame = pd.DataFrame.from_records(records, columns=[*PAGE_COLUMNS, "_groups", "_products", "_disclosure"])
    frame["risk_score"] = frame["risk_score"].astype("Int64")
    frame["red_flag"] = frame["red_flag"].astype("boolean")
    return frame


def sites_frame(pages: pd.DataFrame, site_claims: dict[str, set[tuple[str, str]]]) -> pd.DataFrame:
    """Sites ranked by risk: score = worst page, with its categories over distinct claims."""
    out = []
    for site, group in pages.groupby("site", sort=False):
        analysed = group[group["status"] == "analysed"]
        worst = analysed.sort_values(["risk_score", "url"], ascending=[False, True]).head(1)
        counts = {c: 0 for c in CATEGORIES}
        for _text, cat in site_claims.get(site, ()):
            counts[cat] += 1
        out.append({
            "site": site, "risk_score": int(worst["risk_score"].iloc[0]) if len(worst) else 0,
            "pages": len(group), "analysed": len(analysed), "red_flag_pages": int(analysed["red_flag"].sum()),
            "worst_page": worst["url"].iloc[0] if len(worst) else None,
            "categories": ", ".join(f"{c}={n}" for c, n in counts.items() if n and c in RED_FLAGS),
            **{c: counts[c] for c in CATEGORIES},
            "condition_groups": ", ".join(sorted({g for gs in analysed["_groups"] for g in gs})),
            "products": ", ".join(sorted({p for ps in analysed["_products"] for p in ps})),
            "disclosure": bool(analysed["_disclosure"].any()) or counts[DISCLOSURE] > 0,
        })
    frame = pd.DataFrame(out, columns=["site", "risk_score", "pages", "analysed", "red_flag_pages", "worst_page",
                                       "categories", *CATEGORIES, "condition_groups", "products", "disclosure"])
    return frame.sort_values(["risk_score", "red_flag_pages", "site"], ascending=[False, False, True],
                             ignore_index=True)


def pages_frame_from_store(store: ResultStore, run_id: int) -> pd.DataFrame:
    rows = []
    for r in store.page_rows(run_id):
        rows.append({
            "item_key": r["item_key"], "seq": r["seq"], "url": r["url"], "site": r["site"], "source": r["source"],
            "fetched_at": r["fetched_at"], "status": r["status"], "risk_score": r["risk_score"],
            "red_flag": None if r["red_flag"] is None else bool(r["red_flag"]), "title": r["title"],
            "top_evidence": r["top_evidence"], "error": r["error"], "categories": json.loads(r["categories"] or "{}"),
            "content_sha256": r["content_sha256"], "model_sha256": r["model_sha256"], "reused_from": r["reused_from"],
            "condition_groups": json.loads(r["condition_groups"] or "[]"),
            "products": json.loads(r["products"] or "[]"), "disclosure": bool(r["disclosure"]),
        })
    return pages_frame(rows)


def sites_frame_from_store(store: ResultStore, run_id: int) -> pd.DataFrame:
    pages = pages_frame_from_store(store, run_id)
    return sites_frame(pages, store.run_claims(run_id))


def public(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without the helper columns used to build the site table."""
    return frame.drop(columns=[c for c in frame.columns if c.startswith("_")])


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """CSV or Parquet by suffix, written whole (a temporary file beside it, renamed when complete) or not at
    all. CSV cells that a spreadsheet would run as formulas are defused; a failed write is an OutputError."""
    frame = public(frame)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError(f"{path}: output must end in .csv or .parquet")
    with atomic_write(path, "wb") as fh:
        if suffix == ".parquet":
            frame.to_parquet(fh, index=False)
        else:
            defused(frame).to_csv(fh, index=False, encoding="utf-8", errors="backslashreplace")
