"""Every tunable default in one place, as frozen dataclasses the code reads; pydantic-settings reads the sources.

Precedence, lowest first: these defaults < the settings file (TOML named by STEMCHECK_SETTINGS, one table per
section) < environment variables STEMCHECK_<SECTION>_<FIELD> < command-line options (the CLI applies them
last, explicitly). `stemcheck settings` prints the effective values and where each came from.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any

from detector.bounds import check_setting
from detector.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic_settings import BaseSettings

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
    bounds how long one request may take to send its body: a client that drips it is cut off (408). workers
    is how many processes run analyses side by side (0: in the server's own threads, one core's worth).
    """

    max_body_bytes: int = 1_000_000
    max_text_chars: int = 200_000
    max_jobs: int = 2
    max_sync_fetches: int = 4
    requests_per_minute: int = 120
    max_kept_results: int = 100
    max_tracked_clients: int = 10_000
    body_timeout: float = 10.0
    workers: int = 2


@dataclass(frozen=True)
class Settings:
    fetch: FetchSettings = field(default_factory=FetchSettings)
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    nlp: NlpSettings = field(default_factory=NlpSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    web: WebSettings = field(default_factory=WebSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)


SETTINGS_FILE_VAR = "STEMCHECK_SETTINGS"
_ENVIRON: ContextVar[Mapping[str, str]] = ContextVar("stemcheck_environ")


def env_name(section: str, name: str) -> str:
    return f"STEMCHECK_{section.upper()}_{name.upper()}"


def _ints(raw: object) -> object:
    """'80,8080' from the environment (and [80, 8080] from the file) as a tuple of ports."""
    if isinstance(raw, str):
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    return raw


@cache
def _pydantic() -> SimpleNamespace:
    """pydantic-settings, imported only when a settings file or a STEMCHECK_* variable is there to read: it costs
    a fifth of a CPU-second, which a cold `stemcheck check` with the defaults need not pay."""
    from pydantic import BeforeValidator, ValidationError, create_model
    from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict

    class _Environment(EnvSettingsSource):
        """The environment pydantic-settings reads: os.environ, or the mapping load_settings was given (tests)."""

        def _load_env_vars(self) -> Mapping[str, str | None]:
            environ = _ENVIRON.get(os.environ)
            return {k.lower(): v for k, v in environ.items()}

    class _Section(BaseSettings):
        model_config = SettingsConfigDict(case_sensitive=False, extra="forbid", validate_default=False)

        @classmethod
        def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: Any,
                                       env_settings: Any, dotenv_settings: Any, file_secret_settings: Any,
                                       ) -> tuple[Any, ...]:
            # The file's values arrive as init values; the environment outranks them.
            return (_Environment(settings_cls), init_settings)

    return SimpleNamespace(BeforeValidator=BeforeValidator, ValidationError=ValidationError,
                           create_model=create_model, NoDecode=NoDecode, SettingsConfigDict=SettingsConfigDict,
                           Section=_Section)


@cache
def _source(section: str) -> type[BaseSettings]:
    """A pydantic-settings model mirroring one section's dataclass, with its STEMCHECK_<SECTION>_ prefix."""
    pd = _pydantic()
    cls = next(f for f in dataclasses.fields(Settings) if f.name == section).default_factory  # type: ignore[misc]
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if typing.get_origin(kind) is tuple:
            kind = Annotated[kind, pd.NoDecode, pd.BeforeValidator(_ints)]
        fields[f.name] = (kind, getattr(cls(), f.name))
    base = type(f"{cls.__name__}Base", (pd.Section,), {
        "model_config": pd.SettingsConfigDict(env_prefix=f"STEMCHECK_{section.upper()}_", case_sensitive=False,
                                              extra="forbid")})
    return pd.create_model(f"{cls.__name__}Source", __base__=base, **fields)


def _read_file(path: Path) -> dict[str, dict]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the settings file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not a valid TOML settings file ({exc})") from exc
    known = {f.name for f in dataclasses.fields(Settings)}
    for key, value in data.items():
        if key not in known or not isinstance(value, dict):
            raise ConfigError(f"{path}: [{key}] is not a settings section (sections: {', '.join(sorted(known))})")
    return data


def resolve_settings(environ: Mapping[str, str] | None = None, file: Path | None = None,
                     ) -> tuple[Settings, dict[str, str]]:
    """The effective settings and, per changed 'section.field', where the value came from (file or variable)."""
    env = os.environ if environ is None else environ
    if file is None and env.get(SETTINGS_FILE_VAR):
        file = Path(env[SETTINGS_FILE_VAR])
    if file is None and not any(k.upper().startswith("STEMCHECK_") for k in env):
        return Settings(), {}  # nothing to read: the defaults, without importing pydantic-settings
    data = _read_file(file) if file is not None else {}
    sections, origin = {}, {}
    token = _ENVIRON.set(env)
    try:
        for sec in dataclasses.fields(Settings):
            default = sec.default_factory()  # type: ignore[misc]
            given = data.get(sec.name, {})
            try:
                values = _source(sec.name)(**given).model_dump()
            except _pydantic().ValidationError as exc:
                raise _config_error(exc, sec.name, env, given, file) from exc
            changes = {k: v for k, v in values.items() if v != getattr(default, k)}
            for name, value in changes.items():
                var = env_name(sec.name, name)
                where = var if var in env or var.lower() in {k.lower() for k in env} else f"{file} [{sec.name}]"
                check_setting(f"{sec.name}.{name}", value, var if where == var else f"{where} {name}")
                origin[f"{sec.name}.{name}"] = where
            sections[sec.name] = dataclasses.replace(default, **changes)
    finally:
        _ENVIRON.reset(token)
    return Settings(**sections), origin


def _config_error(exc: ValidationError, section: str, env: Mapping[str, str], given: dict,
                  file: Path | None) -> ConfigError:
    """The first bad value as one line naming the variable (or the file and key) and what was expected."""
    err = exc.errors()[0]
    name = str(err["loc"][0]) if err["loc"] else "?"
    var = env_name(section, name)
    if err["type"] == "extra_forbidden":
        return ConfigError(f"{file}: [{section}] {name} is not a setting")
    if var in env:
        return ConfigError(f"{var}={env[var]!r}: {err['msg'].lower()}")
    return ConfigError(f"{file}: [{section}] {name} = {given.get(name)!r}: {err['msg'].lower()}")


def load_settings(environ: Mapping[str, str] | None = None, file: Path | None = None) -> Settings:
    """Defaults < settings file < STEMCHECK_* environment variables; every number checked against its bound
    (detector/bounds.py), as the command line's options are."""
    return resolve_settings(environ, file)[0]
