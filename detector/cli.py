"""The `stemcheck` command line: a thin face over the check, train and evaluate stages."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from detector.bounds import check_option, check_politeness
from detector.console import CrawlDisplay, bar, err, say, set_quiet, stages
from detector.errors import StemcheckError
from detector.guard import check_writable, portable, readable, refuse_clobber, write_error
from detector.settings import load_settings

log = logging.getLogger(__name__)

# Exceptions that steer the command line (exit codes, usage errors): the guard lets them through. Newer
# Typer vendors click, so its ClickException is found through a public class rather than imported.
_CONTROL: tuple[type[BaseException], ...] = (
    typer.Exit, typer.Abort, *{c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"})


class _Guarded(TyperGroup):
    """Every command runs inside one guard, so no traceback ever reaches a user.

    Our own errors (bad input, a refused output, a full disk) are one line and exit 2; anything unexpected is
    one line naming the command, its input and the log file that holds the full traceback, and exit 1.
    """

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, name: str) -> Any:
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            _plain_flags(cmd.get_params(ctx))
        return cmd

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta["stemcheck.argv"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _CONTROL:
            raise
        except KeyboardInterrupt:
            err.print("stemcheck: interrupted", markup=False)
            raise typer.Exit(130) from None
        except StemcheckError as exc:
            err.print(f"stemcheck: {portable(str(exc))}", markup=False)
            raise typer.Exit(2) from None
        except OSError as exc:  # a write that failed outside the writers (disk full, permissions)
            name = getattr(exc, "filename", None) or "output"
            err.print(f"stemcheck: {write_error(exc, name)}", markup=False)
            raise typer.Exit(2) from None
        except Exception as exc:  # noqa: BLE001 - the last guard: one line and a log, never a traceback
            command, inputs = self._call(ctx)
            where = _crash_log(command, inputs, exc)
            target = f" on {', '.join(portable(i) for i in inputs[:3])}" if inputs else ""
            err.print(f"stemcheck {command}: internal error{target} ({type(exc).__name__}: "
                      f"{portable(str(exc))[:200]}); the full log is in {where}", markup=False)
            raise typer.Exit(1) from None

    def _call(self, ctx: Any) -> tuple[str, list[str]]:
        """The command and its positional arguments (the inputs), parsed as the command parses them."""
        argv: list[str] = ctx.meta.get("stemcheck.argv", [])
        name = ctx.invoked_subcommand or next((a for a in argv if not a.startswith("-")), "")
        cmd = self.get_command(ctx, name) if name else None
        if cmd is None or name not in argv:
            return name or "stemcheck", []
        rest = argv[argv.index(name) + 1:]
        try:
            sub = cmd.make_context(name, list(rest), parent=ctx, resilient_parsing=True)
            values = [sub.params.get(p.name) for p in cmd.params if p.param_type_name == "argument"]
            inputs = [str(x) for v in values for x in (v if isinstance(v, list | tuple) else [v]) if x is not None]
        except Exception:  # noqa: BLE001 - a best effort: the raw words will do
            inputs = [a for a in rest if not a.startswith("-")]
        return name, inputs


def _plain_flags(params: list[Any]) -> list[Any]:
    """An on/off flag takes no value, so its help shows none (Typer would print `<bool>` beside it)."""
    for p in params:
        if getattr(p, "is_flag", False) and p.metavar is None:
            p.metavar = ""
    return params


def _crash_log(command: str, inputs: list[str], exc: BaseException) -> str:
    """Write the traceback where the user can find it and send it to us; returns the file's path."""
    try:
        fd, path = tempfile.mkstemp(prefix=f"stemcheck-{command}-", suffix=".log")
        with open(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            from detector.version import __version__

            fh.write(f"stemcheck {__version__} {command} at {datetime.now(UTC).isoformat()}\n")
            fh.write(f"arguments: {sys.argv[1:]!r}\ninputs: {inputs!r}\n\n")
            fh.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return "(no log: the temporary folder is not writable)"


app = typer.Typer(cls=_Guarded, add_completion=False, no_args_is_help=True,
                  help="Find unproven stem-cell clinic marketing.")


class Format(StrEnum):
    text = "text"
    json = "json"
    html = "html"


def _progress(total: int, minimum: int = 2):  # noqa: ANN202
    return bar(total, minimum)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"stemcheck: {message}", markup=False)
    raise typer.Exit(code)


