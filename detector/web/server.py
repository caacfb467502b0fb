"""`stemcheck serve`: the web app under uvicorn, with a demo store built on first start when none is given."""

from __future__ import annotations

import logging
from pathlib import Path

from detector.errors import InputError
from detector.output.store import ResultStore
from detector.settings import REPO_ROOT, Settings, load_settings

log = logging.getLogger(__name__)

DEMO_DB = Path("stemcheck-demo.sqlite")
DEMO_PAGES = REPO_ROOT / "corpora" / "pages"


def has_finished_run(db: Path) -> bool:
    if not db.exists():
        return False
    with ResultStore(db) as store:
        return any(r["status"] == "finished" for r in store.runs())


def ensure_demo_store(db: Path = DEMO_DB, model_dir: Path | None = None, settings: Settings | None = None) -> Path:
    """Scan the bundled pages into `db` unless it already holds a finished run, so Triage has data at once."""
    if has_finished_run(db):
        return db
    if not DEMO_PAGES.is_dir():
        raise InputError(f"{DEMO_PAGES}: the bundled demo pages are missing; pass --db FILE.sqlite")
    from detector.batch.runner import Scanner

    log.info("building the demo store %s from %s (first start only)", db, DEMO_PAGES)
    Scanner(model_dir=model_dir, settings=settings, db=db).run([DEMO_PAGES])
    return db


def run_server(host: str = "127.0.0.1", port: int = 8000, db: Path | None = None, allow_private: bool = False,
               model_dir: Path | None = None, allowed_hosts: list[str] | None = None,
               rate_limit: int | None = None) -> None:
    """Serve the app until interrupted; the CLI's `serve` command calls this.

    The app answers only to localhost's names, the bound address and `allowed_hosts`; on all interfaces
    (0.0.0.0, ::) the names clients will use must be given, since any name would otherwise reach it.
    """
    import dataclasses

    import uvicorn

    from detector.web.app import create_app
    from detector.web.security import ALL_INTERFACES
    from detector.web.security import allowed_hosts as hosts_for

    if host in ALL_INTERFACES and not allowed_hosts:
        raise InputError(f"--host {host or '(all)'} listens on every interface: name the host names clients will "
                         "use with --allowed-host NAME (repeatable)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    if rate_limit is not None:
        settings = dataclasses.replace(settings, web=dataclasses.replace(settings.web, requests_per_minute=rate_limit))
    if db is None:
        db = ensure_demo_store(DEMO_DB.resolve(), model_dir, settings)
    elif not Path(db).exists():
        raise InputError(f"{db}: no such results store (build one with `stemcheck scan ... --db {db}`)")
    if allow_private:
        log.warning("--allow-private: the app will fetch loopback and private addresses on request")
    hosts = hosts_for(host, allowed_hosts or [])
    log.info("answering to the host names %s; %d requests a minute per client", ", ".join(sorted(hosts)),
             settings.web.requests_per_minute)
    app = create_app(Path(db), model_dir, allow_private, settings, hosts=hosts)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False)
