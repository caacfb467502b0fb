"""What a command shows while it works: live progress on a terminal, nothing in pipes, in CI or with --quiet.

One switch for every face that prints: the CLI sets it from `--quiet`; progress displays and status lines ask it.
Errors are never silenced.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

err = Console(stderr=True, highlight=False, soft_wrap=True)
_state = {"quiet": False}


def set_quiet(quiet: bool) -> None:
    _state["quiet"] = quiet


def live() -> bool:
    """A live display only for a person at a terminal: not in a pipe, not in CI, not with --quiet."""
    return not _state["quiet"] and err.is_terminal and not os.environ.get("CI")


def say(message: str) -> None:
    """A status line ("wrote FILE", "crawled ..."): printed unless --quiet."""
    if not _state["quiet"]:
        err.print(message, markup=False)


def bar(total: int | None, minimum: int = 2) -> Progress:
    """A counted bar with its ETA when the total is known; a spinner with the elapsed time when it is not."""
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    else:
        columns += [TimeElapsedColumn()]
    return Progress(*columns, console=err, transient=True,
                    disable=not live() or (total is not None and total < minimum))


@contextmanager
def stages(first: str) -> Iterator[Callable[[str], None]]:
    """A spinner naming the current stage with the time spent so far; each new stage prints the last one as
    done, so a twelve-minute training run shows where it is."""
    with bar(None) as progress:
        task = progress.add_task(first, total=None)
        current = [first]

        def step(message: str) -> None:
            if progress.live.is_started:
                progress.console.print(f"  done: {current[0]}", markup=False, highlight=False)
            current[0] = message
            progress.update(task, description=message)

        yield step


class CrawlDisplay:
    """Live crawl progress: pages fetched out of the cap, requests, the URL being fetched and the time so far.
    Called by the crawler before each request (Crawler(on_request=...))."""

    def __init__(self, progress: Progress, max_pages: int, label: str = "crawling"):
        self.progress, self.max_pages, self.label = progress, max_pages, label
        self.task = progress.add_task(label, total=None)

    def __call__(self, url: str, result: Any) -> None:
        shown = url if len(url) <= 70 else url[:67] + "..."
        self.progress.update(self.task, description=(
            f"{self.label} {result.site}: {len(result.fetched)} of at most {self.max_pages} pages, "
            f"{result.requests + 1} requests; now {shown}"))
