"""Run reports: manifest.json, report.json (and report.html)."""
