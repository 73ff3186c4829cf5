"""``python -m curate`` runs the CLI."""

from curate.cli import entrypoint

entrypoint()
