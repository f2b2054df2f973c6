# Two commands do all the set-up: `make run` and `make test` (see README.md).
SHELL := /bin/bash
VENV := .venv
PORT ?= 8000
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
PY_VERSION := $(shell cat .python-version)
# The interpreter .python-version names: pyenv's, else python3.13 on the PATH.
BASE_PYTHON ?= $(shell (pyenv which python 2>/dev/null | grep -F "$(PY_VERSION)") || command -v python$(PY_VERSION) || echo python$(PY_VERSION))

.PHONY: install run test lint messages bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt .python-version
	@$(BASE_PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "Python 3.12+ needed, found " + sys.version' \
		|| { echo "Install Python $(PY_VERSION) (pyenv install $(PY_VERSION))"; exit 1; }
	test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) load_measures
	$(MANAGE) load_holidays
	$(MANAGE) setup_roles
	$(MANAGE) seed_demo
	@echo "Serving http://127.0.0.1:$(PORT) (tasks run in-process; Ctrl-C stops)"
	$(MANAGE) runserver 127.0.0.1:$(PORT)

test: install
	$(VENV)/bin/pytest -n 2

lint: install
	$(VENV)/bin/ruff check .
	$(MANAGE) makemigrations --check --dry-run

# Recompile the translation catalogues after editing locale/*/LC_MESSAGES/django.po (needs gettext).
messages: install
	$(MANAGE) compilemessages --ignore=.venv

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
