# The README's commands. `make demo` and `make test` need only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev
PYTEST_ARGS ?=

.PHONY: demo test test-postgres lint format check bench screenshots clean

$(BIN)/.installed-$(EXTRAS): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("paperpost needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

demo: $(BIN)/.installed-$(EXTRAS)
	$(BIN)/paperpost demo

test: $(BIN)/.installed-$(EXTRAS)
	$(BIN)/pytest $(PYTEST_ARGS)

# The tests that use a database, and the fault suite, on PostgreSQL (127.0.0.1:5432; each test
# gets a throwaway database). `make test` runs everything on SQLite.
test-postgres: $(BIN)/.installed-$(EXTRAS)
	PAPERPOST_TEST_DATABASE=postgresql $(BIN)/pytest -m "db or fault" $(PYTEST_ARGS)

lint: $(BIN)/.installed-$(EXTRAS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service/

format: $(BIN)/.installed-$(EXTRAS)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: lint test

bench: $(BIN)/.installed-$(EXTRAS)  # every benchmark, one after the other (long; see docs/benchmarks.md)
	for b in tests/benchmarks/bench_*.py; do $(BIN)/python -m tests.benchmarks.$$(basename $$b .py) || exit 1; done

# Screenshots of the web pages (docs/img/web-*.png), taken by the browser test in headless Chromium,
# and of the digest email (docs/img/digest-*.png).
screenshots: $(BIN)/.installed-$(EXTRAS)
	PAPERPOST_SCREENSHOTS=1 $(BIN)/pytest tests/web/test_browser.py -q
	$(BIN)/python -m tests.render.screenshots docs/img

clean:
	rm -rf var/demo var/mail
