# Two commands do all the set-up: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install system-deps lint format bench-availability clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Debian packages the project needs: Chromium for the browser tests. Installed when missing (as root).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: run 'sudo apt-get install chromium' for the browser tests."; exit 1; fi; \
	fi

# `make run PORT=8080` serves on another port. The demo quietens the task queue's per-task log lines.
PORT ?= 8000
DEMO_ENV := DEBUG=1 Q_LOG_LEVEL=WARNING

run: install
	$(DEMO_ENV) $(PY) manage.py migrate --noinput -v 0
	$(DEMO_ENV) $(PY) manage.py setup_schedules > /dev/null
	$(DEMO_ENV) $(PY) manage.py seed_demo --quiet
	$(DEMO_ENV) $(PY) manage.py demo_logins --port $(PORT)
	$(DEMO_ENV) PORT=$(PORT) ./scripts/serve.sh

test: install system-deps
	$(PY) -m pytest

# The same checks as the pre-commit hooks (.pre-commit-config.yaml) and CI (.ci/run).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) db.sqlite3* test_db.sqlite3*
