"""Every notebook runs top to bottom, from scratch, on a small generated world."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("0*.ipynb"))


@pytest.fixture(scope="module")
def empty_outputs(tmp_path_factory: pytest.TempPathFactory):
    """No pipeline outputs: the first notebook builds the small world, the others reuse it."""
    root = tmp_path_factory.mktemp("notebooks")
    saved = {k: os.environ.get(k) for k in ("CHURN_OUTPUTS", "CHURN_NOTEBOOK_WORLD")}
    os.environ["CHURN_OUTPUTS"] = str(root / "outputs")
    os.environ["CHURN_NOTEBOOK_WORLD"] = str(root / "world")
    yield root
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_there_are_four_paired_notebooks_without_outputs():
    assert [p.stem for p in NOTEBOOKS] == [
        "01-data-overview",
        "02-feature-cohorts",
        "03-model-evaluation",
        "04-model-vs-managers",
    ]
    for path in NOTEBOOKS:
        assert path.with_suffix(".py").exists(), f"{path.name} has no py:percent twin"
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
        assert not [c for c in nb.cells if c.cell_type == "code" and c.outputs], path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_from_scratch(path: Path, empty_outputs: Path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    assert "small generated world" in first  # it says where its figures come from
    assert (empty_outputs / "world" / "score" / "latest" / "scores.parquet").exists()
