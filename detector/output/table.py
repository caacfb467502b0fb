"""Scan results as tables: one row per page, one per site ranked by risk; CSV or Parquet by suffix."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from detector.categories import CATEGORIES, RED_FLAGS
from detector.errors import InputError
from detector.guard import atomic_write
from detector.output.spreadsheet import defused
from detector.output.store import ResultStore
from detector.scoring.page import normalise
from detector.scoring.site import PageSummary, score_site

PAGE_COLUMNS = ["url", "site", "fetched_at", "status", "risk_score", "red_flag", "label", *CATEGORIES, "top_evidence",
                "error", "title", "source", "item_key", "content_sha256", "model_sha256", "reused"]


def pages_frame(rows: list[dict]) -> pd.DataFrame:
    """One row per page, in input order; category counts as columns."""
    records = []
    for r in sorted(rows, key=lambda r: (r["seq"], r["item_key"])):
        cats = r.get("categories") or {}
        records.append({
            "url": r["url"], "site": r["site"], "fetched_at": r["fetched_at"], "status": r["status"],
            "risk_score": r["risk_score"], "red_flag": r["red_flag"], "label": r.get("label") or "",
            **{c: int(cats.get(c, 0)) for c in CATEGORIES},
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


SITE_COLUMNS = ["site", "risk_score", "label", "pages", "analysed", "red_flag_pages", "worst_page", "categories",
                *CATEGORIES, "condition_groups", "products", "disclosure"]


def sites_frame(pages: pd.DataFrame, site_claims: dict[str, set[tuple[str, str]]]) -> pd.DataFrame:
    """Sites ranked by risk through the one site verdict (scoring.site.score_site)."""
    out = []
    for site, group in pages.groupby("site", sort=False):
        read = group[group["status"] != "skipped"]
        # dict rows: itertuples renames the underscore columns, which would hide them
        summaries = [
            PageSummary(r["url"], r["status"] == "analysed", None if pd.isna(r["risk_score"]) else int(r["risk_score"]),
                        bool(r["red_flag"]) if not pd.isna(r["red_flag"]) else False, set(), list(r["_groups"]),
                        list(r["_products"]), bool(r["_disclosure"]))
            for r in read.to_dict("records")
        ]
        if summaries:
            summaries[0].claims = {(normalise(t), c) for t, c in site_claims.get(site, ())}
        v = score_site(summaries)
        out.append({
            "site": site, "risk_score": v.risk_score, "label": v.label, "pages": v.pages, "analysed": v.analysed,
            "red_flag_pages": v.red_flag_pages, "worst_page": v.worst_page,
            "categories": ", ".join(f"{c}={n}" for c, n in v.categories.items() if n and c in RED_FLAGS),
            **{c: v.categories[c] for c in CATEGORIES},
            "condition_groups": ", ".join(v.condition_groups), "products": ", ".join(v.products),
            "disclosure": v.disclosure,
        })
    frame = pd.DataFrame(out, columns=SITE_COLUMNS)
    return frame.sort_values(["risk_score", "red_flag_pages", "site"], ascending=[False, False, True],
                             ignore_index=True)


def pages_frame_from_store(store: ResultStore, run_id: int) -> pd.DataFrame:
    rows = []
    for r in store.page_rows(run_id):
        rows.append({
            "item_key": r["item_key"], "seq": r["seq"], "url": r["url"], "site": r["site"], "source": r["source"],
            "fetched_at": r["fetched_at"], "status": r["status"], "risk_score": r["risk_score"],
            "red_flag": None if r["red_flag"] is None else bool(r["red_flag"]), "label": r["label"],
            "title": r["title"],
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
