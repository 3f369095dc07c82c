# The README's two commands: `make run` (the assistant, web app on http://127.0.0.1:7860) and `make test`.
# Both create .venv on first use. The tests need sentence-transformers, hence torch: the CPU build is
# installed first (pip install torch==2.13.0), or a plain `torch` requirement would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test index eval bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[st,test]'
	touch $@ $(VENV)/.installed-base

run: $(VENV)/.installed-base
	$(BIN)/rag serve

# axe-core (npm) for the browser test's accessibility check; the browser itself is Debian's chromium
# (apt-get install chromium). Without either, the browser tests are skipped, unless RAG_REQUIRE_BROWSER=1.
tests/browser/node_modules/axe-core/axe.min.js: tests/browser/package-lock.json
	-command -v npm >/dev/null && npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

test: $(VENV)/.installed-test tests/browser/node_modules/axe-core/axe.min.js
	$(BIN)/python -m pytest

index: $(VENV)/.installed-base
	$(BIN)/rag index

eval: $(VENV)/.installed-base
	$(BIN)/rag eval --report eval/report

bench: $(VENV)/.installed-base
	$(BIN)/rag bench
