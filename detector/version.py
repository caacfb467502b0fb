"""stemcheck's version, on the ground floor: WARC records and reports name it without importing the package face."""

__version__ = "0.1.0"