def _detector(model_dir: Path | None):  # noqa: ANN202
    from detector.check import Detector

    try:
        return Detector.load(model_dir)
    except StemcheckError as exc:
        _fail(str(exc))


def _version(value: bool) -> None:
    if value:
        from detector.version import __version__

        print(f"stemcheck {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what each stage does to stderr."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display and no status lines; errors and "
                               "results are still printed."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    set_quiet(quiet)


def _write(text: str, output: Path | None) -> None:
    """The report to stdout, or to a file written whole (temporary file beside it, then renamed) or not at all."""
    from detector.guard import write_text

    text = text if text.endswith("\n") else text + "\n"
    if output is None:
        try:
            sys.stdout.write(text)
        except UnicodeEncodeError:  # a target name that is not UTF-8, on a strict terminal
            sys.stdout.write(readable(text))
        return
    try:
        write_text(output, text)
    except StemcheckError as exc:
        _fail(str(exc))
    say(f"wrote {output}")


def _preflight(numbers: dict[str, float | None] | None = None, polite: tuple[float | None, bool] | None = None,
               outputs: list[Path | None] | None = None, inputs: list[str | Path | None] | None = None) -> None:
    """Refuse bad options before any work: numbers out of bounds, an impolite delay, an output that is also an
    input (or cannot be written where it is asked for). One line each, exit 2."""
    try:
        for option, value in (numbers or {}).items():
            check_option(option, value)
        if polite is not None:
            check_politeness(*polite)
        refuse_clobber(outputs or [], inputs or [])
        for out in outputs or []:
            if out is not None:
                check_writable(out)
    except StemcheckError as exc:
        _fail(str(exc))


def _crawl_settings(max_pages: int | None, max_depth: int | None, delay: float | None):  # noqa: ANN202
    import dataclasses

    _preflight({"--max-pages": max_pages, "--max-depth": max_depth, "--delay": delay})
    settings = load_settings()
    changes = {k: v for k, v in (("max_pages", max_pages), ("max_depth", max_depth), ("delay", delay)) if v is not None}
    return dataclasses.replace(settings, crawl=dataclasses.replace(settings.crawl, **changes))


def _default_warc(url: str) -> Path:
    from datetime import UTC, datetime

    from detector.source.url import site_key

    try:
        site = site_key(url)
    except StemcheckError:
        site = "site"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(f"stemcheck-{site.replace(':', '_')}-{stamp}.warc.gz")


def _is_warc(target: str) -> bool:
    from detector.source.warc import is_warc_name

    return is_warc_name(target)


@app.command()
def check(
    targets: list[str] = typer.Argument(
        ..., help="http(s) URLs, .html/.htm/.txt files, .warc/.warc.gz files (site report), or - for stdin."),
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="text, json (one object per line) or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here instead of stdout."),
    site: bool = typer.Option(False, "--site", help="Crawl each URL's whole site and report on the site."),
    warc: Path | None = typer.Option(None, "--warc", help="With --site: where to save the WARC evidence."),
    db: Path | None = typer.Option(None, "--db", help="Record each site report in this results store (history, "
                                   "diff, triage)."),
    max_pages: int | None = typer.Option(None, "--max-pages", help="With --site: page limit (default 30)."),
    max_depth: int | None = typer.Option(None, "--max-depth", help="With --site: link depth limit (default 3)."),
    delay: float | None = typer.Option(None, "--delay", help="With --site: seconds between requests (default 1)."),
    allow_private: bool = typer.Option(False, "--allow-private", help="Allow loopback/private URLs (tests, intranet)."),
    all_claims: bool = typer.Option(False, "--all-claims", help="JSON: include unflagged sentences too."),
    model_dir: Path | None = typer.Option(None, "--model-dir", help="Trained model directory (default models/)."),
) -> None:
    """Check pages, text, sites or WARC files for red-flag claims; exit 2 if any target could not be checked."""
    from detector.output import report

    _preflight({"--max-pages": max_pages, "--max-depth": max_depth, "--delay": delay},
               (delay, allow_private) if site else None, [output, warc], [*targets, db])
    detector = _detector(model_dir)
    settings = _crawl_settings(max_pages, max_depth, delay) if site else load_settings()
    if warc is not None and sum(1 for t in targets if t.lower().startswith(("http://", "https://"))) > 1:
        _fail("--warc names one file: give one URL with it, or leave it out to name one WARC per site")
    verdicts, sites, errors, chunks = [], [], [], []
    with _progress(len(targets), minimum=1 if site else 2) as bar:
        task = bar.add_task("checking", total=len(targets))
        for target in targets:
            try:
                if _is_warc(target) or (site and target.lower().startswith(("http://", "https://"))):
                    if _is_warc(target):
                        found = _site_reports(detector, Path(target))
                    else:
                        found = _crawl_and_report(detector, settings, target, warc, allow_private, bar)
                    sites.extend(found)
                    if db is not None:
                        from detector.output.store import ResultStore

                        with ResultStore(db) as store:
                            for r in found:
                                run = store.record_site_report(r, target)
                                say(f"recorded {r.site} as run {run} in {db}")
                    if fmt is Format.json:
                        chunks.extend(report.site_json(r) for r in found)
                    elif fmt is Format.text:
                        chunks.extend(report.site_text(r) for r in found)
                    continue
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
            finally:
                bar.advance(task)
    if fmt is Format.html and (verdicts or sites):
        chunks = [report.to_html(verdicts, errors, sites)]
    elif fmt is Format.text and (verdicts or sites):
        chunks.append(report.NOTE)
    if chunks:
        _write(("\n\n" if fmt is Format.text else "\n").join(chunks), output)
    elif output is not None:
        say(f"nothing written to {output}: no target could be checked")
    if errors:
        raise typer.Exit(2)


