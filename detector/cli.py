"""The `stemcheck` command line: a thin face over the check, train and evaluate stages."""

from __future__ import annotations

import json
import logging
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from detector.errors import StemcheckError
from detector.settings import load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Find unproven stem-cell clinic marketing.")
err = Console(stderr=True, highlight=False, soft_wrap=True)
log = logging.getLogger(__name__)


class Format(StrEnum):
    text = "text"
    json = "json"
    html = "html"


def _progress(total: int) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=total < 2 or not err.is_terminal,
    )


def _fail(message: str, code: int = 2) -> None:
    err.print(f"stemcheck: {message}", markup=False)
    raise typer.Exit(code)


def _detector(model_dir: Path | None):  # noqa: ANN202
    from detector.check import Detector

    try:
        return Detector.load(model_dir)
    except StemcheckError as exc:
        _fail(str(exc))


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr.")) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        err.print(f"wrote {output}", markup=False)


@app.command()
def check(
    targets: list[str] = typer.Argument(..., help="http(s) URLs, .html/.htm/.txt files, or - for stdin."),
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="text, json (one object per line) or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here instead of stdout."),
    allow_private: bool = typer.Option(False, "--allow-private", help="Allow loopback/private URLs (tests, intranet)."),
    all_claims: bool = typer.Option(False, "--all-claims", help="JSON: include unflagged sentences too."),
    model_dir: Path | None = typer.Option(None, "--model-dir", help="Trained model directory (default models/)."),
) -> None:
    """Check pages or text for red-flag claims; exit 2 if any target could not be checked."""
    from detector import report

    detector = _detector(model_dir)
    verdicts, errors, chunks = [], [], []
    with _progress(len(targets)) as bar:
        task = bar.add_task("checking", total=len(targets))
        for target in targets:
            try:
                v = detector.check_target(target, allow_private=allow_private)
                verdicts.append(v)
                if fmt is Format.json:
                    chunks.append(report.to_json_line(v, all_claims))
                elif fmt is Format.text:
                    chunks.append(report.to_text(v))
            except Exception as exc:  # noqa: BLE001 - one bad target never stops the batch
                message = str(exc) if isinstance(exc, StemcheckError) else f"{target}: internal error ({exc!r})"
                if not isinstance(exc, StemcheckError):
                    log.debug("unexpected failure on %s", target, exc_info=True)
                errors.append((target, message))
                err.print(f"stemcheck: error: {message}", markup=False)
                if fmt is Format.json:
                    chunks.append(report.error_json_line(target, message))
            bar.advance(task)
    if fmt is Format.html:
        chunks = [report.to_html(verdicts, errors)]
    elif fmt is Format.text and verdicts:
        chunks.append(report.NOTE)
    if chunks:
        _write(("\n\n" if fmt is Format.text else "\n").join(chunks), output)
    if errors:
        raise typer.Exit(2)


@app.command()
def demo(
    top: int = typer.Option(3, help="How many of the riskiest pages to show in full, with every flagged claim."),
    model_dir: Path | None = typer.Option(None, "--model-dir"),
) -> None:
    """Check the bundled demo pages in corpora/pages and print them ranked by risk, with evidence."""
    from detector.categories import RED_FLAGS

    settings = load_settings()
    pages = sorted((settings.model.corpus_dir / "pages").glob("*.html"))
    if not pages:
        _fail(f"{settings.model.corpus_dir / 'pages'}: no demo pages found")
    detector = _detector(model_dir)
    verdicts = []
    with _progress(len(pages)) as bar:
        task = bar.add_task("checking demo pages", total=len(pages))
        for path in pages:
            try:
                verdicts.append(detector.check_file(path))
            except Exception as exc:  # noqa: BLE001 - one bad page never stops the demo
                err.print(f"stemcheck: error: {path}: {exc}", markup=False)
            bar.advance(task)
    verdicts.sort(key=lambda v: -v.risk_score)
    out = Console(highlight=False, width=140)
    table = Table(title=f"stemcheck demo: {len(verdicts)} pages ranked by risk")
    for col in ("rank", "page", "risk", "verdict", "red-flag categories", "top evidence"):
        table.add_column(col, overflow="fold")
    from detector.report import NOTE, verdict_label

    for rank, v in enumerate(verdicts, 1):
        cats = ", ".join(k for k in RED_FLAGS if v.categories.get(k))
        red = [c for c in v.claims if set(c.categories) & set(RED_FLAGS)]
        best = max(red, key=lambda c: max(c.scores.get(k, 0) for k in c.categories), default=None)
        table.add_row(str(rank), Path(v.target).name, str(v.risk_score), verdict_label(v), cats,
                      (best.text[:110] if best else ""))
    out.print(table)
    from detector.report import to_text

    for v in verdicts[:top]:
        out.print(to_text(v, max_claims=6), markup=False)
        out.print("")
    flagged = sum(v.red_flag for v in verdicts)
    out.print(f"{flagged} of {len(verdicts)} pages flagged as red-flag pages. {NOTE}", markup=False)


