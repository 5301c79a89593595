# Quire: `make run` starts the app on Azurite; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test lint bench chaos example-feed clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

run: setup
	./scripts/run-local.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: setup lint
	$(PY) -m pytest

bench: setup
	$(PY) bench/upload.py
	$(PY) bench/devhost.py
	$(PY) bench/convert.py
	$(PY) bench/pipeline.py
	$(PY) bench/refresh.py

example-feed:
	cd examples/feed && python3 -m http.server 8765 --bind 127.0.0.1

chaos: setup
	$(PY) -m tests.chaos.random_kills --jobs 100

clean:
	rm -rf $(VENV) node_modules .azurite .pytest_cache
