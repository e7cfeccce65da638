# pyhaproxy — see README.md. Every target installs what it needs into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint loadtest bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/pyhaproxy -f conf/demo.cfg -db

# artifacts/: what tests keep for a person to look at (the stats page screenshot)
test: install
	mkdir -p artifacts
	PYHAPROXY_ARTIFACTS=$(CURDIR)/artifacts $(BIN)/pytest -n 2 -q

lint: install
	$(BIN)/ruff check pyhaproxy tests benchmarks
	$(BIN)/ruff format --check pyhaproxy tests benchmarks

loadtest: install
	$(BIN)/python -m benchmarks.loadtest

bench: install
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m benchmarks.bench

clean:
	rm -rf $(VENV) build *.egg-info artifacts