@app.command()
def train(
    corpus: Path = typer.Option(None, help="Corpus directory (default corpora/)."),
    model_dir: Path = typer.Option(None, "--model-dir", help="Where to write the model (default models/)."),
) -> None:
    """Rebuild the trained model from the corpus, deterministically."""
    from detector.model.train import train as run_train

    settings = load_settings()
    try:
        meta = run_train(corpus or settings.model.corpus_dir, model_dir or settings.model.model_dir,
                         progress=lambda m: err.print(m, markup=False))
    except StemcheckError as exc:
        _fail(str(exc))
    err.print(f"model sha256 {meta['sha256']}", markup=False)


@app.command()
def evaluate(
    corpus: Path = typer.Option(None, help="Corpus directory (default corpora/)."),
    realworld: Path = typer.Option(
        Path("../shared/realworld-dev/pages.jsonl"), help="Real-world labelled pages (skipped if absent)."
    ),
    output: Path = typer.Option(None, "--output", "-o", help="Metrics JSON (default models/metrics.json)."),
    model_dir: Path | None = typer.Option(None, "--model-dir"),
) -> None:
    """Per-category P/R/F1, page ROC-AUC/AP and sentence P/R, model beside a keyword baseline."""
    from detector.model.evaluate import evaluate as run_eval

    settings = load_settings()
    detector = _detector(model_dir)
    if not realworld.is_file():
        err.print(f"note: {realworld} not found; real-world evaluation skipped", markup=False)
    try:
        metrics = run_eval(detector, corpus or settings.model.corpus_dir, realworld,
                           progress=lambda m: err.print(f"evaluating {m}", markup=False))
    except StemcheckError as exc:
        _fail(str(exc))
    out = Console(highlight=False, width=120)
    table = Table(title="corpus test split: sentence level")
    for col in ("category", "P", "R", "F1", "support", "keyword F1"):
        table.add_column(col)
    model, base = metrics["corpus_test"]["model"], metrics["corpus_test"]["keyword_baseline"]
    for cat, m in model.items():
        table.add_row(cat, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}",
                      str(m.get("support", "")), f"{base[cat]['f1']:.3f}")
    out.print(table)
    for key in ("corpus_pages", "realworld_dev"):
        if key in metrics:
            m, b = metrics[key]["model"], metrics[key]["keyword_baseline"]
            out.print(
                f"{key}: {metrics[key]['pages']} pages | ROC-AUC {m['roc_auc']} (keywords {b['roc_auc']}) | "
                f"AP {m['average_precision']} (keywords {b['average_precision']}) | sentence P "
                f"{m['sentence_precision']} R {m['sentence_recall']} (keywords P {b['sentence_precision']} "
                f"R {b['sentence_recall']})", markup=False)
    path = output or (model_dir or settings.model.model_dir) / "metrics.json"
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    err.print(f"wrote {path}", markup=False)
