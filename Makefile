# Run `make help` for the targets. `make demo` and `make test` install first.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN := $(UV) run --frozen
DEMO := outputs/demo
DEMO_ACCOUNTS ?= 2000
DEMO_SEED ?= 42

.DEFAULT_GOAL := help
.PHONY: help install demo weekly test lint format serve report-check notebooks notebooks-clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: ## Install the project and its locked dependencies into .venv (installs uv if missing)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv
	$(UV) sync --frozen

$(DEMO)/raw/accounts.csv: $(wildcard data/world/*.py)
	$(RUN) churn generate --out $(DEMO) --accounts $(DEMO_ACCOUNTS) --seed $(DEMO_SEED)

demo: install $(DEMO)/raw/accounts.csv ## Generate the demo world and run the whole pipeline (dvc repro)
	$(RUN) dvc repro

weekly: install ## Score a new export with the champion; never retrains (validate, features, score, monitor, report)
	$(RUN) churn weekly

test: install ## Run the whole test suite
	$(RUN) pytest -n 2 --dist loadfile

lint: install ## ruff check, ruff format --check, mypy, import contracts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports

format: install ## Format and fix what ruff can
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

report-check: ## Screenshot the newest weekly report in headless Chromium (apt-get install chromium)
	@f=$$(ls -1 outputs/report/*.html 2>/dev/null | sort | tail -1); \
	if [ -z "$$f" ]; then echo "no report yet: run make demo first"; exit 1; fi; \
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,3200 \
	  --screenshot="$${f%.html}.png" "file://$$PWD/$$f" 2>/dev/null && echo "screenshot: $${f%.html}.png"

notebooks: install ## Start JupyterLab on the notebooks (they read outputs/ after make demo)
	$(RUN) jupyter lab notebooks/

notebooks-clean: install ## Re-pair every notebook from its .py twin, without outputs
	for f in notebooks/0*.py; do $(RUN) jupytext --to ipynb --update-metadata \
	  '{"jupytext": {"formats": "ipynb,py:percent"}, "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}' "$$f"; done

serve: install ## Start the risk API on localhost:8000 (set CHURN_API_KEYS first; see README)
	$(RUN) churn serve
