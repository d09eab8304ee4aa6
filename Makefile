# make bench: set up .venv, build, run the benchmark.  make test: set up, build, run the suite.
PYTHON_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements-dev.txt | cut -d' ' -f1)

# torch guesses CUDA_HOME from the nvcc on PATH, which may be a wrapper outside the toolkit.
ifneq ($(wildcard /usr/local/cuda/include),)
export CUDA_HOME ?= /usr/local/cuda
endif
export MAX_JOBS ?= 2

.PHONY: bench test build lint clean

$(STAMP): requirements-dev.txt
	$(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Incremental (ninja) in-place build of losses_ext._C; the repo root is then importable.
build: $(STAMP)
	$(PY) setup.py -q build_ext --inplace

lint: $(STAMP)
	$(PY) -m ruff check losses_ext tests benchmarks setup.py
	$(PY) -m ruff format --check losses_ext tests benchmarks setup.py

test: build lint
	$(PY) -m pytest tests -q -p no:cacheprovider

bench: build
	$(PY) -m benchmarks --quick --json benchmarks/results/quick.json --plot benchmarks/results

clean:
	rm -rf build losses_ext/*.so
