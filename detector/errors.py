"""All stemcheck exception types, so callers can catch one family and tell the user what went wrong."""


class StemcheckError(Exception):
    """Base of every error stemcheck raises on purpose; the CLI prints it as one line."""


class InputError(StemcheckError):
    """A target (file, text, URL) cannot be analysed: missing, empty, binary or not HTML/text."""


class FetchError(InputError):
    """A URL could not be fetched: unreachable, timed out, too large, wrong content type."""


class UnsafeURLError(FetchError):
    """A URL points somewhere stemcheck refuses to go (private address, odd scheme or port): SSRF guard."""


class ModelError(StemcheckError):
    """The trained model is missing, does not match its recorded hash, or cannot be loaded."""


class CorpusError(StemcheckError):
    """A corpus file is malformed: bad JSON, unknown category, missing field, page text mismatch."""


class ConfigError(StemcheckError):
    """A setting (environment variable or option) has a value stemcheck cannot use."""
