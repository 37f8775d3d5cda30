"""`python -m goldenshot` is the `goldenshot` command."""

from goldenshot.cli import app

app()
