"""URL canonicalisation, same-site scope, spider-trap rules and crawl priority.

One canonical form per page keeps the crawler from fetching the same page twice under different
spellings (fragments, default ports, tracking parameters, duplicate slashes, case, dot segments).
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from functools import lru_cache
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

from detector.errors import InputError

TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid", "mc_cid",
    "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "vero_id", "oly_anon_id", "oly_enc_id", "rb_clickid",
    "s_cid", "ref_src", "sessionid", "phpsessid", "jsessionid", "sid",
})
TRACKING_PREFIXES = ("utm_", "pk_", "hsa_", "matomo_")

# Not worth a request: the crawler reads HTML marketing pages only.
SKIP_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".ico", ".bmp", ".tif", ".tiff", ".avif", ".heic",
    ".css", ".js", ".mjs", ".json", ".map", ".woff", ".woff2", ".ttf", ".otf", ".eot",
    ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".rtf", ".csv",
    ".zip", ".gz", ".tgz", ".rar", ".7z", ".bz2", ".xz", ".dmg", ".exe", ".msi", ".apk", ".iso",
    ".mp3", ".mp4", ".m4a", ".m4v", ".mov", ".avi", ".wmv", ".webm", ".ogg", ".wav", ".flac",
})

# Words in a URL or its anchor text that mark the pages where claims live: treatments, conditions,
# prices, FAQs, testimonials. Scored, not required.
PRIORITY_TERMS = re.compile(
    r"stem|cell|regenerat|exosome|mesenchymal|msc|cord|amniotic|placent|wharton|svf|marrow|bmac|prp|"
    r"treat|therap|procedure|protocol|injection|condition|disease|knee|hip|shoulder|spine|spinal|back|disc|"
    r"joint|arthritis|autism|parkinson|ms\b|multiple.sclerosis|als\b|copd|diabet|stroke|palsy|anti.?aging|"
    r"hair|price|pricing|cost|fee|package|financ|faq|question|testimonial|review|stories|story|result|"
    r"success|patient|video|about|doctor|science|research|study|studies|trial|safety|approv|fda",
    re.IGNORECASE,
)
LOW_VALUE = re.compile(
    r"privacy|cookie|terms|login|log-in|signin|sign-in|register|account|cart|checkout|wp-admin|wp-login|"
    r"feed|rss|/tag/|/author/|share|print=|replytocom|calendar|/page/\d+",
    re.IGNORECASE,
)


def split_url(url: str) -> SplitResult:
    """urlsplit that raises InputError: `http://[::1/` or a host that breaks under NFKC is bad input,
    which every caller reports as a row or a 400, never a ValueError traceback."""
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise InputError(f"{url[:200]}: not a valid URL ({exc})") from exc


_HOST = re.compile(r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?")


def valid_host(host: str) -> bool:
    """An IP address, or a name whose IDNA form is DNS-shaped (labels of 1-63 letters, digits, hyphens).

    `a b`, an empty label or a 64-character label are refused here, before a resolver is ever asked.
    """
    if _is_ip(host):
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    return _HOST.fullmatch(ascii_host) is not None


def join_url(base: str, ref: str) -> str:
    """urljoin that raises InputError, for links and redirect targets written by hostile pages."""
    try:
        return urljoin(base, ref)
    except ValueError as exc:
        raise InputError(f"{ref[:200]}: not a valid URL ({exc})") from exc


@lru_cache(maxsize=1)
def _psl():  # noqa: ANN202
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()  # bundled list: no download at run time


def _clean_path(path: str) -> str:
    path = re.sub(r"/{2,}", "/", path or "/")
    had_slash = path.endswith("/")
    norm = posixpath.normpath(path)
    if norm in (".", "//"):
        norm = "/"
    if not norm.startswith("/"):
        norm = "/" + norm
    if had_slash and not norm.endswith("/"):
        norm += "/"
    # one spelling for percent escapes: decode what is safe, re-quote the rest uppercase
    return quote(unquote(norm), safe="/:@!$&'()*+,;=-._~")


def canonicalize(url: str, base: str | None = None) -> str:
    """The canonical spelling of an http(s) URL; raises InputError for anything else."""
    raw = url.strip()
    if base is not None:
        raw = join_url(base, raw)
    parts = split_url(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InputError(f"{url}: not an http(s) URL (only http and https are crawled)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InputError(f"{url}: no host name")
    try:
        host = host.encode("idna").decode("ascii").lower() if not _is_ip(host) else host.lower()
    except UnicodeError as exc:
        raise InputError(f"{url}: invalid host name") from exc
    try:
        port = parts.port
    except ValueError as exc:
        raise InputError(f"{url}: invalid port") from exc
    netloc = f"[{host}]" if ":" in host else host
    if port and not (scheme == "http" and port == 80) and not (scheme == "https" and port == 443):
        netloc += f":{port}"
    if parts.username is not None or parts.password is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{netloc}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    query.sort()
    return urlunsplit((scheme, netloc, _clean_path(parts.path), urlencode(query), ""))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def site_key(url: str) -> str:
    """The site a URL belongs to: its registered domain (www. and http/https folded), or IP and port.

    A non-default port is part of the site, so two test servers on 127.0.0.1 are two sites.
    """
    parts = split_url(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InputError(f"{url}: no host name")
    try:
        port = parts.port
    except ValueError as exc:
        raise InputError(f"{url}: invalid port") from exc
    domain = host if _is_ip(host) or "." not in host else (_psl().privatesuffix(host) or host)
    if port and port not in (80, 443):
        return f"{domain}:{port}"
    return domain


def same_site(url: str, site: str) -> bool:
    try:
        return site_key(url) == site
    except InputError:
        return False


def skip_reason(url: str, max_url_length: int, max_segments: int, max_repeats: int) -> str | None:
    """Why a URL should not be requested at all (too long, not a page, a spider-trap shape), or None."""
    if len(url) > max_url_length:
        return f"URL longer than {max_url_length} characters"
    path = urlsplit(url).path
    ext = posixpath.splitext(path.lower())[1]
    if ext in SKIP_EXTENSIONS:
        return f"not a page ({ext} file)"
    segments = [s for s in path.split("/") if s]
    if len(segments) > max_segments:
        return f"spider trap: path has {len(segments)} segments (limit {max_segments})"
    counts: dict[str, int] = {}
    for seg in segments:
        counts[seg] = counts.get(seg, 0) + 1
        if counts[seg] > max_repeats:
            return f"spider trap: path segment {seg[:40]!r} repeats {counts[seg]} times"
    return None


def url_pattern(url: str) -> str:
    """The URL's shape with numbers and query values blanked, so /calendar?month=2031-05 and
    /calendar?month=2031-06 count as one pattern (how endless calendars are caught)."""
    parts = urlsplit(url)
    path = re.sub(r"\d+", "#", parts.path)
    keys = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return f"{parts.netloc}{path}?{'&'.join(keys)}"


def priority(url: str, anchor: str = "") -> int:
    """How promising a link is: matches of claim-bearing words in its path and anchor text, less
    obvious boilerplate. Higher is fetched first within a depth."""
    parts = urlsplit(url)
    text = f"{unquote(parts.path)} {parts.query} {anchor}"
    score = len(set(m.group(0).lower() for m in PRIORITY_TERMS.finditer(text)))
    if LOW_VALUE.search(text):
        score -= 3
    return score