def _site_reports(detector, path: Path) -> list:  # noqa: ANN001
    """Site reports from a WARC; a WARC in which no page could be analysed is an error, not 'no claims'."""
    from detector.check import site_reports
    from detector.errors import InputError

    reports = site_reports(detector, path)
    if not any(r.analysed for r in reports):
        why = next((e.message for r in reports for e in r.events), "no HTML page in it")
        raise InputError(f"{path}: no page could be analysed ({why})")
    return reports


def _crawl_and_report(detector, settings, url: str, warc: Path | None, allow_private: bool,  # noqa: ANN001
                      progress=None) -> list:  # noqa: ANN001
    """Crawl to a WARC, then derive the report from that WARC (so it can be reproduced offline)."""
    from detector.source.crawl import Crawler

    path = warc or _default_warc(url)
    display = CrawlDisplay(progress, settings.crawl.max_pages) if progress is not None else None
    result = Crawler(settings, allow_private=allow_private, on_request=display).crawl(url, path)
    if display is not None:
        progress.update(display.task, description=f"analysing {len(result.fetched)} pages of {result.site}")
    say(f"crawled {len(result.fetched)} pages with {result.requests} requests in {result.seconds:.1f}s; "
        f"evidence in {path}")
    reports = _site_reports(detector, path)
    if display is not None:
        progress.remove_task(display.task)
    return reports


