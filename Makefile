# Quire: `make run` starts the app on Azurite; `make test` runs every test.
# Python 3.13 or newer: $(PYTHON) if given, else python3.14/python3.13/python3 on PATH, else pyenv's.
PYTHON ?=
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup system-deps run check test test-slow lint bench chaos soak example-feed clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@python=$$(PYTHON="$(PYTHON)" scripts/find-python.sh) || exit 1; \
	if ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then \
	  rm -rf $(VENV); echo "Creating $(VENV) with $$python"; "$$python" -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Ace by DAISY drives Debian's Chromium: no browser (Puppeteer) or Electron download.
node_modules/.installed: package.json package-lock.json
	PUPPETEER_SKIP_DOWNLOAD=1 ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

# Java (EPUBCheck) and Chromium (browser tests) from Debian: installed when root, else named.
system-deps:
	./scripts/install-system-deps.sh

run: setup
	./scripts/run-local.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The quick tier: lint, types and the pure tests, those with none of the markers that tests/tiers.py
# gives from what a test needs (Azurite, a host, Chromium, EPUBCheck or Ace; slow). About 50 s.
PURE := not storage and not host and not browser and not tools and not slow
check: $(VENV)/.installed lint
	$(PY) -m pytest -q -m "$(PURE)"

# Two test processes at a time (pytest-xdist), each with its own Azurite and hosts; a file's tests stay
# in one process, so a session fixture (EPUBCheck, Ace over their books) runs once. Then, one at a
# time, the tests held to time, CPU or memory bounds (marked `alone`).
TEST_PROCESSES ?= 2
test: setup system-deps lint
	$(PY) -m pytest -m "not slow and not alone" -n $(TEST_PROCESSES) --dist loadfile --durations=15
	$(PY) -m pytest -m "alone and not slow" --durations=5

# The long runs (a soak, a backlog, random kills, a 300 MiB upload, 1,000 failed editions): CI runs them too.
test-slow: setup system-deps
	$(PY) -m pytest -m slow --durations=10

bench: setup
	$(PY) bench/upload.py
	$(PY) bench/devhost.py
	$(PY) bench/convert.py
	$(PY) bench/pdf.py
	$(PY) bench/changes.py
	$(PY) bench/serving.py
	$(PY) bench/search_index.py
	$(PY) bench/pipeline.py
	$(PY) bench/refresh.py
	$(PY) bench/hostile.py

example-feed:
	cd examples/feed && python3 -m http.server 8765 --bind 127.0.0.1

chaos: setup
	$(PY) -m tests.chaos.random_kills --jobs 100

# Uploads to two hosts for SOAK_MINUTES while hosts, workers and storage fail (tests/chaos/soak.py).
SOAK_MINUTES ?= 20
soak: setup
	$(PY) -m tests.chaos.soak --minutes $(SOAK_MINUTES)

clean:
	rm -rf $(VENV) node_modules .azurite .pytest_cache
