# The README's two commands (`make demo`, `make test`) do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mai-bench-installed
DEMO_OUT ?= demo-out
REF := mai_bench/reference_models

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	rm -rf $(DEMO_OUT)
	$(BIN)/mai-bench run $(REF)/microisp_1_0.tflite $(REF)/microisp_0_5.tflite $(REF)/pynet_v2_mobile.tflite \
		--device local --delegate xnnpack --threads 2 --runs 5 --warmup 1 --min-secs 0 --out $(DEMO_OUT)
	$(BIN)/mai-bench report $(DEMO_OUT)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) build dist .pytest_cache
