"""Readers and writers: every input format in, atomic writes out."""
