"""A stand-in web archive on 127.0.0.1: the Wayback Machine's CDX API and `id_` replays of one clinic page.

The clinic claimed FDA approval from 2018 to 2020 (reworded in 2019), and removed it in 2023; its
honest risk note stays throughout. Around those captures the archive behaves as real ones do: identical
content captured again (same digest), a redirect capture and a PDF in the index, an HTML capture whose
replay comes back as an image, a replay the archive redirects to a neighbouring capture, a 429 with
Retry-After, a replay that never answers (held on an Event the test releases), and junk index rows.
Every request is logged in order (tests.sites.serve), so tests can say what was fetched and how often.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.sites import HTML, Handler, Log, serve

TARGET = "http://clinic.example/stem-cell-therapy"

APPROVAL = "Our stem cell therapy is FDA approved and cures arthritis, multiple sclerosis and autism."
APPROVAL_2019 = "Our stem cell therapy is FDA-approved and cures arthritis, multiple sclerosis and even autism!"
GUARANTEE = "We guarantee results for every patient, with a 98% success rate."
RISKS = "Stem cell treatments carry risks, including infection, and have not been approved by the FDA."


def clinic_page(*claims: str, title: str = "Stem Cell Therapy | Clinic Example") -> bytes:
    body = "".join(f"<p>{c}</p>" for c in claims)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>Stem cell therapy for joints and the nervous system</h1>"
            f"<p>We offer regenerative medicine with mesenchymal stem cells from umbilical cord tissue.</p>"
            f"{body}<p>Call us to book a consultation.</p></body></html>").encode()


PAGES = {
    "A": clinic_page(APPROVAL, GUARANTEE, RISKS),
    "B": clinic_page(APPROVAL_2019, GUARANTEE, RISKS),
    "C": clinic_page(APPROVAL_2019, GUARANTEE, RISKS, "New: exosome infusions."),
    "D": clinic_page(APPROVAL_2019, GUARANTEE, RISKS, "New: exosome infusions.", "Opening hours changed."),
    "F": clinic_page(RISKS, "We offer consultations about clinical trials near you."),
}


def row(ts: str, digest: str, mime: str = "text/html", status: str = "200", url: str = TARGET) -> list[str]:
    return [ts, url, mime, status, digest, "2048"]


# The index, not in time order (archives merge shards); what each line is for is said beside it.
INDEX = [
    ["timestamp", "original", "mimetype", "statuscode", "digest", "length"],
    row("20190310120000", "B"),
    row("20180115093000", "A"),
    row("20180601000000", "A"),                         # identical to 2018-01: never fetched
    row("20190401000000", "R", status="301"),           # a redirect capture: never fetched
    row("20190501000000", "P", mime="application/pdf"),  # not HTML: never fetched
    row("20200220080000", "C"),                         # replay redirected by the archive to 20200221...
    row("20201105000000", "D"),                         # 429 with Retry-After first
    row("20210615000000", "G"),                         # the index says HTML, the replay is an image
    row("20220301000000", "E"),                         # the replay never answers: a timeout
    row("20230410000000", "F"),                         # the approval claim removed
    row("20240102000000", "F"),                         # identical to 2023: never fetched
    "junk",
    ["2019", TARGET, "text/html"],                      # too few fields
    ["2019ABCD000000", TARGET, "text/html", "200", "X", "1"],
    ["20191301000000", TARGET, "text/html", "200", "X", "1"],  # month 13
    ["20190101000000", "javascript:alert(1)", "text/html", "200", "X", "1"],
    42,
]
JUNK_ROWS = 6
RETRY_AFTER = 7


def replay(ts: str) -> str:
    return f"/web/{ts}id_/{TARGET}"


@dataclass
class StandIn:
    base: str
    log: Log
    release: threading.Event

    def fetched(self) -> list[str]:
        """The paths requested, in order, the CDX query reduced to its path."""
        return [p.split("?")[0] for p in self.log.paths()]


@contextmanager
def stand_in_archive(index: list | None = None) -> Iterator[StandIn]:
    """Serve the stand-in archive; the hanging replay is released when the context ends."""
    release = threading.Event()
    state: dict = {"busy": 0, "base": ""}

    def cdx(h: Handler) -> None:
        h.reply(200, {"Content-Type": "application/json"}, json.dumps(INDEX if index is None else index).encode())

    def redirect(h: Handler) -> None:
        h.reply(302, {"Location": f"{state['base']}{replay('20200221000000')}"}, b"")

    def busy_once(h: Handler) -> None:
        state["busy"] += 1
        if state["busy"] == 1:
            h.reply(429, {"Retry-After": str(RETRY_AFTER), "Content-Type": "text/plain"}, b"slow down")
        else:
            h.reply(200, HTML, PAGES["D"])

    def hang(h: Handler) -> None:
        release.wait(10)  # bounded: a test that forgets to release cannot hang the suite

    routes = {
        "/cdx/search/cdx": cdx,
        replay("20180115093000"): (200, HTML, PAGES["A"]),
        replay("20190310120000"): (200, HTML, PAGES["B"]),
        replay("20200220080000"): redirect,
        replay("20200221000000"): (200, HTML, PAGES["C"]),
        replay("20201105000000"): busy_once,
        replay("20210615000000"): (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n"),
        replay("20220301000000"): hang,
        replay("20230410000000"): (200, HTML, PAGES["F"]),
    }
    with serve(routes) as (base, log):
        state["base"] = base
        try:
            yield StandIn(base, log, release)
        finally:
            release.set()


class FakeTime:
    """A clock that only moves when the code under test sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds
