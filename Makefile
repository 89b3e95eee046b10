# The README's two commands (`make demo`, `make test`) do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mai-bench-installed
DEMO_OUT ?= demo-out

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	@bash scripts/ensure_system_packages.sh
	$(BIN)/python -m pytest

demo: $(STAMP)
	rm -rf $(DEMO_OUT)
	DEMO_OUT=$(DEMO_OUT) $(BIN)/python scripts/demo.py

# Where PYTHONDONTWRITEBYTECODE is set (CI images, containers) Python never caches the package's bytecode, and
# every `mai-bench` start compiles it again (about 0.1 s, bench/RESULTS.md): compile it first.
bench: $(STAMP)
	$(BIN)/python -m compileall -q mai_bench
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) build dist .pytest_cache
