"""What leaves stemcheck: terminal text, JSON lines and HTML reports, tables (CSV/Parquet) and the SQLite
results store (all of stemcheck's SQL lives in store.py)."""
