# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CJK_FONT_PACKAGE := fonts-wqy-zenhei
BROWSER_PACKAGE := chromium
REDIS_PACKAGE := redis-server
DEBIAN_PACKAGES := $(CJK_FONT_PACKAGE) $(BROWSER_PACKAGE) $(REDIS_PACKAGE)

.PHONY: demo test test-fast lint bench bench-pdf-tables setup debian clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the tests need, each installed only when missing: a CJK font to render scanned
# pages, Chromium for the browser tests (tests/test_browser.py drives /usr/bin/chromium), and
# redis-server for the remote queue's tests (tests/test_remote_queue.py starts its own on a free port).
debian:
	@missing=""; \
	fc-list 2>/dev/null | grep -qi 'wqy\|noto sans cjk' || missing="$$missing $(CJK_FONT_PACKAGE)"; \
	test -x /usr/bin/chromium || missing="$$missing $(BROWSER_PACKAGE)"; \
	command -v redis-server >/dev/null || missing="$$missing $(REDIS_PACKAGE)"; \
	if [ -n "$$missing" ]; then \
		apt-get update -q && apt-get install -y -q $$missing; \
	fi

demo: $(STAMP)
	$(BIN)/jixiao demo

lint: $(STAMP)
	$(BIN)/ruff check service review_ui tests benchmarks

test: debian $(STAMP) lint
	$(BIN)/pytest -q

# the edit loop: the tests without OCR, the browser or the few slow ones (markers: tests/conftest.py)
test-fast: $(STAMP)
	$(BIN)/pytest -q -n auto -m "not ocr and not browser and not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# the PDF table readers compared on the same pages: pdfplumber's ruling lines, and words by position
bench-pdf-tables: $(STAMP)
	$(BIN)/python benchmarks/pdf_tables_bench.py

clean:
	rm -rf $(VENV) jixiao.db jixiao.db-wal jixiao.db-shm
