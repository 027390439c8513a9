# CP Navigator - the two commands: `make run` and `make test`.
# Everything they need is installed here, from scratch, on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CPNAV  := $(BIN)/cpnav
DEPS   := $(VENV)/.deps-installed
NODE   := node_modules/.package-lock.json
STATIC := cpnav/core/static/vendor/uswds/css/uswds.min.css
MO     := cpnav/locale/es/LC_MESSAGES/django.mo

.PHONY: run test bench soak cluster-test setup lint typecheck check-migrations security pytest static messages clean

run: setup
	$(CPNAV) migrate --no-input
	$(CPNAV) collectstatic --no-input -v0
	@# The demo's own notices go to memory: the synthetic route would print dozens of emails.
	CPNAV_DEMO_MODE=true EMAIL_BACKEND=django.core.mail.backends.locmem.EmailBackend $(CPNAV) demo
	@echo "CP Navigator (demo mode) at http://127.0.0.1:8000/"
	CPNAV_DEMO_MODE=true $(CPNAV) serve --bind 127.0.0.1:8000

test: setup lint typecheck check-migrations security pytest

# Benchmarks (not part of `make test`): installs wrk and PostgreSQL if missing,
# builds the national synthetic data sets once (var/bench/), writes bench/results.*
bench: setup
	$(CPNAV) collectstatic --no-input -v0
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# A bounded soak on loopback (not part of `make test`): the benchmark's load for
# 30 minutes with reminder runs, imports and report refreshes beside it.
# Several app servers behind nginx over a PostgreSQL primary and streaming replica, on
# loopback; an app server stopped and started under load (docs/deploy.md).
cluster-test: setup
	$(CPNAV) collectstatic --no-input -v0
	$(BIN)/python -m bench.cluster $(CLUSTER_ARGS)

soak: setup
	$(CPNAV) collectstatic --no-input -v0
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

setup: $(DEPS) $(STATIC) $(MO)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(DEPS): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

$(NODE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(STATIC): $(NODE) scripts/build_static.py
	$(BIN)/python scripts/build_static.py

# compilemessages walks the current folder: run it inside cpnav/ so it never
# touches the virtualenv's own catalogues.
$(MO): cpnav/locale/es/LC_MESSAGES/django.po $(DEPS)
	cd cpnav && ../$(CPNAV) compilemessages -v0

static: $(STATIC)
messages: $(MO)

lint: $(DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEPS)
	$(BIN)/mypy

check-migrations: $(DEPS)
	$(CPNAV) makemigrations --check --dry-run

# Security gates (they do not depend on the database): bandit's high-severity
# findings (ruff's S rules already refuse every bandit-class finding without a
# reviewed noqa; bandit honours only `# nosec`, so a noqa cannot hide a high one),
# detect-secrets against the reviewed .secrets.baseline, and pip-audit over every
# pin in constraints.txt (CPNAV_AUDIT_OFFLINE=1: see scripts/security.py).
# `check --deploy` under production settings is a test (tests/core/test_settings.py).
security: $(DEPS)
	$(BIN)/bandit --quiet --recursive cpnav scripts --severity-level high
	$(BIN)/python scripts/security.py secrets
	$(BIN)/python scripts/security.py audit
	$(BIN)/python scripts/security.py sbom

# Branch coverage of cpnav/ over the whole suite must stay at COVERAGE_MIN or more.
COVERAGE_MIN ?= 90
pytest: setup
	$(BIN)/pytest -q --durations=25 --cov=cpnav --cov-branch --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_MIN)

clean:
	rm -rf $(VENV) node_modules cpnav/core/static/vendor var/static $(MO)
