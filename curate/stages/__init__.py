"""Curation stages, one per module; each registers itself with :func:`curate.registry.register`."""
