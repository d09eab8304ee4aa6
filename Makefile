# make bench: set up .venv, build, run the benchmarks (the kernels, then training on real data).
# make test: set up, build, run the suite.
PYTHON_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements-dev.txt | cut -d' ' -f1)

# torch guesses CUDA_HOME from the nvcc on PATH, which may be a wrapper outside the toolkit.
ifneq ($(wildcard /usr/local/cuda/include),)
export CUDA_HOME ?= /usr/local/cuda
endif
export MAX_JOBS ?= 2

.PHONY: bench test build lint sanitize clean

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

test: build lint sanitize
	$(PY) -m pytest tests -q -p no:cacheprovider

# The CPU kernels built with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/, and
# their tests run against that build (a short subset: every loss, dtype and instruction set).
sanitize: $(STAMP)
	LOSSES_EXT_SANITIZE=1 $(PY) setup.py -q build --build-base build-asan
	cd build-asan/lib.* && \
	  LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  PYTHONPATH=. LOSSES_EXT_EXPECT_SANITIZED=1 $(CURDIR)/$(VENV)/bin/pytest -q -p no:cacheprovider -x \
	    -k "sanitized or (cpu and not triton)" $(CURDIR)/tests/test_sanitized_build.py \
	    $(CURDIR)/tests/test_elementwise.py $(CURDIR)/tests/test_cross_entropy.py \
	    $(CURDIR)/tests/test_public_cases.py

bench: build
	$(PY) -m benchmarks --quick --json benchmarks/results/quick.json --plot benchmarks/results
	$(PY) -m benchmarks.train --quick --json benchmarks/results/train_quick.json \
	  --plot benchmarks/results

clean:
	rm -rf build build-asan losses_ext/*.so
