# Two commands on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8501
# Local only by default: until sign-in lands (issue 4) the dashboard must not face the ward network.
ADDRESS ?= 127.0.0.1
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test test-fast lint lock install install-dev db demo bench screenshots clean-db

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs from the lock files (every package pinned, every file checked against its hash), then the
# project itself without resolving again. `make lock` regenerates them after a change to pyproject.toml.
$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): pyproject.toml requirements-dev.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP) $@

lock: install-dev
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 -o requirements.lock -q
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal --python-version 3.11 \
		-o requirements-dev.lock -q

install: $(STAMP)

install-dev: $(DEV_STAMP)

# Create or upgrade the schema, then seed the synthetic demo ward (and its four published demo
# accounts) only into an empty embedded SQLite database: a PostgreSQL ward database never gets them
# from `make run`; `make demo` adds them to a database of their own (refused beside real data).
db: install
	$(BIN)/il2-monitor db upgrade
	$(BIN)/il2-monitor demo --if-empty --embedded-only

demo: install
	$(BIN)/il2-monitor db upgrade
	$(BIN)/il2-monitor demo

run: db
	$(BIN)/streamlit run dashboard/app.py --server.port $(PORT) --server.address $(ADDRESS) \
		--client.showErrorDetails none --client.disableDataExport true

# Three lanes, all always run: every test that does not drive a browser or measure concurrency, on every
# core (pytest-xdist; each worker has a PostgreSQL database of its own, tests/conftest.py); the browser
# tests, on every core too (each worker starts its own dashboard servers); then the tests marked serial
# (concurrency, crash recovery) alone, one at a time.
TEST_WORKERS ?= auto
test: install-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not browser and not serial" $(PYTEST_ARGS); \
	parallel=$$?; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "browser and not serial" $(PYTEST_ARGS); \
	browser=$$?; \
	$(BIN)/python -m pytest -m "serial" $(PYTEST_ARGS); \
	serial=$$?; \
	[ $$parallel -eq 0 ] && [ $$browser -eq 0 ] && [ $$serial -eq 0 ]

# The development lane: SQLite only, no browser (CI runs `make test`, PostgreSQL and Chromium included).
test-fast: install-dev
	TEST_DATABASE_URL= $(BIN)/python -m pytest -q -n auto -m "not browser and not postgres and not slow" $(PYTEST_ARGS)

# Style and import order (ruff), types (mypy, with a ratchet list in pyproject.toml) and the clone
# check: pylint's duplicate-code finds any six similar lines inside monitoring/ (migrations aside).
lint: install-dev
	$(BIN)/ruff check monitoring dashboard tests bench
	$(BIN)/mypy
	$(BIN)/pylint --disable=all --enable=duplicate-code --ignore=migrations --score=n monitoring

# The user guide's screenshots (docs/images): a fresh synthetic demo database, a dashboard on port 8598,
# then docs/make_screenshots.py drives Debian's chromium through it.
screenshots: install-dev
	rm -rf /tmp/il2-screenshots && mkdir -p /tmp/il2-screenshots
	DATABASE_URL=sqlite:////tmp/il2-screenshots/il2.db $(BIN)/il2-monitor db upgrade
	DATABASE_URL=sqlite:////tmp/il2-screenshots/il2.db $(BIN)/il2-monitor demo
	DATABASE_URL=sqlite:////tmp/il2-screenshots/il2.db $(BIN)/streamlit run dashboard/app.py --server.port 8598 \
		--server.headless true > /tmp/il2-screenshots/server.log 2>&1 & echo $$! > /tmp/il2-screenshots/pid
	for _ in $$(seq 1 60); do curl -sf http://127.0.0.1:8598/_stcore/health >/dev/null && break; sleep 1; done
	$(BIN)/python docs/make_screenshots.py http://127.0.0.1:8598; status=$$?; \
		kill $$(cat /tmp/il2-screenshots/pid); exit $$status

bench: install-dev
	$(BIN)/python -m bench.run

clean-db:
	rm -f data/il2_monitor.db data/il2_monitor.db-wal data/il2_monitor.db-shm data/il2_monitor.db-writers.lock
