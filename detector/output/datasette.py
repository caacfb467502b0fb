"""Datasette metadata for a results store: what each table and column means, useful facets, and the view of the
latest verdict per site.

    datasette serve scans.sqlite --metadata docs/datasette/metadata.json

Datasette keys metadata by database name (the file name without `.sqlite`); for a store of another name,
`python -m detector.output.datasette NAME.sqlite > metadata.json` writes the same metadata for it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from detector.categories import CATEGORIES

_JSON = " (JSON text)"

_SITE_COLUMNS: dict[str, str] = {
    "run_id": "The run.",
    "site": "Registered domain.",
    "risk_score": "The worst page's score: a site is as risky as the worst thing it tells patients.",
    "pages": "Pages read: analysed, gated out, or read but not analysable (links never fetched are not "
             "pages).",
    "analysed": "Pages analysed.",
    "red_flag_pages": "Pages with a red-flag verdict.",
    "worst_page": "URL of the riskiest page.",
    "categories": "Distinct claims per category across the site" + _JSON + ".",
    "condition_groups": "Condition groups named on the site" + _JSON + ".",
    "products": "Cell products named on the site" + _JSON + ".",
    "disclosure": "1 when any page carries an honest disclosure.",
    "label": "RED FLAG, review or low risk.",
}

TABLES: dict[str, dict[str, Any]] = {
    "runs": {
        "description": "One row per scan (or site check). A scan started again with the same arguments resumes "
                       "its unfinished run.",
        "facets": ["status", "model_sha256"],
        "columns": {
            "run_id": "The run, in order.",
            "run_key": "SHA-256 of the inputs, options and model: how an interrupted scan finds its run again.",
            "started": "UTC time the run started.",
            "finished": "UTC time it finished; empty while running or when interrupted.",
            "status": "running (or interrupted), finished, failed.",
            "model_sha256": "The model bundle that produced the verdicts.",
            "inputs": "What was scanned" + _JSON + ".",
            "options": "How it was scanned" + _JSON + ".",
            "summary": "Counts: analysed, irrelevant, skipped, failed, red_flag, reused, repeated, seconds" + _JSON
                       + ".",
            "captured": "For a page read from a web archive (stemcheck history --db): when the archive captured "
                        "it (UTC); empty for live scans. Runs are ordered by this time, else by started.",
        },
    },
    "pages": {
        "description": "One row per input item per run: a WARC record, an HTML file or a URL-list line, with its "
                       "page verdict or why it was not analysed.",
        "facets": ["status", "label", "site", "disclosure"],
        "label_column": "url",
        "columns": {
            "page_id": "Row key.",
            "run_id": "The run.",
            "item_key": "The input item: file.warc.gz@offset, a file path, list.txt:LINE or a URL.",
            "seq": "Input order.",
            "url": "The page URL or file path.",
            "site": "Registered domain (or first folder of an HTML directory).",
            "source": "The input file or directory.",
            "fetched_at": "WARC-Date of the record, when there is one.",
            "status": "analysed; irrelevant (no stem-cell term: gated out); skipped (not a page); failed (see "
                      "error).",
            "content_sha256": "SHA-256 of the page bytes: unchanged content under the same model is reused.",
            "model_sha256": "The model bundle.",
            "risk_score": "0-100 page risk score.",
            "red_flag": "1 when the page makes at least one red-flag claim and scores 50 or more.",
            "title": "The page's <title>.",
            "top_evidence": "The page's most serious made claim.",
            "error": "Why the item failed or was skipped, naming its file, offset or line.",
            "categories": "Sentences per codebook category that the page itself makes" + _JSON + ".",
            "condition_groups": "Condition groups named on the page" + _JSON + ".",
            "products": "Cell products named on the page" + _JSON + ".",
            "disclosure": "1 when the page carries an honest disclosure (risks, investigational status).",
            "reused_from": "page_id this row was copied from (content and model unchanged).",
            "label": "RED FLAG, review or low risk.",
        },
    },
    "claims": {
        "description": "The flagged sentences of each page, with the evidence behind them.",
        "facets": ["reported", "hedged", "negated"],
        "label_column": "text",
        "columns": {
            "claim_id": "Row key.",
            "page_id": "The page.",
            "position": "Order on the page.",
            "text": "The sentence.",
            "negated": "1 when its claim cue is negated.",
            "hedged": "1 when it is hedged (may, can, some patients).",
            "reported": "1 when the page reports or quotes the claim rather than making it.",
            "evidence": "The words that fired, the context words and the codebook rule, with offsets" + _JSON
                        + "; docs/JSON.md describes them.",
        },
    },
    "flags": {
        "description": "One row per claim and category: the classifier's probability and whether the page makes "
                       "the claim.",
        "facets": ["category", "made"],
        "columns": {
            "claim_id": "The claim.",
            "category": "A codebook category: " + ", ".join(CATEGORIES) + ".",
            "probability": "Calibrated probability of the category.",
            "made": "1 when the page makes the claim in its own voice; 0 when it reports or quotes it.",
        },
    },
    "sites": {
        "description": "One row per site per finished run: the site verdict (its worst page's score).",
        "facets": ["label", "disclosure", "run_id"],
        "label_column": "site",
        "columns": _SITE_COLUMNS,
    },
    "latest_site_verdicts": {
        "description": "A view: each site's verdict in its latest finished run, riskiest first. The triage queue.",
        "facets": ["verdict", "disclosure"],
        "sort_desc": "risk_score",
        "label_column": "site",
        "columns": {  # the sites table's own words, renamed where the view renames
            **{k: v for k, v in _SITE_COLUMNS.items() if k != "label"},
            "verdict": _SITE_COLUMNS["label"],
            "scanned": "When what that run read was on the web (UTC): the capture time for an archived version, "
                       "else when the run started.",
        },
    },
    "meta": {
        "description": "The store's schema version.",
        "columns": {"key": "Setting name.", "value": "Its value."},
    },
}


def metadata(database: str = "scans") -> dict[str, Any]:
    """Datasette metadata for a store served under the database name `database`."""
    return {
        "title": "stemcheck results",
        "description": "Scans of stem-cell clinic marketing. Flags are machine-made and need human verification "
                       "before any conclusion is drawn.",
        "source": "stemcheck",
        "databases": {database: {"tables": TABLES}},
    }


def main(argv: list[str]) -> int:
    name = Path(argv[0]).stem if argv else "scans"
    sys.stdout.write(json.dumps(metadata(name), indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