@app.command()
def crawl(
    url: str = typer.Argument(..., help="A page of the site to crawl (http or https)."),
    output: Path = typer.Option(..., "--output", "-o", help="The WARC file to write (.warc.gz)."),
    max_pages: int | None = typer.Option(None, "--max-pages", help="Pages to fetch at most (default 30)."),
    max_depth: int | None = typer.Option(None, "--max-depth", help="Link depth from the start page (default 3)."),
    delay: float | None = typer.Option(None, "--delay", help="Seconds between requests to a host (default 1; "
                                       "robots.txt Crawl-delay wins when longer)."),
    previous: Path | None = typer.Option(None, "--previous", help="An earlier crawl's WARC: send conditional "
                                         "requests and record unchanged pages as revisits."),
    allow_private: bool = typer.Option(False, "--allow-private", help="Allow loopback/private addresses "
                                       "(tests, intranet). Never on by default."),
) -> None:
    """Crawl one site politely (robots.txt, delays, limits) into a WARC file of evidence."""
    from detector.digest import sha256_file
    from detector.source.crawl import Crawler

    if not output.name.lower().endswith((".warc", ".warc.gz")):
        _fail(f"{output}: the output must end in .warc.gz (or .warc)")
    if previous is not None and not previous.is_file():
        _fail(f"{previous}: no such file")
    _preflight({"--max-pages": max_pages, "--max-depth": max_depth, "--delay": delay}, (delay, allow_private),
               [output], [previous])
    settings = _crawl_settings(max_pages, max_depth, delay)
    try:
        with bar(None) as progress:
            display = CrawlDisplay(progress, settings.crawl.max_pages)
            result = Crawler(settings, allow_private=allow_private, on_request=display).crawl(
                url, output, previous=previous)
    except StemcheckError as exc:
        _fail(str(exc))
    out = Console(highlight=False, width=140)
    out.print(f"site {result.site}: {len(result.fetched)} pages fetched with {result.requests} requests "
              f"in {result.seconds:.1f}s", markup=False)
    for key, n in result.counts().items():
        out.print(f"  {key}: {n}", markup=False)
    for robots_url, state in result.robots.items():
        out.print(f"  robots {robots_url}: {state}", markup=False)
    out.print(f"wrote {output} sha256 {sha256_file(output)}", markup=False)


@app.command()
def demo(
    top: int = typer.Option(10, help="How many of the riskiest pages to list."),
    show_all: bool = typer.Option(False, "--all", help="List every page, then show the 3 riskiest in full, with "
                                  "every flagged claim."),
    model_dir: Path | None = typer.Option(None, "--model-dir"),
) -> None:
    """Check the bundled demo pages in corpora/pages and print the riskiest, each with its strongest evidence."""
    _preflight({"--top": top})
    settings = load_settings()
    pages = sorted((settings.model.corpus_dir / "pages").glob("*.html"))
    if not pages:
        _fail(f"{settings.model.corpus_dir / 'pages'}: no demo pages found")
    detector = _detector(model_dir)
    verdicts = []
    with _progress(len(pages)) as progress:
        task = progress.add_task("checking demo pages", total=len(pages))
        for path in pages:
            try:
                verdicts.append(detector.check_file(path))
            except Exception as exc:  # noqa: BLE001 - one bad page never stops the demo
                err.print(f"stemcheck: error: {path}: {exc}", markup=False)
            progress.advance(task)
    from detector.output.report import demo_lines, to_text

    verdicts.sort(key=lambda v: (-v.risk_score, v.target))
    out = Console(highlight=False)
    shown = verdicts if show_all else verdicts[:top]
    table = Table(title=f"stemcheck demo: the {len(shown)} riskiest of {len(verdicts)} bundled pages, ranked by risk"
                  if not show_all else f"stemcheck demo: {len(verdicts)} bundled pages ranked by risk",
                  title_justify="left")
    for col, kw in (("#", {"justify": "right"}), ("page", {"no_wrap": True}), ("risk", {"justify": "right"}),
                    ("verdict", {"no_wrap": True}), ("strongest evidence", {"overflow": "fold", "ratio": 1})):
        table.add_column(col, **kw)
    for rank, row in enumerate(demo_lines(shown), 1):
        table.add_row(str(rank), *row)
    out.print(table)
    if show_all:
        for v in verdicts[:3]:
            out.print(to_text(v, max_claims=6), markup=False)
            out.print("")
    flagged = sum(v.red_flag for v in verdicts)
    first = Path(verdicts[0].target).name if verdicts else "pc-01.html"
    out.print(f"{flagged} of {len(verdicts)} pages are red-flag pages. {report_note()}", markup=False)
    if not show_all:
        one = f"stemcheck check corpora/pages/{first}"
        out.print(f"Next:\n  {'stemcheck demo --all':<{len(one)}}  every page, and the 3 riskiest in full\n"
                  f"  {one}  one page, every flagged sentence explained\n"
                  f"  {'stemcheck serve':<{len(one)}}  the web app: Check and Triage", markup=False, soft_wrap=True)


