# WarnLink: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Real TAK software for tests/cot/test_cot_tak.py, in its own environment: taky pins old
# Flask, and neither is a dependency of WarnLink. Keep in step with TAK_PACKAGES there.
TAK_VENV := .venv-tak
TAK_STAMP := $(TAK_VENV)/.installed-stamp
TAK_PACKAGES := taky==0.10 pytak==7.6.1

.PHONY: install tak-env demo test lint bench docs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "WarnLink needs Python 3.11+: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m warnlink.track.warm scenarios/srbm-salvo-east-sea.toml
	touch $@

install: $(STAMP)

$(TAK_STAMP): Makefile
	$(PYTHON) -m venv --clear $(TAK_VENV)
	$(TAK_VENV)/bin/python -m pip install -q $(TAK_PACKAGES)
	touch $@

tak-env: $(TAK_STAMP)

demo: $(STAMP)
	$(BIN)/warnlink exercise scenarios/irbm-northern-japan.toml --speed 20 --out out/demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

test: lint tak-env
	$(BIN)/pytest -n 2 --dist loadgroup -q

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python bench/run.py

docs: $(STAMP)
	$(BIN)/python -m warnlink.scenario.schema > docs/scenarios.md

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
