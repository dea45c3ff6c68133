# Run `make help` for the targets. `make demo` and `make test` install first.
SHELL := /bin/bash
# uv from PATH, else the copy `make install` puts in .tools/, a virtual environment of its own:
# pip refuses to install into a system Python that is externally managed (PEP 668).
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen
DEMO := outputs/demo
DEMO_ACCOUNTS ?= 2000
DEMO_SEED ?= 42

.DEFAULT_GOAL := help
.PHONY: help install demo weekly test lint format serve report-check notebooks notebooks-clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: ## Install the project, its locked dependencies, every group and extra into .venv (uv if missing)
	@command -v $(UV) >/dev/null 2>&1 || $(MAKE) --no-print-directory .tools/bin/uv
	$(UV) sync --frozen --all-groups --all-extras

# Without python3-venv (Debian, Ubuntu) the venv gets no pip: the system's pip installs into it.
.tools/bin/uv:
	@echo "uv is not on PATH: installing it from PyPI into .tools/"
	rm -rf .tools
	python3 -m venv .tools && .tools/bin/python -m pip install --quiet uv \
	  || { rm -rf .tools && python3 -m venv --without-pip .tools \
	       && python3 -m pip --python .tools/bin/python install --quiet uv; }

$(DEMO)/raw/accounts.csv: $(wildcard data/world/*.py)
	$(RUN) churn generate --out $(DEMO) --accounts $(DEMO_ACCOUNTS) --seed $(DEMO_SEED)

demo: install $(DEMO)/raw/accounts.csv ## Generate the demo world and run the whole pipeline (dvc repro)
	$(RUN) dvc repro

weekly: install ## Score a new export with the champion; never retrains (validate, features, score, monitor, report)
	$(RUN) churn weekly

test: install ## Run the whole test suite
	$(RUN) pytest -n 2 --dist loadfile

lint: install ## uv.lock in step with pyproject.toml, ruff check and format, mypy, import contracts
	$(UV) lock --check
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports

format: install ## Format and fix what ruff can
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

# Appended to a copy of the report by `make report-check`: one line with the page's height (as it
# opens) and how many elements stick out past the window's right edge once every manager's
# section is open (a table scrolling inside its own box does not count).
define REPORT_PROBE
<script>
addEventListener("load", function () {
  var root = document.documentElement, width = root.clientWidth, height = root.scrollHeight;
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  var out = Array.prototype.filter.call(document.querySelectorAll("main *"), function (e) {
    return e.getBoundingClientRect().right > width + 1 && !e.closest(".scroll");
  });
  var line = document.createElement("pre");
  line.textContent = "report" + "-check: " + height + " " + root.scrollWidth + " " + out.length + " " +
    out.slice(0, 5).map(function (e) { return e.tagName.toLowerCase() + "." + e.className; }).join(" ");
  document.body.appendChild(line);
});
</script>
endef
export REPORT_PROBE
REPORT_WIDTHS := 1280 390
CHROME := chromium-headless-shell --no-sandbox --disable-gpu --hide-scrollbars

report-check: ## Screenshot the newest report at 1280 and 390 px; fail if wider than the window (needs chromium-headless-shell)
	@command -v chromium-headless-shell >/dev/null || { echo "needs chromium-headless-shell" \
	  "(apt-get install chromium-headless-shell): headless chromium opens no window under 500 px"; exit 1; }
	@f=$$(ls -1 outputs/report/*.html 2>/dev/null | sort | tail -1); \
	if [ -z "$$f" ]; then echo "no report yet: run make demo first"; exit 1; fi; \
	probe=$$(mktemp --suffix=.html); trap 'rm -f "$$probe"' EXIT; \
	{ cat "$$f"; echo "$$REPORT_PROBE"; } > "$$probe"; status=0; \
	for w in $(REPORT_WIDTHS); do \
	  read -r height page out which <<< "$$($(CHROME) --window-size=$$w,900 --dump-dom \
	    "file://$$probe" 2>/dev/null | grep -o 'report-check: [^<]*' | cut -d' ' -f2-)"; \
	  [ -n "$$height" ] || { echo "$$w px: chromium did not load $$f"; exit 1; }; \
	  png="$${f%.html}-$$w.png"; \
	  $(CHROME) --window-size=$$w,$$height --screenshot="$$png" "file://$$PWD/$$f" >/dev/null 2>&1; \
	  echo "$$w px: page $$page px wide, $$height px high, $$out elements past the edge $$which; $$png"; \
	  [ "$$page" -le "$$w" ] && [ "$$out" -eq 0 ] || status=1; \
	done; exit $$status

notebooks: install ## Start JupyterLab on the notebooks (they read outputs/ after make demo)
	$(RUN) jupyter lab notebooks/

notebooks-clean: install ## Re-pair every notebook from its .py twin, without outputs
	for f in notebooks/0*.py; do $(RUN) jupytext --to ipynb --update-metadata \
	  '{"jupytext": {"formats": "ipynb,py:percent"}, "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}' "$$f"; done

serve: install ## Start the risk API on localhost:8000 (set CHURN_API_KEYS first; see README)
	$(RUN) churn serve