def report_note() -> str:
    from detector.output.report import NOTE

    return NOTE


@app.command()
def train(
    corpus: Path = typer.Option(None, help="Corpus directory (default corpora/)."),
    model_dir: Path = typer.Option(None, "--model-dir", help="Where to write the model (default models/)."),
) -> None:
    """Rebuild the trained model from the corpus, deterministically."""
    from detector.lab.train import train as run_train

    settings = load_settings()
    try:
        with stages("training: loading the corpus") as step:
            meta = run_train(corpus or settings.model.corpus_dir, model_dir or settings.model.model_dir,
                             progress=lambda m: step(f"training: {m}"))
    except StemcheckError as exc:
        _fail(str(exc))
    say(f"model sha256 {meta['sha256']}")


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
    from detector.lab.evaluate import evaluate as run_eval

    settings = load_settings()
    _preflight(outputs=[output], inputs=[realworld])
    detector = _detector(model_dir)
    if not realworld.is_file():
        err.print(f"note: {realworld} not found; real-world evaluation skipped", markup=False)
    try:
        with stages("evaluating") as step:
            metrics = run_eval(detector, corpus or settings.model.corpus_dir, realworld,
                               progress=lambda m: step(f"evaluating {m}"))
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
    _write(json.dumps(metrics, indent=2), path)


