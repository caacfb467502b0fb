"""`python -m detector` runs the `stemcheck` command line (useful where console scripts are not on PATH)."""

from detector.cli import app

app(prog_name="stemcheck")
