# The two commands of the README's quick start are `make run` and `make test`.
PYTHON ?= python3

.PHONY: install run test lint typecheck pytest bench

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e .

run: install
	$(PYTHON) -m gateway serve

test:
	bash tests/install.sh
	$(MAKE) lint typecheck pytest

lint:
	$(PYTHON) -m ruff check gateway tests bench
	$(PYTHON) -m ruff format --check gateway tests bench

typecheck:
	$(PYTHON) -m mypy

pytest:
	$(PYTHON) -Im pytest -q

bench:
	$(PYTHON) bench/run_all.py
