"""What a `churn` command and an API worker import before they do anything.

Every `churn` command imports the whole command tree (serving.cli mounts each package's), and
each `churn serve --workers N` worker imports it again while uvicorn's supervisor waits for it
(a worker slow to answer its health ping is killed and replaced). The heavy libraries are
imported by the stage that needs them, never at start-up.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "sklearn", "scipy", "lightgbm", "mlflow", "shap", "duckdb", "venn_abers")


@pytest.mark.parametrize("module", ["serving.cli", "serving.api"])
def test_start_up_imports_no_heavy_library(module: str) -> None:
    probe = f"import sys, {module}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [], f"{module} imports {done.stdout.strip()} at start-up"