@app.command()
def scan(
    inputs: list[str] = typer.Argument(..., help="WARC/WARC.gz files, directories of .html files, .html files, "
                                       "URL lists (.txt/.urls, one URL per line) or URLs."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Pages table (.csv or .parquet); the site table "
                                       "goes beside it as NAME.sites.csv/.parquet."),
    db: Path | None = typer.Option(None, "--db", help="SQLite results store: history, resume, diff."),
    workers: int | None = typer.Option(None, "--workers", help="Start a local Dask cluster with N worker processes."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Use an existing Dask cluster (tcp://host:8786)."),
    warc_dir: Path | None = typer.Option(None, "--warc-dir", help="Where URL-list crawls keep their WARCs "
                                         "(default ./stemcheck-scan-warcs; shared storage on a cluster)."),
    max_pages: int = typer.Option(30, "--max-pages", help="URL lists: pages per site."),
    delay: float = typer.Option(1.0, "--delay", help="URL lists: seconds between requests to a host."),
    no_gate: bool = typer.Option(False, "--no-gate", help="Analyse every page, even those that never mention a "
                                 "stem-cell or regenerative term."),
    allow_private: bool = typer.Option(False, "--allow-private", help="URL lists: allow loopback/private hosts."),
    top: int = typer.Option(10, "--top", help="How many sites to print."),
    model_dir: Path | None = typer.Option(None, "--model-dir"),
) -> None:
    """Scan many pages; print the riskiest sites; exit 2 if any input, record or page failed."""
    from detector.batch.runner import Scanner, ScanOptions
    from detector.output.table import public, write_table

    if workers is not None and scheduler is not None:
        _fail("give --workers or --scheduler, not both")
    if workers is not None and workers < 1:
        _fail(f"--workers {workers}: must be at least 1")
    if output is not None and output.suffix.lower() not in (".csv", ".parquet"):
        _fail(f"{output}: the output must end in .csv or .parquet")
    crawls = any(i.startswith(("http://", "https://")) or i.lower().endswith((".txt", ".urls")) for i in inputs)
    _preflight({"--max-pages": max_pages, "--delay": delay, "--workers": workers, "--top": top},
               (delay, allow_private) if crawls else None,
               [output, _sites_path(output) if output is not None else None], [*inputs, db])
    opts = ScanOptions(gate=not no_gate, max_pages=max_pages, delay=delay, allow_private=allow_private)
    progress = bar(None)
    told: set[str] = set()

    def report_progress(counts: dict) -> None:
        cluster = counts.get("cluster")
        if cluster and cluster not in told:  # one line for the Dask cluster, instead of its INFO logging
            told.add(cluster)
            say(cluster)
        rate = (counts["analysed"] + counts["irrelevant"]) / max(counts["elapsed"], 1e-9)
        progress.update(task, description=(
            f"scanning: {counts['analysed']} analysed, {counts['irrelevant']} gated out, "
            f"{counts['red_flag']} flagged, {counts['failed']} errors, {rate:.0f} pages/s"))

    with progress:
        task = progress.add_task("scanning: starting", total=None)
        try:
            result = Scanner(model_dir, options=opts, db=db, workers=workers, scheduler=scheduler,
                             warc_dir=warc_dir, progress=report_progress).run(inputs)
        except KeyboardInterrupt:
            _fail("interrupted; run the same command again (same --db) to resume where it stopped", 130)
        except StemcheckError as exc:
            _fail(str(exc))
    if output is not None:
        sites_path = _sites_path(output)
        try:
            write_table(result.pages, output)
            write_table(result.sites, sites_path)
        except StemcheckError as exc:
            _fail(str(exc))
        say(f"wrote {output} and {sites_path}")
    out = Console(highlight=False, width=160)
    out.print(scan_summary(result.summary, result.run_id, db), markup=False)
    table = Table(title=f"top {min(top, len(result.sites))} of {len(result.sites)} sites by risk")
    for col in ("site", "risk", "pages", "red-flag pages", "categories", "worst page"):
        table.add_column(col, overflow="fold")
    for row in public(result.sites).head(top).itertuples():
        table.add_row(str(row.site), str(row.risk_score), str(row.analysed), str(row.red_flag_pages),
                      row.categories, row.worst_page if isinstance(row.worst_page, str) else "")  # NaN: none
    out.print(table)
    for f in result.failures[:20]:
        err.print(f"stemcheck: failed: {f['error']}", markup=False)
    if len(result.failures) > 20:
        err.print(f"stemcheck: ... and {len(result.failures) - 20} more failures (see the error column)", markup=False)
    if result.failures:
        raise typer.Exit(2)


def scan_summary(s: dict, run_id: int | None, db: Path | None) -> str:
    """The scan in one sentence; each count says what it counts, and a count of nothing is left out."""
    parts = [f"scanned {s['analysed']} pages"]
    if s.get("reused"):
        parts.append(f"{s['reused']} of them unchanged since an earlier run, so their results were reused")
    if s.get("repeated"):
        parts.append(f"{s['repeated']} of them repeats of a page already read in this scan")
    for key, words in (("irrelevant", "gated out as not about stem cells"),
                       ("skipped", "skipped (not pages: links not fetched, duplicates, non-HTML)"),
                       ("failed", "failed")):
        if s.get(key):
            parts.append(f"{s[key]} {words}")
    where = f"; run {run_id} in {db}" if db else ""
    return ("; ".join(parts) + f"; {s['seconds']:.1f}s{where}"
            + (" (resumed an interrupted run)" if s.get("resumed") else ""))


def _sites_path(output: Path) -> Path:
    """The site table beside the pages table: pages.csv -> pages.sites.csv."""
    return output.with_name(output.name[: -len(output.suffix)] + ".sites" + output.suffix)


@app.command()
def diff(
    run_a: str = typer.Argument(..., help="Earlier run: an id, 'previous', or a date YYYY-MM-DD."),
    run_b: str = typer.Argument("latest", help="Later run: an id, 'latest', or a date."),
    db: Path = typer.Option(..., "--db", help="The SQLite results store."),
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="text, json (one object) or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the comparison here instead of stdout."),
) -> None:
    """Per site: the claims and disclosures that appeared and disappeared between two scans, and the score."""
    from detector.output.report import diff_html, diff_text
    from detector.output.store import ResultStore, diff_runs

    if not db.is_file():
        _fail(f"{db}: no such results database")
    _preflight(outputs=[output], inputs=[db])
    try:
        with ResultStore(db) as store:
            a, b = store.resolve_run(run_a), store.resolve_run(run_b)
            changes = diff_runs(store, a, b)
    except StemcheckError as exc:
        _fail(str(exc))
    if fmt is Format.json:
        _write(json.dumps({"run_a": a, "run_b": b, "sites": changes}, ensure_ascii=False), output)
    elif fmt is Format.html:
        _write(diff_html(a, b, changes), output)
    else:
        _write(diff_text(a, b, changes), output)


@app.command("settings")
def show_settings(
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="text or json."),
) -> None:
    """Print the effective settings and where each comes from: default, the settings file (STEMCHECK_SETTINGS)
    or an environment variable (STEMCHECK_<SECTION>_<FIELD>). Command-line options override them per run."""
    import dataclasses

    from detector.settings import env_name, resolve_settings

    if fmt is Format.html:
        _fail("settings: --format text or json")
    settings, origin = resolve_settings()
    rows = []
    for sec in dataclasses.fields(settings):
        for f in dataclasses.fields(getattr(settings, sec.name)):
            value = getattr(getattr(settings, sec.name), f.name)
            key = f"{sec.name}.{f.name}"
            rows.append({"setting": key, "value": list(value) if isinstance(value, tuple) else
                         str(value) if isinstance(value, Path) else value,
                         "source": origin.get(key, "default"), "variable": env_name(sec.name, f.name)})
    if fmt is Format.json:
        _write(json.dumps(rows, ensure_ascii=False), None)
        return
    _write("\n".join(f"{r['setting']} = {r['value']!r}  (" + (
        f"default; set with {r['variable']})" if r["source"] == "default" else f"from {r['source']})")
        for r in rows), None)


