"""All stemcheck exception types, so callers can catch one family and tell the user what went wrong."""


class StemcheckError(Exception):
    """Base of every error stemcheck raises on purpose; the CLI prints it as one line."""


class InputError(StemcheckError):
    """A target (file, text, URL) cannot be analysed: missing, empty, binary or not HTML/text."""


class OutputError(StemcheckError):
    """An output cannot be written: the disk is full, the folder is not writable, or the store is not ours."""


class FetchError(InputError):
    """A URL could not be fetched: unreachable, timed out, too large, wrong content type.

    ``reason`` is a short machine-readable code (timeout, too_large, not_html, tls, robots...) that crawl
    results and WARC metadata records carry, so failures can be counted by kind.
    """

    def __init__(self, message: str, reason: str = "fetch"):
        super().__init__(message)
        self.reason = reason


class UnsafeURLError(FetchError):
    """A URL points somewhere stemcheck refuses to go (private address, odd scheme or port): SSRF guard."""


class ArchiveError(InputError):
    """A web archive's capture index cannot be used: unreadable, refused, or it holds no capture to read."""


class RobotsDisallowedError(FetchError):
    """robots.txt forbids the URL for our user agent (or could not be read, which RFC 9309 treats alike)."""

    def __init__(self, message: str):
        super().__init__(message, "robots")


class JobLimitError(StemcheckError):
    """Too many site crawls or fetches are already running in the web app; the client should retry (HTTP 429)."""


class ModelError(StemcheckError):
    """The trained model is missing, does not match its recorded hash, or cannot be loaded."""


class CorpusError(StemcheckError):
    """A corpus file is malformed: bad JSON, unknown category, missing field, page text mismatch."""


class ConfigError(StemcheckError):
    """A setting (environment variable or option) has a value stemcheck cannot use."""
