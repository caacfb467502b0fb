"""Every tunable default in one place, as frozen dataclasses; env vars STEMCHECK_<SECTION>_<FIELD> override.

Precedence: these defaults < environment < explicit arguments (the CLI passes its options explicitly).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from detector.bounds import check_setting
from detector.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class FetchSettings:
    """One HTTP request (single-page check and every crawler request).

    max_bytes caps the body as received; max_decoded_bytes caps it after one content-encoding layer is
    decoded (a 5 MB gzip can inflate to gigabytes). total_timeout bounds a whole request including a
    body that drips one byte at a time; redirect hops share it.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 20.0
    max_bytes: int = 5_000_000
    max_decoded_bytes: int = 10_000_000
    max_redirects: int = 5
    max_url_length: int = 2048
    user_agent: str = "stemcheck/0.1 (+https://github.com/stemcheck/stemcheck; research crawler)"
    accept_encoding: str = "gzip, deflate, br"
    allowed_ports: tuple[int, ...] = (80, 443)


@dataclass(frozen=True)
class CrawlSettings:
    """Site crawl limits and politeness (`stemcheck crawl`, `check URL --site`).

    The defaults read a typical clinic site (about 30 pages) in well under a minute while staying polite:
    one request at a time per host, `delay` seconds apart or robots.txt's Crawl-delay (capped at
    `max_crawl_delay`), and back-off on 429/503 that honours Retry-After up to `max_retry_after`.
    """

    max_pages: int = 30
    max_depth: int = 3
    delay: float = 1.0
    max_crawl_delay: float = 10.0
    max_retries: int = 2
    max_retry_after: float = 30.0
    max_path_segments: int = 12
    max_segment_repeats: int = 2
    max_per_pattern: int = 10
    max_links_per_page: int = 500
    max_sitemap_urls: int = 500
    max_sitemaps: int = 5
    robots_max_bytes: int = 512_000


@dataclass(frozen=True)
class ArchiveSettings:
    """Reading a web archive (`stemcheck history`): where it is and how gently to ask it.

    The Wayback Machine throttles clients that ask faster than about 15 pages a minute, so the default
    delay keeps under that; `max_snapshots` bounds one history to a few minutes of requests.
    """

    base: str = "https://web.archive.org"
    delay: float = 4.0
    max_snapshots: int = 40
    max_cdx_rows: int = 200_000


@dataclass(frozen=True)
class ExtractSettings:
    """HTML-to-text limits: hostile pages must not exhaust memory or time."""

    max_html_bytes: int = 20_000_000
    max_text_chars: int = 1_000_000
    max_block_chars: int = 20_000
    max_depth_walk: int = 60
    max_parse_steps: int = 250_000_000  # tree-builder stack scans; 100,000 nested <div>s would take ~20 s


@dataclass(frozen=True)
class NlpSettings:
    """spaCy stage limits."""

    max_sentence_tokens: int = 80
    min_claim_tokens: int = 2
    chunk_chars: int = 100_000


@dataclass(frozen=True)
class ModelSettings:
    """Where the trained artifacts live."""

    model_dir: Path = REPO_ROOT / "models"
    corpus_dir: Path = REPO_ROOT / "corpora"


@dataclass(frozen=True)
class WebSettings:
    """Limits of the web face (`stemcheck serve`); the crawl itself is bounded by CrawlSettings/FetchSettings.

    requests_per_minute counts every request of one client address except static files, so one journalist
    clicking around never meets it but a script hammering the API does (429 with Retry-After). body_timeout
    bounds how long one request may take to send its body: a client that drips it is cut off (408).
    """

    max_body_bytes: int = 1_000_000
    max_text_chars: int = 200_000
    max_jobs: int = 2
    max_sync_fetches: int = 4
    requests_per_minute: int = 120
    max_kept_results: int = 100
    max_tracked_clients: int = 10_000
    body_timeout: float = 10.0


@dataclass(frozen=True)
class Settings:
    fetch: FetchSettings = field(default_factory=FetchSettings)
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    nlp: NlpSettings = field(default_factory=NlpSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    web: WebSettings = field(default_factory=WebSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)


def _coerce(raw: str, current: object, name: str) -> object:
    """The environment's text as the type of the default; a value that does not parse is a ConfigError."""
    try:
        if isinstance(current, bool):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, Path):
            return Path(raw)
        if isinstance(current, tuple):
            return tuple(int(p) for p in raw.split(",") if p.strip())
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r}: expected a value like {current!r}") from exc
    return raw


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from defaults overridden by STEMCHECK_* environment variables.

    Every number is checked against its bound (detector/bounds.py), as the command line's options are.
    """
    env = os.environ if environ is None else environ
    sections = {}
    for sec in dataclasses.fields(Settings):
        default = sec.default_factory()  # type: ignore[misc]
        changes = {}
        for f in dataclasses.fields(default):
            name = f"STEMCHECK_{sec.name.upper()}_{f.name.upper()}"
            if name in env:
                changes[f.name] = _coerce(env[name], getattr(default, f.name), name)
                check_setting(f"{sec.name}.{f.name}", changes[f.name], name)
        sections[sec.name] = dataclasses.replace(default, **changes)
    return Settings(**sections)
