"""Execution engines. ``local`` runs stages in-process; ``ray`` (optional extra) on Ray Data."""