class Every(StrEnum):
    capture = "capture"
    month = "month"
    year = "year"


@app.command()
def history(
    url: str = typer.Argument(..., help="The page whose past to read (http or https), as the archive knows it."),
    since: int | None = typer.Option(None, "--since", help="First year to read, e.g. 2018."),
    until: int | None = typer.Option(None, "--until", help="Last year to read, e.g. 2023."),
    every: Every = typer.Option(Every.capture, "--every", help="capture: every version of the page the archive "
                                "holds; month or year: at most one new version a month or a year."),
    max_snapshots: int | None = typer.Option(None, "--max-snapshots", help="Read at most N versions, spread evenly "
                                             "over the years, always the first and the last (default 40)."),
    archive: str | None = typer.Option(None, "--archive", help="The archive's address (default the Wayback "
                                       "Machine, https://web.archive.org); it must answer /cdx/search/cdx and /web/ "
                                       "as that does."),
    delay: float | None = typer.Option(None, "--delay", help="Seconds between requests to the archive (default 4, "
                                       "which it tolerates)."),
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="text (a timeline), json or html (a report with "
                               "a chart)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the history here instead of stdout."),
    db: Path | None = typer.Option(None, "--db", help="Record each version read as a run of this results store, "
                                   "dated by when the archive captured it."),
    allow_private: bool = typer.Option(False, "--allow-private", help="Allow an archive on a loopback/private "
                                       "address (tests, intranet)."),
    model_dir: Path | None = typer.Option(None, "--model-dir", help="Trained model directory (default models/)."),
) -> None:
    """What a page claimed over the years, from a web archive: when each claim appeared and disappeared; exit 2
    if any version could not be read."""
    from detector.history import capture_rows, read_history
    from detector.output import history as render
    from detector.source.archive import WaybackArchive

    for option, year in (("--since", since), ("--until", until)):
        if year is not None and not 1991 <= year <= 9999:
            _fail(f"{option} {year}: give a year such as 2018 (the web began in 1991)")
    if since is not None and until is not None and since > until:
        _fail(f"--since {since} is after --until {until}")
    _preflight({"--max-snapshots": max_snapshots, "--delay": delay}, (delay, allow_private), [output], [db])
    if db is not None:
        from detector.output.store import refuse_foreign

        refuse_foreign(db)  # someone else's file is refused before an hour of polite requests, not after
    detector = _detector(model_dir)
    settings = load_settings()
    limit = max_snapshots if max_snapshots is not None else settings.archive.max_snapshots
    try:
        source = WaybackArchive(archive, settings, allow_private=allow_private, delay=delay)
    except StemcheckError as exc:
        _fail(f"--archive: {exc}")
    with _progress(limit) as bar:
        task = bar.add_task("reading captures", total=None)
        result = read_history(detector, source, url, since, until, every.value, limit,
                              progress=lambda n, total, _s: bar.update(task, completed=n, total=total))
    if db is not None:
        from detector.output.store import ResultStore

        with ResultStore(db) as store:
            runs = [store.record_capture(row, captured, {"history_of": url, "archive": source.base})
                    for row, captured in capture_rows(result)]
        shown = ", ".join(str(r) for r in runs[:10]) + (", ..." if len(runs) > 10 else "")
        err.print(f"recorded {len(runs)} captures in {db} as runs {shown}, each dated by its capture", markup=False)
    text = {Format.json: render.to_json, Format.html: render.to_html, Format.text: render.to_text}[fmt](result)
    _write(text, output)
    for s in result.snapshots:
        if s.error:
            err.print(f"stemcheck: capture {s.timestamp} not read: {s.error}", markup=False)
    if any(s.error for s in result.snapshots):
        raise typer.Exit(2)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default loopback only)."),
    port: int = typer.Option(8000, "--port"),
    db: Path | None = typer.Option(None, "--db", help="Results store for triage (default: a demo store built from "
                                   "the bundled pages on first start)."),
    allowed_host: list[str] = typer.Option([], "--allowed-host", help="A host name clients may use to reach the "
                                           "app (repeatable). The bound address and localhost names are always "
                                           "allowed; required when listening on all interfaces."),
    rate_limit: int | None = typer.Option(None, "--rate-limit", help="Requests a minute per client (default 120; "
                                          "STEMCHECK_WEB_REQUESTS_PER_MINUTE)."),
    allow_private: bool = typer.Option(False, "--allow-private", help="Let the app fetch loopback/private URLs "
                                       "(tests, intranet). Never on by default."),
    model_dir: Path | None = typer.Option(None, "--model-dir"),
) -> None:
    """Run the web app: Check (journalists), Triage (regulators) and the JSON API with OpenAPI docs."""
    _preflight({"--port": port, "--rate-limit": rate_limit})
    try:
        from detector.web.server import run_server
    except ImportError as exc:
        _fail(f"the web app needs its dependencies ({exc.name}): pip install -e .")
    try:
        if db is None:  # the demo store takes some seconds on first start: say so while it is built
            from detector.web.server import DEMO_DB, ensure_demo_store, has_finished_run

            if not has_finished_run(DEMO_DB.resolve()):
                with stages(f"building the demo store {DEMO_DB} from the bundled pages (first start only)"):
                    db = ensure_demo_store(DEMO_DB.resolve(), model_dir)
        run_server(host=host, port=port, db=db, allow_private=allow_private, model_dir=model_dir,
                   allowed_hosts=allowed_host, rate_limit=rate_limit)
    except StemcheckError as exc:
        _fail(str(exc))
