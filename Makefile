# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBIAN_PACKAGES := fonts-wqy-zenhei

.PHONY: demo test lint bench setup debian clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the tests need: a CJK font to render scanned pages.
debian:
	@if ! fc-list 2>/dev/null | grep -qi 'wqy\|noto sans cjk'; then \
		apt-get update -q && apt-get install -y -q $(DEBIAN_PACKAGES); \
	fi

demo: $(STAMP)
	$(BIN)/jixiao demo

lint: $(STAMP)
	$(BIN)/ruff check service review_ui tests benchmarks

test: debian $(STAMP) lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) jixiao.db jixiao.db-wal jixiao.db-shm
