# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
EXTRAS := postgres,mysql,ml,forecast,llm,service,spark,dev
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test lint bench install clean help

help:
	@echo "make demo   - generate a synthetic store, load it into DuckDB and write demo/report.html"
	@echo "make test   - run the test suite (PostgreSQL/MariaDB suites run when MARKETLOOP_TEST_*_URL are set)"
	@echo "make lint   - ruff (lint and format check) and the import-linter layering contracts"
	@echo "make bench  - run the benchmarks (writes bench/results/*.json)"

# Chart.js for the dashboard's charts and Swagger UI for /v1/docs: installed from npm at the version locked in web/package-lock.json
# and copied into the package (gitignored: third-party code is not committed). Without npm the dashboard
# still works and shows its figures as tables. Order-only for the stamp: a missing npm must not make
# every `make test` reinstall the Python packages.
VENDOR  := src/marketloop/service/dashboard/static/vendor
# Chart.js lives with the report builder, which inlines it into every HTML report; the dashboard serves the same file.
REPORT_VENDOR := src/marketloop/report/vendor
CHARTJS := $(REPORT_VENDOR)/chart.umd.js

$(CHARTJS): web/package.json web/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix web --no-audit --no-fund --loglevel=error && mkdir -p $(VENDOR) $(REPORT_VENDOR) && \
	  sed '/^\/\/# sourceMappingURL=/d' web/node_modules/chart.js/dist/chart.umd.js > $@ && \
	  cp web/node_modules/chart.js/LICENSE.md $(REPORT_VENDOR)/chart.js.LICENSE.md && \
	  sed '/^\/\/# sourceMappingURL=/d' web/node_modules/swagger-ui-dist/swagger-ui-bundle.js > $(VENDOR)/swagger-ui-bundle.js && \
	  sed '/sourceMappingURL=/d' web/node_modules/swagger-ui-dist/swagger-ui.css > $(VENDOR)/swagger-ui.css && \
	  cp web/node_modules/swagger-ui-dist/LICENSE $(VENDOR)/swagger-ui.LICENSE; \
	else \
	  echo "npm not found: the dashboard will show tables instead of charts and /v1/docs links the OpenAPI document (install Node.js with npm, then make install)"; \
	fi

$(STAMP): pyproject.toml | $(CHARTJS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: the pinned version is a CPU build; anything else pulls a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/marketloop demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench docs
	$(BIN)/ruff format --check src tests bench docs
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) demo bench/results .pytest_cache web/node_modules $(VENDOR) $(REPORT_VENDOR)
