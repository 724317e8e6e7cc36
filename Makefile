# The two commands: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-requirements

.PHONY: run test install setup browsers mailservers nodejs lint stop seed clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

install: $(STAMP)

# Starts the embedded PostgreSQL when DATABASE_URL is unset, then migrates.
setup: install
	$(PY) manage.py migrate --noinput

run: setup
	$(PY) manage.py serve

# Debian's chromium for the browser tests; they skip with a clear message where it cannot be installed.
browsers:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing chromium for the browser tests..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed: browser tests will be skipped"; \
	  else \
	    echo "chromium is missing and apt-get needs root: browser tests will be skipped"; \
	  fi; \
	fi

# Debian's dovecot for the IMAP tests (replies and bounces); they skip with a clear message where it cannot be installed.
mailservers:
	@if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing dovecot-imapd for the IMAP tests..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null) \
	      || echo "dovecot-imapd could not be installed: IMAP tests will be skipped"; \
	  else \
	    echo "dovecot-imapd is missing and apt-get needs root: IMAP tests will be skipped"; \
	  fi; \
	fi

# Debian's nodejs runs the Node samples of the docs (tests/website/test_docs_samples.py); they skip with a clear message where it cannot be installed.
nodejs:
	@if ! command -v node >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing nodejs for the docs' Node samples..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs >/dev/null) \
	      || echo "nodejs could not be installed: the docs' Node samples will be skipped"; \
	  else \
	    echo "nodejs is missing and apt-get needs root: the docs' Node samples will be skipped"; \
	  fi; \
	fi

# The format check runs last, so the other checks still report on code that is not formatted yet.
lint: install
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m ruff format --check .

# Two pytest workers (pytest-xdist), each with its own test database: the suite stays under 15 minutes on 2 cores.
TEST_WORKERS ?= 2

test: setup browsers mailservers nodejs lint
	$(PY) -m pytest -n $(TEST_WORKERS)

seed: setup
	$(PY) manage.py seed_demo

stop:
	@$(PY) -m cursive.embedded_db stop

clean: stop
	rm -rf $(VENV) .data staticfiles
