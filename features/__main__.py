"""`python -m features`: the `churn features` stage alone, for `spark-submit` to run.

spark-submit --master yarn --deploy-mode client features/__main__.py --params params.yaml
"""

from __future__ import annotations

import typer

from features.cli import features

if __name__ == "__main__":
    typer.run(features)
