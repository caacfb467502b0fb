"""Bounds for every number a user can set, in one table, so the command line and the settings loader refuse
the same values with the same words.

A negative delay once meant 2 ms between requests to a clinic's server, and `--max-pages 0` a crawl that
fetched nothing and said nothing; a port of 99999 or a timeout of NaN fails far from where it was typed.
Each bound says what the number is for; `check` names the option or variable that carried the value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from detector.errors import ConfigError


@dataclass(frozen=True)
class Bound:
    """An inclusive range, and what the number measures (for the message)."""

    low: float
    high: float
    unit: str = ""
    integer: bool = False

    def check(self, name: str, value: float) -> None:
        """ConfigError naming `name` when value is outside the range, not a number, or not whole."""
        unit = f" {self.unit}" if self.unit else ""
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or not (
                self.low <= value <= self.high):
            raise ConfigError(f"{name} {value}: must be between {_num(self.low)} and {_num(self.high)}{unit}")
        if self.integer and value != int(value):
            raise ConfigError(f"{name} {value}: must be a whole number")


def _num(x: float) -> str:
    return f"{int(x):,}" if x == int(x) else f"{x:g}"


def _seconds(low: float, high: float) -> Bound:
    return Bound(low, high, "seconds")


def _count(low: int, high: int, unit: str = "") -> Bound:
    return Bound(low, high, unit, integer=True)


# Politeness: below this gap between two requests to one public host, a crawl is a load test. Tests and
# intranet crawls (--allow-private) may go faster.
MIN_PUBLIC_DELAY = 0.5

SETTINGS: dict[str, Bound] = {
    "fetch.connect_timeout": _seconds(0.1, 300),
    "fetch.read_timeout": _seconds(0.1, 600),
    "fetch.total_timeout": _seconds(0.1, 3600),
    "fetch.max_bytes": _count(1_000, 2_000_000_000, "bytes"),
    "fetch.max_decoded_bytes": _count(1_000, 4_000_000_000, "bytes"),
    "fetch.max_redirects": _count(0, 30),
    "fetch.max_url_length": _count(64, 100_000, "characters"),
    "fetch.allowed_ports": _count(1, 65_535),
    "crawl.max_pages": _count(1, 1_000_000, "pages"),
    "crawl.max_depth": _count(0, 100),
    "crawl.delay": _seconds(0, 3600),
    "crawl.max_crawl_delay": _seconds(0, 3600),
    "crawl.max_retries": _count(0, 20),
    "crawl.max_retry_after": _seconds(0, 3600),
    "crawl.max_path_segments": _count(1, 10_000),
    "crawl.max_segment_repeats": _count(1, 10_000),
    "crawl.max_per_pattern": _count(1, 10_000_000),
    "crawl.max_links_per_page": _count(1, 10_000_000),
    "crawl.max_sitemap_urls": _count(0, 10_000_000),
    "crawl.max_sitemaps": _count(0, 10_000),
    "crawl.robots_max_bytes": _count(1_000, 100_000_000, "bytes"),
    "extract.max_html_bytes": _count(1_000, 2_000_000_000, "bytes"),
    "extract.max_text_chars": _count(100, 2_000_000_000, "characters"),
    "extract.max_block_chars": _count(100, 2_000_000_000, "characters"),
    "extract.max_depth_walk": _count(1, 100_000),
    "extract.max_parse_steps": _count(1_000, 10**13),
    "nlp.max_sentence_tokens": _count(2, 100_000, "tokens"),
    "nlp.min_claim_tokens": _count(1, 1_000, "tokens"),
    "nlp.chunk_chars": _count(1_000, 100_000_000, "characters"),
    "web.max_body_bytes": _count(1_000, 1_000_000_000, "bytes"),
    "web.max_text_chars": _count(100, 100_000_000, "characters"),
    "web.max_jobs": _count(1, 1_000),
    "web.max_sync_fetches": _count(1, 1_000),
    "web.requests_per_minute": _count(1, 1_000_000, "requests a minute"),
    "web.max_kept_results": _count(1, 1_000_000),
    "web.max_tracked_clients": _count(1, 100_000_000),
    "web.body_timeout": _seconds(0.1, 3600),
    "web.workers": _count(0, 64, "processes"),
    "archive.delay": _seconds(0, 3600),
    "archive.max_snapshots": _count(2, 100_000, "snapshots"),
    "archive.max_cdx_rows": _count(1, 100_000_000, "rows"),
}

OPTIONS: dict[str, Bound] = {
    "--max-pages": SETTINGS["crawl.max_pages"],
    "--max-depth": SETTINGS["crawl.max_depth"],
    "--delay": SETTINGS["crawl.delay"],
    "--workers": _count(1, 1_024, "processes"),
    "--top": _count(0, 1_000_000),
    "--port": _count(1, 65_535),
    "--rate-limit": SETTINGS["web.requests_per_minute"],
    "--max-snapshots": SETTINGS["archive.max_snapshots"],
}


def check_setting(key: str, value: object, name: str) -> None:
    """Check one setting ('crawl.delay') against its bound; tuples (ports) element by element."""
    bound = SETTINGS.get(key)
    if bound is None:
        return
    for item in value if isinstance(value, tuple) else (value,):
        bound.check(name, item)  # type: ignore[arg-type]


def check_option(option: str, value: float | None) -> None:
    """Check a command-line option's value (None: not given) against its bound."""
    if value is not None:
        OPTIONS[option].check(option, value)


def check_politeness(delay: float | None, allow_private: bool) -> None:
    """A delay under MIN_PUBLIC_DELAY is for local and intranet hosts only (--allow-private)."""
    if delay is not None and delay < MIN_PUBLIC_DELAY and not allow_private:
        raise ConfigError(f"--delay {delay}: under {MIN_PUBLIC_DELAY} s between requests is impolite to a public "
                          "site; it is allowed only with --allow-private (tests, intranet)")
